"""The portal run as a service, end to end: `portal serve` as a real subprocess on a free port over a demo
database, the `portal` command and the HTTP API beside it, and Debian's chromium signing in.

The story an operator would try: a nightly `portal load` and a `portal query` while the portal runs (the
same output as without a server), a BI tool's API calls (the CLI's CSV, byte for byte; 401 and 403), the
lender's app posting a complaint and a customer following it, staff whose sign-in survives a reload and a
new tab, a shared filtered link that survives sign-in, and `systemctl stop` (SIGTERM).
"""

from __future__ import annotations

import secrets

import pytest

from portal import audit, auth, db
from portal.i18n import t
from portal.server import runfile
from tests.e2e.conftest import open_nav, wait_for_app
from tests.fixtures_server import PortalServer, port_open, portal_cli

CONTACTS = "contact_id,loan_id,contact_at,channel,party,outcome,cost\n"
NIGHT_FILE = "night_feed_4471.csv"


@pytest.fixture(scope="module")
def service(demo_db_template, tmp_path_factory):
    """A demo book behind its own `portal serve`, with a staff account and an API token per role."""
    folder = tmp_path_factory.mktemp("service")
    book = folder / "portal.duckdb"
    audit.copy_database(demo_db_template, book)  # with its audit keyring and anchor
    accounts, tokens = {}, {}
    for role in ("executive", "compliance", "analyst", "admin"):
        password = secrets.token_urlsafe(12)
        auth.create_user(f"svc_{role}", role, password, db=book)
        accounts[role] = (f"svc_{role}", password)
        tokens[role] = auth.create_token(f"bi_{role}", role, db=book)[1]
    db.close(book)
    (folder / NIGHT_FILE).write_text(
        CONTACTS + "KN001,L00000001,2026-10-07 10:00:00,sms,debtor,delivered,0.05\n"
                   "KN002,L00000002,2026-10-07 11:00:00,owl,debtor,delivered,0.05\n", encoding="utf-8")
    server = PortalServer(book, folder / "serve.log").start()
    yield {"server": server, "book": book, "folder": folder, "accounts": accounts, "tokens": tokens}
    server.stop()


def _sign_in(page, url: str, account: tuple[str, str]) -> None:
    page.get_by_label(t("auth.username", "en"), exact=True).fill(account[0])
    page.get_by_label(t("auth.password", "en"), exact=True).fill(account[1])
    page.get_by_role("button", name=t("auth.submit", "en"), exact=True).click()
    _signed_in(page)


def _signed_in(page) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(t("auth.signout", "en"), exact=True).wait_for()
    wait_for_app(page)


def _gated(page) -> None:
    """The page shows the sign-in prompt and no signed-in user."""
    page.get_by_text(t("shell.signin_required", "en")).wait_for()
    wait_for_app(page)
    assert page.locator('[data-testid="stSidebar"]').get_by_text(t("auth.signout", "en"), exact=True).count() == 0


def test_the_cli_and_the_api_beside_the_running_portal(service):
    server, book, folder, tokens = service["server"], service["book"], service["folder"], service["tokens"]
    # a nightly load while the portal runs: through the server, the contract's exit code 3 and counts
    load = portal_cli(book, "load", "contacts", NIGHT_FILE, cwd=folder)
    assert load.returncode == 3, load.stderr
    assert load.stdout.startswith("contacts: 1 rows accepted, 1 rejected (upload ")
    # a BI tool's view of a dashboard query is `portal query`'s, byte for byte
    for query, params in (("overview_kpis", ["as_of=2026-10-31"]), ("channel_effectiveness", ["start=2026-05-01"])):
        cli = portal_cli(book, "query", query, *[a for p in params for a in ("--param", p)], "--format", "csv")
        api = server.request("GET", f"/api/v1/queries/{query}?{'&'.join(params)}&format=csv", token=tokens["executive"])
        assert cli.returncode == 0 and api.status == 200 and api.text == cli.stdout and cli.stdout.count("\n") > 1
    bad = portal_cli(book, "query", "overview_kpis", "--param", "as_of=yesterday")
    assert bad.returncode == 2 and bad.stderr == "portal: parameter as_of='yesterday' is not a valid date\n"
    assert server.request("GET", "/api/v1/queries/overview_kpis?as_of=yesterday", token=tokens["executive"]).status == 400
    assert server.request("GET", "/api/v1/queries/overview_kpis?as_of=2026-10-31").status == 401
    assert server.request("GET", "/api/v1/queries/audit_x", token="pt_not_a_token").status == 401
    assert server.request("GET", "/api/v1/queries/quarantine_rows?upload_id=1", token=tokens["executive"]).status == 403
    # the lender's app files a complaint for a customer, who follows it; a wrong pair looks like no ticket
    form = {"mobile": "13912348765", "issue": "privacy", "description": "My employer got a call about my loan.",
            "consent": True}
    created = server.request("POST", "/api/v1/complaints", json_body=form)
    assert created.status == 201
    ticket = created.json()["ticket"]
    assert server.request("POST", "/api/v1/complaints", json_body={**form, "issue": "aliens"}).status == 422
    assert server.request("GET", f"/api/v1/tickets/{ticket}?last4=8765").json()["status"] == "new"
    assert server.request("GET", f"/api/v1/tickets/{ticket}?last4=0000").status == 404
    assert server.request("GET", "/api/v1/tickets/CP-2345-6789?last4=8765").status == 404
    # the same request again within a minute is stored once (422, no quota used); others count to the limit
    assert server.request("POST", "/api/v1/complaints", json_body=form).status == 422
    for i in range(4):
        again = {**form, "description": f"My employer got a call about my loan ({i})."}
        assert server.request("POST", "/api/v1/complaints", json_body=again).status == 201
    last = {**form, "description": "My employer got a call about my loan (last)."}
    assert server.request("POST", "/api/v1/complaints", json_body=last).status == 429


def _quarantine_choices(page) -> str:
    """The uploads listed in Upload history's quarantine picker (the page's own text, not the canvas table)."""
    box = page.get_by_role("combobox", name=t("uploads.history_pick", "en"), exact=True)
    box.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    text = " ".join(options.all_inner_texts())
    page.keyboard.press("Escape")
    return text


def test_a_cli_load_shows_on_the_page_at_its_next_rerun(service, browser_page):
    server, book, folder = service["server"], service["book"], service["folder"]
    page = browser_page
    page.goto(f"{server.url}/signin")
    wait_for_app(page)
    _sign_in(page, server.url, service["accounts"]["analyst"])
    open_nav(page, "upload_history")
    assert NIGHT_FILE in _quarantine_choices(page) and "second.csv" not in _quarantine_choices(page)
    (folder / "second.csv").write_text(CONTACTS + "KN101,L00000003,2026-10-08 10:00:00,sms,debtor,delivered,0.05\n"
                                       "KN102,L00000003,2026-10-08 11:00:00,kite,debtor,delivered,0.05\n",
                                       encoding="utf-8")
    assert portal_cli(book, "load", "contacts", "second.csv", cwd=folder).returncode == 3
    open_nav(page, "upload_history")  # the next run of the same browser session
    assert "second.csv" in _quarantine_choices(page)


def test_sign_in_survives_a_reload_and_a_new_tab_and_sign_out_clears_the_cookie(service, browser):
    server = service["server"]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{server.url}/signin")
        wait_for_app(page)
        _sign_in(page, server.url, service["accounts"]["compliance"])
        (cookie,) = [c for c in context.cookies() if c["name"] == auth.SESSION_COOKIE]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert not cookie["secure"]  # plain http on loopback; Secure is set when served over https
        page.reload()
        _signed_in(page)
        other = context.new_page()
        other.set_default_timeout(60_000)
        other.goto(f"{server.url}/complaints_queue")
        _signed_in(other)
        assert t("shell.signin_required", "en") not in other.inner_text("body")
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name=t("auth.signout", "en")).click()
        page.get_by_text(t("auth.signed_out", "en")).wait_for()
        page.wait_for_url("**/signin*")
        assert auth.SESSION_COOKIE not in {c["name"] for c in context.cookies()}
        other.reload()  # the other tab's sign-in ended with it
        _gated(other)
        # an anonymous browser gets nothing from a forged cookie
        context.add_cookies([{**cookie, "value": cookie["value"][:-2] + "xx"}])
        other.reload()
        _gated(other)
    finally:
        context.close()


def test_a_shared_filtered_link_survives_sign_in(service, browser_page):
    server = service["server"]
    page = browser_page
    link = f"{server.url}/channels?product=cash_loan&from=2026-06-30&to=2026-09-30"
    page.goto(link)
    _gated(page)
    page.locator('[data-testid="stPageLink"] a').first.click()
    page.wait_for_url("**/signin?next=*")
    wait_for_app(page)
    _sign_in(page, server.url, service["accounts"]["executive"])
    page.wait_for_url("**/channels?*")
    wait_for_app(page)
    assert "product=cash_loan" in page.url and "from=2026-06-30" in page.url and "to=2026-09-30" in page.url
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text(t("codes.product.cash_loan", "en")).count() > 0  # the filter is applied
    assert page.get_by_role("heading", name=t("nav.channels", "en")).count() > 0


def test_a_next_that_leaves_the_portal_is_ignored(service, browser_page):
    server = service["server"]
    page = browser_page
    page.goto(f"{server.url}/signin?next=https://evil.example/channels")
    wait_for_app(page)
    _sign_in(page, server.url, service["accounts"]["executive"])
    page.wait_for_url(f"{server.url}/?*")  # home, on the portal
    assert page.url.startswith(server.url + "/")


def test_sigterm_closes_the_port_removes_the_runfile_and_frees_the_database(service, browser_page):
    server, book = service["server"], service["book"]
    page = browser_page
    page.goto(f"{server.url}/signin")  # a browser holds a websocket open, as on a real day
    wait_for_app(page)
    _sign_in(page, server.url, service["accounts"]["admin"])
    assert runfile.path_for(book).exists()
    closed, exited = server.stop()
    assert closed is not None and closed < 10, (closed, server.log())
    assert exited is not None, server.log()
    assert not port_open(server.port)
    assert not runfile.path_for(book).exists()
    assert "portal stopped" in server.log() and "Traceback" not in server.log()
    direct = portal_cli(book, "query", "upload_history", "--format", "csv")  # the file is free: opened directly
    assert direct.returncode == 0 and NIGHT_FILE in direct.stdout and "second.csv" in direct.stdout
