"""The demo's repayment plans: deterministic, valid under the upload rules, made through the portal's
own offer and answer steps when they start as a form request, and carrying the planted effect
(portal/demo.py: +12 pp cure within 90 days for M1-M2 accounts on instalment plans, 0 for deferrals)."""

from __future__ import annotations

import pandas as pd
import pytest

from portal import complaints, db, demo, derived, plans, schemas

PLANTED_LOANS, PLANTED_SEED = 100_000, 5


def _dump(path) -> dict[str, pd.DataFrame]:
    return {t: db.read(f"select * from {t} order by all", db=path)  # noqa: S608 (fixed names)
            for t in ("repayment_plans", "plan_offers", "payments", "snapshots")}


def test_same_seed_same_plans(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    demo.build(a, loans=3000, seed=3)
    demo.build(b, loans=3000, seed=3)
    first, second = _dump(a), _dump(b)
    assert len(first["repayment_plans"]) > 20 and len(first["plan_offers"]) > 10
    for table in first:
        pd.testing.assert_frame_equal(first[table], second[table], obj=table)
    tickets = "select ticket, received_at, plan_type, plan_amount from complaints where ticket is not null order by all"
    pd.testing.assert_frame_equal(db.read(tickets, db=a), db.read(tickets, db=b))


def test_demo_plans_are_valid_rows_and_the_requests_went_through_the_portal(demo_db):
    frame = db.read("select plan_id, loan_id, complaint_id, plan_type, agreed_on, amount::double as amount, "
                    "instalments, first_due_on, status, offer_id from repayment_plans", db=demo_db)
    assert len(frame) > 10 and set(frame["plan_type"]) == set(plans.PLAN_TYPES)
    schemas.RepaymentPlansUpload.validate(frame.drop(columns=["offer_id"]), lazy=True)  # the upload rules hold
    assert db.scalar("select count(*) from repayment_plans anti join loans using (loan_id)", db=demo_db) == 0
    portal_made = frame[frame["offer_id"].notna()]
    uploaded = frame[frame["offer_id"].isna()]
    assert len(portal_made) > 0 and len(uploaded) > 0
    assert portal_made["complaint_id"].notna().all() and uploaded["complaint_id"].isna().all()
    assert set(uploaded["status"]) <= {"active", "cancelled"}
    # each accepted request: offered, accepted by the customer, resolution set; every offer audited
    offers = db.read("select offer_id, complaint_id, status, plan_id from plan_offers", db=demo_db)
    assert {"accepted", "declined"} <= set(offers["status"])
    accepted = offers[offers["status"] == "accepted"]
    assert set(accepted["plan_id"]) == set(portal_made["plan_id"])
    events = db.read("select complaint_id, actor, action, field, to_value from complaint_events", db=demo_db)
    offered = events[events["action"] == "plan_offered"]
    assert set(offered["complaint_id"]) == set(offers["complaint_id"])
    answers = events[events["action"] == "plan_accepted"]
    assert set(answers["complaint_id"]) == set(accepted["complaint_id"]) and set(answers["actor"]) == {"customer"}
    resolved = db.read("select complaint_id, resolution from complaints where complaint_id in "
                       "(select complaint_id from plan_offers where status = 'accepted')", db=demo_db)
    assert set(resolved["resolution"]) == {"repayment_plan"}
    assert complaints.verify_chain(db=demo_db).ok
    cur = db.cursor(demo_db)
    try:
        assert derived.stale(cur) == []
    finally:
        cur.close()
    funnel = db.query("repayment_plan_funnel", db=demo_db).set_index("stage")["requests"]
    assert funnel["requested"] > funnel["offered"] > funnel["accepted"] > 0


@pytest.mark.slow
def test_the_planted_effect_is_recovered(tmp_path):
    """On a 100,000-loan demo (about 12 s on a quiet machine): 1,400 plans, about 900 compared.

    A 95% interval misses the planted value for about one seed in twenty, so the seed is fixed. At
    100,000 loans, seeds 1-5 give instalment M1-M2 estimates of +12.5, +14.5, +9.9, +15.7 and +12.6 pp
    (z against +12: +0.3, +1.4, -1.1, +2.0, +0.3) and deferral ones of +5.0, +1.5, -1.8, -2.1 and -0.3
    (z against 0: +1.7, +0.5, -0.6, -0.7, -0.1); seed 7 is one of the misses (deferrals +7.2 pp, 1.8 to
    12.6). Over seeds 100-111 at 40,000 loans the z ran from -1.7 to +2.5 for instalments (mean +0.5) and
    from -1.9 to +1.0 for deferrals (mean -0.4).
    """
    path = tmp_path / "planted.duckdb"
    demo.build(path, loans=PLANTED_LOANS, seed=PLANTED_SEED)
    cells = db.query("repayment_plan_cure_cells", db=path)
    early = plans.compare(cells, "instalments", plans.BUCKET_GROUPS["early"])
    assert early.plans > 300
    assert early.difference.low < demo.PLAN_EFFECT[("instalments", "early")] < early.difference.high
    assert early.verdict == "higher"
    for buckets in (None, plans.BUCKET_GROUPS["early"]):
        deferral = plans.compare(cells, "deferral", buckets)
        assert deferral.plans > 100
        assert deferral.verdict == "no_difference", deferral.difference
    table = plans.comparison_table(cells).set_index(["plan_type", "accounts"])
    assert table.loc[("deferral", "all"), "verdict"] == "no_difference"
    # the contract query agrees with the comparison behind it
    outcomes = db.query("repayment_plan_outcomes", db=path).set_index("plan_type")
    assert outcomes.loc["instalments", "uplift_pp"] == pytest.approx(100 * plans.compare(cells, "instalments")
                                                                     .difference.estimate)
