"""Repayment plans: the schedule, instalment tracking and every number of the plan queries, against
values worked out by hand from tests/fixtures_plans.py (see its docstring)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import db, derived, plans, stats
from portal.schemas import RESULT_SCHEMAS
from tests import fixtures_plans

CONTRACT_COLUMNS = ["plan_type", "plans", "instalments_due", "instalments_kept", "kept_rate", "completed", "broken",
                    "cured_within_90d", "cure_rate_90d", "control_cure_rate_90d", "uplift_pp"]


@pytest.fixture
def book(tmp_db):
    return fixtures_plans.load(tmp_db)


def _instalments(path, plan_id):
    return db.read("select instalment_no, due_on, amount_due::double as amount_due, cumulative_due::double as "
                   "cumulative_due, covered_at, is_kept from repayment_plan_instalments where plan_id = $p "
                   "order by instalment_no", {"p": plan_id}, db=path)


def _fresh(path):
    derived.ensure_fresh(derived.tables(), db=path)


# The schedule ----------------------------------------------------------------------------------------


def test_schedule_splits_whole_cents_and_the_last_instalment_takes_the_remainder():
    items = plans.schedule(Decimal("100.01"), 3, dt.date(2025, 6, 25))
    assert [i.amount for i in items] == [Decimal("33.33"), Decimal("33.34"), Decimal("33.34")]
    assert [i.cumulative for i in items] == [Decimal("33.33"), Decimal("66.67"), Decimal("100.01")]
    assert [i.due_on for i in items] == [dt.date(2025, 6, 25), dt.date(2025, 7, 25), dt.date(2025, 8, 25)]


def test_monthly_due_dates_clamp_to_the_month_end_and_keep_the_day_after():
    items = plans.schedule("300", 4, dt.date(2024, 1, 31))
    assert [i.due_on for i in items] == [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31),
                                         dt.date(2024, 4, 30)]
    assert plans.add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)


def test_a_deferral_is_one_instalment_of_the_whole_amount():
    (only,) = plans.schedule("500.00", 1, dt.date(2025, 4, 10))
    assert (only.number, only.due_on, only.amount, only.cumulative) == (1, dt.date(2025, 4, 10), Decimal("500.00"),
                                                                        Decimal("500.00"))
    assert plans.format_amount(Decimal("1234.5")) == "¥1,234.50"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cents=st.integers(1, 10**9), n=st.integers(1, 60),
       first=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
def test_python_schedule_is_the_sql_schedule(tmp_db, cents, n, first):
    """The ticket page's schedule (Python) and the tracked one (queries/derived SQL) are the same rule."""
    amount = Decimal(cents) / 100
    items = plans.schedule(amount, n, first)
    assert sum(i.amount for i in items) == amount and all(i.amount > 0 or cents < n for i in items)
    body = derived.tables()["repayment_plan_instalments"].sql.split("-- derived: key loan_id\n", 1)[1].strip()
    assert body.startswith("with")
    shadows = ("with repayment_plans as (select 'X' as plan_id, 'L' as loan_id, null::varchar as complaint_id, "
               "'instalments' as plan_type, 'active' as status, $first::date - 1 as agreed_on, "
               "$a::decimal(18, 2) as amount, $n::integer as instalments, $first::date as first_due_on), "
               "payments as (select * from main.payments where false), "
               "loans as (select * from main.loans where false), ")
    sql = shadows + body[len("with"):]  # noqa: S608 (the package's own SQL)
    frame = db.read(sql, {"first": first, "a": str(amount), "n": n}, db=tmp_db)
    assert [pd.Timestamp(d).date() for d in frame["due_on"]] == [i.due_on for i in items]
    assert [Decimal(str(v)) for v in frame["amount_due"]] == [i.amount for i in items]
    assert [Decimal(str(v)) for v in frame["cumulative_due"]] == [i.cumulative for i in items]


# Tracking: kept instalments ---------------------------------------------------------------------------


def test_plan_kept_on_time(book):
    _fresh(book)
    rows = _instalments(book, "P_ON")
    assert rows["is_kept"].tolist() == [True, True, True]
    assert rows["amount_due"].tolist() == [100.0, 100.0, 100.0]
    # the second instalment is covered on its due date, late in the evening
    assert rows["covered_at"].iloc[1] == pd.Timestamp("2025-03-15 23:00:00+08")


def test_plan_kept_two_days_late_and_at_the_end_of_the_grace_is_kept(book):
    _fresh(book)
    rows = _instalments(book, "P_LATE")
    assert rows["is_kept"].tolist() == [True, True]
    assert rows["covered_at"].tolist() == [pd.Timestamp("2025-02-22 12:00:00+08"),
                                           pd.Timestamp("2025-03-23 23:59:00+08")]


def test_plan_broken_after_two_misses_ignores_payments_before_agreement(book):
    _fresh(book)
    rows = _instalments(book, "P_BROKEN")
    # 500 paid on 02-01, before agreed_on 02-05, would cover everything: it does not count
    assert rows["is_kept"].tolist() == [True, False, False]
    assert rows["covered_at"].isna().tolist() == [False, True, True]


def test_deferral_is_kept_when_the_payments_add_up_by_the_grace(book):
    _fresh(book)
    rows = _instalments(book, "P_DEFER")
    assert rows["is_kept"].tolist() == [True] and rows["amount_due"].tolist() == [500.0]
    assert rows["covered_at"].iloc[0] == pd.Timestamp("2025-04-13 10:00:00+08")


def test_overpayment_carries_forward_to_the_next_instalments(book):
    _fresh(book)
    rows = _instalments(book, "P_OVER")
    assert [pd.Timestamp(d).date() for d in rows["due_on"]] == [dt.date(2025, 2, 28), dt.date(2025, 3, 28),
                                                                dt.date(2025, 4, 28)]
    assert rows["is_kept"].tolist() == [True, True, True]
    # 250 on 02-27 covers the first two (200), the 50 left over plus 50 on 04-30 covers the third
    assert rows["covered_at"].tolist() == [pd.Timestamp("2025-02-27 10:00:00+08")] * 2 + [
        pd.Timestamp("2025-04-30 10:00:00+08")]


def test_a_payment_one_day_after_the_grace_misses(tmp_db):
    fixtures_plans.load(tmp_db)
    # P_LATE's second instalment (due 03-20) paid at 03-24 00:00 instead of 03-23 23:59: missed
    db.execute("update payments set paid_at = timestamptz '2025-03-24 00:00:00+08' where payment_id = 'Y05'",
               db=tmp_db)
    _fresh(tmp_db)
    assert _instalments(tmp_db, "P_LATE")["is_kept"].tolist() == [True, False]


# The contract query ------------------------------------------------------------------------------------


def test_outcomes_every_number_by_hand(book):
    frame = db.query("repayment_plan_outcomes", db=book)
    assert list(frame.columns) == CONTRACT_COLUMNS
    RESULT_SCHEMAS["repayment_plan_outcomes"].validate(frame)
    rows = frame.set_index("plan_type")
    inst, defer = rows.loc["instalments"], rows.loc["deferral"]
    # 9 plans less the deferral; due by the clock (07-01): ON 3, LATE 2, BROKEN 3, OVER 3, ACTIVE 1, MARCH 1
    assert (inst["plans"], inst["instalments_due"], inst["instalments_kept"]) == (8, 13, 10)
    assert inst["kept_rate"] == pytest.approx(10 / 13)
    assert (inst["completed"], inst["broken"]) == (5, 1)  # ON, LATE, OVER, LATER, MARCH; BROKEN
    # compared: cell X 5 plans (3 cured) with control 4/6, cell Y 1 plan (cured) with control 0/1
    assert inst["cured_within_90d"] == 4
    assert inst["cure_rate_90d"] == pytest.approx(4 / 6)
    assert inst["control_cure_rate_90d"] == pytest.approx((5 * 4 / 6 + 1 * 0.0) / 6)
    assert inst["uplift_pp"] == pytest.approx(100 * (4 / 6 - 10 / 18))
    assert (defer["plans"], defer["instalments_due"], defer["instalments_kept"], defer["kept_rate"]) == (1, 1, 1, 1.0)
    assert (defer["completed"], defer["broken"], defer["cured_within_90d"]) == (1, 0, 1)
    assert (defer["cure_rate_90d"], defer["control_cure_rate_90d"]) == (pytest.approx(1.0), pytest.approx(4 / 6))
    assert defer["uplift_pp"] == pytest.approx(100 / 3)


def test_outcomes_filters_apply_to_plans_and_to_their_control(book):
    rows = db.query("repayment_plan_outcomes", db=book, region=["east"]).set_index("plan_type")
    inst, defer = rows.loc["instalments"], rows.loc["deferral"]
    # P_OVER (west) leaves; C3 (west) leaves the control: cell X control 4/5; cell Y has no control left
    assert (inst["plans"], inst["instalments_due"], inst["instalments_kept"], inst["completed"]) == (7, 10, 7, 4)
    assert (inst["cured_within_90d"], inst["cure_rate_90d"]) == (2, pytest.approx(0.5))
    assert inst["control_cure_rate_90d"] == pytest.approx(0.8) and inst["uplift_pp"] == pytest.approx(-30.0)
    assert defer["control_cure_rate_90d"] == pytest.approx(0.8) and defer["uplift_pp"] == pytest.approx(20.0)
    product = db.query("repayment_plan_outcomes", db=book, product=["instalment"])
    # only P_ACTIVE: its horizon is past the data, so nothing is compared
    assert product[["plan_type", "plans", "instalments_due", "instalments_kept", "cured_within_90d"]].values.tolist() == [
        ["instalments", 1, 1, 0, 0]]
    assert product[["cure_rate_90d", "control_cure_rate_90d", "uplift_pp"]].isna().all(axis=None)
    period = db.query("repayment_plan_outcomes", db=book, start="2025-03-01", end="2025-07-01")
    assert period.set_index("plan_type")["plans"].to_dict() == {"instalments": 3}  # MARCH, ACTIVE, LATER


def test_cure_cells_and_the_confidence_interval_by_hand(book):
    cells = db.query("repayment_plan_cure_cells", db=book)
    RESULT_SCHEMAS["repayment_plan_cure_cells"].validate(cells)
    assert cells[["plan_type", "bucket", "plans", "cured", "control_loans", "control_cured"]].values.tolist() == [
        ["deferral", "M1", 1, 1, 6, 4], ["instalments", "M1", 5, 3, 6, 4], ["instalments", "M2", 1, 1, 1, 0]]
    inst = plans.compare(cells, "instalments")
    # p = 4/6; control = (5 * 4/6 + 1 * 0) / 6 = 10/18; variance: p(1-p)/N + sum (n_c/N)^2 r(1-r)/m_c
    # = (2/3)(1/3)/6 + (5/6)^2 (2/3)(1/3)/6 + (1/6)^2 * 0 = 0.0627572
    variance = (2 / 3) * (1 / 3) / 6 + (5 / 6) ** 2 * (2 / 3) * (1 / 3) / 6
    assert inst.plans == 6 and inst.cured == 4 and inst.control_loans == 7
    assert inst.difference.estimate == pytest.approx(4 / 6 - 10 / 18)
    assert inst.difference.low == pytest.approx(1 / 9 - stats.Z95 * math.sqrt(variance))
    assert inst.difference.high == pytest.approx(1 / 9 + stats.Z95 * math.sqrt(variance))
    assert (inst.difference.low, inst.difference.high) == (pytest.approx(-0.37988, abs=1e-5),
                                                           pytest.approx(0.60210, abs=1e-5))
    assert inst.verdict == "insufficient"  # 6 plans < MIN_PLANS
    assert inst.control_interval() == (pytest.approx(10 / 18 - stats.Z95 * math.sqrt((5 / 6) ** 2 * (2 / 9) / 6)),
                                       pytest.approx(10 / 18 + stats.Z95 * math.sqrt((5 / 6) ** 2 * (2 / 9) / 6)))
    defer = plans.compare(cells, "deferral")
    assert defer.difference.estimate == pytest.approx(1 / 3)
    assert defer.difference.high - defer.difference.estimate == pytest.approx(stats.Z95 * math.sqrt((2 / 9) / 6))
    early = plans.compare(cells, "instalments", plans.BUCKET_GROUPS["early"])
    assert (early.plans, early.cured, early.control_rate) == (6, 4, pytest.approx(10 / 18))
    assert plans.compare(cells, "instalments", plans.BUCKET_GROUPS["late"]).plans == 0
    # the contract query's uplift is the same standardised estimate
    outcomes = db.query("repayment_plan_outcomes", db=book).set_index("plan_type")
    assert outcomes.loc["instalments", "uplift_pp"] == pytest.approx(100 * inst.difference.estimate)
    assert outcomes.loc["deferral", "uplift_pp"] == pytest.approx(100 * defer.difference.estimate)


def test_cells_without_control_stay_out_of_the_comparison(book):
    cells = db.query("repayment_plan_cure_cells", db=book, region=["east"])
    assert cells[["plan_type", "bucket", "plans", "cured", "control_loans"]].values.tolist() == [
        ["deferral", "M1", 1, 1, 5], ["instalments", "M1", 4, 2, 5], ["instalments", "M2", 1, 1, 0]]
    inst = plans.compare(cells, "instalments")
    assert (inst.plans, inst.cured, inst.control_rate) == (4, 2, pytest.approx(0.8))


def test_verdicts_follow_the_interval():
    def cells(plans_n, cured, control_n, control_cured):
        return pd.DataFrame({"plan_type": ["instalments"], "bucket": ["M1"], "plans": [plans_n], "cured": [cured],
                             "control_loans": [control_n], "control_cured": [control_cured]})

    assert plans.compare(cells(400, 240, 4000, 1600), "instalments").verdict == "higher"  # 60% vs 40%
    assert plans.compare(cells(400, 100, 4000, 1600), "instalments").verdict == "lower"
    assert plans.compare(cells(400, 162, 4000, 1600), "instalments").verdict == "no_difference"
    assert plans.compare(cells(10, 9, 4000, 1600), "instalments").verdict == "insufficient"
    assert plans.compare(cells(0, 0, 0, 0), "instalments").verdict == "insufficient"
    table = plans.comparison_table(cells(400, 240, 4000, 1600))
    assert table[["plan_type", "accounts", "plans", "verdict"]].values.tolist() == [
        ["instalments", "all", 400, "higher"], ["instalments", "early", 400, "higher"]]
    assert table["uplift_pp"].iloc[0] == pytest.approx(20.0)


# The page's other queries -------------------------------------------------------------------------------


def test_funnel_by_hand(book):
    frame = db.query("repayment_plan_funnel", db=book)
    RESULT_SCHEMAS["repayment_plan_funnel"].validate(frame)
    assert frame[["stage", "requests"]].values.tolist() == [
        ["requested", 6], ["offered", 5], ["accepted", 4], ["kept_to_date", 2], ["completed", 2]]
    assert frame["share_of_requested"].tolist() == pytest.approx([1, 5 / 6, 4 / 6, 2 / 6, 2 / 6])
    only = db.query("repayment_plan_funnel", db=book, product=["instalment"])
    assert only["requests"].tolist() == [1, 1, 1, 0, 0]  # K7: P_ACTIVE missed its first instalment
    feb = db.query("repayment_plan_funnel", db=book, start="2025-02-01", end="2025-03-01")
    assert feb["requests"].tolist() == [2, 2, 1, 0, 0]  # K3 (broken plan), K4 (declined)


def test_offer_timing_by_hand(book):
    frame = db.query("repayment_plan_offer_timing", db=book)
    RESULT_SCHEMAS["repayment_plan_offer_timing"].validate(frame)
    rows = frame.set_index("plan_type")
    assert list(rows.index) == ["deferral", "instalments", "unspecified", "all"]
    assert rows.loc["instalments", ["requests", "offered", "offered_by_deadline", "waiting",
                                    "waiting_past_deadline"]].tolist() == [4, 3, 3, 1, 1]
    # days to the first offer: K1 7, K4 2, K7 2.5 (K2 19 is a deferral)
    assert rows.loc["instalments", "median_days_to_offer"] == pytest.approx(2.5)
    assert rows.loc["instalments", "p90_days_to_offer"] == pytest.approx(2.5 + 0.8 * (7 - 2.5))
    assert rows.loc["deferral", ["requests", "offered", "offered_by_deadline"]].tolist() == [1, 1, 0]
    assert rows.loc["deferral", "by_deadline_rate"] == 0.0
    assert rows.loc["unspecified", ["requests", "offered", "waiting"]].tolist() == [1, 0, 0]  # K3 has a plan
    assert pd.isna(rows.loc["unspecified", "median_days_to_offer"])
    assert rows.loc["all", ["requests", "offered", "offered_by_deadline", "waiting"]].tolist() == [6, 4, 3, 1]
    assert rows.loc["all", "median_days_to_offer"] == pytest.approx((2.5 + 7) / 2)
    assert rows.loc["all", "p90_days_to_offer"] == pytest.approx(7 + 0.7 * (19 - 7))
    assert rows.loc["all", "by_deadline_rate"] == pytest.approx(0.75)
    days = db.query("repayment_plan_offer_days", db=book)
    RESULT_SCHEMAS["repayment_plan_offer_days"].validate(days)
    assert days.values.tolist() == [[2, 2, 2], [7, 1, 1], [19, 1, 0]]
    assert db.query("repayment_plan_offer_timing", db=book, start="2030-01-01").empty


def test_kept_by_segment_by_hand(book):
    frame = db.query("repayment_plan_kept", db=book)
    RESULT_SCHEMAS["repayment_plan_kept"].validate(frame)
    cols = ["plan_type", "segment", "plans", "instalments_due", "instalments_kept", "active", "completed", "broken",
            "cancelled"]
    assert frame[cols].values.tolist() == [
        ["deferral", "M1", 1, 1, 1, 0, 1, 0, 0],
        ["instalments", "M0", 1, 0, 0, 0, 1, 0, 0],
        ["instalments", "M1", 6, 12, 9, 1, 3, 1, 1],
        ["instalments", "M2", 1, 1, 1, 0, 1, 0, 0],
    ]
    assert frame["kept_rate"].tolist()[2] == pytest.approx(0.75) and pd.isna(frame["kept_rate"].iloc[1])
    by_product = db.query("repayment_plan_kept", db=book, segment="product")
    assert by_product[["plan_type", "segment", "plans"]].values.tolist() == [
        ["deferral", "cash_loan", 1], ["instalments", "cash_loan", 7], ["instalments", "instalment", 1]]
    by_month = db.query("repayment_plan_kept", db=book, segment="agreed_month")
    assert by_month[["plan_type", "segment", "plans"]].values.tolist() == [
        ["deferral", "2025-02", 1], ["instalments", "2025-02", 5], ["instalments", "2025-03", 1],
        ["instalments", "2025-05", 1], ["instalments", "2025-06", 1]]
    with pytest.raises(db.QueryError):
        db.query("repayment_plan_kept", db=book, segment="colour")


def test_schedule_of_a_complaint_by_hand(book):
    broken = db.query("repayment_plan_schedule", db=book, complaint_id="K3")
    RESULT_SCHEMAS["repayment_plan_schedule"].validate(broken)
    assert broken[["plan_id", "plan_status", "instalment_no", "state"]].values.tolist() == [
        ["P_BROKEN", "broken", 1, "kept"], ["P_BROKEN", "broken", 2, "missed"], ["P_BROKEN", "broken", 3, "missed"]]
    active = db.query("repayment_plan_schedule", db=book, complaint_id="K7")
    assert active["state"].tolist() == ["missed", "upcoming", "upcoming"]
    assert set(active["plan_status"]) == {"active"}  # one miss is not broken
    assert active["amount_due"].tolist() == [33.33, 33.34, 33.34]
    assert db.query("repayment_plan_schedule", db=book, complaint_id="K4").empty  # declined: no plan


def test_in_grace_state_between_the_due_date_and_the_end_of_the_grace(tmp_db):
    fixtures_plans.load(tmp_db)
    # the clock is the latest payment: 06-27 12:00, two days after P_ACTIVE's first due date (06-25)
    db.execute("delete from snapshots where as_of = date '2025-06-30'", db=tmp_db)
    db.execute("insert into payments values ('YCLOCK', 'C8', timestamptz '2025-06-27 12:00:00+08', 1, null)",
               db=tmp_db)
    db.execute("update payments set paid_at = timestamptz '2025-06-20 10:00:00+08' where payment_id = 'Y12'",
               db=tmp_db)
    active = db.query("repayment_plan_schedule", db=tmp_db, complaint_id="K7")
    assert active["state"].tolist() == ["in_grace", "upcoming", "upcoming"]


def test_queries_on_an_empty_book_return_no_rows_or_zero_stages(tmp_db):
    assert db.query("repayment_plan_outcomes", db=tmp_db).empty
    assert db.query("repayment_plan_cure_cells", db=tmp_db).empty
    assert db.query("repayment_plan_kept", db=tmp_db).empty
    assert db.query("repayment_plan_offer_days", db=tmp_db).empty
    assert db.query("repayment_plan_funnel", db=tmp_db)["requests"].tolist() == [0, 0, 0, 0, 0]


def test_a_missed_deferral_is_broken_and_a_resolved_request_is_not_waiting(tmp_db):
    fixtures_plans.load(tmp_db)
    db.execute("delete from payments where payment_id = 'Y09'", db=tmp_db)  # P_DEFER only gets 200 of 500
    db.execute("update complaints set status = 'resolved' where complaint_id = 'K5'", db=tmp_db)
    defer = db.query("repayment_plan_outcomes", db=tmp_db).set_index("plan_type").loc["deferral"]
    assert (defer["instalments_due"], defer["instalments_kept"], defer["completed"], defer["broken"]) == (1, 0, 0, 1)
    assert db.query("repayment_plan_schedule", db=tmp_db, complaint_id="K2")["plan_status"].tolist() == ["broken"]
    timing = db.query("repayment_plan_offer_timing", db=tmp_db).set_index("plan_type")
    assert timing.loc["instalments", ["requests", "waiting", "waiting_past_deadline"]].tolist() == [4, 0, 0]
