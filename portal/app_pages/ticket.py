import secrets

import streamlit as st

from portal import complaints, i18n
from portal.i18n import t

if "client_key" not in st.session_state:
    st.session_state.client_key = "session:" + secrets.token_hex(16)
client = complaints.client_key(st.context.ip_address, st.session_state.client_key)

st.title(t("complaints.ticket.title"))
st.write(t("complaints.ticket.intro"))
with st.form("ticket_lookup", enter_to_submit=True):
    number = st.text_input(t("complaints.ticket.number"), key="tk_number", max_chars=20,
                           placeholder=t("complaints.ticket.number_placeholder"))
    last4 = st.text_input(t("complaints.ticket.last4"), key="tk_last4", max_chars=4, type="password")
    asked = st.form_submit_button(t("complaints.ticket.lookup"), type="primary", icon=":material/search:")
if asked:
    digits = (last4 or "").strip()
    if len(digits) != 4 or not digits.isascii() or not digits.isdigit():
        st.error(t("complaints.ticket.last4_invalid"))
        st.stop()
    found = complaints.lookup(number, digits, client)
    if found == "rate_limited":
        st.error(t("complaints.err.rate_limited"))
    elif found is None:
        st.warning(t("complaints.ticket.not_found"))
    else:
        with st.container(border=True):
            st.code(found.ticket, language=None)
            a, b = st.columns(2)
            a.metric(t("complaints.ticket.status"), i18n.label("status", found.status))
            b.metric(t("complaints.ticket.due_on"), found.due_on.isoformat())
            st.subheader(t("complaints.ticket.resolution"))
            if found.public_resolution:
                st.text(found.public_resolution)
            else:
                st.info(t("complaints.ticket.no_resolution"))
        st.caption(t("complaints.ticket.escalate"))
