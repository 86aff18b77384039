"""AppTest for the executive dashboards on the hand-built book (tests/fixtures_dashboards.py)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import db, export, navigation
from portal.auth_types import User
from tests.fixtures_dashboards import build

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
JAN, FEB, MAR = dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31)


@pytest.fixture
def book(tmp_db):
    return build(tmp_db)


def open_page(script: str, role: str = "executive", dates=None, lang: str = "en", **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("e", role)
    at.session_state["lang"] = lang
    if dates:
        at.session_state["flt_dates"] = dates
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"app_pages/{script}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tiles(at: AppTest) -> dict[str, tuple[str, str | None]]:
    """Tile label -> (value, delta); a tile without a delta shows None."""
    return {m.label: (m.value, m.delta or None) for m in at.metric}


def test_overview_tiles_for_february(book):
    at = open_page("overview.py", dates=(JAN, FEB))
    got = tiles(at)
    # worked out in tests/unit/test_dashboards.py::test_overview_kpis: Feb vs Jan
    assert got["Overdue balance (¥)"] == ("¥450.00", "+¥20.00")
    assert got["Delinquency rate (amount)"] == ("12.40%", "+2.16 pp")  # 450/3630 vs 430/4200
    assert got["Delinquency rate (count)"] == ("60.00%", "-6.67 pp")  # 3/5 vs 4/6
    assert got["M1→M2 roll rate"] == ("33.33%", None)  # no December snapshot, so no January value
    assert got["Cure rate"] == ("25.00%", None)
    assert got["Recovered this month (¥)"] == ("¥550.00", "+¥500.00")
    assert got["Cost to collect per ¥ recovered"] == ("1.0095", "+1.0075")  # 555.25/550 vs 0.10/50
    assert got["Complaints per 10,000 overdue accounts"] == ("10,000.0", "+5,000.0")
    assert got["Complaints resolved on time"] == ("66.67%", "+66.67 pp")
    assert len(at.metric) == 9


def test_overview_follows_the_product_filter(book):
    at = open_page("overview.py", dates=(JAN, FEB), flt_product=["instalment"])
    got = tiles(at)
    # instalment loans L3, L4 on 29 Feb: overdue 300 + 120 = 420 (Jan: 200 + 50 = 250)
    assert got["Overdue balance (¥)"] == ("¥420.00", "+¥170.00")
    assert got["Cure rate"][0] == "0.00%"
    at.multiselect(key="flt_product").set_value([]).run()
    assert tiles(at)["Overdue balance (¥)"][0] == "¥450.00"


def test_an_upload_shows_on_the_next_rerun_without_clearing_any_cache(book, tmp_path):
    from portal import ingest

    at = open_page("overview.py", dates=(JAN, FEB))
    assert tiles(at)["Recovered this month (¥)"] == ("¥550.00", "+¥500.00")
    at.run()  # a rerun is served from st.cache_data
    assert tiles(at)["Recovered this month (¥)"][0] == "¥550.00"
    upload = tmp_path / "payments.csv"
    upload.write_text("payment_id,loan_id,paid_at,amount\nP99,L3,2024-02-20T10:00:00+08:00,75.50\n",
                      encoding="utf-8")
    assert ingest.load_file("payments", upload, db=book).accepted == 1
    at.run()
    # the upload changed the data version the cache is keyed by, and refreshed the monthly rollup
    assert tiles(at)["Recovered this month (¥)"] == ("¥625.50", "+¥575.50")


def test_overview_latest_month_by_default_and_in_chinese(book):
    at = open_page("overview.py", lang="zh")
    got = tiles(at)
    # 31 Mar: overdue of L3 (400) + L5 (60) = 460, vs 450 on 29 Feb
    assert got["逾期余额（元）"] == ("¥460.00", "+¥10.00")
    assert at.title[0].value == "经营总览"


def test_delinquency_page(book):
    at = open_page("delinquency.py")
    assert at.selectbox(key="dq_roll_month").value == FEB
    at.selectbox(key="dq_roll_month").set_value(JAN).run()
    assert not at.exception
    tables = [df.value for df in at.dataframe]
    rolls = next(t for t in tables if "to_bucket" in t.columns)
    m1 = rolls[rolls["from_bucket"] == "M1"].set_index("to_bucket")["loans"].to_dict()
    assert m1 == {"M0": 1, "M2": 1, "closed": 1}
    at.segmented_control(key="dq_view").set_value("balance").run()
    assert not at.exception


def test_funnels_page(book):
    at = open_page("funnels.py")
    assert at.selectbox(key="fn_month").value == FEB
    at.selectbox(key="fn_month").set_value(JAN).run()
    first = at.dataframe[0].value
    assert first["stage"].tolist()[0] == "delinquent"
    assert first["loans"].tolist() == [4, 4, 2, 2, 2, 3, 1]


def test_channels_page(book):
    at = open_page("channels.py", dates=(JAN, MAR))
    table = at.dataframe[0].value.set_index("channel")
    # 31 Jan .. 31 Mar (end 1 Apr): every contact; phone C2, C4, C9, C10; P1 -> app, P2 + P4 -> phone, P5 -> sms
    assert table.loc["phone", "attempts"] == 4
    assert table.loc["phone", "recovered_amount"] == 170.0
    # strategy month-ends 31 Jan and 29 Feb: champion cures 2 of 3, challenger 0 of 2 (Wald: not significant)
    texts = [t.value for t in at.text]
    assert "No significant difference: Challenger -66.7 pp vs Champion, 95% CI -120.0 to -13.3 pp" not in texts
    assert any(t.startswith("Champion cures more: +66.7 pp") for t in texts), texts


@pytest.mark.parametrize("key", ["overview", "delinquency", "funnels", "channels"])
def test_dashboards_are_for_staff_only(key):
    assert not navigation.may_open("customer", key)
    assert all(navigation.may_open(role, key) for role in ("executive", "analyst", "compliance", "admin"))
    assert navigation.page(key).section == "executive"


def cli(book, name: str, *params: str) -> str:
    """What `portal query NAME --format csv` prints against the book."""
    db.close(book)  # the CLI is another process: release this process's lock on the file first
    args = [sys.executable, "-m", "portal", "--db", str(book), "query", name, "--format", "csv"]
    for p in params:
        args += ["--param", p]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def shown(frame) -> str:
    """The CSV text of a table as the page's CSV download writes it (without the BOM; CRLF as LF)."""
    return export.to_csv_bytes(frame).decode("utf-8-sig").replace("\r\n", "\n")


def test_cli_prints_what_the_pages_show(book):
    at = open_page("channels.py", dates=(JAN, FEB), flt_product=["cash_loan", "instalment"])
    # the sidebar range 31 Jan .. 29 Feb means start 2024-01-31 (inclusive), end 2024-03-01 (exclusive)
    page_channels = at.dataframe[0].value
    printed = cli(book, "channel_effectiveness", "start=2024-01-31", "end=2024-03-01", "product=cash_loan,instalment")
    assert printed == shown(page_channels)
    assert "phone,2,1.0,1.0,1.0,0.5,50.0,5.0,0.1,1,5000.0" in printed.splitlines()
    agents = at.dataframe[1].value
    assert cli(book, "collector_scorecard", "by=agent", "start=2024-01-31", "end=2024-03-01",
               "product=cash_loan,instalment") == shown(agents)

    funnels = open_page("funnels.py")
    funnels.selectbox(key="fn_month").set_value(JAN).run()
    assert cli(book, "delinquency_funnel", "as_of=2024-01-31") == shown(funnels.dataframe[0].value)
    assert cli(book, "escalation_funnel", "as_of=2024-01-31") == shown(funnels.dataframe[1].value)

    overview = open_page("overview.py", dates=(JAN, FEB))
    kpi_table = next(d.value for d in overview.dataframe if "on_time_share" in d.value.columns)
    assert cli(book, "overview_kpis", "as_of=2024-02-29") == shown(kpi_table)


def test_filters_survive_a_page_switch(book):
    at = open_page("channels.py")
    at.multiselect(key="flt_product").set_value(["instalment"]).run()
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception
    # the Overview now shows the instalment book on 31 Mar: L3 only (L4 is current) -> 400
    assert at.multiselect(key="flt_product").value == ["instalment"]
    assert tiles(at)["Overdue balance (¥)"][0] == "¥400.00"
