"""pandera models: one per upload dataset, and one per named-query result."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

# Upload dataset models (owned by the uploads module).

# Named-query result models: columns and their order are the contract.


class DelinquencyBucketsResult(pa.DataFrameModel):
    """Result of queries/delinquency_buckets.sql."""

    as_of: Series[pa.DateTime]
    bucket: Series[str] = pa.Field(isin=["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"])
    loans: Series[int] = pa.Field(ge=0)
    outstanding: Series[float] = pa.Field(ge=0)
    overdue_amount: Series[float] = pa.Field(ge=0)

    class Config:
        strict = True
        ordered = True
        coerce = True


class RollRatesResult(pa.DataFrameModel):
    """Result of queries/roll_rates.sql."""

    as_of: Series[pa.DateTime]
    from_bucket: Series[str]
    to_bucket: Series[str]
    loans: Series[int] = pa.Field(ge=0)
    share: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = True
        ordered = True
        coerce = True


class FilterOptionsResult(pa.DataFrameModel):
    """Result of queries/filter_options.sql."""

    dimension: Series[str] = pa.Field(isin=["product", "region", "risk_grade"])
    value: Series[str]
    loans: Series[int] = pa.Field(ge=0)

    class Config:
        strict = True
        ordered = True
        coerce = True


class MonthEndsResult(pa.DataFrameModel):
    """Result of queries/month_ends.sql."""

    as_of: Series[pa.DateTime]
    loans: Series[int] = pa.Field(ge=0)

    class Config:
        strict = True
        ordered = True
        coerce = True


class _ResultConfig:
    strict = True
    ordered = True
    coerce = True


class DelinquencyFunnelResult(pa.DataFrameModel):
    """Result of queries/delinquency_funnel.sql."""

    stage: Series[str] = pa.Field(isin=["delinquent", "attempted", "reached", "rpc", "ptp", "paid", "cured"])
    loans: Series[int] = pa.Field(ge=0)
    share_of_delinquent: Series[float] = pa.Field(ge=0, le=1)

    Config = _ResultConfig


class EscalationFunnelResult(pa.DataFrameModel):
    """Result of queries/escalation_funnel.sql."""

    step: Series[str] = pa.Field(isin=["reminder", "phone", "visit", "legal"])
    loans: Series[int] = pa.Field(ge=0)

    Config = _ResultConfig


class ChannelEffectivenessResult(pa.DataFrameModel):
    """Result of queries/channel_effectiveness.sql."""

    channel: Series[str]
    attempts: Series[int] = pa.Field(ge=0)
    reach_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    rpc_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    ptp_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    ptp_kept_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    recovered_amount: Series[float] = pa.Field(ge=0)
    cost: Series[float] = pa.Field(ge=0)
    cost_per_yuan_recovered: Series[float] = pa.Field(ge=0, nullable=True)
    complaints: Series[int] = pa.Field(ge=0)
    complaints_per_10k_attempts: Series[float] = pa.Field(ge=0, nullable=True)

    Config = _ResultConfig


class CollectorScorecardResult(pa.DataFrameModel):
    """Result of queries/collector_scorecard.sql (agent or agency scorecard)."""

    collector_id: Series[str]
    attempts: Series[int] = pa.Field(ge=0)
    reach_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    rpc_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    ptp_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    ptp_kept_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    recovered_amount: Series[float] = pa.Field(ge=0)
    cost: Series[float] = pa.Field(ge=0)
    cost_per_yuan_recovered: Series[float] = pa.Field(ge=0, nullable=True)
    complaints: Series[int] = pa.Field(ge=0)
    complaints_per_10k_attempts: Series[float] = pa.Field(ge=0, nullable=True)

    Config = _ResultConfig


class OverviewKpisResult(pa.DataFrameModel):
    """Result of queries/overview_kpis.sql (the chosen month-end and the one before)."""

    as_of: Series[pa.DateTime]
    loans: Series[int] = pa.Field(ge=0)
    outstanding: Series[float] = pa.Field(ge=0)
    overdue_balance: Series[float] = pa.Field(ge=0)
    delinquent_loans: Series[int] = pa.Field(ge=0)
    delinquency_rate_amount: Series[float] = pa.Field(ge=0, nullable=True)
    delinquency_rate_count: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    m1_prev_loans: Series[int] = pa.Field(ge=0)
    roll_m1_m2: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    delinquent_prev_loans: Series[int] = pa.Field(ge=0)
    cure_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    recovered_amount: Series[float] = pa.Field(ge=0)
    collection_cost: Series[float] = pa.Field(ge=0)
    cost_per_yuan_recovered: Series[float] = pa.Field(ge=0, nullable=True)
    complaints: Series[int] = pa.Field(ge=0)
    complaints_per_10k_overdue: Series[float] = pa.Field(ge=0, nullable=True)
    complaints_due: Series[int] = pa.Field(ge=0)
    on_time_share: Series[float] = pa.Field(ge=0, le=1, nullable=True)

    Config = _ResultConfig


class VintageCurvesResult(pa.DataFrameModel):
    """Result of queries/vintage_curves.sql."""

    cohort: Series[pa.DateTime]
    months_on_book: Series[int] = pa.Field(ge=0)
    loans: Series[int] = pa.Field(ge=0)
    ever_m1: Series[int] = pa.Field(ge=0)
    ever_m3: Series[int] = pa.Field(ge=0)
    ever_m1_share: Series[float] = pa.Field(ge=0, le=1)
    ever_m3_share: Series[float] = pa.Field(ge=0, le=1)

    Config = _ResultConfig


class StrategyComparisonResult(pa.DataFrameModel):
    """Result of queries/strategy_comparison.sql."""

    strategy: Series[str]
    accounts: Series[int] = pa.Field(ge=0)
    cured: Series[int] = pa.Field(ge=0)
    cure_rate: Series[float] = pa.Field(ge=0, le=1)
    recovered_amount: Series[float] = pa.Field(ge=0)
    recovered_per_account: Series[float] = pa.Field(ge=0)
    recovered_sd: Series[float] = pa.Field(ge=0)

    Config = _ResultConfig


RESULT_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "delinquency_buckets": DelinquencyBucketsResult,
    "roll_rates": RollRatesResult,
    "filter_options": FilterOptionsResult,
    "month_ends": MonthEndsResult,
    "delinquency_funnel": DelinquencyFunnelResult,
    "escalation_funnel": EscalationFunnelResult,
    "channel_effectiveness": ChannelEffectivenessResult,
    "collector_scorecard": CollectorScorecardResult,
    "overview_kpis": OverviewKpisResult,
    "vintage_curves": VintageCurvesResult,
    "strategy_comparison": StrategyComparisonResult,
}
