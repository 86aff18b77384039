"""Dashboard named queries checked against numbers worked out by hand from tests/fixtures_dashboards.py."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from portal import db, derived, ingest
from portal.schemas import RESULT_SCHEMAS
from tests.fixtures_dashboards import build

JAN, FEB, MAR = "2024-01-31", "2024-02-29", "2024-03-31"
FEB_PERIOD = {"start": "2024-02-01", "end": "2024-03-01"}


@pytest.fixture
def book(tmp_db):
    """The hand-built book in a fresh database file."""
    return build(tmp_db)


def run(book, name, **params) -> pd.DataFrame:
    """Run a named query and validate its result against its registered schema."""
    frame = db.query(name, db=book, **params)
    RESULT_SCHEMAS[name].validate(frame, lazy=True)
    return frame


def rows(frame: pd.DataFrame, key: str) -> dict:
    """Index a result by its first column, as plain dicts with NaN turned into None."""
    out = {}
    for rec in frame.to_dict("records"):
        out[rec[key]] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
    return out


def test_delinquency_funnel_january(book):
    frame = run(book, "delinquency_funnel", as_of=JAN)
    # cohort at 31 Jan (dpd >= 1): L2, L3, L4, L6 = 4; window 1 Feb 00:00 .. 1 Mar 00:00 (+08)
    # attempted: L2 (C1,C2,C3), L3 (C4,C5), L4 (C6 failed), L6 (C7 filed) = 4; C10 (1 Mar 00:30) is outside
    # reached: L2 (delivered), L3 (ptp) = 2; L4 failed and L6 filed are not reach outcomes
    # rpc: L2 (C2 ptp), L3 (C4 ptp) = 2; ptp: the same 2
    # paid: P1 (L2), P2 (L3), P3 (L6) = 3; P4 (L4, 2 Mar) is outside
    # cured: DPD 0 at 29 Feb: L2 only (L6 closed is not DPD 0) = 1
    assert frame["stage"].tolist() == ["delinquent", "attempted", "reached", "rpc", "ptp", "paid", "cured"]
    assert frame["loans"].tolist() == [4, 4, 2, 2, 2, 3, 1]
    assert frame["share_of_delinquent"].tolist() == pytest.approx([1, 1, 0.5, 0.5, 0.5, 0.75, 0.25])


def test_delinquency_funnel_february_and_filter(book):
    frame = run(book, "delinquency_funnel", as_of=FEB)
    # cohort at 29 Feb: L3, L4, L5 = 3; March window: C10 (L4, rpc, 1 Mar 00:30 local), C9 (L5, rpc)
    # paid: P4 (L4) = 1; cured at 31 Mar: L4 = 1; no ptp in March
    assert frame["loans"].tolist() == [3, 2, 2, 2, 0, 1, 1]
    assert frame["share_of_delinquent"].tolist() == pytest.approx([1, 2 / 3, 2 / 3, 2 / 3, 0, 1 / 3, 1 / 3])
    cash = run(book, "delinquency_funnel", as_of=JAN, product=["cash_loan"])
    # cash loans delinquent at 31 Jan: L2, L6. attempted both; reached/rpc/ptp: L2; paid: L2 (P1), L6 (P3); cured L2
    assert cash["loans"].tolist() == [2, 2, 1, 1, 1, 2, 1]


def test_funnels_always_have_every_stage(book):
    # no snapshot on 2023-12-31: an empty cohort still lists every stage and step with 0
    frame = run(book, "delinquency_funnel", as_of="2023-12-31")
    assert frame["loans"].tolist() == [0] * 7
    assert frame["share_of_delinquent"].tolist() == [0.0] * 7
    steps = run(book, "escalation_funnel", as_of="2023-12-31")
    assert steps["step"].tolist() == ["reminder", "phone", "visit", "legal"]
    assert steps["loans"].tolist() == [0, 0, 0, 0]


def test_escalation_funnel(book):
    frame = run(book, "escalation_funnel", as_of=JAN)
    # reminder (sms|app): L2 (C1 sms, C3 app), L4 (C6 sms) = 2; phone: L2 (C2), L3 (C4) = 2
    # visit: L3 (C5) = 1; legal: L6 (C7) = 1
    assert frame["step"].tolist() == ["reminder", "phone", "visit", "legal"]
    assert frame["loans"].tolist() == [2, 2, 1, 1]
    feb = run(book, "escalation_funnel", as_of=FEB)
    # March window: phone C10 (L4) and C9 (L5) only
    assert feb["loans"].tolist() == [0, 2, 0, 0]


def test_channel_effectiveness_february(book):
    frame = run(book, "channel_effectiveness", **FEB_PERIOD)
    assert list(frame.columns) == [
        "channel", "attempts", "reach_rate", "rpc_rate", "ptp_rate", "ptp_kept_rate", "recovered_amount",
        "cost", "cost_per_yuan_recovered", "complaints", "complaints_per_10k_attempts",
    ]
    got = rows(frame, "channel")
    assert list(got) == ["sms", "app", "phone", "visit", "legal"]
    # sms: C1 delivered, C6 failed -> 2 attempts, reach 1/2; cost 0.10 + 0.10; no payment lands on sms;
    # complaint K2 names sms -> 1 per 2 attempts = 5000 per 10k
    assert got["sms"] == {
        "channel": "sms", "attempts": 2, "reach_rate": 0.5, "rpc_rate": 0.0, "ptp_rate": 0.0,
        "ptp_kept_rate": None, "recovered_amount": 0.0, "cost": 0.2, "cost_per_yuan_recovered": None,
        "complaints": 1, "complaints_per_10k_attempts": 5000.0,
    }
    # app: C3 delivered on L2, 8 Feb 09:00, is L2's last reaching contact before P1 (12 Feb, 100): 100 recovered;
    # cost 0.05 -> 0.05 / 100 = 0.0005 per yuan
    assert got["app"]["attempts"] == 1
    assert got["app"]["recovered_amount"] == 100.0
    assert got["app"]["cost_per_yuan_recovered"] == pytest.approx(0.0005)
    # phone: C2 (ptp 100 due 10 Feb, kept by P1 100 on 12 Feb <= due + 3 days) and C4 (ptp 200 due 15 Feb,
    # broken: only P2 50) -> kept 1/2; P2 (14 Feb 10:00) goes to C4 (9 Feb 14:00, within 7 days) -> 50;
    # cost 2 + 3 = 5 -> 5 / 50 = 0.1; K1 names phone -> 1 per 2 attempts (K4 names phone but is January)
    assert got["phone"] == {
        "channel": "phone", "attempts": 2, "reach_rate": 1.0, "rpc_rate": 1.0, "ptp_rate": 1.0,
        "ptp_kept_rate": 0.5, "recovered_amount": 50.0, "cost": 5.0, "cost_per_yuan_recovered": 0.1,
        "complaints": 1, "complaints_per_10k_attempts": 5000.0,
    }
    # visit: C5 reached a third party, cost 50, nothing recovered
    assert (got["visit"]["reach_rate"], got["visit"]["rpc_rate"], got["visit"]["cost"]) == (1.0, 0.0, 50.0)
    # legal: C7 filed (not a reaching outcome) so P3 (400 on L6, the day after) is attributed to nobody
    assert got["legal"]["reach_rate"] == 0.0
    assert got["legal"]["recovered_amount"] == 0.0
    assert got["legal"]["cost"] == 500.0
    # attributed total: 100 + 50 of the 550 paid in February (P3's 400 is unattributed)
    assert frame["recovered_amount"].sum() == pytest.approx(150.0)


def test_channel_effectiveness_filters(book):
    frame = run(book, "channel_effectiveness", product=["instalment"], **FEB_PERIOD)
    got = rows(frame, "channel")
    # instalment loans L3, L4: C6 sms (failed), C4 phone (ptp broken), C5 visit; K1 (L3) names phone,
    # K2 (L5, credit line) is out of scope
    assert list(got) == ["sms", "phone", "visit"]
    assert (got["sms"]["attempts"], got["sms"]["reach_rate"], got["sms"]["complaints"]) == (1, 0.0, 0)
    assert got["phone"]["ptp_kept_rate"] == 0.0
    assert got["phone"]["recovered_amount"] == 50.0
    assert got["phone"]["cost_per_yuan_recovered"] == pytest.approx(3 / 50)
    assert got["phone"]["complaints_per_10k_attempts"] == 10000.0
    # all time: P5 (L1, 25 Jan, 50) goes to C8 sms (20 Jan); P4 (L4, 2 Mar, 120) goes to C10 phone (1 Mar)
    every = rows(run(book, "channel_effectiveness"), "channel")
    assert every["sms"]["recovered_amount"] == 50.0
    assert every["phone"]["recovered_amount"] == 170.0
    assert every["phone"]["attempts"] == 4
    # K1 (Feb) and K4 (Jan, no loan) name phone: 2 complaints per 4 attempts
    assert every["phone"]["complaints_per_10k_attempts"] == 5000.0


def test_agent_and_agency_scorecards(book):
    agents = rows(run(book, "collector_scorecard", by="agent", **FEB_PERIOD), "collector_id")
    # A1: C2 (ptp kept); P1 goes to C3 (app, no agent) so A1 recovers nothing; cost 2
    assert agents["A1"] == {
        "collector_id": "A1", "attempts": 1, "reach_rate": 1.0, "rpc_rate": 1.0, "ptp_rate": 1.0,
        "ptp_kept_rate": 1.0, "recovered_amount": 0.0, "cost": 2.0, "cost_per_yuan_recovered": None,
        "complaints": 0, "complaints_per_10k_attempts": 0.0,
    }
    # A2: C4 (ptp, broken) and C5 (third party) -> rpc 1/2; P2 50 via C4; cost 3 + 50 = 53 -> 1.06 per yuan;
    # K1 names A2 -> 1 per 2 attempts
    assert agents["A2"] == {
        "collector_id": "A2", "attempts": 2, "reach_rate": 1.0, "rpc_rate": 0.5, "ptp_rate": 0.5,
        "ptp_kept_rate": 0.0, "recovered_amount": 50.0, "cost": 53.0, "cost_per_yuan_recovered": 1.06,
        "complaints": 1, "complaints_per_10k_attempts": 5000.0,
    }
    assert list(agents) == ["A1", "A2"]
    agencies = rows(run(book, "collector_scorecard", by="agency", **FEB_PERIOD), "collector_id")
    assert list(agencies) == ["AG1", "AG2", "in_house"]
    # in-house: C1, C2, C3, C6 -> reached 3/4, rpc 1/4; P1 100 via C3; cost 0.10 + 2 + 0.05 + 0.10 = 2.25
    assert agencies["in_house"]["attempts"] == 4
    assert agencies["in_house"]["reach_rate"] == 0.75
    assert agencies["in_house"]["recovered_amount"] == 100.0
    assert agencies["in_house"]["cost"] == 2.25
    assert agencies["in_house"]["cost_per_yuan_recovered"] == pytest.approx(0.0225)
    assert (agencies["AG1"]["complaints"], agencies["AG1"]["cost"]) == (1, 53.0)
    assert (agencies["AG2"]["attempts"], agencies["AG2"]["cost"], agencies["AG2"]["reach_rate"]) == (1, 500.0, 0.0)
    with pytest.raises(db.QueryError):
        db.query("collector_scorecard", db=book, by="channel")


def test_uploads_keep_the_derived_facts_right(book, tmp_path):
    """Uploads through the load path refresh the derived facts the Channels and Funnels pages read."""
    read = sorted({t for name in ("channel_effectiveness", "collector_scorecard", "strategy_comparison",
                                  "delinquency_funnel", "escalation_funnel")
                   for t in derived.used_by(db.get_query(name).sql)})
    assert read == ["book_flows", "contact_day_channel", "contact_day_collector", "delinquent_month_activity",
                    "payment_attribution", "ptp_outcomes"]
    # the fixture was written without the load path: the first queries build the facts whole
    assert derived.ensure_fresh(read, db=book) == read

    def loaded_fresh():
        cur = db.cursor(book)
        try:
            return derived.stale(cur, read) == []
        finally:
            cur.close()

    before = rows(run(book, "channel_effectiveness", **FEB_PERIOD), "channel")
    assert (before["phone"]["ptp_kept_rate"], before["phone"]["recovered_amount"]) == (0.5, 50.0)

    payments = tmp_path / "payments.csv"
    payments.write_text("payment_id,loan_id,paid_at,amount\nP6,L3,2024-02-16T10:00:00+08:00,150\n", encoding="utf-8")
    assert ingest.load_file("payments", payments, db=book).accepted == 1
    assert loaded_fresh(), "the upload refreshed the facts in its own transaction"
    got = rows(run(book, "channel_effectiveness", **FEB_PERIOD), "channel")
    # P6 (L3, 16 Feb 10:00, 150) comes 6 days 20 hours after C4 (phone, 9 Feb 14:00): phone recovers 50 + 150;
    # C4's ptp of 200 due 15 Feb now has P2 50 + P6 150 = 200 by 18 Feb: kept, so phone keeps 2 of 2
    assert got["phone"]["recovered_amount"] == 200.0
    assert got["phone"]["ptp_kept_rate"] == 1.0
    assert got["phone"]["cost_per_yuan_recovered"] == 0.025  # 5 / 200
    assert got["app"]["recovered_amount"] == 100.0  # P1 still goes to C3
    # challenger (L3, Jan) now recovered 50 + 150 = 200 in February; (L5, Feb) 0 -> 100 per account
    strategies = rows(run(book, "strategy_comparison"), "strategy")
    assert (strategies["challenger"]["recovered_amount"], strategies["challenger"]["recovered_per_account"]) == (
        200.0, 100.0)

    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "contact_id,loan_id,contact_at,channel,party,outcome,agent_id,agency_id,strategy,ptp_amount,ptp_due_on,cost,"
        "collectors,duration_s\nC11,L6,2024-02-26T09:00:00+08:00,phone,debtor,rpc,A1,,challenger,,,2.00,,45\n",
        encoding="utf-8")
    assert ingest.load_file("contacts", contacts, db=book).accepted == 1
    assert loaded_fresh()
    got = rows(run(book, "channel_effectiveness", **FEB_PERIOD), "channel")
    # C11 (phone rpc on L6, 26 Feb 09:00) is the last reaching contact 3 hours before P3 (400), which was
    # unattributed (only the filed C7 before it): phone now has 3 attempts, all reached and rpc, 2 ptps
    # (both kept), recovers 200 + 400 = 600 for 2 + 3 + 2 = 7 -> 0.0117 per yuan; K1 per 3 attempts
    assert got["phone"] == {
        "channel": "phone", "attempts": 3, "reach_rate": 1.0, "rpc_rate": 1.0, "ptp_rate": pytest.approx(2 / 3),
        "ptp_kept_rate": 1.0, "recovered_amount": 600.0, "cost": 7.0, "cost_per_yuan_recovered": 0.0117,
        "complaints": 1, "complaints_per_10k_attempts": pytest.approx(10000 / 3),
    }
    assert got["legal"]["recovered_amount"] == 0.0
    assert sum(r["recovered_amount"] for r in got.values()) == 700.0  # 100 (app) + 600 (phone) of 700 paid
    # A1 now has C2 and C11: 2 attempts, cost 4, and P3's 400
    agents = rows(run(book, "collector_scorecard", by="agent", **FEB_PERIOD), "collector_id")
    assert (agents["A1"]["attempts"], agents["A1"]["cost"], agents["A1"]["recovered_amount"]) == (2, 4.0, 400.0)
    # January cohort: L6 is now reached and rpc in February (C11): reached 3, rpc 3
    assert run(book, "delinquency_funnel", as_of=JAN)["loans"].tolist() == [4, 4, 3, 3, 2, 3, 1]
    # (L6, Jan) becomes a challenger unit: not cured (closed), paid P3 400 -> challenger 3 accounts, 600
    strategies = rows(run(book, "strategy_comparison"), "strategy")
    assert (strategies["challenger"]["accounts"], strategies["challenger"]["recovered_amount"]) == (3, 600.0)


def test_segment_filters_follow_a_loans_upload(book, tmp_path):
    """The loan-level facts carry each loan's segment; an upload that moves a loan moves its facts."""
    west = {"region": ["west"]}
    # west loans L3, L4, L6. Agents in February: only A2 (C4, C5 on L3); A1's C2 is on L2 (east).
    # A2: 2 attempts, reach 1, rpc 1/2, ptp 1/2, C4's ptp broken, P2 50 via C4, cost 3 + 50, K1 names A2
    agents = rows(run(book, "collector_scorecard", by="agent", **FEB_PERIOD, **west), "collector_id")
    assert agents == {"A2": {
        "collector_id": "A2", "attempts": 2, "reach_rate": 1.0, "rpc_rate": 0.5, "ptp_rate": 0.5,
        "ptp_kept_rate": 0.0, "recovered_amount": 50.0, "cost": 53.0, "cost_per_yuan_recovered": 1.06,
        "complaints": 1, "complaints_per_10k_attempts": 5000.0,
    }}
    # the January cohort in the west: L3 (phone C4, visit C5), L4 (sms C6), L6 (legal C7)
    assert run(book, "escalation_funnel", as_of=JAN, **west)["loans"].tolist() == [1, 1, 1, 1]
    # west units: champion (L4, Jan) 0 not cured, (L4, Feb) cured 120; challenger (L3, Jan) 50
    strategies = rows(run(book, "strategy_comparison", **west), "strategy")
    assert (strategies["champion"]["accounts"], strategies["champion"]["cured"],
            strategies["champion"]["recovered_amount"]) == (2, 1, 120.0)
    assert (strategies["challenger"]["accounts"], strategies["challenger"]["recovered_amount"]) == (1, 50.0)
    # grades A and C (L1, L3, L5): no champion unit; challenger (L3, Jan) 50 and (L5, Feb) 0
    graded = rows(run(book, "strategy_comparison", risk_grade=["A", "C"]), "strategy")
    assert list(graded) == ["challenger"]
    assert (graded["challenger"]["accounts"], graded["challenger"]["cured"],
            graded["challenger"]["recovered_amount"]) == (2, 0, 50.0)
    # the instalment loans' February ptp (C4, broken) and payment (P2 via C4): phone keeps 0 of 1
    phone = rows(run(book, "channel_effectiveness", product=["instalment"], **FEB_PERIOD), "channel")["phone"]
    assert (phone["ptp_kept_rate"], phone["recovered_amount"]) == (0.0, 50.0)

    loans = tmp_path / "loans.csv"
    loans.write_text("loan_id,customer_id,product,principal,annual_rate,term_months,disbursed_on,region,risk_grade\n"
                     "L2,U2,cash_loan,800,0.20,12,2023-11-20,west,B\n", encoding="utf-8")
    assert ingest.load_file("loans", loans, db=book).accepted == 1
    # L2 moves to the west: A1's C2 (ptp kept by P1; P1 itself goes to C3, app, no agent) joins
    agents = rows(run(book, "collector_scorecard", by="agent", **FEB_PERIOD, **west), "collector_id")
    assert list(agents) == ["A1", "A2"]
    assert (agents["A1"]["attempts"], agents["A1"]["ptp_kept_rate"], agents["A1"]["recovered_amount"],
            agents["A1"]["cost"]) == (1, 1.0, 0.0, 2.0)
    # L2 adds reminder (C1 sms, C3 app) and phone (C2) to the January cohort
    assert run(book, "escalation_funnel", as_of=JAN, **west)["loans"].tolist() == [2, 2, 1, 1]
    # (L2, Jan) is a champion unit, cured, paid 100
    strategies = rows(run(book, "strategy_comparison", **west), "strategy")
    assert (strategies["champion"]["accounts"], strategies["champion"]["cured"],
            strategies["champion"]["recovered_amount"]) == (3, 2, 220.0)
    # and leaves the east: A1 no longer has February contacts there
    east = rows(run(book, "collector_scorecard", by="agent", **FEB_PERIOD, region=["east"]), "collector_id")
    assert east == {}


def test_vintage_curves(book):
    frame = run(book, "vintage_curves")
    got = {(str(r.cohort.date()), r.months_on_book): (r.loans, r.ever_m1, r.ever_m3) for r in frame.itertuples()}
    # cohort Nov 2023 (L1, L2): L2 at M1 on 31 Jan (mob 2); never M3
    assert got[("2023-11-01", 2)] == (2, 1, 0)
    assert got[("2023-11-01", 4)] == (2, 1, 0)
    # cohort Dec 2023 (L3, L4): both M1+ on 31 Jan (mob 1); L3 reaches M3 (dpd 75) on 29 Feb (mob 2)
    assert got[("2023-12-01", 1)] == (2, 2, 0)
    assert got[("2023-12-01", 2)] == (2, 2, 1)
    assert got[("2023-12-01", 3)] == (2, 2, 1)
    # cohort Jan 2024 (L5, L6): L6 M1 on 31 Jan (mob 0), L5 on 29 Feb (mob 1); L6 stays counted after closing
    assert got[("2024-01-01", 0)] == (2, 1, 0)
    assert got[("2024-01-01", 2)] == (2, 2, 0)
    assert len(frame) == 9
    dec = frame[frame["cohort"] == pd.Timestamp("2023-12-01")]
    assert dec["ever_m3_share"].tolist() == [0.0, 0.5, 0.5]


def test_strategy_comparison(book):
    got = rows(run(book, "strategy_comparison"), "strategy")
    # units (loan delinquent at M with a strategy contact in (M, next M]):
    # champion: (L2, Jan) cured, paid 100; (L4, Jan) not cured, 0; (L4, Feb) cured, paid 120
    # challenger: (L3, Jan) not cured, paid 50; (L5, Feb) not cured, 0; L6 has no strategy contact
    assert got["champion"]["accounts"] == 3
    assert got["champion"]["cured"] == 2
    assert got["champion"]["cure_rate"] == pytest.approx(2 / 3)
    assert got["champion"]["recovered_amount"] == 220.0
    assert got["champion"]["recovered_per_account"] == 73.33
    # sd of (100, 0, 120): mean 73.33, squared deviations 711.1 + 5377.8 + 2177.8 = 8266.7, / 2 -> sqrt = 64.29
    assert got["champion"]["recovered_sd"] == pytest.approx(64.291, abs=1e-3)
    assert (got["challenger"]["accounts"], got["challenger"]["cured"]) == (2, 0)
    assert got["challenger"]["recovered_per_account"] == 25.0
    assert got["challenger"]["recovered_sd"] == pytest.approx(50 / math.sqrt(2))
    jan_only = rows(run(book, "strategy_comparison", start=JAN, end=FEB), "strategy")
    assert (jan_only["champion"]["accounts"], jan_only["challenger"]["accounts"]) == (2, 1)


def test_overview_kpis(book):
    frame = run(book, "overview_kpis", as_of=FEB)
    assert frame["as_of"].dt.date.astype(str).tolist() == [FEB, JAN]
    feb, jan = (rows(frame.assign(as_of=frame["as_of"].dt.date.astype(str)), "as_of")[m] for m in (FEB, JAN))
    # 29 Feb: outstanding 950+700+600+500+880 = 3630; overdue of dpd>=1: 300+120+30 = 450; 3 of 5 delinquent
    assert (feb["loans"], feb["outstanding"], feb["overdue_balance"], feb["delinquent_loans"]) == (5, 3630, 450, 3)
    assert feb["delinquency_rate_amount"] == pytest.approx(450 / 3630)
    assert feb["delinquency_rate_count"] == pytest.approx(0.6)
    # M1 at 31 Jan: L2 (-> M0), L4 (-> M2), L6 (-> closed): roll 1/3
    assert (feb["m1_prev_loans"], feb["roll_m1_m2"]) == (3, pytest.approx(1 / 3))
    # delinquent at 31 Jan: L2, L3, L4, L6; only L2 at DPD 0 on 29 Feb: cure 1/4
    assert (feb["delinquent_prev_loans"], feb["cure_rate"]) == (4, 0.25)
    # February payments P1 100 + P2 50 + P3 400 = 550 (all payments, attributed or not);
    # February contact cost C1..C7: 0.10 + 2 + 0.05 + 3 + 50 + 0.10 + 500 = 555.25 -> 555.25 / 550 = 1.0095
    assert (feb["recovered_amount"], feb["collection_cost"]) == (550.0, 555.25)
    assert feb["cost_per_yuan_recovered"] == 1.0095
    # complaints received in February: K1, K2, K5 = 3 per 3 delinquent accounts -> 10,000 per 10k
    assert (feb["complaints"], feb["complaints_per_10k_overdue"]) == (3, 10000.0)
    # due in February: K1 (25 Feb, resolved 20 Feb: on time), K3 (10 Jan + 15 + 15 with a reason = 9 Feb,
    # resolved 8 Feb: on time), K5 (16 Feb, still open: late) -> 2/3
    assert (feb["complaints_due"], feb["on_time_share"]) == (3, pytest.approx(2 / 3))
    # 31 Jan: outstanding 4200, overdue 100+200+50+80 = 430, 4 of 6 delinquent; no December snapshot
    assert (jan["loans"], jan["outstanding"], jan["overdue_balance"]) == (6, 4200.0, 430.0)
    assert jan["delinquency_rate_amount"] == pytest.approx(430 / 4200)
    assert jan["delinquency_rate_count"] == pytest.approx(4 / 6)
    assert (jan["roll_m1_m2"], jan["cure_rate"]) == (None, None)
    # January: P5 50 recovered, C8 0.10 spent -> 0.002; K3 and K4 received -> 2 per 4 delinquent = 5000
    assert (jan["recovered_amount"], jan["collection_cost"], jan["cost_per_yuan_recovered"]) == (50.0, 0.1, 0.002)
    assert jan["complaints_per_10k_overdue"] == 5000.0
    # due in January: K4 only (its extension has no reason, so 10 Jan + 15 = 25 Jan), unresolved -> 0
    assert (jan["complaints_due"], jan["on_time_share"]) == (1, 0.0)


def test_overview_kpis_filtered(book):
    frame = run(book, "overview_kpis", as_of=FEB, product=["instalment"])
    feb = frame.iloc[0].to_dict()
    # instalment L3, L4 on 29 Feb: outstanding 1100, overdue 300 + 120 = 420, both delinquent
    assert (feb["outstanding"], feb["overdue_balance"], feb["delinquency_rate_count"]) == (1100.0, 420.0, 1.0)
    assert feb["delinquency_rate_amount"] == pytest.approx(420 / 1100)
    # L4 M1 -> M2: roll 1/1; neither L3 nor L4 cures: 0/2
    assert (feb["roll_m1_m2"], feb["cure_rate"]) == (1.0, 0.0)
    # P2 50 recovered; cost C4 3 + C5 50 + C6 0.10 = 53.10 -> 1.062 per yuan
    assert (feb["recovered_amount"], feb["collection_cost"], feb["cost_per_yuan_recovered"]) == (50.0, 53.1, 1.062)
    # complaints on L3/L4 in February: K1, K5 per 2 delinquent -> 10000; due: K1 on time, K5 late -> 0.5
    assert (feb["complaints"], feb["complaints_per_10k_overdue"], feb["on_time_share"]) == (2, 10000.0, 0.5)


def test_roll_rates_send_a_closed_loan_to_closed(book):
    frame = db.query("roll_rates", db=book)
    jan = frame[frame["as_of"] == pd.Timestamp(JAN)]
    m1 = jan[jan["from_bucket"] == "M1"].set_index("to_bucket")["loans"].to_dict()
    # M1 at 31 Jan: L2 -> M0, L4 -> M2, L6 -> closed (missing on 29 Feb)
    assert m1 == {"M0": 1, "M2": 1, "closed": 1}
    assert jan.groupby("from_bucket")["share"].sum().tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_delinquency_buckets_with_and_without_a_loan_filter(book):
    every = db.query("delinquency_buckets", db=book, start=FEB, end=MAR)
    # 29 Feb: M0 L1 + L2 (950 + 700), M1 L5, M2 L4, M3 L3
    assert every.set_index("bucket")["loans"].to_dict() == {"M0": 2, "M1": 1, "M2": 1, "M3": 1}
    assert every.set_index("bucket").loc["M0", "outstanding"] == 1650.0
    instalment = db.query("delinquency_buckets", db=book, start=FEB, end=MAR, product=["instalment"])
    # instalment only: L4 in M2 (500 / 120) and L3 in M3 (600 / 300)
    assert instalment[["bucket", "loans", "outstanding", "overdue_amount"]].values.tolist() == [
        ["M2", 1, 500.0, 120.0], ["M3", 1, 600.0, 300.0]]
