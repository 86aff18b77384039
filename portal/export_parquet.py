"""Export the portal's tables as partitioned Parquet, so a distributed engine (Spark) can read them.

Layout under OUT_DIR: one folder per table, Hive-style partitions (`snapshots/as_of=2026-10-31/`,
`contacts/contact_month=2026-10/`), and `portal_manifest.json` with each table's columns and types in
their original order, so a reader can restore the exact table shape (partition columns come back last
and as strings otherwise).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from portal import db, derived

MANIFEST = "portal_manifest.json"  # no leading underscore: Spark hides such files

# Table -> (partition column, SQL expression for it or None when it is a real column).
# Fixed allow-list: these names are the only ones ever placed into SQL text.
EXPORT_TABLES: dict[str, tuple[str | None, str | None]] = {
    "customers": (None, None),
    "loans": (None, None),
    "snapshots": ("as_of", None),
    "contacts": ("contact_month", "strftime(contact_at, '%Y-%m')"),
    "payments": ("paid_month", "strftime(paid_at, '%Y-%m')"),
    "complaints": (None, None),
    "complaint_events": (None, None),
    "improvement_actions": (None, None),
    "repayment_plans": (None, None),
    "plan_offers": (None, None),
}


@dataclass(frozen=True)
class ExportSummary:
    """What export-parquet wrote: rows per table and the output folder."""

    out_dir: Path
    rows: dict[str, int]


def _columns(table: str, database) -> list[tuple[str, str]]:
    frame = db.read(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = $t order by ordinal_position",
        {"t": table}, db=database,
    )
    return list(zip(frame["column_name"], frame["data_type"], strict=True))


def export(out_dir: str | Path, *, database=None, tables: list[str] | None = None) -> ExportSummary:
    """Write the allow-listed tables under out_dir as partitioned Parquet plus a manifest."""
    out = Path(out_dir).resolve()
    # The derived tables go along, fresh, so the named queries that read them run on Spark unchanged.
    allowed = {**EXPORT_TABLES, **{name: (None, None) for name, d in derived.tables().items() if not d.duckdb_only}}
    names = list(allowed) if tables is None else tables
    unknown = [t for t in names if t not in allowed]
    if unknown:
        raise db.QueryError(f"cannot export {unknown[0]!r}; tables: {', '.join(allowed)}")
    derived.ensure_fresh([t for t in names if t in derived.tables()], db=database)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict] = {}
    rows: dict[str, int] = {}
    for table in names:
        columns = _columns(table, database)
        if not columns:
            continue
        partition, expression = allowed[table]
        target = out / table
        if target.exists():
            shutil.rmtree(target)
        select = f"select * from {table}"  # noqa: S608 (allow-listed table name)
        options = "format parquet, compression zstd"
        if partition and expression:
            select = f"select *, {expression} as {partition} from {table}"  # noqa: S608 (allow-listed)
        if partition:
            options += f", partition_by ({partition})"
            target.mkdir(parents=True)
        else:
            target.mkdir(parents=True)
            target = target / "data_0.parquet"
        rows[table] = int(db.scalar(f"copy ({select}) to $path ({options})", {"path": str(target)},
                                    db=database) or 0)
        manifest[table] = {
            "columns": [{"name": n, "type": t} for n, t in columns],
            "partition_by": partition,
            "derived_partition": expression is not None,
            "rows": rows[table],
        }
    timezone = db.scalar("select current_setting('TimeZone')", db=database)
    (out / MANIFEST).write_text(json.dumps({"timezone": timezone, "tables": manifest}, indent=1),
                                encoding="utf-8")
    return ExportSummary(out, rows)


def read_manifest(path: str | Path) -> dict:
    """The manifest of an export folder (raises FileNotFoundError when it is not one)."""
    return json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
