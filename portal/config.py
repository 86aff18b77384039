"""Settings and paths: read from the environment, then `.streamlit/secrets.toml`, then defaults."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT_DIR = PACKAGE_DIR.parent
QUERIES_DIR = Path(os.environ.get("PORTAL_QUERIES", ROOT_DIR / "queries"))
SCHEMA_DIR = QUERIES_DIR / "schema"
DEFAULT_DB = Path("data") / "portal.duckdb"

DEFAULTS = {
    "db": str(DEFAULT_DB),
    "timezone": "Asia/Shanghai",
    "rule_pack": "cn",
    "session_timeout_minutes": 30,
    "max_upload_mb": 200,
    "complaint_cost_yuan": 500,
    "form_min_seconds": 3,
}


@cache
def _secrets() -> dict:
    """Return the `[portal]` table of `.streamlit/secrets.toml`, or an empty dict."""
    for base in (Path.cwd(), ROOT_DIR):
        path = base / ".streamlit" / "secrets.toml"
        if path.is_file():
            with path.open("rb") as fh:
                return tomllib.load(fh).get("portal", {})
    return {}


def setting(name: str):
    """Return one setting: env var PORTAL_<NAME>, else secrets.toml [portal], else the default."""
    env = os.environ.get(f"PORTAL_{name.upper()}")
    if env is not None:
        default = DEFAULTS.get(name)
        return type(default)(env) if isinstance(default, int) else env
    return _secrets().get(name, DEFAULTS.get(name))


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the database path: explicit, else $PORTAL_DB, else secrets, else data/portal.duckdb."""
    return Path(explicit) if explicit else Path(setting("db"))
