"""Complaints domain: form validation, tickets, lookup, rate limit, lifecycle, SLA clock, audit chain."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from portal import complaints, db, taxonomy
from portal.complaints import ComplaintError

SH = ZoneInfo("Asia/Shanghai")
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)> **bold** [link](http://evil)"


def rows(frame):
    """A frame's rows as lists, with missing values as None."""
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def good_form(**overrides):
    form = {
        "name": "张三", "mobile": "13812345678", "loan_id": "", "issue": "communication_tactics",
        "channel": "phone", "description": "They called me eight times yesterday after 22:00.",
        "plan_type": "none", "plan_amount": None, "plan_months": None, "contact_time": "morning",
        "consent": True, "website": "",
    }
    form.update(overrides)
    return form


def submit(tmp_db, client="client-a", **overrides):
    return complaints.submit(good_form(**overrides), client, db=tmp_db)


# Form validation, field by field.

def test_valid_form_passes():
    form, errors = complaints.validate_form(good_form())
    assert errors == {}
    assert form.mobile == "13812345678" and form.issue == "communication_tactics"


@pytest.mark.parametrize("mobile,key", [
    ("", "mobile_required"),
    ("12812345678", "mobile_invalid"),     # second digit 2 is not 3-9
    ("1381234567", "mobile_invalid"),      # 10 digits
    ("138123456789", "mobile_invalid"),    # 12 digits
    ("1381234567a", "mobile_invalid"),
    ("１３８１２３４５６７８", "mobile_invalid"),  # full-width digits are not ASCII digits
    ("23812345678", "mobile_invalid"),
])
def test_bad_mobile(mobile, key):
    form, errors = complaints.validate_form(good_form(mobile=mobile))
    assert form is None
    assert errors == {"mobile": f"complaints.err.{key}"}


@pytest.mark.parametrize("mobile", ["138 1234 5678", "+86 138-1234-5678", "008613812345678"])
def test_mobile_spacing_and_country_code_are_normalised(mobile):
    form, errors = complaints.validate_form(good_form(mobile=mobile))
    assert errors == {} and form.mobile == "13812345678"


def test_missing_consent_is_refused():
    for consent in (False, None, "yes", 1):
        _, errors = complaints.validate_form(good_form(consent=consent))
        assert errors == {"consent": "complaints.err.consent_required"}


def test_description_bounds():
    assert complaints.validate_form(good_form(description="too short"))[1] == {
        "description": "complaints.err.description_short"}
    assert complaints.validate_form(good_form(description="          x          "))[1] == {
        "description": "complaints.err.description_short"}
    assert complaints.validate_form(good_form(description="x" * 10))[1] == {}
    assert complaints.validate_form(good_form(description="x" * 5000))[1] == {}
    assert complaints.validate_form(good_form(description="x" * 5001))[1] == {
        "description": "complaints.err.description_long"}
    assert complaints.validate_form(good_form(description="x" * 100_000))[1] == {
        "description": "complaints.err.description_long"}


def test_emoji_and_chinese_are_fine():
    text = "催收员凌晨打电话骚扰我😡😡，还威胁要告诉我的单位。"
    form, errors = complaints.validate_form(good_form(description=text, name="李四🙂"))
    assert errors == {} and form.description == text and form.name == "李四🙂"


def test_issue_channel_and_contact_time_must_come_from_the_lists():
    assert complaints.validate_form(good_form(issue=""))[1] == {"issue": "complaints.err.issue_required"}
    assert complaints.validate_form(good_form(issue="fraud"))[1] == {"issue": "complaints.err.issue_invalid"}
    assert complaints.validate_form(good_form(channel="fax"))[1] == {"channel": "complaints.err.channel_invalid"}
    assert complaints.validate_form(good_form(channel=None))[1] == {}
    assert complaints.validate_form(good_form(contact_time="3am"))[1] == {
        "contact_time": "complaints.err.contact_time_invalid"}


def test_optional_name_and_loan_id():
    assert complaints.validate_form(good_form(name="", loan_id=""))[1] == {}
    assert complaints.validate_form(good_form(name="x" * 101))[1] == {"name": "complaints.err.name_too_long"}
    assert complaints.validate_form(good_form(loan_id="L'; drop table loans;--"))[1] == {
        "loan_id": "complaints.err.loan_id_invalid"}


def test_repayment_plan_fields():
    ok, errors = complaints.validate_form(good_form(plan_type="instalments", plan_amount="3000.50", plan_months=6))
    assert errors == {} and str(ok.plan_amount) == "3000.50" and ok.plan_months == 6
    _, errors = complaints.validate_form(good_form(plan_type="deferral", plan_amount=None, plan_months=None))
    assert errors == {"plan_amount": "complaints.err.plan_amount_invalid",
                      "plan_months": "complaints.err.plan_months_invalid"}
    for amount in ("-5", "0", "abc", "1.234", "nan", "inf"):
        _, errors = complaints.validate_form(good_form(plan_type="deferral", plan_amount=amount, plan_months=3))
        assert errors == {"plan_amount": "complaints.err.plan_amount_invalid"}, amount
    for months in (0, 61, 2.5, "x"):
        _, errors = complaints.validate_form(good_form(plan_type="instalments", plan_amount=100, plan_months=months))
        assert errors == {"plan_months": "complaints.err.plan_months_invalid"}, months
    assert complaints.validate_form(good_form(plan_type="loan"))[1] == {"plan_type": "complaints.err.plan_type_invalid"}
    # With no plan asked for, stray amounts are ignored rather than stored.
    form, _ = complaints.validate_form(good_form(plan_type="none", plan_amount="abc"))
    assert form.plan_amount is None


def test_several_bad_fields_report_each():
    _, errors = complaints.validate_form(good_form(mobile="1", description="", consent=False, issue=None))
    assert set(errors) == {"mobile", "description", "consent", "issue"}


def test_honeypot_rejects_without_storing(tmp_db):
    result = submit(tmp_db, website="http://spam.example")
    assert not result.ok and result.errors == {"form": "complaints.err.rejected"}
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 0


def test_a_form_sent_back_faster_than_a_person_can_is_refused_without_a_reason(tmp_db, monkeypatch):
    monkeypatch.setenv("PORTAL_FORM_MIN_SECONDS", "3")
    shown = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
    quick = complaints.submit(good_form(), "bot", now=shown + dt.timedelta(seconds=2.9), shown_at=shown, db=tmp_db)
    assert quick.errors == {"form": "complaints.err.rejected"}
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 0
    # the attempt used up one of the client's SUBMIT_LIMIT hits, as the rate limit counts bots too
    assert db.scalar("select count(*) from rate_limit_hits where bucket = 'submit'", db=tmp_db) == 1
    later = complaints.submit(good_form(), "bot", now=shown + dt.timedelta(seconds=3), shown_at=shown, db=tmp_db)
    assert later.ok
    # with no time the form was shown (the JSON API), only the rate limit applies; 0 turns the floor off
    assert complaints.submit(good_form(mobile="13912345678"), "api", now=shown, db=tmp_db).ok
    monkeypatch.setenv("PORTAL_FORM_MIN_SECONDS", "0")
    assert not complaints.too_fast(shown, shown)


def test_the_same_submission_from_the_same_client_within_a_minute_is_stored_once(tmp_db):
    at = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
    first = complaints.submit(good_form(), "client-a", now=at, db=tmp_db)
    again = complaints.submit(good_form(), "client-a", now=at + dt.timedelta(seconds=59), db=tmp_db)
    assert first.ok and again.errors == {"form": "complaints.err.duplicate"}
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 1
    # another client, another text, or a minute later: each is a new complaint
    assert complaints.submit(good_form(), "client-b", now=at + dt.timedelta(seconds=59), db=tmp_db).ok
    assert complaints.submit(good_form(description="They called me nine times today."), "client-a",
                             now=at + dt.timedelta(seconds=59), db=tmp_db).ok
    assert complaints.submit(good_form(), "client-a", now=at + dt.timedelta(seconds=61), db=tmp_db).ok
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 4


# Submission, ticket, lookup.

def test_submit_stores_verbatim_and_returns_ticket(tmp_db):
    now = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai
    result = complaints.submit(good_form(description=XSS, plan_type="instalments", plan_amount="1200",
                                         plan_months=12), "k", now=now, db=tmp_db)
    assert result.ok and complaints.TICKET_RE.fullmatch(result.ticket)
    assert result.due_on == dt.date(2026, 3, 16)  # 15 days after 1 March
    row = db.read("select * from complaints", db=tmp_db).iloc[0]
    assert row["narrative"] == XSS
    assert (row["source"], row["status"], row["ticket"], row["complaint_id"]) == ("form", "new", result.ticket,
                                                                                 result.ticket)
    assert (row["plan_type"], float(row["plan_amount"]), row["plan_months"]) == ("instalments", 1200.0, 12)
    events = db.read("select actor, action from complaint_events", db=tmp_db)
    assert events.to_dict("records") == [{"actor": "customer", "action": "created"}]


def test_submit_links_customer_by_loan(tmp_db):
    db.execute("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months,"
               " disbursed_on) values ('L1', 'C9', 'cash_loan', 1000, 0.2, 12, date '2025-01-01')", db=tmp_db)
    result = submit(tmp_db, loan_id="L1")
    assert db.scalar("select customer_id from complaints where ticket = $t", {"t": result.ticket}, db=tmp_db) == "C9"


def test_tickets_are_random_and_unambiguous():
    tickets = {complaints.new_ticket() for _ in range(2000)}
    assert len(tickets) == 2000
    assert all(complaints.TICKET_RE.fullmatch(t) for t in tickets)
    assert not set("".join(tickets)) & set("01OIL")


def test_lookup_by_ticket_and_last4(tmp_db):
    ticket = submit(tmp_db).ticket
    found = complaints.lookup(ticket, "5678", "lk", db=tmp_db)
    assert found.status == "new" and found.public_resolution is None
    assert complaints.lookup(ticket.lower().replace("-", ""), "5678", "lk", db=tmp_db).ticket == ticket
    assert complaints.lookup(ticket, "5679", "lk", db=tmp_db) is None
    assert complaints.lookup("CP-2222-2222", "5678", "lk", db=tmp_db) is None
    assert complaints.lookup(ticket, "", "lk", db=tmp_db) is None


def test_lookup_shows_public_text_only_once_resolved(tmp_db):
    ticket = submit(tmp_db).ticket
    complaints.triage(ticket, "c1", "communication_tactics", db=tmp_db)
    complaints.record_resolution(ticket, "c1", "explanation", "We apologise; the agent was retrained.", db=tmp_db)
    assert complaints.lookup(ticket, "5678", "lk", db=tmp_db).public_resolution is None
    complaints.transition(ticket, "c1", "investigating", db=tmp_db)
    complaints.transition(ticket, "c1", "resolved", db=tmp_db)
    found = complaints.lookup(ticket, "5678", "lk", db=tmp_db)
    assert (found.status, found.public_resolution) == ("resolved", "We apologise; the agent was retrained.")


# Rate limit.

def test_submit_rate_limit_five_per_ten_minutes(tmp_db):
    t0 = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
    results = [complaints.submit(good_form(), "ip-1", now=t0 + dt.timedelta(minutes=i), db=tmp_db)
               for i in range(6)]
    assert [r.ok for r in results] == [True] * 5 + [False]
    assert results[5].errors == {"form": "complaints.err.rate_limited"}
    # Another client is not affected; the first is again after the window slides past its first hit.
    assert complaints.submit(good_form(), "ip-2", now=t0 + dt.timedelta(minutes=6), db=tmp_db).ok
    assert complaints.submit(good_form(), "ip-1", now=t0 + dt.timedelta(minutes=10, seconds=1), db=tmp_db).ok
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 7


def test_invalid_forms_do_not_use_up_the_quota(tmp_db):
    t0 = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
    for _ in range(10):
        complaints.submit(good_form(mobile="1"), "ip-1", now=t0, db=tmp_db)
    assert complaints.submit(good_form(), "ip-1", now=t0, db=tmp_db).ok


def test_rate_limit_survives_a_new_connection(tmp_db):
    t0 = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
    for _ in range(5):
        assert complaints.allow("submit", "ip-9", now=t0, db=tmp_db)
    db.close(tmp_db)
    assert not complaints.allow("submit", "ip-9", now=t0, db=tmp_db)
    stored = db.read("select distinct client_hash from rate_limit_hits", db=tmp_db)["client_hash"].tolist()
    assert "ip-9" not in stored and len(stored[0]) == 64


def test_lookup_is_rate_limited(tmp_db):
    ticket = submit(tmp_db).ticket
    answers = [complaints.lookup(ticket, f"{i:04d}", "guesser", db=tmp_db) for i in range(11)]
    assert answers[:10] == [None] * 10 and answers[10] == "rate_limited"


# Lifecycle.

def _at_status(tmp_db, status):
    ticket = submit(tmp_db, client=f"c-{status}").ticket
    path = {"new": [], "triaged": ["triaged"], "investigating": ["triaged", "investigating"],
            "resolved": ["triaged", "investigating", "resolved"],
            "closed": ["triaged", "investigating", "resolved", "closed"]}[status]
    complaints.record_resolution(ticket, "c1", "explanation", "Answer.", db=tmp_db)
    for step in path:
        complaints.transition(ticket, "c1", step, db=tmp_db)
    return ticket


LEGAL = {("new", "triaged"), ("triaged", "investigating"), ("investigating", "resolved"),
         ("resolved", "closed"), ("resolved", "investigating")}


@pytest.mark.parametrize("src", taxonomy.COMPLAINT_STATUSES)
@pytest.mark.parametrize("dst", taxonomy.COMPLAINT_STATUSES)
def test_every_transition(tmp_db, src, dst):
    ticket = _at_status(tmp_db, src)
    if (src, dst) in LEGAL:
        complaints.transition(ticket, "c1", dst, db=tmp_db)
        assert db.scalar("select status from complaints where ticket = $t", {"t": ticket}, db=tmp_db) == dst
    else:
        with pytest.raises(ComplaintError) as err:
            complaints.transition(ticket, "c1", dst, db=tmp_db)
        expected = "complaints.err.closed" if src == "closed" else "complaints.err.illegal_transition"
        assert err.value.key == expected
        if src != "closed":
            assert f"cannot move from {src} to {dst}" in str(err.value)
        assert db.scalar("select status from complaints where ticket = $t", {"t": ticket}, db=tmp_db) == src


def test_unknown_status_is_refused(tmp_db):
    ticket = submit(tmp_db).ticket
    with pytest.raises(ComplaintError, match="not a complaint status"):
        complaints.transition(ticket, "c1", "escalated", db=tmp_db)


def test_resolve_needs_a_resolution_and_reopen_clears_resolved_at(tmp_db):
    ticket = submit(tmp_db).ticket
    complaints.triage(ticket, "c1", "privacy", "shared contacts", db=tmp_db)
    complaints.transition(ticket, "c1", "investigating", db=tmp_db)
    with pytest.raises(ComplaintError) as err:
        complaints.transition(ticket, "c1", "resolved", db=tmp_db)
    assert err.value.key == "complaints.err.resolution_first"
    complaints.record_resolution(ticket, "c1", "monetary_relief", "Fee refunded.", db=tmp_db)
    complaints.transition(ticket, "c1", "resolved", db=tmp_db)
    assert db.scalar("select resolved_at is not null from complaints", db=tmp_db)
    complaints.transition(ticket, "c1", "investigating", "customer disputes", db=tmp_db)
    assert db.scalar("select resolved_at is null from complaints", db=tmp_db)


def test_triage_sets_issue_and_moves_new_to_triaged(tmp_db):
    ticket = submit(tmp_db).ticket
    complaints.triage(ticket, "c1", "third_party_disclosure", "called employer", note="from call log", db=tmp_db)
    row = db.read("select issue, sub_issue, status from complaints", db=tmp_db).iloc[0]
    assert tuple(row) == ("third_party_disclosure", "called employer", "triaged")
    events = db.read("select actor, action, field, from_value, to_value, note from complaint_events"
                     " where action = 'triage' order by event_id", db=tmp_db)
    assert rows(events[["field", "from_value", "to_value"]]) == [
        ["issue", "communication_tactics", "third_party_disclosure"],
        ["sub_issue", None, "called employer"],
        ["status", "new", "triaged"],
    ]
    assert set(events["actor"]) == {"c1"} and set(events["note"]) == {"from call log"}
    with pytest.raises(ComplaintError):
        complaints.triage(ticket, "c1", "not_an_issue", db=tmp_db)


def test_other_actions_record_events(tmp_db):
    ticket = submit(tmp_db).ticket
    complaints.assign(ticket, "lead", "c2", db=tmp_db)
    complaints.record_root_cause(ticket, "c2", "dialler ignored quiet hours", db=tmp_db)
    complaints.record_substantiation(ticket, "c2", True, "call log shows 8 calls after 22:00", db=tmp_db)
    assert complaints.assign(ticket, "lead", "c2", db=tmp_db) == []  # unchanged: no event
    row = db.read("select assignee, root_cause, substantiated, evidence from complaints", db=tmp_db).iloc[0]
    assert tuple(row) == ("c2", "dialler ignored quiet hours", True, "call log shows 8 calls after 22:00")
    fields = db.read("select field, to_value from complaint_events where action <> 'created' order by event_id",
                     db=tmp_db).values.tolist()
    assert fields == [["assignee", "c2"], ["root_cause", "dialler ignored quiet hours"],
                      ["substantiated", "true"], ["evidence", "call log shows 8 calls after 22:00"]]
    with pytest.raises(ComplaintError, match="evidence"):
        complaints.record_substantiation(ticket, "c2", False, "  ", db=tmp_db)
    with pytest.raises(ComplaintError):
        complaints.assign("nope", "lead", "c2", db=tmp_db)


def test_extension_rules(tmp_db):
    ticket = submit(tmp_db).ticket
    with pytest.raises(ComplaintError, match="15 more days"):
        complaints.extend(ticket, "c1", 30, "complex", db=tmp_db)
    with pytest.raises(ComplaintError, match="reason"):
        complaints.extend(ticket, "c1", 15, "   ", db=tmp_db)
    complaints.extend(ticket, "c1", 15, "needs the agency's recordings", db=tmp_db)
    with pytest.raises(ComplaintError, match="already recorded"):
        complaints.extend(ticket, "c1", 15, "again", db=tmp_db)
    complaints.extend(ticket, "c1", 45, "regulator asked for a joint review", db=tmp_db)
    row = db.read("select extension_days, extension_reason from complaints", db=tmp_db).iloc[0]
    assert (row["extension_days"], row["extension_reason"]) == (45, "regulator asked for a joint review")


def test_closed_complaints_accept_no_action(tmp_db):
    ticket = _at_status(tmp_db, "closed")
    for action in (lambda: complaints.assign(ticket, "c1", "c3", db=tmp_db),
                   lambda: complaints.extend(ticket, "c1", 15, "late", db=tmp_db),
                   lambda: complaints.triage(ticket, "c1", "other", db=tmp_db)):
        with pytest.raises(ComplaintError) as err:
            action()
        assert err.value.key == "complaints.err.closed"


# SLA clock on fixed dates (Asia/Shanghai calendar).

RECEIVED = dt.datetime(2026, 3, 1, 10, 0, tzinfo=SH)


def test_due_at_with_and_without_extensions():
    assert complaints.due_at(RECEIVED) == dt.datetime(2026, 3, 16, 10, 0, tzinfo=SH)
    assert complaints.due_at(RECEIVED, 15) == dt.datetime(2026, 3, 31, 10, 0, tzinfo=SH)
    assert complaints.due_at(RECEIVED, 45) == dt.datetime(2026, 4, 30, 10, 0, tzinfo=SH)


def test_timely_is_at_or_before_due():
    due = dt.datetime(2026, 3, 16, 10, 0, tzinfo=SH)
    assert complaints.is_timely(RECEIVED, due, 0)
    assert not complaints.is_timely(RECEIVED, due + dt.timedelta(seconds=1), 0)
    assert complaints.is_timely(RECEIVED, due + dt.timedelta(days=10), 15)
    assert not complaints.is_timely(RECEIVED, None, 0)


@pytest.mark.parametrize("now,ext,days,level", [
    (dt.datetime(2026, 3, 2, 9, 0, tzinfo=SH), 0, 14, "ok"),
    (dt.datetime(2026, 3, 12, 9, 0, tzinfo=SH), 0, 4, "ok"),
    (dt.datetime(2026, 3, 13, 9, 0, tzinfo=SH), 0, 3, "amber"),
    (dt.datetime(2026, 3, 16, 9, 59, tzinfo=SH), 0, 0, "amber"),
    (dt.datetime(2026, 3, 16, 10, 1, tzinfo=SH), 0, 0, "red"),
    (dt.datetime(2026, 3, 20, 9, 0, tzinfo=SH), 0, -4, "red"),
    (dt.datetime(2026, 3, 20, 9, 0, tzinfo=SH), 15, 11, "ok"),
    (dt.datetime(2026, 3, 28, 9, 0, tzinfo=SH), 15, 3, "amber"),
    (dt.datetime(2026, 4, 29, 9, 0, tzinfo=SH), 45, 1, "amber"),
    (dt.datetime(2026, 5, 1, 9, 0, tzinfo=SH), 45, -1, "red"),
])
def test_deadline_clock_open(now, ext, days, level):
    assert complaints.deadline_clock(RECEIVED, ext, "investigating", now, tz=SH) == complaints.Clock(days, level)


def test_deadline_clock_done():
    later = dt.datetime(2026, 6, 1, tzinfo=SH)
    on_time = dt.datetime(2026, 3, 15, tzinfo=SH)
    late = dt.datetime(2026, 3, 17, tzinfo=SH)
    assert complaints.deadline_clock(RECEIVED, 0, "resolved", later, on_time, tz=SH) == complaints.Clock(None, "timely")
    assert complaints.deadline_clock(RECEIVED, 0, "closed", later, late, tz=SH) == complaints.Clock(None, "late")
    assert complaints.deadline_clock(RECEIVED, 15, "closed", later, late, tz=SH) == complaints.Clock(None, "timely")


# Audit chain.

def _events(tmp_db, n):
    ticket = submit(tmp_db).ticket
    for i in range(n):
        complaints.assign(ticket, "lead", f"agent-{i}", db=tmp_db)
    return ticket


def test_chain_valid_after_actions(tmp_db):
    _events(tmp_db, 5)
    result = complaints.verify_chain(db=tmp_db)
    assert (result.ok, result.checked, result.broken_event_id) == (True, 6, None)
    assert "\n" not in result.message and "6" in result.message


def test_empty_chain_is_valid(tmp_db):
    assert complaints.verify_chain(db=tmp_db) == complaints.VerifyResult(
        True, 0, None, "audit chain intact: 0 events verified")


def test_each_event_hash_is_sha256_of_prev_and_canonical_json(tmp_db):
    _events(tmp_db, 1)
    rows = db.read("select event_id, prev_hash, hash from complaint_events order by event_id", db=tmp_db)
    assert rows["prev_hash"].iloc[0] == complaints.GENESIS_HASH
    assert rows["prev_hash"].iloc[1] == rows["hash"].iloc[0]


@pytest.mark.parametrize("sql,broken", [
    ("update complaint_events set to_value = 'agent-X' where event_id = 3", 3),
    ("update complaint_events set actor = 'someone' where event_id = 2", 2),
    ("update complaint_events set event_at = event_at + interval 1 second where event_id = 4", 4),
    ("update complaint_events set hash = repeat('a', 64) where event_id = 5", 5),
    ("delete from complaint_events where event_id = 3", 4),
    ("delete from complaint_events where event_id = 6", 6),
    ("delete from complaint_events", 1),
])
def test_tampering_is_detected_and_named(tmp_db, sql, broken):
    _events(tmp_db, 5)
    db.execute(sql, db=tmp_db)
    result = complaints.verify_chain(db=tmp_db)
    assert not result.ok
    assert result.broken_event_id == broken
    assert f"event {broken}" in result.message and "\n" not in result.message


def test_twenty_concurrent_appends_keep_the_chain(tmp_db):
    ticket = submit(tmp_db).ticket
    errors = []

    def worker(i):
        try:
            complaints.assign(ticket, f"user-{i}", f"agent-{i}", db=tmp_db)
        except Exception as exc:  # collected: a failure in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    result = complaints.verify_chain(db=tmp_db)
    assert result.ok and result.checked == 21
    ids = db.read("select event_id from complaint_events order by event_id", db=tmp_db)["event_id"].tolist()
    assert ids == list(range(1, 22))
    actors = set(db.read("select actor from complaint_events where action = 'assign'", db=tmp_db)["actor"])
    assert actors == {f"user-{i}" for i in range(20)}


def test_backfill_and_import_events(tmp_db):
    db.execute("insert into complaints (complaint_id, received_at, source, issue, status) values"
               " ('U1', timestamptz '2026-01-05 10:00:00+08', 'hotline', 'other', 'new'),"
               " ('U2', timestamptz '2026-01-06 10:00:00+08', 'regulator', 'privacy', 'new')", db=tmp_db)
    assert complaints.ensure_creation_events(tmp_db) == 2
    assert complaints.ensure_creation_events(tmp_db) == 0
    db.write(lambda cur: complaints.record_import_events(cur, ["U1"], "uploader"), db=tmp_db)
    events = db.read("select complaint_id, actor, action, note from complaint_events order by event_id", db=tmp_db)
    assert rows(events) == [["U1", "system", "imported", "source=hotline"],
                                      ["U2", "system", "imported", "source=regulator"],
                                      ["U1", "uploader", "imported", None]]
    assert complaints.verify_chain(db=tmp_db).ok


def test_rule_pack_is_read_from_config():
    pack = complaints.rule_pack("cn")
    assert (pack["quiet_start"], pack["connected_calls_per_day"], pack["visit_min_collectors"]) == ("22:00", 3, 2)
    assert complaints.rule_pack("us")["calls_in_window"] == 7


def test_client_key_prefers_a_real_ip():
    assert complaints.client_key("203.0.113.9", "session:abc") == "ip:203.0.113.9"
    assert complaints.client_key(None, "session:abc") == "session:abc"
    assert complaints.client_key("", "session:abc") == "session:abc"


def test_mark_breaches():
    contacts = pd.DataFrame({"contact_id": ["A", "B", "C"]})
    breaches = pd.DataFrame({"contact_id": ["B", "B", "C", "B"],
                             "rule": ["quiet_hours", "connected_calls_per_day", "quiet_hours", "quiet_hours"]})
    marked = complaints.mark_breaches(contacts, breaches)
    assert marked["breach"].tolist() == ["", "connected_calls_per_day, quiet_hours", "quiet_hours"]
    assert complaints.mark_breaches(contacts, None)["breach"].tolist() == ["", "", ""]
    assert complaints.mark_breaches(contacts, breaches.iloc[0:0])["breach"].tolist() == ["", "", ""]


def test_reset_chain_for_a_demo_rebuild(tmp_db):
    _events(tmp_db, 3)

    def wipe(cur):
        cur.execute("delete from complaints")
        complaints.reset_chain(cur)

    complaints.write(wipe, db=tmp_db)  # after the commit the old anchor is moved aside
    assert complaints.verify_chain(db=tmp_db).ok
    submit(tmp_db, client="client-after-reset")  # the same form from the same client would be a duplicate
    assert db.scalar("select min(event_id) from complaint_events", db=tmp_db) == 1
    result = complaints.verify_chain(db=tmp_db)
    assert (result.ok, result.checked) == (True, 1)
    assert len(list(tmp_db.parent.glob("portal.duckdb.anchor.retired-*"))) == 1
