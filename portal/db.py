"""The data layer: the only module that imports duckdb.

One cached connection per database file per process, a cursor per call, versioned migrations,
named queries loaded from `queries/NAME.sql` with typed `$params`, and one write path that
retries on transaction conflicts.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from portal import config

T = TypeVar("T")
log = logging.getLogger(__name__)

REQUIRED = object()
_PARAM_RE = re.compile(
    r"^--\s*param:\s*(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>[a-z]+(?:\[\])?)"
    r"(?:\s*=\s*(?P<default>\S+))?(?:\s+in\s+(?P<choices>[\w|]+))?\s*$"
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PARAM_TYPES = {"date", "text", "int", "float", "timestamp", "text[]"}


class PortalDBError(RuntimeError):
    """A database problem worth one line to the user."""


class DatabaseLocked(PortalDBError):
    """Another process holds the database file open for writing."""


class QueryError(ValueError):
    """An unknown named query or a bad parameter value."""


@dataclass(frozen=True)
class Param:
    """One declared parameter of a named query."""

    name: str
    type: str
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def coerce(self, value: Any) -> Any:
        """Turn a raw value (often a CLI string) into the declared type, or raise QueryError."""
        if value is None or (isinstance(value, str) and value.lower() in ("", "null", "none")):
            if self.required:
                raise QueryError(f"parameter {self.name} is required")
            return None
        try:
            out = _coerce(self.type, value)
        except (TypeError, ValueError) as exc:
            raise QueryError(f"parameter {self.name}={value!r} is not a valid {self.type}") from exc
        if self.choices:
            values = out if isinstance(out, list) else [out]
            bad = [v for v in values if v not in self.choices]
            if bad:
                raise QueryError(f"parameter {self.name}={bad[0]!r} must be one of {', '.join(self.choices)}")
        return out


def _coerce(kind: str, value: Any) -> Any:
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value).strip())
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value
        return dt.datetime.fromisoformat(str(value).strip())
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    if kind == "float":
        return float(value)
    if kind == "text[]":
        items = value.split(",") if isinstance(value, str) else list(value)
        items = [str(v).strip() for v in items if str(v).strip()]
        return items or None
    return str(value)


@dataclass(frozen=True)
class NamedQuery:
    """A query file: its name (the file stem), SQL text, description and declared parameters."""

    name: str
    sql: str
    description: str
    params: dict[str, Param] = field(default_factory=dict)

    def bind(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Check and coerce raw parameters; unknown names and missing required ones raise QueryError."""
        unknown = sorted(set(raw) - set(self.params))
        if unknown:
            allowed = ", ".join(self.params) or "none"
            raise QueryError(f"query {self.name} has no parameter {unknown[0]} (parameters: {allowed})")
        bound = {}
        for name, param in self.params.items():
            if name in raw:
                bound[name] = param.coerce(raw[name])
            elif param.required:
                raise QueryError(f"query {self.name} needs --param {name}=<{param.type}>")
            else:
                bound[name] = param.coerce(param.default)
        return bound


def parse_query(name: str, text: str) -> NamedQuery:
    """Parse the header comments of a query file into a NamedQuery."""
    params: dict[str, Param] = {}
    description = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        m = _PARAM_RE.match(line)
        if m:
            ptype = m["type"]
            if ptype not in PARAM_TYPES:
                raise PortalDBError(f"queries/{name}.sql: unknown parameter type {ptype}")
            default = REQUIRED if m["default"] is None else m["default"]
            choices = tuple(m["choices"].split("|")) if m["choices"] else ()
            params[m["name"]] = Param(m["name"], ptype, default, choices)
        elif not line.startswith("-- param"):
            description.append(line[2:].strip())
    for pname in params:
        if f"${pname}" not in text:
            raise PortalDBError(f"queries/{name}.sql declares ${pname} but never uses it")
    return NamedQuery(name, text, " ".join(d for d in description if d), params)


@cache
def named_queries() -> dict[str, NamedQuery]:
    """All named queries in queries/, by name."""
    out = {}
    for path in sorted(config.QUERIES_DIR.glob("*.sql")):
        out[path.stem] = parse_query(path.stem, path.read_text(encoding="utf-8"))
    return out


def get_query(name: str) -> NamedQuery:
    """Return one named query or raise QueryError naming the known ones."""
    if not _NAME_RE.match(name or ""):
        raise QueryError(f"unknown query {name!r}")
    queries = named_queries()
    if name not in queries:
        raise QueryError(f"unknown query {name!r}; known: {', '.join(queries)}")
    return queries[name]


_lock = threading.RLock()
_connections: dict[Path, duckdb.DuckDBPyConnection] = {}

# Hooks through which higher layers act at this layer's moments, registered once at start-up by
# portal.startup (imported by every entry point): this module never imports a domain module.
OpenHook = Callable[[duckdb.DuckDBPyConnection], None]
QueryHook = Callable[[NamedQuery, "str | Path | None"], None]
_open_hooks: list[OpenHook] = []
_query_hooks: list[QueryHook] = []


def on_open(fn: OpenHook) -> OpenHook:
    """Register fn(conn), run on each newly opened and migrated connection (once per fn; usable as a decorator)."""
    if fn not in _open_hooks:
        _open_hooks.append(fn)
    return fn


def before_query(fn: QueryHook) -> QueryHook:
    """Register fn(named_query, db), run before every named query (once per fn; usable as a decorator)."""
    if fn not in _query_hooks:
        _query_hooks.append(fn)
    return fn


def remove_hook(fn: Callable) -> None:
    """Unregister a hook added with on_open or before_query (no error when it is not registered)."""
    for hooks in (_open_hooks, _query_hooks):
        if fn in hooks:
            hooks.remove(fn)


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            pid = re.search(r"PID (\d+)", msg)
            holder = f" (PID {pid.group(1)})" if pid else ""
            raise DatabaseLocked(
                f"database {path} is already open read-write in another process{holder}; "
                "stop that process or use another --db"
            ) from None
        raise PortalDBError(f"cannot open database {path}: {msg.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise PortalDBError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None
    conn.execute("set TimeZone = $tz", {"tz": config.setting("timezone")})
    migrate(conn)
    if not _open_hooks:
        log.warning("no start-up hooks are registered (import portal.startup in the entry point): rule packs "
                    "are not synced and derived tables are not refreshed before queries")
    try:
        for hook in list(_open_hooks):
            hook(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def connect(path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Return this process's connection to the database, opening and migrating it once."""
    resolved = config.db_path(path).resolve()
    with _lock:
        conn = _connections.get(resolved)
        if conn is None:
            conn = _connections[resolved] = _open(resolved)
        return conn


def close(path: str | Path | None = None) -> None:
    """Close this process's connection to one database (all of them when path is None)."""
    with _lock:
        targets = list(_connections) if path is None else [config.db_path(path).resolve()]
        for key in targets:
            conn = _connections.pop(key, None)
            if conn is not None:
                conn.close()


def cursor(path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the shared connection: one per call, safe to use from one thread."""
    conn = connect(path)
    cur = conn.cursor()
    cur.execute("set TimeZone = $tz", {"tz": config.setting("timezone")})
    return cur


def migrations() -> list[tuple[int, str, str]]:
    """The schema migrations in queries/schema/, as (version, name, sql), in order."""
    out = []
    for path in sorted(config.SCHEMA_DIR.glob("*.sql")):
        version = int(path.name.split("_", 1)[0])
        out.append((version, path.stem, path.read_text(encoding="utf-8")))
    versions = [v for v, _, _ in out]
    if len(versions) != len(set(versions)):
        raise PortalDBError("two schema migrations share a version number")
    return out


def migrate(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; return their names."""
    conn.execute(
        "create table if not exists schema_migrations ("
        "version integer primary key, name varchar not null, applied_at timestamptz not null)"
    )
    done = {row[0] for row in conn.execute("select version from schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        conn.execute("begin transaction")
        try:
            conn.execute(sql)
            conn.execute(
                "insert into schema_migrations values ($v, $n, now())", {"v": version, "n": name}
            )
            conn.execute("commit")
        except Exception:
            conn.execute("rollback")
            raise
        applied.append(name)
    return applied


def query(name: str, *, db: str | Path | None = None, **params: Any) -> pd.DataFrame:
    """Run the named query `queries/NAME.sql` with bound `$params` and return a DataFrame."""
    q = get_query(name)
    bound = q.bind(params)
    for hook in list(_query_hooks):
        hook(q, db)
    cur = cursor(db)
    try:
        return cur.execute(q.sql, bound).df()
    except duckdb.Error as exc:
        raise PortalDBError(f"query {name} failed: {str(exc).splitlines()[0]}") from exc
    finally:
        cur.close()


def read(sql: str, params: Mapping[str, Any] | None = None, *, db: str | Path | None = None) -> pd.DataFrame:
    """Run a fixed read-only statement with `$params` (values are never formatted into SQL)."""
    cur = cursor(db)
    try:
        return cur.execute(sql, dict(params or {})).df()
    finally:
        cur.close()


def scalar(sql: str, params: Mapping[str, Any] | None = None, *, db: str | Path | None = None) -> Any:
    """Run a fixed statement and return the first column of its first row (None when empty)."""
    cur = cursor(db)
    try:
        row = cur.execute(sql, dict(params or {})).fetchone()
        return None if row is None else row[0]
    finally:
        cur.close()


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) or "conflict" in str(exc).lower()


def write(fn: Callable[[duckdb.DuckDBPyConnection], T], *, db: str | Path | None = None,
          retries: int = 8) -> T:
    """The one write path: run fn(cursor) in a transaction; retry it whole on a write-write conflict."""
    delay = 0.01
    for attempt in range(retries + 1):
        cur = cursor(db)
        try:
            cur.execute("begin transaction")
            result = fn(cur)
            cur.execute("commit")
            return result
        except duckdb.Error as exc:
            try:
                cur.execute("rollback")
            except duckdb.Error:
                pass
            if _is_conflict(exc) and attempt < retries:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            raise
        except BaseException:
            try:
                cur.execute("rollback")
            except duckdb.Error:
                pass
            raise
        finally:
            cur.close()
    raise AssertionError("unreachable")


def execute(sql: str, params: Mapping[str, Any] | None = None, *, db: str | Path | None = None) -> None:
    """Run one fixed write statement with `$params` through the write path."""
    write(lambda cur: cur.execute(sql, dict(params or {})), db=db)


@contextmanager
def arrow_view(cur: duckdb.DuckDBPyConnection, name: str, frame: Any) -> Iterator[None]:
    """Expose a DataFrame or Arrow table to SQL on this cursor as `name` for the block's duration."""
    cur.register(name, frame)
    try:
        yield
    finally:
        cur.unregister(name)


def checkpoint(*, db: str | Path | None = None) -> None:
    """Flush the write-ahead log into the database file (after a bulk build)."""
    cur = cursor(db)
    try:
        cur.execute("checkpoint")
    finally:
        cur.close()


def table_counts(*, db: str | Path | None = None) -> dict[str, int]:
    """Row counts of the contract tables, for status lines and tests."""
    cur = cursor(db)
    try:
        out = {}
        for table in ("customers", "loans", "snapshots", "contacts", "payments", "complaints"):
            out[table] = cur.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608 (allow-listed)
        return out
    finally:
        cur.close()


Error = duckdb.Error
