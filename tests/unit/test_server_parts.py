"""The server's parts that need no running server: the runfile, query access by role, the error
middleware, `next` checking, the OpenAPI document and the CLI's parser for forwarded commands."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import stat
import subprocess
import sys

import pytest

from portal import cli, config, db, navigation
from portal.server import access, app, auth_routes, openapi, render, runfile
from tests.fixtures_server import portal_cli


def test_runfile_is_private_found_while_its_process_lives_and_removed_only_by_its_writer(tmp_path):
    book = tmp_path / "p.duckdb"
    run = runfile.write(book, "0.0.0.0", 8123)  # noqa: S104
    path = runfile.path_for(book)
    assert path == tmp_path / "p.duckdb.server.json" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (run.host, run.port, run.pid, run.url) == ("127.0.0.1", 8123, os.getpid(), "http://127.0.0.1:8123")
    assert runfile.find(book) == run
    assert runfile.find(tmp_path / "other.duckdb") is None
    newer = runfile.write(book, "127.0.0.1", 8124)  # a newer server replaced it: the old one leaves it alone
    runfile.remove(run)
    assert runfile.find(book) == newer
    runfile.remove(newer)
    assert not path.exists() and runfile.find(book) is None


def test_a_stale_foreign_or_readable_runfile_is_ignored(tmp_path):
    book = tmp_path / "p.duckdb"
    run = runfile.write(book, "127.0.0.1", 8123)
    path = runfile.path_for(book)
    path.chmod(0o644)
    assert runfile.find(book) is None  # readable by others: not trusted
    path.chmod(0o600)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "pid": int(dead.stdout)}))
    assert runfile.find(book) is None  # its process is gone
    path.write_text(json.dumps({**data, "db": str(tmp_path / "elsewhere.duckdb")}))
    assert runfile.find(book) is None
    path.write_text("{not json")
    assert runfile.find(book) is None
    assert run.secret


def test_a_command_beside_a_stale_runfile_opens_the_database_itself(demo_db, tmp_path):
    db.close(demo_db)
    runfile.write(demo_db, "127.0.0.1", 9)  # this test process is alive, but nothing listens on port 9
    proc = portal_cli(demo_db, "query", "month_ends", "--format", "csv")
    assert proc.returncode == 0 and proc.stdout.startswith("as_of,loans\n2025-11-30,"), proc.stderr
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = runfile.path_for(demo_db)
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": int(dead.stdout)}))
    assert portal_cli(demo_db, "audit", "verify").returncode == 0


@pytest.mark.parametrize(("address", "host"), [(None, "127.0.0.1"), ("", "127.0.0.1"), ("localhost", "127.0.0.1"),
                                               ("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("10.1.2.3", "10.1.2.3")])  # noqa: S104
def test_the_cli_reaches_a_server_bound_anywhere_through_its_nearest_address(address, host):
    assert runfile.connect_host(address) == host


def test_each_page_s_queries_are_open_to_that_page_s_roles():
    calls = re.compile(r"""\b(?:run_(?:user_)?query|drill_down)\(\s*["']([a-z_]+)["']""")
    checked = 0
    for spec in navigation.PAGES:
        source = (config.PACKAGE_DIR / "app_pages" / spec.script).read_text(encoding="utf-8")
        for name in calls.findall(source):
            assert spec.roles & navigation.STAFF <= access.roles_for(name), (spec.key, name)
            checked += 1
    assert checked > 30
    assert access.roles_for("complaint_queue") == {"compliance", "admin"}
    assert access.roles_for("quarantine_rows") == {"analyst", "admin"}
    assert access.roles_for("overview_kpis") == {"executive", "compliance", "analyst", "admin"}
    assert not access.may_run("executive", "complaint_detail") and access.may_run("compliance", "complaint_detail")
    assert access.roles_for("a_query_no_page_shows") == {"admin"}


def test_every_named_query_is_shown_by_some_page():
    unshown = sorted(set(db.named_queries()) - set(access.pages_showing()))
    assert unshown == [], f"name the page that shows these in portal/server/access.py SHOWN_ELSEWHERE: {unshown}"


@pytest.mark.parametrize(("value", "safe"), [
    ("/channels?product=cash_loan&from=2026-06-30", "/channels?product=cash_loan&from=2026-06-30"),
    ("/", "/"), ("/overview", "/overview"),
    ("//evil.example/x", "D"), ("https://evil.example/", "D"), ("/\\evil.example", "D"), ("evil.example", "D"),
    ("javascript:alert(1)", "D"), ("/channels\r\nSet-Cookie: x=1", "D"), ("/api/v1/health", "D"),
    ("/account/signout", "D"), ("/_stcore/health", "D"), ("", "D"), (None, "D"), ("/" + "x" * 3000, "D"),
])
def test_next_is_only_ever_a_same_origin_page_path(value, safe):
    assert auth_routes.safe_next(value, "D") == safe


def _call(middleware_app, path: str):
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "path": path, "method": "GET", "headers": [], "query_string": b""}
    # a loop of its own in a thread of its own: a browser test earlier in the session may have left
    # Playwright's loop running on this thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, middleware_app(scope, receive, send)).result()
    return messages


def test_an_exception_under_api_is_a_one_line_json_500_never_a_traceback():
    async def broken(scope, receive, send):
        raise RuntimeError("secret internals\nTraceback (most recent call last)")

    messages = _call(app.JsonErrors(broken), "/api/v1/queries/x")
    start, body = messages
    assert start["status"] == 500 and (b"content-type", b"application/json") in start["headers"]
    payload = json.loads(body["body"])
    assert list(payload) == ["error"] and "\n" not in payload["error"] and "secret" not in payload["error"]
    with pytest.raises(RuntimeError):  # outside /api Streamlit's own handling applies
        _call(app.JsonErrors(broken), "/channels")


def test_the_openapi_document_describes_every_query_and_route():
    doc = openapi.document()
    json.dumps(doc)  # serialisable
    assert doc["openapi"].startswith("3.1")
    for name, q in db.named_queries().items():
        op = doc["paths"][f"/api/v1/queries/{name}"]["get"]
        assert [p["name"] for p in op["parameters"]] == [*q.params, "format"]
        assert {"200", "400", "401", "403"} <= set(op["responses"])
    for route in ("/api/v1/health", "/api/v1/openapi.json", "/api/v1/queries", "/api/v1/uploads/{dataset}",
                  "/api/v1/complaints", "/api/v1/tickets/{ticket}", "/api/v1/contact-check"):
        assert route in doc["paths"]
    params = {p["name"]: p for p in doc["paths"]["/api/v1/queries/collector_scorecard"]["get"]["parameters"]}
    assert params["by"]["schema"] == {"type": "string", "enum": ["agent", "agency"], "default": "agent"}
    assert not params["by"]["required"]
    assert doc["paths"]["/api/v1/queries/policy_violations"]["get"]["parameters"][1] == {
        "name": "start", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}}


def test_render_matches_what_portal_query_printed_before_the_server_existed(demo_db):
    frame = db.query("delinquency_buckets", db=demo_db)
    from portal.export import dates_as_text, neutralise

    legacy_csv = neutralise(dates_as_text(frame)).to_csv(index=False)
    assert render.as_text(frame, "csv") == legacy_csv
    rows = json.loads(render.as_text(frame, "json"))
    assert len(rows) == len(frame) and rows[0]["as_of"].count("-") == 2
    import pandas as pd

    back = pd.read_parquet(__import__("io").BytesIO(render.as_parquet(frame)))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_a_file_argument_resolves_against_the_caller_s_directory():
    parser = cli.build_parser()
    token = cli._caller_cwd.set("/srv/feeds")
    try:
        args = parser.parse_args(["load", "contacts", "night/contacts.csv"])
    finally:
        cli._caller_cwd.reset(token)
    assert args.file == "/srv/feeds/night/contacts.csv"
    assert parser.parse_args(["load", "contacts", "/abs/c.csv"]).file == "/abs/c.csv"


def test_commands_print_through_their_streams_not_sys_stdout():
    source = (config.PACKAGE_DIR / "cli.py").read_text(encoding="utf-8")
    bare = [line.strip() for line in source.splitlines()
            if re.search(r"\bprint\(", line) and "file=" not in line and not line.strip().startswith("#")]
    # a print split over lines names its stream on a later line: check each print call whole
    calls = re.findall(r"print\((?:[^()]|\([^()]*\))*\)", source)
    assert [c for c in calls if "file=" not in c] == [], bare
    assert "sys.stdout.write" not in source


def test_a_backup_is_a_whole_working_copy_and_never_overwrites(demo_db, tmp_path):
    copy = tmp_path / "backups" / "portal-2026-12-03.duckdb"
    assert db.backup(copy, db=demo_db) == copy.resolve()
    assert db.table_counts(db=copy) == db.table_counts(db=demo_db)
    pd_equal = db.query("channel_effectiveness", db=copy).equals(db.query("channel_effectiveness", db=demo_db))
    assert pd_equal  # views, macros and derived tables came along: the dashboards run on the copy
    db.close(copy)
    for target, words in ((copy, "exists already"), (demo_db, "not the database itself")):
        with pytest.raises(db.PortalDBError, match=words):
            db.backup(target, db=demo_db)


def test_streamlit_run_finds_the_server_s_st_app():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(config.PACKAGE_DIR / "server" / "app.py")
    assert found.is_asgi_app and found.app_name == "app"


def test_a_sign_in_code_works_once_and_only_for_the_browser_that_signed_in():
    from streamlit.web.server.starlette import starlette_app_utils as xsrf

    from portal.server import state

    # Streamlit re-masks its XSRF cookie each time it sets it: the token inside stays the browser's
    first = xsrf.generate_xsrf_token_string(b"browser-one-token", 1700000000)
    again = xsrf.generate_xsrf_token_string(*xsrf.decode_xsrf_token_string(first))
    other = xsrf.generate_xsrf_token_string(b"browser-two-token", 1700000000)
    assert first != again and state.browser_token(first) == state.browser_token(again) != state.browser_token(other)
    assert state.browser_token(None) is None and state.browser_token("plain") == "plain"

    code = state.handoff("sid-1", "/channels", state.browser_token(first))
    assert state.take_handoff(code, state.browser_token(again)) == ("sid-1", "/channels")
    assert state.take_handoff(code, state.browser_token(again)) is None  # used
    code = state.handoff("sid-2", "/", state.browser_token(first))
    assert state.take_handoff(code, state.browser_token(other)) is None  # another browser: refused, and spent
    assert state.take_handoff(code, state.browser_token(first)) is None
    code = state.handoff("sid-3", "/", None)  # no XSRF cookie when signing in: not bound
    assert state.take_handoff(code, "anything") == ("sid-3", "/")
    assert state.take_handoff("no such code") is None
