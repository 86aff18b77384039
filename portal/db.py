"""The data layer: the only module that imports duckdb.

One cached connection per database file per process, a cursor per call, versioned migrations,
named queries loaded from `queries/NAME.sql` with typed `$params`, and one write path.

Writes are serialised inside the process: `write()` holds one process-wide lock for the whole
transaction, so concurrent writers queue instead of failing with a write-write conflict (DuckDB's
optimistic concurrency aborts the later of two transactions that touch the same row). Reads never
take the lock.

Every cursor handed out here records which tables its statements write and bumps their row in
`data_versions` (once per table per transaction, inside that transaction). `data_version()` and
`table_versions()` read it: a cache key or a freshness fingerprint that changes after any write made
through this module, even an UPDATE that keeps the row count.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
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
_write_lock = threading.RLock()
_connections: dict[Path, duckdb.DuckDBPyConnection] = {}
_untracked: set[str] = {"data_versions"}

_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_MAYBE_WRITE_RE = re.compile(r"\b(insert|update|delete|truncate|copy|create|drop|alter|merge)\b", re.I)
_IDENT = r'(?:"[^"]+"|[a-z_][a-z0-9_$]*)(?:\.(?:"[^"]+"|[a-z_][a-z0-9_$]*))*'
_WRITE_RE = re.compile(
    r"^\s*(?:(?P<dml>insert\s+(?:or\s+(?:replace|ignore)\s+)?into|update|delete\s+from|merge\s+into)"
    r"|truncate(?:\s+table)?|create\s+(?:or\s+replace\s+)?table(?:\s+if\s+not\s+exists)?"
    r"|drop\s+table(?:\s+if\s+exists)?|alter\s+table)\s+(?P<name>" + _IDENT + r")"
    r"|^\s*copy\s+(?P<copied>" + _IDENT + r")\s*(?:\([^)]*\)\s*)?from\b",
    re.I,
)
_TX_RE = re.compile(r"^\s*(?P<verb>begin|start|commit|end|rollback|abort)\b", re.I)
_BUMP_SQL = ("insert into data_versions (table_name, version) values ($t, 1) "
             "on conflict (table_name) do update set version = data_versions.version + 1")


def untracked(*names: str) -> None:
    """Leave tables out of the data version: bookkeeping written on reads (rate-limit hits), or tables
    computed from others whose versions already moved (derived tables)."""
    _untracked.update(n.lower() for n in names)
    _writes.cache_clear()


def written_tables(sql: str) -> frozenset[str]:
    """The persistent tables a statement (or a script of them) writes, by name; temp tables left out."""
    return _writes(sql)[0]


@lru_cache(maxsize=4096)
def _writes(sql: str) -> tuple[frozenset[str], bool]:
    """(tables written, whether the text is one insert/update/delete/merge whose row count tells if it
    changed anything)."""
    if not _MAYBE_WRITE_RE.search(sql):
        return frozenset(), False
    out = set()
    statements = [st for st in _COMMENT_RE.sub(" ", sql).split(";") if st.strip()]
    counted = len(statements) == 1 and "returning" not in sql.lower()
    for statement in statements:
        m = _WRITE_RE.match(statement)
        if not m:
            continue
        counted = counted and m["dml"] is not None
        parts = [p.strip('"').lower() for p in re.findall(r'"[^"]+"|[^.]+', m["name"] or m["copied"])]
        name = parts[-1]
        if name.startswith("_") or "temp" in parts[:-1] or name in _untracked:
            continue
        out.add(name)
    return frozenset(out), counted and bool(out)


class TrackedCursor:
    """A DuckDB cursor that bumps the data version of every table its statements write.

    Inside an explicit transaction the bump joins that transaction, once per table; a statement run
    in autocommit mode takes the write lock and is followed by its own bump. An insert, update or
    delete that changed no row bumps nothing (its row count is read, and handed to the caller on
    fetch as DuckDB would).
    """

    __slots__ = ("_cur", "_in_tx", "_bumped", "_count")

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur
        self._in_tx = False
        self._bumped: set[str] = set()
        self._count: tuple | None = None

    def _run(self, sql: str, parameters: Any, written: frozenset[str], counted: bool) -> None:
        if not counted:
            # bump first: the statement's own result (RETURNING rows, a script's last result) must be
            # the one left on the cursor for the caller to fetch
            self._bump(written)
            self._cur.execute(sql, parameters)
            return
        self._cur.execute(sql, parameters)
        self._count = self._cur.fetchone()
        if self._count is None or self._count[0] > 0:
            self._bump(written)

    def _bump(self, written: frozenset[str]) -> None:
        for table in sorted(written - self._bumped):
            self._cur.execute(_BUMP_SQL, {"t": table})
            if self._in_tx:
                self._bumped.add(table)

    def execute(self, sql: str, parameters: Any = None) -> TrackedCursor:
        """Run one statement (or script); bump the version of the tables it writes."""
        self._count = None
        tx = _TX_RE.match(sql)
        written, counted = _writes(sql) if tx is None else (frozenset(), False)
        if not written:
            self._cur.execute(sql, parameters)
            if tx is not None:
                self._in_tx = tx["verb"].lower() in ("begin", "start")
                self._bumped.clear()
        elif self._in_tx:
            self._run(sql, parameters, written, counted)
        else:
            with _write_lock:
                self._run(sql, parameters, written, counted)
        return self

    def executemany(self, sql: str, parameters: Any = None) -> TrackedCursor:
        """Run one statement per parameter set; bump the version of the table it writes."""
        self._count = None
        with _write_lock:
            self._bump(written_tables(sql))
            self._cur.executemany(sql, parameters)
        return self

    def fetchone(self) -> tuple | None:
        """The next row of the last result (for a counted write: its row count, once)."""
        if self._count is not None:
            row, self._count = self._count, None
            return row
        return self._cur.fetchone()

    def fetchall(self) -> list[tuple]:
        """The remaining rows of the last result (for a counted write: its row count, once)."""
        if self._count is not None:
            row, self._count = self._count, None
            return [row]
        return self._cur.fetchall()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def __enter__(self) -> TrackedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cur.close()

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


def cursor(path: str | Path | None = None) -> TrackedCursor:
    """A fresh cursor on the shared connection: one per call, safe to use from one thread."""
    conn = connect(path)
    cur = conn.cursor()
    cur.execute("set TimeZone = $tz", {"tz": config.setting("timezone")})
    return TrackedCursor(cur)


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


def write(fn: Callable[[TrackedCursor], T], *, db: str | Path | None = None, retries: int = 8,
          commit: bool = True) -> T:
    """The one write path: run fn(cursor) in one transaction, holding the process's write lock.

    With the lock, writers in this process never conflict with each other; the retry (the whole fn,
    with jittered backoff) is left for a conflict with another process. `commit=False` rolls the
    transaction back after fn returns: a dry run that sees its own writes.
    """
    delay = 0.01
    for attempt in range(retries + 1):
        with _write_lock:
            cur = cursor(db)
            try:
                cur.execute("begin transaction")
                result = fn(cur)
                cur.execute("commit" if commit else "rollback")
                return result
            except duckdb.Error as exc:
                _rollback(cur)
                if not (_is_conflict(exc) and attempt < retries):
                    raise
            except BaseException:
                _rollback(cur)
                raise
            finally:
                cur.close()
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.5)
    raise AssertionError("unreachable")


def _rollback(cur: TrackedCursor) -> None:
    try:
        cur.execute("rollback")
    except duckdb.Error:
        pass


def execute(sql: str, params: Mapping[str, Any] | None = None, *, db: str | Path | None = None) -> None:
    """Run one fixed write statement with `$params` through the write path."""
    write(lambda cur: cur.execute(sql, dict(params or {})), db=db)


@contextmanager
def arrow_view(cur: TrackedCursor, name: str, frame: Any) -> Iterator[None]:
    """Expose a DataFrame or Arrow table to SQL on this cursor as `name` for the block's duration."""
    cur.register(name, frame)
    try:
        yield
    finally:
        cur.unregister(name)


def data_version(*, db: str | Path | None = None) -> int:
    """A number that grows with every write made through this module (a cache key for results)."""
    return int(scalar("select coalesce(sum(version), 0) from data_versions", db=db))


def table_versions(cur: Any, tables: Iterable[str]) -> dict[str, int]:
    """The data version of each named table (0 for a table never written through this module)."""
    names = list(tables)
    rows = dict(cur.execute("select table_name, version from data_versions where table_name in "
                            "(select unnest($t::varchar[]))", {"t": names}).fetchall())
    return {n: int(rows.get(n, 0)) for n in names}


def checkpoint(*, db: str | Path | None = None) -> None:
    """Flush the write-ahead log into the database file (after a bulk build)."""
    cur = cursor(db)
    try:
        cur.execute("checkpoint")
    finally:
        cur.close()


def backup(target: str | Path, *, db: str | Path | None = None) -> Path:
    """Copy the whole database (tables, views, macros, sequences) into a new file at target, from one
    consistent snapshot, while other work goes on: the online backup for a database a server holds."""
    out = Path(target).resolve()
    if out == config.db_path(db).resolve():
        raise PortalDBError("the backup must be a new file, not the database itself")
    if out.exists():
        raise PortalDBError(f"{out} exists already: give a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    cur = connect(db).cursor()
    try:
        source = cur.execute("select current_database()").fetchone()[0]
        alias = "portal_backup_target"
        cur.execute(f"attach $path as {alias}", {"path": str(out)})  # noqa: S608 (a fixed alias)
        try:
            # the source catalog's name comes from DuckDB, quoted as an identifier; no value is pasted
            cur.execute(f'copy from database "{source.replace(chr(34), chr(34) * 2)}" to {alias}')
        finally:
            cur.execute(f"detach {alias}")
    except duckdb.Error as exc:
        out.unlink(missing_ok=True)
        Path(str(out) + ".wal").unlink(missing_ok=True)
        raise PortalDBError(f"backup to {out} failed: {str(exc).splitlines()[0]}") from None
    finally:
        cur.close()
    return out


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
