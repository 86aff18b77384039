"""Offering a plan on a complaint and the customer's answer: server-side validation, one transaction
per step, audit events on the complaint's chain, the resolution set through the complaint lifecycle,
and the derived plan facts kept fresh (portal/plans.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal import complaints, db, derived, plans
from tests import fixtures_plans

SH = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2025, 6, 21, 10, 0, tzinfo=SH)  # the day after K5 (C2) asked for instalments
TERMS = {"plan_type": "instalments", "amount": "600.00", "instalments": 3, "first_due_on": "2025-07-05"}


@pytest.fixture
def book(tmp_db):
    return fixtures_plans.load(tmp_db)


def _events(path, complaint_id):
    # the fixture's complaints start with the backfill's "imported" event; these tests read what follows
    frame = db.read("select action, field, from_value, to_value, note, actor from complaint_events "
                    "where complaint_id = $c and action <> 'imported' order by event_id", {"c": complaint_id}, db=path)
    return frame.astype(object).where(frame.notna(), None)


def test_terms_are_validated_on_the_server():
    today = dt.date(2025, 6, 21)
    cases = [
        ({"plan_type": "holiday"}, "plan_type", "plans.err.plan_type"),
        ({"amount": "0"}, "amount", "plans.err.amount"),
        ({"amount": "10.005"}, "amount", "plans.err.amount"),
        ({"amount": "NaN"}, "amount", "plans.err.amount"),
        ({"amount": "lots"}, "amount", "plans.err.amount"),
        ({"instalments": 61}, "instalments", "plans.err.instalments"),
        ({"instalments": 2.5}, "instalments", "plans.err.instalments"),
        ({"plan_type": "deferral", "instalments": 3}, "instalments", "plans.err.deferral_instalments"),
        ({"first_due_on": "2025-06-20"}, "first_due_on", "plans.err.first_due_past"),
        ({"first_due_on": "2026-01-01"}, "first_due_on", "plans.err.first_due_far"),
        ({"first_due_on": "soon"}, "first_due_on", "plans.err.first_due_on"),
    ]
    for change, field, key in cases:
        terms, errors = plans.validate_terms({**TERMS, **change}, today)
        assert terms is None and errors == {field: key}, change
    terms, errors = plans.validate_terms({**TERMS, "amount": 600.5}, today)
    assert errors == {} and terms.amount == Decimal("600.50") and terms.first_due_on == dt.date(2025, 7, 5)


def test_offer_then_customer_accepts_on_the_ticket_page(book):
    made = plans.offer("K5", "compliance1", TERMS, note="hardship: lost job", now=NOW, db=book)
    assert (made.status, made.loan_id, made.amount, made.instalments) == ("offered", "C2", Decimal("600.00"), 3)
    offered = _events(book, "K5")
    assert offered[["action", "field", "actor"]].values.tolist() == [["plan_offered", "plan_offer", "compliance1"]]
    assert offered["to_value"].iloc[0] == (f"offer {made.offer_id}: 3 monthly instalments of about ¥200.00, from "
                                           "2025-07-05 to 2025-09-05, ¥600.00 in total.")
    assert offered["note"].iloc[0] == "hardship: lost job"

    ticket = fixtures_plans.ticket("K5")
    assert plans.customer_offers(ticket, "0000", db=book) is None  # wrong digits answer like an unknown ticket
    (seen,) = plans.customer_offers(ticket.lower().replace("-", ""), "0005", db=book)
    assert [(i.due_on, i.amount) for i in seen.schedule] == [
        (dt.date(2025, 7, 5), Decimal("200.00")), (dt.date(2025, 8, 5), Decimal("200.00")),
        (dt.date(2025, 9, 5), Decimal("200.00"))]

    at = NOW + dt.timedelta(days=2)
    result = plans.customer_answer(ticket, "0005", made.offer_id, True, "ip:198.51.100.7", now=at, db=book)
    assert result.plan_id == f"RP-{made.offer_id:06d}" and result.resolution_recorded
    plan = db.read("select loan_id, complaint_id, plan_type, agreed_on, amount::double as amount, instalments, "
                   "first_due_on, status, offer_id from repayment_plans where plan_id = $p", {"p": result.plan_id},
                   db=book).iloc[0]
    assert (plan["loan_id"], plan["complaint_id"], plan["plan_type"], plan["agreed_on"].date(), plan["amount"],
            plan["instalments"], plan["first_due_on"].date(), plan["status"], plan["offer_id"]) == (
        "C2", "K5", "instalments", dt.date(2025, 6, 23), 600.0, 3, dt.date(2025, 7, 5), "active", made.offer_id)
    events = _events(book, "K5")
    assert events[["action", "field", "from_value", "to_value", "actor"]].values.tolist()[1:] == [
        ["plan_accepted", "plan_offer", "offered", "accepted", "customer"],
        ["resolution", "resolution", None, "repayment_plan", "customer"],
        ["resolution", "public_resolution", None, events["to_value"].iloc[3], "customer"],
    ]
    assert events["note"].iloc[1] == f"offer {made.offer_id}; answered via ticket; plan {result.plan_id}"
    assert events["to_value"].iloc[3].startswith("You accepted a repayment plan: 3 monthly instalments")
    complaint = db.read("select status, resolution from complaints where complaint_id = 'K5'", db=book).iloc[0]
    assert tuple(complaint) == ("investigating", "repayment_plan")  # resolving it stays compliance's step
    assert complaints.verify_chain(db=book).ok

    # the plan's derived facts were refreshed in the acceptance transaction: none is stale, and it is counted
    # (complaint_last_contact reads complaints, which the resolution step wrote afterwards)
    cur = db.cursor(book)
    try:
        assert not set(derived.stale(cur)) & {"repayment_plan_instalments", "repayment_plan_cure",
                                              "repayment_plan_control"}
    finally:
        cur.close()
    schedule = db.query("repayment_plan_schedule", db=book, complaint_id="K5")
    assert schedule["due_on"].dt.date.tolist() == [dt.date(2025, 7, 5), dt.date(2025, 8, 5), dt.date(2025, 9, 5)]
    funnel = db.query("repayment_plan_funnel", db=book).set_index("stage")["requests"]
    assert (funnel["offered"], funnel["accepted"]) == (6, 5)  # K5 joins K1, K2, K3, K4 / K1, K2, K3, K7

    with pytest.raises(plans.PlanError, match="already answered"):
        plans.customer_answer(ticket, "0005", made.offer_id, False, "ip:198.51.100.7", now=at, db=book)


def test_decline_is_audited_and_leaves_no_plan(book):
    made = plans.offer("K5", "compliance1", {**TERMS, "plan_type": "deferral", "instalments": 1}, now=NOW, db=book)
    result = plans.customer_answer(fixtures_plans.ticket("K5"), "0005", made.offer_id, False, "s1", now=NOW, db=book)
    assert result.plan_id is None and result.offer.status == "declined" and not result.resolution_recorded
    assert _events(book, "K5")["action"].tolist() == ["plan_offered", "plan_declined"]
    assert db.scalar("select count(*) from repayment_plans where complaint_id = 'K5'", db=book) == 0
    assert db.scalar("select resolution from complaints where complaint_id = 'K5'", db=book) is None
    again = plans.offer("K5", "compliance1", TERMS, now=NOW, db=book)  # a declined offer leaves room for another
    assert again.offer_id > made.offer_id


def test_offers_are_refused_with_a_reason(book):
    with pytest.raises(plans.PlanError) as caught:
        plans.offer("K5", "c", {**TERMS, "amount": "-5", "instalments": 0}, now=NOW, db=book)
    assert caught.value.key == "plans.err.invalid_terms"
    assert caught.value.fields == {"amount": "plans.err.amount", "instalments": "plans.err.instalments"}
    with pytest.raises(plans.PlanError, match="does not ask for a repayment plan"):
        plans.offer("K6", "c", TERMS, now=NOW, db=book)
    with pytest.raises(plans.PlanError, match="No complaint NOPE"):
        plans.offer("NOPE", "c", TERMS, now=NOW, db=book)
    db.execute("update complaints set loan_id = null where complaint_id = 'K4'", db=book)
    with pytest.raises(plans.PlanError, match="names no loan"):
        plans.offer("K4", "c", TERMS, now=NOW, db=book)
    db.execute("update complaints set loan_id = 'L404' where complaint_id = 'K4'", db=book)
    with pytest.raises(plans.PlanError, match="Loan L404 is not in the book"):
        plans.offer("K4", "c", TERMS, now=NOW, db=book)
    db.execute("update complaints set status = 'closed' where complaint_id = 'K4'", db=book)
    with pytest.raises(plans.PlanError, match="closed"):
        plans.offer("K4", "c", TERMS, now=NOW, db=book)
    made = plans.offer("K5", "c", TERMS, now=NOW, db=book)
    with pytest.raises(plans.PlanError, match=f"Offer {made.offer_id} is still waiting"):
        plans.offer("K5", "c", TERMS, now=NOW, db=book)
    assert _events(book, "K5")["action"].tolist() == ["plan_offered"]  # refusals write nothing
    # K4 keeps only the fixture's declined offer 3; K6 has none
    assert db.scalar("select count(*) from plan_offers where complaint_id in ('K4', 'K6')", db=book) == 1


def test_an_offer_expires_on_its_first_due_date(book):
    made = plans.offer("K5", "c", TERMS, now=NOW, db=book)
    after = dt.datetime(2025, 7, 6, 9, 0, tzinfo=SH)
    assert made.shown_status(after.date()) == "expired" and not made.is_open(after.date())
    assert made.is_open(dt.date(2025, 7, 5))  # still open on the first due date itself
    with pytest.raises(plans.PlanError, match="expired on its first due date, 2025-07-05"):
        plans.customer_answer(fixtures_plans.ticket("K5"), "0005", made.offer_id, True, "s2", now=after, db=book)
    renewed = plans.offer("K5", "c", {**TERMS, "first_due_on": "2025-07-20"}, now=after, db=book)
    assert renewed.is_open(after.date())


def test_withdrawn_offers_leave_the_ticket_page(book):
    made = plans.offer("K5", "c", TERMS, now=NOW, db=book)
    withdrawn = plans.withdraw(made.offer_id, "compliance2", "wrong amount", now=NOW, db=book)
    assert withdrawn.status == "withdrawn" and withdrawn.answered_by == "compliance2"
    assert _events(book, "K5")[["action", "to_value", "note"]].values.tolist()[-1] == [
        "plan_withdrawn", "withdrawn", "wrong amount"]
    assert plans.customer_offers(fixtures_plans.ticket("K5"), "0005", db=book) == []
    with pytest.raises(plans.PlanError, match="already answered or withdrawn"):
        plans.withdraw(made.offer_id, "compliance2", now=NOW, db=book)
    assert [o.status for o in plans.offers("K5", db=book)] == ["withdrawn"]


def test_staff_record_an_answer_taken_by_phone(book):
    made = plans.offer("K4", "compliance1", TERMS, now=NOW, db=book)  # K4's first offer was declined
    result = plans.answer(made.offer_id, True, "compliance1", channel="phone", note="customer called back",
                          now=NOW, db=book)
    assert result.resolution_recorded and result.offer.answered_by == "compliance1"
    accepted = _events(book, "K4").iloc[1]
    assert (accepted["action"], accepted["actor"]) == ("plan_accepted", "compliance1")
    assert accepted["note"] == f"offer {made.offer_id}; answered via phone; plan {result.plan_id}; customer called back"
    with pytest.raises(plans.PlanError, match="Unknown answer channel"):
        plans.answer(made.offer_id, True, "compliance1", channel="pigeon", now=NOW, db=book)


def test_an_answer_to_someone_elses_offer_or_with_wrong_digits_is_refused_alike(book):
    other = plans.offer("K4", "c", TERMS, now=NOW, db=book)
    mine = fixtures_plans.ticket("K5")
    assert plans.customer_answer(mine, "0005", other.offer_id, True, "s3", now=NOW, db=book) is None
    assert plans.customer_answer(mine, "9999", other.offer_id, True, "s3", now=NOW, db=book) is None
    assert plans.customer_answer("CP-ZZZZ-ZZZZ", "0005", other.offer_id, True, "s3", now=NOW, db=book) is None
    assert db.scalar("select status from plan_offers where offer_id = $o", {"o": other.offer_id}, db=book) == "offered"


def test_answers_are_rate_limited_per_client(book):
    made = plans.offer("K5", "c", TERMS, now=NOW, db=book)
    for _ in range(plans.ANSWER_LIMIT):
        assert plans.customer_answer(fixtures_plans.ticket("K5"), "1234", made.offer_id, True, "ip:203.0.113.9",
                                     now=NOW, db=book) is None
    assert plans.customer_answer(fixtures_plans.ticket("K5"), "0005", made.offer_id, True, "ip:203.0.113.9",
                                 now=NOW, db=book) == "rate_limited"
    # another client is not held back, and the window passes
    assert plans.customer_answer(fixtures_plans.ticket("K5"), "0005", made.offer_id, False, "ip:203.0.113.10",
                                 now=NOW, db=book).offer.status == "declined"


def test_a_complaint_closed_before_the_answer_refuses_it(book):
    made = plans.offer("K5", "c", TERMS, now=NOW, db=book)
    complaints.record_resolution("K5", "c", "explanation", "We called you.", now=NOW, db=book)
    complaints.transition("K5", "c", "resolved", now=NOW, db=book)
    complaints.transition("K5", "c", "closed", now=NOW, db=book)
    with pytest.raises(plans.PlanError, match="closed"):
        plans.customer_answer(fixtures_plans.ticket("K5"), "0005", made.offer_id, True, "s4", now=NOW, db=book)
    assert db.scalar("select count(*) from repayment_plans where complaint_id = 'K5'", db=book) == 0


def test_a_plan_id_taken_by_an_upload_gets_a_suffix(book):
    made = plans.offer("K5", "c", TERMS, now=NOW, db=book)
    db.execute("insert into repayment_plans (plan_id, loan_id, plan_type, agreed_on, amount, instalments, "
               "first_due_on, status) values ($p, 'C8', 'deferral', date '2025-06-01', 10, 1, date '2025-07-01', "
               "'active')", {"p": f"RP-{made.offer_id:06d}"}, db=book)
    result = plans.answer(made.offer_id, True, "c", channel="letter", now=NOW, db=book)
    assert result.plan_id == f"RP-{made.offer_id:06d}-2"
