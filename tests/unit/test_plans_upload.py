"""Uploading repayment plans: the contract's rules reject bad rows verbatim into quarantine with a plain
reason, a re-load changes nothing, Chinese headers and every file format load, and the derived plan
facts are refreshed in the load's transaction (equal to a rebuild)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portal import db, derived, ingest, schemas
from tests import fixtures_plans
from tests.fixtures_uploads import write_csv

HEADER = ["plan_id", "loan_id", "complaint_id", "plan_type", "agreed_on", "amount", "instalments", "first_due_on",
          "status"]
GOOD = [
    ["U1", "C1", "K4", "instalments", "2025-02-12", "600.00", "6", "2025-03-01", "active"],
    ["U2", "C2", "", "deferral", "2025-03-02", "1200.50", "1", "2025-05-02", "active"],
    ["U3", "C8", "", "instalments", "2025-02-20", "300", "3", "2025-02-20", "cancelled"],
]
ZH = {"plan_id": "方案号", "loan_id": "借据号", "complaint_id": "投诉编号", "plan_type": "方案类型", "agreed_on": "达成日期",
      "amount": "方案金额", "instalments": "期数", "first_due_on": "首期还款日", "status": "方案状态"}
FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()

# (changes to a valid row, column blamed, exact English reason)
CASES = [
    ({"loan_id": "L404"}, "loan_id", "loan_id L404 is not a known loan"),
    ({"plan_type": "deferral", "instalments": "3"}, "instalments", "instalments 3 must be 1 for a deferral"),
    ({"first_due_on": "2025-02-01"}, "first_due_on", "first_due_on 2025-02-01 is before agreed_on"),
    ({"status": "paused"}, "status", "status paused is not one of: active, completed, broken, cancelled"),
    ({"plan_type": "holiday"}, "plan_type", "plan_type holiday is not one of: instalments, deferral"),
    ({"amount": "0"}, "amount", "amount 0 must be greater than 0"),
    ({"amount": "10.005"}, "amount", "amount 10.005 has more than 2 decimals"),
    ({"instalments": "61"}, "instalments", "instalments 61 must be between 1 and 60"),
    ({"instalments": "two"}, "instalments", "instalments two is not a whole number"),
    ({"agreed_on": FUTURE, "first_due_on": FUTURE}, "agreed_on", f"agreed_on {FUTURE} is in the future"),
    ({"agreed_on": "2025-02-30"}, "agreed_on", "agreed_on 2025-02-30 is not a date (YYYY-MM-DD)"),
    ({"plan_id": ""}, "plan_id", "plan_id is required"),
]


@pytest.fixture
def book(tmp_db):
    return fixtures_plans.load(tmp_db, with_plans=False)


def _row(**changes: str) -> list[str]:
    row = list(GOOD[0])
    for name, value in changes.items():
        row[HEADER.index(name)] = value
    return row


def _plan_tables_equal_a_rebuild(path) -> None:
    for name in ("repayment_plan_instalments", "repayment_plan_cure", "repayment_plan_control"):
        stored = db.read(f"select * from {name}", db=path)  # noqa: S608 (fixed names)
        rebuilt = db.read(derived.tables()[name].sql, db=path)
        key = list(stored.columns)
        pd.testing.assert_frame_equal(stored.sort_values(key, na_position="first").reset_index(drop=True),
                                      rebuilt.sort_values(key, na_position="first").reset_index(drop=True), obj=name)
    cur = db.cursor(path)
    try:
        assert derived.stale(cur) == []
    finally:
        cur.close()


def test_a_good_file_loads_and_its_schedule_is_tracked_at_once(book, tmp_path):
    result = ingest.load_file("repayment_plans", write_csv(tmp_path / "plans.csv", HEADER, GOOD), db=book)
    assert (result.status, result.accepted, result.rejected) == ("loaded", 3, 0), result.rejects()
    stored = db.read("select plan_id, loan_id, complaint_id, plan_type, agreed_on, amount::double as amount, "
                     "instalments, first_due_on, status from repayment_plans order by plan_id", db=book)
    assert stored.astype(object).where(stored.notna(), None).values.tolist() == [
        ["U1", "C1", "K4", "instalments", pd.Timestamp("2025-02-12"), 600.0, 6, pd.Timestamp("2025-03-01"), "active"],
        ["U2", "C2", None, "deferral", pd.Timestamp("2025-03-02"), 1200.5, 1, pd.Timestamp("2025-05-02"), "active"],
        ["U3", "C8", None, "instalments", pd.Timestamp("2025-02-20"), 300.0, 3, pd.Timestamp("2025-02-20"),
         "cancelled"]]
    counts = db.read("select plan_id, count(*) as n from repayment_plan_instalments group by all order by 1", db=book)
    assert counts.values.tolist() == [["U1", 6], ["U2", 1], ["U3", 3]]
    _plan_tables_equal_a_rebuild(book)


@pytest.mark.parametrize(("changes", "column", "reason"), CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_each_rule_quarantines_a_bad_row_verbatim(book, tmp_path, changes, column, reason):
    bad = _row(plan_id=changes.get("plan_id", "BAD"), **{k: v for k, v in changes.items() if k != "plan_id"})
    result = ingest.load_file("repayment_plans", write_csv(tmp_path / "plans.csv", HEADER, [GOOD[1], bad]), db=book)
    rejects = result.rejects()
    assert (result.accepted, result.rejected, result.status) == (1, 1, "partial"), rejects
    assert (3, column, reason) in set(zip(rejects["row_number"], rejects["column"], rejects["reason"], strict=True))
    stored = db.read("select row_number, column_name, reason, raw_row from quarantine where upload_id = $u",
                     {"u": result.upload_id}, db=book)
    assert reason in set(stored["reason"]) and set(stored["row_number"]) == {3}
    assert json.loads(stored["raw_row"].iloc[0]) == {h: (v or None) for h, v in zip(HEADER, bad, strict=True)}
    assert ingest.reason_text(result.errors["reason_code"].iloc[0], {"column": column, "value": "v"}, "zh")


def test_the_contract_rules_are_stated_in_the_pandera_model():
    frame = pd.DataFrame({
        "plan_id": ["A", "B"], "loan_id": ["L1", "L1"], "complaint_id": [None, None],
        "plan_type": ["deferral", "instalments"], "agreed_on": pd.to_datetime(["2025-02-01", "2025-02-10"]),
        "amount": [100.0, 100.0], "instalments": pd.array([3, 2], dtype="Int64"),
        "first_due_on": pd.to_datetime(["2025-03-01", "2025-02-01"]), "status": ["active", "active"]})
    with pytest.raises(schemas.pa.errors.SchemaErrors) as caught:
        schemas.RepaymentPlansUpload.validate(frame, lazy=True)
    checks = set(caught.value.failure_cases["check"].astype(str))
    assert {"deferral_one_instalment", "first_due_not_before_agreed"} <= checks
    codes = {r.code for r in ingest.compile_rules("repayment_plans")}
    assert {"deferral_instalments", "first_due_before_agreed", "unknown_fk", "duplicate_key"} <= codes


def test_reloading_the_same_file_changes_nothing_and_a_changed_row_replaces_its_version(book, tmp_path):
    path = write_csv(tmp_path / "plans.csv", HEADER, GOOD)
    first = ingest.load_file("repayment_plans", path, db=book)
    before = db.read("select * from repayment_plans order by plan_id", db=book)
    facts = db.read("select * from repayment_plan_instalments order by plan_id, instalment_no", db=book)
    second = ingest.load_file("repayment_plans", path, db=book)
    assert (second.accepted, second.rejected) == (3, 0) and second.upload_id != first.upload_id
    # identical rows are left untouched: same rows, same upload_id, same derived facts
    pd.testing.assert_frame_equal(db.read("select * from repayment_plans order by plan_id", db=book), before)
    pd.testing.assert_frame_equal(
        db.read("select * from repayment_plan_instalments order by plan_id, instalment_no", db=book), facts)
    # a portal-made plan's offer link survives an upload of a new version of the same plan
    db.execute("update repayment_plans set offer_id = 7 where plan_id = 'U1'", db=book)
    changed = [list(GOOD[0]), *GOOD[1:]]
    changed[0][HEADER.index("status")] = "cancelled"
    third = ingest.load_file("repayment_plans", write_csv(tmp_path / "changed.csv", HEADER, changed), db=book)
    assert third.accepted == 3
    row = db.read("select status, offer_id, upload_id from repayment_plans where plan_id = 'U1'", db=book).iloc[0]
    assert (row["status"], row["offer_id"], row["upload_id"]) == ("cancelled", 7, third.upload_id)
    assert set(db.read("select distinct status from repayment_plan_instalments where plan_id = 'U1'",
                       db=book)["status"]) == {"cancelled"}
    _plan_tables_equal_a_rebuild(book)


def test_chinese_headers_in_a_gbk_file_load(book, tmp_path):
    path = write_csv(tmp_path / "plans_zh.csv", [ZH[h] for h in HEADER], GOOD, encoding="gbk")
    result = ingest.load_file("repayment_plans", path, db=book)
    assert (result.status, result.accepted, result.layout) == ("loaded", 3, "csv-gb18030"), result.rejects()


def test_xlsx_and_parquet_load_the_same_rows(book, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in GOOD:
        ws.append([dt.date.fromisoformat(v) if h in ("agreed_on", "first_due_on") else
                   (float(v) if h == "amount" else int(v) if h == "instalments" else v or None)
                   for h, v in zip(HEADER, row, strict=True)])
    wb.save(tmp_path / "plans.xlsx")
    assert ingest.load_file("repayment_plans", tmp_path / "plans.xlsx", db=book).accepted == 3
    xlsx_rows = db.read("select * exclude (upload_id) from repayment_plans order by plan_id", db=book)
    db.execute("delete from repayment_plans", db=book)
    table = pa.table({h: [r[i] or None for r in GOOD] for i, h in enumerate(HEADER)})
    table = table.set_column(HEADER.index("instalments"), "instalments", pa.array([6, 1, 3], pa.int64()))
    pq.write_table(table, tmp_path / "plans.parquet")
    assert ingest.load_file("repayment_plans", tmp_path / "plans.parquet", db=book).accepted == 3
    pd.testing.assert_frame_equal(db.read("select * exclude (upload_id) from repayment_plans order by plan_id",
                                          db=book), xlsx_rows)
    _plan_tables_equal_a_rebuild(book)


def test_portal_load_repayment_plans_exit_codes(book, tmp_path):
    def load(path):
        return subprocess.run([sys.executable, "-m", "portal", "--db", str(book), "load", "repayment_plans", str(path)],
                              capture_output=True, text=True, timeout=300, check=False)

    db.close(book)
    good = load(write_csv(tmp_path / "good.csv", HEADER, GOOD))
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("repayment_plans: 3 rows accepted, 0 rejected")
    partial = load(write_csv(tmp_path / "partial.csv", HEADER, [GOOD[0], _row(plan_id="X", loan_id="L404")]))
    assert partial.returncode == 3 and "1 rows accepted, 1 rejected" in partial.stdout
    empty = tmp_path / "empty.csv"
    empty.write_text("plan_id,loan_id\n", encoding="utf-8")
    nothing = load(empty)
    assert nothing.returncode == 2 and "Traceback" not in nothing.stderr
    assert nothing.stderr.strip().count("\n") == 0  # one line


def test_an_upload_that_touches_plans_moves_the_outcomes(book, tmp_path):
    assert db.query("repayment_plan_outcomes", db=book).empty
    ingest.load_file("repayment_plans", write_csv(tmp_path / "plans.csv", HEADER, GOOD), db=book)
    rows = db.query("repayment_plan_outcomes", db=book).set_index("plan_type")
    assert rows["plans"].to_dict() == {"deferral": 1, "instalments": 2}
    # a payments upload on a plan's loan is tracked against its schedule in the same transaction
    pay = write_csv(tmp_path / "pay.csv", ["payment_id", "loan_id", "paid_at", "amount"],
                    [["PX", "C2", "2025-05-03T10:00:00+08:00", "1200.50"]])
    assert ingest.load_file("payments", pay, db=book).accepted == 1
    kept = db.read("select is_kept from repayment_plan_instalments where plan_id = 'U2'", db=book)
    assert kept["is_kept"].tolist() == [True]
    _plan_tables_equal_a_rebuild(book)
