import datetime as dt

import pandas as pd
import streamlit as st

from portal import charts, config, i18n, kpis, report, ui
from portal.i18n import t

ui.require_role("executive", "analyst", "compliance")
st.title(t("dash.overview.title"))
filters = ui.sidebar_filters()
dims = {k: filters.get(k) for k in ui.FILTER_DIMENSIONS}
months = sorted(pd.Timestamp(m).date() for m in ui.run_query("month_ends")["as_of"])
in_range = [m for m in months if filters.get("start", m) <= m < filters.get("end", m + dt.timedelta(days=1))]
if not in_range:
    ui.empty_state()
    st.stop()
as_of = in_range[-1]
kpi_frame = ui.run_query("overview_kpis", as_of=as_of, **dims)
current, previous = kpis.tile_values(kpi_frame, as_of)
if not current:
    ui.empty_state()
    st.stop()
prev_label = str(pd.Timestamp(previous["as_of"]).date()) if previous else t("dash.no_previous")
st.caption(t("dash.overview.caption", month=as_of.isoformat(), previous=prev_label))

columns = st.columns(3)
for i, tile in enumerate(kpis.TILES):
    value = current.get(tile.column)
    prev = previous.get(tile.column) if previous else None
    columns[i % 3].metric(
        t(f"dash.overview.{tile.key}"), kpis.format_value(tile.kind, value),
        delta=kpis.format_delta(tile.kind, value, prev),
        delta_color="normal" if tile.higher_is_better else "inverse",
        help=t(f"dash.overview.{tile.key}_help"), border=True,
    )

lang, db_path = i18n.language(), str(config.db_path().resolve())
st.download_button(
    t("dash.overview.board_pack"),
    data=lambda: report.build_html(as_of, dims, lang=lang, db_path=db_path).encode("utf-8"),
    file_name=f"board_pack_{as_of.isoformat()}.html", mime="text/html", key="board_pack",
    help=t("dash.overview.board_pack_help"), icon=":material/summarize:", on_click="ignore",
)

last_12 = in_range[-12:]
buckets = ui.run_query(
    "delinquency_buckets", start=last_12[0], end=as_of + dt.timedelta(days=1), **dims
)
delinquent = buckets[buckets["bucket"] != "M0"]
if delinquent.empty:
    ui.empty_state()
else:
    ui.chart(
        charts.bucket_trend(delinquent, "overdue_amount", t("dash.overview.trend_title"),
                            t("dash.overview.trend_balance")),
        "overview_trend",
    )
    ui.table(delinquent, "delinquency_trend", "overview_trend")
with st.expander(t("dash.tables")):
    ui.table(kpi_frame, "overview_kpis", "overview_kpis")
