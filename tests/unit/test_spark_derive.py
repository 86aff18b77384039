"""A cluster can compute the derived tables itself: queries/derived/*.sql on Spark == on DuckDB.

The export carries DuckDB's derived tables; `portal derive --engine spark` recomputes them on Spark
from the exported base tables and writes them over DuckDB's copies. Both versions must hold the same
rows, and a named query reading them must then give DuckDB's answer.
"""

from __future__ import annotations

import importlib.util
import shutil

import pandas as pd
import pytest

from portal import db, derived, export_parquet

if shutil.which("java") is None:
    pytest.skip("Spark needs Java 17+ on PATH (java not found)", allow_module_level=True)
if importlib.util.find_spec("pyspark") is None:
    pytest.skip("Spark needs pyspark: pip install -e '.[test]'", allow_module_level=True)

from portal import spark  # noqa: E402  (imported only when pyspark is there)
from tests.unit.test_spark_parity import assert_same_rows  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
SQL_TABLES = sorted(name for name, d in derived.tables().items() if d.sql and not d.duckdb_only)


@pytest.fixture(scope="module")
def derived_on_spark(demo_db_template, tmp_path_factory):
    out = tmp_path_factory.mktemp("parquet") / "export"
    export_parquet.export(out, database=demo_db_template)
    from portal import cli

    assert cli.main(["derive", "--engine", "spark", "--parquet", str(out)]) == 0
    yield demo_db_template, out
    spark.stop()
    db.close(demo_db_template)


def _spark_table(folder, name: str) -> pd.DataFrame:
    manifest = export_parquet.read_manifest(folder)
    session = spark.session()
    spark.register_views(session, str(folder), manifest)
    return spark._to_pandas(session.table(name), session.conf.get("spark.sql.session.timeZone"))


@pytest.mark.parametrize("name", SQL_TABLES)
def test_derived_table_same_on_spark_and_duckdb(derived_on_spark, name):
    database, folder = derived_on_spark
    manifest = export_parquet.read_manifest(folder)
    assert manifest["tables"][name]["rows"] > 0
    expected = db.read(f"select * from {name}", db=database)  # noqa: S608 (names from the package)
    assert_same_rows(_plain(expected), _plain(_spark_table(folder, name)))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer columns (pd.NA) as objects with None, as the row comparison expects."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.api.extensions.ExtensionDtype) and out[col].hasnans:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def test_a_named_query_over_spark_derived_tables_gives_duckdbs_answer(derived_on_spark):
    database, folder = derived_on_spark
    params = {"as_of": db.scalar("select max(as_of) from snapshots", db=database), "product": ["instalment"]}
    assert_same_rows(db.query("overview_kpis", db=database, **params),
                     spark.query("overview_kpis", parquet=folder, **params))


def test_derive_names_an_unknown_table(derived_on_spark):
    _, folder = derived_on_spark
    with pytest.raises(db.QueryError, match="no derived SQL table 'nope'"):
        spark.derive(folder, names=["nope"])
