"""The executive dashboards in a real browser: sign in, change a filter, see a KPI tile move to the
value computed independently from the database, download CSVs from every page, and save screenshots."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from portal import db, i18n, kpis
from portal.i18n import t
from tests.e2e.conftest import open_nav, wait_for_app


@pytest.fixture(scope="session")
def expected(e2e_db, tmp_path_factory) -> dict:
    """Numbers the pages should show, computed from a copy of the e2e database (the server locks the
    original; the data tables were checkpointed before it started and nothing in the tests edits them)."""
    db.close(e2e_db)  # checkpoint the demo data into the file when this process still has it open
    copy = tmp_path_factory.mktemp("dash-e2e") / "copy.duckdb"
    shutil.copy(e2e_db, copy)
    months = sorted(pd.Timestamp(m).date() for m in db.query("month_ends", db=copy)["as_of"])
    latest = months[-1]
    start, end = months[0], latest + dt.timedelta(days=1)
    out = {
        "latest": latest,
        "overdue_all": db.query("overview_kpis", db=copy, as_of=latest)["overdue_balance"].iloc[0],
        "overdue_instalment": db.query("overview_kpis", db=copy, as_of=latest, product=["instalment"])[
            "overdue_balance"].iloc[0],
        "funnel": db.query("delinquency_funnel", db=copy, as_of=months[-2], product=["instalment"]),
        "channels": db.query("channel_effectiveness", db=copy, start=start, end=end, product=["instalment"]),
    }
    db.close(copy)
    return out


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.inner_text("body")[:2000]


def _tile(page, key: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text=t(f"dash.overview.{key}", "en"))
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _download_csv(page, index: int = 0) -> pd.DataFrame:
    with page.expect_download() as info:
        page.get_by_role("button", name=t("common.download_csv", "en"), exact=True).nth(index).click()
    path = Path(info.value.path())
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    return pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")


def _screenshot(page, path: Path) -> None:
    """A tall screenshot once the Plotly charts have drawn (Streamlit scrolls inside its own container),
    into the test's own directory: docs/screenshots is written only by scripts/screenshots.py."""
    page.set_viewport_size({"width": 1400, "height": 2400})
    wait_for_app(page)
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a drawn page, not a blank one
    page.set_viewport_size({"width": 1400, "height": 1000})


def _pick_product(page, product: str) -> None:
    wait_for_app(page)
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(
        has_text=t("filters.product", "en"))
    label = i18n.label("product", product, "en")
    box.locator("input").click()
    # typing opens the list even when a rerun closed it right after the click, and filters it
    page.keyboard.type(label)
    page.get_by_role("option", name=label, exact=True).click()
    page.keyboard.press("Escape")
    wait_for_app(page)


def test_dashboards_in_the_browser(browser_page, signed_in, expected, tmp_path):
    page = signed_in(browser_page, "executive")
    open_nav(page, "overview")
    _no_exception(page)
    page.locator('[data-testid="stMetric"]').first.wait_for()
    assert _tile(page, "overdue_balance") == kpis.format_value("money", expected["overdue_all"])
    _screenshot(page, tmp_path / "overview.png")
    trend = _download_csv(page)
    assert list(trend.columns) == ["as_of", "bucket", "loans", "outstanding", "overdue_amount"]
    assert "M0" not in set(trend["bucket"])
    with page.expect_download() as info:
        page.get_by_role("button", name=t("report.button_html", "en")).click()
    pack = Path(info.value.path()).read_text(encoding="utf-8")
    assert info.value.suggested_filename == f"board_pack_{expected['latest'].isoformat()}_en.html"
    assert kpis.format_value("money", expected["overdue_all"]) in pack
    assert "<script src=" not in pack

    open_nav(page, "channels")
    _no_exception(page)
    _screenshot(page, tmp_path / "channels.png")
    _pick_product(page, "instalment")
    page.wait_for_function("() => location.search.includes('product=instalment')")
    channels = _download_csv(page)
    want_channels = expected["channels"]
    assert channels["channel"].tolist() == want_channels["channel"].tolist()
    assert channels["attempts"].tolist() == want_channels["attempts"].tolist()

    # the filter lives in the session: the Overview tile now shows the instalment book
    open_nav(page, "overview")
    want = kpis.format_value("money", expected["overdue_instalment"])
    page.locator('[data-testid="stMetricValue"]', has_text=want).wait_for()
    assert _tile(page, "overdue_balance") == want
    assert want != kpis.format_value("money", expected["overdue_all"])

    open_nav(page, "delinquency")
    _no_exception(page)
    buckets = _download_csv(page)
    assert set(buckets["bucket"]) <= {"M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"}

    open_nav(page, "funnels")
    _no_exception(page)
    funnel = _download_csv(page)
    assert funnel["stage"].tolist() == expected["funnel"]["stage"].tolist()
    assert funnel["loans"].tolist() == expected["funnel"]["loans"].tolist()
