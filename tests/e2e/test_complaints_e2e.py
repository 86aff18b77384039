"""The complaint journey in a real browser: a customer submits the form and gets a ticket; compliance
finds it in the queue, triages, investigates and resolves it; the customer looks up the answer."""

from __future__ import annotations

import re
import time

from portal import complaints
from portal.i18n import t
from tests.e2e.conftest import at_a_persons_pace, open_nav, wait_for_app

ANSWER = "We checked the call log: <b>8 calls</b> after 22:00. The agent was retrained and the fees waived."


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.inner_text("body")[:2000]


def _panel(page):
    return page.locator('[role="tabpanel"]:visible')


def _save_in_tab(page, tab_key: str) -> None:
    page.get_by_role("tab", name=t(f"complaints.detail.act_{tab_key}", "en"), exact=True).click()
    _panel(page).get_by_role("button", name=t("complaints.detail.save", "en"), exact=True).click()
    page.get_by_text(t("complaints.detail.saved", "en")).wait_for()
    wait_for_app(page)
    _no_exception(page)


def test_complaint_journey(portal_url, browser, browser_page, signed_in):
    # 1. The customer, not signed in, fills the public form.
    customer = browser_page
    customer.goto(f"{portal_url}/feedback")
    wait_for_app(customer)
    shown_at = time.monotonic()
    customer.get_by_label(t("complaints.form.mobile", "en"), exact=True).fill("139 1234 8765")
    customer.get_by_label(t("complaints.form.issue", "en"), exact=True).click()
    customer.get_by_role("option", name=t("codes.issue.communication_tactics", "en"), exact=True).click()
    customer.get_by_label(t("complaints.form.description", "en"), exact=True).fill(
        "A collector called me 8 times on Sunday after 22:00 😡 <script>alert(1)</script>")
    customer.get_by_text(t("complaints.form.consent", "en")).click()
    at_a_persons_pace(customer, shown_at)  # a form sent back at once is refused as a bot's
    customer.get_by_role("button", name=t("complaints.form.submit", "en"), exact=True).click()
    success = customer.locator('[data-testid="stAlertContentSuccess"]')
    success.wait_for()
    ticket = re.search(r"CP-[A-Z0-9]{4}-[A-Z0-9]{4}", success.inner_text())[0]
    assert complaints.TICKET_RE.fullmatch(ticket)
    _no_exception(customer)
    assert customer.locator("script", has_text="alert(1)").count() == 0

    # 2. Compliance opens it from the queue, triages, investigates and resolves it.
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    staff = context.new_page()
    staff.set_default_timeout(30_000)
    try:
        signed_in(staff, "compliance")
        open_nav(staff, "complaints_queue")
        _no_exception(staff)
        staff.get_by_label(t("complaints.queue.open_label", "en"), exact=True).fill(ticket)
        staff.get_by_label(t("complaints.queue.open_label", "en"), exact=True).press("Enter")  # submits the form
        staff.wait_for_url("**/complaint_detail*")
        wait_for_app(staff)
        staff.locator('[data-testid="stCode"]', has_text=ticket).wait_for()
        body = staff.inner_text("body")
        assert "<script>alert(1)</script>" in body  # shown verbatim, as text
        assert "13912348765" not in body  # facts (with the masked mobile) sit in a grid; AppTests check them

        staff.get_by_role("tab", name=t("complaints.detail.act_triage", "en"), exact=True).click()
        _panel(staff).get_by_label(t("complaints.detail.sub_issue", "en"), exact=True).fill("calls at bad hours")
        _save_in_tab(staff, "triage")
        _save_in_tab(staff, "status")  # triaged -> investigating (the only next step)
        staff.get_by_role("tab", name=t("complaints.detail.act_resolution", "en"), exact=True).click()
        _panel(staff).get_by_label(t("complaints.detail.public_text", "en"), exact=True).fill(ANSWER)
        _save_in_tab(staff, "resolution")
        _save_in_tab(staff, "status")  # investigating -> resolved
        staff.locator('[data-testid="stMetricValue"]', has_text=t("codes.status.resolved", "en")).wait_for()

        # Every step is on the audit trail, and the chain verifies.
        more = staff.locator('[data-testid="stSidebarNavViewButton"]')
        if more.count() and "more" in more.first.inner_text().lower():
            more.first.click()  # the sidebar folds long page lists behind "View more"
        open_nav(staff, "audit")
        staff.get_by_role("button", name=t("complaints.audit.verify", "en"), exact=True).click()
        staff.get_by_text(re.compile(r"The chain is intact: [\d,]+ events verified\.")).wait_for()
        _no_exception(staff)
    finally:
        context.close()

    # 3. The customer follows the ticket and reads the answer.
    customer.goto(f"{portal_url}/ticket")
    wait_for_app(customer)
    customer.get_by_label(t("complaints.ticket.number", "en"), exact=True).fill(ticket.lower())
    customer.get_by_label(t("complaints.ticket.last4", "en"), exact=True).fill("8765")
    customer.get_by_role("button", name=t("complaints.ticket.lookup", "en"), exact=True).click()
    customer.get_by_text(ANSWER).wait_for()
    _no_exception(customer)
    customer.locator('[data-testid="stMetricValue"]', has_text=t("codes.status.resolved", "en")).wait_for()
    assert customer.locator("b", has_text="8 calls").count() == 0  # the answer is text, not HTML

