"""AppTest of the complaint pages: public form, ticket lookup, rights, queue, detail, trends, audit."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import auth, complaints, db, i18n, navigation
from portal.auth_types import User
from tests import fixtures_complaints

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
PASSWORD = "correct horse battery staple 42"
XSS = "<script>alert('x')</script> <b>bold</b> **stars** [click](javascript:alert(1))"


def open_page(script, user=None, lang="en", query=None):
    at = AppTest.from_file(APP, default_timeout=60)
    if user:
        at.session_state["user"] = user
    at.session_state["lang"] = lang
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"app_pages/{script}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def all_text(at):
    parts = [e.value for e in at.markdown] + [e.value for e in at.text] + [e.value for e in at.code]
    parts += [e.value for e in at.success] + [e.value for e in at.error] + [e.value for e in at.warning]
    parts += [e.value for e in at.info] + [e.value for e in at.caption] + [e.value for e in at.title]
    parts += [e.value for e in at.header] + [str(m.value) for m in at.metric]
    return "\n".join(str(p) for p in parts)


def fill_form(at, shown_ago=10.0, **values):
    """Fill the public form and press Send, shown_ago seconds after the form was first put on screen."""
    if "fb_shown_at" in at.session_state:
        at.session_state["fb_shown_at"] = complaints.now() - dt.timedelta(seconds=shown_ago)
    defaults = {"mobile": "13812345678", "issue": "communication_tactics", "description": XSS, "consent": True}
    defaults.update(values)
    for name, value in defaults.items():
        if name in ("issue", "channel", "contact_time"):
            at.selectbox(key=f"fb_{name}").set_value(value)
        elif name == "consent":
            at.checkbox(key="fb_consent").set_value(value)
        elif name == "description":
            at.text_area(key="fb_description").input(value)
        elif name == "plan_type":
            at.radio(key="fb_plan_type").set_value(value)
        elif name in ("plan_amount", "plan_months"):
            at.number_input(key=f"fb_{name}").set_value(value)
        else:
            at.text_input(key=f"fb_{name}").input(value)
    next(b for b in at.button if b.form_id == "feedback").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_feedback_success_shows_ticket_and_stores_text_verbatim(tmp_db):
    at = fill_form(open_page("feedback.py"), plan_type="instalments", plan_amount=3000.0, plan_months=6)
    ticket = at.code[0].value
    assert complaints.TICKET_RE.fullmatch(ticket)
    assert f"Your ticket number is {ticket}" in at.success[0].value
    row = db.read("select narrative, plan_type, plan_months, status, source from complaints", db=tmp_db).iloc[0]
    assert tuple(row) == (XSS, "instalments", 6, "new", "form")
    # The payload is nowhere rendered as markdown (it never reaches the page after submission).
    assert "<script>" not in "\n".join(m.value for m in at.markdown)
    # Send cannot be pressed twice: the form is gone until the customer asks for a new, empty one.
    assert not [b for b in at.button if b.form_id == "feedback"]
    at.button(key="fb_another").click().run()
    assert not at.success and at.text_input(key="fb_mobile").value == ""
    assert next(b for b in at.button if b.form_id == "feedback").label == "Send"


def test_feedback_field_level_errors(tmp_db):
    at = fill_form(open_page("feedback.py"), mobile="12345", consent=False, description="short")
    errors = [e.value for e in at.error]
    assert "Please enter a mainland mobile number: 11 digits starting with 13 to 19." in errors
    assert "Please agree to the privacy notice so we can handle your request." in errors
    assert "Please describe what happened in at least 10 characters." in errors
    assert len(at.code) == 0
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 0
    # The customer's input stays for correction.
    assert at.text_input(key="fb_mobile").value == "12345"


def test_feedback_long_text_and_chinese(tmp_db):
    # AppTest formats option labels in the test thread: give it the page's language.
    i18n.set_language("zh")
    try:
        chinese_journey(tmp_db)
    finally:
        i18n.set_language("en")


def chinese_journey(tmp_db):
    at = fill_form(open_page("feedback.py", lang="zh"), description="x" * 100_000)
    # Streamlit drops a value longer than max_chars before the page sees it; the server check
    # (tested in tests/unit/test_complaints.py) would refuse it anyway. Either way nothing is stored.
    assert {"请至少用 10 个字符描述发生的情况。", "描述请不要超过 5,000 个字符。"} & {e.value for e in at.error}
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 0
    at = fill_form(at, description="凌晨两点打电话骚扰我😡，还威胁告诉我的单位。")
    assert at.code[0].value.startswith("CP-")
    assert db.scalar("select narrative from complaints", db=tmp_db) == "凌晨两点打电话骚扰我😡，还威胁告诉我的单位。"


def test_feedback_has_no_spam_trap_and_refuses_a_form_sent_back_at_once(tmp_db):
    at = open_page("feedback.py")
    # Every text field is one a person fills in: no visible "leave this empty" trap.
    assert [w.key for w in at.text_input] == ["fb_name", "fb_mobile", "fb_loan_id"]
    at = fill_form(at, shown_ago=0.5)  # a bot: Send a moment after the page was shown (floor: 3 s)
    assert "We could not accept this form. Please try again later or call us." in [e.value for e in at.error]
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 0
    at = fill_form(at, shown_ago=4)  # a person's pace: accepted
    assert at.code[0].value.startswith("CP-")


def test_feedback_rate_limit_across_sessions(tmp_db):
    at = open_page("feedback.py")
    key = at.session_state["client_key"]
    for _ in range(5):
        assert complaints.allow("submit", key, db=tmp_db)
    at = fill_form(at, description="Valid description of the problem.")
    assert "Too many attempts from this device. Please wait 10 minutes and try again." in [e.value for e in at.error]


def lookup(at, ticket, last4):
    at.text_input(key="tk_number").input(ticket)
    at.text_input(key="tk_last4").input(last4)
    next(b for b in at.button if b.label in ("Look up", "查询")).click()
    at.run()
    assert not at.exception
    return at


def test_ticket_lookup(tmp_db):
    ticket = complaints.submit({"mobile": "13812345678", "issue": "privacy", "description": "They told my boss.",
                                "consent": True}, "k", db=tmp_db).ticket
    complaints.triage(ticket, "c1", "third_party_disclosure", db=tmp_db)
    complaints.record_resolution(ticket, "c1", "explanation", XSS, db=tmp_db)
    complaints.transition(ticket, "c1", "investigating", db=tmp_db)
    complaints.transition(ticket, "c1", "resolved", db=tmp_db)
    at = lookup(open_page("ticket.py"), ticket.lower(), "5678")
    assert [m.value for m in at.metric][0] == "Answered"
    assert XSS in [t.value for t in at.text]  # the staff answer is plain text
    assert all(XSS not in m.value for m in at.markdown)
    wrong = lookup(open_page("ticket.py"), ticket, "5679")
    unknown = lookup(open_page("ticket.py"), "CP-2222-2222", "5678")
    assert [w.value for w in wrong.warning] == [w.value for w in unknown.warning] == [
        "We found no ticket with this number and these digits. Please check both and try again."]
    assert len(wrong.metric) == 0
    bad = lookup(open_page("ticket.py"), ticket, "56a8")
    assert "Please enter exactly 4 digits." in [e.value for e in bad.error]


@pytest.mark.parametrize("pack,expected,absent", [
    ("cn", ["No contact between 22:00 and 08:00", "At most 3 phone conversations", "at least 2 collectors",
            "12378"], "calls in any"),
    ("us", ["No contact between 21:00 and 08:00", "At most 7 calls in any 7 days", "within 7 days after"],
     "phone conversations with you per day"),
])
def test_rights_page_reads_the_rule_pack(tmp_db, monkeypatch, pack, expected, absent):
    monkeypatch.setenv("PORTAL_RULE_PACK", pack)
    text = all_text(open_page("rights.py"))
    for snippet in expected:
        assert snippet in text
    assert absent not in text


def test_rights_page_in_chinese(tmp_db):
    text = all_text(open_page("rights.py", lang="zh"))
    assert "22:00 至 08:00" in text and "12378" in text


COMPLIANCE = User("c1", "compliance")


@pytest.fixture
def fx(tmp_db):
    return fixtures_complaints.build(tmp_db)


def test_queue_for_compliance(fx):
    at = open_page("complaints_queue.py", COMPLIANCE)
    # Default filter: open statuses, K4, K5, K7 and K8; all were due by 2026-04-30, long before today.
    assert {m.label: m.value for m in at.metric} == {"Complaints": "4", "Due within 3 days": "0", "Overdue": "4"}
    at.multiselect(key="cq_status").set_value(["closed"])
    at.run()
    assert {m.label: m.value for m in at.metric}["Complaints"] == "3"  # K2, K3, K6
    complaints.assign("K1", "lead", "c1", db=fx)
    at.multiselect(key="cq_status").set_value(["resolved", "closed"])
    at.checkbox(key="cq_mine").check()
    at.run()
    assert {m.label: m.value for m in at.metric}["Complaints"] == "1"  # only K1 is assigned to c1


@pytest.mark.parametrize("role", ["customer", "executive", "analyst"])
def test_registry_keeps_compliance_pages_from_other_roles(role):
    for key in ("complaints_queue", "complaint_detail", "audit"):
        assert not navigation.may_open(role, key)
    assert navigation.may_open("executive", "complaint_trends")
    assert not navigation.may_open("customer", "complaint_trends")
    for key in ("feedback", "ticket", "rights"):
        assert navigation.may_open(role, key)


@pytest.mark.parametrize("script", ["complaints_queue.py", "complaint_detail.py", "audit.py", "complaint_trends.py"])
def test_staff_pages_stop_when_the_session_loses_its_role(fx, script):
    at = open_page(script, COMPLIANCE, query={"id": "K1"})
    at.session_state["user"] = User("a1", "analyst")
    at.run()
    assert not at.exception
    assert len(at.metric) == 0 and len(at.dataframe) == 0


def test_detail_shows_complaint_and_runs_actions(fx):
    assert complaints.ensure_creation_events(fx) == 9  # the fixture wrote its complaints in SQL: backfill
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K1"})
    assert at.code[0].value == "K1"
    assert "Called me 8 times." in [t.value for t in at.text]
    facts = at.dataframe[0].value
    shown = dict(zip(facts["field"], facts["value"], strict=True))
    assert shown["Mobile"] == "138****5678" and shown["Customer"] == "C1"
    assert shown["Name"] != "张三"  # masked
    # K1 is resolved: the only moves are close or reopen.
    assert at.selectbox(key="cd_status").options == ["Closed", "Being investigated"]
    at.selectbox(key="cd_status").set_value("closed")
    form_buttons = [b for b in at.button if b.form_id == "cd_move"]
    form_buttons[0].click()
    at.run()
    assert not at.exception
    assert "Saved. The change is on the audit trail." in [s.value for s in at.success]
    assert db.scalar("select status from complaints where complaint_id = 'K1'", db=fx) == "closed"
    assert "This complaint is closed: no further steps." in [i.value for i in at.info]
    # With no compliance account to pick, the Assign tab says so instead of a free-text box.
    assert i18n.t("complaints.detail.no_assignees") in [i.value for i in at.info]
    # A refused action shows its reason.
    auth.create_user(username="c2", role="compliance", password=PASSWORD, db=fx)
    at.run()
    at.selectbox(key="cd_assignee").set_value("c2")
    [b for b in at.button if b.form_id == "cd_assign"][0].click()
    at.run()
    assert "This complaint is closed; it cannot be changed any more." in [e.value for e in at.error]
    events = db.read("select actor, action, field, to_value from complaint_events where action <> 'imported'"
                     " order by event_id", db=fx)
    assert events.values.tolist() == [["c1", "transition", "status", "closed"]]
    assert complaints.verify_chain(db=fx).ok


def test_detail_triage_and_extension(fx):
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K8"})
    at.selectbox(key="cd_issue").set_value("fees_or_amount")
    at.text_input(key="cd_sub_issue").input("late fee")
    [b for b in at.button if b.form_id == "cd_triage"][0].click()
    at.run()
    at.radio(key="cd_extension").set_value(45)
    [b for b in at.button if b.form_id == "cd_extend"][0].click()
    at.run()
    assert "Please fill in reason." in [e.value for e in at.error]
    at.text_area(key="cd_reason").input("Agency recordings requested")
    [b for b in at.button if b.form_id == "cd_extend"][0].click()
    at.run()
    row = db.read("select issue, sub_issue, status, extension_days from complaints where complaint_id = 'K8'",
                  db=fx).iloc[0]
    assert tuple(row) == ("fees_or_amount", "late fee", "triaged", 45)


def test_detail_unknown_id(fx):
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "nope"})
    assert "No complaint with this ID." in [w.value for w in at.warning]


def test_trends_page(fx):
    at = open_page("complaint_trends.py", User("x1", "executive"))
    sla = at.dataframe[0].value
    # All months Feb-Apr 2026: communication_tactics 4 complaints, other 2 (K8, K9), privacy 3 (K5, K6, K7).
    # the table holds the codes (as its CSV and `portal query complaint_sla` do) and shows their labels
    assert dict(zip(sla["issue"], sla["complaints"], strict=True)) == {
        "communication_tactics": 4, "other": 2, "privacy": 3}
    issue = json.loads(at.dataframe[0].proto.columns)["issue"]
    labels = {o["value"]: o["label"] for o in issue["type_config"]["options"]}
    assert labels["communication_tactics"] == "How we contacted me (too often, rude, bad hours)"
    assert labels["privacy"] == "My personal data"
    assert len(at.get("plotly_chart")) == 2


def test_audit_page_verifies_and_names_broken_event(fx):
    complaints.ensure_creation_events(fx)
    at = open_page("audit.py", COMPLIANCE)
    at.button(key="au_verify").click()
    at.run()
    assert at.success[0].value == "The chain is intact: 9 events verified."
    assert f"Anchor: {fx}.anchor" in at.caption[0].value
    db.execute("update complaint_events set actor = 'mallory' where event_id = 4", db=fx)
    at.button(key="au_verify").click()
    at.run()
    assert at.error[0].value == ("The audit trail does not verify: broken at event 4: its content no longer "
                                 "matches its HMAC (edited, or written without the audit key)")


def test_audit_page_gives_the_cli_verdict_on_an_edited_row_in_chinese(fx):
    complaints.ensure_creation_events(fx)
    db.execute("update complaints set narrative = 'nothing happened' where complaint_id = 'K3'", db=fx)
    verdict = complaints.verify_chain(db=fx)
    assert verdict.reason == "row_changed" and verdict.values["complaint_id"] == "K3"
    at = open_page("audit.py", COMPLIANCE, lang="zh")
    at.button(key="au_verify").click()
    at.run()
    assert at.error[0].value.startswith("审计记录未通过校验：在事件")
    assert "投诉 K3 在审计记录之外被修改" in at.error[0].value


def test_audit_page_says_when_the_key_file_is_missing(fx):
    complaints.ensure_creation_events(fx)
    Path(f"{fx}.audit-key").unlink()
    at = open_page("audit.py", COMPLIANCE)
    at.button(key="au_verify").click()
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith(f"The audit trail cannot be checked: audit key file {fx}.audit-key is missing")


def test_detail_highlights_contact_breaches(fx):
    # X6: 2026-02-20 01:00 +08 is 23:00 in Urumqi (C1's timezone), inside the cn quiet hours 22:00-08:00.
    db.execute("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, cost)"
               " values ('X6', 'L1', timestamptz '2026-02-20 01:00:00+08', 'phone', 'debtor', 'no_answer', 'A001', 1)",
               db=fx)
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K1"})
    assert "Contacts that broke a rule in the 30 days before the complaint (highlighted): 1" in [
        c.value for c in at.caption]
    assert at.warning[0].value.startswith("The contact log supports this complaint: 1 breaches")
    contacts = next(d.value for d in at.dataframe if "breach" in d.value.columns)
    assert dict(zip(contacts["contact_id"], contacts["breach"], strict=True)) == {
        "X2": "", "X6": "quiet_hours", "X3": ""}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_demo_complaint_detail_renders(demo_db, lang):
    queue = db.query("complaint_queue", db=demo_db)
    with_contacts = [cid for cid in queue["complaint_id"]
                     if not db.query("complaint_contacts", db=demo_db, complaint_id=cid).empty]
    assert with_contacts, "the demo should hold complaints with a contact log"
    at = open_page("complaint_detail.py", COMPLIANCE, lang=lang, query={"id": with_contacts[0]})
    assert at.code[0].value == with_contacts[0]
    assert len(at.get("plotly_chart")) == 1  # the DPD history
    assert len(at.dataframe) >= 3  # facts, loans, contact log (+ events)


def test_detail_shows_the_request_up_front_and_an_empty_contact_log_says_so(fx):
    ticket = complaints.submit({"mobile": "13812345678", "loan_id": "L1", "issue": "repayment_plan_request",
                                "description": "I lost my job and ask to repay in instalments.",
                                "plan_type": "instalments", "plan_amount": "6000", "plan_months": 6,
                                "contact_time": "evening", "consent": True}, "k", db=fx).ticket
    for lang, expected in (("en", {"Repayment plan asked for": "Instalments", "Amount": "¥6,000.00",
                                   "Over": "6 months",
                                   "Preferred contact time": i18n.t("codes.contact_time.evening", "en")}),
                           ("zh", {"申请的还款方案": i18n.t("codes.plan_type.instalments", "zh"), "金额": "¥6,000.00",
                                   "期限": "6 个月", "方便联系时间": i18n.t("codes.contact_time.evening", "zh")})):
        at = open_page("complaint_detail.py", COMPLIANCE, lang=lang, query={"id": ticket})
        captions, bold = [c.value for c in at.caption], [m.value for m in at.markdown]
        shown = {label: bold[bold.index(f"**{value}**")] for label, value in expected.items() if label in captions
                 and f"**{value}**" in bold}
        assert shown == {label: f"**{value}**" for label, value in expected.items()}
        # not repeated in the facts grid
        facts = at.dataframe[0].value
        assert not set(expected) & set(facts["field"])
        # C1 has no contacts around a complaint made today: the log says that, not "no filter matches"
        infos = [i.value for i in at.info]
        assert i18n.t("complaints.detail.contacts_none", lang) in infos
        assert i18n.t("common.empty", lang) not in infos
    assert "month" in i18n.t("complaints.detail.months_value", "en", n=1)
    assert i18n.t("complaints.detail.months_value", "en", n=1) == "1 month"


EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff]")


def test_deadline_clock_needs_no_emoji_font(fx):
    at = open_page("complaints_queue.py", COMPLIANCE)
    clock = at.dataframe[0].value["clock"].tolist()
    # K4, K5, K7 and K8 were all due by 2026-04-30: overdue, in plain words (the CSV/XLSX carry these too)
    assert clock and all(re.fullmatch(r"Overdue by \d+ days?", c) for c in clock), clock
    assert not EMOJI.search(all_text(at) + "".join(clock))
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K4"})
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert len(badges) == 1 and badges[0].startswith(":red-badge[:material/alarm: Overdue by ")
    assert not EMOJI.search(all_text(at))
    assert i18n.t("complaints.queue.clock_red", "en", days=1) == "Overdue by 1 day"


def test_assignee_is_picked_from_the_compliance_users_and_checked_on_the_server(fx):
    for name, role in (("c.wang", "compliance"), ("boss", "admin"), ("exec", "executive"), ("gone", "compliance")):
        auth.create_user(username=name, role=role, password=PASSWORD, db=fx)
    auth.set_active("gone", False, db=fx)
    assert complaints.assignees(fx) == ["boss", "c.wang"]
    at = open_page("complaint_detail.py", COMPLIANCE, query={"id": "K4"})
    box = at.selectbox(key="cd_assignee")
    assert box.options == ["boss", "c.wang"] and box.value is None
    box.set_value("c.wang")
    [b for b in at.button if b.form_id == "cd_assign"][0].click()
    at.run()
    assert "Saved. The change is on the audit trail." in [s.value for s in at.success]
    assert db.scalar("select assignee from complaints where complaint_id = 'K4'", db=fx) == "c.wang"
    assert at.selectbox(key="cd_assignee").value == "c.wang"
    # whatever a browser sends, the portal's assign refuses anyone but an active compliance user or admin
    for who in ("exec", "gone", "mallory"):
        with pytest.raises(complaints.ComplaintError) as refused:
            complaints.assign("K4", "c1", who, db=fx, staff_only=True)
        assert refused.value.key == "complaints.err.assignee_unknown"  # its message names who
    assert db.scalar("select assignee from complaints where complaint_id = 'K4'", db=fx) == "c.wang"
