"""The data layer: migrations, named queries and their parameters, the write path, the lock message."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from portal import db


def test_migrations_are_idempotent(tmp_db):
    conn = db.connect(tmp_db)
    assert db.migrate(conn) == []
    applied = db.read("select version from schema_migrations order by version", db=tmp_db)["version"].tolist()
    assert applied == [v for v, _, _ in db.migrations()]
    db.close(tmp_db)
    db.connect(tmp_db)
    assert db.migrate(db.connect(tmp_db)) == []


def test_contract_tables_exist(tmp_db):
    assert db.table_counts(db=tmp_db) == {t: 0 for t in ("customers", "loans", "snapshots", "contacts",
                                                          "payments", "complaints")}
    for table in ("quarantine", "uploads", "complaint_events", "improvement_actions"):
        assert db.scalar(f"select count(*) from {table}", db=tmp_db) == 0  # noqa: S608


def test_parse_query_header():
    q = db.parse_query("x", "-- A test.\n-- param: as_of date\n-- param: pack text = cn in cn|us\n"
                            "select $as_of, $pack")
    assert q.description == "A test."
    assert q.params["as_of"].required and not q.params["pack"].required
    assert q.bind({"as_of": "2026-01-31"}) == {"as_of": __import__("datetime").date(2026, 1, 31), "pack": "cn"}
    with pytest.raises(db.QueryError, match="must be one of cn, us"):
        q.bind({"as_of": "2026-01-31", "pack": "eu"})
    with pytest.raises(db.QueryError, match="needs --param as_of"):
        q.bind({})
    with pytest.raises(db.QueryError, match="has no parameter zzz"):
        q.bind({"as_of": "2026-01-31", "zzz": 1})
    with pytest.raises(db.QueryError, match="not a valid date"):
        q.bind({"as_of": "2026-02-30"})


def test_declared_but_unused_param_is_an_error():
    with pytest.raises(db.PortalDBError, match="never uses it"):
        db.parse_query("x", "-- param: a int\nselect 1")


def test_unknown_query_names_are_refused():
    with pytest.raises(db.QueryError, match="unknown query"):
        db.get_query("no_such_query")
    with pytest.raises(db.QueryError):
        db.get_query("../etc/passwd")


def test_list_params_filter(tmp_db):
    db.execute("insert into loans values ('L1','C1','cash_loan',100,0.1,12,'2026-01-01','east','A',null),"
               "('L2','C1','instalment',200,0.1,12,'2026-01-01','west','B',null)", db=tmp_db)
    db.execute("insert into snapshots values ('L1','2026-01-31',0,100,0,null),('L2','2026-01-31',45,200,30,null)",
               db=tmp_db)
    all_rows = db.query("delinquency_buckets", db=tmp_db)
    assert all_rows["loans"].sum() == 2
    only = db.query("delinquency_buckets", db=tmp_db, product="instalment")
    assert only[["bucket", "loans"]].values.tolist() == [["M2", 1]]
    two = db.query("delinquency_buckets", db=tmp_db, region=["east", "west"])
    assert two["loans"].sum() == 2


def test_write_rolls_back_on_error(tmp_db):
    def failing(cur):
        cur.execute("insert into payments values ('P1','L1',now(),10,null)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        db.write(failing, db=tmp_db)
    assert db.scalar("select count(*) from payments", db=tmp_db) == 0


def test_concurrent_writes_all_land(tmp_db):
    db.execute("create table counter (n integer)", db=tmp_db)
    db.execute("insert into counter values (0)", db=tmp_db)
    errors = []

    def bump():
        try:
            for _ in range(10):
                db.write(lambda cur: cur.execute("update counter set n = n + 1"), db=tmp_db)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert db.scalar("select n from counter", db=tmp_db) == 80


def test_second_process_gets_one_line_lock_error(tmp_db):
    code = "import sys\nfrom portal import cli\nsys.exit(cli.main(['--db', sys.argv[1], 'query', 'month_ends']))"
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_db)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "already open read-write in another process" in proc.stderr
    assert "Traceback" not in proc.stderr
