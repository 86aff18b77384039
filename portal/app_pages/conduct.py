import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from portal import charts, config, db, drill, i18n, policy, prevention, schemas, ui
from portal.i18n import t

ui.require_role("compliance", "executive")
st.title(t("policy.title"))
st.caption(t("policy.intro"))
filters = ui.sidebar_filters(dimensions=())
if "start" not in filters:
    ui.empty_state()
    st.stop()
start, end = filters["start"], filters["end"]


def pack_label(name: str) -> str:
    return i18n.label("rule_pack", name) if i18n.has(f"codes.rule_pack.{name}") else policy.pack(name)["label"]


try:
    names = policy.pack_names()
except policy.PolicyError as exc:
    st.error(t("policy.packs_broken", reason=str(exc)))
    st.stop()
default = config.setting("rule_pack")
pack = st.selectbox(t("policy.pack"), names, index=names.index(default) if default in names else 0,
                    format_func=pack_label, key="conduct_pack")
rules = policy.pack(pack)["rules"]
rule_label = {r: i18n.label("rule", r) for r in policy.RULES}

summary = ui.run_query("policy_violations", pack=pack, start=start, end=end)
columns = st.columns(len(summary))
for column, row in zip(columns, summary.itertuples(), strict=True):
    column.metric(rule_label[row.rule], f"{row.violations:,}", border=True,
                  help=t("policy.affected", loans=row.loans_affected, agents=row.agents_affected))

st.subheader(t("policy.trend_title"))
st.caption(t("drill.hint"))
trend = ui.run_query("policy_violations_by_month", pack=pack, start=start, end=end)
if trend.empty:
    ui.empty_state("policy.no_violations")
else:
    trend = trend.assign(rule_name=trend["rule"].map(rule_label))
    picked_bar = ui.chart(charts.violations_trend(trend, "rule_name", t("policy.trend_chart"), t("policy.violations")),
                          "conduct_trend", select=True)
    ui.pick_into("conduct_trend", (drill.point_pick(picked_bar, ("rule",)) or {}).get("rule"), "conduct_rule",
                 [None, *rules])

st.subheader(t("policy.league_title"))
st.caption(t("policy.league_caption"))
league = ui.run_query("policy_league", pack=pack, start=start, end=end)
agent_ids = sorted(league.loc[(league["level"] == "agent") & (league["violations"] > 0), "id"].dropna())
agency_ids = sorted(league.loc[(league["level"] == "agency") & (league["violations"] > 0), "id"].dropna())
for key in drill.CONDUCT_FIELDS:  # a shared link opens on its rule, agent and agency
    options = {"conduct_rule": rules, "conduct_agent": agent_ids, "conduct_agency": agency_ids}[key]
    if key not in st.session_state and st.query_params.get(key) in options:
        st.session_state[key] = st.query_params.get(key)
agents_tab, agencies_tab = st.tabs([t("policy.agents"), t("policy.agencies")])
for tab, level, column, ids, blank in ((agents_tab, "agent", "agent_id", agent_ids, "policy.no_agent"),
                                      (agencies_tab, "agency", "agency_id", agency_ids, "policy.in_house")):
    with tab:
        rows = league[league["level"] == level].drop(columns="level").reset_index(drop=True)
        shown = rows.fillna({"id": t(blank)}).rename(columns={"id": column})
        state_key = f"conduct_{level}"
        picked = ui.table(shown, f"conduct_{level}s", f"conduct_{level}s", select=True,
                          selected=drill.row_of(rows, {"id": st.session_state.get(state_key)}, {"id": "id"}))
        picked_id = None if picked is None else rows["id"].iloc[picked]
        if picked is not None and (picked_id is None or pd.isna(picked_id)):
            st.info(t("drill.no_id"), icon=":material/info:")
        ui.pick_into(f"conduct_{level}s", None if picked_id is None or pd.isna(picked_id) else picked_id,
                     state_key, [None, *ids])

st.subheader(t("policy.drill_title"))
left, middle, right = st.columns(3)
rule = left.selectbox(t("policy.rule"), [None, *rules], format_func=lambda r: rule_label.get(r, t("policy.all_rules")),
                      key="conduct_rule")
agent = middle.selectbox(t("policy.agent"), [None, *agent_ids],
                         format_func=lambda a: t("policy.all_agents") if a is None else a, key="conduct_agent")
agency = right.selectbox(t("policy.agency"), [None, *agency_ids],
                         format_func=lambda a: t("policy.all_agencies") if a is None else a, key="conduct_agency")
ui.keep_in_url({"conduct_rule": rule, "conduct_agent": agent, "conduct_agency": agency})
drill = {"pack": pack, "start": start, "end": end, "rule": rule, "agent_id": agent, "agency_id": agency}
# a year of a large book holds millions of breaches: fetch the first rows for the screen, all on download
details = ui.run_query("policy_violation_details", row_limit=ui.TABLE_MAX_ROWS + 1, **drill)
if len(details) <= ui.TABLE_MAX_ROWS:
    st.caption(t("policy.drill_caption", n=len(details)))
elif agent is None and agency is None:  # the summary tiles already counted them
    total = int(summary["violations"].sum() if rule is None else summary.loc[summary["rule"] == rule, "violations"].sum())
    st.caption(t("policy.drill_caption", n=total))
else:
    st.caption(t("policy.drill_caption_many", n=ui.TABLE_MAX_ROWS))
ui.table(details, f"policy_violations_{pack}_{start}_{end}", "conduct_details",
         full=lambda: db.query("policy_violation_details", **drill))

st.subheader(t("policy.what_if_title"))
st.caption(t("policy.what_if_caption"))
base = policy.pack(pack)
with st.form("conduct_what_if"):
    overrides: dict = {}
    if "quiet_hours" in rules:
        a, b = st.columns(2)
        quiet_start = a.time_input(t("policy.quiet_start"), dt.time.fromisoformat(base["quiet_start"]), step=1800)
        quiet_end = b.time_input(t("policy.quiet_end"), dt.time.fromisoformat(base["quiet_end"]), step=1800)
        overrides.update(quiet_start=quiet_start.strftime("%H:%M"), quiet_end=quiet_end.strftime("%H:%M"))
    numbers = [k for rule_name in rules for k in policy.RULE_KEYS[rule_name] if k in policy.NUMERIC_KEYS]
    cells = st.columns(max(len(numbers), 1))
    for cell, key in zip(cells, numbers, strict=False):
        overrides[key] = int(cell.number_input(t(f"policy.key.{key}"), min_value=0, max_value=30 if key in
                                               policy.DAY_KEYS else 1000, value=int(base[key]), step=1))
    submitted = st.form_submit_button(t("policy.what_if_run"), icon=":material/science:")
if submitted:
    try:
        result = policy.what_if(pack, overrides, start, end)
    except policy.PolicyError as exc:
        st.error(t("policy.what_if_bad", reason=str(exc)))
    else:
        totals = result[result["rule"] == "all"].iloc[0]
        a, b, c = st.columns(3)
        a.metric(t("policy.newly_blocked"), f"{int(totals['newly_blocked']):,}", border=True)
        b.metric(t("policy.payments_at_risk"), f"{int(totals['payments_at_risk']):,}",
                 help=t("policy.amount", amount=f"{float(totals['payment_amount_at_risk']):,.2f}"), border=True)
        c.metric(t("policy.ptps_at_risk"), f"{int(totals['ptps_at_risk']):,}",
                 help=t("policy.amount", amount=f"{float(totals['ptp_amount_at_risk']):,.2f}"), border=True)
        ui.table(result, f"policy_what_if_{pack}", "conduct_what_if_table", model=schemas.PolicyWhatIfResult)

st.subheader(t("prevention.title"))
st.caption(t("prevention.intro"))
planned = st.file_uploader(t("prevention.file"), type=["csv", "txt", "tsv", "xlsx", "parquet"], key="plan_file")
if st.button(t("prevention.run"), type="primary", disabled=planned is None, key="plan_run",
             icon=":material/fact_check:"):
    bar = st.progress(0.0, text=t("prevention.stage.reading"))
    with tempfile.TemporaryDirectory(prefix="portal_plan_") as tmp:
        path = Path(tmp) / (Path(planned.name).name or "plan.csv")
        path.write_bytes(planned.getvalue())
        try:
            st.session_state.plan_result = prevention.check_file(
                path, pack, lang=i18n.language(),
                progress=lambda f, stage: bar.progress(min(f, 1.0), text=t(f"prevention.stage.{stage}")))
        except prevention.CheckError as exc:
            st.session_state.plan_result = str(exc)
    bar.empty()
plan = st.session_state.get("plan_result")
if isinstance(plan, str):
    st.error(t("prevention.failed"), icon=":material/error:")
    ui.plain_text(plan)
elif plan is not None:
    counts = plan.counts
    checked = counts["allowed"] + counts["blocked"]
    a, b, c, d = st.columns(4)
    a.metric(t("prevention.rows"), f"{counts['rows']:,}", border=True)
    b.metric(t("prevention.allowed"), f"{counts['allowed']:,}", border=True)
    c.metric(t("prevention.blocked"), f"{counts['blocked']:,}", border=True,
             help=t("prevention.blocked_share", share=counts["blocked"] / checked if checked else 0.0))
    d.metric(t("prevention.invalid"), f"{counts['invalid']:,}", border=True)
    by_rule = plan.by_rule()
    st.markdown("**" + t("prevention.by_rule_title") + "**")
    if by_rule.empty:
        st.success(t("prevention.none_blocked"), icon=":material/check_circle:")
    else:
        st.caption(t("prevention.by_rule_caption"))
        by_rule = by_rule.assign(rule_name=[i18n.label("rule", r) for r in by_rule["rule"]])
        ui.chart(charts.blocked_share(by_rule, "rule_name", t("prevention.by_rule_chart"), t("prevention.share")),
                 "plan_by_rule")
        ui.table(by_rule[["rule", "rule_name", "blocked", "share"]], f"plan_by_rule_{plan.pack}", "plan_by_rule",
                 column_config={"share": st.column_config.NumberColumn(format="percent")})
    st.markdown("**" + t("prevention.checked_title") + "**")
    st.caption(t("prevention.checked_caption"))
    ui.table(prevention.text_frame(plan.frame), f"checked_plan_{plan.pack}", "plan_checked")
