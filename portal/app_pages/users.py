import pandas as pd
import streamlit as st

from portal import auth, i18n, masking, ui
from portal.i18n import t

me = ui.require_role("admin")
st.title(t("admin_users.title"))
st.write(t("admin_users.intro"))


def _status(account: auth.Account) -> str:
    if not account.is_active:
        return t("admin_users.status_disabled")
    if auth.is_locked(account.locked_until, auth.utcnow()):
        return t("admin_users.status_locked")
    return t("admin_users.status_active")


def _error(exc: auth.AuthError) -> None:
    st.error(t(f"auth.errors.{exc.code}"), icon=":material/error:")


role_label = {"format_func": lambda r: i18n.label("role", r)}
with st.expander(t("admin_users.add"), icon=":material/person_add:"):
    with st.form("users_add", clear_on_submit=True):
        new_name = st.text_input(t("admin_users.username"), key="users_add_name", max_chars=64)
        new_display = st.text_input(t("admin_users.display_name"), key="users_add_display", max_chars=100)
        new_role = st.selectbox(t("admin_users.role"), auth.STAFF_ROLES, key="users_add_role", **role_label)
        new_password = st.text_input(
            t("admin_users.password"), type="password", key="users_add_password", help=t("admin_users.generate"),
            autocomplete="new-password",
        )
        add = st.form_submit_button(t("admin_users.submit_add"), type="primary")
    if add:
        password = new_password or auth.generate_password()
        try:
            created = auth.create_user(new_name, new_role, password, display_name=new_display, created_by=me.username)
        except auth.AuthError as exc:
            _error(exc)
        else:
            st.success(t("admin_users.added", name=created.username))
            if not new_password:
                st.text(t("admin_users.generated", name=created.username))
                st.code(password, language=None)

accounts = auth.list_users()
st.subheader(t("admin_users.list"))
st.dataframe(
    pd.DataFrame({
        t("admin_users.col_username"): [a.username for a in accounts],
        t("admin_users.col_display_name"): [a.display_name for a in accounts],
        t("admin_users.col_role"): [i18n.label("role", a.role) for a in accounts],
        t("admin_users.col_status"): [_status(a) for a in accounts],
        t("admin_users.col_last_login"): [a.last_login_at for a in accounts],
        t("admin_users.col_created"): [a.created_at for a in accounts],
    }),
    hide_index=True, width="stretch", key="users_table",
)

others = [a.username for a in accounts]
if others:
    st.subheader(t("admin_users.manage"))
    target = st.selectbox(t("admin_users.pick"), others, key="users_pick")
    account = next(a for a in accounts if a.username == target)
    is_me = target == me.username
    left, middle, right = st.columns(3)
    with left:
        label = t("admin_users.enable") if not account.is_active else t("admin_users.disable")
        if st.button(label, key="users_toggle", disabled=is_me, help=t("admin_users.not_self") if is_me else None):
            auth.set_active(target, not account.is_active)
            st.toast(t("admin_users.enabled_done" if not account.is_active else "admin_users.disabled_done",
                       name=target))
            st.rerun()
    with middle, st.form("users_reset", clear_on_submit=True):
        reset_password = st.text_input(
            t("admin_users.password"), type="password", key="users_reset_password", help=t("admin_users.generate"),
            autocomplete="new-password",
        )
        reset = st.form_submit_button(t("admin_users.reset"))
    if reset:
        password = reset_password or auth.generate_password()
        try:
            auth.reset_password(target, password)
        except auth.AuthError as exc:
            _error(exc)
        else:
            st.success(t("admin_users.reset_done", name=target))
            if not reset_password:
                st.text(t("admin_users.generated", name=target))
                st.code(password, language=None)
    with right:
        roles = list(auth.STAFF_ROLES)
        new_role = st.selectbox(t("admin_users.role"), roles, index=roles.index(account.role),
                                key=f"users_role_{target}", disabled=is_me, **role_label)
        if st.button(t("admin_users.change_role"), key="users_change_role", disabled=is_me):
            auth.change_role(target, new_role)
            st.toast(t("admin_users.role_done", name=target, role=i18n.label("role", new_role)))
            st.rerun()

st.subheader(t("admin_users.attempts"))
st.dataframe(auth.recent_attempts(200), hide_index=True, width="stretch", key="users_attempts")
st.subheader(t("admin_users.reveals"))
st.dataframe(masking.reveals(limit=500), hide_index=True, width="stretch", key="users_reveals")

st.subheader(t("service.tokens.title"))
st.caption(t("service.tokens.intro"))
with st.expander(t("service.tokens.add"), icon=":material/key:"):
    with st.form("tokens_add", clear_on_submit=True):
        token_name = st.text_input(t("service.tokens.name"), key="tokens_add_name", max_chars=64,
                                   help=t("service.tokens.name_help"))
        token_role = st.selectbox(t("admin_users.role"), auth.STAFF_ROLES, key="tokens_add_role", **role_label)
        add_token = st.form_submit_button(t("service.tokens.submit_add"), type="primary")
    if add_token:
        try:
            created_token, secret = auth.create_token(token_name, token_role, created_by=me.username)
        except auth.AuthError as exc:
            _error(exc)
        else:
            st.success(t("service.tokens.added", name=created_token.name))
            st.code(secret, language=None)
tokens = auth.list_tokens()
if tokens:
    st.dataframe(
        pd.DataFrame({
            t("service.tokens.col_name"): [k.name for k in tokens],
            t("admin_users.col_role"): [i18n.label("role", k.role) for k in tokens],
            t("service.tokens.col_prefix"): [f"{k.token_prefix}..." for k in tokens],
            t("admin_users.col_status"): [t("service.tokens.active") if k.is_active else t("service.tokens.revoked")
                                          for k in tokens],
            t("admin_users.col_created"): [k.created_at for k in tokens],
            t("service.tokens.col_last_used"): [k.last_used_at for k in tokens],
            t("service.tokens.col_uses"): [k.uses for k in tokens],
        }),
        hide_index=True, width="stretch", key="tokens_table",
    )
    active = [k.name for k in tokens if k.is_active]
    if active:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        revoke_name = left.selectbox(t("service.tokens.pick"), active, key="tokens_pick")
        if right.button(t("service.tokens.revoke"), key="tokens_revoke", icon=":material/block:"):
            auth.revoke_token(revoke_name, revoked_by=me.username)
            st.toast(t("service.tokens.revoked_done", name=revoke_name))
            st.rerun()
else:
    st.info(t("service.tokens.none"))
st.subheader(t("service.tokens.uses"))
st.dataframe(auth.recent_token_uses(200), hide_index=True, width="stretch", key="tokens_uses")
st.subheader(t("service.sessions.title"))
st.dataframe(auth.open_sessions(), hide_index=True, width="stretch", key="users_sessions")
