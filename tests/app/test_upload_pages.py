"""Uploads and upload history pages (Streamlit AppTest), over a real database file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import db, i18n, ingest, navigation
from portal.auth_types import User
from tests.fixtures_uploads import CUSTOMER_HEADER

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
GOOD = ["C1", "张三", "13812345678", "11010519491231002X", "北京", "", ""]
BAD = ["C2", "李四", "1381234567", "", "上海", "", ""]


def _csv(*rows: list[str]) -> bytes:
    return ("\n".join(",".join(r) for r in [CUSTOMER_HEADER, *rows]) + "\n").encode("utf-8")


def _page(role: str = "analyst", lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("ana", role, "Ana")
    at.session_state["lang"] = lang
    at.run()
    at.switch_page("app_pages/uploads.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(at: AppTest, name: str, content: bytes) -> AppTest:
    # customers is the first (default) dataset; AppTest cannot re-format a translated option list.
    assert list(ingest.DATASETS)[0] == "customers"
    at.file_uploader(key="up_file").set_value((name, content, "text/csv")).run()
    at.button(key="up_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_upload_shows_counts_and_the_reject_report(tmp_db):
    at = _upload(_page(), "customers.csv", _csv(GOOD, BAD))
    assert [m.value for m in at.metric] == ["2", "1", "1"]
    assert "1 row loaded, 1 row kept in quarantine" in at.warning[0].value
    table = at.dataframe[-1].value
    assert table.values.tolist() == [[3, "mobile", "mobile 1381234567 is not an 11-digit mainland number",
                                      table.iloc[0, 3]]]
    # the quarantined row is masked as everywhere else: the name and the (bad) mobile alike
    assert '"name":"李*"' in table.iloc[0, 3] and '"mobile":"138***4567"' in table.iloc[0, 3]
    assert "李四" not in table.to_csv()
    assert db.scalar("select count(*) from customers", db=tmp_db) == 1
    assert db.scalar("select uploaded_by from uploads", db=tmp_db) == "ana"


def test_reject_reasons_follow_the_language(tmp_db):
    # AppTest re-runs the page's format_func in this thread, so this thread must speak Chinese too.
    i18n.set_language("zh")
    try:
        at = _upload(_page(lang="zh"), "customers.csv", _csv(BAD))
    finally:
        i18n.set_language("en")
    assert at.dataframe[-1].value.iloc[0, 2] == "mobile 1381234567 不是 11 位的大陆手机号"
    assert "没有任何行入库" in at.error[0].value


def test_strict_checkbox_loads_nothing(tmp_db):
    at = _page()
    at.checkbox(key="up_strict").check().run()
    _upload(at, "customers.csv", _csv(GOOD, BAD))
    assert "strict mode" in at.error[0].value
    assert db.scalar("select count(*) from customers", db=tmp_db) == 0


def test_unreadable_file_says_why_in_plain_text(tmp_db):
    at = _upload(_page(), "picture.csv", b"\x89PNG\r\n\x1a\n\0\0\0")
    assert at.error[0].value == "The file was not loaded. Reason:"
    assert "picture.csv is a binary PNG file, not CSV text" in [e.value for e in at.text]


def test_history_page_lists_uploads_and_their_quarantine(tmp_db):
    _upload(_page(), "first.csv", _csv(GOOD, BAD))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("ana", "analyst")
    at.run()
    at.switch_page("app_pages/upload_history.py").run()
    assert not at.exception, [e.value for e in at.exception]
    history = at.dataframe[0].value
    assert history[["file_name", "rows_accepted", "rows_rejected", "status", "uploaded_by"]].values.tolist() == [
        ["first.csv", 1, 1, "Partly loaded", "ana"]]
    assert len(history["file_sha256"].iloc[0]) == 64
    quarantine = at.dataframe[1].value
    assert quarantine.iloc[:, :3].values.tolist() == [
        [3, "mobile", "mobile 1381234567 is not an 11-digit mainland number"]]
    assert '"name":"李*"' in quarantine.iloc[0, 3] and "李四" not in quarantine.to_csv()


def test_history_page_with_no_uploads_says_so_without_mentioning_filters(tmp_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("ana", "analyst")
    at.run()
    at.switch_page("app_pages/upload_history.py").run()
    assert [i.value for i in at.info] == [i18n.t("common.no_uploads")]
    assert "filter" not in at.info[0].value.lower()


def test_pages_are_for_analysts_and_admins_only(tmp_db):
    for role in ("analyst", "admin"):
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["user"] = User("x", role)
        at.run()
        at.switch_page("app_pages/uploads.py").run()
        assert len(at.file_uploader) == 1, role
    for role in ("executive", "compliance", "customer"):
        assert not navigation.may_open(role, "uploads") and not navigation.may_open(role, "upload_history")
        at = AppTest.from_file(APP, default_timeout=60)
        if role != "customer":
            at.session_state["user"] = User("x", role)
        at.run()
        # The page is registered only as a sign-in gate: its script cannot be opened.
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page("app_pages/uploads.py")


def test_a_bug_inside_the_load_is_one_line_and_loads_nothing(tmp_db, monkeypatch):
    """A fault injected after the rows are staged and inserted (in the derived refresh, inside the upload's
    transaction): the page says so in one catalogue line, no traceback, and the transaction is rolled back."""
    from portal import derived

    def broken(cur, change):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(derived, "refresh", broken)
    at = _upload(_page(), "customers.csv", _csv(GOOD))
    assert [e.value for e in at.error] == ["The file was not loaded. Reason:"]
    assert i18n.t("uploads.unexpected") in [e.value for e in at.text]
    assert "injected fault" not in str([e.value for e in at.text])
    assert db.scalar("select count(*) from customers", db=tmp_db) == 0


def test_a_bug_inside_portal_load_is_one_line_exit_1(tmp_db, tmp_path, monkeypatch, capsys):
    from portal import cli, derived

    def broken(cur, change):
        raise RuntimeError("injected fault\nsecond line")

    monkeypatch.setattr(derived, "refresh", broken)
    monkeypatch.delenv("PORTAL_DEBUG", raising=False)
    path = tmp_path / "customers.csv"
    path.write_bytes(_csv(GOOD))
    assert cli.main(["--db", str(tmp_db), "load", "customers", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("portal: unexpected error (RuntimeError: injected fault)")
    assert db.scalar("select count(*) from customers", db=tmp_db) == 0
