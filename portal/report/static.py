"""Chart specs (portal.charts.ChartSpec) drawn with matplotlib as PNG images, for the PDF pack.

Each kind mirrors the Plotly builder of the same name in portal/charts.py: the same rows, colours,
titles and axis labels, drawn statically. pyplot is never used (no global figure state, safe in the
Streamlit server's threads). matplotlib's settings are set once per process: DejaVu Sans with
WenQuanYi Micro Hei behind it for Chinese, and no mathtext (a '$' in a label stays a '$').
"""

from __future__ import annotations

import io
import logging
import math
import threading
import unicodedata
from collections.abc import Callable

import pandas as pd

from portal.charts import BUCKET_COLORS, BUCKETS, FORECAST_COLORS, STAGE_COLORS, ChartSpec
from portal.report import fonts

DPI = 150
FONT_PT = 7.5
TITLE_PT = 9
_ready = threading.Lock()
_configured = False

STRATEGY_COLORS = ("#1e88e5", "#fb8c00", "#8e24aa")
LINE_COLORS = ("#1565c0", "#d32f2f", "#2e7d32", "#6a1b9a", "#ef6c00")
BUBBLE_COLOR = "#636efa"


def _configure() -> None:
    global _configured
    with _ready:
        if _configured:
            return
        import matplotlib
        from matplotlib import font_manager

        # WenQuanYi has no bold face: bold Chinese titles use its regular one, which is fine to say once
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

        font_manager.fontManager.addfont(str(fonts.CJK))
        matplotlib.rcParams.update({
            "font.family": [fonts.LATIN_FAMILY, fonts.CJK_FAMILY],  # per-glyph fallback, in this order
            "font.size": FONT_PT,
            "text.parse_math": False,
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "legend.fontsize": FONT_PT - 0.5,
        })
        _configured = True


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def wrap(text: str, limit: int) -> str:
    """Break text into lines of at most `limit` display columns (a CJK character counts two), at spaces
    where there are any."""
    lines, line = [], ""
    for word in text.replace("\n", " ").split(" "):
        candidate = f"{line} {word}" if line else word
        if _width(candidate) <= limit:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:
            if _width(line + ch) > limit:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return "\n".join(lines)


def _month_labels(values: pd.Series) -> list[str]:
    return [pd.Timestamp(v).strftime("%Y-%m") for v in values]


def _percent(axis, digits: int = 0) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0, decimals=digits))


def _thousands(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _bucket_trend(ax, spec: ChartSpec) -> None:
    value = spec.options["value"]
    frame = spec.data.assign(as_of=pd.to_datetime(spec.data["as_of"]))
    pivot = frame.pivot_table(index="as_of", columns="bucket", values=value, aggfunc="sum").sort_index()
    order = [b for b in BUCKETS if b in pivot.columns]
    labels = _month_labels(pivot.index.to_series())
    bottom = [0.0] * len(pivot)
    for bucket in order:
        heights = pivot[bucket].fillna(0).astype(float).tolist()
        ax.bar(labels, heights, bottom=bottom, color=BUCKET_COLORS[bucket], label=bucket, width=0.75)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel(spec.options["value_label"])
    _thousands(ax.yaxis)
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), ncols=1)


def _roll_matrix(ax, spec: ChartSpec) -> None:
    frame = spec.data
    order_to = [b for b in (*BUCKETS, "closed") if b in set(frame["to_bucket"])]
    order_from = [b for b in BUCKETS if b in set(frame["from_bucket"])]
    pivot = frame.pivot_table(index="from_bucket", columns="to_bucket", values="share", aggfunc="sum")
    pivot = pivot.reindex(index=order_from, columns=order_to).fillna(0.0)
    ax.imshow(pivot.values, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(order_to)), order_to)
    ax.set_yticks(range(len(order_from)), order_from)
    for i, row in enumerate(pivot.values):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.1%}", ha="center", va="center", fontsize=FONT_PT - 0.5,
                    color="white" if v > 0.55 else "#1a1a1a")
    ax.spines[:].set_visible(False)
    ax.tick_params(length=0)


def _funnel(ax, spec: ChartSpec) -> None:
    stage, value = spec.options["stage"], spec.options["value"]
    labels = spec.options.get("labels") or {}
    values = spec.data[value].astype(float).tolist()
    names = [labels.get(s, s) for s in spec.data[stage]]
    top = max(values) if values and max(values) > 0 else 1.0
    for i, v in enumerate(values):
        ax.barh(i, v, left=(top - v) / 2, color=STAGE_COLORS[i % len(STAGE_COLORS)], height=0.8)
        share = f" ({v / values[0]:.0%})" if values[0] else ""
        if v >= 0.3 * top:
            ax.text(top / 2, i, f"{v:,.0f}{share}", ha="center", va="center", fontsize=FONT_PT,
                    color="white" if i < 4 else "#1a1a1a")
        else:  # too narrow to hold its label: write it beside the bar
            ax.text((top + v) / 2 + top * 0.02, i, f"{v:,.0f}{share}", ha="left", va="center", fontsize=FONT_PT)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.spines[:].set_visible(False)
    ax.tick_params(length=0)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _label_spots(points: list[tuple[float, float, float]], texts: list[str], size_pt: tuple[float, float]
                 ) -> list[tuple[float, float, str, str]]:
    """For each bubble (x, y in 0..1 of the plot, radius in points) an offset (points) and alignment for its
    label: above, below, right or left, whichever overlaps the labels and bubbles placed so far the least."""
    width_pt, height_pt = size_pt
    centres = [(x * width_pt, y * height_pt, r) for x, y, r in points]
    placed: list[tuple[float, float, float, float]] = []
    spots = []
    for (cx, cy, r), text in zip(centres, texts, strict=True):
        w, h = _width(text) * FONT_PT * 0.5, FONT_PT * 1.2
        options = [
            (0.0, r + 2, "center", "bottom", (cx - w / 2, cy + r + 2, cx + w / 2, cy + r + 2 + h)),
            (0.0, -r - 2, "center", "top", (cx - w / 2, cy - r - 2 - h, cx + w / 2, cy - r - 2)),
            (r + 3, 0.0, "left", "center", (cx + r + 3, cy - h / 2, cx + r + 3 + w, cy + h / 2)),
            (-r - 3, 0.0, "right", "center", (cx - r - 3 - w, cy - h / 2, cx - r - 3, cy + h / 2)),
        ]
        circles = [(ox - orr * 0.7, oy - orr * 0.7, ox + orr * 0.7, oy + orr * 0.7)
                   for ox, oy, orr in centres if (ox, oy) != (cx, cy)]
        best = min(options, key=lambda o: sum(_overlap(o[4], b) for b in placed)
                   + 0.5 * sum(_overlap(o[4], c) for c in circles))
        placed.append(best[4])
        spots.append(best[:4])
    return spots


def _bubbles(ax, spec: ChartSpec) -> None:
    data = spec.data[(spec.data["cost"] > 0) & (spec.data["attempts"] > 0)].copy()
    data["recovered_per_yuan"] = data["recovered_amount"] / data["cost"]
    biggest = float(data["attempts"].max()) if not data.empty else 1.0
    sizes = [1600 * float(a) / biggest + 30 for a in data["attempts"]]
    xs, ys = data["recovered_per_yuan"].astype(float), data["complaints_per_10k_attempts"].astype(float)
    ax.scatter(xs, ys, s=sizes, color=BUBBLE_COLOR, alpha=0.55, edgecolors="#283593", linewidths=0.6)
    ax.set_xlabel(spec.options["x_label"])
    ax.set_ylabel(spec.options["y_label"])
    ax.margins(0.18)

    def unit(values: pd.Series) -> list[float]:
        lo, hi = float(values.min()), float(values.max())
        span = (hi - lo) or 1.0
        return [0.13 + 0.74 * (v - lo) / span for v in values]

    figure = ax.figure
    area = (figure.get_figwidth() * 72 * 0.8, figure.get_figheight() * 72 * 0.7)
    points = [(x, y, math.sqrt(size) / 2) for x, y, size in zip(unit(xs), unit(ys), sizes, strict=True)]
    texts = [str(v) for v in data[spec.options["label"]]]
    for (x, y), text, (dx, dy, ha, va) in zip(zip(xs, ys, strict=True), texts, _label_spots(points, texts, area),
                                               strict=True):
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                    fontsize=FONT_PT - 0.5)


def _strategy_bars(ax, spec: ChartSpec) -> None:
    frame = spec.data
    value, low, high = (spec.options[k] for k in ("value", "low", "high"))
    values = frame[value].astype(float)
    below = (values - frame[low].astype(float)).fillna(0).clip(lower=0)
    above = (frame[high].astype(float) - values).fillna(0).clip(lower=0)
    colors = [STRATEGY_COLORS[min(i, 2)] for i in range(len(frame))]
    ax.bar(frame["strategy"].astype(str), values, color=colors, yerr=[below, above], capsize=6, width=0.55,
           error_kw={"elinewidth": 1, "ecolor": "#37474f"})
    ax.set_ylabel(spec.options["y_label"])
    if spec.options.get("percent"):
        _percent(ax.yaxis)
    else:
        _thousands(ax.yaxis)


def _on_time(ax, spec: ChartSpec) -> None:
    frame = spec.data.sort_values("month")
    ax.plot(_month_labels(frame["month"]), frame["timely_rate"].astype(float), marker="o", color=LINE_COLORS[0])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(spec.options["y_label"])
    _percent(ax.yaxis)
    ax.tick_params(axis="x", labelrotation=45)
    ax.grid(axis="y", color="#e0e0e0")


def _kpi_trend(ax, spec: ChartSpec) -> None:
    frame = spec.data.sort_values(spec.options["x"])
    labels = _month_labels(frame[spec.options["x"]])
    for i, (column, name) in enumerate(spec.options["ys"].items()):
        ax.plot(labels, frame[column].astype(float), marker="o", label=name, color=LINE_COLORS[i % len(LINE_COLORS)])
    if spec.options.get("percent", True):
        _percent(ax.yaxis, 1)
    ax.tick_params(axis="x", labelrotation=45)
    ax.grid(axis="y", color="#e0e0e0")
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.28), ncols=2)


def _effect_chart(ax, spec: ChartSpec) -> None:
    frame = spec.data.assign(month=pd.to_datetime(spec.data["month"]))
    names = spec.options.get("group_labels") or {}
    for group, color in (("treated", "#d32f2f"), ("control", "#1565c0")):
        part = frame[frame["group_name"] == group].sort_values("month")
        ax.plot(part["month"], part["value"].astype(float), marker="o", color=color, label=names.get(group, group))
    start = pd.Timestamp(spec.options["start_on"])
    ax.axvline(start, linestyle="--", color="#616161", linewidth=1)
    ax.annotate(spec.options["start_label"], (start, 1.0), xycoords=("data", "axes fraction"), ha="center",
                va="bottom", fontsize=FONT_PT - 0.5, color="#616161")
    ax.set_ylabel(spec.options["y_label"])
    ax.set_ylim(bottom=0)
    if spec.options.get("percent"):
        _percent(ax.yaxis)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.3), ncols=2)


def _ranked_bars(ax, spec: ChartSpec) -> None:
    data = spec.data.sort_values(spec.options["value"], ascending=True, kind="stable")
    values = data[spec.options["value"]].astype(float)
    ax.barh(data[spec.options["label"]].astype(str), values, color="#c62828", height=0.6)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center", fontsize=FONT_PT - 0.5)
    ax.set_xlabel(spec.options["x_label"])
    ax.margins(x=0.15)


def _forecast_band(ax, spec: ChartSpec) -> None:
    from matplotlib.lines import Line2D

    frame = spec.data.assign(month_end=pd.to_datetime(spec.data["month_end"]))
    names, labels = spec.options["names"], spec.options.get("bucket_labels") or {}
    buckets = [b for b in spec.options["buckets"] if (frame["bucket"] == b).any()]
    single = len(buckets) == 1
    handles = []
    for bucket in buckets:
        part = frame[frame["bucket"] == bucket].sort_values("month_end")
        color, label = FORECAST_COLORS.get(bucket, "#37474f"), labels.get(bucket, bucket)
        future = part[part["kind"] == "forecast"]
        past = part[part["kind"] == "actual"]
        if not future.empty:
            band = ax.fill_between(future["month_end"], future["low"].astype(float), future["high"].astype(float),
                                   color=color, alpha=0.18, linewidth=0, label=names["band"].format(bucket=label))
            handles += [band] if single else []
        if not past.empty:
            (line,) = ax.plot(past["month_end"], past["balance"].astype(float), marker="o", markersize=3,
                              color=color, label=names["actual"].format(bucket=label) if single else label)
            handles.append(line)
        if not future.empty:
            (dashed,) = ax.plot(future["month_end"], future["balance"].astype(float), marker="o", markersize=3,
                                color=color, linestyle="--", label=names["forecast"].format(bucket=label))
            handles += [dashed] if single else []
    if not single:  # one entry per bucket, and the line styles said once
        handles += [Line2D([], [], color="#616161", label=names["actual"].format(bucket="").strip()),
                    Line2D([], [], color="#616161", linestyle="--", label=names["forecast"].format(bucket="").strip())]
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_ylabel(spec.options["y_label"])
    ax.set_ylim(bottom=0)
    _thousands(ax.yaxis)
    ax.grid(axis="y", color="#e0e0e0")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), ncols=1)


DRAWERS: dict[str, Callable] = {
    "forecast_band": _forecast_band,
    "bucket_trend": _bucket_trend,
    "roll_matrix": _roll_matrix,
    "funnel": _funnel,
    "effectiveness_bubbles": _bubbles,
    "strategy_bars": _strategy_bars,
    "on_time_rate": _on_time,
    "kpi_trend": _kpi_trend,
    "effect_chart": _effect_chart,
    "ranked_bars": _ranked_bars,
}


def png(spec: ChartSpec, width_mm: float, height_mm: float, dpi: int = DPI) -> bytes:
    """The chart as a PNG image of width_mm x height_mm (at dpi), title included."""
    if spec.kind not in DRAWERS:
        raise ValueError(f"no static drawing for chart kind {spec.kind!r}")
    _configure()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    DRAWERS[spec.kind](ax, spec)
    fig.suptitle(wrap(spec.title, max(20, int(width_mm / 1.9))), x=0.01, ha="left", fontsize=TITLE_PT,
                 fontweight="bold")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()
