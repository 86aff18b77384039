"""Collections Portal: delinquency, collections and complaints over an embedded DuckDB database."""

import warnings

# pandera imports pyspark.pandas whenever pyspark is installed (the optional Spark engine); its
# pandas-3 notice is about pyspark.pandas, which the portal never uses.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

__version__ = "0.1.0"
