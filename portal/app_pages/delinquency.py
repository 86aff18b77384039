import datetime as dt

import pandas as pd
import streamlit as st

from portal import charts, drill, forecast, i18n, ui
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
st.caption(t("drill.hint"))
bucket_columns = {"dq_as_of": "as_of", "dq_bucket": "bucket"}
left, right = st.columns(2)
with left:
    picked_bars = ui.chart(charts.bucket_trend(buckets, measure, t("dash.delinquency.distribution_title"),
                                               measure_label), "dq_distribution", select=True)
with right:
    shares = buckets.assign(share=buckets[measure] / buckets.groupby("as_of")[measure].transform("sum"))
    fig = charts.bucket_trend(shares, "share", t("dash.delinquency.share_title"), measure_label)
    fig.update_layout(yaxis_tickformat=".0%")
    picked_shares = ui.chart(fig, "dq_share", select=True)
picked_row = ui.table(buckets, "delinquency_buckets", "dq_buckets", select=True,
                      selected=drill.row_of(buckets, ui.url_values(drill.BUCKET_FIELDS), bucket_columns))
ui.url_selection("dq_distribution", drill.point_pick(picked_bars, drill.BUCKET_FIELDS), drill.BUCKET_FIELDS)
ui.url_selection("dq_share", drill.point_pick(picked_shares, drill.BUCKET_FIELDS), drill.BUCKET_FIELDS)
ui.url_selection("dq_buckets", drill.row_pick(buckets, picked_row, bucket_columns), drill.BUCKET_FIELDS)
bucket_pick = drill.bucket_params(ui.url_values(drill.BUCKET_FIELDS))
if bucket_pick is not None:
    as_of, bucket = bucket_pick["as_of"], bucket_pick["bucket"]
    bar = buckets[(buckets["as_of"].dt.date == as_of) & (buckets["bucket"] == bucket)]
    ui.drill_down("bucket_loans", {**bucket_pick, **dims},
                  "drill.bucket_title", f"bucket_loans_{as_of.isoformat()}_{bucket}", "dq_bucket_loans",
                  drill.BUCKET_FIELDS, total=int(bar["loans"].sum()) if not bar.empty else None,
                  tables=("dq_buckets",),
                  title_values={"bucket": i18n.label("bucket", bucket), "as_of": as_of.isoformat()})

months = sorted({pd.Timestamp(m).date() for m in buckets["as_of"]}, reverse=True)
roll_months = months[1:] or months
roll_pick = drill.roll_params(ui.url_values(drill.ROLL_FIELDS))
if "dq_roll_month" not in st.session_state and roll_pick is not None and roll_pick["as_of"] in roll_months:
    st.session_state["dq_roll_month"] = roll_pick["as_of"]  # a shared link opens on its month
roll_month = st.selectbox(t("dash.delinquency.roll_month"), roll_months, key="dq_roll_month")
rolls = ui.run_query("roll_rates", start=roll_month, end=roll_month + dt.timedelta(days=1), **dims)
if rolls.empty:
    st.info(t("dash.delinquency.no_next_month"))
else:
    roll_columns = {"dq_roll_as_of": "as_of", "dq_roll_from": "from_bucket", "dq_roll_to": "to_bucket"}
    left, right = st.columns(2)
    with left:
        picked_cells = ui.chart(charts.roll_matrix(rolls, t("dash.delinquency.roll_title",
                                                            month=roll_month.isoformat())),
                                "dq_roll_matrix", select=True)
    with right:
        ui.chart(charts.roll_sankey(rolls, t("dash.delinquency.sankey_title", month=roll_month.isoformat())),
                 "dq_sankey")
    picked_roll = ui.table(rolls, "roll_rates", "dq_rolls", select=True,
                           selected=drill.row_of(rolls, ui.url_values(drill.ROLL_FIELDS), roll_columns))
    cell = drill.point_pick(picked_cells, drill.ROLL_FIELDS[1:])
    ui.url_selection("dq_roll_matrix", {"dq_roll_as_of": roll_month.isoformat(), **cell} if cell else None,
                     drill.ROLL_FIELDS)
    ui.url_selection("dq_rolls", drill.row_pick(rolls, picked_roll, roll_columns), drill.ROLL_FIELDS)
    roll_pick = drill.roll_params(ui.url_values(drill.ROLL_FIELDS))
    if roll_pick is not None:
        flow = rolls[(rolls["as_of"].dt.date == roll_pick["as_of"]) & (rolls["from_bucket"] == roll_pick["from_bucket"])
                     & (rolls["to_bucket"] == roll_pick["to_bucket"])]
        ui.drill_down(
            "roll_rate_loans", {**roll_pick, **dims},
            "drill.roll_title",
            f"roll_rate_loans_{roll_pick['as_of'].isoformat()}_{roll_pick['from_bucket']}_{roll_pick['to_bucket']}",
            "dq_roll_loans", drill.ROLL_FIELDS, total=int(flow["loans"].sum()) if not flow.empty else None,
            tables=("dq_rolls",),
            title_values={"from_bucket": i18n.label("bucket", roll_pick["from_bucket"]),
                          "to_bucket": i18n.label("bucket", roll_pick["to_bucket"]),
                          "as_of": roll_pick["as_of"].isoformat()})

vintage = ui.run_query("vintage_curves", **dims)
if not vintage.empty:
    x, y = t("dash.delinquency.months_on_book"), t("dash.delinquency.share")
    left, right = st.columns(2)
    with left:
        ui.chart(charts.vintage(vintage, "ever_m1_share", t("dash.delinquency.vintage_m1"), x, y), "dq_vintage_m1")
    with right:
        ui.chart(charts.vintage(vintage, "ever_m3_share", t("dash.delinquency.vintage_m3"), x, y), "dq_vintage_m3")
    drawn = charts.observed_cohorts(vintage)
    if len(drawn) < len(vintage) and not drawn.empty:
        st.caption(t("dash.delinquency.vintage_left_out", first=pd.Timestamp(drawn["cohort"].min()).strftime("%Y-%m")))
    ui.table(vintage, "vintage_curves", "dq_vintage")

# Forecast: a Markov chain on the recent roll matrices (queries/roll_forecast*.sql, portal/forecast.py).
st.header(t("forecast.page.title"), anchor="forecast")
all_months = sorted(pd.Timestamp(m).date() for m in ui.run_query("month_ends")["as_of"])
fc_as_of = months[0]  # the latest month-end in the sidebar's range
fc_k = forecast.available_k(all_months, fc_as_of, forecast.DEFAULT_K)
if fc_k == 0:
    st.info(t("forecast.page.no_history"), icon=":material/info:")
else:
    st.caption(t("forecast.page.intro", month=fc_as_of.isoformat()))
    horizon = st.segmented_control(
        t("forecast.page.horizon"), list(forecast.HORIZONS), default=3, key="dq_fc_horizon",
    ) or 3
    if fc_k < forecast.DEFAULT_K:
        st.caption(t("forecast.page.k_reduced", wanted=forecast.DEFAULT_K, k=fc_k))
    else:
        st.caption(t("forecast.page.k_used", k=fc_k, month=fc_as_of.isoformat()))
    projected = forecast.forecast_frame(fc_as_of, horizon, forecast.DEFAULT_K, dims, runner=ui.run_query)
    observed = forecast.observed_balances(dims, runner=ui.run_query)
    drawn = forecast.history_and_forecast(projected, observed, fc_as_of)
    names = {part: t(f"forecast.page.{part}", bucket="{bucket}") for part in ("actual", "forecast", "band")}
    bucket_labels = {b: i18n.label("bucket", b) for b in (*charts.BUCKETS, "M1+")}
    left, right = st.columns(2)
    with left:
        ui.chart(charts.forecast_band(drawn, ["M1+"], t("forecast.page.m1_title"), t("forecast.page.balance"),
                                      names, bucket_labels), "dq_fc_m1")
    with right:
        ui.chart(charts.forecast_band(drawn, list(charts.BUCKETS[1:]), t("forecast.page.bucket_title"),
                                      t("forecast.page.balance"), names, bucket_labels), "dq_fc_buckets")
    ui.table(projected, "roll_forecast", "dq_forecast")
    with st.expander(t("forecast.page.assumptions_title"), icon=":material/rule:"):
        for key in ("matrix", "balance", "new", "stable", "interval"):
            st.markdown("- " + t(f"forecast.page.assumption_{key}", k=fc_k, paths=forecast.SIMULATED_PATHS))

    st.subheader(t("forecast.page.accuracy_title"))
    bt_k = forecast.backtest_k(all_months, forecast.ACCURACY_HORIZONS, forecast.DEFAULT_K)
    if bt_k is None:
        st.info(t("forecast.page.accuracy_none", k=1, horizon=max(forecast.ACCURACY_HORIZONS)),
                icon=":material/info:")
    else:
        st.caption(t("forecast.page.accuracy_intro", k=bt_k))
        if bt_k < forecast.DEFAULT_K:
            st.caption(t("forecast.page.k_reduced", wanted=forecast.DEFAULT_K, k=bt_k))
        scores = forecast.accuracy(forecast.ACCURACY_HORIZONS, bt_k, dims, runner=ui.run_query)
        for row in scores.itertuples():
            values = {"horizon": row.horizon, "origins": row.origins, "forecast": f"{row.forecast_mape:.2%}",
                      "naive": f"{row.naive_mape:.2%}"}
            if row.winner == "forecast":
                st.success(t("forecast.page.verdict_forecast", **values), icon=":material/check_circle:")
            elif row.winner == "naive":
                st.warning(t("forecast.page.verdict_naive", **values), icon=":material/warning:")
            elif row.winner == "tie":
                st.info(t("forecast.page.verdict_tie", **values), icon=":material/drag_handle:")
            else:
                st.info(t("forecast.page.accuracy_none", k=bt_k, horizon=row.horizon), icon=":material/info:")
        left, right = st.columns(2)
        with left:
            ui.chart(charts.accuracy_bars(
                scores, t("forecast.page.accuracy_chart"), t("forecast.accuracy.horizon"), t("forecast.accuracy.mape"),
                {"forecast": t("codes.winner.forecast"), "naive": t("codes.winner.naive")}), "dq_fc_accuracy")
        with right:
            percent = {c: st.column_config.NumberColumn(t(f"forecast.accuracy.{c}"), format="percent")
                       for c in ("forecast_mape", "naive_mape")}
            shown = scores.drop(columns="k").assign(
                winner=[i18n.label("winner", w) if w else "–" for w in scores["winner"]])
            ui.table(shown,
                     "roll_forecast_accuracy", "dq_fc_scores", column_config={
                         **percent, **{c: t(f"forecast.accuracy.{c}") for c in ("horizon", "origins", "winner")}})
            if int(scores["origins"].min()) < 6:
                st.caption(t("forecast.page.few_origins"))
        st.caption(t("forecast.page.uci_note"))
        with st.expander(t("forecast.page.backtest_table"), icon=":material/table_chart:"):
            detail = pd.concat([forecast.backtest_frame(h, bt_k, dims, runner=ui.run_query).assign(horizon=h)
                                for h in forecast.ACCURACY_HORIZONS], ignore_index=True)
            ui.table(detail[detail["bucket"] == forecast.DELINQUENT], "roll_forecast_backtest", "dq_fc_backtest")
