"""A repayment plan in a real browser: a customer asks for instalments on the public form, compliance
offers a plan from the complaint workbench, the customer opens the ticket page, reads the schedule and
accepts it, and compliance sees the plan agreed with its audit events."""

from __future__ import annotations

import io
import re
import time

import pandas as pd

from portal import complaints
from portal.i18n import t
from tests.e2e.conftest import at_a_persons_pace, open_nav, wait_for_app

LOAN = "L00000007"  # a loan of the e2e demo book (1,500 loans)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.inner_text("body")[:2000]


def _open_complaint(staff, ticket: str) -> None:
    open_nav(staff, "complaints_queue")
    box = staff.get_by_label(t("complaints.queue.open_label", "en"), exact=True)
    box.fill(ticket)
    box.press("Enter")
    staff.wait_for_url("**/complaint_detail*")
    wait_for_app(staff)
    staff.locator('[data-testid="stCode"]', has_text=ticket).wait_for()
    _no_exception(staff)


def test_customer_accepts_an_offered_plan_and_compliance_sees_it(portal_url, browser, browser_page, signed_in):
    # 1. The customer asks for 3 monthly instalments of 900 yuan on the public form.
    customer = browser_page
    customer.goto(f"{portal_url}/feedback")
    wait_for_app(customer)
    shown_at = time.monotonic()
    customer.get_by_label(t("complaints.form.mobile", "en"), exact=True).fill("139 5555 4321")
    customer.get_by_label(t("complaints.form.loan_id", "en"), exact=True).fill(LOAN)
    customer.get_by_label(t("complaints.form.issue", "en"), exact=True).click()
    customer.get_by_role("option", name=t("codes.issue.repayment_plan_request", "en"), exact=True).click()
    customer.get_by_label(t("complaints.form.description", "en"), exact=True).fill(
        "I lost my job in May and ask to repay the arrears over 3 months. <b>thanks</b>")
    customer.get_by_text(t("codes.plan_type.instalments", "en"), exact=True).click()
    customer.get_by_label(t("complaints.form.plan_amount", "en"), exact=True).fill("900")
    customer.get_by_label(t("complaints.form.plan_months", "en"), exact=True).fill("3")
    customer.get_by_text(t("complaints.form.consent", "en")).click()
    at_a_persons_pace(customer, shown_at)  # a form sent back at once is refused as a bot's
    customer.get_by_role("button", name=t("complaints.form.submit", "en"), exact=True).click()
    success = customer.locator('[data-testid="stAlertContentSuccess"]')
    success.wait_for()
    ticket = re.search(r"CP-[A-Z0-9]{4}-[A-Z0-9]{4}", success.inner_text())[0]
    assert complaints.TICKET_RE.fullmatch(ticket)

    # 2. Compliance opens the complaint and offers the plan the customer asked for (prefilled).
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    staff = context.new_page()
    staff.set_default_timeout(30_000)
    try:
        signed_in(staff, "compliance")
        _open_complaint(staff, ticket)
        staff.get_by_role("heading", name=t("plans.workbench.title", "en"), exact=True).wait_for()
        assert staff.get_by_label(t("plans.workbench.amount", "en"), exact=True).input_value() == "900.00"
        assert staff.get_by_label(t("plans.workbench.instalments", "en"), exact=True).input_value() == "3"
        staff.get_by_role("button", name=t("plans.workbench.offer", "en"), exact=True).click()
        offered = staff.get_by_text(re.compile(r"Offer (\d+) is saved and shown on the customer's ticket page\."))
        offered.wait_for()
        offer_id = int(re.search(r"Offer (\d+)", offered.inner_text())[1])
        wait_for_app(staff)
        _no_exception(staff)

        # 3. The customer opens the ticket page, reads the schedule and accepts it.
        customer.goto(f"{portal_url}/ticket")
        wait_for_app(customer)
        customer.get_by_label(t("complaints.ticket.number", "en"), exact=True).fill(ticket)
        customer.get_by_label(t("complaints.ticket.last4", "en"), exact=True).fill("4321")
        customer.get_by_role("button", name=t("complaints.ticket.lookup", "en"), exact=True).click()
        customer.get_by_text(t("plans.ticket.offer_title", "en", type=t("codes.plan_type.instalments", "en"))).wait_for()
        schedule = customer.locator('[data-testid="stTable"]').first
        schedule.wait_for()
        rows = schedule.locator("tbody tr")
        assert rows.count() == 3
        assert [rows.nth(i).locator("td").nth(2).inner_text().strip() for i in range(3)] == ["¥300.00"] * 3
        accept = customer.get_by_role("button", name=t("plans.ticket.accept", "en"), exact=True)
        assert accept.is_disabled()  # agreeing to the schedule comes first
        customer.get_by_text(t("plans.ticket.agree", "en"), exact=True).click()
        wait_for_app(customer)
        customer.get_by_role("button", name=t("plans.ticket.accept", "en"), exact=True).click()
        customer.get_by_text(t("plans.ticket.accepted", "en")).wait_for()
        customer.get_by_text(t("plans.ticket.state_accepted", "en")).wait_for()
        _no_exception(customer)

        # 4. Compliance sees it agreed: the offer's state, the plan, and the audit trail.
        _open_complaint(staff, ticket)
        staff.get_by_text(re.compile(rf"Offer {offer_id}: Accepted by customer on .*; plan RP-{offer_id:06d}\.")
                          ).wait_for()
        with staff.expect_download() as info:
            staff.locator(".st-key-cd_events_csv").get_by_role("button", name=t("common.download_csv", "en"),
                                                               exact=True).click()
        events = pd.read_csv(io.BytesIO(open(info.value.path(), "rb").read()))
        steps = events[["actor", "action", "field", "to_value"]].fillna("").values.tolist()
        assert ["customer", "plan_accepted", "plan_offer", "accepted"] in steps
        assert ["customer", "resolution", "resolution", "repayment_plan"] in steps
        assert any(s[1] == "plan_offered" and s[3].startswith(f"offer {offer_id}: 3 monthly instalments")
                   for s in steps)
        _no_exception(staff)
    finally:
        context.close()
