"""Shared fixtures: a migrated empty database and a small demo database, both real files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

import portal.startup  # noqa: F401 (registers the data layer's hooks, as every entry point does)
from portal import audit, db

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = ROOT / "tests" / "data" / "external"
DEMO_LOANS = 2000
DEMO_SEED = 11


@pytest.fixture
def tmp_db(tmp_path, monkeypatch) -> Path:
    """A fresh, migrated DuckDB file; also the default database (PORTAL_DB) for the test."""
    path = tmp_path / "portal.duckdb"
    monkeypatch.setenv("PORTAL_DB", str(path))
    db.connect(path)
    yield path
    db.close(path)


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory) -> Path:
    """A small demo database built once per test session (do not write to it: copy it)."""
    from portal import demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    demo.build(path, loans=DEMO_LOANS, seed=DEMO_SEED, end_month=demo.FIXED_END_MONTH)
    db.close(path)
    return path


@pytest.fixture
def demo_db(demo_db_template, tmp_path, monkeypatch) -> Path:
    """A private copy of the small demo database, set as PORTAL_DB for the test."""
    path = tmp_path / "demo.duckdb"
    audit.copy_database(demo_db_template, path)  # with its audit keyring and anchor
    monkeypatch.setenv("PORTAL_DB", str(path))
    yield path
    db.close(path)


@pytest.fixture(scope="session")
def external_dir() -> Path:
    """The real public data vendored in tests/data/external (read-only; see its README)."""
    return EXTERNAL
