import streamlit as st

from portal import complaints, ui
from portal.i18n import t

ui.require_role("compliance")
st.title(t("complaints.audit.title"))
st.write(t("complaints.audit.intro"))
if st.button(t("complaints.audit.verify"), type="primary", icon=":material/verified_user:", key="au_verify"):
    result = complaints.verify_chain()
    if result.ok:
        st.success(t("complaints.audit.ok", checked=f"{result.checked:,}"), icon=":material/check_circle:")
    else:
        st.error(t("complaints.audit.broken", event_id=result.broken_event_id, message=result.message),
                 icon=":material/gpp_bad:")
st.subheader(t("complaints.audit.recent"))
ui.table(ui.run_query("complaint_history", max_rows=200), "audit_trail", "au_events")
