"""The improvement loop in a real browser: a compliance user creates an action, sees it in the action list
and sees its measured-effect chart."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import wait_for_app

WAIT_MS = 60_000  # the page runs several queries; shared CI machines are slow

TITLE = "Retrain agency AG02 collectors"


def _sign_in(page, portal_url: str, account: tuple[str, str]) -> None:
    page.goto(f"{portal_url}/signin")
    wait_for_app(page)
    page.get_by_role("textbox", name="User name").fill(account[0])
    page.get_by_role("textbox", name="Password").fill(account[1])
    page.get_by_role("button", name="Sign in").click()
    wait_for_app(page)
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as", timeout=WAIT_MS)


def _open_improvement(page) -> None:
    nav = page.locator('[data-testid="stSidebarNav"]')
    link = nav.get_by_role("link", name="Improvement loop")
    if not link.is_visible():
        nav.get_by_role("button", name=re.compile("View")).first.click()
    link.click()
    wait_for_app(page)
    page.get_by_role("heading", name=re.compile("Improvement loop")).wait_for()


def _choose(page, label: str, option: str | None) -> None:
    """Open a select box and click an option (the first one when option is None)."""
    box = page.get_by_role("combobox", name=re.compile(re.escape(label)))
    box.click()
    if box.get_attribute("aria-expanded") != "true":
        box.press("ArrowDown")  # a select box that accepts typed values opens on the keyboard
    options = page.get_by_role("option")
    (options.first if option is None else options.filter(has_text=option).first).click()


def test_create_action_and_see_its_effect(portal_url, browser_page, e2e_accounts):
    page = browser_page
    page.set_default_timeout(90_000)  # the page runs several queries; shared CI machines are slow
    _sign_in(page, portal_url, e2e_accounts["compliance"])
    _open_improvement(page)
    # The form is the last thing the script draws (inactive tabs are in the DOM, hidden).
    page.locator('[data-testid="stForm"]').wait_for(state="attached")
    wait_for_app(page)
    page.get_by_role("tab", name="Actions").click()

    form = page.locator('[data-testid="stForm"]')
    form.get_by_role("textbox", name="Title", exact=True).fill(TITLE)
    _choose(page, "Root cause", None)  # the most frequent root cause in the e2e demo
    form.get_by_role("textbox", name="Owner", exact=True).fill("Compliance lead")
    for part, digits in (("year", "2026"), ("month", "06"), ("day", "01")):
        form.get_by_role("spinbutton", name=f"{part}, Start date").click()
        page.keyboard.type(digits)
    form.get_by_role("textbox", name="The change made", exact=True).fill("Half-day retraining on call etiquette")
    _choose(page, "Target KPI", "Complaints per 10,000 contacts")
    _choose(page, "Comparison segment", "Agency")
    form.get_by_role("textbox", name="Segment value", exact=True).fill("AG02")
    form.get_by_role("button", name="Create action").click()
    wait_for_app(page)

    expect(page.get_by_text("Action IA-0002 created.")).to_be_visible(timeout=WAIT_MS)
    # The new action is listed, chosen, and shown with its measured effect.
    action_list = page.locator('[data-testid="stDataFrame"]').filter(visible=True).first
    expect(action_list).to_contain_text("IA-0002", timeout=WAIT_MS)
    expect(action_list).to_contain_text(TITLE, timeout=WAIT_MS)
    expect(page.get_by_text(f"IA-0002 · {TITLE}").first).to_be_visible(timeout=WAIT_MS)
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(
        has_text="Complaints per 10,000 contacts: the action's segment vs everyone else")
    expect(chart.first).to_be_visible(timeout=WAIT_MS)
    expect(chart.first).to_contain_text("Segment of the action", timeout=WAIT_MS)
    expect(chart.first).to_contain_text("Everyone else", timeout=WAIT_MS)
    expect(page.get_by_text(re.compile(r"^(Improved|No detectable change|Worse|Not enough data)")).first
           ).to_be_visible(timeout=WAIT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
