"""AppTest: the Overview page offers the board pack as PDF and as HTML, built on click from the page's
month-end, filters and language; the bytes the buttons serve are the same document the CLI writes."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from portal import navigation, report
from portal.auth_types import User
from tests.fixtures_dashboards import build

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
JAN, FEB = dt.date(2024, 1, 31), dt.date(2024, 2, 29)


@pytest.fixture
def book(tmp_db):
    return build(tmp_db)


@pytest.fixture
def served(monkeypatch) -> dict:
    """file name -> the callable a download button runs when clicked (Streamlit defers it)."""
    deferred: dict = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        deferred[file_name] = (data_callable, mimetype)
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return deferred


def overview(lang: str = "en", **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = User("e", "executive")
    at.session_state["lang"] = lang
    at.session_state["flt_dates"] = (JAN, FEB)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_overview_offers_the_board_pack_as_pdf_and_html(book, served):
    at = overview(flt_product=["instalment"])
    buttons = {b.label: b for b in at.download_button}
    assert {"Board pack (PDF)", "Board pack (HTML)"} <= set(buttons)
    assert "2024-02-29" in buttons["Board pack (PDF)"].help
    pdf_call, pdf_mime = served["board_pack_2024-02-29_en.pdf"]
    html_call, html_mime = served["board_pack_2024-02-29_en.html"]
    assert (pdf_mime, html_mime) == ("application/pdf", "text/html")
    pdf = pdf_call()
    assert pdf.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    # the page's filter: instalment loans L3, L4 owe 300 + 120 = 420 on 29 Feb (Jan: 200 + 50 = 250)
    assert "¥420.00" in text and "+¥170.00" in text and "Product: Instalment" in text
    page = html_call().decode("utf-8")
    assert "¥420.00" in page and "Product: Instalment" in page
    assert page.count("<h2>") == len(report.SECTIONS)


def test_overview_board_pack_in_chinese(book, served):
    at = overview("zh")
    labels = {b.label for b in at.download_button}
    assert {"董事会报告（PDF）", "董事会报告（HTML）"} <= labels
    html_call, _ = served["board_pack_2024-02-29_zh.html"]
    page = html_call().decode("utf-8")
    assert "催收董事会报告：2024-02-29 月末" in page and '<html lang="zh">' in page
