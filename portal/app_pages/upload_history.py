import streamlit as st

from portal import i18n, ingest, masking, ui
from portal.i18n import t

ui.require_role("analyst")
st.title(t("uploads.history_title"))
dataset = st.selectbox(t("uploads.dataset"), [None, *ingest.DATASETS], key="uh_dataset",
                       format_func=lambda d: t("filters.all") if d is None else i18n.label("dataset", d))
history = ui.run_query("upload_history", dataset=dataset)
if history.empty:
    if dataset is None:
        st.info(t("common.no_uploads"), icon=":material/upload_file:")
    else:
        st.info(t("common.no_uploads_of", dataset=i18n.label("dataset", dataset)), icon=":material/upload_file:")
    st.stop()
shown = history.assign(status=history["status"].map(lambda s: i18n.label("upload_status", s)),
                       dataset=history["dataset"].map(lambda d: i18n.label("dataset", d)))
ui.table(shown, "upload_history", "uh_table")

with_rejects = history[history["rows_rejected"] > 0]
if not with_rejects.empty:
    st.subheader(t("uploads.history_quarantine"))
    names = dict(zip(with_rejects["upload_id"].astype(int), with_rejects["file_name"], strict=True))
    picked = st.selectbox(t("uploads.history_pick"), list(names), key="uh_pick",
                          format_func=lambda i: f"#{i} {names[i]}")
    rows = ingest.format_rejects(ui.run_query("quarantine_rows", upload_id=int(picked)), i18n.language())
    # masked under the dataset's own column names, before the headers are translated
    shown = masking.mask_frame(rows, ui.current_role()).rename(columns={c: t(f"uploads.col_{c}") for c in rows.columns})
    ui.table(shown, f"quarantine_upload_{picked}", "uh_quarantine")
