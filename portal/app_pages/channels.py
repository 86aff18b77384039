import pandas as pd
import streamlit as st

from portal import charts, drill, i18n, stats, ui
from portal.i18n import t

ui.require_role("executive", "analyst", "compliance")
st.title(t("dash.channels.title"))
filters = ui.sidebar_filters()
channels = ui.run_query("channel_effectiveness", **filters)
if channels.empty:
    ui.empty_state()
    st.stop()

st.subheader(t("dash.channels.table_title"))
st.caption(t("drill.hint"))
channel_columns = {"ch_channel": "channel"}
picked_channel = ui.table(channels, "channel_effectiveness", "ch_channels", select=True,
                          selected=drill.row_of(channels, ui.url_values(drill.CHANNEL_FIELDS), channel_columns))
labelled = channels.assign(label=[i18n.label("channel", c) for c in channels["channel"]])
picked_bubble = ui.chart(
    charts.effectiveness_bubbles(labelled, "label", t("dash.channels.bubble_title"), t("dash.channels.x_label"),
                                 t("dash.channels.y_label"), t("dash.channels.size_label")),
    "ch_bubbles", select=True,
)
ui.url_selection("ch_channels", drill.row_pick(channels, picked_channel, channel_columns), drill.CHANNEL_FIELDS)
ui.url_selection("ch_bubbles", drill.point_pick(picked_bubble, drill.CHANNEL_FIELDS), drill.CHANNEL_FIELDS)
channel = drill.channel_param(ui.url_values(drill.CHANNEL_FIELDS))
if channel is not None:
    attempts = channels.loc[channels["channel"] == channel, "attempts"]
    ui.drill_down("channel_contacts", {"channel": channel, **filters},
                  "drill.channel_title", f"channel_contacts_{channel}", "ch_channel_contacts",
                  drill.CHANNEL_FIELDS, total=int(attempts.iloc[0]) if not attempts.empty else None,
                  tables=("ch_channels",), title_values={"channel": i18n.label("channel", channel)})

scorecards = {by: ui.run_query("collector_scorecard", by=by, **filters) for by in ("agent", "agency")}
fields = {"agent": drill.AGENT_FIELDS, "agency": drill.AGENCY_FIELDS}
left, right = st.columns(2)
for by, column in (("agent", left), ("agency", right)):
    with column:
        st.subheader(t("dash.channels.agents_title" if by == "agent" else "dash.channels.agencies_title"))
        card, url_key = scorecards[by], fields[by][0]
        row = ui.table(card, f"{by}_scorecard", f"ch_{by}s", select=True,
                       selected=drill.row_of(card, ui.url_values(fields[by]), {url_key: "collector_id"}))
        ui.url_selection(f"ch_{by}s", drill.row_pick(card, row, {url_key: "collector_id"}), fields[by])
for by in ("agent", "agency"):
    collector = drill.collector_param((ui.url_values(fields[by]) or {}).get(fields[by][0]))
    if collector is not None:
        card = scorecards[by]
        attempts = card.loc[card["collector_id"] == collector, "attempts"]
        ui.drill_down("collector_contacts", {"by": by, "collector_id": collector, **filters},
                      f"drill.{by}_title", drill.file_stem(by, "contacts", collector), f"ch_{by}_contacts",
                      fields[by], total=int(attempts.iloc[0]) if not attempts.empty else None,
                      tables=(f"ch_{by}s",), subject=collector)

st.subheader(t("dash.channels.strategy_title"))
st.caption(t("dash.channels.strategy_caption"))
strategies = ui.run_query("strategy_comparison", **filters).set_index("strategy", drop=False)
if not {"champion", "challenger"} <= set(strategies.index):
    st.info(t("dash.channels.need_two"))
    st.stop()
champion, challenger = strategies.loc["champion"], strategies.loc["challenger"]
names = {s: i18n.label("strategy", s) for s in ("champion", "challenger")}
templates = {k: t(f"dash.channels.verdict_{k}") for k in ("insufficient", "none", "significant", "ci")}
cure = stats.diff_proportions(int(champion["cured"]), int(champion["accounts"]),
                              int(challenger["cured"]), int(challenger["accounts"]))
recovered = stats.diff_means(
    float(champion["recovered_per_account"]), float(champion["recovered_sd"]), int(champion["accounts"]),
    float(challenger["recovered_per_account"]), float(challenger["recovered_sd"]), int(challenger["accounts"]),
)
a, b = st.columns(2)
a.metric(t("dash.channels.verdict_cure"), f"{challenger['cure_rate']:.1%}",
         delta=f"{cure.estimate * 100:+.1f} pp", border=True)
a.text(stats.verdict(cure, names["champion"], names["challenger"], t("dash.channels.measure_cure"),
                     templates=templates))
b.metric(t("dash.channels.verdict_recovered"), f"¥{challenger['recovered_per_account']:,.2f}",
         delta=f"{recovered.estimate:+,.2f}", border=True)
b.text(stats.verdict(recovered, names["champion"], names["challenger"], t("dash.channels.measure_recovered"),
                     unit=t("dash.channels.unit_yuan"), templates=templates))

rows = []
for code in ("champion", "challenger"):
    row = strategies.loc[code]
    cure_ci = stats.proportion_interval(int(row["cured"]), int(row["accounts"]))
    mean_ci = stats.mean_interval(float(row["recovered_per_account"]), float(row["recovered_sd"]), int(row["accounts"]))
    rows.append({
        "strategy": names[code], "cure_rate": cure_ci.estimate, "cure_low": cure_ci.low, "cure_high": cure_ci.high,
        "recovered_per_account": mean_ci.estimate, "recovered_low": mean_ci.low, "recovered_high": mean_ci.high,
    })
intervals = pd.DataFrame(rows)
left, right = st.columns(2)
with left:
    ui.chart(charts.strategy_bars(intervals, "cure_rate", "cure_low", "cure_high", t("dash.channels.cure_chart"),
                                  t("dash.channels.cure_rate")), "ch_strategy_cure")
with right:
    ui.chart(charts.strategy_bars(intervals, "recovered_per_account", "recovered_low", "recovered_high",
                                  t("dash.channels.recovered_chart"), t("dash.channels.recovered_per_account")),
             "ch_strategy_recovered")
ui.table(strategies.reset_index(drop=True), "strategy_comparison", "ch_strategies")
