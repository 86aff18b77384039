"""The Overview KPI tiles: which column of `overview_kpis` each shows, how it is formatted, and
which direction is good. Shared by the Overview page and the board pack (no Streamlit here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Tile:
    """One KPI tile: catalogue key (dash.overview.<key>), result column, value kind and good direction."""

    key: str
    column: str
    kind: str  # money | rate | ratio | per10k
    higher_is_better: bool


TILES: tuple[Tile, ...] = (
    Tile("overdue_balance", "overdue_balance", "money", False),
    Tile("delinquency_rate_amount", "delinquency_rate_amount", "rate", False),
    Tile("delinquency_rate_count", "delinquency_rate_count", "rate", False),
    Tile("roll_m1_m2", "roll_m1_m2", "rate", False),
    Tile("cure_rate", "cure_rate", "rate", True),
    Tile("recovered_amount", "recovered_amount", "money", True),
    Tile("cost_per_yuan", "cost_per_yuan_recovered", "ratio", False),
    Tile("complaints_per_10k", "complaints_per_10k_overdue", "per10k", False),
    Tile("on_time_share", "on_time_share", "rate", True),
)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_value(kind: str, value: object) -> str:
    """A KPI value as shown on a tile: ¥ with 2 decimals, a percentage, a ratio or a rate per 10k."""
    if _missing(value):
        return "–"
    v = float(value)
    if kind == "money":
        return f"¥{v:,.2f}"
    if kind == "rate":
        return f"{v:.2%}"
    if kind == "ratio":
        return f"{v:.4f}"
    return f"{v:,.1f}"


def format_delta(kind: str, current: object, previous: object) -> str | None:
    """The change from the previous month (rates in percentage points); None when either is missing."""
    if _missing(current) or _missing(previous):
        return None
    d = float(current) - float(previous)
    if kind == "money":
        return f"{'-' if d < 0 else '+'}¥{abs(d):,.2f}"
    if kind == "rate":
        return f"{d * 100:+.2f} pp"
    if kind == "ratio":
        return f"{d:+.4f}"
    return f"{d:+,.1f}"


def tile_values(frame: pd.DataFrame, as_of) -> tuple[dict, dict | None]:
    """Split an overview_kpis result into (row for as_of, row for the month before or None)."""
    dates = pd.to_datetime(frame["as_of"]).dt.date
    target = pd.Timestamp(as_of).date()
    current = frame[dates == target]
    previous = frame[dates < target]
    cur = current.iloc[0].to_dict() if not current.empty else {}
    prev = previous.iloc[0].to_dict() if not previous.empty else None
    return cur, prev
