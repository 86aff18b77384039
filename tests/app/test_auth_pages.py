"""The sign-in page, lockout and timeout messages, sign-out, the admin Users page, the reveal
helper and cache isolation, through Streamlit's AppTest on real database files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import auth, db, i18n, masking, navigation
from portal.auth_types import User

APP = str(Path(navigation.__file__).parent / "streamlit_app.py")
PASSWORD = "correct horse battery"


def app(user: User | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if user is not None:
        at.session_state["user"] = user
    for key, value in state.items():
        at.session_state[key] = value
    return at


def goto(at: AppTest, key: str) -> AppTest:
    spec = navigation.page(key)
    wanted = "" if spec.default else key
    at._page_hash = next(h for h, i in at._registered_pages.items() if i.get("url_pathname") == wanted)
    return at.run()


def submit_signin(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    return at.button[0].click().run()


def sidebar_texts(at: AppTest) -> list[str]:
    return [t.value for t in at.sidebar.text]


def test_sign_in_wrong_password_lockout_and_success(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, display_name="Cora Li", db=tmp_db)
    at = goto(app().run(), "signin")
    assert not at.exception
    submit_signin(at, "cora", "wrong password")
    assert [e.value for e in at.error] == [i18n.t("auth.invalid")]
    assert "user" not in at.session_state
    for _ in range(4):
        submit_signin(at, "cora", "wrong password")
    assert [e.value for e in at.error] == [i18n.t("auth.invalid")]  # locked now, but it says no more
    submit_signin(at, "cora", PASSWORD)  # right password, but still locked
    assert [e.value for e in at.error] == [i18n.t("auth.invalid")] and "user" not in at.session_state
    assert auth.get_user("cora", db=tmp_db).locked_until is not None
    for _ in range(6):  # an unknown user name gets exactly the same answer
        submit_signin(at, "nobody", "wrong password")
        assert [e.value for e in at.error] == [i18n.t("auth.invalid")]
    auth.reset_password("cora", PASSWORD, db=tmp_db)
    submit_signin(at, "cora", PASSWORD)
    assert not at.exception
    assert at.session_state["user"] == User("cora", "compliance", "Cora Li")
    assert at.session_state["auth_source"] == "local"
    assert "Signed in as Cora Li (Compliance)" in sidebar_texts(at)
    assert at.title[0].value == i18n.t("home.title")  # sent to the home page
    assert "signin_password" not in at.session_state or at.session_state["signin_password"] != PASSWORD


def test_disabled_account_is_refused_with_its_own_message(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, db=tmp_db)
    auth.set_active("cora", False, db=tmp_db)
    at = submit_signin(goto(app().run(), "signin"), "cora", PASSWORD)
    assert [e.value for e in at.error] == [i18n.t("auth.disabled")]


def test_sign_out_from_the_sidebar(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, db=tmp_db)
    at = submit_signin(goto(app().run(), "signin"), "cora", PASSWORD)
    at.sidebar.button(key="shell_signout").click().run()
    assert not at.exception
    assert "user" not in at.session_state
    assert i18n.t("auth.signed_out") in [i.value for i in at.info]
    assert not any(t.startswith("Signed in as") for t in sidebar_texts(at))


def test_idle_session_is_signed_out_with_a_message(tmp_db):
    idle = auth.utcnow() - dt.timedelta(minutes=31)
    at = app(User("cora", "compliance"), last_seen=idle, flt_product=["cash_loan"]).run()
    assert not at.exception
    assert [w.value for w in at.warning][0] == i18n.t("auth.expired", minutes=30)
    assert "user" not in at.session_state and "flt_product" not in at.session_state
    goto(at, "users")
    assert i18n.t("shell.signin_required") in [w.value for w in at.warning]


def test_active_session_is_kept_and_its_clock_restarts(tmp_db):
    recent = auth.utcnow() - dt.timedelta(minutes=29)
    at = app(User("cora", "compliance"), last_seen=recent).run()
    assert at.session_state["user"].username == "cora"
    assert at.session_state["last_seen"] > recent + dt.timedelta(minutes=28)
    assert not at.warning


def test_account_disabled_or_demoted_during_a_session_takes_effect_on_the_next_run(tmp_db):
    auth.create_user("ada", "admin", PASSWORD, db=tmp_db)
    at = submit_signin(goto(app().run(), "signin"), "ada", PASSWORD)
    goto(at, "users")
    assert at.title[0].value == i18n.t("admin_users.title")
    auth.change_role("ada", "analyst", db=tmp_db)
    at.run()
    assert at.session_state["user"].role == "analyst"
    assert i18n.t("shell.signin_required") in [w.value for w in at.warning]
    auth.set_active("ada", False, db=tmp_db)
    at.run()
    assert "user" not in at.session_state
    assert i18n.t("auth.disabled") in [i.value for i in at.info]


def test_admin_manages_users(tmp_db):
    auth.create_user("ada", "admin", PASSWORD, db=tmp_db)
    with pytest.raises(auth.AuthError):
        auth.authenticate("ada", "a wrong guess", db=tmp_db)
    at = goto(app(User("ada", "admin", "Ada")).run(), "users")
    assert not at.exception
    users_table, attempts, reveals, *_ = (frame.value for frame in at.dataframe)  # then the API tokens' tables
    assert users_table.iloc[:, 0].tolist() == ["ada"]
    assert attempts[["username", "succeeded", "reason"]].values.tolist() == [["ada", False, "invalid"]]
    assert reveals.empty
    at.text_input(key="users_add_name").input("Eve")
    at.text_input(key="users_add_display").input("Eve Zhang")
    at.selectbox(key="users_add_role").select("executive")
    at.button(key="FormSubmitter:users_add-" + i18n.t("admin_users.submit_add")).click().run()
    assert not at.exception
    generated = at.code[0].value  # no password typed: one was generated and shown once
    assert auth.authenticate("eve", generated, db=tmp_db).role == "executive"
    assert auth.get_user("eve", db=tmp_db).display_name == "Eve Zhang"

    at.selectbox(key="users_pick").select("eve")
    at.run()
    at.selectbox(key="users_role_eve").select("analyst")
    at.button(key="users_change_role").click().run()
    assert auth.get_user("eve", db=tmp_db).role == "analyst"
    at.button(key="users_toggle").click().run()
    assert not auth.get_user("eve", db=tmp_db).is_active
    at.text_input(key="users_reset_password").input("another long secret")
    at.button(key="FormSubmitter:users_reset-" + i18n.t("admin_users.reset")).click().run()
    assert auth.verify_password(
        db.scalar("select password_hash from users where username = 'eve'", db=tmp_db), "another long secret")

    # Mistakes come back as messages, not exceptions.
    at.text_input(key="users_add_name").input("eve")
    at.text_input(key="users_add_password").input("short")
    at.button(key="FormSubmitter:users_add-" + i18n.t("admin_users.submit_add")).click().run()
    assert [e.value for e in at.error] == [i18n.t("auth.errors.weak_password")]

    # An admin cannot disable or demote themselves.
    at.selectbox(key="users_pick").select("ada")
    at.run()
    assert at.button(key="users_toggle").disabled and at.button(key="users_change_role").disabled


def _reveal_script():
    import streamlit as st

    from portal import ui

    ui.reveal_button("customers", "C1", "mobile", st.session_state["clear"], key="m1")


@pytest.fixture
def customer(tmp_db):
    db.execute("insert into customers (customer_id, name, mobile) values ('C1', '张三', '13812345678')", db=tmp_db)
    return tmp_db


def test_reveal_button_for_compliance_shows_masked_then_logs_the_reveal(customer):
    at = AppTest.from_function(_reveal_script, default_timeout=30)
    at.session_state["user"] = User("cora", "compliance")
    at.session_state["clear"] = "13812345678"
    at.run()
    assert [t.value for t in at.text] == ["138****5678"]
    at.button(key="FormSubmitter:reveal_form_m1-" + i18n.t("auth.reveal.submit")).click().run()
    assert [e.value for e in at.error] == [i18n.t("auth.reveal.reason_required")]
    assert masking.reveals(db=customer).empty
    at.text_input(key="reveal_reason_m1").input("callback for complaint CP-1")
    at.button(key="FormSubmitter:reveal_form_m1-" + i18n.t("auth.reveal.submit")).click().run()
    assert i18n.t("auth.reveal.shown", value="13812345678") in [t.value for t in at.text]
    log = masking.reveals(db=customer)
    assert log[["revealed_by", "table_name", "record_key", "field_name", "reason"]].values.tolist() == [
        ["cora", "customers", "C1", "mobile", "callback for complaint CP-1"]]
    at.run()  # the next run is masked again
    assert [t.value for t in at.text] == ["138****5678"]


@pytest.mark.parametrize("role", ["executive", "analyst", None])
def test_reveal_button_offers_nothing_to_roles_that_may_not_reveal(customer, role):
    at = AppTest.from_function(_reveal_script, default_timeout=30)
    if role:
        at.session_state["user"] = User("x", role)
    at.session_state["clear"] = "13812345678"
    at.run()
    assert [t.value for t in at.text] == ["138****5678"]
    assert len(at.button) == 0 and len(at.text_input) == 0
    assert "13812345678" not in str([e for e in at.main])


def _cache_script():
    import streamlit as st

    from portal import ui

    shared = ui.run_query("month_ends")
    own = ui.run_user_query("month_ends")
    st.text(f"{int(shared['loans'].sum())}|{int(own['loans'].sum())}")


def _snapshot(path, loan_id: str) -> None:
    db.execute("insert into snapshots values ($l, date '2024-01-31', 0, 100, 0, null)", {"l": loan_id}, db=path)


def _unversioned_snapshot(path, loan_id: str) -> None:
    """Insert a row on the raw connection, which bumps no data version: only a cache miss can see it."""
    db.connect(path).execute("insert into snapshots values ($l, date '2024-01-31', 0, 100, 0, null)", {"l": loan_id})


def test_nothing_cached_for_one_role_or_user_is_served_to_another(tmp_db):
    from portal import ui

    ui.clear_caches()

    def seen(user: User) -> tuple[str, str]:
        at = AppTest.from_function(_cache_script, default_timeout=30)
        at.session_state["user"] = user
        at.run()
        assert not at.exception
        return tuple(at.text[0].value.split("|"))

    _snapshot(tmp_db, "L1")
    assert seen(User("ed", "executive")) == ("1", "1")
    # An insert on the raw connection leaves the data version unchanged, so only a cache miss sees the row.
    _unversioned_snapshot(tmp_db, "L2")
    assert seen(User("ed", "executive")) == ("1", "1")  # served from ed's and executives' cache
    assert seen(User("cora", "compliance")) == ("2", "2")  # another role: never executives' entry
    assert seen(User("eva", "executive")) == ("1", "2")  # same role shares run_query, not run_user_query
    _snapshot(tmp_db, "L3")  # through the portal: the data version moves and every cached result expires
    assert seen(User("ed", "executive")) == ("3", "3")
    ui.clear_caches()


AUTH_SECRETS = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-only",
                "client_id": "portal", "client_secret": "test-only",
                "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration"}


@pytest.fixture
def oidc_groups(tmp_path, monkeypatch):
    """A secrets.toml mapping identity-provider groups to roles, read from the working directory."""
    from portal import config

    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[portal.oidc_groups]\n"risk-compliance" = "compliance"\n"execs" = "executive"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config._secrets.cache_clear()
    yield
    config._secrets.cache_clear()


def oidc_app(groups: list[str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH_SECRETS
    at.user = {"is_logged_in": True, "email": "li@example.com", "name": "Li Lei", "groups": groups}
    return at


def test_oidc_identity_becomes_a_session_with_the_mapped_role(tmp_db, oidc_groups):
    at = oidc_app(["staff", "risk-compliance"]).run()
    assert not at.exception
    assert at.session_state["user"] == User("li@example.com", "compliance", "Li Lei")
    assert at.session_state["auth_source"] == "oidc"
    assert "Signed in as Li Lei (Compliance)" in sidebar_texts(at)
    goto(at, "complaints_queue")
    assert i18n.t("shell.signin_required") not in [w.value for w in at.warning]


def test_oidc_identity_without_a_mapped_group_stays_anonymous(tmp_db, oidc_groups):
    at = oidc_app(["staff"]).run()
    assert "user" not in at.session_state
    assert i18n.t("auth.oidc_no_role") in [i.value for i in at.info]


def test_signin_page_offers_company_sign_in_only_when_configured(tmp_db):
    plain = goto(app().run(), "signin")
    assert [b.label for b in plain.button] == [i18n.t("auth.submit")]
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH_SECRETS
    goto(at.run(), "signin")
    assert at.button(key="signin_oidc").label == i18n.t("auth.oidc_button")
