import pandas as pd
import streamlit as st

from portal import charts, i18n, ui
from portal.i18n import t

ui.require_role("executive", "analyst", "compliance")
st.title(t("dash.funnels.title"))
filters = ui.sidebar_filters()
dims = {k: filters.get(k) for k in ui.FILTER_DIMENSIONS}
all_months = sorted((pd.Timestamp(m).date() for m in ui.run_query("month_ends")["as_of"]), reverse=True)
months = [m for m in all_months if filters.get("start", m) <= m < filters.get("end", m + pd.Timedelta(days=1))]
if not months:
    ui.empty_state()
    st.stop()
# the newest month-end has no following month in the data, so default to the one before it
default = 1 if len(months) > 1 else 0
month = st.selectbox(t("dash.funnels.month"), months, index=default, key="fn_month")


def draw(as_of, key: str, tables: bool = True) -> None:
    """Both funnels for one month-end, with their tables."""
    stages = ui.run_query("delinquency_funnel", as_of=as_of, **dims)
    steps = ui.run_query("escalation_funnel", as_of=as_of, **dims)
    stage_labels = {s: i18n.label("stage", s) for s in stages["stage"]}
    step_labels = {s: i18n.label("step", s) for s in steps["step"]}
    ui.chart(charts.funnel(stages, "stage", "loans", t("dash.funnels.delinquency_title", month=as_of.isoformat()),
                           stage_labels), f"{key}_delinquency")
    if tables:
        ui.table(stages, f"delinquency_funnel_{as_of.isoformat()}", f"{key}_stages")
    ui.chart(charts.funnel(steps, "step", "loans", t("dash.funnels.escalation_title", month=as_of.isoformat()),
                           step_labels), f"{key}_escalation")
    if tables:
        ui.table(steps, f"escalation_funnel_{as_of.isoformat()}", f"{key}_steps")


draw(month, "fn_main")
st.subheader(t("dash.funnels.compare_title"))
others = [m for m in months if m != month] or months
compare = st.selectbox(t("dash.funnels.compare_month"), others, index=min(1, len(others) - 1), key="fn_compare")
left, right = st.columns(2)
with left:
    draw(month, "fn_left", tables=False)
with right:
    draw(compare, "fn_right")
