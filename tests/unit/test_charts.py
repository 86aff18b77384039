"""The chart builders: DataFrame in, Figure out, with labels a reader can trust."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from portal import charts


def test_plan_vs_control_returns_its_figure():
    frame = pd.DataFrame([
        {"group": "a", "series": "plans", "rate": 0.5, "low": 0.4, "high": 0.6},
        {"group": "a", "series": "control", "rate": 0.3, "low": 0.2, "high": 0.4},
    ])
    fig = charts.plan_vs_control(frame, "t", "y")
    assert isinstance(fig, go.Figure)
    assert [list(trace.y) for trace in fig.data] == [[0.5], [0.3]]
