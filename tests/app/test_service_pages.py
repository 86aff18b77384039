"""The Users page's API tokens and the sign-in page's `next`, through Streamlit's AppTest (no server: here a
sign-in lasts for the session, and the deep link is followed within it)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from portal import auth, i18n, navigation
from portal.auth_types import User

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
PASSWORD = "correct horse battery"


def _page(at: AppTest, key: str) -> AppTest:
    spec = navigation.page(key)
    wanted = "" if spec.default else key
    at._page_hash = next(h for h, i in at._registered_pages.items() if i.get("url_pathname") == wanted)
    return at.run()


def test_an_admin_creates_lists_and_revokes_a_token_on_the_users_page(tmp_db):
    auth.create_user("ada", "admin", PASSWORD, db=tmp_db)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = User("ada", "admin", "Ada")
    at = _page(at.run(), "users")
    assert not at.exception
    assert i18n.t("service.tokens.none") in [i.value for i in at.info]
    at.text_input(key="tokens_add_name").input("PowerBI")
    at.selectbox(key="tokens_add_role").select("executive")
    at.button(key="FormSubmitter:tokens_add-" + i18n.t("service.tokens.submit_add")).click().run()
    assert not at.exception
    secret = at.code[-1].value  # shown once, on this run only
    assert auth.token_identity(secret, db=tmp_db).name == "powerbi"
    assert i18n.t("service.tokens.added", name="powerbi") in [s.value for s in at.success]
    at.run()
    assert all(c.value != secret for c in at.code)  # not shown again
    tokens_table = next(d.value for d in at.dataframe if i18n.t("service.tokens.col_prefix") in d.value.columns)
    assert tokens_table.iloc[0, 0] == "powerbi" and tokens_table.iloc[0, 2] == secret[:10] + "..."
    at.selectbox(key="tokens_pick").select("powerbi")
    at.button(key="tokens_revoke").click().run()
    assert not at.exception and auth.token_identity(secret, db=tmp_db) is None
    at.text_input(key="tokens_add_name").input("powerbi")
    at.button(key="FormSubmitter:tokens_add-" + i18n.t("service.tokens.submit_add")).click().run()
    assert [e.value for e in at.error] == [i18n.t("auth.errors.token_exists")]


def test_without_the_server_a_sign_in_follows_next_within_the_session(demo_db):
    auth.create_user("eve", "executive", PASSWORD, db=demo_db)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["next"] = "/channels?product=cash_loan&from=2026-06-30"
    at = _page(at.run(), "signin")
    at.text_input(key="signin_username").input("eve")
    at.text_input(key="signin_password").input(PASSWORD)
    at = at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == i18n.t("nav.channels")
    assert at.session_state["flt_product"] == ["cash_loan"]  # the link's filters, applied
    assert at.session_state["flt_dates"][0].isoformat() == "2026-06-30"
    assert "web_session" not in at.session_state  # no cookie routes here: nothing server-side to resume


def test_a_next_that_leaves_the_portal_sends_the_sign_in_home(tmp_db):
    auth.create_user("eve", "executive", PASSWORD, db=tmp_db)
    for bad in ("https://evil.example/", "//evil.example/channels", "/users"):  # /users: not eve's page
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["next"] = bad
        at = _page(at.run(), "signin")
        at.text_input(key="signin_username").input("eve")
        at.text_input(key="signin_password").input(PASSWORD)
        at = at.button[0].click().run()
        assert at.title[0].value == i18n.t("home.title"), bad
