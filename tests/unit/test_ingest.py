"""Upload validation: every CONTRACT rule rejects a hand-made bad row with a plain-words reason."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from portal import db, ingest, schemas
from tests.fixtures_uploads import (
    CONTACT_HEADER,
    CONTACTS,
    CUSTOMER_HEADER,
    LOAN_HEADER,
    load_book,
    snapshot,
    write_csv,
)

SNAP_HEADER = ["loan_id", "as_of", "dpd", "outstanding_principal", "overdue_amount"]
SNAP = ["L1", "2025-05-31", "12", "4000.00", "420.00"]
PAY_HEADER = ["payment_id", "loan_id", "paid_at", "amount"]
PAY = ["P1", "L1", "2025-06-05 12:00:00", "420.00"]
COMPLAINT_HEADER = ["complaint_id", "received_at", "source", "customer_id", "loan_id", "issue", "sub_issue",
                    "channel", "narrative", "status", "resolved_at", "extension_days", "extension_reason",
                    "resolution"]
COMPLAINT = ["Q1", "2025-06-06 09:00:00", "hotline", "C1", "L1", "communication_tactics", "", "phone",
             "They called me 9 times", "resolved", "2025-06-10 09:00:00", "0", "", "explanation"]
FUTURE = (dt.date.today() + dt.timedelta(days=400)).isoformat()

BASE = {
    "customers": (CUSTOMER_HEADER, ["C9", "王五", "13912345678", "440308199901010012", "广东", "", ""]),
    "loans": (LOAN_HEADER, ["L9", "C1", "credit_line", "800.00", "0.2", "6", "2025-02-01", "", "A"]),
    "snapshots": (SNAP_HEADER, SNAP),
    "contacts": (CONTACT_HEADER, ["K9", *CONTACTS[1][1:]]),
    "payments": (PAY_HEADER, PAY),
    "complaints": (COMPLAINT_HEADER, COMPLAINT),
}


def _row(dataset: str, **changes: str) -> tuple[list[str], list[str]]:
    header, row = BASE[dataset]
    row = list(row)
    for name, value in changes.items():
        row[header.index(name)] = value
    return header, row


# (dataset, changes to a valid row, column blamed, exact English reason)
CASES = [
    ("customers", {"mobile": "1381234567"}, "mobile", "mobile 1381234567 is not an 11-digit mainland number"),
    ("customers", {"mobile": "12812345678"}, "mobile", "mobile 12812345678 is not an 11-digit mainland number"),
    # 44030819990101001: weighted sum 167, 167 % 11 = 2 -> check char "X", so a final "3" is wrong.
    ("customers", {"id_number": "440308199901010013"}, "id_number", "id_number check digit is wrong"),
    ("customers", {"id_number": "4403081999"}, "id_number",
     "id_number 4403081999 is not 18 characters (17 digits and a check digit)"),
    ("customers", {"timezone": "Mars/Olympus"}, "timezone",
     "timezone Mars/Olympus is not an IANA time zone such as Asia/Shanghai"),
    ("customers", {"opted_out_channels": "sms,fax"}, "opted_out_channels",
     "opted_out_channels sms,fax names a channel that is not one of: sms, app, phone, letter, social, visit, legal"),
    ("customers", {"province": ""}, "province", "province is required"),
    ("customers", {"customer_id": "C" * 65}, "customer_id", "customer_id is 65 characters long, over 64"),
    ("loans", {"product": "mortgage"}, "product",
     "product mortgage is not one of: cash_loan, instalment, credit_line"),
    ("loans", {"principal": "0"}, "principal", "principal 0 must be greater than 0"),
    ("loans", {"principal": "100.005"}, "principal", "principal 100.005 has more than 2 decimals"),
    ("loans", {"principal": "lots"}, "principal", "principal lots is not a number"),
    ("loans", {"annual_rate": "0.37"}, "annual_rate", "annual_rate 0.37 must be between 0 and 0.36"),
    ("loans", {"term_months": "61"}, "term_months", "term_months 61 must be between 1 and 60"),
    ("loans", {"term_months": "12.5"}, "term_months", "term_months 12.5 is not a whole number"),
    ("loans", {"disbursed_on": FUTURE}, "disbursed_on", f"disbursed_on {FUTURE} is in the future"),
    ("loans", {"disbursed_on": "2025/02/30"}, "disbursed_on", "disbursed_on 2025/02/30 is not a date (YYYY-MM-DD)"),
    ("loans", {"risk_grade": "F"}, "risk_grade", "risk_grade F is not one of: A, B, C, D, E"),
    ("loans", {"customer_id": "C404"}, "customer_id", "customer_id C404 is not a known customer"),
    ("snapshots", {"as_of": "2025-05-30"}, "as_of", "as_of 2025-05-30 is not a month-end"),
    ("snapshots", {"dpd": "-1"}, "dpd", "dpd -1 must be at least 0"),
    ("snapshots", {"dpd": "0"}, "overdue_amount", "overdue_amount must be 0 when dpd is 0"),
    ("snapshots", {"outstanding_principal": "-5"}, "outstanding_principal",
     "outstanding_principal -5 must be at least 0"),
    ("snapshots", {"loan_id": "L404"}, "loan_id", "loan_id L404 is not a known loan"),
    ("contacts", {"channel": "fax"}, "channel",
     "channel fax is not one of: sms, app, phone, letter, social, visit, legal"),
    ("contacts", {"party": "neighbour"}, "party", "party neighbour is not one of: debtor, third_party"),
    ("contacts", {"outcome": "maybe"}, "outcome",
     "outcome maybe is not one of: sent, delivered, failed, no_answer, third_party, rpc, ptp, refused, filed"),
    ("contacts", {"outcome": "ptp", "ptp_amount": "100"}, "outcome",
     "ptp_amount and ptp_due_on are required when outcome is ptp"),
    ("contacts", {"cost": "-0.01"}, "cost", "cost -0.01 must be at least 0"),
    ("contacts", {"channel": "visit", "collectors": "0"}, "collectors", "collectors 0 must be at least 1"),
    ("contacts", {"collectors": "2"}, "collectors", "collectors is only for visits"),
    ("contacts", {"duration_s": "30"}, "duration_s", "duration_s is only for phone calls"),
    ("contacts", {"contact_at": f"{FUTURE} 10:00:00"}, "contact_at", f"contact_at {FUTURE} 10:00:00 is in the future"),
    ("contacts", {"contact_at": "yesterday"}, "contact_at", "contact_at yesterday is not an ISO 8601 timestamp"),
    ("contacts", {"loan_id": "L404"}, "loan_id", "loan_id L404 is not a known loan"),
    ("contacts", {"loan_id": ""}, "loan_id", "loan_id is required"),
    ("payments", {"amount": "0"}, "amount", "amount 0 must be greater than 0"),
    ("payments", {"paid_at": f"{FUTURE}T08:00:00+08:00"}, "paid_at",
     f"paid_at {FUTURE}T08:00:00+08:00 is in the future"),
    ("payments", {"loan_id": "L404"}, "loan_id", "loan_id L404 is not a known loan"),
    ("complaints", {"source": "pigeon"}, "source",
     "source pigeon is not one of: form, hotline, regulator, social, email, letter"),
    ("complaints", {"issue": "rudeness"}, "issue",
     "issue rudeness is not one of: debt_not_owed, communication_tactics, third_party_disclosure, threatened_action, "
     "false_representation, written_notification, privacy, fees_or_amount, repayment_plan_request, service_quality, "
     "other"),
    ("complaints", {"extension_days": "10"}, "extension_days", "extension_days 10 is not one of: 0, 15, 45"),
    ("complaints", {"extension_days": "15"}, "extension_reason",
     "extension_reason is required when extension_days is over 0"),
    ("complaints", {"narrative": "x" * 5001}, "narrative", "narrative is 5001 characters long, over 5000"),
    ("complaints", {"status": "lost"}, "status",
     "status lost is not one of: new, triaged, investigating, resolved, closed"),
    ("complaints", {"resolution": "shrug"}, "resolution",
     "resolution shrug is not one of: explanation, monetary_relief, non_monetary_relief, repayment_plan, no_action"),
    ("complaints", {"customer_id": "C404"}, "customer_id", "customer_id C404 is not a known customer"),
    ("complaints", {"received_at": f"{FUTURE} 09:00"}, "received_at", f"received_at {FUTURE} 09:00 is in the future"),
]


@pytest.fixture
def book(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    return tmp_db


def test_valid_rows_of_every_dataset_load(book, tmp_path):
    for dataset, (header, row) in BASE.items():
        result = ingest.load_file(dataset, write_csv(tmp_path / f"{dataset}.csv", header, [row]), db=book)
        assert (result.status, result.accepted, result.rejected) == ("loaded", 1, 0), result.rejects()
    counts = db.table_counts(db=book)
    assert counts == {"customers": 3, "loans": 3, "snapshots": 1, "contacts": 1, "payments": 1, "complaints": 1}


@pytest.mark.parametrize(("dataset", "changes", "column", "reason"), CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_rejects_a_bad_row(book, tmp_path, dataset, changes, column, reason):
    header, bad = _row(dataset, **changes)
    before = db.table_counts(db=book)[dataset]
    good_header, good = BASE[dataset]
    # A valid row first (line 2), then the bad row (line 3): only the bad one is rejected.
    good = list(good)
    good[0] = good[0] + "OK" if dataset != "snapshots" else "L2"
    path = write_csv(tmp_path / f"{dataset}.csv", header, [good, bad])
    result = ingest.load_file(dataset, path, db=book)
    rejects = result.rejects()
    assert (result.accepted, result.rejected, result.status) == (1, 1, "partial"), rejects
    assert (3, column, reason) in set(zip(rejects["row_number"], rejects["column"], rejects["reason"], strict=True))
    assert db.table_counts(db=book)[dataset] == before + 1
    stored = db.read("select row_number, column_name, reason, raw_row from quarantine where upload_id = $u",
                     {"u": result.upload_id}, db=book)
    assert reason in set(stored["reason"])
    assert set(stored["row_number"]) == {3}
    raw = json.loads(stored["raw_row"].iloc[0])
    assert list(raw) == header and raw[header[0]] == (bad[0] or None)


def test_keys_must_be_unique_within_the_file(book, tmp_path):
    header, row = BASE["contacts"]
    other = list(row)
    other[header.index("cost")] = "9"
    result = ingest.load_file("contacts", write_csv(tmp_path / "dup.csv", header, [row, other]), db=book)
    rejects = result.rejects()
    assert result.accepted == 0 and result.rejected == 2
    assert set(rejects["reason"]) == {"contact_id K9 appears more than once in the file"}
    snap_header, snap = BASE["snapshots"]
    result = ingest.load_file("snapshots", write_csv(tmp_path / "dup_snap.csv", snap_header, [snap, snap]), db=book)
    assert set(result.rejects()["reason"]) == {"loan_id, as_of L1, 2025-05-31 appears more than once in the file"}


def test_reasons_are_bilingual(book, tmp_path):
    header, bad = _row("customers", mobile="1381234567")
    result = ingest.load_file("customers", write_csv(tmp_path / "c.csv", header, [bad]), db=book)
    assert result.rejects("zh")["reason"].tolist() == ["mobile 1381234567 不是 11 位的大陆手机号"]
    assert result.rejects("en")["reason"].tolist() == ["mobile 1381234567 is not an 11-digit mainland number"]


def test_naive_timestamps_mean_the_debtors_time_zone(book, tmp_path):
    result = ingest.load_file("contacts", write_csv(tmp_path / "k.csv", CONTACT_HEADER, CONTACTS), db=book)
    assert result.status == "loaded", result.rejects()
    utc = db.read("select contact_id, strftime(timezone('UTC', contact_at), '%Y-%m-%d %H:%M') as at "
                  "from contacts order by 1", db=book)
    # K1: L1's customer C1 has the default Asia/Shanghai (UTC+8): 10:00 local is 02:00 UTC.
    # K2: L2's customer C2 is in America/New_York (EDT, UTC-4 in June): 10:00 local is 14:00 UTC.
    # K3: carries its own +08:00 offset: 09:30 is 01:30 UTC whatever the debtor's zone.
    assert utc["at"].tolist() == ["2025-06-02 02:00", "2025-06-02 14:00", "2025-06-03 01:30"]
    typed = db.read("select ptp_amount, ptp_due_on, cost, collectors, duration_s from contacts "
                    "where contact_id = 'K1'", db=book).iloc[0]
    assert float(typed["ptp_amount"]) == 300 and str(typed["ptp_due_on"])[:10] == "2025-06-10"
    assert float(typed["cost"]) == 1.5 and pd.isna(typed["collectors"]) and typed["duration_s"] == 95


def test_strict_loads_nothing_when_any_row_is_bad(book, tmp_path):
    bad = ["K8", "L404", *CONTACTS[1][2:]]
    path = write_csv(tmp_path / "strict.csv", CONTACT_HEADER, [*CONTACTS, bad])
    before = db.table_counts(db=book)
    result = ingest.load_file("contacts", path, db=book, strict=True)
    assert (result.status, result.accepted, result.rejected, result.rows_total) == ("rejected", 0, 1, 4)
    assert db.table_counts(db=book) == before
    assert db.scalar("select count(*) from quarantine where upload_id = $u", {"u": result.upload_id}, db=book) == 1
    relaxed = ingest.load_file("contacts", path, db=book)
    assert (relaxed.status, relaxed.accepted, relaxed.rejected) == ("partial", 3, 1)


def test_reupload_is_recorded_against_the_original(book, tmp_path):
    bad = ["K8", "L404", *CONTACTS[1][2:]]
    first = ingest.load_file("contacts", write_csv(tmp_path / "a.csv", CONTACT_HEADER, [*CONTACTS, bad]), db=book)
    fixed = ["K8", "L1", *CONTACTS[1][2:]]
    second = ingest.load_file("contacts", write_csv(tmp_path / "fix.csv", CONTACT_HEADER, [fixed]), db=book,
                              replaces_upload_id=first.upload_id, uploaded_by="analyst1")
    assert second.status == "loaded"
    row = db.read("select replaces_upload_id, uploaded_by, file_name from uploads where upload_id = $u",
                  {"u": second.upload_id}, db=book).iloc[0]
    assert (row["replaces_upload_id"], row["uploaded_by"], row["file_name"]) == (first.upload_id, "analyst1", "fix.csv")
    assert db.scalar("select count(*) from contacts", db=book) == 4


def test_loading_the_same_file_twice_changes_nothing(book, tmp_path):
    bad = ["K8", "L404", *CONTACTS[1][2:]]
    path = write_csv(tmp_path / "same.csv", CONTACT_HEADER, [*CONTACTS, bad])
    first = ingest.load_file("contacts", path, db=book)
    before = snapshot(book)
    second = ingest.load_file("contacts", path, db=book)
    after = snapshot(book)
    assert {k: v for k, v in after.items() if k != "quarantine"} == {
        k: v for k, v in before.items() if k != "quarantine"}
    # The quarantine logs each attempt's rejects under its own upload id.
    assert len(after["quarantine"]) == 2 * len(before["quarantine"]) == 2
    history = db.read("select upload_id, file_sha256, rows_accepted, rows_rejected, status from uploads "
                      "where dataset = 'contacts' order by upload_id", db=book)
    assert history["upload_id"].tolist() == [first.upload_id, second.upload_id]
    assert history["file_sha256"].nunique() == 1 and len(history["file_sha256"].iloc[0]) == 64
    assert history["rows_accepted"].tolist() == [3, 3]


def test_changed_rows_are_upserted_by_key(book, tmp_path):
    ingest.load_file("contacts", write_csv(tmp_path / "a.csv", CONTACT_HEADER, CONTACTS), db=book)
    changed = [list(r) for r in CONTACTS]
    changed[1][CONTACT_HEADER.index("cost")] = "0.07"
    second = ingest.load_file("contacts", write_csv(tmp_path / "b.csv", CONTACT_HEADER, changed), db=book)
    rows = db.read("select contact_id, cost, upload_id from contacts order by 1", db=book)
    assert rows["contact_id"].tolist() == ["K1", "K2", "K3"]
    assert [float(c) for c in rows["cost"]] == [1.5, 0.07, 80.0]
    # Only the changed row carries the new upload id; identical rows keep their original one.
    assert rows["upload_id"].tolist().count(second.upload_id) == 1


def test_chinese_headers_case_and_column_order(book, tmp_path):
    header = ["逾期金额", "LOAN_ID", "统计日", "逾期天数", "剩余本金", "note"]
    rows = [["420", "L1", "2025-05-31", "12", "4000"], ["0", "L2", "2025-05-31", "0", "12000.5"]]
    rows = [[*r, "ignored"] for r in rows]
    result = ingest.load_file("snapshots", write_csv(tmp_path / "s.csv", header, rows), db=book)
    assert result.status == "loaded" and "ignored columns: note" in result.message
    got = db.read("select loan_id, dpd, overdue_amount::double as o from snapshots order by 1", db=book)
    assert got.values.tolist() == [["L1", 12, 420.0], ["L2", 0, 0.0]]


def test_source_line_numbers_survive_quoted_newlines_and_ragged_rows(book, tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text(
        "complaint_id,received_at,source,issue,narrative,status\n"
        "Q1,2025-06-01 09:00,form,other,\"line one\nline two\nline three\",new\n"  # lines 2-4
        "Q2,2025-06-01 09:00,pigeon,other,short,new\n"  # line 5
        "Q3,2025-06-01 09:00,form,other,short,new,extra\n",  # line 6: one field too many
        encoding="utf-8")
    result = ingest.load_file("complaints", path, db=book)
    rejects = result.rejects()
    assert list(zip(rejects["row_number"], rejects["reason"], strict=True)) == [
        (5, "source pigeon is not one of: form, hotline, regulator, social, email, letter"),
        (6, "the line has 7 fields but the header has 6"),
    ]
    narrative = db.scalar("select narrative from complaints where complaint_id = 'Q1'", db=book)
    assert narrative == "line one\nline two\nline three"


def test_pandera_models_agree_with_the_compiled_sql(book, tmp_path):
    """The pandera models themselves (lazy=True) flag the same bad cells that the SQL pass rejects."""
    header, bad_mobile = _row("customers", mobile="1381234567")
    _, bad_id = _row("customers", customer_id="C8", id_number="440308199901010013")
    _, bad_tz = _row("customers", customer_id="C7", timezone="Mars/Olympus")
    _, good = _row("customers", customer_id="C6")
    rows = [bad_mobile, bad_id, bad_tz, good]
    result = ingest.load_file("customers", write_csv(tmp_path / "c.csv", header, rows), db=book)
    sql_failures = {(int(r) - 2, c) for r, c in zip(result.errors["row_number"], result.errors["column"], strict=True)}
    frame = pd.DataFrame(rows, columns=header).replace("", None)
    with pytest.raises(schemas.pa.errors.SchemaErrors) as caught:
        schemas.CustomersUpload.validate(frame, lazy=True)
    cases = caught.value.failure_cases
    pandera_failures = {(int(i), c) for i, c in zip(cases["index"], cases["column"], strict=True)}
    assert sql_failures == pandera_failures == {(0, "mobile"), (1, "id_number"), (2, "timezone")}
    snap = pd.DataFrame({"loan_id": ["L1", "L1"], "as_of": pd.to_datetime(["2025-05-30", "2025-05-31"]),
                         "dpd": [3, 0], "outstanding_principal": [1.0, 1.0], "overdue_amount": [1.0, 1.0]})
    with pytest.raises(schemas.pa.errors.SchemaErrors) as caught:
        schemas.SnapshotsUpload.validate(snap, lazy=True)
    checks = set(caught.value.failure_cases["check"].astype(str))
    assert any("month_end" in c for c in checks) and any("overdue_zero_when_current" in c for c in checks)


def test_every_model_check_compiles_to_sql():
    for dataset in ingest.DATASETS:
        rules = ingest.compile_rules(dataset)
        codes = {r.code for r in rules}
        assert {"duplicate_key", "missing"} <= codes
        for rule in rules:
            assert ingest.reason_text(rule.code, {"column": rule.column, "value": "v", **rule.args}, "zh")


# Reason text -> the pandera check of the upload model that states the same rule (None: SQL-only rules
# that need the database or a failed type cast, which pandera reports as a coercion error instead).
PANDERA_CHECKS = [
    ("names a channel that is not one of", "channel_list"), ("is not one of", "isin"),
    ("must be at least", "greater_than_or_equal_to"), ("must be greater than", "greater_than"),
    ("must be between", "in_range"), ("characters long, over", "str_length"),
    ("mainland number", "mainland_mobile"), ("check digit is wrong", "id_check_digit"),
    ("is not 18 characters", "id_length"), ("not a month-end", "month_end"), ("in the future", "not_future"),
    ("more than 2 decimals", "max_2_decimals"), ("IANA time zone", "iana_timezone"),
    ("must be 0 when dpd", "overdue_zero_when_current"), ("required when outcome is ptp", "ptp_fields_when_ptp"),
    ("only for visits", "collectors_only_on_visits"), ("only for phone calls", "duration_only_on_calls"),
    ("required when extension_days", "extension_reason_when_extended"), ("is required", "not_nullable"),
    ("is not a known", None), ("not a whole number", None), ("is not a number", None), ("is not a date", None),
    ("not an ISO 8601", None),
]


def _pandera_frame(dataset: str, header: list[str], row: list[str]) -> pd.DataFrame:
    """One uploaded row as the typed frame the pandera model expects (what the SQL pass computes)."""
    values = dict(zip(header, row, strict=True))
    out = {}
    for col in ingest.columns(dataset):
        text = values.get(col.name) or None
        if col.kind == "int":
            out[col.name] = pd.array([None if text is None else int(text)], dtype="Int64")
        elif col.kind in ("amount", "rate"):
            out[col.name] = [None if text is None else float(text)]
        elif col.kind == "date":
            out[col.name] = pd.to_datetime([text])
        elif col.kind == "timestamp":
            out[col.name] = pd.to_datetime([text], utc=True, format="ISO8601")
        else:
            out[col.name] = pd.array([text], dtype="string")
    return pd.DataFrame(out)


@pytest.mark.parametrize(("dataset", "changes", "column", "reason"), CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_is_stated_in_the_pandera_model(dataset, changes, column, reason):
    """pandera's own lazy validation of the model fails the same hand-made bad row, on the same rule."""
    check = next(name for text, name in PANDERA_CHECKS if text in reason)
    if check is None:
        pytest.skip("a database or type-cast rule: checked by the SQL pass only")
    model = schemas.UPLOAD_SCHEMAS[dataset]
    good_header, good = BASE[dataset]
    model.validate(_pandera_frame(dataset, good_header, good), lazy=True)  # the valid row passes
    header, bad = _row(dataset, **changes)
    with pytest.raises(schemas.pa.errors.SchemaErrors) as caught:
        model.validate(_pandera_frame(dataset, header, bad), lazy=True)
    checks = caught.value.failure_cases["check"].astype(str).tolist()
    assert any(c.startswith(check) for c in checks), checks
