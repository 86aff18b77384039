"""Drill-down and formatted tables in a real browser, in English and in Chinese: pick a channel row or a
bucket bar, see the contacts or loans behind it (as many as the figure counts), find the pick in the URL,
and come back to it; tables show percents, ¥ amounts and code labels.

The grid draws its cells on a canvas: a script added before the page loads records every text the page
draws (CanvasRenderingContext2D.fillText), so the test reads what the user sees, formats included."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pandas as pd
import pytest

from portal import columns, db, i18n
from portal.i18n import t
from tests.e2e.conftest import open_nav, wait_for_app

RECORD_DRAWN_TEXT = """(() => {
  const drawn = new Set();
  window.__drawn = drawn;
  const fill = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    drawn.add(String(text));
    return fill.call(this, text, ...rest);
  };
})()"""


@pytest.fixture(scope="module")
def expected(e2e_db, tmp_path_factory) -> dict:
    """What the pages should show, from a copy of the e2e database (the server holds the original)."""
    db.close(e2e_db)
    copy = tmp_path_factory.mktemp("drill-e2e") / "copy.duckdb"
    shutil.copy(e2e_db, copy)
    months = sorted(pd.Timestamp(m).date() for m in db.query("month_ends", db=copy)["as_of"])
    period = {"start": months[0], "end": months[-1] + dt.timedelta(days=1)}
    channels = db.query("channel_effectiveness", db=copy, **period)
    buckets = db.query("delinquency_buckets", db=copy, **period)
    out = {"months": months, "channels": channels, "buckets": buckets,
           "phone_contacts": db.query("channel_contacts", db=copy, channel="phone", row_limit=5, **period)}
    db.close(copy)
    return out


def _page(browser, signed_in, lang: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
    context.add_init_script(RECORD_DRAWN_TEXT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    signed_in(page, "executive")
    if lang == "zh":
        page.locator('[data-testid="stSidebar"]').get_by_text("中文", exact=True).click()
        page.wait_for_function("() => location.search.includes('lang=zh')")
        page.locator('[data-testid="stSidebarNavLink"]', has_text=t("nav.channels", "zh")).first.wait_for()
        wait_for_app(page)
    return page


def _drawn(page) -> set[str]:
    return set(page.evaluate("() => Array.from(window.__drawn || [])"))


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.inner_text("body")[:2000]


def _pick_row(page, table_key: str, row: int) -> None:
    """Click the row marker of a table row (row 0 is the first data row) to select it."""
    grid = page.locator(f".st-key-{table_key}_table")
    grid.scroll_into_view_if_needed()
    grid.locator("canvas").first.wait_for()
    page.wait_for_timeout(500)
    grid.click(position={"x": 15, "y": 35 * (row + 1) + 17})
    wait_for_app(page)


def _open_link(page, url: str) -> None:
    """Open a portal link inside the signed-in session, as the app's own navigation does (the browser
    history API): Streamlit reruns the page with the link's query string. A page.goto() would start a
    new, anonymous session."""
    page.evaluate("url => { history.pushState(null, '', url); dispatchEvent(new PopStateEvent('popstate')); }", url)
    wait_for_app(page)


def _percent(value: float) -> str:
    """A rate as the grid's `percent` format writes it: up to 2 decimals, trailing zeros dropped."""
    text = f"{value * 100:,.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_channel_row_drills_down_to_its_contacts_and_the_url_keeps_it(browser, signed_in, expected, lang):
    page = _page(browser, signed_in, lang)
    try:
        open_nav(page, "channels")
        _no_exception(page)
        channels = expected["channels"]
        phone = int(channels.index[channels["channel"] == "phone"][0])
        _pick_row(page, "ch_channels", phone)
        drill = page.locator(".st-key-ch_channel_contacts_drill")
        drill.wait_for()
        page.wait_for_function("() => location.search.includes('ch_channel=phone')")
        attempts = int(channels.loc[phone, "attempts"])
        # the count is drawn when the drill-down's query returns: wait for it rather than read it at once
        count = drill.get_by_text(t("drill.count", lang, n=attempts), exact=True)
        count.wait_for()
        assert count.count() == 1
        title = t("drill.channel_title", lang, channel=i18n.label("channel", "phone", lang))
        assert drill.get_by_role("heading", name=title).count() == 1
        # the contacts grid draws its first contacts (IDs are plain text) and the channel's label
        first = expected["phone_contacts"]["contact_id"].tolist()
        page.wait_for_function("ids => ids.every(id => window.__drawn.has(id))", arg=first)
        _no_exception(page)

        shared = page.url
        # away and back: the drill-down comes back with its URL keys, as the sidebar filters do
        open_nav(page, "overview")
        page.locator(".st-key-ch_channel_contacts_drill").wait_for(state="detached")
        open_nav(page, "channels")
        page.locator(".st-key-ch_channel_contacts_drill").wait_for()
        page.wait_for_function("() => location.search.includes('ch_channel=phone')")

        # clearing the selection clears the URL keys and the drill-down
        drill = page.locator(".st-key-ch_channel_contacts_drill")
        drill.get_by_role("button", name=t("drill.clear", lang)).click()
        wait_for_app(page)
        page.wait_for_function("() => !location.search.includes('ch_channel=')")
        page.locator(".st-key-ch_channel_contacts_drill").wait_for(state="detached")

        # opening the shared link (in this signed-in session) shows the same drill-down
        _open_link(page, shared)
        page.locator(".st-key-ch_channel_contacts_drill").get_by_text(
            t("drill.count", lang, n=attempts), exact=True).wait_for()
        _no_exception(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_bucket_bar_drills_down_to_its_loans(browser, signed_in, expected, lang):
    page = _page(browser, signed_in, lang)
    try:
        open_nav(page, "delinquency")
        _no_exception(page)
        buckets = expected["buckets"]
        latest = buckets["as_of"].max()
        bar = buckets[(buckets["as_of"] == latest) & (buckets["bucket"] == "M1")].iloc[0]
        chart = page.locator(".st-key-dq_distribution .js-plotly-plot")
        chart.wait_for()
        page.wait_for_timeout(1000)
        # the bars of one trace (bucket) in month order: M1 is the second trace, the latest bar its last
        traces = chart.locator("g.barlayer g.trace")
        m1 = traces.nth(1).locator("g.point path")
        m1.nth(m1.count() - 1).click(force=True)
        wait_for_app(page)
        drill = page.locator(".st-key-dq_bucket_loans_drill")
        drill.wait_for()
        as_of = pd.Timestamp(latest).date().isoformat()
        page.wait_for_function("q => location.search.includes(q)", arg=f"dq_as_of={as_of}&dq_bucket=M1")
        n = int(bar["loans"])
        count = drill.get_by_text(t("drill.one", lang) if n == 1 else t("drill.count", lang, n=n), exact=True)
        count.wait_for()
        assert count.count() == 1
        title = t("drill.bucket_title", lang, bucket=i18n.label("bucket", "M1", lang), as_of=as_of)
        assert drill.get_by_role("heading", name=title).count() == 1
        # masked mobiles are drawn, never clear ones
        page.wait_for_function("() => Array.from(window.__drawn).some(s => /^1\\d\\d\\*{4}\\d{4}$/.test(s))")
        assert not [s for s in _drawn(page) if re.fullmatch(r"1[3-9]\d{9}", s)]
        _no_exception(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_tables_show_percents_amounts_and_code_labels(browser, signed_in, expected, lang):
    page = _page(browser, signed_in, lang)
    try:
        open_nav(page, "channels")
        _no_exception(page)
        grid = page.locator(".st-key-ch_channels_table")
        grid.locator("[role=columnheader]", has_text=t("columns.reach_rate", lang)).first.wait_for(state="attached")
        headers = [h.strip() for h in grid.locator("[role=columnheader]").all_inner_texts()]
        assert t("columns.reach_rate", lang) in headers and t("columns.recovered_amount", lang) in headers
        assert "reach_rate" not in headers
        channels = expected["channels"]
        row = channels[channels["channel"] == "phone"].iloc[0]
        want = {
            i18n.label("channel", "phone", lang),  # a code, shown as its label
            _percent(float(row["reach_rate"])),  # a rate, as a percent
            f"¥{float(row['recovered_amount']):,.2f}",  # an amount, in yuan with separators
            f"{int(row['attempts']):,}",  # a count, with separators
        }
        page.wait_for_function("want => want.every(s => window.__drawn.has(s))", arg=sorted(want))
        drawn = _drawn(page)
        assert "phone" not in drawn and "None" not in drawn and "nan" not in drawn
        empty = channels["ptp_kept_rate"].isna().any() or channels["cost_per_yuan_recovered"].isna().any()
        if empty:
            assert columns.EMPTY in drawn
    finally:
        page.context.close()
