"""AppTest smoke test: every registered page renders for an admin without an exception, in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import navigation
from portal.auth_types import User

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("spec", navigation.PAGES, ids=lambda s: s.key)
def test_page_renders(spec, lang, demo_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("smoke", "admin", "Smoke Test")
    at.session_state["lang"] = lang
    at.run()
    at.switch_page(f"app_pages/{spec.script}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_anonymous_home_shows_no_book_data(demo_db):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.metric) == 0
    assert at.title[0].value == "Collections Portal"


def test_filters_follow_the_url(demo_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("smoke", "executive")
    at.query_params["product"] = "instalment"
    at.run()
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception
    assert at.multiselect(key="flt_product").value == ["instalment"]
