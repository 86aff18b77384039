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


RESULT_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "delinquency_buckets": DelinquencyBucketsResult,
    "roll_rates": RollRatesResult,
    "filter_options": FilterOptionsResult,
    "month_ends": MonthEndsResult,
}
