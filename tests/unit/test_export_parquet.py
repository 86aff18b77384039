"""`portal export-parquet`: partitioned Parquet that reads back to the same tables, and Spark SQL rewrites."""

from __future__ import annotations

import json

import pytest

from portal import cli, db, export_parquet, spark


def test_export_writes_partitions_and_a_manifest_matching_the_tables(demo_db, tmp_path, capsys):
    out = tmp_path / "pq"
    assert cli.main(["--db", str(demo_db), "export-parquet", str(out)]) == 0
    assert "contacts" in capsys.readouterr().out
    manifest = json.loads((out / export_parquet.MANIFEST).read_text())
    counts = db.table_counts(db=demo_db)
    for table in ("customers", "loans", "snapshots", "contacts", "payments", "complaints"):
        assert manifest["tables"][table]["rows"] == counts[table] > 0
    month_ends = db.read("select distinct as_of from snapshots order by 1", db=demo_db)["as_of"]
    folders = sorted(p.name for p in (out / "snapshots").iterdir())
    assert folders == [f"as_of={d:%Y-%m-%d}" for d in month_ends]
    assert all(p.name.startswith("contact_month=") for p in (out / "contacts").iterdir())
    names = [c["name"] for c in manifest["tables"]["contacts"]["columns"]]
    assert names[:3] == ["contact_id", "loan_id", "contact_at"] and "contact_month" not in names


def test_export_reads_back_to_the_same_sums(demo_db, tmp_path):
    out = tmp_path / "pq"
    export_parquet.export(out, database=demo_db)
    original = db.read("select as_of, count(*) as n, sum(overdue_amount) as overdue from snapshots "
                       "group by 1 order by 1", db=demo_db)
    copied = db.read("select as_of::date as as_of, count(*) as n, sum(overdue_amount) as overdue "
                     "from read_parquet($glob, hive_partitioning = true) group by 1 order by 1",
                     {"glob": str(out / "snapshots" / "*" / "*.parquet")}, db=demo_db)
    assert copied["n"].tolist() == original["n"].tolist()
    assert copied["overdue"].tolist() == original["overdue"].tolist()
    contacts = db.scalar("select count(*) from read_parquet($glob, hive_partitioning = true)",
                         {"glob": str(out / "contacts" / "*" / "*.parquet")}, db=demo_db)
    assert contacts == db.table_counts(db=demo_db)["contacts"]


def test_export_refuses_tables_outside_the_allow_list(demo_db, tmp_path):
    with pytest.raises(db.QueryError, match="cannot export"):
        export_parquet.export(tmp_path / "pq", database=demo_db, tables=["users"])


def test_spark_sql_keeps_parameters_as_markers_and_rewrites_duckdb_only_syntax():
    sql = spark.to_spark_sql(
        "select p.amount, c.channel from p asof join c on p.loan_id = c.loan_id and p.paid_at >= c.contact_at "
        "where p.paid_at < $end::date and list_position(['a', 'b'], c.channel) > 0 "
        "and hour(timezone('Asia/Shanghai', c.contact_at)) > 8")
    assert "ASOF JOIN" not in sql.upper() and "$" not in sql
    assert "CAST(:end AS DATE)" in sql
    assert "ROW_NUMBER() OVER (PARTITION BY p.__asof_row_id ORDER BY c.contact_at DESC)" in sql
    assert "ARRAY_POSITION(" in sql and "CONVERT_TIMEZONE(CURRENT_TIMEZONE(), 'Asia/Shanghai'" in sql


def test_table_macros_are_reported_as_not_portable():
    with pytest.raises(spark.NotPortable, match="table macro"):
        spark.to_spark_sql("select * from policy_breaches('cn', null, null, null)")
