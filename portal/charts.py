"""Pure Plotly builders: a DataFrame in, a Figure out. No Streamlit here."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+")
BUCKET_COLORS = {
    "M0": "#2e7d32", "M1": "#9ccc65", "M2": "#fdd835", "M3": "#ffb300",
    "M4": "#fb8c00", "M5": "#f4511e", "M6": "#d32f2f", "M6+": "#7b1fa2", "closed": "#90a4ae",
}


def bucket_trend(frame: pd.DataFrame, value: str, title: str, value_label: str, labels=None) -> go.Figure:
    """Stacked bars of a bucket measure per month-end; each bar carries (month-end, bucket) as its
    customdata, for a drill-down to its loans."""
    as_of = pd.to_datetime(frame["as_of"])
    # A month-end is labelled as its own month ("2025-12" for 2025-12-31): on a date axis Plotly would
    # put the bar under the next month's tick.
    frame = frame.assign(picked_as_of=as_of.dt.strftime("%Y-%m-%d"), month=as_of.dt.strftime("%Y-%m"))
    fig = px.bar(
        frame, x="month", y=value, color="bucket", title=title, custom_data=["picked_as_of", "bucket"],
        category_orders={"bucket": list(BUCKETS), "month": sorted(frame["month"].unique())},
        color_discrete_map=BUCKET_COLORS,
        labels={"month": "", value: value_label, "bucket": "", **(labels or {})},
    )
    fig.update_layout(barmode="stack", legend_title_text="", margin={"t": 48, "b": 24})
    fig.update_xaxes(type="category")
    return fig


def roll_matrix(frame: pd.DataFrame, title: str) -> go.Figure:
    """A heatmap of roll-rate shares: from-bucket rows, to-bucket columns."""
    order_to = [b for b in (*BUCKETS, "closed") if b in set(frame["to_bucket"])]
    order_from = [b for b in BUCKETS if b in set(frame["from_bucket"])]
    pivot = frame.pivot_table(index="from_bucket", columns="to_bucket", values="share", aggfunc="sum")
    pivot = pivot.reindex(index=order_from, columns=order_to).fillna(0.0)
    fig = go.Figure(go.Heatmap(
        z=pivot.values, x=order_to, y=order_from, colorscale="Blues", zmin=0, zmax=1,
        text=[[f"{v:.1%}" for v in row] for row in pivot.values], texttemplate="%{text}", hoverinfo="skip",
    ))
    # a heatmap cell cannot be clicked in Plotly: an invisible marker on each cell that holds loans can
    # (it also carries the hover text), with (from bucket, to bucket) as customdata for a drill-down
    cells = frame[frame["loans"] > 0] if "loans" in frame.columns else frame
    fig.add_scatter(
        x=cells["to_bucket"].tolist(), y=cells["from_bucket"].tolist(), mode="markers", showlegend=False,
        marker={"size": 40, "symbol": "square", "opacity": 0},
        text=[f"{v:.1%}" for v in cells["share"]], hovertemplate="%{y} → %{x}: %{text}<extra></extra>",
        customdata=list(zip(cells["from_bucket"], cells["to_bucket"], strict=True)),
    )
    fig.update_xaxes(categoryorder="array", categoryarray=order_to)
    fig.update_yaxes(categoryorder="array", categoryarray=order_from)
    fig.update_layout(title=title, yaxis={"autorange": "reversed"}, margin={"t": 48, "b": 24})
    return fig


# Executive dashboards (delinquency, funnels, channels).

STAGE_COLORS = ("#1565c0", "#1e88e5", "#42a5f5", "#64b5f6", "#90caf9", "#43a047", "#2e7d32")


def funnel(frame: pd.DataFrame, stage: str, value: str, title: str, labels: dict | None = None) -> go.Figure:
    """A funnel of counts by stage, showing each stage's share of the first and of the previous stage."""
    names = [(labels or {}).get(s, s) for s in frame[stage]]
    fig = go.Figure(go.Funnel(
        y=names, x=frame[value].tolist(), textinfo="value+percent initial+percent previous",
        marker={"color": list(STAGE_COLORS[: len(frame)])}, customdata=frame[stage].tolist(),
    ))
    fig.update_layout(title=title, margin={"t": 48, "b": 24, "l": 24, "r": 24})
    return fig


def roll_sankey(frame: pd.DataFrame, title: str) -> go.Figure:
    """A Sankey flow of loans from bucket at t (left) to bucket at t+1 (right), closed included."""
    order_from = [b for b in BUCKETS if b in set(frame["from_bucket"])]
    order_to = [b for b in (*BUCKETS, "closed") if b in set(frame["to_bucket"])]
    left = {b: i for i, b in enumerate(order_from)}
    right = {b: len(order_from) + i for i, b in enumerate(order_to)}
    # Nodes placed by hand, M0 at the top down to M6+ (then closed): Plotly's own layout reorders them.
    out_sizes = frame.groupby("from_bucket")["loans"].sum()
    in_sizes = frame.groupby("to_bucket")["loans"].sum()
    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        node={
            "label": order_from + order_to, "pad": 12,
            "color": [BUCKET_COLORS.get(b, "#90a4ae") for b in order_from + order_to],
            "x": [0.001] * len(order_from) + [0.999] * len(order_to),
            "y": _stacked_centres([out_sizes.get(b, 0) for b in order_from])
            + _stacked_centres([in_sizes.get(b, 0) for b in order_to]),
        },
        link={
            "source": [left[b] for b in frame["from_bucket"]],
            "target": [right[b] for b in frame["to_bucket"]],
            "value": frame["loans"].tolist(),
            "color": [BUCKET_COLORS.get(b, "#90a4ae") + "66" for b in frame["from_bucket"]],
        },
    ))
    fig.update_layout(title=title, margin={"t": 48, "b": 24})
    return fig


def _stacked_centres(sizes: list[float], gap: float = 0.02) -> list[float]:
    """Vertical centres (0 top, 1 bottom) of nodes stacked in the given order, each as tall as its share."""
    total = float(sum(sizes)) or 1.0
    room = max(1.0 - gap * (len(sizes) - 1), 0.1)
    centres, top = [], 0.0
    for size in sizes:
        height = room * float(size) / total
        centres.append(min(max(top + height / 2, 0.001), 0.999))
        top += height + gap
    return centres


def observed_cohorts(frame: pd.DataFrame) -> pd.DataFrame:
    """The vintage rows of cohorts disbursed within the data window: a cohort disbursed before the
    first month-end has its early months unobserved, so its "ever" shares would read as 0%, not unknown."""
    if frame.empty:
        return frame
    cohort = pd.to_datetime(frame["cohort"]).dt.to_period("M")
    first = (cohort + frame["months_on_book"].astype(int)).min()
    return frame[(cohort >= first).to_numpy()]


def vintage(frame: pd.DataFrame, value: str, title: str, x_label: str, y_label: str) -> go.Figure:
    """One line per disbursal cohort: a cumulative share by months on book (cohorts disbursed before
    the data window are left out, see observed_cohorts)."""
    frame = observed_cohorts(frame)
    data = frame.assign(cohort=pd.to_datetime(frame["cohort"]).dt.strftime("%Y-%m"))
    fig = px.line(
        data, x="months_on_book", y=value, color="cohort", markers=True, title=title,
        labels={"months_on_book": x_label, value: y_label, "cohort": ""},
    )
    # ".1~%": small shares read 0.5%, 1%, 1.5% rather than a rounded 1%, 1%, 2%
    fig.update_layout(yaxis_tickformat=".1~%", legend_title_text="", margin={"t": 48, "b": 24})
    return fig


def effectiveness_bubbles(frame: pd.DataFrame, label: str, title: str, x_label: str, y_label: str,
                          size_label: str) -> go.Figure:
    """Effectiveness against harm: recovered per yuan of cost (x), complaints per 10k attempts (y),
    bubble size = attempts. Rows without cost or attempts are left out."""
    data = frame[(frame["cost"] > 0) & (frame["attempts"] > 0)].copy()
    data["recovered_per_yuan"] = data["recovered_amount"] / data["cost"]
    # Named by colour and legend, and on hover: text labels on close bubbles overlap.
    fig = px.scatter(
        data, x="recovered_per_yuan", y="complaints_per_10k_attempts", size="attempts", color=label,
        hover_name=label, title=title, size_max=60, custom_data=["channel"] if "channel" in data else None,
        labels={"recovered_per_yuan": x_label, "complaints_per_10k_attempts": y_label, "attempts": size_label,
                label: ""},
    )
    fig.update_layout(margin={"t": 48, "b": 24}, legend_title_text="")
    return fig


def kpi_trend(frame: pd.DataFrame, x: str, ys: dict[str, str], title: str, percent: bool = True) -> go.Figure:
    """Lines of a few KPI columns over time; ys maps column -> legend label."""
    fig = go.Figure()
    for col, name in ys.items():
        fig.add_trace(go.Scatter(x=frame[x], y=frame[col], mode="lines+markers", name=name))
    fig.update_layout(title=title, margin={"t": 48, "b": 24}, yaxis_tickformat=".1%" if percent else None)
    return fig


def strategy_bars(frame: pd.DataFrame, value: str, low: str, high: str, title: str, y_label: str) -> go.Figure:
    """Bars per strategy with an error bar from low to high (a confidence interval)."""
    fig = go.Figure(go.Bar(
        x=frame["strategy"], y=frame[value],
        error_y={"type": "data", "symmetric": False, "array": frame[high] - frame[value],
                 "arrayminus": frame[value] - frame[low]},
        marker_color=["#1e88e5", "#fb8c00"][: len(frame)] + ["#8e24aa"] * max(0, len(frame) - 2),
    ))
    fig.update_layout(title=title, yaxis_title=y_label, margin={"t": 48, "b": 24})
    return fig


# Complaints workbench.


def complaint_trend(frame: pd.DataFrame, title: str, x_label: str, y_label: str) -> go.Figure:
    """Stacked bars of complaints per month, one colour per split value (issue, channel, agency...)."""
    fig = px.bar(frame, x="month", y="complaints", color="value", title=title,
                 labels={"month": x_label, "complaints": y_label, "value": ""})
    fig.update_layout(barmode="stack", legend_title_text="", margin={"t": 48, "b": 24})
    return fig


def on_time_rate(frame: pd.DataFrame, title: str, y_label: str) -> go.Figure:
    """The share of resolved complaints answered on time, per month."""
    fig = go.Figure(go.Scatter(x=frame["month"], y=frame["timely_rate"], mode="lines+markers", name=y_label))
    fig.update_layout(title=title, yaxis={"tickformat": ".0%", "range": [0, 1.05], "title": y_label},
                      margin={"t": 48, "b": 24})
    return fig


def dpd_history(frame: pd.DataFrame, title: str) -> go.Figure:
    """DPD per month-end, one line per loan."""
    fig = px.line(frame, x="as_of", y="dpd", color="loan_id", markers=True, title=title,
                  labels={"as_of": "", "dpd": "DPD", "loan_id": ""})
    fig.update_layout(margin={"t": 48, "b": 24})
    return fig


# Improvement loop.


def pareto(frame: pd.DataFrame, label: str, title: str, count_label: str, share_label: str) -> go.Figure:
    """Bars of complaints per group, most first, with the cumulative share as a line on a second axis."""
    fig = go.Figure()
    fig.add_bar(x=frame[label], y=frame["complaints"], name=count_label)
    fig.add_scatter(x=frame[label], y=frame["cumulative_share"], name=share_label, mode="lines+markers",
                    yaxis="y2", cliponaxis=False)  # the 100% point sits on the axis' top edge, unclipped
    fig.update_layout(
        title=title, margin={"t": 48, "b": 24}, legend={"orientation": "h", "y": -0.2},
        yaxis={"title": count_label},
        yaxis2={"title": share_label, "overlaying": "y", "side": "right", "tickformat": ".0%", "range": [0, 1],
                "tickvals": [0, 0.25, 0.5, 0.75, 1]},
    )
    return fig


def rate_trend(frame: pd.DataFrame, value: str, label: str, title: str, y_label: str) -> go.Figure:
    """A KPI per month, one line per segment."""
    fig = px.line(frame, x="month", y=value, color=label, markers=True, title=title,
                  labels={"month": "", value: y_label, label: ""})
    fig.update_layout(legend_title_text="", margin={"t": 48, "b": 24})
    return fig


def effect_chart(frame: pd.DataFrame, start_on, title: str, y_label: str, start_label: str,
                 group_labels: dict[str, str], percent: bool = False) -> go.Figure:
    """Treated vs control KPI by month, with the action's start date marked by a dashed line."""
    fig = go.Figure()
    for group, color in (("treated", "#d32f2f"), ("control", "#1565c0")):
        part = frame[frame["group_name"] == group]
        fig.add_scatter(x=part["month"], y=part["value"], name=group_labels.get(group, group),
                        mode="lines+markers", line={"color": color})
    start = pd.Timestamp(start_on)
    fig.add_shape(type="line", x0=start, x1=start, xref="x", y0=0, y1=1, yref="paper",
                  line={"dash": "dash", "color": "#616161"})
    fig.add_annotation(x=start, y=1, xref="x", yref="paper", text=start_label, showarrow=False,
                       yanchor="bottom")
    fig.update_layout(title=title, yaxis={"title": y_label, "tickformat": ".0%" if percent else None,
                                          "rangemode": "tozero"},
                      margin={"t": 64, "b": 24}, legend={"orientation": "h", "y": -0.2})
    return fig


def violations_trend(frame: pd.DataFrame, label: str, title: str, y_label: str) -> go.Figure:
    """Stacked monthly bars of policy violations, one colour per rule (column `label`)."""
    fig = px.bar(frame, x="month", y="violations", color=label, title=title,
                 custom_data=["rule"] if "rule" in frame else None,
                 labels={"month": "", "violations": y_label, label: ""})
    fig.update_layout(barmode="stack", legend_title_text="", margin={"t": 48, "b": 24})
    fig.update_xaxes(dtick="M1", tickformat="%Y-%m")
    return fig


def calibration(frame: pd.DataFrame, title: str, x_label: str, y_label: str) -> go.Figure:
    """Observed vs predicted probability per score bin, against the diagonal of perfect calibration."""
    top = float(max(frame["predicted"].max(), frame["observed"].max(), 0.01))
    fig = go.Figure()
    fig.add_scatter(x=[0, top], y=[0, top], mode="lines", line={"dash": "dash", "color": "#9e9e9e"},
                    showlegend=False, hoverinfo="skip")
    fig.add_scatter(x=frame["predicted"], y=frame["observed"], mode="lines+markers", showlegend=False)
    fig.update_layout(title=title, xaxis={"title": x_label, "tickformat": ".1%"},
                      yaxis={"title": y_label, "tickformat": ".1%"}, margin={"t": 48, "b": 24})
    return fig


# Roll-rate forecast.

FORECAST_COLORS = {**BUCKET_COLORS, "M1+": "#c62828"}


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def forecast_band(frame: pd.DataFrame, buckets: list[str], title: str, y_label: str,
                  names: dict[str, str], bucket_labels: dict[str, str] | None = None) -> go.Figure:
    """Observed balance (solid), forecast balance (dashed) and its interval (shaded band) per bucket.

    `frame` has month_end, bucket, balance, low, high, kind ('actual' or 'forecast'), as built by
    portal.forecast.history_and_forecast. `names` holds the legend templates 'actual', 'forecast' and
    'band', each with a {bucket} placeholder.
    """
    fig = go.Figure()
    labels = bucket_labels or {}
    for bucket in buckets:
        part = frame[frame["bucket"] == bucket].sort_values("month_end")
        if part.empty:
            continue
        color = FORECAST_COLORS.get(bucket, "#37474f")
        label = labels.get(bucket, bucket)
        fc = part[part["kind"] == "forecast"]
        if not fc.empty:
            xs = list(fc["month_end"]) + list(fc["month_end"])[::-1]
            ys = list(fc["high"]) + list(fc["low"])[::-1]
            fig.add_scatter(x=xs, y=ys, mode="lines", fill="toself", fillcolor=_rgba(color, 0.18), line={"width": 0},
                            hoverinfo="skip", name=names["band"].format(bucket=label), legendgroup=bucket)
        actual = part[part["kind"] == "actual"]
        if not actual.empty:
            fig.add_scatter(x=actual["month_end"], y=actual["balance"], mode="lines+markers",
                            line={"color": color}, name=names["actual"].format(bucket=label), legendgroup=bucket)
        if not fc.empty:
            fig.add_scatter(x=fc["month_end"], y=fc["balance"], mode="lines+markers",
                            line={"color": color, "dash": "dash"}, name=names["forecast"].format(bucket=label),
                            legendgroup=bucket,
                            customdata=fc[["low", "high"]].to_numpy(),
                            hovertemplate="%{x|%Y-%m-%d}: ¥%{y:,.0f} (¥%{customdata[0]:,.0f} – "
                                          "¥%{customdata[1]:,.0f})<extra></extra>")
    fig.update_layout(title=title, yaxis={"title": y_label, "rangemode": "tozero"}, margin={"t": 48, "b": 24},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def accuracy_bars(frame: pd.DataFrame, title: str, x_label: str, y_label: str, names: dict[str, str]) -> go.Figure:
    """Forecast and naive mean absolute percentage errors side by side, per horizon (lower is better).

    `frame` has horizon, forecast_mape, naive_mape (fractions); `names` labels 'forecast' and 'naive'.
    """
    x = [str(h) for h in frame["horizon"]]
    fig = go.Figure()
    fig.add_bar(x=x, y=frame["forecast_mape"], name=names["forecast"], marker_color="#1565c0",
                text=[f"{v:.2%}" if pd.notna(v) else "" for v in frame["forecast_mape"]], textposition="outside")
    fig.add_bar(x=x, y=frame["naive_mape"], name=names["naive"], marker_color="#9e9e9e",
                text=[f"{v:.2%}" if pd.notna(v) else "" for v in frame["naive_mape"]], textposition="outside")
    fig.update_layout(title=title, barmode="group", xaxis={"title": x_label, "type": "category"},
                      yaxis={"title": y_label, "tickformat": ".1%", "rangemode": "tozero"},
                      margin={"t": 48, "b": 24})
    return fig


def ranked_bars(frame: pd.DataFrame, label: str, value: str, title: str, x_label: str,
                color: str = "#c62828") -> go.Figure:
    """Horizontal bars of one measure per label, largest on top (policy violations per rule, for example)."""
    data = frame.sort_values(value, ascending=True, kind="stable")
    fig = go.Figure(go.Bar(x=data[value], y=data[label], orientation="h", marker_color=color,
                           text=data[value], textposition="outside"))
    fig.update_layout(title=title, xaxis_title=x_label, margin={"t": 48, "b": 24})
    return fig


# One definition per figure: a chart spec is the data and arguments of one builder above. The pages and
# the HTML board pack draw it with Plotly (figure); the PDF board pack draws the same spec with
# matplotlib (portal/report/static.py), so both packs show the same rows, colours and titles.


@dataclass(frozen=True)
class ChartSpec:
    """One figure as data: the builder that draws it (kind), its rows, its title and the builder's
    other arguments. Text in it is plain text (escaped() makes it safe for Plotly's pseudo-HTML)."""

    kind: str
    data: pd.DataFrame
    title: str
    options: Mapping[str, Any] = field(default_factory=dict)


def _months(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    # month-ends as their own month ("2025-12"), in date order: a date axis would put 31 Dec under "Jan"
    data = frame.assign(_at=pd.to_datetime(frame[column])).sort_values("_at", kind="stable")
    return data.assign(**{column: data["_at"].dt.strftime("%Y-%m")}).drop(columns="_at")


SPEC_BUILDERS: dict[str, Callable[[ChartSpec], go.Figure]] = {
    "bucket_trend": lambda s: _category_x(bucket_trend(_months(s.data, "as_of"), s.options["value"], s.title,
                                                       s.options["value_label"])),
    "roll_matrix": lambda s: roll_matrix(s.data, s.title),
    "funnel": lambda s: funnel(s.data, s.options["stage"], s.options["value"], s.title, s.options.get("labels")),
    "effectiveness_bubbles": lambda s: effectiveness_bubbles(
        s.data, s.options["label"], s.title, s.options["x_label"], s.options["y_label"], s.options["size_label"]),
    "strategy_bars": lambda s: _percent_axis(strategy_bars(
        s.data, s.options["value"], s.options["low"], s.options["high"], s.title, s.options["y_label"]),
        s.options.get("percent", False)),
    "kpi_trend": lambda s: _category_x(kpi_trend(_months(s.data, s.options["x"]), s.options["x"], s.options["ys"],
                                                 s.title, s.options.get("percent", True))),
    "on_time_rate": lambda s: on_time_rate(s.data, s.title, s.options["y_label"]),
    "effect_chart": lambda s: effect_chart(
        s.data, s.options["start_on"], s.title, s.options["y_label"], s.options["start_label"],
        s.options["group_labels"], percent=s.options.get("percent", False)),
    "ranked_bars": lambda s: ranked_bars(s.data, s.options["label"], s.options["value"], s.title,
                                         s.options["x_label"]),
    "forecast_band": lambda s: forecast_band(s.data, list(s.options["buckets"]), s.title, s.options["y_label"],
                                             s.options["names"], s.options.get("bucket_labels")),
}


def _category_x(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(type="category")  # "2025-12" would otherwise be read as a date again
    return fig


def _percent_axis(fig: go.Figure, percent: bool) -> go.Figure:
    if percent:
        fig.update_layout(yaxis_tickformat=".0%")
    return fig


def figure(spec: ChartSpec) -> go.Figure:
    """The Plotly figure of a chart spec."""
    if spec.kind not in SPEC_BUILDERS:
        raise ValueError(f"no chart builder {spec.kind!r}")
    return SPEC_BUILDERS[spec.kind](spec)


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, Mapping):
        return {_escape(k): _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_escape(v) for v in value)
    return value


def escaped(spec: ChartSpec) -> ChartSpec:
    """The spec with every piece of text HTML-escaped: Plotly reads <b>, <a href> and friends in titles,
    labels and hover text, and shows entities as the characters they stand for."""
    data = spec.data.copy()
    for column in data.columns:
        if data[column].dtype == object or pd.api.types.is_string_dtype(data[column]):
            data[column] = data[column].map(_escape)
    return ChartSpec(spec.kind, data, _escape(spec.title), _escape(dict(spec.options)))


# Repayment plans.


def offer_days(frame: pd.DataFrame, deadline_days: int, title: str, x_label: str, y_label: str,
               deadline_label: str) -> go.Figure:
    """Bars of plan requests by whole days from receipt to the first offer, with the deadline marked."""
    late = frame["offers"] - frame["by_deadline"]
    fig = go.Figure([
        go.Bar(x=frame["days_to_offer"], y=frame["by_deadline"], name=deadline_label, marker_color="#43a047"),
        go.Bar(x=frame["days_to_offer"], y=late, name="> " + deadline_label, marker_color="#e53935"),
    ])
    fig.add_vline(x=deadline_days, line_dash="dash", line_color="#616161")
    fig.update_layout(title=title, barmode="stack", xaxis_title=x_label, yaxis_title=y_label,
                      legend_title_text="", margin={"t": 48, "b": 24})
    return fig


def kept_rates(frame: pd.DataFrame, label: str, title: str, y_label: str) -> go.Figure:
    """Grouped bars of the instalment kept rate per segment, one colour per plan type (column `label`)."""
    fig = px.bar(frame, x="segment", y="kept_rate", color=label, barmode="group", title=title,
                 labels={"segment": "", "kept_rate": y_label, label: ""})
    fig.update_layout(yaxis_tickformat=".0%", legend_title_text="", margin={"t": 48, "b": 24})
    return fig


def plan_vs_control(frame: pd.DataFrame, title: str, y_label: str) -> go.Figure:
    """Cure rates of plans and of their control per group (`group`, `series`, `rate`, `low`, `high`)."""
    fig = go.Figure()
    for series, colour in zip(frame["series"].unique(), ("#1e88e5", "#9e9e9e", "#fb8c00"), strict=False):
        part = frame[frame["series"] == series]
        fig.add_trace(go.Bar(
            x=part["group"], y=part["rate"], name=series, marker_color=colour,
            error_y={"type": "data", "symmetric": False, "array": (part["high"] - part["rate"]).fillna(0),
                     "arrayminus": (part["rate"] - part["low"]).fillna(0)},
        ))
    fig.update_layout(title=title, barmode="group", yaxis_tickformat=".0%", yaxis_title=y_label,
                      legend_title_text="", margin={"t": 48, "b": 24})
    return fig


def blocked_share(frame: pd.DataFrame, label: str, title: str, x_label: str) -> go.Figure:
    """Horizontal bars of the share of planned contacts each rule blocks (Plan check on Conduct)."""
    ordered = frame.sort_values("share")
    fig = go.Figure(go.Bar(
        x=ordered["share"], y=ordered[label], orientation="h", marker={"color": "#d32f2f"},
        text=[f"{s:.1%} ({n:,})" for s, n in zip(ordered["share"], ordered["blocked"], strict=True)],
        textposition="auto", hovertemplate="%{y}: %{text}<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis={"tickformat": ".0%", "title": x_label, "rangemode": "tozero"},
                      margin={"t": 48, "b": 24}, height=120 + 40 * len(frame))
    return fig
