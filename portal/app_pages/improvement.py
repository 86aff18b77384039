import math

import pandas as pd
import streamlit as st

from portal import charts, config, i18n, improvement, risk, ui
from portal.i18n import t

user = ui.require_role("compliance", "analyst", "executive")
may_edit = user.role in improvement.EDIT_ROLES
st.title(t("improvement.title"))
st.caption(t("improvement.caption"))
filters = ui.sidebar_filters(dimensions=())
period = {"start": filters.get("start"), "end": filters.get("end")}


def value_label(kind: str, value: str) -> str:
    if value in ("unassigned", "in_house"):
        return t(f"improvement.{value}")
    return i18n.label(kind, value)


def kpi_value(kpi: str, value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if improvement.TARGET_KPIS[kpi].kind == "proportion":
        return f"{value * 100:+.1f} pp" if signed else f"{value:.1%}"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


tab_causes, tab_rates, tab_actions, tab_ranking, tab_risk = st.tabs(
    [t("improvement.tab_causes"), t("improvement.tab_rates"), t("improvement.tab_actions"),
     t("improvement.tab_ranking"), t("improvement.risk.tab")])

with tab_causes:
    group_by = st.segmented_control(
        t("improvement.causes.group_by"), improvement.CAUSE_GROUPS, default="root_cause", key="imp_group_by",
        format_func=lambda v: i18n.label("cause_group", v)) or "root_cause"
    causes = ui.run_query("root_causes", group_by=group_by, **period)
    if causes.empty:
        ui.empty_state()
    else:
        label_kind = "root_cause" if group_by == "root_cause" else group_by
        causes["label"] = [value_label(label_kind, v) for v in causes["value"]]
        ui.chart(charts.pareto(causes, "label", t("improvement.causes.pareto_title"),
                               t("improvement.causes.complaints"), t("improvement.causes.cumulative")),
                 "imp_pareto")
        st.caption(t("improvement.causes.caption"))
        ui.table(causes.drop(columns=["label"]), "root_causes", "imp_causes")

with tab_rates:
    left, right = st.columns(2)
    segment_kind = left.selectbox(
        t("improvement.rates.segment"), improvement.RATE_SEGMENTS, key="imp_rate_segment",
        format_func=lambda v: i18n.label("segment_kind", v))
    measure = right.selectbox(
        t("improvement.rates.measure"), ["complaints_per_10k_contacts", "complaints_per_10k_overdue"],
        key="imp_rate_measure", format_func=lambda v: i18n.label("target_kpi", v))
    rates = ui.run_query("complaint_rates", segment_kind=segment_kind, **period)
    if rates.empty:
        ui.empty_state()
    else:
        rates["label"] = [value_label(segment_kind, v) for v in rates["segment"]]
        ui.chart(charts.rate_trend(rates, measure, "label", t("improvement.rates.trend_title"),
                                   i18n.label("target_kpi", measure)), "imp_rates")
        st.caption(t("improvement.rates.caption"))
        ui.table(rates.drop(columns=["label"]), "complaint_rates", "imp_rates")

with tab_actions:
    st.subheader(t("improvement.actions.list_title"))
    notice = st.session_state.pop("imp_notice", None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    actions = ui.run_query("improvement_actions")
    if actions.empty:
        st.info(t("improvement.actions.none"), icon=":material/info:")
    else:
        shown = actions.copy()
        shown["status"] = [i18n.label("action_status", s) for s in shown["status"]]
        shown["target_kpi"] = [i18n.label("target_kpi", k) for k in shown["target_kpi"]]
        ui.table(shown, "improvement_actions", "imp_actions")

        ids = actions["action_id"].tolist()
        titles = dict(zip(actions["action_id"], actions["title"], strict=True))
        pending = st.session_state.pop("imp_pending_action", None)
        if pending in ids:
            st.session_state["imp_action"] = pending
        elif st.session_state.get("imp_action") not in ids:
            st.session_state["imp_action"] = ids[0]
        action_id = st.selectbox(t("improvement.actions.pick"), ids, key="imp_action",
                                 format_func=lambda a: f"{a} · {titles[a]}")
        action = actions[actions["action_id"] == action_id].iloc[0].to_dict()
        with st.container(border=True):
            ui.plain_text(f"{action_id} · {action['title']}")
            target = action.get("target_value")
            st.caption(t("improvement.actions.status_line",
                         status=i18n.label("action_status", action["status"]),
                         owner=action.get("owner") or "–", start_on=pd.Timestamp(action["start_on"]).date(),
                         kpi=i18n.label("target_kpi", action["target_kpi"]),
                         target=t("improvement.actions.no_target") if target is None or pd.isna(target)
                         else kpi_value(action["target_kpi"], float(target))))
            st.caption(t("improvement.actions.details"))
            ui.plain_text(action.get("change_made"))
            nxt = improvement.next_status(action["status"])
            if nxt is None:
                st.caption(t("improvement.actions.final"))
            elif may_edit and st.button(
                    t("improvement.actions.move_to", status=i18n.label("action_status", nxt)),
                    key=f"imp_move_{action_id}", icon=":material/arrow_forward:"):
                try:
                    improvement.set_status(action_id, nxt, user.username)
                except improvement.ActionError as exc:
                    st.error(t(f"improvement.errors.{next(iter(exc.errors.values()))}"))
                else:
                    st.session_state["imp_notice"] = t("improvement.actions.moved", action_id=action_id,
                                                       status=i18n.label("action_status", nxt))
                    st.rerun()

        st.subheader(t("improvement.effect.title"))
        kind, value = action.get("segment_kind"), action.get("segment_value")
        if not kind or not value or pd.isna(kind) or pd.isna(value):
            st.info(t("improvement.actions.no_segment"), icon=":material/info:")
        else:
            st.caption(t("improvement.actions.segment_line", kind=i18n.label("segment_kind", kind), value=value))
            inputs = ui.run_query("action_effect_inputs", segment_kind=kind, segment_value=value)
            effects = improvement.measure_action(action, inputs=inputs)
            if inputs.empty or inputs["contacts"].sum() == 0:
                st.info(t("improvement.effect.no_data"), icon=":material/info:")
            for kpi, effect in effects.items():
                kpi_name = i18n.label("target_kpi", kpi)
                series = improvement.effect_series(inputs, kpi)
                if not series.empty:
                    ui.chart(charts.effect_chart(
                        series, action["start_on"], t("improvement.effect.chart_title", kpi=kpi_name), kpi_name,
                        t("improvement.effect.start"),
                        {"treated": t("improvement.treated"), "control": t("improvement.control")},
                        percent=improvement.TARGET_KPIS[kpi].kind == "proportion"), f"imp_effect_{kpi}")
                verdict = effect.verdict
                box = {"improved": st.success, "worse": st.error}.get(verdict, st.info)
                box(t(f"improvement.verdict.{verdict}", kpi=kpi_name), icon=":material/analytics:")
                if verdict == "insufficient":
                    continue
                cols = st.columns(2)
                cols[0].metric(t("improvement.effect.estimate"), kpi_value(kpi, effect.estimate, signed=True),
                               help=t("improvement.effect.estimate_help"), border=True)
                cols[0].caption(t("improvement.effect.ci", low=kpi_value(kpi, effect.low, signed=True),
                                  high=kpi_value(kpi, effect.high, signed=True)))
                if effect.ratio is not None:
                    cols[1].metric(t("improvement.effect.ratio"),
                                   t("improvement.effect.ratio_value", ratio=f"{effect.ratio:.2f}"),
                                   help=t("improvement.effect.ratio_help"), border=True)
                    cols[1].caption(t("improvement.effect.ratio_ci", low=f"{effect.ratio_low:.2f}",
                                      high=f"{effect.ratio_high:.2f}"))
                if effect.method == "did":
                    st.caption(t("improvement.effect.windows", before_from=effect.before[0],
                                 before_to=effect.before[1], after_from=effect.after[0],
                                 after_to=effect.after[1], months=effect.months))
                else:
                    st.caption(t("improvement.effect.post_only", after_from=effect.after[0],
                                 after_to=effect.after[1]))
            st.caption(t("improvement.effect.method"))

        with st.expander(t("improvement.actions.history")):
            ui.table(improvement.action_events(action_id), f"action_{action_id}_events", "imp_events")

    st.divider()
    st.subheader(t("improvement.form.title"))
    if not may_edit:
        st.info(t("improvement.read_only"), icon=":material/lock:")
    else:
        known_causes = [v for v in ui.run_query("root_causes")["value"] if v != "unassigned"]
        slots = {}
        with st.form("imp_new_action", clear_on_submit=False):
            raw = {"title": st.text_input(t("improvement.form.action_title"), key="imp_f_title", max_chars=200)}
            slots["title"] = st.empty()
            raw["root_cause"] = st.selectbox(
                t("improvement.form.root_cause"), known_causes, index=None, key="imp_f_root_cause",
                placeholder=t("improvement.form.root_cause_placeholder"),
                format_func=lambda v: value_label("root_cause", v), accept_new_options=True)
            slots["root_cause"] = st.empty()
            raw["owner"] = st.text_input(t("improvement.form.owner"), key="imp_f_owner", max_chars=100)
            slots["owner"] = st.empty()
            raw["start_on"] = st.date_input(t("improvement.form.start_on"), value=None, key="imp_f_start_on")
            slots["start_on"] = st.empty()
            raw["change_made"] = st.text_area(t("improvement.form.change_made"), key="imp_f_change",
                                              help=t("improvement.form.change_help"), max_chars=2000)
            slots["change_made"] = st.empty()
            raw["target_kpi"] = st.selectbox(
                t("improvement.form.target_kpi"), list(improvement.TARGET_KPIS), index=None, key="imp_f_kpi",
                placeholder=t("improvement.form.choose"), format_func=lambda v: i18n.label("target_kpi", v))
            slots["target_kpi"] = st.empty()
            raw["target_value"] = st.number_input(t("improvement.form.target_value"), value=None, min_value=0.0,
                                                  key="imp_f_target", help=t("improvement.form.target_help"))
            slots["target_value"] = st.empty()
            raw["segment_kind"] = st.selectbox(
                t("improvement.form.segment_kind"), improvement.SEGMENT_KINDS, index=None, key="imp_f_kind",
                placeholder=t("improvement.form.choose"), format_func=lambda v: i18n.label("segment_kind", v),
                help=t("improvement.form.segment_help"))
            slots["segment_kind"] = st.empty()
            raw["segment_value"] = st.text_input(t("improvement.form.segment_value"), key="imp_f_value",
                                                 max_chars=64)
            slots["segment_value"] = st.empty()
            submitted = st.form_submit_button(t("improvement.form.submit"), icon=":material/add_task:")
        if submitted:
            try:
                new_id = improvement.create_action(raw, user.username)
            except improvement.ActionError as exc:
                st.error(t("improvement.form.errors"), icon=":material/error:")
                for field, code in exc.errors.items():
                    slots.get(field, st.empty()).error(t(f"improvement.errors.{code}"))
            else:
                st.session_state["imp_notice"] = t("improvement.actions.created", action_id=new_id)
                st.session_state["imp_pending_action"] = new_id
                st.rerun()

with tab_ranking:
    cost = float(config.setting("complaint_cost_yuan"))
    st.subheader(t("improvement.ranking.title"))
    st.caption(t("improvement.ranking.caption", cost=f"{cost:,.0f}"))
    ranking = ui.run_query("channel_net_ranking", complaint_cost=cost, **period)
    if ranking.empty:
        ui.empty_state()
    else:
        for dimension in ("channel", "strategy"):
            part = ranking[ranking["dimension"] == dimension].copy()
            if part.empty:
                continue
            st.caption(i18n.label("rank_dimension", dimension))
            part["value"] = [value_label(dimension, v) for v in part["value"]]
            ui.table(part.drop(columns=["dimension"]), f"net_ranking_{dimension}", f"imp_rank_{dimension}")

with tab_risk:
    st.caption(t("improvement.risk.intro"))
    if st.button(t("improvement.risk.fit"), key="imp_risk_fit", icon=":material/model_training:"):
        try:
            st.session_state["imp_risk"] = risk.analyse(complaint_cost=float(config.setting("complaint_cost_yuan")))
        except risk.RiskError:
            st.session_state["imp_risk"] = None
            st.info(t("improvement.risk.not_enough"), icon=":material/info:")
    report = st.session_state.get("imp_risk")
    if report is not None:
        model = report.model
        cols = st.columns(4)
        cols[0].metric(t("improvement.risk.auc"), f"{model.auc:.3f}", help=t("improvement.risk.auc_help"), border=True)
        cols[1].metric(t("improvement.risk.holdout"), str(pd.Timestamp(model.holdout_as_of).date()), border=True)
        cols[2].metric(t("improvement.risk.rows"), f"{model.train_rows:,}", border=True)
        cols[3].metric(t("improvement.risk.seconds"), f"{model.fit_seconds:.1f}", border=True)
        left, right = st.columns(2)
        with left:
            ui.chart(charts.calibration(model.calibration, t("improvement.risk.calibration_title"),
                                        t("improvement.risk.predicted"), t("improvement.risk.observed")),
                     "imp_risk_calibration")
        with right:
            st.caption(t("improvement.risk.features_title"))
            ui.table(model.top_features.head(12), "risk_top_features", "imp_risk_features")
        st.caption(t("improvement.risk.segments_title"))
        segments = report.segments.assign(segment=[i18n.label("risk_segment", v) for v in report.segments["segment"]])
        ui.table(segments, "risk_segments", "imp_risk_segments")
        st.caption(t("improvement.risk.mix_title"))
        st.caption(t("improvement.risk.mix_caption", cost=f"{float(config.setting('complaint_cost_yuan')):,.0f}"))
        if report.channel_mix.empty:
            ui.empty_state()
        else:
            mix = report.channel_mix.assign(
                segment=[i18n.label("risk_segment", v) for v in report.channel_mix["segment"]],
                channel=[i18n.label("channel", v) for v in report.channel_mix["channel"]])
            ui.table(mix, "risk_channel_mix", "imp_risk_mix")
