import datetime as dt

import pandas as pd
import streamlit as st

from portal import charts, ui
from portal.i18n import t

ui.require_role("executive", "analyst", "compliance")
st.title(t("dash.delinquency.title"))
filters = ui.sidebar_filters()
dims = {k: filters.get(k) for k in ui.FILTER_DIMENSIONS}
buckets = ui.run_query("delinquency_buckets", **filters)
if buckets.empty:
    ui.empty_state()
    st.stop()

view = st.segmented_control(
    t("dash.delinquency.view"), ["count", "balance"], default="count", key="dq_view",
    format_func=lambda v: t(f"dash.delinquency.view_{v}"),
) or "count"
measure, measure_label = (
    ("loans", t("dash.delinquency.loans")) if view == "count"
    else ("outstanding", t("dash.delinquency.outstanding"))
)
left, right = st.columns(2)
with left:
    ui.chart(charts.bucket_trend(buckets, measure, t("dash.delinquency.distribution_title"), measure_label),
             "dq_distribution")
with right:
    shares = buckets.assign(share=buckets[measure] / buckets.groupby("as_of")[measure].transform("sum"))
    fig = charts.bucket_trend(shares, "share", t("dash.delinquency.share_title"), measure_label)
    fig.update_layout(yaxis_tickformat=".0%")
    ui.chart(fig, "dq_share")
ui.table(buckets, "delinquency_buckets", "dq_buckets")

months = sorted({pd.Timestamp(m).date() for m in buckets["as_of"]}, reverse=True)
roll_month = st.selectbox(t("dash.delinquency.roll_month"), months[1:] or months, key="dq_roll_month")
rolls = ui.run_query("roll_rates", start=roll_month, end=roll_month + dt.timedelta(days=1), **dims)
if rolls.empty:
    st.info(t("dash.delinquency.no_next_month"))
else:
    left, right = st.columns(2)
    with left:
        ui.chart(charts.roll_matrix(rolls, t("dash.delinquency.roll_title", month=roll_month.isoformat())),
                 "dq_roll_matrix")
    with right:
        ui.chart(charts.roll_sankey(rolls, t("dash.delinquency.sankey_title", month=roll_month.isoformat())),
                 "dq_sankey")
    ui.table(rolls, "roll_rates", "dq_rolls")

vintage = ui.run_query("vintage_curves", **dims)
if not vintage.empty:
    x, y = t("dash.delinquency.months_on_book"), t("dash.delinquency.share")
    left, right = st.columns(2)
    with left:
        ui.chart(charts.vintage(vintage, "ever_m1_share", t("dash.delinquency.vintage_m1"), x, y), "dq_vintage_m1")
    with right:
        ui.chart(charts.vintage(vintage, "ever_m3_share", t("dash.delinquency.vintage_m3"), x, y), "dq_vintage_m3")
    ui.table(vintage, "vintage_curves", "dq_vintage")
