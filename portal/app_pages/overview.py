import streamlit as st

from portal import charts, ui
from portal.i18n import t

ui.require_role("executive", "compliance", "analyst")
st.title(t("overview.title"))
filters = ui.sidebar_filters()
buckets = ui.run_query("delinquency_buckets", **filters)
if buckets.empty:
    ui.empty_state()
    st.stop()
ui.chart(charts.bucket_trend(buckets, "loans", t("overview.buckets_trend"), t("overview.loans")), "buckets_trend")
ui.table(buckets, "delinquency_buckets", "buckets")
rolls = ui.run_query("roll_rates", **filters)
if not rolls.empty:
    latest = rolls[rolls["as_of"] == rolls["as_of"].max()]
    ui.chart(charts.roll_matrix(latest, t("overview.roll_rates")), "roll_matrix")
