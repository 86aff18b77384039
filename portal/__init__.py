"""Collections Portal: delinquency, collections and complaints over an embedded DuckDB database."""

__version__ = "0.1.0"
