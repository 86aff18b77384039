import secrets

import streamlit as st

from portal import complaints, i18n, taxonomy, ui
from portal.i18n import t

FIELDS = ("name", "mobile", "loan_id", "issue", "channel", "description", "plan_type", "plan_amount",
          "plan_months", "contact_time", "consent")

if "client_key" not in st.session_state:
    st.session_state.client_key = "session:" + secrets.token_hex(16)


def _send() -> None:
    if st.session_state.get("fb_result") is not None:
        return  # a second press that reached the server after the first one was stored
    client = complaints.client_key(st.context.ip_address, st.session_state.client_key)
    raw = {name: st.session_state.get(f"fb_{name}") for name in FIELDS}
    result = complaints.submit(raw, client, shown_at=st.session_state.get("fb_shown_at"))
    st.session_state.fb_errors = result.errors
    st.session_state.fb_result = result if result.ok else None
    if result.ok:
        for name in (*FIELDS, "shown_at"):
            st.session_state.pop(f"fb_{name}", None)


def _another() -> None:
    st.session_state.pop("fb_result", None)


def _error(name: str) -> None:
    key = st.session_state.get("fb_errors", {}).get(name)
    if key:
        st.error(t(key), icon=":material/error:")


st.title(t("complaints.form.title"))
st.write(t("complaints.form.intro"))
result = st.session_state.get("fb_result")
if result is not None:
    st.success(t("complaints.form.success", ticket=result.ticket, due_on=result.due_on.isoformat()),
               icon=":material/check_circle:")
    st.code(result.ticket, language=None)
    st.info(t("complaints.form.success_hint"))
    st.page_link(str(ui.APP_PAGES / "ticket.py"), label=t("nav.ticket"), icon=":material/confirmation_number:")
    # The form is gone until the customer asks for a new one, so Send cannot be pressed twice.
    st.button(t("complaints.form.another"), key="fb_another", on_click=_another, icon=":material/edit_note:")
    st.stop()

# When the form was first put on screen: the server refuses one sent back sooner than a person can.
st.session_state.setdefault("fb_shown_at", complaints.now())
with st.form("feedback", enter_to_submit=True):
    st.text_input(t("complaints.form.name"), key="fb_name", max_chars=complaints.NAME_MAX)
    _error("name")
    st.text_input(t("complaints.form.mobile"), key="fb_mobile", help=t("complaints.form.mobile_help"),
                  max_chars=20, placeholder="13812345678")
    _error("mobile")
    st.text_input(t("complaints.form.loan_id"), key="fb_loan_id", help=t("complaints.form.loan_id_help"),
                  max_chars=64)
    _error("loan_id")
    st.selectbox(t("complaints.form.issue"), taxonomy.COMPLAINT_ISSUES, index=None, key="fb_issue",
                 placeholder=t("complaints.form.issue_placeholder"), format_func=lambda v: i18n.label("issue", v))
    _error("issue")
    st.selectbox(t("complaints.form.channel"), taxonomy.CHANNELS, index=None, key="fb_channel",
                 placeholder=t("complaints.form.channel_placeholder"), format_func=lambda v: i18n.label("channel", v))
    _error("channel")
    st.text_area(t("complaints.form.description"), key="fb_description", help=t("complaints.form.description_help"),
                 max_chars=complaints.NARRATIVE_MAX, height=160)
    _error("description")
    st.subheader(t("complaints.form.plan_title"))
    st.radio(t("complaints.form.plan_type"), complaints.PLAN_TYPES, key="fb_plan_type", horizontal=True,
             format_func=lambda v: i18n.label("plan_type", v))
    _error("plan_type")
    left, right = st.columns(2)
    with left:
        st.number_input(t("complaints.form.plan_amount"), min_value=0.0, value=None, step=100.0, format="%.2f",
                        key="fb_plan_amount")
        _error("plan_amount")
    with right:
        st.number_input(t("complaints.form.plan_months"), min_value=1, max_value=complaints.PLAN_MONTHS_MAX,
                        value=None, step=1, key="fb_plan_months")
        _error("plan_months")
    st.selectbox(t("complaints.form.contact_time"), complaints.CONTACT_TIMES, key="fb_contact_time",
                 format_func=lambda v: i18n.label("contact_time", v))
    _error("contact_time")
    st.caption(t("complaints.form.privacy_notice"))
    st.checkbox(t("complaints.form.consent"), key="fb_consent")
    _error("consent")
    _error("form")
    st.form_submit_button(t("complaints.form.submit"), type="primary", on_click=_send, icon=":material/send:")
if st.session_state.get("fb_errors") and "form" not in st.session_state.fb_errors:
    st.warning(t("complaints.form.fix_errors"))
