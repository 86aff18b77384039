"""The HTTP API of a real `portal serve` (CONTRACT.md "HTTP API"): tokens and roles, the same rows as
`portal query`, uploads as `portal load`, the public complaint form and ticket lookup, errors as JSON."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest

from portal import audit, auth, complaints, db, i18n
from tests.fixtures_server import PortalServer, portal_cli

ROLES = ("executive", "compliance", "analyst", "admin")
CONTACTS = "contact_id,loan_id,contact_at,channel,party,outcome,cost\n"
FORM = {"mobile": "139 1234 8765", "issue": "communication_tactics", "channel": "phone", "consent": True,
        "description": "Eight calls on Sunday after 22:00; call me back on 13800138000 please"}


@pytest.fixture(scope="module")
def served(demo_db_template, tmp_path_factory):
    """A demo copy behind `portal serve` (uploads limited to 1 MB), and a token per role plus a revoked one."""
    folder = tmp_path_factory.mktemp("api")
    book = folder / "portal.duckdb"
    audit.copy_database(demo_db_template, book)  # with its audit keyring and anchor
    tokens = {role: auth.create_token(f"t_{role}", role, db=book)[1] for role in ROLES}
    tokens["revoked"] = auth.create_token("t_old", "admin", db=book)[1]
    auth.revoke_token("t_old", db=book)
    db.close(book)
    server = PortalServer(book, folder / "serve.log", env={"PORTAL_MAX_UPLOAD_MB": "1"}).start()
    yield server, tokens, folder
    server.stop()


def _error_line(answer) -> str:
    body = answer.json()
    assert set(body) <= {"error", "fields"} and "\n" not in body["error"] and "Traceback" not in answer.text
    assert answer.headers["content-type"].startswith("application/json")
    return body["error"]


def test_health_and_the_openapi_description_need_no_token(served):
    server, _, _ = served
    health = server.request("GET", "/api/v1/health")
    assert health.status == 200
    body = health.json()
    assert body["status"] == "ok" and body["database"] == "portal.duckdb" and body["stale_derived"] == []
    assert body["last_upload_at"] is None  # the demo was built, not uploaded
    spec = server.request("GET", "/api/v1/openapi.json")
    assert spec.status == 200 and spec.json()["openapi"].startswith("3.1")
    assert "/api/v1/queries/overview_kpis" in spec.json()["paths"]


def test_a_missing_wrong_or_revoked_token_gets_401(served):
    server, tokens, _ = served
    for headers in ({}, {"Authorization": "Bearer pt_wrong"}, {"Authorization": f"Bearer {tokens['revoked']}"},
                    {"Authorization": f"Basic {tokens['admin']}"}, {"Authorization": "Bearer"}):
        for path in ("/api/v1/queries", "/api/v1/queries/overview_kpis"):
            answer = server.request("GET", path, headers=headers)
            assert answer.status == 401 and answer.headers["www-authenticate"] == "Bearer", (headers, path)
            assert "token" in _error_line(answer)
    answer = server.request("POST", "/api/v1/uploads/contacts?filename=c.csv", body=b"x")
    assert answer.status == 401


def test_each_role_lists_and_runs_only_the_queries_of_its_pages(served):
    server, tokens, _ = served
    listed = {role: {q["name"]: q for q in server.request("GET", "/api/v1/queries", token=tokens[role]).json()["queries"]}
              for role in ROLES}
    assert "overview_kpis" in listed["executive"] and "complaint_queue" not in listed["executive"]
    assert "complaint_queue" in listed["compliance"] and "quarantine_rows" not in listed["compliance"]
    assert "quarantine_rows" in listed["analyst"]
    assert set(listed["admin"]) == set(db.named_queries())
    by = {p["name"]: p for p in listed["executive"]["collector_scorecard"]["parameters"]}["by"]
    assert by == {"name": "by", "type": "text", "required": False, "default": "agent", "choices": ["agent", "agency"]}
    answer = server.request("GET", "/api/v1/queries/complaint_queue", token=tokens["executive"])
    assert answer.status == 403 and "executive" in _error_line(answer)
    assert server.request("GET", "/api/v1/queries/complaint_queue", token=tokens["compliance"]).status == 200


@pytest.mark.parametrize(("query", "params"), [
    ("overview_kpis", ["as_of=2026-10-31", "product=cash_loan"]),
    ("channel_effectiveness", ["start=2026-05-01", "end=2026-11-01"]),
    ("roll_rates", []),
])
def test_api_rows_equal_portal_query_csv_byte_for_byte_and_json_too(served, query, params):
    server, tokens, folder = served
    url = f"/api/v1/queries/{query}?" + "&".join(params)
    cli_args = [a for p in params for a in ("--param", p)]
    for fmt in ("csv", "json"):
        cli = portal_cli(folder / "portal.duckdb", "query", query, *cli_args, "--format", fmt)
        assert cli.returncode == 0, cli.stderr
        answer = server.request("GET", url + f"&format={fmt}", token=tokens["executive"])
        assert answer.status == 200 and answer.text == cli.stdout and len(cli.stdout) > 50
        media = {"csv": "text/csv", "json": "application/json"}[fmt]
        assert answer.headers["content-type"].startswith(media)
    parquet = server.request("GET", url + "&format=parquet", token=tokens["executive"])
    frame = pd.read_parquet(io.BytesIO(parquet.body))
    expected = pd.read_csv(io.StringIO(portal_cli(folder / "portal.duckdb", "query", query, *cli_args).stdout))
    assert list(frame.columns) == list(expected.columns) and len(frame) == len(expected)


def test_a_list_parameter_may_be_repeated_and_bad_parameters_get_400(served):
    server, tokens, _ = served
    token = tokens["analyst"]
    joined = server.request("GET", "/api/v1/queries/overview_kpis?as_of=2026-10-31&product=cash_loan,instalment",
                            token=token)
    repeated = server.request("GET", "/api/v1/queries/overview_kpis?as_of=2026-10-31&product=cash_loan&product=instalment",
                              token=token)
    assert joined.status == repeated.status == 200 and joined.body == repeated.body
    for path, words in (("overview_kpis?as_of=2026-02-30", "not a valid date"),
                        ("overview_kpis?as_of=2026-10-31&nonsense=1", "no parameter nonsense"),
                        ("overview_kpis?as_of=2026-10-31&as_of=2026-09-30", "given 2 times"),
                        ("overview_kpis?as_of=2026-10-31&format=xml", "format must be one of"),
                        ("collector_scorecard?by=team", "must be one of"),
                        ("delinquency_funnel", "needs --param as_of")):
        answer = server.request("GET", f"/api/v1/queries/{path}", token=token)
        assert answer.status == 400 and words in _error_line(answer), (path, answer.text)
    answer = server.request("GET", "/api/v1/queries/no_such_query", token=token)
    assert answer.status == 404 and "unknown query" in _error_line(answer)


def test_uploads_answer_as_portal_load_does(served):
    server, tokens, _ = served
    good = (CONTACTS + "KA001,L00000001,2026-10-05 10:00:00,sms,debtor,delivered,0.05\n").encode()
    mixed = (CONTACTS + "KA002,L00000002,2026-10-05 10:00:00,sms,debtor,delivered,0.05\n"
             "KA003,L00000002,2026-10-05 11:00:00,pigeon,debtor,delivered,0.05\n").encode()
    bad = (CONTACTS + "KA004,L00000002,not a time,sms,debtor,delivered,0.05\n").encode()
    url = "/api/v1/uploads/contacts?filename=night.csv"
    answer = server.request("POST", url, body=good, token=tokens["analyst"])
    assert answer.status == 200, answer.text
    first = answer.json()
    assert (first["status"], first["accepted"], first["rejected"], first["rows"]) == ("loaded", 1, 0, 1)
    answer = server.request("POST", url, body=mixed, token=tokens["admin"])
    assert answer.status == 207 and (answer.json()["accepted"], answer.json()["rejected"]) == (1, 1)
    rejects = server.request("GET", answer.json()["rejects_url"], token=tokens["analyst"])
    assert rejects.status == 200 and "pigeon" in rejects.text
    answer = server.request("POST", url, body=bad, token=tokens["analyst"])
    assert answer.status == 422 and answer.json()["status"] == "rejected"
    answer = server.request("POST", url + "&strict=true", body=mixed.replace(b"KA00", b"KB00"), token=tokens["analyst"])
    assert answer.status == 422 and answer.json()["accepted"] == 0
    answer = server.request("POST", "/api/v1/uploads/contacts?filename=x.csv", body=b"\x00\x01binary", token=tokens["analyst"])
    assert answer.status == 422 and _error_line(answer).startswith("nothing loaded: ")
    answer = server.request("POST", "/api/v1/uploads/contacts?filename=big.csv", body=b"x" * (1024 * 1024 + 10),
                            token=tokens["analyst"])
    assert answer.status == 413 and "1 MB" in _error_line(answer)
    assert server.request("POST", url, body=good, token=tokens["executive"]).status == 403
    assert server.request("POST", "/api/v1/uploads/planets?filename=p.csv", body=good, token=tokens["analyst"]).status == 404
    assert server.request("POST", "/api/v1/uploads/contacts", body=good, token=tokens["analyst"]).status == 400
    history = server.request("GET", "/api/v1/queries/upload_history?format=csv", token=tokens["analyst"]).text
    assert history.count("api:t_analyst") >= 3 and "api:t_admin" in history
    health = server.request("GET", "/api/v1/health").json()
    assert health["last_upload_at"] is not None


def test_the_public_complaint_form_the_ticket_lookup_and_their_rate_limits(served):
    server, tokens, folder = served
    answer = server.request("POST", "/api/v1/complaints", json_body=FORM)
    assert answer.status == 201, answer.text
    created = answer.json()
    assert set(created) == {"ticket", "due_on"} and complaints.TICKET_RE.fullmatch(created["ticket"])
    ticket = created["ticket"]

    # field errors come back per field, in the asker's language, and nothing is stored
    answer = server.request("POST", "/api/v1/complaints", json_body={**FORM, "mobile": "12345", "consent": False,
                                                                     "colour": "red"})
    assert answer.status == 422
    fields = answer.json()["fields"]
    assert set(fields) == {"mobile", "consent", "colour"}
    zh = server.request("POST", "/api/v1/complaints?lang=zh", json_body={**FORM, "mobile": ""}).json()["fields"]
    assert zh["mobile"] != fields["mobile"] and re.search(r"[\u4e00-\u9fff]", zh["mobile"])
    json_type = {"Content-Type": "application/json"}
    assert server.request("POST", "/api/v1/complaints", body=b"{not json", headers=json_type).status == 400
    as_form = server.request("POST", "/api/v1/complaints", body=b'{"mobile": "13912348765"}',
                             headers={"Content-Type": "text/plain"})
    assert as_form.status == 415 and "application/json" in _error_line(as_form)
    assert server.request("POST", "/api/v1/complaints", json_body=[FORM]).status == 422
    honeypot = server.request("POST", "/api/v1/complaints", json_body={**FORM, "website": "http://spam.example"})
    assert honeypot.status == 422 and "form" in honeypot.json()["fields"]

    # the same form again within a minute is stored once, and the refusal uses up no quota
    again = server.request("POST", "/api/v1/complaints", json_body=FORM)
    assert again.status == 422 and again.json()["fields"] == {"form": i18n.t("complaints.err.duplicate", "en")}

    # the form's limit (5 per 10 minutes per client) counts the bot's attempt too: 2 used, 3 left
    for n in range(3):
        body = {**FORM, "description": f"{FORM['description']} ({n + 2})"}
        assert server.request("POST", "/api/v1/complaints", json_body=body).status == 201
    limited = server.request("POST", "/api/v1/complaints", json_body={**FORM, "description": "A sixth try, refused."})
    assert limited.status == 429 and limited.headers["retry-after"] == "600"
    _error_line(limited)

    # the ticket's public status, for the right pair only; wrong pairs and unknown tickets look alike
    found = server.request("GET", f"/api/v1/tickets/{ticket}?last4=8765")
    assert found.status == 200
    assert found.json() == {"ticket": ticket, "status": "new", "due_on": created["due_on"], "resolution": None}
    compact = ticket.replace("-", "").lower()
    assert server.request("GET", f"/api/v1/tickets/{compact}?last4=8765").json()["ticket"] == ticket
    wrong = server.request("GET", f"/api/v1/tickets/{ticket}?last4=1111")
    unknown = server.request("GET", "/api/v1/tickets/CP-2222-3333?last4=8765")
    assert wrong.status == unknown.status == 404 and wrong.body == unknown.body
    assert server.request("GET", f"/api/v1/tickets/{ticket}?last4=87").status == 400
    statuses = [server.request("GET", f"/api/v1/tickets/{ticket}?last4=8765").status for _ in range(8)]
    assert statuses[:6] == [200] * 6 and statuses[-1] == 429  # 10 lookups per 10 minutes

    # staff see the complaint as the pages show it: the number in the narrative masked; the CLI shows it clear
    detail = server.request("GET", f"/api/v1/queries/complaint_detail?complaint_id={ticket}", token=tokens["compliance"])
    assert detail.status == 200
    narrative = detail.json()[0]["narrative"]
    assert "13800138000" not in narrative and "138****8000" in narrative
    cli = portal_cli(folder / "portal.duckdb", "query", "complaint_detail", "--param", f"complaint_id={ticket}",
                     "--format", "json")
    assert "13800138000" in json.loads(cli.stdout)[0]["narrative"]


def test_any_other_api_path_or_method_answers_json(served):
    server, tokens, _ = served
    answer = server.request("GET", "/api/v1/no/such/route")
    assert answer.status == 404 and "no API route" in _error_line(answer)
    answer = server.request("DELETE", "/api/v1/health")
    assert answer.status == 405 and answer.headers["allow"] == "GET, HEAD"
    _error_line(answer)
    answer = server.request("POST", "/api/v1/contact-check", token=tokens["compliance"], json_body={})
    assert answer.status == 422 and _error_line(answer)  # no loan_id, channel or at (tests/unit/test_prevention_api.py)
    assert server.request("POST", "/api/v1/contact-check", json_body={}).status == 401


def test_every_request_with_or_without_a_valid_token_is_logged(served):
    server, tokens, folder = served
    server.request("GET", "/api/v1/queries/roll_rates?format=csv", token=tokens["executive"])
    server.stop()  # the log is written in the background and flushed on shutdown
    log = db.read("select * from api_token_uses", db=folder / "portal.duckdb")
    db.close(folder / "portal.duckdb")
    mine = log[log["token_name"] == "t_executive"]
    assert "/api/v1/queries/roll_rates?format=csv" in set(mine["path"])
    assert {200, 403} <= set(mine["status"]) and set(mine["role"]) == {"executive"}
    refused = log[log["token_name"].isna()]
    assert len(refused) >= 10 and set(refused["status"]) == {401}
    assert set(log["client"]) == {"127.0.0.1"}
    assert not (log["path"].str.contains("tickets") | log["path"].str.contains("complaints")).any()  # public: not token uses
