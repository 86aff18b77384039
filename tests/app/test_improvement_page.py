"""The improvement-loop page in AppTest: it renders for each allowed role, creates an action from the form
(with field-level errors first), moves it along the status flow and shows its measured effect."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import db, improvement, navigation
from portal.auth_types import User

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")


def _open(role: str, lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user"] = User(f"{role}_user", role, role.title())
    at.session_state["lang"] = lang
    at.run()
    at.switch_page("app_pages/improvement.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _submit(at: AppTest) -> AppTest:
    [button] = [b for b in at.button if b.label == "Create action"]
    button.click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_is_registered_for_the_right_roles():
    spec = navigation.page("improvement")
    assert spec.section == "compliance"
    assert spec.roles == {"compliance", "analyst", "executive", "admin"}
    assert not navigation.may_open("customer", "improvement")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_pareto_rates_actions_and_ranking(demo_db, lang):
    at = _open("compliance", lang)
    assert len(at.tabs) == 5
    # Pareto, rate trend, and the planted action's two effect charts (complaint rate; target is the same KPI).
    assert len(at.get("plotly_chart")) >= 3
    assert at.selectbox(key="imp_action").value == "IA-0001"
    assert len(at.dataframe) >= 4  # causes, rates, actions, events, ranking tables


def test_create_action_with_field_errors_then_success(demo_db):
    at = _open("compliance")
    at = _submit(at)
    errors = [e.value for e in at.error]
    assert "This field is required." in errors and "Choose one of the options." in errors
    assert db.query("improvement_actions", db=demo_db)["action_id"].tolist() == ["IA-0001"]

    at.text_input(key="imp_f_title").input("Retrain agency AG01 on call etiquette")
    at.selectbox(key="imp_f_root_cause").select("agent_conduct")
    at.text_input(key="imp_f_owner").input("Compliance lead")
    at.date_input(key="imp_f_start_on").set_value(dt.date(2026, 6, 1))
    at.text_area(key="imp_f_change").input("Half-day retraining for every AG01 collector")
    at.selectbox(key="imp_f_kpi").select("cure_rate")
    at.number_input(key="imp_f_target").set_value(0.5)
    at.selectbox(key="imp_f_kind").select("agency")
    at.text_input(key="imp_f_value").input("AG01")
    at = _submit(at)
    assert not at.error, [e.value for e in at.error]

    listed = db.query("improvement_actions", db=demo_db)
    assert listed["action_id"].tolist() == ["IA-0002", "IA-0001"]
    row = listed.iloc[0]
    assert (row["title"], row["root_cause"], row["target_kpi"], row["segment_value"], row["created_by"]) == (
        "Retrain agency AG01 on call etiquette", "agent_conduct", "cure_rate", "AG01", "compliance_user")
    assert any("IA-0002 created" in s.value for s in at.success)
    assert at.selectbox(key="imp_action").value == "IA-0002"
    # Its effect on the complaint rate and on its own target KPI (cure rate): two charts, two verdicts.
    assert len([c for c in at.get("plotly_chart")]) >= 4


def test_status_button_moves_the_action_and_audits_it(demo_db):
    at = _open("analyst")
    action_id = improvement.create_action(
        {"title": "t", "root_cause": "billing_error", "owner": "o", "start_on": "2026-05-01",
         "change_made": "c", "target_kpi": "ptp_rate", "segment_kind": "region", "segment_value": "east"},
        "seed", db=demo_db)
    at.run()
    at.selectbox(key="imp_action").select(action_id)
    at.run()
    at.button(key=f"imp_move_{action_id}").click()
    at.run()
    assert not at.exception
    assert improvement.get_action(action_id, db=demo_db)["status"] == "in_progress"
    events = improvement.action_events(action_id, db=demo_db)
    assert events["to_value"].tolist() == ["planned", "in_progress"]
    assert events["actor"].tolist() == ["seed", "analyst_user"]


def test_executives_read_but_do_not_edit(demo_db):
    at = _open("executive")
    assert not [b for b in at.button if b.label == "Create action"]
    assert not [b for b in at.button if b.key and b.key.startswith("imp_move_")]
    assert any("Executives can read actions" in i.value for i in at.info)


def test_risk_tab_fits_and_shows_the_model(demo_db):
    at = _open("analyst")
    at.button(key="imp_risk_fit").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    auc = float(metrics["AUC on the held-out month"])
    assert 0.5 < auc <= 1.0
    assert metrics["Held-out month-end"] == "2026-07-31"
    assert len(at.get("plotly_chart")) >= 4  # calibration chart added to the page's charts
