"""Hostile uploads (issue 14, points 1-7): each class is a row error or a one-line file error, never a crash."""

from __future__ import annotations

import json

import pytest

from portal import db, ingest
from portal.ingest.rules import STORAGE
from tests.fixtures_uploads import LOAN_HEADER, load_book, snapshot, write_csv

PAY_HEADER = ["payment_id", "loan_id", "paid_at", "amount"]
SNAP_HEADER = ["loan_id", "as_of", "dpd", "outstanding_principal", "overdue_amount"]


def _quarantine(db_path, upload_id):
    return db.read("select row_number, column_name, reason_code, reason, raw_row from quarantine "
                   "where upload_id = $u order by row_number, reason_code", {"u": upload_id}, db=db_path)


def test_storage_types_are_the_tables_types(tmp_db):
    """The kinds' stored types in rules.STORAGE are the data tables' real column types."""
    expected = {"int": "INTEGER", "amount": "DECIMAL(18,2)", "rate": "DECIMAL(8,6)"}
    assert {k: v[0].replace(" ", "").upper() for k, v in STORAGE.items()} == expected
    for dataset in ingest.DATASETS:
        types = dict(db.read("select column_name, data_type from information_schema.columns where table_name = $t",
                             {"t": dataset}, db=tmp_db).values.tolist())
        for col in ingest.columns(dataset):
            if col.kind in STORAGE:
                assert types[col.name] == expected[col.kind], (dataset, col.name)


def test_values_that_do_not_fit_are_row_errors(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    rows = [
        ["L9", "C1", "cash_loan", "5000", "250", "12", "2025-01-15", "", ""],  # rate over decimal(8, 6)
        ["L10", "C1", "cash_loan", "3e17", "0.1", "12", "2025-01-15", "", ""],  # principal over decimal(18, 2)
        ["L11", "C1", "cash_loan", "100", "0.1", "99999999999", "2025-01-15", "", ""],  # over INTEGER
        ["L12", "C1", "cash_loan", "100", "0.1", "12", "infinity", "", ""],  # not a date a reader can hold
        ["L13", "C1", "cash_loan", "100.5", "0.1", "12", "2025-01-15", "", ""],  # fine
    ]
    result = ingest.load_file("loans", write_csv(tmp_path / "l.csv", LOAN_HEADER, rows), db=tmp_db)
    assert (result.status, result.accepted, result.rejected) == ("partial", 1, 4)
    q = _quarantine(tmp_db, result.upload_id)
    assert q[["row_number", "column_name", "reason"]].values.tolist() == [
        [2, "annual_rate", "annual_rate 250 must be between 0 and 0.36"],
        [2, "annual_rate", "annual_rate 250 is too large to store (at most 99.999999)"],
        [3, "principal", "principal 3e17 is too large to store (at most 9999999999999999.99)"],
        [4, "term_months", "term_months 99999999999 must be between 1 and 60"],
        [4, "term_months", "term_months 99999999999 is too large to store (at most 2147483647)"],
        [5, "disbursed_on", "disbursed_on infinity is not a date (YYYY-MM-DD)"],
    ]
    assert db.read("select loan_id from loans where loan_id like 'L1_' or loan_id = 'L9'",
                   db=tmp_db)["loan_id"].tolist() == ["L13"]


def test_a_24_digit_amount_and_a_huge_dpd(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    pay = write_csv(tmp_path / "p.csv", PAY_HEADER, [["P1", "L1", "2025-06-01 10:00:00", "1" * 24],
                                                     ["P2", "L1", "-290000-01-01 10:00:00", "5"],
                                                     ["P3", "L1", "2025-06-01 10:00:00", "5"]])
    result = ingest.load_file("payments", pay, db=tmp_db)
    assert (result.accepted, result.rejected) == (1, 2)
    assert _quarantine(tmp_db, result.upload_id)["reason_code"].tolist() == ["too_large", "not_timestamp"]
    snap = write_csv(tmp_path / "s.csv", SNAP_HEADER, [["L1", "2025-05-31", "3000000000", "1", "1"]])
    result = ingest.load_file("snapshots", snap, db=tmp_db)
    assert (result.status, result.rejected) == ("rejected", 1)
    assert _quarantine(tmp_db, result.upload_id)["reason"].tolist() == [
        "dpd 3000000000 is too large to store (at most 2147483647)"]
