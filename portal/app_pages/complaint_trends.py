import datetime as dt

import pandas as pd
import streamlit as st

from portal import charts, i18n, ui
from portal.i18n import t

ui.require_role("compliance", "executive")
st.title(t("complaints.trends.title"))

months = ui.run_query("complaint_on_time")["month"]
if months.empty:
    ui.empty_state()
    st.stop()
lo = pd.Timestamp(months.min()).date()
hi = (pd.Timestamp(months.max()) + pd.offsets.MonthEnd(0)).date()
picked = st.sidebar.date_input(t("complaints.trends.period"), value=(lo, hi), min_value=lo, max_value=hi,
                               key="ct_period")
start, end = (picked if isinstance(picked, tuple | list) and len(picked) == 2 else (lo, hi))
params = {"start": start, "end": end + dt.timedelta(days=1)}

st.subheader(t("complaints.trends.sla_title"))
ui.table(ui.run_query("complaint_sla", **params), "complaint_sla", "ct_sla")

st.subheader(t("complaints.trends.on_time_title"))
on_time = ui.run_query("complaint_on_time", **params)
if on_time.empty:
    ui.empty_state()
else:
    ui.chart(charts.on_time_rate(on_time, t("complaints.trends.on_time_title"),
                                 t("complaints.trends.on_time_rate")), "ct_on_time")

st.subheader(t("complaints.trends.trend_title"))
split = st.segmented_control(t("complaints.trends.by"), ("issue", "channel", "agency", "source"), default="issue",
                             key="ct_split", format_func=lambda v: t(f"complaints.trends.by_{v}")) or "issue"
trends = ui.run_query("complaint_trends", split=split, **params)
if trends.empty:
    ui.empty_state()
else:
    kind = {"issue": "issue", "channel": "channel", "source": "source"}.get(split)
    shown = trends.assign(value=trends["value"].map(lambda v: i18n.label(kind, v) if kind else v))
    ui.chart(charts.complaint_trend(shown, t("complaints.trends.trend_title"), t("complaints.trends.month"),
                                    t("complaints.trends.complaints")), "ct_trend")
    # the table keeps the codes (as the CSV does) and shows them through the split's labels
    ui.table(trends, f"complaint_trends_{split}", "ct_trends", codes={"value": kind or ""})
