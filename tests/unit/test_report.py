"""The board pack HTML and the KPI tile formatting, on the hand-built book."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal import kpis, report
from tests.fixtures_dashboards import build

FEB = dt.date(2024, 2, 29)


@pytest.fixture
def book(tmp_db):
    return build(tmp_db)


def kpi_rows(page: str) -> dict[str, list[str]]:
    table = page[page.index("<tbody>"): page.index("</tbody>")]
    return {cells[0]: cells[1:] for cells in (re.findall(r"<td>(.*?)</td>", row) for row in table.split("</tr>")) if cells}


def test_board_pack_is_self_contained_and_holds_the_kpis(book):
    page = report.build_html(FEB, {}, lang="en", db_path=book)
    assert page.startswith("<!DOCTYPE html>")
    assert "<h1>Collections board pack: month-end 2024-02-29</h1>" in page
    # plotly.js is inlined once and nothing is fetched from the network
    assert not re.search(r"<script[^>]+src=", page)
    assert page.count("plotly.js v") == 1
    rows = kpi_rows(page)
    # values from tests/unit/test_dashboards.py::test_overview_kpis (Feb vs Jan)
    assert rows["Overdue balance (¥)"] == ["¥450.00", "¥430.00", "+¥20.00"]
    assert rows["Delinquency rate (count)"] == ["60.00%", "66.67%", "-6.67 pp"]
    assert rows["Cure rate"] == ["25.00%", "–", "–"]
    assert rows["Cost to collect per ¥ recovered"] == ["1.0095", "0.0020", "+1.0075"]
    assert rows["Complaints resolved on time"] == ["66.67%", "0.00%", "+66.67 pp"]
    # the Delinquency charts: bucket trend, delinquent-only trend, roll heatmap, Sankey, two vintage charts
    assert page.count('<div class="chart">') == 6


def test_board_pack_escapes_every_value(book):
    evil = '<script>alert("x")</script>'
    page = report.build_html(FEB, {"region": [evil]}, lang="zh", db_path=book)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    # no loan has that region: no snapshot rows, so every tile is blank
    assert kpi_rows(page)["逾期余额（元）"] == ["–", "–", "–"]


def test_tile_formatting():
    assert kpis.format_value("money", 1234.5) == "¥1,234.50"
    assert kpis.format_value("rate", 0.12345) == "12.35%"
    assert kpis.format_value("per10k", float("nan")) == "–"
    assert kpis.format_delta("money", 10.0, 25.5) == "-¥15.50"
    assert kpis.format_delta("rate", 0.25, 0.2) == "+5.00 pp"
    assert kpis.format_delta("ratio", 0.5, None) is None
