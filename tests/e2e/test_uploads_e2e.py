"""An analyst uploads a file through the real page in a browser and sees the reject report."""

from __future__ import annotations

import csv
import io

from portal.i18n import t
from tests.e2e.conftest import open_nav, wait_for_app

CSV_TEXT = (
    "客户号,姓名,手机号,身份证号,省份\n"
    "E2E-1,张三,13812345678,11010519491231002X,北京\n"
    "E2E-2,李四,1381234567,,上海\n"
)


def test_upload_through_the_page_shows_and_downloads_the_rejects(signed_in, browser_page):
    page = signed_in(browser_page, "analyst")
    open_nav(page, "uploads")
    page.get_by_role("heading", name=t("uploads.title", "en")).wait_for()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "customers_gbk.csv", "mimeType": "text/csv", "buffer": CSV_TEXT.encode("gbk")}])
    page.get_by_text("customers_gbk.csv").wait_for()
    wait_for_app(page)
    page.get_by_role("button", name=t("uploads.submit", "en")).click()
    page.get_by_text(t("uploads.rejects_title", "en"), exact=True).wait_for(timeout=60_000)
    wait_for_app(page)
    body = page.inner_text("body")
    assert "1 row loaded, 1 row kept in quarantine" in body, body[:2000]
    assert page.locator('[data-testid="stException"]').count() == 0

    with page.expect_download() as download:
        page.get_by_role("button", name=t("common.download_csv", "en"), exact=True).click()
    content = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0][:3] == [t("uploads.col_row_number", "en"), t("uploads.col_column", "en"),
                           t("uploads.col_reason", "en")]
    assert rows[1][:3] == ["3", "mobile", "mobile 1381234567 is not an 11-digit mainland number"]
