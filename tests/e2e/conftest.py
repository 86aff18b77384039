"""Real-browser fixtures: a live `portal serve` over a demo database, and Playwright driving
Debian's /usr/bin/chromium (never a downloaded browser)."""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
STAFF_ROLES = ("executive", "compliance", "analyst", "admin")

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_db(tmp_path_factory) -> Path:
    """The demo database the live server uses (built small, before the server locks it)."""
    from portal import demo

    path = tmp_path_factory.mktemp("e2e") / "portal.duckdb"
    demo.build(path, loans=1500, seed=5, end_month=demo.FIXED_END_MONTH)
    return path


@pytest.fixture(scope="session")
def e2e_accounts(e2e_db) -> dict[str, tuple[str, str]]:
    """One staff account per role in the e2e database: role -> (username, password)."""
    accounts: dict[str, tuple[str, str]] = {}
    try:
        from portal import auth
    except ImportError:
        return accounts
    for role in STAFF_ROLES:
        username, password = f"e2e_{role}", secrets.token_urlsafe(12)
        auth.create_user(username=username, role=role, password=password, db=e2e_db)
        accounts[role] = (username, password)
    return accounts


@pytest.fixture(scope="session")
def portal_url(e2e_db, e2e_accounts, tmp_path_factory) -> str:
    """Start `portal serve` (the real server: pages, API, cookie routes) on a free port over the e2e
    database; yield its URL; stop it with SIGTERM, as systemd does."""
    from tests.fixtures_server import PortalServer

    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (scripts/test.sh does this)")
    server = PortalServer(e2e_db, tmp_path_factory.mktemp("e2e-log") / "serve.log")
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, launched by Playwright with the flags this machine needs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def browser_page(browser):
    """A fresh browser context and page (own cookies and session) for one test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished running the script of the current page."""
    page.wait_for_selector('[data-testid="stApp"]', state="attached")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.trim() === ''",
        timeout=60_000,  # a busy shared machine
    )
    page.wait_for_timeout(300)


# --- Access control (security engineer's block): sign in through the real sign-in page. ---
# Under `portal serve` a sign-in sets the portal_session cookie, so page.goto() in the same browser
# context stays signed in (a new Streamlit session resumes it); open_nav(page, key) clicks the sidebar
# link instead, keeping the same session. A fresh browser context is anonymous.


@pytest.fixture
def signed_in(portal_url, e2e_accounts):
    """sign_in(page, role) -> page: sign a browser page in as the e2e account of that staff role (the
    sign-in page hands the session to /account/session, which sets the cookie and opens home)."""
    from portal.i18n import t

    def sign_in(page, role: str):
        username, password = e2e_accounts[role]
        page.goto(f"{portal_url}/signin")
        wait_for_app(page)
        page.get_by_label(t("auth.username", "en"), exact=True).fill(username)
        page.get_by_label(t("auth.password", "en"), exact=True).fill(password)
        page.get_by_role("button", name=t("auth.submit", "en"), exact=True).click()
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text(t("auth.signout", "en"), exact=True).wait_for()
        wait_for_app(page)
        return page

    return sign_in


def open_nav(page, key: str) -> None:
    """Open a page through its sidebar link, keeping the signed-in session."""
    from portal import navigation

    suffix = "/" if navigation.page(key).default else f"/{key}"
    page.locator(f'[data-testid="stSidebarNavLink"][href$="{suffix}"]').first.click()
    page.wait_for_url(f"**{suffix}*")
    page.wait_for_selector('[data-testid="stSkeleton"]', state="detached")
    wait_for_app(page)


def at_a_persons_pace(page, shown_at: float) -> None:
    """Wait until the public form has been on screen as long as the server asks of a person
    (form_min_seconds, with a margin); shown_at is time.monotonic() when the form was shown."""
    from portal import config

    left = float(config.setting("form_min_seconds")) + 0.5 - (time.monotonic() - shown_at)
    if left > 0:
        page.wait_for_timeout(left * 1000)
