import logging
import tempfile
from pathlib import Path

import streamlit as st

from portal import i18n, ingest, masking, ui
from portal.i18n import t

user = ui.require_role("analyst")
st.title(t("uploads.title"))
st.caption(t("uploads.intro"))

dataset = st.selectbox(t("uploads.dataset"), list(ingest.DATASETS), key="up_dataset",
                       format_func=lambda d: i18n.label("dataset", d))
with st.expander(t("uploads.columns_help"), icon=":material/view_column:"):
    st.dataframe([{t("uploads.col_name"): c.name, t("uploads.col_zh"): c.zh or "", t("uploads.col_required"): c.required}
                  for c in ingest.columns(dataset)], hide_index=True)
    st.download_button(t("uploads.template"), ingest.sample_csv(dataset), file_name=f"{dataset}_template.csv",
                       mime="text/csv", key="up_template", on_click="ignore", icon=":material/download:")
uploaded = st.file_uploader(t("uploads.file"), type=["csv", "txt", "tsv", "xlsx", "parquet"], key="up_file")
strict = st.checkbox(t("uploads.strict"), key="up_strict")
earlier = ui.run_query("upload_history", dataset=dataset)
earlier = earlier[earlier["rows_rejected"] > 0]
labels = {int(r.upload_id): t("uploads.replaces_option", upload_id=int(r.upload_id), file_name=r.file_name,
                              rejected=int(r.rows_rejected)) for r in earlier.itertuples()}
replaces = st.selectbox(t("uploads.replaces"), [None, *labels], key="up_replaces",
                        format_func=lambda i: t("uploads.replaces_none") if i is None else labels[i])

if st.button(t("uploads.submit"), type="primary", disabled=uploaded is None, key="up_submit"):
    bar = st.progress(0.0, text=t("uploads.stage.reading"))
    with tempfile.TemporaryDirectory(prefix="portal_upload_") as tmp:
        path = Path(tmp) / (Path(uploaded.name).name or "upload.csv")
        path.write_bytes(uploaded.getvalue())
        try:
            st.session_state.up_result = ingest.load_file(
                dataset, path, strict=strict, uploaded_by=user.username, replaces_upload_id=replaces,
                file_name=uploaded.name, progress=lambda f, stage: bar.progress(f, text=t(f"uploads.stage.{stage}")))
        except ingest.UploadError as exc:
            st.session_state.up_result = str(exc)
        except Exception:  # a bug, not the file: one transaction, so nothing was loaded; the trace goes to the log
            logging.getLogger("portal.uploads").exception("upload of %s (%s) failed", uploaded.name, dataset)
            st.session_state.up_result = t("uploads.unexpected")
    ui.clear_caches()

result = st.session_state.get("up_result")
if isinstance(result, str):
    st.error(t("uploads.failed"), icon=":material/error:")
    ui.plain_text(result)
elif result is not None:
    left, middle, right = st.columns(3)
    left.metric(t("uploads.total"), f"{result.rows_total:,}")
    middle.metric(t("uploads.accepted"), f"{result.accepted:,}")
    right.metric(t("uploads.rejected"), f"{result.rejected:,}")
    counts = {"upload_id": result.upload_id, "accepted": result.accepted, "rejected": result.rejected}
    if result.status == "loaded":
        st.success(t("uploads.loaded_ok", **counts), icon=":material/check_circle:")
    elif result.status == "partial":
        st.warning(t("uploads.loaded_partial", **counts), icon=":material/warning:")
    else:
        st.error(t("uploads.strict_rejected" if result.strict else "uploads.loaded_rejected", **counts),
                 icon=":material/block:")
    if result.layout.endswith("+cfpb"):
        st.info(t("uploads.cfpb_detected"), icon=":material/info:")
    st.subheader(t("uploads.rejects_title"))
    rejects = result.rejects(i18n.language())
    if rejects.empty:
        st.caption(t("uploads.rejects_none"))
    else:
        # masked under the dataset's own column names, before the headers are translated
        shown = masking.mask_frame(rejects, ui.current_role())
        shown = shown.rename(columns={c: t(f"uploads.col_{c}") for c in rejects.columns})
        ui.table(shown, f"rejects_upload_{result.upload_id}", "up_rejects")
