"""Drill-down page logic in AppTest on the hand-built book (tests/fixtures_dashboards.py): a picked row
puts its selection in the URL and shows the rows behind it; a URL with a selection (a shared link)
reopens the same drill-down; clearing the selection clears the URL keys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal.auth_types import User
from tests.fixtures_dashboards import build

APP = str(Path(__file__).resolve().parents[2] / "portal" / "streamlit_app.py")
JAN, FEB, MAR = "2024-01-31", "2024-02-29", "2024-03-31"


def dt_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)




@pytest.fixture
def book(tmp_db):
    return build(tmp_db)


def open_page(script: str, role: str = "executive", lang: str = "en", query=None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("e", role)
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"app_pages/{script}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def pick_row(at: AppTest, table_key: str, row: int | None) -> AppTest:
    """Select one row of a selectable ui.table (None clears it), as a click would, and rerun."""
    rows = [] if row is None else [row]
    at.session_state[f"{table_key}_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table_with(at: AppTest, column: str):
    """The last table on the page that has `column` (drill-downs come after their figure)."""
    return [d.value for d in at.dataframe if column in d.value.columns][-1]


def url(at: AppTest) -> dict[str, str]:
    return {k: at.query_params[k][0] if isinstance(at.query_params[k], list) else at.query_params[k]
            for k in at.query_params}


def test_a_bucket_row_lists_its_loans_and_goes_into_the_url(book):
    at = open_page("delinquency.py", flt_dates=(dt_date(JAN), dt_date(MAR)))
    buckets = at.dataframe[0].value
    row = buckets.index[(buckets["as_of"] == JAN) & (buckets["bucket"] == "M1")][0]
    pick_row(at, "dq_buckets", int(row))
    assert {k: url(at)[k] for k in ("dq_as_of", "dq_bucket")} == {"dq_as_of": JAN, "dq_bucket": "M1"}
    loans = table_with(at, "customer_name")
    # 31 Jan, M1 (dpd 1-30): L2 (15, overdue 100), L6 (20, 80), L4 (10, 50), worst overdue first
    assert loans["loan_id"].tolist() == ["L2", "L6", "L4"]
    assert (loans["mobile"] == "138****0002").iloc[0], "mobiles are masked in a drill-down too"
    assert loans["customer_name"].iloc[0] == "C*********"
    assert "3 rows" in [c.value for c in at.caption]
    assert "Loans in M1 (1–30) at 2024-01-31" in [s.value for s in at.subheader]

    pick_row(at, "dq_buckets", None)
    assert "dq_bucket" not in url(at) and "dq_as_of" not in url(at)
    assert not [d for d in at.dataframe if "customer_name" in d.value.columns]


def test_a_shared_link_reopens_the_drill_down(book):
    at = open_page("delinquency.py", flt_dates=(dt_date(JAN), dt_date(MAR)), query={"dq_as_of": FEB, "dq_bucket": "M2"})
    loans = table_with(at, "customer_name")
    assert loans["loan_id"].tolist() == ["L4"]  # 29 Feb, dpd 40
    assert url(at)["dq_bucket"] == "M2"
    # the clear button drops the URL keys and the drill-down
    at.button(key="dq_bucket_loans_clear").click().run()
    assert "dq_bucket" not in url(at)
    assert not [d for d in at.dataframe if "customer_name" in d.value.columns]


def test_a_bad_selection_in_the_url_is_ignored(book):
    at = open_page("delinquency.py", flt_dates=(dt_date(JAN), dt_date(MAR)), query={"dq_as_of": "yesterday", "dq_bucket": "M9"})
    assert not [d for d in at.dataframe if "customer_name" in d.value.columns]
    assert not at.error


def test_a_roll_rate_row_lists_the_loans_that_rolled(book):
    at = open_page("delinquency.py", flt_dates=(dt_date(JAN), dt_date(MAR)), dq_roll_month=dt_date(JAN))
    rolls = table_with(at, "to_bucket")
    row = rolls.index[(rolls["from_bucket"] == "M1") & (rolls["to_bucket"] == "closed")][0]
    pick_row(at, "dq_rolls", int(row))
    assert {k: url(at)[k] for k in ("dq_roll_as_of", "dq_roll_from", "dq_roll_to")} == {
        "dq_roll_as_of": JAN, "dq_roll_from": "M1", "dq_roll_to": "closed"}
    loans = table_with(at, "next_outstanding_principal")
    assert loans["loan_id"].tolist() == ["L6"]  # L6 (M1 in Jan) has no February snapshot


def test_a_roll_link_opens_its_month(book):
    at = open_page("delinquency.py", flt_dates=(dt_date(JAN), dt_date(MAR)),
                   query={"dq_roll_as_of": JAN, "dq_roll_from": "M1", "dq_roll_to": "M0"})
    assert at.selectbox(key="dq_roll_month").value == dt_date(JAN)
    assert table_with(at, "next_outstanding_principal")["loan_id"].tolist() == ["L2"]


def test_a_funnel_stage_row_lists_its_loans(book):
    at = open_page("funnels.py", fn_month=dt_date(JAN))
    stages = at.dataframe[0].value
    pick_row(at, "fn_main_stages", int(stages.index[stages["stage"] == "paid"][0]))
    assert {k: url(at)[k] for k in ("fn_as_of", "fn_stage")} == {"fn_as_of": JAN, "fn_stage": "paid"}
    # paid in February: P1 (L2), P2 (L3), P3 (L6)
    assert table_with(at, "paid_amount")["loan_id"].tolist() == ["L2", "L3", "L6"]


def test_an_escalation_step_link_lists_its_loans(book):
    at = open_page("funnels.py", query={"fn_as_of": JAN, "fn_stage": "visit"})
    assert at.selectbox(key="fn_month").value == dt_date(JAN)
    assert table_with(at, "paid_amount")["loan_id"].tolist() == ["L3"]  # C5, the only visit


def test_a_channel_row_lists_its_contacts(book):
    at = open_page("channels.py", flt_dates=(dt_date(JAN), dt_date(FEB)))
    channels = at.dataframe[0].value
    pick_row(at, "ch_channels", int(channels.index[channels["channel"] == "phone"][0]))
    assert url(at)["ch_channel"] == "phone"
    contacts = table_with(at, "contact_id")
    # 31 Jan .. 29 Feb (end 1 Mar): phone C2 (3 Feb) and C4 (9 Feb); C10 is 1 Mar 00:30 local
    assert contacts["contact_id"].tolist() == ["C2", "C4"]
    assert len(contacts) == channels.loc[channels["channel"] == "phone", "attempts"].iloc[0]


def test_agent_and_agency_rows_list_their_contacts(book):
    at = open_page("channels.py", flt_dates=(dt_date(JAN), dt_date(MAR)), query={"ch_agent": "A1", "ch_agency": "in_house"})
    tables = [d.value for d in at.dataframe if "contact_id" in d.value.columns]
    agent, agency = tables
    assert agent["contact_id"].tolist() == ["C2", "C10", "C9"]  # A1: 3 Feb, 1 Mar, 5 Mar
    # in-house (no agency) from 31 Jan: C6, C1, C2, C3, C10, C9 in time order (C8 on 20 Jan is before)
    assert agency["contact_id"].tolist() == ["C6", "C1", "C2", "C3", "C10", "C9"]
    card = at.dataframe[2].value.set_index("collector_id")  # the agency scorecard
    assert card.loc["in_house", "attempts"] == len(agency)


@pytest.fixture
def log_db(tmp_db):
    from portal import db
    from tests import fixtures_policy

    fixtures_policy.build(tmp_db)
    db.execute("insert into snapshots values ('L1', date '2026-02-28', 10, 900, 100, null),"
               " ('L1', date '2026-03-31', 40, 900, 200, null)", db=tmp_db)
    return tmp_db


CONDUCT_MONTHS = (dt_date("2026-02-28"), dt_date("2026-03-31"))


def breaches(at: AppTest):
    return next(d.value for d in at.dataframe if "rule" in d.value.columns and "contact_id" in d.value.columns)


def test_a_conduct_league_row_filters_the_breaches_and_goes_into_the_url(log_db):
    at = open_page("conduct.py", role="compliance", flt_dates=CONDUCT_MONTHS)
    agents = next(d.value for d in at.dataframe if "agent_id" in d.value.columns and "violations_per_1000" in d.value.columns)
    pick_row(at, "conduct_agents", int(agents.index[agents["agent_id"] == "A1"][0]))
    assert at.selectbox(key="conduct_agent").value == "A1"
    assert url(at)["conduct_agent"] == "A1"
    assert len(breaches(at)) == 3 and set(breaches(at)["agent_id"]) == {"A1"}  # A1's 3 breaches in March
    pick_row(at, "conduct_agents", None)
    assert at.selectbox(key="conduct_agent").value is None and "conduct_agent" not in url(at)
    assert len(breaches(at)) == 9


def test_a_conduct_link_opens_its_rule(log_db):
    at = open_page("conduct.py", role="compliance", flt_dates=CONDUCT_MONTHS, query={"conduct_rule": "quiet_hours"})
    assert at.selectbox(key="conduct_rule").value == "quiet_hours"
    assert set(breaches(at)["rule"]) == {"quiet_hours"} and len(breaches(at)) == 4


def test_an_automated_league_row_says_it_has_no_drill_down(log_db):
    at = open_page("conduct.py", role="compliance", flt_dates=CONDUCT_MONTHS)
    agents = next(d.value for d in at.dataframe if "agent_id" in d.value.columns and "violations_per_1000" in d.value.columns)
    automated = agents.index[agents["agent_id"] == "(automated)"]
    if len(automated) == 0:
        pytest.skip("the policy fixture has no contact without an agent")
    pick_row(at, "conduct_agents", int(automated[0]))
    assert any(i.value.startswith("Contacts without an agent") for i in at.info)
    assert at.selectbox(key="conduct_agent").value is None




def test_a_collector_id_from_the_url_is_shown_as_plain_text(book):
    nasty = "**A1** [x](javascript:alert(1))"
    at = open_page("channels.py", flt_dates=(dt_date(JAN), dt_date(MAR)), query={"ch_agent": nasty})
    assert nasty in [t.value for t in at.text]  # st.text: never markdown
    headings = [h.value for h in at.subheader] + [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not [h for h in headings if "javascript" in h]
    assert "Contacts by this agent" in [h.value for h in at.subheader]
    assert "0 rows" in [c.value for c in at.caption]  # no such agent: nothing behind it
