import streamlit as st

from portal import auth, i18n, ui
from portal.i18n import t

st.title(t("auth.title"))
next_path = ui.safe_next(st.query_params.get("next"))
user = ui.current_user()
if user is not None:
    st.text(t("auth.signed_in_as", name=user.display_name or user.username, role=i18n.label("role", user.role)))
    if st.session_state.get("auth_source") == "oidc":
        if st.button(t("auth.signout"), key="signin_signout", icon=":material/logout:"):
            st.logout()
    else:
        st.button(t("auth.signout"), key="signin_signout", icon=":material/logout:", on_click=ui.sign_out)
    st.stop()

st.write(t("auth.intro"))
if ui.oidc_configured():
    if st.button(t("auth.oidc_button"), key="signin_oidc", icon=":material/badge:", type="primary"):
        st.login()
    st.caption(t("auth.or_local"))
with st.form("signin_form", clear_on_submit=True):
    username = st.text_input(t("auth.username"), key="signin_username", autocomplete="username", max_chars=64)
    password = st.text_input(
        t("auth.password"), key="signin_password", type="password", autocomplete="current-password", max_chars=256,
    )
    submitted = st.form_submit_button(t("auth.submit"), type="primary", icon=":material/login:")
if submitted:
    try:
        ui.sign_in(username, password, next_path)
    except auth.AuthError as exc:
        until = exc.locked_until.strftime("%Y-%m-%d %H:%M") if exc.locked_until else ""
        st.error(t(f"auth.{exc.code}", until=until), icon=":material/error:")
    else:
        if ui.redirecting():  # the server sets the sign-in cookie, then opens next_path
            st.info(t("service.auth.redirecting"), icon=":material/login:")
            st.stop()
        ui.go_to(next_path)
