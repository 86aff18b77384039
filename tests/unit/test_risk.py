"""Risk segmentation: hand-computed features and channel outcomes on a tiny book, the channel-mix
arithmetic, and the fitted model's held-out AUC, calibration and segments on a demo book."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from portal import db, demo, risk
from portal.schemas import RESULT_SCHEMAS


def _load(path) -> None:
    def fn(cur):
        for loan_id in ("R1", "R2"):
            cur.execute("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months,"
                        " disbursed_on, region, risk_grade) values ($l, 'C1', 'cash_loan', 1000, 0.12, 12,"
                        " '2025-06-01', 'east', 'B')", {"l": loan_id})
        # R1 rolls Jan 0 -> Feb 10 -> Mar 40 -> Apr 70 -> May 100; R2 is M1 in Jan, cured in Feb, then leaves.
        snaps = [("R1", "2026-01-31", 0), ("R1", "2026-02-28", 10), ("R1", "2026-03-31", 40),
                 ("R1", "2026-04-30", 70), ("R1", "2026-05-31", 100), ("R2", "2026-01-31", 5),
                 ("R2", "2026-02-28", 0)]
        for loan_id, as_of, dpd in snaps:
            cur.execute("insert into snapshots values ($l, $a, $d, 900, case when $d > 0 then 100 else 0 end, null)",
                        {"l": loan_id, "a": as_of, "d": dpd})
        contacts = [("K1", "2026-02-10 10:00:00+08", "phone", "rpc", 2.5),
                    ("K2", "2026-02-11 10:00:00+08", "sms", "delivered", 0.05),
                    ("K3", "2026-01-31 23:30:00+08", "sms", "failed", 0.05)]  # local 31 Jan: January
        for cid, at, channel, outcome, cost in contacts:
            cur.execute("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, cost)"
                        " values ($c, 'R1', $at::timestamptz, $ch, 'debtor', $o, $cost)",
                        {"c": cid, "at": at, "ch": channel, "o": outcome, "cost": cost})
        cur.execute("insert into payments values ('P1', 'R1', '2026-02-15 12:00:00+08'::timestamptz, 50, null)")
        cur.execute("insert into complaints (complaint_id, received_at, source, loan_id, issue, channel, status)"
                    " values ('C1', '2026-02-25 09:00:00+08'::timestamptz, 'hotline', 'R1',"
                    " 'communication_tactics', 'phone', 'new')")

    db.write(fn, db=path)


@pytest.fixture
def tiny(tmp_db):
    _load(tmp_db)
    return tmp_db


def test_risk_features_hand_computed(tiny):
    frame = db.query("risk_features", db=tiny)
    RESULT_SCHEMAS["risk_features"].validate(frame)
    got = [(r.loan_id, str(pd.Timestamp(r.as_of).date()), r.dpd, r.months_on_book, r.contacts, r.phone_calls,
            r.rpc_contacts, r.payments, r.paid_amount, None if pd.isna(r.rolled_m3) else int(r.rolled_m3))
           for r in frame.itertuples()]
    # Rows are loan-months at DPD <= 60. Label: DPD >= 61 at any of the next 3 month-ends; null when fewer
    # than 3 month-ends follow (Mar: only Apr, May). R1 Jan: Feb-Apr max 70 -> 1; R1 Feb: Mar-May max
    # 100 -> 1; R2 Jan: Feb 0 -> 0; R2 Feb: leaves the book -> 0. R1 Apr (70) and May (100) are M3+.
    # Months on book from 2025-06-01: Jan 7, Feb 8, Mar 9. R1 Feb: K1 phone rpc, K2 sms, P1 50;
    # R1 Jan: K3 at 23:30 local on 31 Jan.
    assert got == [
        ("R1", "2026-01-31", 0, 7, 1, 0, 0, 0, 0.0, 1),
        ("R2", "2026-01-31", 5, 7, 0, 0, 0, 0, 0.0, 0),
        ("R1", "2026-02-28", 10, 8, 2, 1, 1, 1, 50.0, 1),
        ("R2", "2026-02-28", 0, 8, 0, 0, 0, 0, 0.0, 0),
        ("R1", "2026-03-31", 40, 9, 0, 0, 0, 0, 0.0, None),
    ]
    assert len(db.query("risk_features", db=tiny, start="2026-02-01", end="2026-03-01")) == 2


def test_risk_channel_outcomes_hand_computed(tiny):
    frame = db.query("risk_channel_outcomes", db=tiny, start="2026-01-31", end="2026-02-01")
    RESULT_SCHEMAS["risk_channel_outcomes"].validate(frame)
    # Month after 31 Jan (1-28 Feb): K1 phone 2.50 with complaint C1; K2 sms 0.05. P1 on 15 Feb goes to
    # the last reaching contact before it, K2 (sms delivered, 4 days earlier) -> sms recovered 50.
    got = [(r.channel, r.attempts, float(r.cost), float(r.recovered_amount), r.complaints) for r in frame.itertuples()]
    assert got == [("phone", 1, 2.5, 0.0, 1), ("sms", 1, 0.05, 50.0, 0)]


def test_channel_mix_arithmetic():
    segments = pd.DataFrame({"loan_id": ["A", "B"], "as_of": [dt.date(2026, 1, 31)] * 2, "segment": ["low", "high"]})
    outcomes = pd.DataFrame({
        "loan_id": ["A", "A", "B"], "as_of": [dt.date(2026, 1, 31)] * 3, "channel": ["sms", "phone", "phone"],
        "attempts": [2, 4, 5], "cost": [0.1, 10.0, 12.5], "recovered_amount": [100.0, 0.0, 600.0],
        "complaints": [0, 1, 0]})
    mix = risk.channel_mix(segments, outcomes, complaint_cost=500)
    # low sms: 100 - 0.1 = 99.9 over 2 = 49.95; low phone: 0 - 10 - 500 = -510 over 4 = -127.5;
    # high phone: 600 - 12.5 = 587.5 over 5 = 117.5. Segments low first, best channel first.
    assert [(r.segment, r.channel, round(r.net_per_attempt, 2), r.recommended) for r in mix.itertuples()] == [
        ("low", "sms", 49.95, True), ("low", "phone", -127.5, False), ("high", "phone", 117.5, True)]


def test_fit_needs_two_labelled_months(tiny):
    frame = db.query("risk_features", db=tiny)
    with pytest.raises(risk.RiskError):
        risk.fit(frame[frame["as_of"] == frame["as_of"].min()])


@pytest.fixture(scope="module")
def risk_demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("risk") / "demo.duckdb"
    demo.build(path, loans=30_000, seed=13, end_month=demo.FIXED_END_MONTH)
    yield path
    db.close(path)


def test_model_on_demo_is_accurate_calibrated_and_segments(risk_demo):
    report = risk.analyse(db=risk_demo)
    model = report.model
    # Held-out month: the latest month-end with three later month-ends (Jul 2026 of Nov 2025 - Oct 2026).
    assert pd.Timestamp(model.holdout_as_of).date() == dt.date(2026, 7, 31)
    assert model.auc > 0.8  # DPD and grade separate future M3+ rolls well in the generator
    assert model.fit_seconds < 60
    cal = model.calibration
    assert len(cal) >= 5 and cal["predicted"].between(0, 1).all() and cal["observed"].between(0, 1).all()
    # The riskiest bin is far above the safest, in prediction and in fact.
    assert cal["observed"].iloc[-1] > 5 * max(cal["observed"].iloc[0], 1e-4)
    coef = model.top_features.set_index("feature")["coefficient"]
    assert coef["dpd"] > 0  # further behind today, likelier to roll
    seg = report.segments.set_index("segment")
    assert list(seg.index) == ["low", "medium", "high", "very_high"]
    assert seg["predicted"].is_monotonic_increasing
    # Observed roll rates rise with the segment, within sampling noise: the lower segments see a handful
    # of rolls among thousands of loans, so each step may dip by at most two binomial standard errors.
    observed, loans = seg["observed"].astype(float), seg["loans"].astype(float)
    se = ((observed * (1 - observed) / loans) ** 0.5).clip(lower=1 / loans)
    for lower, upper in zip(seg.index[:-1], seg.index[1:], strict=True):
        assert observed[upper] >= observed[lower] - 2 * (se[upper] ** 2 + se[lower] ** 2) ** 0.5, seg
    assert observed["very_high"] > 10 * observed[["low", "medium", "high"]].max()
    assert not report.channel_mix.empty and set(report.channel_mix["segment"]) <= set(seg.index)
