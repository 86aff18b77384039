"""POST /api/v1/contact-check on a real `portal serve` (CONTRACT.md, HTTP API): a token is needed, the
rows are the named query's, a list is checked in order; errors are one-line JSON. The log is
tests/unit/test_prevention.py's (S1 in Shanghai has 3 connected calls on 03-11, ...)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from portal import auth, db, derived
from tests.fixtures_server import PortalServer, portal_cli
from tests.unit import test_prevention as fixture


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contact_check_api")
    book = folder / "portal.duckdb"
    db.connect(book)

    def load(cur):
        cur.executemany("insert into customers (customer_id, timezone, opted_out_channels) values (?, ?, ?)",
                        fixture.CUSTOMERS)
        cur.executemany("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, "
                        "disbursed_on) values (?, ?, 'cash_loan', 1000, 0.2, 12, date '2025-06-01')", fixture.LOANS)
        cur.executemany("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome) "
                        "values (?, ?, ?::timestamptz, ?, ?, ?)", fixture.CONTACTS)
        for name in derived.tables():
            derived.refresh_one(cur, name)

    db.write(load, db=book)
    tokens = {role: auth.create_token(f"t_{role}", role, db=book)[1] for role in ("compliance", "analyst")}
    db.close(book)
    caller = folder / "dialer"
    caller.mkdir()
    (caller / "plan.csv").write_text(PLAN_CSV, encoding="utf-8")
    direct = portal_cli(book, "check-contacts", "plan.csv", cwd=caller)  # before the server holds the file
    server = PortalServer(book, folder / "serve.log").start()
    yield server, tokens, book, caller, direct
    server.stop()


PLAN_CSV = ("loan_id,channel,party,planned_at\nS1a,phone,debtor,2026-03-20T10:00\nS1a,phone,debtor,2026-03-20T23:00\n"
            "S1b,phone,debtor,2026-03-20T11:00\nS1a,phone,debtor,2026-03-20T12:00\nS1b,phone,debtor,2026-03-20T13:00\n"
            "NOPE,sms,debtor,2026-03-20T10:00\n")


def post(server, token, body, query=""):
    return server.request("POST", f"/api/v1/contact-check{query}", token=token,
                          body=body if isinstance(body, bytes) else json.dumps(body).encode("utf-8"),
                          headers={"Content-Type": "application/json"})


def test_one_contact_gives_the_named_querys_rows(served):
    server, tokens, book, _, _ = served
    contact = {"loan_id": "S1a", "channel": "phone", "party": "debtor", "at": "2026-03-11T23:00:00"}
    answer = post(server, tokens["compliance"], contact)
    assert answer.status == 200, answer.text
    rows = answer.json()
    # quiet hours (until 08:00) and the day's 3 connected calls: the first instant neither blocks is 03-12 08:00
    assert [r["rule"] for r in rows] == ["quiet_hours", "connected_calls_per_day"]
    assert rows[0]["reason"] == "23:00 is inside quiet hours 22:00–08:00 in Asia/Shanghai"
    assert {r["next_allowed_at"] for r in rows} == {"2026-03-12T08:00:00+08:00"}
    # `portal query contact_check` (handed to the running server) prints the same rows
    done = portal_cli(book, "query", "contact_check", "--format", "json", "--param", "loan_id=S1a",
                      "--param", "channel=phone", "--param", "at=2026-03-11T23:00:00")
    assert done.returncode == 0, done.stderr
    named = json.loads(done.stdout)
    assert [(r["allowed"], r["rule"], r["reason"]) for r in named] == \
        [(r["allowed"], r["rule"], r["reason"]) for r in rows]
    assert {dt.datetime.fromisoformat(r["next_allowed_at"]) for r in named} == \
        {dt.datetime.fromisoformat(r["next_allowed_at"]) for r in rows}
    allowed = post(server, tokens["compliance"], {"loan_id": "S1a", "channel": "sms", "at": "2026-03-16T10:00:00"})
    assert allowed.json() == [{"allowed": True, "rule": None, "reason": None, "next_allowed_at": None}]


def test_a_list_is_a_plan_checked_in_order(served):
    server, tokens, *_ = served
    plan = [{"loan_id": loan, "channel": "phone", "at": f"2026-03-20T{hour}:00:00"}
            for loan, hour in (("S1a", 10), ("S1b", 11), ("S1a", 12), ("S1b", 13))]
    answer = post(server, tokens["compliance"], plan, "?lang=zh")
    assert answer.status == 200, answer.text
    checked = answer.json()
    assert [rows[0]["allowed"] for rows in checked] == [True, True, True, False]
    assert checked[3][0]["reason"] == "2026-03-20 已有 3 次接通电话，其中 3 次为可能接通的计划外呼（每天最多 3 次）"
    us = post(server, tokens["compliance"], [plan[0], {"loan_id": "N1a", "channel": "phone",
                                                       "at": "2026-03-12T09:00:00"}], "?pack=us")
    assert us.json()[1][0] == {"allowed": False, "rule": "calls_7_in_7",
                               "reason": "7 calls already in the 7 days up to 2026-03-12 09:00 (at most 7)",
                               "next_allowed_at": "2026-03-12T11:00:00-04:00"}


def test_tokens_roles_and_errors(served):
    server, tokens, *_ = served
    contact = {"loan_id": "S1a", "channel": "sms", "at": "2026-03-16T10:00:00"}
    assert post(server, None, contact).status == 401
    forbidden = post(server, tokens["analyst"], contact)
    assert forbidden.status == 403 and "analyst" in forbidden.json()["error"]
    bad = post(server, tokens["compliance"], [contact, {"loan_id": "NOPE", "channel": "fax", "at": "soon", "x": 1}])
    assert bad.status == 422
    body = bad.json()
    assert "\n" not in body["error"] and "Traceback" not in bad.text
    assert {(f["index"], f["field"]) for f in body["fields"]} == {(1, "x")}
    bad = post(server, tokens["compliance"], [contact, {"loan_id": "NOPE", "channel": "fax", "at": "soon"}])
    assert {(f["index"], f["field"]) for f in bad.json()["fields"]} == {(1, "loan_id"), (1, "channel"), (1, "at")}
    assert post(server, tokens["compliance"], b"{not json").status == 400
    assert post(server, tokens["compliance"], []).status == 422
    unknown = post(server, tokens["compliance"], contact, "?pack=nope")
    assert unknown.status == 400 and "unknown rule pack" in unknown.json()["error"]
    spec = server.request("GET", "/api/v1/openapi.json").json()["paths"]["/api/v1/contact-check"]["post"]
    assert {"200", "400", "401", "403", "413", "422"} <= set(spec["responses"])


def test_check_contacts_beside_the_server_answers_as_it_does_alone(served):
    server, _, book, caller, direct = served
    assert direct.returncode == 3 and direct.stdout.count("\n") == 7, direct.stderr
    through = portal_cli(book, "check-contacts", "plan.csv", cwd=caller)  # handed to the running server
    assert (through.returncode, through.stdout, through.stderr) == (direct.returncode, direct.stdout, direct.stderr)
    # --out is the caller's path, not the server's
    done = portal_cli(book, "check-contacts", "plan.csv", "--out", "checked.xlsx", cwd=caller)
    assert done.returncode == 3 and (caller / "checked.xlsx").is_file(), done.stderr
