"""AppTest of the Plan check section of the Conduct page: upload a planned list, see the blocked share by
rule, get the checked list (the log is tests/unit/test_prevention.py's; counts worked out there)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import db, i18n, navigation
from portal.auth_types import User
from tests.unit.test_prevention import book  # noqa: F401 (the fixture)

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
PLAN = ("loan_id,channel,party,planned_at,note\n"
        "S1a,phone,debtor,2026-03-20T10:00:00,first\n"
        "S1a,phone,debtor,2026-03-20T23:00:00,at night\n"
        "S1b,phone,debtor,2026-03-20T11:00:00,second\n"
        "S1a,phone,debtor,2026-03-20T12:00:00,third\n"
        "S1b,phone,debtor,2026-03-20T13:00:00,=HYPERLINK(\"x\")\n"
        "NOPE,sms,debtor,2026-03-20T10:00:00,unknown loan\n"
        "O1a,sms,debtor,2026-03-20T10:00:00,opted out\n")


@pytest.fixture
def conduct_db(book):  # noqa: F811
    # month-ends give the sidebar its date range
    db.execute("insert into snapshots values ('S1a', date '2026-02-28', 10, 900, 100, null),"
               " ('S1a', date '2026-03-31', 40, 900, 200, null)", db=book)
    return book


def open_conduct(lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["user"] = User("t", "compliance")
    at.session_state["lang"] = lang
    at.session_state["flt_dates"] = (dt.date(2026, 2, 28), dt.date(2026, 3, 31))
    at.run()
    at.switch_page("app_pages/conduct.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, name: str, content: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="plan_file").set_value((name, content, mime)).run()
    at.button(key="plan_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_plan_check_counts_rules_and_the_checked_list(conduct_db):
    at = upload(open_conduct(), "plan.csv", PLAN.encode("utf-8"))
    tiles = {m.label: m.value for m in at.metric}
    # 7 rows: NOPE cannot be checked; at night (quiet hours), the 4th possible connection on 03-20 and the
    # opted-out SMS are blocked; first, second, third are allowed
    assert (tiles["Planned contacts"], tiles["Allowed"], tiles["Blocked"], tiles["Not checked (bad rows)"]) == \
        ("7", "3", "3", "1")
    frames = {tuple(d.value.columns): d.value for d in at.dataframe}
    by_rule = next(f for cols, f in frames.items() if "share" in cols)
    # shares of the 6 rows that could be checked, each rule once
    assert by_rule.set_index("rule")["blocked"].to_dict() == {"opted_out_channel": 1, "quiet_hours": 1,
                                                               "connected_calls_per_day": 1}
    assert by_rule["share"].round(4).tolist() == [round(1 / 6, 4)] * 3
    assert list(by_rule["rule_name"]) == ["Opted-out channel", "Quiet hours", "Connected calls per day"]
    checked = next(f for cols, f in frames.items() if "next_allowed_at" in cols)
    assert list(checked["note"]) == ["first", "at night", "second", "third", "=HYPERLINK(\"x\")", "unknown loan",
                                     "opted out"]  # the file's order; the screen shows text as it is
    assert list(checked["allowed"]) == ["true", "false", "true", "true", "false", "", "false"]
    assert checked["error"][5] == "loan_id NOPE is not a known loan"
    assert len(at.get("plotly_chart")) >= 1
    downloads = [b for b in at.get("download_button")]
    assert len(downloads) >= 4  # CSV and Excel for the rule table and for the checked list


def test_plan_check_in_chinese_and_an_unreadable_file(conduct_db):
    i18n.set_language("zh")
    try:
        at = upload(open_conduct("zh"), "plan.csv", PLAN.encode("utf-8"))
        checked = next(d.value for d in at.dataframe if "next_allowed_at" in d.value.columns)
        assert checked["reasons"][1] == "23:00 处于 Asia/Shanghai 的禁止联系时段 22:00–08:00"
        assert checked["reasons"][6] == "客户已拒绝通过短信联系"
    finally:
        i18n.set_language("en")
    at = upload(open_conduct(), "plan.csv", b"loan_id,channel\nS1a,sms\n")
    assert at.error[0].value == "The list could not be checked. Reason:"
    assert any("missing required columns: party, planned_at" in t.value for t in at.text)


def test_nothing_blocked(conduct_db):
    at = upload(open_conduct(), "plan.csv", b"loan_id,channel,party,planned_at\nS1a,sms,debtor,2026-03-20T10:00\n")
    assert "No planned contact is blocked" in at.success[0].value
