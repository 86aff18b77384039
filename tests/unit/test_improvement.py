"""The improvement loop: hand-computed query results on a tiny book, the action lifecycle on the audit
trail, the difference-in-differences estimator on hand-built inputs, and the demo's planted effects."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from portal import complaints, db, demo, improvement
from portal.schemas import RESULT_SCHEMAS
from tests import fixtures_improvement

D = dt.date


@pytest.fixture
def book(tmp_db):
    fixtures_improvement.load(tmp_db)
    return tmp_db


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    out = []
    for rec in frame[columns].itertuples(index=False):
        out.append(tuple(None if (not isinstance(v, str) and pd.isna(v)) else
                         (round(float(v), 4) if isinstance(v, float) else v) for v in rec))
    return out


# root_causes ---------------------------------------------------------------------------------------

def test_root_causes_pareto(book):
    frame = db.query("root_causes", db=book)
    RESULT_SCHEMAS["root_causes"].validate(frame)
    # 4 complaints: excessive_call_frequency C1, C3 (2 = 0.5); third_party_contact C2 (1 = 0.25, cum 0.75);
    # C4 has no root cause yet -> unassigned (0.25, cum 1.0). Ties in count order by value.
    assert _rows(frame, ["dimension", "value", "complaints", "share", "cumulative_share"]) == [
        ("root_cause", "excessive_call_frequency", 2, 0.5, 0.5),
        ("root_cause", "third_party_contact", 1, 0.25, 0.75),
        ("root_cause", "unassigned", 1, 0.25, 1.0),
    ]


def test_root_causes_grouped_by_strategy_agency_and_period(book):
    # Strategy of the last contact on the loan at or before each complaint:
    # C1 (L1, 03-20) -> K2 challenger; C2 (L2, 03-25) -> K4 champion; C3 (L2, 04-10) -> K7 champion;
    # C4 (L3, 04-15) -> K5 champion.
    frame = db.query("root_causes", db=book, group_by="strategy")
    assert _rows(frame, ["value", "complaints", "share", "cumulative_share"]) == [
        ("champion", 3, 0.75, 0.75), ("challenger", 1, 0.25, 1.0)]
    # Agency: only C1 names AG01; the rest have none -> in_house.
    frame = db.query("root_causes", db=book, group_by="agency")
    assert _rows(frame, ["value", "complaints"]) == [("in_house", 3), ("AG01", 1)]
    # April only: C3 (excessive_call_frequency) and C4 (unassigned).
    frame = db.query("root_causes", db=book, start="2026-04-01", end="2026-05-01")
    assert _rows(frame, ["value", "complaints", "cumulative_share"]) == [
        ("excessive_call_frequency", 1, 0.5), ("unassigned", 1, 1.0)]


# complaint_rates -----------------------------------------------------------------------------------

def test_complaint_rates_all(book):
    frame = db.query("complaint_rates", db=book)
    RESULT_SCHEMAS["complaint_rates"].validate(frame)
    # March: 4 contacts (K1-K4), complaints C1, C2, overdue = DPD>=1 at 02-28: L1, L2 -> 2.
    #   2 * 10000 / 4 = 5000 per 10k contacts; 2 * 10000 / 2 = 10000 per 10k overdue.
    # April: 3 contacts (K5-K7), complaints C3, C4, overdue at 03-31: L2, L3 -> 2.
    #   2 * 10000 / 3 = 6666.6667; 10000. May has overdue L2 but no contacts or complaints: no row.
    assert _rows(frame, ["segment", "contacts", "overdue_accounts", "complaints", "complaints_per_10k_contacts",
                         "complaints_per_10k_overdue"]) == [
        ("all", 4, 2, 2, 5000.0, 10000.0),
        ("all", 3, 2, 2, 6666.6667, 10000.0),
    ]
    assert [pd.Timestamp(m).date() for m in frame["month"]] == [D(2026, 3, 1), D(2026, 4, 1)]


def test_complaint_rates_by_agency(book):
    frame = db.query("complaint_rates", db=book, segment_kind="agency")
    # March AG01: K1; overdue L1 (contacted by K1); complaint C1 -> 10000 / 10000.
    # March in_house: K2 (no agency), K3, K4 = 3; overdue L1 (K2), L2 = 2; complaint C2 -> 3333.33 / 5000.
    # April AG01: K5, K7 = 2; overdue L3, L2 = 2; no complaint -> 0 / 0.
    # April in_house: K6 = 1; overdue L2 = 1; complaints C3, C4 -> 20000 / 20000.
    assert _rows(frame, ["segment", "contacts", "overdue_accounts", "complaints", "complaints_per_10k_contacts",
                         "complaints_per_10k_overdue"]) == [
        ("AG01", 1, 1, 1, 10000.0, 10000.0),
        ("in_house", 3, 2, 1, 3333.3333, 5000.0),
        ("AG01", 2, 2, 0, 0.0, 0.0),
        ("in_house", 1, 1, 2, 20000.0, 20000.0),
    ]


RATE_COLS = ["segment", "contacts", "overdue_accounts", "complaints", "complaints_per_10k_contacts",
             "complaints_per_10k_overdue"]


def test_complaint_rates_period_cutting_both_months(book):
    # [03-08, 04-03): March keeps days 8-31, April days 1-2 (the rollups are read per local day).
    frame = db.query("complaint_rates", db=book, segment_kind="strategy", start="2026-03-08", end="2026-04-03")
    # March challenger: K1 (03-05) and K2 (03-06) fall before the period: no contact, and L1 (overdue at
    #   02-28) has no challenger contact in it -> 0 accounts; C1 (L1, 03-20; last contact K2) -> 1 complaint.
    # March champion: K4 (L2, 03-08) -> 1 contact, L2 -> 1 account; C2 (L2, 03-25; last contact K4) -> 1.
    # April champion: K5 (L3, 04-02) -> 1 contact; overdue at 03-31: L2, L3, and only L3 has a contact in
    #   days 1-2 (L2's K6 is on 04-03, outside) -> 1 account; C3 (04-10) is outside -> 0 complaints.
    assert _rows(frame, RATE_COLS) == [
        ("challenger", 0, 0, 1, None, None),
        ("champion", 1, 1, 1, 10000.0, 10000.0),
        ("champion", 1, 1, 0, 0.0, 0.0),
    ]
    assert [pd.Timestamp(m).date() for m in frame["month"]] == [D(2026, 3, 1), D(2026, 3, 1), D(2026, 4, 1)]
    # The whole cohort does not depend on the days: March L1, L2 and April L2, L3 -> 2 each.
    frame = db.query("complaint_rates", db=book, start="2026-03-08", end="2026-04-03")
    assert _rows(frame, RATE_COLS) == [("all", 1, 2, 2, 20000.0, 10000.0), ("all", 1, 2, 0, 0.0, 0.0)]


def test_complaint_rates_period_inside_one_day(book):
    # Only 03-07 (portal time): K3 (L2, agent A2, phone) -> 1 contact, L2 overdue at 02-28 -> 1 account.
    frame = db.query("complaint_rates", db=book, segment_kind="agent", start="2026-03-07", end="2026-03-08")
    assert _rows(frame, RATE_COLS) == [("A2", 1, 1, 0, 0.0, 0.0)]
    # Only 03-06: K2 has no agent -> none; its loan L1 is overdue at 02-28.
    frame = db.query("complaint_rates", db=book, segment_kind="agent", start="2026-03-06", end="2026-03-07")
    assert _rows(frame, RATE_COLS) == [("none", 1, 1, 0, 0.0, 0.0)]
    frame = db.query("complaint_rates", db=book, segment_kind="channel", start="2026-03-06", end="2026-03-08")
    assert _rows(frame, RATE_COLS) == [("phone", 1, 1, 0, 0.0, 0.0), ("sms", 1, 1, 0, 0.0, 0.0)]


def test_uploads_move_a_complaints_strategy(book, tmp_path):
    """Complaint strategies are kept on load (complaint_last_contact): uploads of contacts and complaints."""
    from portal import derived, ingest

    # a challenger call on L3 the day before C4 (04-15): C4's last contact is now K8, not K5 (champion)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("contact_id,loan_id,contact_at,channel,party,outcome,agent_id,agency_id,strategy,"
                        "ptp_amount,ptp_due_on,cost,collectors,duration_s\n"
                        "K8,L3,2026-04-14T10:00:00+08:00,phone,debtor,no_answer,A1,AG01,challenger,,,2.00,,\n",
                        encoding="utf-8")
    assert ingest.load_file("contacts", contacts, db=book).accepted == 1
    # C5 on L3 before any contact on it: no strategy ('unassigned' on the Pareto, 'none' in the rates)
    complaints_csv = tmp_path / "complaints.csv"
    complaints_csv.write_text("complaint_id,received_at,source,loan_id,issue,channel\n"
                              "C5,2026-03-02T09:00:00+08:00,hotline,L3,other,sms\n", encoding="utf-8")
    assert ingest.load_file("complaints", complaints_csv, db=book).accepted == 1
    cur = db.cursor(book)
    try:
        assert derived.stale(cur, ["complaint_last_contact"]) == []
    finally:
        cur.close()
    # C1 challenger (K2), C2 and C3 champion (K4, K7), C4 challenger (K8), C5 none
    frame = db.query("root_causes", db=book, group_by="strategy")
    assert _rows(frame, ["value", "complaints"]) == [("challenger", 2), ("champion", 2), ("unassigned", 1)]
    frame = db.query("complaint_rates", db=book, segment_kind="strategy", start="2026-03-01", end="2026-04-01")
    # March: C1 challenger, C2 champion, C5 none (no contact: 0 contacts, 0 accounts)
    assert _rows(frame, ["segment", "contacts", "complaints"]) == [
        ("challenger", 2, 1), ("champion", 2, 1), ("none", 0, 1)]
    # channel_net_ranking counts a complaint for a strategy only when its loan had a contact by then
    frame = db.query("channel_net_ranking", db=book, start="2026-04-01", end="2026-05-01")
    strat = frame[frame["dimension"] == "strategy"].set_index("value")
    # April: K5, K6, K7 champion (3 attempts, C3), K8 challenger (1 attempt, C4)
    assert (strat.loc["champion", "attempts"], strat.loc["champion", "complaints"]) == (3, 1)
    assert (strat.loc["challenger", "attempts"], strat.loc["challenger", "complaints"]) == (1, 1)


# action_effect_inputs ------------------------------------------------------------------------------

COLS = ["group_name", "contacts", "rpc_contacts", "ptp_contacts", "complaints", "overdue_accounts", "cured_accounts"]


def test_action_effect_inputs_agency(book):
    frame = db.query("action_effect_inputs", db=book, segment_kind="agency", segment_value="AG01")
    RESULT_SCHEMAS["action_effect_inputs"].validate(frame)
    # March treated: K1 (rpc); C1; cohort at 02-28 with a March contact: L1 has K1 (AG01) -> treated,
    #   cured (DPD 0 at 03-31). Control: K2, K3, K4 (ptp counts as rpc and ptp); C2; L2 not cured.
    # April treated: K5 (rpc), K7; no complaint; cohort at 03-31: L3 (K5) and L2 (K7 is AG01) -> 2,
    #   L3 cured at 04-30, L2 not -> 1. Control: K6; C3, C4; no cohort account -> 0, cured unknown.
    assert _rows(frame, COLS) == [
        ("treated", 1, 1, 0, 1, 1, 1),
        ("control", 3, 1, 1, 1, 1, 0),
        ("treated", 2, 1, 0, 0, 2, 1),
        ("control", 1, 0, 0, 2, 0, None),
    ]


def test_action_effect_inputs_region_and_bucket(book):
    frame = db.query("action_effect_inputs", db=book, segment_kind="region", segment_value="east")
    # east = L1, L3. March: contacts K1, K2 (rpc 1); C1; cohort L1 (cured). west: K3, K4; C2; L2 (not).
    # April: east K5 (rpc); C4; cohort L3 (cured). west: K6, K7; C3; cohort L2 (not cured).
    assert _rows(frame, COLS) == [
        ("treated", 2, 1, 0, 1, 1, 1),
        ("control", 2, 1, 1, 1, 1, 0),
        ("treated", 1, 1, 0, 1, 1, 1),
        ("control", 2, 0, 0, 1, 1, 0),
    ]
    # Only M2 at the opening month-end: L2 at 02-28 (DPD 40) is the one account (control, not cured);
    # at 03-31 L2 is M3 -> no account in April.
    frame = db.query("action_effect_inputs", db=book, segment_kind="region", segment_value="west", bucket=["M2"])
    assert _rows(frame, ["group_name", "overdue_accounts", "cured_accounts"]) == [
        ("treated", 1, 0), ("control", 0, None), ("treated", 0, None), ("control", 0, None)]


# channel_net_ranking -------------------------------------------------------------------------------

def test_channel_net_ranking(book):
    frame = db.query("channel_net_ranking", db=book)
    RESULT_SCHEMAS["channel_net_ranking"].validate(frame)
    # Channels: sms K2 cost 0.05, recovers P1 100, no complaint -> net 99.95, per yuan 1999.
    # visit K6 cost 150, nothing recovered, C3 -> 0 - 150 - 500 = -650, per yuan -4.3333.
    # phone K1, K3, K4, K5, K7 cost 10, recovers P3 30, C1 + C2 -> 30 - 10 - 1000 = -980, per attempt
    #   -196, per yuan -98. P2 is 18 days after K5: unattributed. Ranked by net per yuan.
    # Strategies: challenger K1, K2 cost 2.05, P1 100, C1 -> -402.05 (per yuan -196.1220);
    #   champion K3-K7 cost 158, P3 30, C2, C3, C4 -> 30 - 158 - 1500 = -1628 (per yuan -10.3038).
    assert _rows(frame, ["dimension", "value", "rank", "attempts", "recovered_amount", "cost", "complaints",
                         "complaint_cost", "net_value", "net_per_attempt", "net_per_yuan_cost"]) == [
        ("channel", "sms", 1, 1, 100.0, 0.05, 0, 0.0, 99.95, 99.95, 1999.0),
        ("channel", "visit", 2, 1, 0.0, 150.0, 1, 500.0, -650.0, -650.0, -4.3333),
        ("channel", "phone", 3, 5, 30.0, 10.0, 2, 1000.0, -980.0, -196.0, -98.0),
        ("strategy", "champion", 1, 5, 30.0, 158.0, 3, 1500.0, -1628.0, -325.6, -10.3038),
        ("strategy", "challenger", 2, 2, 100.0, 2.05, 1, 500.0, -402.05, -201.025, -196.122),
    ]
    # Complaints free: challenger 100 - 2.05 = 97.95 (47.7805 per yuan) beats champion -128 (-0.8101).
    frame = db.query("channel_net_ranking", db=book, complaint_cost=0)
    strat = frame[frame["dimension"] == "strategy"]
    assert _rows(strat, ["value", "rank", "net_value", "net_per_yuan_cost"]) == [
        ("challenger", 1, 97.95, 47.7805), ("champion", 2, -128.0, -0.8101)]


# actions and the audit trail -----------------------------------------------------------------------

FORM = {"title": "Cap connected calls", "root_cause": "excessive_call_frequency", "owner": "Ops lead",
        "start_on": "2026-04-01", "change_made": "At most 2 connected calls per day",
        "target_kpi": "complaints_per_10k_contacts", "target_value": "20", "segment_kind": "agency",
        "segment_value": "AG01"}


def test_validation_is_field_level():
    action, errors = improvement.validate_action({})
    assert action is None
    assert errors == {"title": "required", "root_cause": "required", "owner": "required",
                      "change_made": "required", "start_on": "required", "target_kpi": "choose"}
    _, errors = improvement.validate_action({**FORM, "start_on": "2026-13-01", "target_kpi": "drop table",
                                             "target_value": "abc", "segment_kind": "planet", "title": "x" * 201})
    assert errors == {"start_on": "bad_date", "target_kpi": "unknown", "target_value": "number",
                      "segment_kind": "unknown", "title": "too_long"}
    _, errors = improvement.validate_action({**FORM, "target_kpi": "cure_rate", "target_value": 1.5,
                                             "segment_value": ""})
    assert errors == {"target_value": "share", "segment_value": "required"}
    action, errors = improvement.validate_action({**FORM, "segment_kind": "", "segment_value": "",
                                                  "target_value": ""})
    assert errors == {} and action.segment_kind is None and action.target_value is None
    assert action.start_on == D(2026, 4, 1)


def test_create_and_move_an_action_on_the_audit_trail(book):
    action_id = improvement.create_action(FORM, "alice", db=book)
    assert action_id == "IA-0001"
    assert improvement.create_action(FORM, "alice", db=book) == "IA-0002"
    listed = db.query("improvement_actions", db=book)
    RESULT_SCHEMAS["improvement_actions"].validate(listed)
    assert listed["action_id"].tolist() == ["IA-0002", "IA-0001"]
    assert db.query("improvement_actions", db=book, status="done").empty

    with pytest.raises(improvement.ActionError) as err:
        improvement.set_status(action_id, "done", "bob", db=book)  # must pass through in_progress
    assert err.value.errors == {"status": "illegal_transition"}
    for status in ("in_progress", "done", "reviewed"):
        improvement.set_status(action_id, status, "bob", db=book)
    with pytest.raises(improvement.ActionError):
        improvement.set_status(action_id, "planned", "bob", db=book)  # reviewed is final
    with pytest.raises(improvement.ActionError):
        improvement.set_status("IA-9999", "in_progress", "bob", db=book)
    assert improvement.get_action(action_id, db=book)["status"] == "reviewed"

    events = improvement.action_events(action_id, db=book)
    assert events["action"].tolist() == ["action_created", "action_status", "action_status", "action_status"]
    assert events["to_value"].tolist() == ["planned", "in_progress", "done", "reviewed"]
    assert events["from_value"].tolist()[1:] == ["planned", "in_progress", "done"]
    assert events["actor"].tolist() == ["alice", "bob", "bob", "bob"]
    assert complaints.ensure_creation_events(book) == 4  # the fixture wrote its complaints in SQL: backfill
    assert complaints.verify_chain(db=book).ok
    with pytest.raises(improvement.ActionError):
        improvement.create_action({**FORM, "owner": ""}, "alice", db=book)


# the estimator ---------------------------------------------------------------------------------------

def _inputs(cells: dict[tuple[str, str], tuple[int, int]], kpi: str = "complaints_per_10k_contacts"
            ) -> pd.DataFrame:
    """Two months before (Jan, Feb) and two after (Mar, Apr) 2026; each cell's totals split evenly."""
    spec = improvement.TARGET_KPIS[kpi]
    rows = []
    for month in (D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)):
        period = "before" if month.month <= 2 else "after"
        for group in ("treated", "control"):
            events, exposure = cells[(group, period)]
            row = {c: 0 for c in ("contacts", "rpc_contacts", "ptp_contacts", "complaints", "overdue_accounts",
                                  "cured_accounts")}
            row.update({"month": month, "group_name": group, spec.events: events // 2, spec.exposure: exposure // 2})
            rows.append(row)
    return pd.DataFrame(rows)


def test_effect_windows():
    months = [D(2025, 12, 1)] + [D(2026, m, 1) for m in range(1, 11)]
    before, after = improvement.effect_windows(months, D(2026, 5, 1))
    assert (before[0], before[-1], after[0], after[-1]) == (D(2025, 12, 1), D(2026, 4, 1), D(2026, 5, 1),
                                                            D(2026, 9, 1))
    # Mid-month start: May is a transition month and left out.
    before, after = improvement.effect_windows(months, D(2026, 5, 15))
    assert (len(before), before[-1], after[0], after[-1]) == (5, D(2026, 4, 1), D(2026, 6, 1), D(2026, 10, 1))
    before, after = improvement.effect_windows(months, D(2026, 8, 1))
    assert (before[0], after[-1]) == (D(2026, 5, 1), D(2026, 10, 1))  # 3 months after, so 3 before
    before, after = improvement.effect_windows(months, D(2025, 12, 1))
    assert before == [] and len(after) == 6


def test_did_rate_hand_computed():
    cells = {("treated", "before"): (100, 10_000), ("treated", "after"): (40, 10_000),
             ("control", "before"): (200, 100_000), ("control", "after"): (200, 100_000)}
    effect = improvement.estimate_effect(_inputs(cells), D(2026, 3, 1))
    # Rates per contact: treated 0.01 -> 0.004, control 0.002 -> 0.002: DiD = -0.006 = -60 per 10k.
    # var = 100/1e8 + 40/1e8 + 200/1e10 + 200/1e10 = 1.44e-6, se = 0.0012, half = 1.95996 * 0.0012
    #     = 0.00235196 -> [-83.52, -36.48] per 10k.
    # Ratio of rate ratios = 0.4 / 1 = 0.4; log var = 1/100 + 1/40 + 1/200 + 1/200 = 0.045,
    #     half = 1.95996 * 0.212132 = 0.415771 -> [0.4 e^-0.415771, 0.4 e^0.415771] = [0.26395, 0.60619].
    assert effect.method == "did" and effect.months == 2
    assert (effect.treated_before, effect.treated_after) == pytest.approx((100.0, 40.0))
    assert (effect.control_before, effect.control_after) == pytest.approx((20.0, 20.0))
    assert (effect.estimate, effect.low, effect.high) == pytest.approx((-60.0, -83.5196, -36.4804), abs=1e-3)
    assert (effect.ratio, effect.ratio_low, effect.ratio_high) == pytest.approx((0.4, 0.26395, 0.60619), abs=1e-4)
    assert effect.verdict == "improved"
    # The same change with a tenth of the data: CI [-134.38, 14.38] and ratio [0.1074, 1.4897]: no verdict.
    small = {k: (e // 10, x // 10) for k, (e, x) in cells.items()}
    effect = improvement.estimate_effect(_inputs(small), D(2026, 3, 1))
    assert (effect.low, effect.high) == pytest.approx((-134.376, 14.376), abs=1e-2)
    assert (effect.ratio_low, effect.ratio_high) == pytest.approx((0.1074, 1.4897), abs=1e-3)
    assert effect.verdict == "no_change"


def test_did_proportion_hand_computed_and_worse():
    cells = {("treated", "before"): (20, 100), ("treated", "after"): (40, 100),
             ("control", "before"): (30, 100), ("control", "after"): (30, 100)}
    effect = improvement.estimate_effect(_inputs(cells, "cure_rate"), D(2026, 3, 1), "cure_rate")
    # (0.4 - 0.2) - (0.3 - 0.3) = 0.2; var = .2*.8/100 + .4*.6/100 + 2 * .3*.7/100 = 0.0082,
    # half = 1.95996 * 0.0905539 = 0.177482 -> [0.0225, 0.3775]; a higher cure rate is better.
    assert (effect.estimate, effect.low, effect.high) == pytest.approx((0.2, 0.02252, 0.37748), abs=1e-4)
    assert effect.ratio is None and effect.verdict == "improved"
    swapped = {("treated", p): cells[("treated", q)] for p, q in (("before", "after"), ("after", "before"))}
    effect = improvement.estimate_effect(_inputs({**cells, **swapped}, "cure_rate"), D(2026, 3, 1), "cure_rate")
    assert effect.estimate == pytest.approx(-0.2) and effect.verdict == "worse"


def test_no_effect_gives_no_detectable_change():
    cells = {("treated", "before"): (50, 10_000), ("treated", "after"): (50, 10_000),
             ("control", "before"): (200, 100_000), ("control", "after"): (200, 100_000)}
    effect = improvement.estimate_effect(_inputs(cells), D(2026, 3, 1))
    assert effect.estimate == pytest.approx(0.0) and effect.ratio == pytest.approx(1.0)
    assert effect.low < 0 < effect.high and effect.verdict == "no_change"
    # No month after the start at all: nothing to say.
    assert improvement.estimate_effect(_inputs(cells), D(2026, 6, 1)).verdict == "insufficient"


def test_post_difference_when_there_is_no_history():
    cells = {("treated", "before"): (30, 100), ("treated", "after"): (30, 100),
             ("control", "before"): (20, 100), ("control", "after"): (20, 100)}
    effect = improvement.estimate_effect(_inputs(cells, "cure_rate"), D(2026, 1, 1), "cure_rate")
    # All four months are "after": treated 60/200 = 0.3 vs control 40/200 = 0.2 -> +0.1,
    # se = sqrt(.3*.7/200 + .2*.8/200) = 0.0430116, half = 0.0843011 -> [0.0157, 0.1843].
    assert effect.method == "post_difference" and effect.months == 4
    assert (effect.estimate, effect.low, effect.high) == pytest.approx((0.1, 0.0157, 0.1843), abs=1e-4)


def test_effect_series():
    cells = {("treated", "before"): (100, 10_000), ("treated", "after"): (40, 10_000),
             ("control", "before"): (200, 100_000), ("control", "after"): (200, 100_000)}
    series = improvement.effect_series(_inputs(cells))
    first = series[series["month"] == D(2026, 1, 1)].set_index("group_name")["value"]
    assert first.to_dict() == pytest.approx({"treated": 100.0, "control": 20.0})


# the demo's planted effects ---------------------------------------------------------------------------

POWER_LOANS, POWER_SEED = 100_000, 7


@pytest.fixture(scope="module")
def power_demo(tmp_path_factory):
    """A 100,000-loan demo (about 10 s): the planted effects need more complaints than the small demo has."""
    path = tmp_path_factory.mktemp("improvement") / "demo.duckdb"
    demo.build(path, loans=POWER_LOANS, seed=POWER_SEED, end_month=demo.FIXED_END_MONTH)
    yield path
    db.close(path)


def test_planted_ag03_action_is_recovered(power_demo):
    action = improvement.get_action("IA-0001", db=power_demo)
    assert (action["segment_kind"], action["segment_value"]) == ("agency", demo.PLANTED_AGENCY)
    assert pd.Timestamp(action["start_on"]).date() == demo.PLANTED_ACTION_START
    effect = improvement.measure_action(action, db=power_demo)["complaints_per_10k_contacts"]
    # Equal windows: Dec 2025 - Apr 2026 before, May - Sep 2026 after (5 months each).
    assert effect.method == "did" and effect.before == (D(2025, 12, 1), D(2026, 4, 1))
    assert effect.after == (D(2026, 5, 1), D(2026, 9, 1))
    # The generator multiplies AG03's complaint probability by 0.4 from the start: the sign is negative
    # (fewer complaints per 10,000 contacts) and the planted 0.4x lies inside the ratio's 95% interval,
    # which excludes 1 (no change).
    assert effect.estimate < 0
    assert effect.ratio < 1
    assert effect.ratio_low < 0.4 < effect.ratio_high < 1
    assert effect.verdict == "improved"


def test_agencies_and_regions_without_a_change_show_none(power_demo):
    action = improvement.get_action("IA-0001", db=power_demo)
    for kind, value in (("agency", "AG01"), ("region", "east")):
        effect = improvement.measure_action({**action, "segment_kind": kind, "segment_value": value},
                                            db=power_demo)["complaints_per_10k_contacts"]
        assert effect.ratio_low < 1 < effect.ratio_high, (kind, value)
        assert effect.verdict == "no_change", (kind, value)


def test_planted_challenger_effect_is_recovered(power_demo):
    # The generator adds 6 points to the cure probability of challenger loans in M1 and M2. In M2 both
    # strategies get the same contact intensity, so the whole difference is the planted 6 points (in
    # M1 the challenger also calls more, which adds its own cure lift on top). The split is in place
    # from the first month, so the estimate is the post-period difference, challenger - champion.
    inputs = db.query("action_effect_inputs", db=power_demo, segment_kind="strategy", segment_value="challenger",
                      bucket=["M2"])
    effect = improvement.estimate_effect(inputs, D(2025, 12, 1), "cure_rate", max_months=12)
    assert effect.method == "post_difference" and effect.months == 11
    assert effect.estimate > 0
    assert effect.low < 0.06 < effect.high
    assert effect.verdict == "improved"
    assert not math.isnan(effect.difference.a)
