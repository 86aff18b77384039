"""Start-up wiring: registers the hooks through which the data layer reaches the domain.

`portal.db` imports no domain module. What must happen at its moments is registered here, once per
process, by importing this module from every entry point (the CLI, the server, the Streamlit script,
the benchmarks and tests/conftest.py):
- when a database is opened: the rule packs are synced into SQL (policy.sync_on_open);
- before a named query runs: the derived tables it reads are rebuilt if they are stale.
"""

from __future__ import annotations

from pathlib import Path

from portal import db, derived, policy


def refresh_derived_for(query: db.NamedQuery, database: str | Path | None) -> None:
    """db.before_query hook: rebuild the stale derived tables that the query reads."""
    derived.ensure_fresh(derived.used_by(query.sql), db=database)


def register() -> None:
    """Register the hooks (idempotent: a second call changes nothing)."""
    db.on_open(policy.sync_on_open)
    db.before_query(refresh_derived_for)


register()
