"""AppTest of the repayment plan screens: the Repayment plans page (on the hand-built plan book), the
complaint workbench's "Offer a plan" action, and the customer's answer on the ticket page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import complaints, db, i18n, navigation, plans
from portal.auth_types import User
from tests import fixtures_plans

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
COMPLIANCE = User("c1", "compliance", "Compliance One")


def open_page(script, user=None, lang="en", query=None):
    at = AppTest.from_file(APP, default_timeout=90)
    if user:
        at.session_state["user"] = user
    at.session_state["lang"] = lang
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"app_pages/{script}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at, kind):
    return [e.value for e in getattr(at, kind)]


@pytest.fixture
def book(tmp_db):
    return fixtures_plans.load(tmp_db)


def test_the_page_shows_funnel_timing_kept_and_the_cure_comparison(book):
    at = open_page("repayment_plans.py", User("e1", "executive"))
    assert texts(at, "title") == ["Repayment plans"]
    assert i18n.t("plans.page.not_random") in texts(at, "warning")
    assert i18n.t("plans.page.association") in texts(at, "caption")
    # the sidebar's default period is the data's month-ends, 2025-01-31 .. 2025-06-30: K1 and K2 (January
    # 20 and 25) fall before it; K3 (plan P_BROKEN), K4 (declined), K5 (waiting) and K7 (P_ACTIVE) remain
    funnel = at.dataframe[0].value
    assert funnel["stage"].tolist() == ["requested", "offered", "accepted", "kept_to_date", "completed"]
    assert funnel["requests"].tolist() == [4, 3, 2, 0, 0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Median days to an offer"] == "2.2 days"  # K4 2.0, K7 2.5
    assert metrics["Offered by the deadline"] == "100.0%"
    assert metrics["Waiting past the deadline"] == "1"  # K5
    outcomes = next(d.value for d in at.dataframe if "uplift_pp" in d.value.columns)
    assert outcomes.set_index("plan_type")["plans"].to_dict() == {"deferral": 1, "instalments": 8}
    # the comparison: 6 instalment plans and 1 deferral are too few for a verdict
    infos = texts(at, "info")
    assert "Instalments, all comparable accounts: not enough comparable plans yet to measure the cure rate." in infos
    assert metrics["Instalments cured (all comparable accounts)"] == "66.7%"
    assert metrics["Deferral (pay later) cured (all comparable accounts)"] == "100.0%"
    controls = [m.value for m in at.metric if m.label == "Control cured"]
    # all comparable and M1-M2 accounts (the same plans here): instalments (5 * 4/6 + 0) / 6; deferral 4/6
    assert controls == ["55.6%", "55.6%", "66.7%", "66.7%"]
    comparison = next(d.value for d in at.dataframe if "ci_low_pp" in d.value.columns)
    assert comparison["plans"].tolist() == [6, 6, 1, 1]
    assert len(at.get("download_button")) >= 2 * 5


def test_the_page_in_chinese(book):
    at = open_page("repayment_plans.py", User("a1", "analyst"), lang="zh")
    assert texts(at, "title") == ["还款方案"]
    assert i18n.t("plans.page.not_random", "zh") in texts(at, "warning")
    assert i18n.t("plans.page.association", "zh") in texts(at, "caption")


def test_the_page_with_a_segment_and_a_filter(book):
    at = open_page("repayment_plans.py", User("a1", "analyst"))
    at.segmented_control(key="rp_segment").set_value("product").run()
    kept = next(d.value for d in at.dataframe if "segment" in d.value.columns and "kept_rate" in d.value.columns)
    assert set(kept["segment"]) == {"cash_loan", "instalment"}
    at.multiselect(key="flt_region").set_value(["west"]).run()
    assert not at.exception
    outcomes = next(d.value for d in at.dataframe if "uplift_pp" in d.value.columns)
    assert outcomes["plans"].tolist() == [1]  # P_OVER


def test_workbench_offers_a_plan_and_records_a_phone_answer(book):
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K5"})
    assert "Repayment plan" in texts(at, "subheader")
    at.radio(key="cd_plan_type").set_value("instalments")
    at.number_input(key="cd_plan_amount").set_value(600.0)
    at.number_input(key="cd_plan_instalments").set_value(3)
    first_due = dt.date.today() + dt.timedelta(days=10)
    at.date_input(key="cd_plan_first_due").set_value(first_due)
    next(b for b in at.button if b.form_id == "cd_plan_offer").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (made,) = plans.offers("K5", db=book)
    assert f"Offer {made.offer_id} is saved and shown on the customer's ticket page." in texts(at, "success")
    assert (made.status, made.amount, made.instalments, made.first_due_on) == ("offered", 600, 3, first_due)
    # the open offer replaces the form: its schedule, and a form for an answer given by phone
    assert not any(b.form_id == "cd_plan_offer" for b in at.button)
    assert any(t.startswith(f"Offer {made.offer_id} waits for the customer's answer") for t in texts(at, "text"))
    at.radio(key=f"cd_plan_choice_{made.offer_id}").set_value("accept")
    at.selectbox(key=f"cd_plan_channel_{made.offer_id}").set_value("phone")
    next(b for b in at.button if b.form_id == f"cd_plan_answer_{made.offer_id}").click()
    at.run()
    assert not at.exception
    plan_id = f"RP-{made.offer_id:06d}"
    assert (f"Offer {made.offer_id} is accepted: plan {plan_id} is agreed and the resolution is set to repayment "
            "plan.") in texts(at, "success")
    assert db.scalar("select resolution from complaints where complaint_id = 'K5'", db=book) == "repayment_plan"
    actions = db.read("select action from complaint_events where complaint_id = 'K5' and action <> 'imported' order by event_id",
                      db=book)["action"].tolist()
    assert actions == ["plan_offered", "plan_accepted", "resolution", "resolution"]
    schedule = next(d.value for d in at.dataframe if "instalment_no" in d.value.columns)
    assert schedule["instalment_no"].tolist() == [1, 2, 3]
    assert f"Offer {made.offer_id}: Accepted by c1 on" in "\n".join(texts(at, "text"))
    assert complaints.verify_chain(db=book).ok


def test_workbench_refuses_bad_terms_with_every_reason(book):
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K5"})
    at.radio(key="cd_plan_type").set_value("deferral")
    at.number_input(key="cd_plan_amount").set_value(0.0)
    at.number_input(key="cd_plan_instalments").set_value(4)
    next(b for b in at.button if b.form_id == "cd_plan_offer").click()
    at.run()
    (error,) = texts(at, "error")
    assert error.startswith("The offer was not saved:")
    assert i18n.t("plans.err.amount") in error and i18n.t("plans.err.deferral_instalments") in error
    assert plans.offers("K5", db=book) == []


def test_workbench_has_no_offer_action_for_a_complaint_without_a_plan_request(book):
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K6"})
    assert i18n.t("plans.workbench.not_requested") in texts(at, "info")
    assert not any(b.form_id == "cd_plan_offer" for b in at.button)


def test_customer_sees_the_schedule_and_accepts_on_the_ticket_page(book):
    first_due = dt.date.today() + dt.timedelta(days=10)
    made = plans.offer("K5", "c1", {"plan_type": "instalments", "amount": "600", "instalments": 3,
                                     "first_due_on": first_due.isoformat()}, db=book)
    at = open_page("ticket.py")
    at.text_input(key="tk_number").input(fixtures_plans.ticket("K5"))
    at.text_input(key="tk_last4").input("0005")
    next(b for b in at.button if b.form_id == "ticket_lookup").click()
    at.run()
    assert not at.exception
    assert "Repayment plan offered: Instalments" in texts(at, "subheader")
    schedule = at.table[0].value
    assert schedule.columns.tolist() == ["No.", "Due date", "Amount", "Paid in total by then"]
    assert schedule["Amount"].tolist() == ["¥200.00", "¥200.00", "¥200.00"]
    assert schedule["Due date"].tolist()[0] == first_due.isoformat()
    accept = at.button(key=f"tk_plan_accept_{made.offer_id}")
    assert accept.disabled  # the schedule must be agreed to first
    at.checkbox(key=f"tk_plan_agree_{made.offer_id}").check().run()
    at.button(key=f"tk_plan_accept_{made.offer_id}").click().run()
    assert not at.exception
    assert i18n.t("plans.ticket.accepted") in texts(at, "success")
    assert i18n.t("plans.ticket.state_accepted") in texts(at, "info")
    plan = db.read("select plan_id, complaint_id, status from repayment_plans where offer_id = $o",
                   {"o": made.offer_id}, db=book)
    assert plan.values.tolist() == [[f"RP-{made.offer_id:06d}", "K5", "active"]]
    events = db.read("select actor, action from complaint_events where complaint_id = 'K5' and action <> 'imported' order by event_id",
                     db=book)
    assert events.values.tolist()[1:3] == [["customer", "plan_accepted"], ["customer", "resolution"]]


def test_customer_declines_and_the_page_says_so(book):
    first_due = dt.date.today() + dt.timedelta(days=20)
    made = plans.offer("K5", "c1", {"plan_type": "deferral", "amount": "600", "instalments": 1,
                                     "first_due_on": first_due.isoformat()}, db=book)
    at = open_page("ticket.py", lang="zh")
    at.text_input(key="tk_number").input(fixtures_plans.ticket("K5"))
    at.text_input(key="tk_last4").input("0005")
    next(b for b in at.button if b.form_id == "ticket_lookup").click()
    at.run()
    at.button(key=f"tk_plan_decline_{made.offer_id}").click().run()
    assert i18n.t("plans.ticket.declined", "zh") in texts(at, "success")
    assert db.scalar("select status from plan_offers where offer_id = $o", {"o": made.offer_id}, db=book) == "declined"
