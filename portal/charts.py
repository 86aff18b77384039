"""Pure Plotly builders: a DataFrame in, a Figure out. No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+")
BUCKET_COLORS = {
    "M0": "#2e7d32", "M1": "#9ccc65", "M2": "#fdd835", "M3": "#ffb300",
    "M4": "#fb8c00", "M5": "#f4511e", "M6": "#d32f2f", "M6+": "#7b1fa2", "closed": "#90a4ae",
}


def bucket_trend(frame: pd.DataFrame, value: str, title: str, value_label: str, labels=None) -> go.Figure:
    """Stacked bars of a bucket measure per month-end."""
    fig = px.bar(
        frame, x="as_of", y=value, color="bucket", title=title,
        category_orders={"bucket": list(BUCKETS)}, color_discrete_map=BUCKET_COLORS,
        labels={"as_of": "", value: value_label, "bucket": "", **(labels or {})},
    )
    fig.update_layout(barmode="stack", legend_title_text="", margin={"t": 48, "b": 24})
    return fig


def roll_matrix(frame: pd.DataFrame, title: str) -> go.Figure:
    """A heatmap of roll-rate shares: from-bucket rows, to-bucket columns."""
    order_to = [b for b in (*BUCKETS, "closed") if b in set(frame["to_bucket"])]
    order_from = [b for b in BUCKETS if b in set(frame["from_bucket"])]
    pivot = frame.pivot_table(index="from_bucket", columns="to_bucket", values="share", aggfunc="sum")
    pivot = pivot.reindex(index=order_from, columns=order_to).fillna(0.0)
    fig = go.Figure(go.Heatmap(
        z=pivot.values, x=order_to, y=order_from, colorscale="Blues", zmin=0, zmax=1,
        text=[[f"{v:.1%}" for v in row] for row in pivot.values], texttemplate="%{text}",
        hovertemplate="%{y} → %{x}: %{text}<extra></extra>",
    ))
    fig.update_layout(title=title, yaxis={"autorange": "reversed"}, margin={"t": 48, "b": 24})
    return fig
