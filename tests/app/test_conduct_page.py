"""AppTest of the Conduct page on the hand-built contact log (tests/fixtures_policy.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import db, navigation
from portal.auth_types import User
from tests import fixtures_policy

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
MONTHS = (dt.date(2026, 2, 28), dt.date(2026, 3, 31))  # the range [02-28, 04-01) covers March


@pytest.fixture
def log_db(tmp_db):
    fixtures_policy.build(tmp_db)
    # month-ends give the sidebar its date range
    db.execute("insert into snapshots values ('L1', date '2026-02-28', 10, 900, 100, null),"
               " ('L1', date '2026-03-31', 40, 900, 200, null)", db=tmp_db)
    return tmp_db


def open_conduct(role: str = "compliance", lang: str = "en", **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = User("t", role)
    at.session_state["lang"] = lang
    at.session_state["flt_dates"] = MONTHS
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("app_pages/conduct.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_cn_counts_league_and_details(log_db):
    at = open_conduct()
    tiles = {m.label: m.value for m in at.metric}
    # worked out in tests/unit/test_policy.py::test_cn_pack_counts
    assert tiles == {"Quiet hours": "4", "Connected calls per day": "2", "Unanswered calls per day": "1",
                     "Third-party contact": "1", "Visit collectors": "1"}
    frames = [d.value for d in at.dataframe]
    agents = next(f for f in frames if "agent_id" in f.columns and "violations_per_1000" in f.columns)
    assert agents.set_index("agent_id").loc["A1", "violations"] == 3
    details = next(f for f in frames if "rule" in f.columns and "contact_id" in f.columns)
    assert len(details) == 9


def test_drill_down_by_rule_and_us_pack(log_db):
    at = open_conduct(conduct_pack="us", conduct_rule="calls_7_in_7")
    tiles = {m.label: m.value for m in at.metric}
    assert tiles == {"Quiet hours": "6", "7 calls in 7 days": "7", "Call after a conversation": "15"}
    details = next(d.value for d in at.dataframe if "contact_id" in d.value.columns)
    assert sorted(details["contact_id"]) == ["k27", "k61", "k62", "k63", "k64", "k65", "k66"]


def test_a_long_drill_down_shows_the_first_rows_and_counts_them_all(log_db, monkeypatch):
    from portal import ui

    monkeypatch.setattr(ui, "TABLE_MAX_ROWS", 4)  # the page fetches 5 of the 9 cn breaches of March
    at = open_conduct()
    details = next(d.value for d in at.dataframe if "rule" in d.value.columns and "contact_id" in d.value.columns)
    assert len(details) == 4
    captions = [c.value for c in at.caption]
    assert "9 violations; download them for the audit file." in captions  # from the summary tiles
    assert "Showing the first 4 rows; the downloads hold every row." in captions
    monkeypatch.setattr(ui, "TABLE_MAX_ROWS", 2)
    at = open_conduct(conduct_agent="A1")  # agent A1 has 3; the tiles do not count per agent
    captions = [c.value for c in at.caption]
    assert "More than 2 violations; download them all for the audit file." in captions


def test_what_if_panel(log_db):
    at = open_conduct()
    cap = next(n for n in at.number_input if n.label == "Connected calls per debtor per day")
    cap.set_value(2)
    next(b for b in at.button if b.label == "Compare").click().run()
    assert not at.exception
    tiles = {m.label: m.value for m in at.metric}
    # tests/unit/test_policy.py::test_what_if_stricter_cap: k52 and k56 also blocked, P1 followed k56,
    # k52 was a PTP
    assert (tiles["Contacts also blocked"], tiles["Payments that followed"], tiles["Promises to pay made"]) == \
        ("2", "1", "1")


def test_chinese_labels_and_roles(log_db):
    at = open_conduct(lang="zh")
    assert "禁止联系时段" in {m.label for m in at.metric}
    assert navigation.may_open("executive", "conduct") and not navigation.may_open("analyst", "conduct")


def test_a_broken_pack_file_is_reported_not_raised(log_db, tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text('[packs.acme]\nextends = "cn"\nconnected_calls_per_day = "two"\n', encoding="utf-8")
    monkeypatch.setenv("PORTAL_RULE_PACKS_FILE", str(bad))
    at = open_conduct()
    assert any("connected_calls_per_day" in e.value for e in at.error)
    assert not at.metric
