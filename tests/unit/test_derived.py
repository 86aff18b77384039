"""Derived tables (portal/derived.py): maintained by the load path, incremental per loan, never stale.

The reference for every check is the derived table's own SELECT run from scratch over the base
tables: an incremental refresh after an upload must leave exactly those rows.
"""

from __future__ import annotations

import pandas as pd
import pytest

from portal import db, derived, ingest


def _from_scratch(name: str, path) -> pd.DataFrame:
    frame = db.read(derived.tables()[name].sql, db=path)
    return _ordered(frame)


def _stored(name: str, path) -> pd.DataFrame:
    return _ordered(db.read(f"select * from {name}", db=path))  # noqa: S608 (test, fixed names)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), na_position="first").reset_index(drop=True)


def _sql_tables() -> list[str]:
    return [name for name, d in derived.tables().items() if d.sql]


def test_every_derived_file_declares_what_it_reads():
    assert _sql_tables(), "queries/derived/ holds at least one table"
    for d in derived.tables().values():
        assert set(d.reads) <= set(derived.BASE_TABLES)


def test_header_errors_are_one_line():
    with pytest.raises(db.PortalDBError, match="reads TABLE"):
        derived.parse("bad", "-- no header\nselect 1")
    with pytest.raises(db.PortalDBError, match="the key is loan_id or month_end"):
        derived.parse("bad", "-- derived: reads contacts\n-- derived: key contact_id\nselect 1")


def test_demo_build_leaves_every_derived_table_fresh(demo_db):
    cur = db.cursor(demo_db)
    try:
        assert derived.stale(cur) == []
    finally:
        cur.close()
    for name in _sql_tables():
        pd.testing.assert_frame_equal(_stored(name, demo_db), _from_scratch(name, demo_db))


def test_contacts_upload_refreshes_only_touched_loans_and_matches_a_rebuild(demo_db, tmp_path):
    # New reaching contacts just before existing payments of three loans: their payments change hands.
    payments = db.read("select loan_id, paid_at from payments order by payment_id limit 3", db=demo_db)
    rows = []
    for i, (loan_id, paid_at) in enumerate(payments.itertuples(index=False)):
        at = (paid_at - pd.Timedelta(minutes=5)).isoformat()
        rows.append(f"KNEW{i},{loan_id},{at},visit,debtor,rpc,A001,,champion,,,9.50,2,")
    csv = tmp_path / "contacts.csv"
    csv.write_text("contact_id,loan_id,contact_at,channel,party,outcome,agent_id,agency_id,strategy,ptp_amount,"
                   "ptp_due_on,cost,collectors,duration_s\n" + "\n".join(rows) + "\n", encoding="utf-8")
    before = _stored("payment_attribution", demo_db)
    result = ingest.load_file("contacts", csv, db=demo_db)
    assert result.accepted == 3, result.message
    after = _stored("payment_attribution", demo_db)
    for name in _sql_tables():
        pd.testing.assert_frame_equal(_stored(name, demo_db), _from_scratch(name, demo_db))
    # the three payments now go to the new visits; no other payment moved
    moved = after.merge(before, on="payment_id", suffixes=("", "_before"))
    moved = moved[moved["contact_id"].fillna("") != moved["contact_id_before"].fillna("")]
    assert sorted(moved["contact_id"]) == ["KNEW0", "KNEW1", "KNEW2"]
    assert set(moved["channel"]) == {"visit"}
    cur = db.cursor(demo_db)
    try:
        assert derived.stale(cur) == []
        temp = cur.execute("select count(*) from duckdb_views() where temporary and view_name in "
                           "('customers', 'loans', 'snapshots', 'contacts', 'payments')").fetchone()[0]
        assert temp == 0, "the shadow views are dropped after the refresh"
    finally:
        cur.close()


def test_rejected_upload_leaves_derived_tables_alone(demo_db, tmp_path):
    csv = tmp_path / "contacts.csv"
    csv.write_text("contact_id,loan_id,contact_at,channel,party,outcome,agent_id,agency_id,strategy,ptp_amount,"
                   "ptp_due_on,cost,collectors,duration_s\nKX,NO_SUCH_LOAN,2026-01-01T10:00:00+08:00,phone,debtor,"
                   "rpc,A001,,champion,,,1,,\n", encoding="utf-8")
    before = db.read("select name, fingerprint, refreshed_at from derived_state order by name", db=demo_db)
    result = ingest.load_file("contacts", csv, db=demo_db)
    assert result.accepted == 0
    after = db.read("select name, fingerprint, refreshed_at from derived_state order by name", db=demo_db)
    pd.testing.assert_frame_equal(before, after)


def test_rows_written_outside_the_load_path_are_caught_before_a_query(demo_db):
    loan_id, contact_at = db.read(
        "select loan_id, contact_at from contacts where outcome = 'rpc' order by contact_id limit 1",
        db=demo_db).iloc[0]
    db.execute("insert into payments (payment_id, loan_id, paid_at, amount) values "
               "('PHAND', $l, $t + interval 1 hour, 123.45)", {"l": loan_id, "t": contact_at}, db=demo_db)
    cur = db.cursor(demo_db)
    try:
        assert "payment_attribution" in derived.stale(cur)
    finally:
        cur.close()
    # db.query() runs this for the derived tables a named query mentions, before running it
    rebuilt = derived.ensure_fresh(derived.tables(), db=demo_db)
    assert {"payment_attribution", "book_money"} <= set(rebuilt)
    assert "book_flows" not in rebuilt, "it reads neither payments nor contacts"
    row = db.read("select contact_id, amount from payment_attribution where payment_id = 'PHAND'", db=demo_db)
    assert len(row) == 1 and row["contact_id"].notna().all()
    for name in _sql_tables():
        pd.testing.assert_frame_equal(_stored(name, demo_db), _from_scratch(name, demo_db))


def test_a_changed_definition_is_rebuilt(demo_db, monkeypatch):
    d = derived.tables()["payment_attribution"]
    changed = derived.Derived(d.name, d.reads, d.key, d.sql + "\n-- edited\n")
    monkeypatch.setitem(derived._sql_tables(), d.name, changed)
    assert derived.ensure_fresh([d.name], db=demo_db) == [d.name]
    assert derived.ensure_fresh([d.name], db=demo_db) == []


# Each upload changes rows already loaded (the stored versions must leave the derived facts too) and
# moves some of them in time or between the rollups' dimensions.
CHANGES = {
    "loans": "select * replace (case when product = 'instalment' then 'cash_loan' else 'instalment' end "
             "as product) from loans order by loan_id limit 25",
    "snapshots": "select * replace (dpd + 40 as dpd) from snapshots where as_of = (select min(as_of) + 0 "
                 "from snapshots where as_of > (select min(as_of) from snapshots)) order by loan_id limit 25",
    "contacts": "select * replace ('rpc' as outcome, contact_at - interval 35 day as contact_at) from contacts "
                "order by contact_id limit 25",
    "payments": "select * replace (amount * 2 as amount, paid_at + interval 33 day as paid_at) from payments "
                "order by payment_id limit 25",
    "customers": "select * replace ('America/New_York' as timezone) from customers order by customer_id limit 25",
}


@pytest.mark.parametrize("dataset", sorted(CHANGES))
def test_an_upload_of_changed_rows_leaves_every_derived_table_as_a_rebuild(demo_db, tmp_path, dataset):
    columns = ", ".join(c.name for c in ingest.columns(dataset))
    upload = tmp_path / f"{dataset}.parquet"
    db.execute(f"copy (select {columns} from ({CHANGES[dataset]})) to $p (format parquet)",  # noqa: S608 (test)
               {"p": str(upload)}, db=demo_db)
    result = ingest.load_file(dataset, upload, db=demo_db)
    assert result.accepted == 25, result.message
    for name in _sql_tables():
        pd.testing.assert_frame_equal(_stored(name, demo_db), _from_scratch(name, demo_db), obj=name)
    cur = db.cursor(demo_db)
    try:
        assert derived.stale(cur) == []
    finally:
        cur.close()


def test_cli_derive_rebuilds_stale_tables_or_all(demo_db, capsys):
    from portal import cli

    assert cli.main(["--db", str(demo_db), "derive"]) == 0
    assert "every derived table is up to date" in capsys.readouterr().out
    db.execute("delete from payments where payment_id = (select min(payment_id) from payments)", db=demo_db)
    assert cli.main(["--db", str(demo_db), "derive"]) == 0
    out = capsys.readouterr().out
    assert "payment_attribution" in out and "book_money" in out and "book_flows" not in out
    assert cli.main(["--db", str(demo_db), "derive", "--all", "--table", "book_flows"]) == 0
    assert capsys.readouterr().out.startswith("rebuilt book_flows in ")
    assert cli.main(["--db", str(demo_db), "derive", "--table", "nope"]) == 2


def test_an_upload_after_hand_written_rows_rebuilds_instead_of_patching(demo_db, tmp_path):
    # A payment written with plain SQL, then an upload that touches another loan: patching only the
    # upload's loans would stamp payment_attribution fresh without the hand-written payment in it.
    loan_id, contact_at = db.read(
        "select loan_id, contact_at from contacts where outcome = 'rpc' order by contact_id limit 1",
        db=demo_db).iloc[0]
    db.execute("insert into payments (payment_id, loan_id, paid_at, amount) values "
               "('PHAND', $l, $t + interval 1 hour, 10)", {"l": loan_id, "t": contact_at}, db=demo_db)
    other = db.scalar("select min(loan_id) from loans where loan_id <> $l", {"l": loan_id}, db=demo_db)
    csv = tmp_path / "payments.csv"
    csv.write_text(f"payment_id,loan_id,paid_at,amount\nPUP,{other},2026-03-03T10:00:00+08:00,5\n",
                   encoding="utf-8")
    assert ingest.load_file("payments", csv, db=demo_db).accepted == 1
    stored = db.read("select contact_id from payment_attribution where payment_id = 'PHAND'", db=demo_db)
    assert len(stored) == 1 and stored["contact_id"].notna().all()
    for name in _sql_tables():
        pd.testing.assert_frame_equal(_stored(name, demo_db), _from_scratch(name, demo_db), obj=name)


def test_the_registry_knows_code_maintained_tables_without_importing_them_first():
    import subprocess
    import sys

    code = ("from portal import derived; import sys; "
            "sys.exit(0 if 'policy_breach_facts' in derived.used_by('select * from policy_breach_facts') else 1)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_new_portal_time_zone_makes_every_derived_table_stale(demo_db, monkeypatch):
    cur = db.cursor(demo_db)
    try:
        assert derived.stale(cur) == []
        monkeypatch.setenv("PORTAL_TIMEZONE", "America/New_York")  # months and local days move
        assert set(derived.stale(cur)) == set(derived.tables())
    finally:
        cur.close()
