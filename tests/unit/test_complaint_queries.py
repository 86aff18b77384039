"""Complaint named queries against the hand-built fixture in tests/fixtures_complaints.py."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from portal import complaints, db
from portal.schemas import RESULT_SCHEMAS
from tests import fixtures_complaints

AS_OF = "2026-04-20T12:00:00"  # portal timezone (Asia/Shanghai)
SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def fx(tmp_db):
    return fixtures_complaints.build(tmp_db)


def run(name, path, **params):
    frame = db.query(name, db=path, **params)
    RESULT_SCHEMAS[name].validate(frame, lazy=True)
    return frame


def records(frame):
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_complaint_sla(fx):
    frame = run("complaint_sla", fx, start="2026-03-01", end="2026-04-01", as_of=AS_OF)
    assert records(frame) == [
        # K1 (10 d, timely), K2 (20 d, late: due 03-20), K3 (26 d, timely with +15), K4 open past 04-04.
        # timely_rate 2/3; median of 10, 20, 26 days = 20.
        {"issue": "communication_tactics", "complaints": 4, "resolved": 3, "timely": 2,
         "timely_rate": pytest.approx(2 / 3), "median_days_to_resolve": 20.0, "open_overdue": 1},
        # K9 resolved exactly at its due time (<= counts as timely), 15 days. K8 (04-01 00:00) is outside.
        {"issue": "other", "complaints": 1, "resolved": 1, "timely": 1, "timely_rate": 1.0,
         "median_days_to_resolve": 15.0, "open_overdue": 0},
        # K5 open, due 04-30 (not yet overdue); K6 closed CFPB import, timely by its own flag, no days.
        # K7 (02-28 23:59) is outside the period.
        {"issue": "privacy", "complaints": 2, "resolved": 1, "timely": 1, "timely_rate": 1.0,
         "median_days_to_resolve": None, "open_overdue": 0},
    ]


def test_complaint_sla_as_of_moves_overdue(fx):
    later = run("complaint_sla", fx, start="2026-03-01", end="2026-04-01", as_of="2026-05-01T12:00:00")
    assert dict(zip(later["issue"], later["open_overdue"], strict=True)) == {
        "communication_tactics": 1, "other": 0, "privacy": 1}  # K5 is past 04-30 10:00 now
    before = run("complaint_sla", fx, start="2026-03-01", end="2026-04-01", as_of="2026-04-04T10:00:00")
    assert before["open_overdue"].sum() == 0  # K4 due exactly 04-04 10:00: not yet past due


def test_complaint_sla_empty_period(fx):
    assert run("complaint_sla", fx, start="2025-01-01", end="2025-02-01").empty


def test_complaint_on_time(fx):
    frame = run("complaint_on_time", fx, start="2026-02-01", end="2026-05-01", as_of=AS_OF)
    assert records(frame) == [
        # K7: received 02-28 23:59 +08 (February in the portal timezone), open, due 03-15: overdue.
        {"month": pd.Timestamp("2026-02-01"), "complaints": 1, "resolved": 0, "timely": 0, "timely_rate": None,
         "open_overdue": 1},
        # K1..K6 and K9: resolved K1, K2, K3, K6, K9; timely K1, K3, K6, K9 -> 4/5; K4 overdue.
        {"month": pd.Timestamp("2026-03-01"), "complaints": 7, "resolved": 5, "timely": 4, "timely_rate": 0.8,
         "open_overdue": 1},
        # K8: received 04-01 00:00 +08 (still March in UTC), open, due 04-16: overdue on 04-20.
        {"month": pd.Timestamp("2026-04-01"), "complaints": 1, "resolved": 0, "timely": 0, "timely_rate": None,
         "open_overdue": 1},
    ]


def test_complaint_trends(fx):
    by_channel = run("complaint_trends", fx, start="2026-03-01", end="2026-04-01", split="channel")
    # March: phone K1, K2, K4; sms K3; visit K5; no channel K6, K9.
    assert by_channel[["value", "complaints"]].values.tolist() == [
        ["(none)", 2], ["phone", 3], ["sms", 1], ["visit", 1]]
    assert set(by_channel["month"]) == {pd.Timestamp("2026-03-01")}
    by_agency = run("complaint_trends", fx, start="2026-03-01", end="2026-04-01", split="agency")
    assert by_agency[["value", "complaints"]].values.tolist() == [["(none)", 4], ["AG01", 2], ["AG02", 1]]
    by_issue = run("complaint_trends", fx)  # all months
    assert by_issue[["month", "value", "complaints"]].values.tolist() == [
        [pd.Timestamp("2026-02-01"), "privacy", 1],
        [pd.Timestamp("2026-03-01"), "communication_tactics", 4],
        [pd.Timestamp("2026-03-01"), "other", 1],
        [pd.Timestamp("2026-03-01"), "privacy", 2],
        [pd.Timestamp("2026-04-01"), "other", 1],
    ]
    with pytest.raises(db.QueryError):
        db.query("complaint_trends", db=fx, split="agent")


def test_complaint_queue(fx):
    frame = run("complaint_queue", fx, status=["investigating", "triaged"], as_of=AS_OF)
    # K4 due 04-04 10:00: 04-04 minus 04-20 = -16 days, overdue. K5 due 04-30: 10 days left.
    assert records(frame[["complaint_id", "days_left", "is_overdue", "is_timely"]]) == [
        {"complaint_id": "K4", "days_left": -16, "is_overdue": True, "is_timely": None},
        {"complaint_id": "K5", "days_left": 10, "is_overdue": False, "is_timely": None},
    ]
    assert frame["due_at"].iloc[1] == pd.Timestamp("2026-04-30 10:00", tz="Asia/Shanghai")
    ag01 = run("complaint_queue", fx, agency="AG01", as_of=AS_OF)
    assert records(ag01[["complaint_id", "is_overdue", "is_timely"]]) == [
        {"complaint_id": "K1", "is_overdue": False, "is_timely": True},   # resolved 03-11, due 03-16
        {"complaint_id": "K2", "is_overdue": False, "is_timely": False},  # resolved 03-25, due 03-20
    ]
    everything = run("complaint_queue", fx, as_of=AS_OF)
    # Soonest due first: K7 03-15 23:59, K9 03-16 00:00, K1 03-16 10:00, K2 03-20, K6 03-30, K4 04-04,
    # K3 04-09 (extended), K8 04-16, K5 04-30.
    assert everything["complaint_id"].tolist() == ["K7", "K9", "K1", "K2", "K6", "K4", "K3", "K8", "K5"]
    filtered = run("complaint_queue", fx, issue=["privacy"], source=["form"], channel=None, as_of=AS_OF)
    assert filtered["complaint_id"].tolist() == ["K7", "K5"]
    assert run("complaint_queue", fx, agent="nobody").empty


def test_queue_clock_matches_domain_clock(fx):
    frame = run("complaint_queue", fx, as_of=AS_OF)
    now = dt.datetime(2026, 4, 20, 12, 0, tzinfo=SH)
    for row in records(frame):
        received = row["received_at"].to_pydatetime()
        facts = db.read("select extension_days, resolved_at from complaints where complaint_id = $c",
                        {"c": row["complaint_id"]}, db=fx).iloc[0]
        resolved = None if pd.isna(facts["resolved_at"]) else facts["resolved_at"].to_pydatetime()
        if row["status"] in complaints.DONE_STATUSES and resolved is None:
            continue  # K6: an import judged by its own "Timely response?" flag, which the clock cannot see
        clock = complaints.deadline_clock(received, int(facts["extension_days"]), row["status"], now, resolved)
        if row["status"] in complaints.OPEN_STATUSES:
            assert clock.days_left == row["days_left"], row["complaint_id"]
        assert clock.level == complaints.clock_level(row["status"], row["days_left"], row["is_overdue"],
                                                     row["is_timely"]), row["complaint_id"]


def test_complaint_detail(fx):
    frame = run("complaint_detail", fx, complaint_id="K1")
    row = records(frame)[0]
    assert row["customer_id"] == "C1"  # from its loan L1
    assert row["mobile_masked"] == "138****5678"
    assert "mobile" not in frame.columns
    assert row["due_at"] == pd.Timestamp("2026-03-16 10:00", tz="Asia/Shanghai")
    assert (row["narrative"], row["ticket"], row["status"]) == ("Called me 8 times.", "CP-2222-3333", "resolved")
    assert run("complaint_detail", fx, complaint_id="nope").empty


def test_complaint_loans(fx):
    frame = run("complaint_loans", fx, complaint_id="K1")
    # C1's loans: L1 with three month-ends (DPD 0, 35, 65), L2 without snapshots.
    assert records(frame[["loan_id", "as_of", "dpd", "bucket", "overdue_amount"]]) == [
        {"loan_id": "L1", "as_of": pd.Timestamp("2026-01-31"), "dpd": 0, "bucket": "M0", "overdue_amount": 0.0},
        {"loan_id": "L1", "as_of": pd.Timestamp("2026-02-28"), "dpd": 35, "bucket": "M2", "overdue_amount": 450.5},
        {"loan_id": "L1", "as_of": pd.Timestamp("2026-03-31"), "dpd": 65, "bucket": "M3", "overdue_amount": 900.0},
        {"loan_id": "L2", "as_of": None, "dpd": None, "bucket": None, "overdue_amount": None},
    ]
    assert run("complaint_loans", fx, complaint_id="K2")["loan_id"].tolist() == ["L3"]
    assert run("complaint_loans", fx, complaint_id="K4").empty  # no customer, no loan


def test_complaint_contacts(fx):
    frame = run("complaint_contacts", fx, complaint_id="K1")
    # Window 01-30 10:00 .. 03-31 10:00 (+08): X1 is a minute early, X5 a second late, X4 is another customer.
    # Local times are in Asia/Urumqi (+06), two hours behind Shanghai.
    assert records(frame[["contact_id", "local_time", "days_from_complaint"]]) == [
        {"contact_id": "X2", "local_time": "2026-01-30 08:00", "days_from_complaint": -30},
        {"contact_id": "X3", "local_time": "2026-03-01 21:30", "days_from_complaint": 0},
    ]
    assert run("complaint_contacts", fx, complaint_id="K1", days=1)["contact_id"].tolist() == ["X3"]
    assert run("complaint_contacts", fx, complaint_id="K4").empty


def test_complaint_history(fx):
    complaints.ensure_creation_events(fx)  # 9 "imported" events, in order of received_at
    complaints.assign("K4", "lead", "c1", db=fx)
    frame = run("complaint_history", fx, complaint_id="K4")
    assert frame[["event_id", "action", "field", "to_value"]].astype(object).where(frame.notna(), None)\
        .values.tolist() == [[10, "assign", "assignee", "c1"], [7, "imported", None, None]]
    # K4 is 7th by received_at: K7, K9, K1, K2, K3, K6, K4, K5, K8.
    latest = run("complaint_history", fx, max_rows=3)
    assert latest["event_id"].tolist() == [10, 9, 8]
