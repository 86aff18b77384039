"""The contract queries give the same rows on Spark (transpiled, over the Parquet export) as on DuckDB."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import shutil

import duckdb
import pandas as pd
import pytest

from portal import config, db, export_parquet

CONTRACT_QUERIES = [
    "delinquency_buckets", "roll_rates", "delinquency_funnel", "escalation_funnel",
    "channel_effectiveness", "complaint_sla", "policy_violations",
]

if shutil.which("java") is None:
    pytest.skip("Spark parity needs Java 17+ on PATH (java not found)", allow_module_level=True)
if importlib.util.find_spec("pyspark") is None:
    pytest.skip("Spark parity needs pyspark: pip install -e '.[test]'", allow_module_level=True)

from portal import spark  # noqa: E402  (imported only when pyspark is there)

# Spark's first query starts a JVM; on a busy 2-core machine that alone can take minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def exported(demo_db_template, tmp_path_factory):
    """The session's small demo database exported to Parquet, and a Spark session over it."""
    out = tmp_path_factory.mktemp("parquet") / "export"
    export_parquet.export(out, database=demo_db_template)
    spark.session()
    yield demo_db_template, out
    spark.stop()
    db.close(demo_db_template)


def _sample_params(name: str, database) -> dict:
    as_of = db.scalar("select max(as_of) - interval 1 month from snapshots", db=database)
    as_of = db.scalar("select last_day($d::date)", {"d": as_of}, db=database)
    samples = {"as_of": as_of, "start": dt.date(2026, 5, 1), "end": dt.date(2026, 10, 1), "pack": "cn"}
    q = db.get_query(name)
    return {p: samples[p] for p, spec in q.params.items() if spec.required or p in ("start", "end")}


def _normalised(frame: pd.DataFrame) -> list[tuple]:
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
                cells.append(None)
            elif isinstance(value, pd.Timestamp):
                cells.append(value.isoformat())
            elif isinstance(value, float):
                cells.append(round(value, 6))
            else:
                cells.append(value.item() if hasattr(value, "item") else value)
        rows.append(tuple(cells))
    return sorted(rows, key=lambda r: tuple((c is None, str(c)) for c in r))


def assert_same_rows(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Same columns in the same order, and the same rows in any order (floats to 1e-6)."""
    assert list(left.columns) == list(right.columns)
    a, b = _normalised(left), _normalised(right)
    assert len(a) == len(b)
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float) or isinstance(y, float):
                assert x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6), (row_a, row_b)
            else:
                assert x == y, (row_a, row_b)


@pytest.mark.parametrize("name", CONTRACT_QUERIES)
def test_contract_query_same_on_spark_and_duckdb(name, exported):
    database, folder = exported
    if not (config.QUERIES_DIR / f"{name}.sql").exists():
        pytest.skip(f"queries/{name}.sql is not written yet")
    try:
        spark_sql = spark.spark_sql(name)
    except spark.NotPortable as exc:
        pytest.skip(f"{name} is not portable to Spark yet: {exc}")
    assert "$" not in spark_sql
    params = _sample_params(name, database)
    expected = db.query(name, db=database, **params)
    got = spark.query(name, parquet=folder, **params)
    assert len(expected) > 0
    assert_same_rows(expected, got)


def test_list_parameters_bind_as_arrays_on_spark(exported):
    database, folder = exported
    expected = db.query("delinquency_buckets", db=database, product=["cash_loan", "instalment"])
    got = spark.query("delinquency_buckets", parquet=folder, product="cash_loan,instalment")
    everything = db.query("delinquency_buckets", db=database)
    assert 0 < expected["loans"].sum() < everything["loans"].sum()
    assert_same_rows(expected, got)


def test_timezone_rewrite_gives_the_debtors_wall_clock(exported):
    # 12:00 in Shanghai (UTC+8) is 04:00 UTC, which is 23:00 the day before in New York (UTC-5 in January).
    sql = spark.to_spark_sql(
        "select timezone('America/New_York', '2026-01-01 12:00:00+08'::timestamptz) as local_at")
    row = spark.session().sql(sql).collect()[0]
    assert row.local_at == dt.datetime(2025, 12, 31, 23, 0)


def test_month_arithmetic_rewrites_give_duckdbs_answers(exported):
    # DuckDB counts month boundaries (month-end 2025-11-30 to 2026-02-28 is 3 months); to_months adds
    # calendar months and last_day snaps to the month-end
    sql = ("select datediff('month', date '2025-11-30', date '2026-02-28') as months, "
           "datediff('year', date '2025-12-31', date '2026-01-01') as years, "
           "last_day(date '2026-01-31' + to_months(1::integer)) as next_end")
    expected = duckdb.connect().execute(sql).fetchone()
    assert expected == (3, 1, dt.date(2026, 2, 28))
    row = spark.session().sql(spark.to_spark_sql(sql)).collect()[0]
    assert (row.months, row.years, row.next_end) == expected


def test_cli_query_on_spark_prints_what_duckdb_prints(exported, capsys):
    from portal import cli

    database, folder = exported
    assert cli.main(["--db", str(database), "query", "roll_rates", "--param", "start=2026-08-01",
                     "--format", "json"]) == 0
    on_duckdb = json.loads(capsys.readouterr().out)
    assert cli.main(["query", "roll_rates", "--engine", "spark", "--parquet", str(folder),
                     "--param", "start=2026-08-01", "--format", "json"]) == 0
    on_spark = json.loads(capsys.readouterr().out)
    assert len(on_spark) == len(on_duckdb) > 0
    key = lambda r: (r["as_of"], r["from_bucket"], r["to_bucket"])  # noqa: E731
    for a, b in zip(sorted(on_duckdb, key=key), sorted(on_spark, key=key), strict=True):
        assert key(a) == key(b) and a["loans"] == b["loans"] and math.isclose(a["share"], b["share"])
