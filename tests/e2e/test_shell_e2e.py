"""The app shell in a real browser: it opens, switches language, and every page URL renders without error."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from portal import navigation
from tests.e2e.conftest import wait_for_app


def _assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.inner_text("body")[:2000]


def test_open_switch_language_and_visit_every_page(portal_url, browser_page):
    page = browser_page
    page.goto(portal_url)
    wait_for_app(page)
    page.get_by_role("heading", name="Collections Portal").wait_for()
    _assert_no_exception(page)

    page.locator('[data-testid="stSidebar"]').get_by_text("中文", exact=True).click()
    page.get_by_role("heading", name="催收与投诉管理门户").wait_for()
    assert "lang=zh" in page.url
    page.locator('[data-testid="stSidebar"]').get_by_text("English", exact=True).click()
    page.get_by_role("heading", name="Collections Portal").wait_for()

    for spec in navigation.PAGES:
        page.goto(f"{portal_url}/{spec.key}")
        wait_for_app(page)
        if "customer" in spec.roles:
            page.locator("h1").first.wait_for()
            assert "Please sign in" not in page.inner_text("body"), spec.key
        else:
            page.get_by_text("Please sign in").first.wait_for()
        _assert_no_exception(page)


@pytest.mark.parametrize("key", ["home", "feedback", "overview"])
def test_a_page_load_requests_nothing_outside_the_portal(portal_url, browser_page, signed_in, key):
    """Every asset (the favicon included) comes from the portal's own origin, customers' pages too."""
    page = browser_page
    if key == "overview":
        signed_in(page, "executive")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{portal_url}/{'' if key == 'home' else key}")
    wait_for_app(page)
    page.wait_for_timeout(2000)  # the favicon and late assets
    origin = urlparse(portal_url)
    outside = [u for u in requested if urlparse(u).scheme not in ("data", "blob")
               and (urlparse(u).scheme, urlparse(u).netloc) != (origin.scheme, origin.netloc)]
    assert requested and outside == [], outside
    icon = page.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
    assert icon and all(h.startswith(portal_url) for h in icon), icon
