"""Derived tables: facts computed from the uploaded datasets once per load, not on every page view.

The dashboards' expensive steps (which contact earns each payment, whether each promise to pay was
kept, month-level rollups of the book) do not depend on the filters a viewer picks, so they are kept
in tables that the load path maintains in the same transaction as the upload. A named query reads
them like any other table.

Each derived table is `queries/derived/NAME.sql`: one SELECT over the base tables, whose header
says how it is maintained:

    -- derived: reads loans, contacts, payments
    -- derived: key loan_id          (optional: rows depend only on their own loan's rows)

A table with a `key loan_id` is refreshed per loan: after an upload, only the loans it touched are
deleted and recomputed. The SELECT runs unchanged: inside the refresh, temporary views with the base
tables' names shadow them and hold only the touched loans' rows. A table with `key month_end` (a
month-level rollup whose month_end column is the last day of a calendar month in the portal's time
zone) is refreshed per month: the months the upload's rows fall in are deleted and recomputed from
shadow views holding only those months' contacts, payments and snapshots; an upload of loans or
customers (which moves rows between the rollup's dimensions) rebuilds it whole. A table without a
key is rebuilt whole when any table it reads changes. Code can also register a refresher of its own (the
contact-policy engine keeps its breaches by time range) with `register()`.

Freshness: `derived_state` stores, per derived table, a fingerprint of the base tables it reads
(row count, newest upload id and the data version that `portal.db` bumps on every write, so an
UPDATE that keeps the count is seen too) and of its own SQL. `ensure_fresh()` runs before a named
query that reads a derived table and rebuilds the stale ones, so data written without the load path
(test fixtures, hand-run SQL) is never silently stale. A load refreshes and stamps in its own
transaction, so the check finds nothing to do afterwards. `check()` is the proof for writes that
bypass `portal.db` altogether (another DuckDB client on the file): it compares each table's content
hash with a rebuild from scratch.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from portal import config
from portal import db as portal_db

log = logging.getLogger(__name__)

BASE_TABLES = ("customers", "loans", "snapshots", "contacts", "payments", "complaints", "repayment_plans")
_HEADER_RE = re.compile(r"^--\s*derived:\s*(?P<kind>reads|key|engine)\s+(?P<value>[a-z_, ]+?)\s*$")


@dataclass(frozen=True)
class Change:
    """What a write touched: the base tables written and, unless `full`, the loans whose rows changed.

    When not full, the caller has filled the temp table `_affected_loans(loan_id)` on the same cursor,
    and `contact_span` is the (min, max) contact_at of the contact rows added, changed or removed, or
    of the touched loans' contacts when a customers or loans upload changed who owns them (None when
    no contact is involved). `span` is the (min, max) of the written table's own time column
    (contact_at, paid_at or as_of) over the rows added, changed or removed.
    """

    tables: frozenset[str]
    full: bool = False
    stale_before: frozenset[str] = frozenset()  # stale before this write: rebuilt whole, not patched
    contact_span: tuple[Any, Any] | None = None
    span: tuple[Any, Any] | None = None  # (min, max) of the written rows' own time column, old and new
    loans_touched: bool = True  # False: the write changed no loan's rows (a customer without loans)


@dataclass(frozen=True)
class Derived:
    """One derived table."""

    name: str
    reads: tuple[str, ...]
    key: str | None = None
    sql: str = ""
    refresh: Callable[[Any, Change], None] | None = field(default=None, compare=False)
    version: str = ""
    duckdb_only: bool = False  # `-- derived: engine duckdb`: a lookup for the server, not for a cluster

    @property
    def signature(self) -> str:
        # the portal time zone is part of the definition: months and local days are cut in it
        text = "\n".join([self.sql, self.version, str(config.setting("timezone"))])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_registered: dict[str, Derived] = {}


def register(name: str, reads: Iterable[str], refresh: Callable[[Any, Change], None], version: str = "") -> None:
    """Add a derived table maintained by code: refresh(cur, change) must leave it correct for `change`."""
    _registered[name] = Derived(name, tuple(reads), None, "", refresh, version)
    portal_db.untracked(name)


def parse(name: str, text: str) -> Derived:
    """Read the `-- derived:` header of a derived-table SQL file."""
    reads: tuple[str, ...] = ()
    key = None
    duckdb_only = False
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        m = _HEADER_RE.match(line)
        if m and m["kind"] == "reads":
            reads = tuple(t.strip() for t in m["value"].split(",") if t.strip())
        elif m and m["kind"] == "engine":
            if m["value"].strip() != "duckdb":
                raise portal_db.PortalDBError(f"queries/derived/{name}.sql: the only engine restriction is duckdb")
            duckdb_only = True
        elif m:
            key = m["value"].strip()
    unknown = [t for t in reads if t not in BASE_TABLES]
    if not reads or unknown:
        raise portal_db.PortalDBError(f"queries/derived/{name}.sql: needs '-- derived: reads TABLE, ...' "
                                      f"naming base tables ({', '.join(unknown) or 'none given'})")
    if key not in (None, "loan_id", "month_end"):
        raise portal_db.PortalDBError(f"queries/derived/{name}.sql: the key is loan_id or month_end")
    return Derived(name, reads, key, text, duckdb_only=duckdb_only)


@cache
def _sql_tables() -> dict[str, Derived]:
    out = {}
    for path in sorted((config.QUERIES_DIR / "derived").glob("*.sql")):
        out[path.stem] = parse(path.stem, path.read_text(encoding="utf-8"))
    # a derived table changes only when the base tables it reads do, and their versions moved then
    portal_db.untracked("derived_state", *out)
    return out


# Modules that register derived tables maintained by code; imported before the registry is read, so a
# process that never imported them (a bare `db.query`) still knows every derived table.
_REGISTRANTS = ("portal.policy",)


def tables() -> dict[str, Derived]:
    """Every derived table, SQL-defined first, in a stable order."""
    if not _registered:
        import importlib

        for module in _REGISTRANTS:
            importlib.import_module(module)
    return {**_sql_tables(), **_registered}


@cache
def _words(sql: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z_][a-z0-9_]*", sql.lower()))


def used_by(sql: str) -> tuple[str, ...]:
    """The derived tables a statement mentions."""
    words = _words(sql)
    return tuple(name for name in tables() if name in words)


def _fingerprint(cur: Any, reads: Iterable[str]) -> str:
    reads = tuple(reads)
    versions = portal_db.table_versions(cur, reads)
    parts = []
    for table in reads:
        # count(*) and max() over an indexed-by-zonemap column come from metadata: microseconds.
        count, newest = cur.execute(
            f"select count(*), coalesce(max(upload_id), -1) from {table}"  # noqa: S608 (allow-listed names)
        ).fetchall()[0]
        parts.append(f"{table}:{count}:{newest}:{versions[table]}")
    return "|".join(parts)


def _stamp(cur: Any, d: Derived, seconds: float) -> None:
    cur.execute(
        "insert or replace into derived_state (name, fingerprint, signature, refreshed_at, seconds) "
        "values ($n, $f, $s, now(), $sec)",
        {"n": d.name, "f": _fingerprint(cur, d.reads), "s": d.signature, "sec": seconds},
    )


def _exists(cur: Any, name: str) -> bool:
    return bool(cur.execute(
        "select count(*) from information_schema.tables where table_schema = 'main' and table_name = $n",
        {"n": name}).fetchall()[0][0])


_MONTH_FILTERS = {
    "contacts": "contact_at >= (select lo from _affected_months) and contact_at < (select hi from _affected_months)",
    "payments": "paid_at >= (select lo from _affected_months) and paid_at < (select hi from _affected_months)",
    "snapshots": "as_of >= (select lo from _affected_months)::date and as_of < (select hi from _affected_months)::date",
}


def _shadow(cur: Any, d: Derived) -> list[str]:
    """Temp views named like the base tables, holding only the affected loans' (or months') rows."""
    catalog = cur.execute("select current_database()").fetchall()[0][0].replace('"', '""')
    made = []
    for table in d.reads:
        if d.key == "month_end":
            if table not in _MONTH_FILTERS:
                continue
            where = _MONTH_FILTERS[table]
        elif table == "customers":
            where = (f'customer_id in (select customer_id from "{catalog}".main.loans '  # noqa: S608 (catalog name)
                     "where loan_id in (select loan_id from _affected_loans))")
        elif table in ("loans", "snapshots", "contacts", "payments", "complaints", "repayment_plans"):
            where = "loan_id in (select loan_id from _affected_loans)"
        cur.execute(f'create or replace temp view {table} as select * from "{catalog}".main.{table} '  # noqa: S608 (allow-listed names)
                    f"where {where}")
        made.append(table)
    return made


def _refresh_one(cur: Any, d: Derived, change: Change) -> None:
    started = time.perf_counter()
    if not change.full and not change.loans_touched and d.name not in stale(cur, [d.name]):
        return  # the write changed nothing this table reads (an upload whose every row was rejected)
    if d.refresh is not None:
        d.refresh(cur, change)
    elif not change.full and not change.loans_touched and d.key is not None:
        pass  # rows keyed by loan or month depend on other tables only through loans: none changed
    elif (change.full or d.key is None or not _exists(cur, d.name)
          or (d.key == "month_end" and (change.span is None or change.tables & {"loans", "customers"}))):
        cur.execute(f"create or replace table {d.name} as {d.sql}")  # noqa: S608 (file from the package)
    else:
        if d.key == "month_end":
            # the whole calendar months (portal time zone) the changed rows fall in
            cur.execute("create or replace temp table _affected_months as select "
                        "date_trunc('month', $lo::timestamptz::date)::date::timestamptz as lo, "
                        "(last_day($hi::timestamptz::date) + 1)::timestamptz as hi",
                        {"lo": change.span[0], "hi": change.span[1]})
            cur.execute(f"delete from {d.name} where month_end >= (select lo from _affected_months)::date "  # noqa: S608
                        "and month_end < (select hi from _affected_months)::date")
        else:
            cur.execute(f"delete from {d.name} where {d.key} in (select loan_id from _affected_loans)")  # noqa: S608
        views = _shadow(cur, d)
        try:
            cur.execute(f"insert into {d.name} {d.sql}")  # noqa: S608 (file from the package)
        finally:
            for view in views:
                cur.execute(f"drop view if exists temp.{view}")
            cur.execute("drop table if exists _affected_months")
    seconds = time.perf_counter() - started
    _stamp(cur, d, seconds)
    log.info("derived %s refreshed in %.2f s (%s)", d.name, seconds, "full" if change.full else "incremental")


def refresh(cur: Any, change: Change) -> list[str]:
    """Bring every derived table that reads a changed base table up to date; return their names.

    Runs on the caller's cursor, inside the caller's transaction, so a load and its derived facts
    commit together or not at all.
    """
    done = []
    for d in tables().values():
        if d.name in change.stale_before:
            # rows written outside the load path: patching only what this upload touched would
            # stamp the table fresh while those rows' facts are still missing
            refresh_one(cur, d.name)
            done.append(d.name)
        elif change.tables & set(d.reads):
            _refresh_one(cur, d, change)
            done.append(d.name)
    return done


def refresh_one(cur: Any, name: str) -> None:
    """Rebuild one derived table from scratch on the caller's cursor (inside its transaction)."""
    _refresh_one(cur, tables()[name], Change(frozenset(BASE_TABLES), full=True))


def refresh_all(cur: Any) -> list[str]:
    """Rebuild every derived table from scratch (after a bulk build such as the demo)."""
    return refresh(cur, Change(frozenset(BASE_TABLES), full=True))


def stale(cur: Any, names: Iterable[str] | None = None) -> list[str]:
    """The derived tables (of `names`, default all) whose stamp no longer matches the data or the SQL."""
    wanted = tables() if names is None else {n: tables()[n] for n in names}
    stamps = {row[0]: (row[1], row[2]) for row in cur.execute(
        "select name, fingerprint, signature from derived_state").fetchall()}
    out = []
    for name, d in wanted.items():
        stamp = stamps.get(name)
        if stamp is None or stamp[1] != d.signature or stamp[0] != _fingerprint(cur, d.reads):
            out.append(name)
    return out


def ensure_fresh(names: Iterable[str], *, db: Any = None) -> list[str]:
    """Rebuild (whole) the given derived tables that are stale; return the names rebuilt."""
    names = tuple(names)
    if not names:
        return []
    cur = portal_db.cursor(db)
    try:
        todo = stale(cur, names)
    finally:
        cur.close()
    if not todo:
        return []

    def work(cur: Any) -> list[str]:
        again = stale(cur, todo)  # another writer may have refreshed them while this one queued
        for name in again:
            refresh_one(cur, name)
        return again

    rebuilt = portal_db.write(work, db=db)
    if rebuilt:
        log.warning("derived tables %s were missing or stale (a new definition, or data written outside "
                    "the load path): rebuilt", ", ".join(rebuilt))
    return rebuilt


def content_hash(cur: Any, name: str) -> tuple[int, int]:
    """(row count, order-independent hash of every row) of a table; doubles rounded to 9 places, so
    an incremental sum and a from-scratch sum that differ in the last bits hash alike."""
    cols = cur.execute("select column_name, data_type from information_schema.columns where table_schema = 'main' "
                       "and table_name = $n order by ordinal_position", {"n": name}).fetchall()
    exprs = [f'round("{c}", 9)' if t in ("DOUBLE", "FLOAT", "REAL") else f'"{c}"' for c, t in cols]
    count, total = cur.execute(
        f"select count(*), coalesce(sum(hash({', '.join(exprs)})), 0) from {name}"  # noqa: S608 (catalog names)
    ).fetchall()[0]
    return int(count), int(total)


@dataclass(frozen=True)
class Difference:
    """A derived table whose stored rows differ from a rebuild from scratch."""

    name: str
    stored_rows: int
    rebuilt_rows: int


def check(names: Iterable[str] | None = None, *, db: Any = None) -> list[Difference]:
    """Rebuild each derived table from scratch inside a transaction that is rolled back, and return
    those whose content hash differs from what is stored (nothing is changed)."""
    wanted = list(tables() if names is None else names)

    def work(cur: Any) -> list[Difference]:
        out = []
        for name in wanted:
            before = content_hash(cur, name) if _exists(cur, name) else (0, None)
            refresh_one(cur, name)
            after = content_hash(cur, name)
            if before != after:
                out.append(Difference(name, before[0], after[0]))
        return out

    return portal_db.write(work, db=db, commit=False)
