"""Drill-downs: the URL keys that carry a pick on a dashboard, and how a picked bar, cell, stage or row
becomes the parameters of the named query that lists the rows behind it. No Streamlit here.

| figure | picked | named query |
|---|---|---|
| Delinquency bucket bars and table | month-end, bucket | bucket_loans |
| Roll-rate heatmap cells and table | month-end, from and to bucket | roll_rate_loans |
| Delinquency and escalation funnels and tables | month-end, stage or step | funnel_stage_loans |
| Channel table and bubbles | channel | channel_contacts |
| Agent and agency scorecards | agent or agency | collector_contacts |
| Conduct trend bars and league tables | rule, agent, agency | policy_violation_details |
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from portal import taxonomy

BUCKET_FIELDS = ("dq_as_of", "dq_bucket")
ROLL_FIELDS = ("dq_roll_as_of", "dq_roll_from", "dq_roll_to")
STAGE_FIELDS = ("fn_as_of", "fn_stage")
CHANNEL_FIELDS = ("ch_channel",)
AGENT_FIELDS = ("ch_agent",)
AGENCY_FIELDS = ("ch_agency",)
CONDUCT_FIELDS = ("conduct_rule", "conduct_agent", "conduct_agency")

FUNNEL_STAGES = ("delinquent", "attempted", "reached", "rpc", "ptp", "paid", "cured")
ESCALATION_STEPS = tuple(taxonomy.LADDER)
ROLL_TO = (*taxonomy.BUCKETS, "closed")
MAX_ID_LENGTH = 64


def point_pick(points: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, str] | None:
    """The first picked point's customdata as {field: value} (None when nothing is picked).

    Charts put what a point stands for in its customdata (a list, or one value), in `fields` order.
    """
    if not points:
        return None
    data = points[0].get("customdata")
    if data is None:
        return None
    values = list(data) if isinstance(data, list | tuple) else [data]
    if len(values) < len(fields):
        return None
    return {f: str(v) for f, v in zip(fields, values, strict=False)}


def row_pick(frame: pd.DataFrame, row: int | None, columns: Mapping[str, str]) -> dict[str, str] | None:
    """The picked table row as {field: value of its column} (None when no row is picked or a value is
    empty)."""
    if row is None or not 0 <= row < len(frame):
        return None
    out = {}
    for field, column in columns.items():
        value = frame[column].iloc[row]
        if value is None or pd.isna(value):
            return None
        out[field] = pd.Timestamp(value).date().isoformat() if isinstance(value, pd.Timestamp | dt.date) else str(value)
    return out


def row_of(frame: pd.DataFrame, values: Mapping[str, str] | None, columns: Mapping[str, str]) -> int | None:
    """The position of the first row of frame whose columns hold `values` (as row_pick writes them)."""
    if not values or frame.empty:
        return None
    hits = pd.Series(True, index=frame.index)
    for field, column in columns.items():
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            series = pd.to_datetime(series).dt.strftime("%Y-%m-%d")
        hits &= series.astype("string") == values.get(field)
    found = [i for i, hit in enumerate(hits.fillna(False)) if hit]
    return found[0] if found else None


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value or "").strip()[:10])
    except ValueError:
        return None


def bucket_params(values: Mapping[str, str] | None) -> dict[str, Any] | None:
    """bucket_loans parameters from the URL's (dq_as_of, dq_bucket), or None when they are not valid."""
    if not values:
        return None
    as_of, bucket = _date(values.get("dq_as_of")), values.get("dq_bucket")
    if as_of is None or bucket not in taxonomy.BUCKETS:
        return None
    return {"as_of": as_of, "bucket": bucket}


def roll_params(values: Mapping[str, str] | None) -> dict[str, Any] | None:
    """roll_rate_loans parameters from the URL's (dq_roll_as_of, dq_roll_from, dq_roll_to), or None."""
    if not values:
        return None
    as_of = _date(values.get("dq_roll_as_of"))
    start, end = values.get("dq_roll_from"), values.get("dq_roll_to")
    if as_of is None or start not in taxonomy.BUCKETS or end not in ROLL_TO:
        return None
    return {"as_of": as_of, "from_bucket": start, "to_bucket": end}


def stage_params(values: Mapping[str, str] | None) -> dict[str, Any] | None:
    """funnel_stage_loans parameters from the URL's (fn_as_of, fn_stage), or None."""
    if not values:
        return None
    as_of, stage = _date(values.get("fn_as_of")), values.get("fn_stage")
    if as_of is None or stage not in (*FUNNEL_STAGES, *ESCALATION_STEPS):
        return None
    return {"as_of": as_of, "stage": stage}


def channel_param(values: Mapping[str, str] | None) -> str | None:
    """The channel of channel_contacts from the URL's ch_channel, or None."""
    channel = (values or {}).get("ch_channel")
    return channel if channel in taxonomy.CHANNELS else None


def collector_param(value: str | None) -> str | None:
    """A collector (agent or agency) ID from the URL, or None when it is empty or too long."""
    text = (value or "").strip()
    return text if 0 < len(text) <= MAX_ID_LENGTH else None


def stage_kind(stage: str) -> str:
    """The code domain of a funnel stage: `stage` (delinquency funnel) or `step` (escalation funnel)."""
    return "step" if stage in ESCALATION_STEPS else "stage"


def file_stem(*parts: object) -> str:
    """A download's file name stem from its parts, with anything but letters, digits, - and . as _."""
    return "_".join(re.sub(r"[^\w.-]+", "_", str(p), flags=re.ASCII) for p in parts)
