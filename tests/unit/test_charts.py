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


def test_month_end_bars_are_labelled_as_their_own_month():
    frame = pd.DataFrame({"as_of": pd.to_datetime(["2026-01-31", "2025-12-31", "2025-12-31"]),
                          "bucket": ["M0", "M0", "M1"], "loans": [5, 4, 1]})
    fig = charts.bucket_trend(frame, "loans", "t", "loans")
    assert fig.layout.xaxis.type == "category"
    months = {trace.name: list(trace.x) for trace in fig.data}
    assert months == {"M0": ["2026-01", "2025-12"], "M1": ["2025-12"]}
    assert list(fig.layout.xaxis.categoryarray) == ["2025-12", "2026-01"]
    # the drill-down still gets the month-end itself
    assert [list(c) for c in fig.data[1].customdata] == [["2025-12-31", "M1"]]


def test_sankey_buckets_run_in_order_top_to_bottom():
    frame = pd.DataFrame({"from_bucket": ["M2", "M0", "M1", "M0", "M1"],
                          "to_bucket": ["M3", "M0", "closed", "M1", "M2"],
                          "loans": [3, 90, 2, 10, 5]})
    node = charts.roll_sankey(frame, "t").data[0].node
    labels, ys, xs = list(node.label), list(node.y), list(node.x)
    assert labels == ["M0", "M1", "M2", "M0", "M1", "M2", "M3", "closed"]
    left, right = ys[:3], ys[3:]
    assert left == sorted(left) and right == sorted(right)
    assert all(0 < y < 1 for y in ys) and xs[:3] == [0.001] * 3 and xs[3:] == [0.999] * 5
    # M0 holds 100 of the 110 loans that leave a bucket: its node is centred in the top 100/110 of the room
    assert abs(left[0] - 0.5 * (1 - 2 * 0.02) * 100 / 110) < 1e-9


def test_pareto_cumulative_axis_reads_0_to_100_percent():
    frame = pd.DataFrame({"label": ["a", "b"], "complaints": [3, 1], "cumulative_share": [0.75, 1.0]})
    axis = charts.pareto(frame, "label", "t", "n", "share").layout.yaxis2
    assert tuple(axis.range) == (0, 1) and axis.tickformat == ".0%" and max(axis.tickvals) == 1


def test_channel_bubbles_carry_no_overlapping_text_labels():
    frame = pd.DataFrame({"label": ["SMS", "Phone"], "channel": ["sms", "phone"], "cost": [10.0, 20.0],
                          "attempts": [100, 200], "recovered_amount": [50.0, 60.0],
                          "complaints_per_10k_attempts": [1.0, 1.1]})
    fig = charts.effectiveness_bubbles(frame, "label", "t", "x", "y", "size")
    assert [trace.name for trace in fig.data] == ["SMS", "Phone"]  # named in the legend and on hover
    assert all(trace.text is None and "text" not in (trace.mode or "") for trace in fig.data)
    assert [trace.customdata[0][0] for trace in fig.data] == ["sms", "phone"]


def test_vintage_leaves_out_cohorts_disbursed_before_the_data_window():
    # the first month-end is 2026-01: the 2025-10 cohort is first seen at 3 months on book
    frame = pd.DataFrame({"cohort": pd.to_datetime(["2025-10-01", "2025-10-01", "2026-01-01", "2026-01-01"]),
                          "months_on_book": [3, 4, 0, 1], "ever_m1_share": [0.0, 0.01, 0.0, 0.05]})
    fig = charts.vintage(frame, "ever_m1_share", "t", "x", "y")
    assert [trace.name for trace in fig.data] == ["2026-01"]
    assert list(fig.data[0].y) == [0.0, 0.05]
    assert charts.observed_cohorts(frame.iloc[2:]).equals(frame.iloc[2:])
