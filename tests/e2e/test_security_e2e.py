"""Access control in a real browser: refused pages show a prompt and no data, an executive sees only
masked personal data (on screen and in CSV downloads), and signing out ends the session."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from portal import navigation
from portal.i18n import t
from tests.e2e.conftest import open_nav, wait_for_app

CLEAR_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
CLEAR_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
DATA = ('[data-testid="stDataFrame"], [data-testid="stMetric"], [data-testid="stTable"], '
        '.js-plotly-plot, [data-testid="stDownloadButton"]')


def clear_pii(text: str) -> list[str]:
    return CLEAR_MOBILE.findall(text) + CLEAR_ID.findall(text)


def test_the_pii_detector_can_fail():
    assert clear_pii("call 13812345678 id 11010119900307123X") == ["13812345678", "11010119900307123X"]
    assert clear_pii("call 138****5678 id 110***********123X, loan L000013812345678") == []


def test_anonymous_browser_gets_a_prompt_and_no_data_on_staff_pages(portal_url, browser_page):
    page = browser_page
    staff_pages = [s for s in navigation.PAGES if not navigation.may_open("customer", s.key)]
    assert "complaints_queue" in [s.key for s in staff_pages]
    for spec in staff_pages:
        page.goto(f"{portal_url}/{spec.key}")
        wait_for_app(page)
        page.get_by_text(t("shell.signin_required", "en")).wait_for()
        assert page.locator(DATA).count() == 0, spec.key
        assert page.locator('[data-testid="stException"]').count() == 0, spec.key
        # The refused page is not offered in the navigation either.
        assert page.locator(f'[data-testid="stSidebarNavLink"][href$="/{spec.key}"]').count() == 0


def test_executive_sees_only_masked_personal_data(signed_in, browser_page, tmp_path):
    browser_page.set_default_timeout(90_000)  # chart-heavy pages on a shared, busy machine
    page = signed_in(browser_page, "executive")
    links = page.locator('[data-testid="stSidebarNavLink"]')
    paths = {urlparse(links.nth(i).get_attribute("href")).path.strip("/") for i in range(links.count())}
    allowed = {s.key for s in navigation.PAGES if navigation.may_open("executive", s.key) and not s.default}
    assert "conduct" in allowed and "signin" in allowed
    # every page the executive may open is listed (none behind "View N more"), but no longer "Sign in";
    # so no users or complaint queue either
    assert paths - {""} == allowed - {"signin"}
    assert page.locator('[data-testid="stSidebarNavViewButton"]').count() == 0
    downloads = 0
    for spec in navigation.PAGES:
        if spec.section in ("public", "account") or not navigation.may_open("executive", spec.key):
            continue
        open_nav(page, spec.key)
        body = page.inner_text("body")
        assert t("shell.signin_required", "en") not in body, spec.key
        assert page.locator('[data-testid="stException"]').count() == 0, spec.key
        assert clear_pii(body) == [], spec.key
        csv_buttons = page.locator('[data-testid="stDownloadButton"] button').filter(
            has_text=t("common.download_csv", "en"))
        if csv_buttons.count():
            with page.expect_download() as info:
                csv_buttons.first.click()
            content = (tmp_path / f"{spec.key}.csv")
            info.value.save_as(content)
            assert clear_pii(content.read_text(encoding="utf-8-sig")) == [], spec.key
            downloads += 1
    assert downloads > 0  # at least one export was checked


def test_sign_out_ends_the_session(signed_in, browser_page):
    page = signed_in(browser_page, "compliance")
    open_nav(page, "complaints_queue")
    assert t("shell.signin_required", "en") not in page.inner_text("body")
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=t("auth.signout", "en")).click()
    page.get_by_text(t("auth.signed_out", "en")).wait_for()
    wait_for_app(page)
    assert page.locator('[data-testid="stSidebarNavLink"][href$="/complaints_queue"]').count() == 0


def test_documented_csp_lets_the_app_work(browser, signed_in, portal_url):
    """Serve pages with the Content-Security-Policy of docs/DEPLOYMENT.md: sign-in, charts and tables work
    and Chromium reports no violation."""
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.unit.test_security import documented_csp

    csp = documented_csp()
    # A document fulfilled by Playwright counts as another address space: allow its local WebSocket.
    strict = browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=CHROMIUM_ARGS + ["--disable-features=LocalNetworkAccessChecks"])
    try:
        page = strict.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(90_000)
        violations = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

        def with_csp(route):
            # Only documents carry a CSP; everything else goes straight to the server.
            if route.request.resource_type != "document":
                route.continue_()
                return
            for attempt in range(3):
                try:
                    # not following redirects: the sign-in cookie route answers 303 with Set-Cookie, and the
                    # browser must see both (its next document comes through here again)
                    response = route.fetch(max_redirects=0)
                    break
                except Exception:  # a busy server may reset one connection
                    if attempt == 2:
                        raise
            route.fulfill(response=response, headers={**response.headers, "content-security-policy": csp})

        page.route(f"{portal_url}/**", with_csp)
        signed_in(page, "executive")
        open_nav(page, "delinquency")
        page.locator(".js-plotly-plot").first.wait_for()
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        assert violations == []
    finally:
        strict.close()
