import streamlit as st

from portal import audit, complaints, config, ui
from portal.i18n import t

ui.require_role("compliance")
st.title(t("complaints.audit.title"))
st.write(t("complaints.audit.intro"))
database = config.db_path().resolve()
st.caption(t("audit.page.anchor_at", anchor=str(audit.anchor_file(database) or "-"),
             key_file=str(audit.key_file(database) or "PORTAL_AUDIT_KEY")))
if st.button(t("complaints.audit.verify"), type="primary", icon=":material/verified_user:", key="au_verify"):
    try:
        result = complaints.verify_chain()  # the same verdict as `portal audit verify`
    except audit.AuditError as exc:
        st.error(t("audit.page.key_error", message=str(exc)), icon=":material/key_off:")
    else:
        if result.ok:
            st.success(t("complaints.audit.ok", checked=f"{result.checked:,}"), icon=":material/check_circle:")
            if result.unanchored:
                st.warning(t("audit.page.unanchored", pending=f"{result.unanchored:,}"), icon=":material/anchor:")
        else:
            st.error(t("complaints.audit.broken", message=result.localized()), icon=":material/gpp_bad:")
st.subheader(t("complaints.audit.recent"))
ui.table(ui.run_query("complaint_history", max_rows=200), "audit_trail", "au_events")
