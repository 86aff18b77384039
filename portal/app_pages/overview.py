import datetime as dt

import pandas as pd
import streamlit as st

from portal import alerts, charts, config, i18n, kpis, report, ui
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

# KPI alerts (portal/alerts.py): the rules firing at this month-end, whole book; viewing the newest
# month-end also brings the alert history up to date (nothing is written when nothing changed).
try:
    alert_check = alerts.check(as_of, record=as_of == months[-1], recorded_by="page", runner=ui.run_query)
except alerts.AlertError as exc:
    alert_check = None
    st.error(t("forecast.alerts.rules_error"), icon=":material/error:")
    ui.plain_text(exc)
if alert_check is not None and alert_check.firing:
    with st.container(border=True, key="overview_alerts"):
        st.error(t("forecast.alerts.banner", count=len(alert_check.firing), month=as_of.isoformat()),
                 icon=":material/notifications_active:")
        for alert in alert_check.firing:
            since = f" · {t('forecast.alerts.since', month=alert.since.isoformat())}" if alert.since else ""
            ui.plain_text(f"{i18n.label('severity', alert.rule.severity)} · {alert.message()}{since}")
        st.caption(t("forecast.alerts.banner_scope"))
elif alert_check is not None:
    st.caption(t("forecast.alerts.quiet", month=as_of.isoformat(), rules=len(alert_check.evaluations)))

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
pack_help = t("report.button_help", month=as_of.isoformat())
# a wrapping row of buttons as wide as their labels (fixed columns cut "Board pack (PDF)" short)
row = st.container(horizontal=True, gap="small")
for fmt in report.FORMATS:
    row.download_button(
        t(f"report.button_{fmt}"),
        # built on click only: the PDF takes seconds, so a rerun of the page does not pay for it
        data=lambda fmt=fmt: report.build(as_of, dims, fmt=fmt, lang=lang, db_path=db_path),
        file_name=report.file_name(as_of, fmt, lang), mime=report.MIME[fmt], key=f"board_pack_{fmt}",
        help=pack_help, icon=":material/picture_as_pdf:" if fmt == "pdf" else ":material/summarize:",
        on_click="ignore", width="content",
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
st.subheader(t("forecast.alerts.history_title"))
st.caption(t("forecast.alerts.history_caption"))
alert_history = alerts.history()
if alert_history.empty:
    st.caption(t("forecast.alerts.history_empty"))
else:
    ui.table(alert_history.assign(
        alert_event=[i18n.label("alert_event", e) for e in alert_history["alert_event"]],
        kpi=[t(f"dash.overview.{alerts.TILE_BY_KEY[k].key}") if k in alerts.TILE_BY_KEY else k
             for k in alert_history["kpi"]],
    ), "alert_history", "overview_alert_history")
with st.expander(t("dash.tables")):
    ui.table(kpi_frame, "overview_kpis", "overview_kpis")
