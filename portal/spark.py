"""Run the named queries on Apache Spark over the Parquet written by `portal export-parquet`.

The SQL files stay DuckDB SQL. sqlglot transpiles them to Spark SQL, after a few rewrites for the
DuckDB features Spark lacks (ASOF joins, `timezone(zone, ts)`, `list_position`). Parameters stay
parameters: `$name` becomes Spark's named marker `:name`, bound through `spark.sql(sql, args=...)`.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import sqlglot
from sqlglot import exp

from portal import config, db
from portal.export_parquet import MANIFEST, read_manifest

DEFAULT_MASTER = "local[2]"
DEFAULT_PARQUET_DIR = Path("data") / "parquet"
_ROW_ID = "__asof_row_id"
_RANK = "__asof_rank"
_KEEP = "__asof_keep"
_MARKER_RE = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)\b")

_lock = threading.RLock()
_state: dict[str, Any] = {"session": None, "views": None}


class NotPortable(db.QueryError):
    """A query uses a DuckDB feature that has no Spark rewrite yet."""


def parquet_dir(explicit: str | Path | None = None) -> str:
    """The export folder or URL: explicit, else setting parquet_dir (PORTAL_PARQUET_DIR), else data/parquet."""
    where = str(explicit or config.setting("parquet_dir") or DEFAULT_PARQUET_DIR)
    return where.rstrip("/") if _is_url(where) else str(Path(where).resolve())


def _is_url(where: str) -> bool:
    return "://" in where


def manifest_of(folder: str, spark=None) -> dict:
    """The export manifest: read locally, or through Spark when the export lives in object storage."""
    if not _is_url(folder):
        try:
            return read_manifest(folder)
        except FileNotFoundError:
            raise db.PortalDBError(f"no Parquet export in {folder}: run `portal export-parquet {folder}`") from None
    text = (spark or session()).read.text(f"{folder}/{MANIFEST}", wholetext=True).first()[0]
    return json.loads(text)


def spark_master() -> str:
    """The Spark master URL: setting spark_master (PORTAL_SPARK_MASTER), else local[2]."""
    return config.setting("spark_master") or DEFAULT_MASTER


def session(master: str | None = None, timezone: str | None = None):
    """This process's SparkSession (created once; small settings suited to local mode)."""
    with _lock:
        if _state["session"] is None:
            from pyspark.sql import SparkSession

            builder = (
                SparkSession.builder.master(master or spark_master())
                .appName("collections-portal")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.session.timeZone", timezone or config.setting("timezone"))
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.driver.memory", "1g")
            )
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("ERROR")
            _state["session"] = spark
        return _state["session"]


def stop() -> None:
    """Stop this process's SparkSession, if any."""
    with _lock:
        if _state["session"] is not None:
            _state["session"].stop()
        _state["session"] = None
        _state["views"] = None


_SPARK_TYPES = {
    "VARCHAR": "string", "DATE": "date", "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP": "timestamp_ntz", "INTEGER": "int", "BIGINT": "bigint", "DOUBLE": "double",
    "BOOLEAN": "boolean", "SMALLINT": "smallint", "FLOAT": "float", "HUGEINT": "decimal(38, 0)",
    "TINYINT": "tinyint",
    # unsigned integers widen to the next signed type (UBIGINT to the decimal Spark reads uint64 as)
    "UTINYINT": "smallint", "USMALLINT": "int", "UINTEGER": "bigint", "UBIGINT": "decimal(20, 0)",
}


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type for a DuckDB column type as information_schema spells it."""
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.lower()
    if duckdb_type not in _SPARK_TYPES:
        raise NotPortable(f"no Spark type for DuckDB type {duckdb_type}")
    return _SPARK_TYPES[duckdb_type]


def register_views(spark, folder: str, manifest: dict) -> list[str]:
    """Expose each exported table as a temp view of the same name, columns and types as in DuckDB."""
    with _lock:
        if _state["views"] == folder:
            return list(manifest["tables"])
        for table, spec in manifest["tables"].items():
            frame = spark.read.parquet(f"{folder}/{table}")
            # Partition values come back from folder names; cast every column to its DuckDB type.
            columns = [f"cast(`{c['name']}` as {spark_type(c['type'])}) as `{c['name']}`"
                       for c in spec["columns"]]
            frame.selectExpr(*columns).createOrReplaceTempView(table)
        _state["views"] = folder
        return list(manifest["tables"])


def _micros(node: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="unix_micros", expressions=[
        exp.Cast(this=node.copy(), to=exp.DataType.build("timestamp"))])


def _rewrite_function(node: exp.Expression) -> exp.Expression:
    """Rewrite one DuckDB-only function call into its Spark equivalent."""
    name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
    if name == "timezone" and len(node.expressions) == 2:
        # DuckDB timezone(zone, timestamptz) is the wall-clock time in zone. In Spark the session-local
        # wall clock is cast(ts as timestamp_ntz), and convert_timezone moves it to zone.
        zone, ts = node.expressions
        return exp.Anonymous(this="convert_timezone", expressions=[
            exp.Anonymous(this="current_timezone", expressions=[]),
            zone.copy(),
            exp.Cast(this=ts.copy(), to=exp.DataType.build("timestamp_ntz", dialect="spark")),
        ])
    if name == "epoch_us" and len(node.expressions) == 1:
        return _micros(node.expressions[0])
    if name == "make_timestamptz" and len(node.expressions) == 1:
        return exp.Anonymous(this="timestamp_micros", expressions=[node.expressions[0].copy()])
    if name == "list_position":
        return exp.Anonymous(this="array_position", expressions=[e.copy() for e in node.expressions])
    if name == "error":
        return exp.Anonymous(this="raise_error", expressions=[e.copy() for e in node.expressions])
    if name == "to_hours":
        zero = exp.Literal.number(0)
        return exp.Anonymous(this="make_dt_interval", expressions=[zero, node.expressions[0].copy()])
    if name == "to_months":
        # a year-month interval: date + make_ym_interval(0, n) is Spark's date + to_months(n)
        zero = exp.Literal.number(0)
        return exp.Anonymous(this="make_ym_interval", expressions=[zero, node.expressions[0].copy()])
    if isinstance(node, exp.DateDiff) and node.text("unit").upper() in ("MONTH", "YEAR"):
        # DuckDB counts the month (year) boundaries crossed; Spark's datediff(MONTH, ...) counts whole
        # months elapsed (month-end 2025-11-30 to 2026-02-28 is 3 in DuckDB, 2 in Spark)
        def months(value: exp.Expression) -> exp.Expression:
            year = exp.Anonymous(this="year", expressions=[value.copy()])
            if node.text("unit").upper() == "YEAR":
                return year
            return exp.Add(this=exp.Mul(this=year, expression=exp.Literal.number(12)),
                           expression=exp.Anonymous(this="month", expressions=[value.copy()]))
        return exp.Paren(this=exp.Sub(this=exp.Paren(this=months(node.this)),
                                      expression=exp.Paren(this=months(node.expression))))
    if isinstance(node, exp.ToDays):
        return exp.Anonymous(this="make_dt_interval", expressions=[node.this.copy()])
    if isinstance(node, exp.TimeToUnix):
        # DuckDB epoch(): seconds of a timestamp, or of an interval (a difference of two timestamps).
        arg = node.this
        seconds = (exp.Sub(this=_micros(arg.this), expression=_micros(arg.expression))
                   if isinstance(arg, exp.Sub) else _micros(arg))
        return exp.Div(this=exp.Paren(this=seconds), expression=exp.Literal.number("1000000.0"))
    if isinstance(node, exp.Pivot) and node.args.get("unpivot") and node.args.get("into"):
        # DuckDB's statement form `unpivot t on a, b into name n value v` is Spark's
        # `select * from t unpivot (v for n in (a, b))`.
        into = node.args["into"]
        pivot = exp.Pivot(
            expressions=[exp.to_identifier(into.expressions[0].name)],
            fields=[exp.In(this=exp.to_identifier(into.this.name),
                           expressions=[e.copy() for e in node.expressions])],
            unpivot=True,
        )
        table = node.this.copy()
        table.set("pivots", [pivot])
        return exp.select("*").from_(table)
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        # Spark has no (not) materialized hint; it plans CTEs itself.
        node.set("materialized", None)
        return node
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
        raise NotPortable(f"table macro {node.this.name}() has no Spark equivalent; rewrite it as SQL "
                          "over the tables, or as a view")
    return node


def _table_names(node: exp.Expression) -> set[str]:
    return {c.table for c in node.find_all(exp.Column)}


def _rewrite_asof(select: exp.Select) -> exp.Expression:
    """Turn `L ASOF JOIN R ON eq AND l.t >= r.t` into a plain join keeping the nearest R row per L row."""
    joins = select.args.get("joins") or []
    asof = [j for j in joins if (j.args.get("method") or "").upper() == "ASOF"]
    if not asof:
        return select
    if len(joins) != 1 or select.args.get("group") or select.args.get("having") or any(
            e.find(exp.AggFunc) for e in select.expressions):
        raise NotPortable("only a single ASOF join in a select without aggregates can be rewritten for Spark")
    join = asof[0]
    right = join.this.alias_or_name
    source = select.args["from_"].this if "from_" in select.args else select.args["from"].this
    left = source.alias_or_name
    conditions = list(join.args["on"].flatten()) if isinstance(join.args["on"], exp.And) else [join.args["on"]]
    inequalities = [c for c in conditions if isinstance(c, exp.GTE | exp.GT | exp.LTE | exp.LT)]
    if len(inequalities) != 1:
        raise NotPortable("an ASOF join needs exactly one inequality")
    ineq = inequalities[0]
    right_side, flipped = (ineq.expression, False) if _table_names(ineq.expression) == {right} else (ineq.this, True)
    # left >= right (or right <= left): the nearest right row is the largest one.
    descending = isinstance(ineq, exp.GTE | exp.GT) != flipped
    if not isinstance(source, exp.Table):
        raise NotPortable("the left side of an ASOF join must be a table or CTE name")
    # A row id tells apart identical left rows, so each keeps exactly one match, as in DuckDB.
    row_id = exp.Anonymous(this="monotonically_increasing_id", expressions=[])
    numbered = exp.select("*", exp.alias_(row_id, _ROW_ID)).from_(exp.to_table(source.name))
    inner = select.copy()
    inner.set("joins", [join.copy()])
    inner.args["joins"][0].set("method", None)
    inner.args["from_" if "from_" in inner.args else "from"].set(
        "this", exp.Subquery(this=numbered, alias=exp.TableAlias(this=exp.to_identifier(left))))
    where = inner.args.get("where")
    inner.set("where", None)
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column(_ROW_ID, table=left)],
        order=exp.Order(expressions=[exp.Ordered(this=right_side.copy(), desc=descending)]),
    )
    names = [e.alias_or_name for e in select.expressions]
    inner.set("expressions", [*[e.copy() for e in select.expressions], exp.alias_(rank, _RANK),
                              exp.alias_(where.this.copy() if where else exp.true(), _KEEP)])
    outer = exp.select(*names).from_(exp.Subquery(this=inner, alias=exp.TableAlias(
        this=exp.to_identifier("__asof")))).where(f"{_RANK} = 1 and {_KEEP}")
    return outer


def to_spark_sql(sql: str) -> str:
    """Transpile one DuckDB named query to Spark SQL with `:name` parameter markers."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = tree.transform(_rewrite_function)
    for select in list(tree.find_all(exp.Select)):
        if any((j.args.get("method") or "").upper() == "ASOF" for j in select.args.get("joins") or []):
            rewritten = _rewrite_asof(select)
            if select is tree:
                tree = rewritten
            else:
                select.replace(rewritten)
    out = tree.sql(dialect="spark", comments=False)
    if "$" in _strip_strings(out):
        raise NotPortable("a $parameter survived transpilation")
    return out


def _strip_strings(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


@cache
def spark_sql(name: str) -> str:
    """The Spark SQL text of one named query (cached per process)."""
    return to_spark_sql(db.get_query(name).sql)


def _to_pandas(frame, timezone: str) -> pd.DataFrame:
    """Collect a Spark DataFrame with the dtypes DuckDB's .df() gives (float decimals, aware timestamps)."""
    from pyspark.sql import types as st

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyspark warns about pandas 3 on every collect
        out = frame.toPandas()
    for field in frame.schema.fields:
        col = field.name
        if isinstance(field.dataType, st.DecimalType):
            out[col] = out[col].astype("float64")
        elif isinstance(field.dataType, st.DateType):
            out[col] = pd.to_datetime(out[col])
        elif isinstance(field.dataType, st.TimestampType):
            out[col] = pd.to_datetime(out[col]).dt.tz_localize(timezone)
    return out


def query(name: str, *, parquet: str | Path | None = None, **params: Any) -> pd.DataFrame:
    """Run the named query on Spark over an export folder and return a pandas DataFrame."""
    q = db.get_query(name)
    bound = q.bind(params)
    sql = spark_sql(name)
    used = set(_MARKER_RE.findall(_strip_strings(sql)))
    args = {k: v for k, v in bound.items() if k in used}
    folder = parquet_dir(parquet)
    local = None if _is_url(folder) else manifest_of(folder)
    try:
        spark = session(timezone=(local or {}).get("timezone"))
    except ImportError:
        raise db.PortalDBError("pyspark is not installed: pip install 'collections-portal[spark]'") from None
    register_views(spark, folder, local or manifest_of(folder, spark))
    timezone = spark.conf.get("spark.sql.session.timeZone")
    try:
        return _to_pandas(spark.sql(sql, args=args), timezone)
    except Exception as exc:
        if type(exc).__module__.startswith("pyspark"):
            raise db.PortalDBError(f"query {name} failed on Spark: {str(exc).splitlines()[0]}") from exc
        raise


_DUCKDB_TYPES = {
    "StringType": "VARCHAR", "DateType": "DATE", "TimestampType": "TIMESTAMP WITH TIME ZONE",
    "TimestampNTZType": "TIMESTAMP", "IntegerType": "INTEGER", "LongType": "BIGINT", "DoubleType": "DOUBLE",
    "BooleanType": "BOOLEAN", "ShortType": "SMALLINT", "ByteType": "TINYINT", "FloatType": "FLOAT",
}


def _duckdb_type(data_type) -> str:
    name = type(data_type).__name__
    if name == "DecimalType":
        return f"DECIMAL({data_type.precision},{data_type.scale})"
    if name not in _DUCKDB_TYPES:
        raise NotPortable(f"no DuckDB type for Spark type {data_type}")
    return _DUCKDB_TYPES[name]


def derive(parquet: str | Path | None = None, names: list[str] | None = None) -> dict[str, int]:
    """Compute the SQL-defined derived tables on Spark from an export's base tables; write them back.

    This is how a cluster keeps the dashboards' derived facts (queries/derived/*.sql) when the data
    does not pass through DuckDB: the same SELECTs, transpiled, over the exported base tables. Each
    table replaces its folder in the export (written beside it first, then swapped) and its entry in
    the manifest. Returns rows per table. The export must be a folder this machine can write (local or
    mounted, as for export-parquet); tables maintained by code (the contact-policy facts) and DuckDB's
    own lookups (`-- derived: engine duckdb`) are skipped.
    """
    import shutil

    from portal import derived

    folder = parquet_dir(parquet)
    if _is_url(folder):
        raise db.PortalDBError("derive writes to a local or mounted export folder; derive there, then sync")
    manifest = manifest_of(folder)
    spark = session(timezone=manifest.get("timezone"))
    sql_tables = {n: d for n, d in derived.tables().items() if d.sql and not d.duckdb_only}
    wanted = list(sql_tables) if names is None else names
    unknown = [n for n in wanted if n not in sql_tables]
    if unknown:
        raise db.QueryError(f"no derived SQL table {unknown[0]!r}; tables: {', '.join(sql_tables)}")
    rows = {}
    for name in wanted:
        missing = [t for t in sql_tables[name].reads if t not in manifest["tables"]]
        if missing:
            raise db.PortalDBError(f"the export in {folder} has no {missing[0]} table, which {name} reads")
        with _lock:
            _state["views"] = None  # register again: the export changes as this loop writes
        register_views(spark, folder, manifest)
        frame = spark.sql(to_spark_sql(sql_tables[name].sql))
        target = Path(folder) / name
        staged = Path(folder) / f".{name}.staged"  # a dot folder: Spark and the manifest ignore it
        frame.write.mode("overwrite").parquet(str(staged))
        shutil.rmtree(target, ignore_errors=True)
        staged.rename(target)
        rows[name] = spark.read.parquet(str(target)).count()
        manifest["tables"][name] = {
            "columns": [{"name": f.name, "type": _duckdb_type(f.dataType)} for f in frame.schema.fields],
            "partition_by": None, "derived_partition": False, "rows": rows[name],
        }
        (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    with _lock:
        _state["views"] = None
    return rows
