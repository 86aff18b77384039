"""Every page x every role (pages registered later are covered automatically): the page either
renders for the role, or shows the sign-in prompt and no data at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import i18n, navigation
from portal.auth_types import User

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
DATA_ELEMENTS = ("dataframe", "table", "metric", "plotly_chart", "download_button", "arrow_vega_lite_chart")


def open_as(role: str, spec: navigation.PageSpec, lang: str = "en") -> AppTest:
    """Run the app shell as `role` and open the page by its URL path, as a browser would."""
    at = AppTest.from_file(APP, default_timeout=90)
    if role != "customer":
        at.session_state["user"] = User(f"matrix_{role}", role, f"Matrix {role}")
    at.session_state["lang"] = lang
    at.run()
    wanted = "" if spec.default else spec.key
    hashes = [h for h, info in at._registered_pages.items() if info.get("url_pathname") == wanted]
    assert hashes, f"page {spec.key} is not registered with st.navigation"
    at._page_hash = hashes[0]  # what a browser opening /<key> selects, also for hidden (refused) pages
    at.run()
    return at


def data_shown(at: AppTest) -> dict[str, int]:
    return {kind: len(at.get(kind)) for kind in DATA_ELEMENTS if len(at.get(kind))}


def prompt_shown(at: AppTest, lang: str = "en") -> bool:
    return any(w.value == i18n.t("shell.signin_required", lang) for w in at.warning)


@pytest.mark.parametrize("role", navigation.ROLES)
@pytest.mark.parametrize("spec", navigation.PAGES, ids=lambda s: s.key)
def test_page_is_served_or_refused_without_data(spec, role, demo_db):
    at = open_as(role, spec)
    assert not at.exception, [e.value for e in at.exception]
    if navigation.may_open(role, spec.key):
        assert not prompt_shown(at), f"{role} may open {spec.key} but was refused"
    else:
        assert prompt_shown(at), f"{role} opened {spec.key} without the sign-in prompt"
        assert data_shown(at) == {}, f"{role} was refused {spec.key} but saw data"
        assert [t.value for t in at.title] == [i18n.t(f"nav.{spec.key}")]


@pytest.mark.parametrize("role", sorted(navigation.STAFF))
def test_each_staff_role_sees_data_somewhere(role, demo_db):
    """On the demo book, the gate is not too strict: some page the role may open shows data."""
    for spec in navigation.PAGES:
        if spec.section != "public" and navigation.may_open(role, spec.key):
            at = open_as(role, spec)
            if data_shown(at):
                return
    pytest.fail(f"{role} sees no data on any page")


def test_refused_page_in_chinese_shows_the_chinese_prompt(demo_db):
    at = open_as("customer", navigation.page("users"), lang="zh")
    assert prompt_shown(at, "zh") and data_shown(at) == {}


def test_the_registry_gates_admin_pages_from_other_staff():
    assert navigation.may_open("admin", "users")
    assert not any(navigation.may_open(r, "users") for r in ("customer", "executive", "compliance", "analyst"))
    assert all(navigation.may_open(r, "signin") for r in navigation.ROLES)


def test_sign_in_leaves_the_menu_once_signed_in():
    assert navigation.listed("customer", "signin") and navigation.listed(None, "signin")
    assert not any(navigation.listed(r, "signin") for r in navigation.STAFF)
    assert not navigation.listed("customer", "users") and navigation.listed("admin", "users")
    assert navigation.listed("executive", "conduct") and navigation.listed("executive", "audit") is False
