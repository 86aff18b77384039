"""AppTest for the Delinquency page's forecast section and the Overview's KPI alerts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from portal import db, forecast, navigation
from portal.auth_types import User
from portal.i18n import t
from tests.unit.test_alerts import AUG, MONTHS, TEST_RULES, load_book

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")


def open_page(script: str, lang: str = "en", **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["user"] = User("e", "executive")
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"app_pages/{script}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_delinquency_forecast_section_on_the_demo_book(demo_db):
    at = open_page("delinquency.py")
    assert "Forecast" in [h.value for h in at.header]
    assert at.segmented_control(key="dq_fc_horizon").value == 3
    shown = table_with(at, "forecast_balance")
    want = forecast.forecast_frame(None, 3, db=demo_db)
    assert list(shown.columns) == list(want.columns)
    assert len(shown) == len(want) and shown["month_end"].nunique() == 3
    assert shown["forecast_balance"].astype(float).tolist() == want["forecast_balance"].astype(float).tolist()
    captions = [c.value for c in at.caption]
    assert "Roll matrices averaged over the last 6 month-ends before 2026-10-31." in captions
    # the honest comparison, whichever way it goes on this book: each horizon's verdict and figures are
    # the backtest's (tests/unit/test_forecast_backtest.py checks those against the definitions)
    expected = forecast.accuracy((1, 3), 6, db=demo_db)
    wins, losses = [], []
    for row in expected.itertuples():
        values = {"horizon": row.horizon, "origins": row.origins, "forecast": f"{row.forecast_mape:.2%}",
                  "naive": f"{row.naive_mape:.2%}"}
        (wins if row.winner == "forecast" else losses).append(
            t(f"forecast.page.verdict_{row.winner}", "en", **values))
    assert set(expected["winner"]) <= {"forecast", "naive"}
    assert [w.value for w in at.warning] == losses
    assert [s.value for s in at.success] == wins
    scores = table_with(at, "naive_mape")
    assert scores["horizon"].tolist() == [1, 3]
    assert scores["forecast_mape"].tolist() == pytest.approx(expected["forecast_mape"].tolist())
    assert scores["winner"].tolist() == [t(f"codes.winner.{w}", "en") for w in expected["winner"]]
    assert [e.label for e in at.expander][-2:] == ["How the forecast is made, and what it assumes",
                                                    "Backtest of the delinquent balance, per month-end"]
    detail = table_with(at, "naive_abs_pct_error")
    assert set(detail["bucket"]) == {"M1+"} and sorted(set(detail["horizon"])) == [1, 3]

    at.segmented_control(key="dq_fc_horizon").set_value(6).run()
    assert not at.exception
    assert table_with(at, "forecast_balance")["month_end"].nunique() == 6


def test_delinquency_forecast_in_chinese(demo_db):
    at = open_page("delinquency.py", lang="zh")
    assert "预测" in [h.value for h in at.header]
    assert any(w.value.startswith("提前 1 个月：在本资产上朴素预测更准") for w in at.warning)


def test_a_short_history_says_so(tmp_db):
    from tests.fixtures_dashboards import build

    build(tmp_db)  # three month-ends: a forecast from two transitions, no backtest three months ahead
    at = open_page("delinquency.py")
    captions = [c.value for c in at.caption]
    assert "The data has too few month-ends for k = 6: the matrices average the last 2 month-ends instead." in captions
    assert ("Too few month-ends to backtest 3 month(s) ahead: that needs a month-end with at least 1 month-end(s) "
            "before it and 3 after it.") in [i.value for i in at.info]
    assert table_with(at, "forecast_balance")["month_end"].nunique() == 3


@pytest.fixture
def alert_book(tmp_db, tmp_path, monkeypatch):
    rules = tmp_path / "org_alerts.toml"
    rules.write_text(TEST_RULES, encoding="utf-8")
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(rules))
    load_book(tmp_db, tmp_path, MONTHS)
    return tmp_db


def test_overview_shows_firing_alerts_and_their_history(alert_book):
    at = open_page("overview.py")
    assert at.error[0].value == "2 KPI alert(s) firing at 2024-08-31"
    lines = [t.value for t in at.text if "·" in t.value]
    assert lines == [
        "Critical · high: Delinquency rate (count) is 60.00% at 2024-08-31, > 25.00% · firing since 2024-08-31",
        "Warning · jump: Delinquency rate (count) is 60.00% at 2024-08-31, +4.0 standard deviations from the mean "
        "of the 3 month-ends before (20.00% ± 10.00%); the limit is 2 · firing since 2024-08-31",
    ]
    shown = table_with(at, "alert_event")
    recorded = db.query("alert_history", db=alert_book)
    assert shown["event_id"].tolist() == recorded["event_id"].tolist()
    # the table keeps dates as dates (a date column shows them as 2024-08-31)
    as_of = shown["as_of"].map(lambda d: pd.Timestamp(d).date().isoformat())
    assert list(zip(shown["alert_rule"], shown["alert_event"], as_of, strict=True)) == [
        ("jump", "Fired", "2024-08-31"), ("high", "Fired", "2024-08-31"), ("high", "Cleared", "2024-06-30"),
        ("jump", "Cleared", "2024-05-31"), ("jump", "Fired", "2024-04-30"), ("high", "Fired", "2024-04-30"),
    ]
    assert set(shown["kpi"]) == {"Delinquency rate (count)"}
    at.run()  # a rerun writes nothing more
    assert len(db.query("alert_history", db=alert_book)) == 6


def test_overview_of_an_earlier_month_and_a_quiet_one(alert_book):
    at = open_page("overview.py", flt_dates=(MONTHS[0], dt.date(2024, 7, 31)))
    assert not at.error
    assert "No KPI alert fires at 2024-07-31 (2 rules checked, whole book)." in [c.value for c in at.caption]
    # viewing an older month-end does not write the history (the upload hook wrote it up to August)
    assert pd.Timestamp(db.query("alert_history", db=alert_book)["as_of"].max()).date() == AUG


def test_overview_in_chinese_and_with_a_broken_rules_file(alert_book, tmp_path, monkeypatch):
    at = open_page("overview.py", lang="zh")
    assert at.error[0].value == "2024-08-31 有 2 条 KPI 预警正在触发"
    bad = tmp_path / "broken.toml"
    bad.write_text("[rules.high]\nop = '=>'\n", encoding="utf-8")
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(bad))
    at = open_page("overview.py")
    assert at.error[0].value == "The alert rules cannot be read, so no alert is checked:"
    assert "alert rule high (broken.toml): type must be threshold or change, not None" in [t.value for t in at.text]
    assert len(at.metric) == 9  # the KPI tiles still show
