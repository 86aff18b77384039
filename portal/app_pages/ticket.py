import secrets

import pandas as pd
import streamlit as st

from portal import complaints, i18n, plans
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
    # A new lookup replaces the ticket opened before, found or not.
    st.session_state.pop("tk_open", None)
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
        # kept on the server for this session, so the plan section can answer without a new lookup
        st.session_state.tk_open = {"found": found, "last4": digits}

opened = st.session_state.get("tk_open")
if opened:
    found = opened["found"]
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

    # Repayment plan offers on this ticket (portal/plans.py): the schedule, and the customer's answer.
    def _answer(offer_id: int, accept: bool) -> None:
        # a callback runs before the page sets its language: keep catalogue keys, render them below
        try:
            result = plans.customer_answer(found.ticket, opened["last4"], offer_id, accept, client)
        except plans.PlanError as exc:
            st.session_state.tk_plan_message = ("error", exc.key, exc.values)
            return
        if result == "rate_limited":
            st.session_state.tk_plan_message = ("error", "complaints.err.rate_limited", {})
        elif result is None:
            st.session_state.tk_plan_message = ("error", "plans.ticket.not_yours", {})
        else:
            st.session_state.tk_plan_message = ("ok", "plans.ticket.accepted" if accept else "plans.ticket.declined",
                                                {})

    message = st.session_state.pop("tk_plan_message", None)
    if message:
        kind, key, values = message
        (st.success if kind == "ok" else st.error)(t(key, **values))
    today = plans.local_date(pd.Timestamp.now(tz="UTC").to_pydatetime())
    for item in plans.customer_offers(found.ticket, opened["last4"]) or []:
        with st.container(border=True):
            st.subheader(t("plans.ticket.offer_title", type=i18n.label("plan_type", item.plan_type)))
            st.text(plans.terms_text(item.plan_type, item.amount, item.instalments, item.first_due_on,
                                     lang=i18n.language()))
            # a static table: its cells are dates and amounts made here, never text someone typed
            st.table(plans.schedule_frame(item.schedule).rename(columns=plans.schedule_labels()), hide_index=True)
            status = item.shown_status(today)
            if item.is_open(today):
                st.caption(t("plans.ticket.answer_by", date=item.first_due_on.isoformat()))
                agreed = st.checkbox(t("plans.ticket.agree"), key=f"tk_plan_agree_{item.offer_id}")
                left, right, _ = st.columns([1, 1, 4])
                left.button(t("plans.ticket.accept"), type="primary", disabled=not agreed, on_click=_answer,
                            args=(item.offer_id, True), key=f"tk_plan_accept_{item.offer_id}",
                            icon=":material/check:")
                right.button(t("plans.ticket.decline"), on_click=_answer, args=(item.offer_id, False),
                             key=f"tk_plan_decline_{item.offer_id}")
            else:
                st.info(t(f"plans.ticket.state_{status}"), icon=":material/info:")
    st.caption(t("complaints.ticket.escalate"))
