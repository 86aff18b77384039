import streamlit as st

from portal import complaints, ui
from portal.i18n import t

pack = complaints.rule_pack()

st.title(t("complaints.rights.title"))
st.write(t("complaints.rights.intro"))

st.header(t("complaints.rights.ladder_title"))
for key in ("ladder_reminder", "ladder_phone", "ladder_visit", "ladder_legal"):
    st.markdown("- " + t(f"complaints.rights.{key}", collectors=pack.get("visit_min_collectors", 2)))

st.header(t("complaints.rights.rights_title"))
for key in ("right_know", "right_privacy", "right_fair"):
    st.markdown("- " + t(f"complaints.rights.{key}"))

st.header(t("complaints.rights.limits_title"))
limits = [t("complaints.rights.limits_hours", quiet_start=pack["quiet_start"], quiet_end=pack["quiet_end"])]
if "connected_calls_per_day" in pack:
    limits.append(t("complaints.rights.limits_connected", n=pack["connected_calls_per_day"]))
if "unanswered_calls_per_day" in pack:
    limits.append(t("complaints.rights.limits_unanswered", n=pack["unanswered_calls_per_day"]))
if "calls_in_window" in pack:
    limits.append(t("complaints.rights.limits_calls_window", n=pack["calls_in_window"], days=pack["call_window_days"]))
if "no_call_after_conversation_days" in pack:
    limits.append(t("complaints.rights.limits_after_conversation", days=pack["no_call_after_conversation_days"]))
limits.append(t("complaints.rights.limits_third_party"))
for line in limits:
    st.markdown("- " + line)
st.caption(t("complaints.rights.limits_source", label=pack.get("label", pack.get("name", ""))))

st.header(t("complaints.rights.plan_title"))
st.write(t("complaints.rights.plan_text"))
st.header(t("complaints.rights.complain_title"))
st.write(t("complaints.rights.complain_text"))
st.header(t("complaints.rights.escalate_title"))
st.write(t("complaints.rights.escalate_text"))
left, right = st.columns(2)
left.page_link(str(ui.APP_PAGES / "feedback.py"), label=t("complaints.rights.form_link"), icon=":material/rate_review:")
right.page_link(str(ui.APP_PAGES / "ticket.py"), label=t("complaints.rights.ticket_link"),
                icon=":material/confirmation_number:")
