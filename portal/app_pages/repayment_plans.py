import math

import pandas as pd
import streamlit as st

from portal import charts, i18n, plans, ui
from portal.i18n import t

ui.require_role("executive", "analyst", "compliance")
st.title(t("plans.page.title"))
st.caption(t("plans.page.caption"))
filters = ui.sidebar_filters()
st.warning(t("plans.page.not_random"), icon=":material/info:")


def days(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return t("plans.page.days_value", days=f"{value:.1f}")


def share(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1%}"


st.subheader(t("plans.page.funnel_title"))
st.caption(t("plans.page.funnel_caption"))
funnel = ui.run_query("repayment_plan_funnel", **filters)
if int(funnel["requests"].iloc[0]) == 0:
    ui.empty_state("plans.page.no_requests")
else:
    ui.chart(charts.funnel(funnel, "stage", "requests", t("plans.page.funnel_chart"),
                           {s: i18n.label("plan_stage", s) for s in funnel["stage"]}), "rp_funnel_chart")
    ui.table(funnel, "repayment_plan_funnel", "rp_funnel")

st.subheader(t("plans.page.timing_title"))
st.caption(t("plans.page.timing_caption"))
timing = ui.run_query("repayment_plan_offer_timing", **filters)
overall = timing[timing["plan_type"] == "all"]
if overall.empty:
    ui.empty_state("plans.page.no_requests")
else:
    row = overall.iloc[0]
    a, b, c, d = st.columns(4)
    a.metric(t("plans.page.median_days"), days(row["median_days_to_offer"]), border=True)
    b.metric(t("plans.page.p90_days"), days(row["p90_days_to_offer"]), border=True)
    c.metric(t("plans.page.by_deadline"), share(row["by_deadline_rate"]), border=True,
             help=t("plans.page.by_deadline_help"))
    d.metric(t("plans.page.waiting_late"), f"{int(row['waiting_past_deadline']):,}", border=True,
             help=t("plans.page.waiting_help", waiting=int(row["waiting"])))
    offer_days = ui.run_query("repayment_plan_offer_days", **filters)
    if not offer_days.empty:
        ui.chart(charts.offer_days(offer_days, 15, t("plans.page.days_chart"), t("plans.page.days_axis"),
                                   t("plans.page.requests_axis"), t("plans.page.in_time")), "rp_days_chart")
    shown = timing.assign(plan_type=[i18n.label("plan_type", v) for v in timing["plan_type"]])
    ui.table(shown, "repayment_plan_offer_timing", "rp_timing")

st.subheader(t("plans.page.kept_title"))
st.caption(t("plans.page.kept_caption"))
segment = st.segmented_control(
    t("plans.page.segment"), plans.SEGMENTS, default="bucket", key="rp_segment",
    format_func=lambda v: i18n.label("plan_segment", v)) or "bucket"
kept = ui.run_query("repayment_plan_kept", segment=segment, **filters)
if kept.empty:
    ui.empty_state()
else:
    labelled = kept.assign(plan_label=[i18n.label("plan_type", v) for v in kept["plan_type"]])
    ui.chart(charts.kept_rates(labelled, "plan_label", t("plans.page.kept_chart"), t("plans.page.kept_rate")),
             "rp_kept_chart")
    ui.table(kept, f"repayment_plan_kept_{segment}", "rp_kept")

st.subheader(t("plans.page.cure_title"))
st.caption(t("plans.page.cure_caption"))
outcomes = ui.run_query("repayment_plan_outcomes", **filters)
if outcomes.empty:
    ui.empty_state()
    st.stop()
ui.table(outcomes, "repayment_plan_outcomes", "rp_outcomes")
cells = ui.run_query("repayment_plan_cure_cells", **filters)
table = plans.comparison_table(cells)
if table.empty:
    st.info(t("plans.page.no_comparison"), icon=":material/info:")
    st.stop()
boxes = {"higher": st.success, "lower": st.error}
for plan_type in [p for p in plans.PLAN_TYPES if p in set(table["plan_type"])]:
    label = i18n.label("plan_type", plan_type)
    with st.container(border=True):
        st.subheader(t("plans.page.comparison_for", plan=label))
        for group in ("all", *plans.BUCKET_GROUPS):
            part = table[(table["plan_type"] == plan_type) & (table["accounts"] == group)]
            if part.empty:
                continue
            result = plans.compare(cells, plan_type, None if group == "all" else plans.BUCKET_GROUPS[group])
            group_label = i18n.label("plan_accounts", group)
            boxes.get(result.verdict, st.info)(
                t(f"plans.verdict.{result.verdict}", group=group_label, plan=label), icon=":material/analytics:")
            if result.verdict == "insufficient" and result.plans == 0:
                continue
            left, middle, right = st.columns(3)
            left.metric(t("plans.page.plan_cure", plan=label, group=group_label), share(result.cure_rate),
                        help=t("plans.page.plans_n", n=result.plans))
            middle.metric(t("plans.page.control_cure"), share(result.control_rate),
                          help=t("plans.page.control_n", n=result.control_loans))
            right.metric(t("plans.page.uplift"), t("plans.page.pp", value=f"{100 * result.difference.estimate:+.1f}"),
                         help=t("plans.page.uplift_help"))
            st.text(plans.verdict_line(result, f"{label} ({group_label})"))

bars = []
for item in table.itertuples(index=False):
    result = plans.compare(cells, item.plan_type, None if item.accounts == "all" else plans.BUCKET_GROUPS[item.accounts])
    group = f"{i18n.label('plan_type', item.plan_type)} · {i18n.label('plan_accounts', item.accounts)}"
    for series, rate, (low, high) in ((t("plans.page.series_plans"), result.cure_rate, result.plan_interval()),
                                      (t("plans.page.series_control"), result.control_rate,
                                       result.control_interval())):
        bars.append({"group": group, "series": series, "rate": rate, "low": low, "high": high})
ui.chart(charts.plan_vs_control(pd.DataFrame(bars), t("plans.page.cure_chart"), t("plans.page.cure_rate")),
         "rp_cure_chart")
shown = table.assign(plan_type=[i18n.label("plan_type", v) for v in table["plan_type"]],
                     accounts=[i18n.label("plan_accounts", v) for v in table["accounts"]],
                     verdict=[i18n.label("plan_verdict", v) for v in table["verdict"]])
ui.table(shown, "repayment_plan_comparison", "rp_comparison")
st.caption(t("plans.page.association"))
