"""pandera models: one per upload dataset, and one per named-query result.

Result models are also the one place that says how each result column reads, in `pa.Field(metadata=...)`:

- `"kind"`: one of count (an integer, with thousands separators), rate (a fraction 0..1, shown as a
  percent), amount (yuan: ¥ with thousands separators and 2 decimals), number (a plain figure, 2 decimals
  unless `"decimals": N`), date, timestamp, code or text.
- `"codes": "<domain>"` for a code: each value is shown as the catalogue label `codes.<domain>.<value>`
  (booleans and 0/1 flags use the domain `flag`: `codes.flag.yes`, `codes.flag.no`).
- the column's header is the catalogue label `columns.<column_name>`, one per column name, shared by every
  query (portal/locales/{en,zh}/columns.toml, or a `[columns]` table in an area's own catalogue file);
  `"label": "<key>"` names another key where one query needs a different header for the same name
  (a bare name means `columns.<name>`).

`_col(kind, codes, ...)` writes that metadata. portal/columns.py reads it for `ui.table` (st.column_config),
the XLSX export (labelled headers, typed cells) and the contract test that fails on a column without a kind
or a label in either language, or a demo code value without a catalogue label. VIEW_SCHEMAS declare the
same for the few tables that pages compute from query results. CSV keeps the contract's names and raw
values.
"""

from __future__ import annotations

import re

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from portal import config, taxonomy

# Upload dataset models (owned by the uploads module).
# These are the declared rule set for uploads. portal/ingest/ (rules.py) compiles every check below into
# vectorised DuckDB SQL for bulk files (see ingest.compile_rules); the same models also validate
# pandas frames directly (lazy=True), and tests check that both give the same failures.
# Column metadata: `kind` is the storage type, `zh` the Chinese header, `required` whether the
# column must be present in the file. Foreign keys need the database, so ingest checks them in SQL.

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"


def id_check_digit_ok(value: str) -> bool:
    """Whether an 18-character ID number carries a valid ISO 7064 MOD 11-2 check digit."""
    if not re.fullmatch(r"[0-9]{17}[0-9Xx]", value or ""):
        return False
    total = sum(int(ch) * w for ch, w in zip(value[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11] == value[17].upper()


def _register(name: str, fn) -> None:
    if name not in pa.Check.REGISTERED_CUSTOM_CHECKS:
        pa.extensions.register_check_method(statistics=["flag"], check_type="vectorized")(fn)


def mainland_mobile(series: pd.Series, *, flag: bool) -> pd.Series:
    return series.astype("string").str.fullmatch(MOBILE_PATTERN[1:-1]).fillna(False)


def id_length(series: pd.Series, *, flag: bool) -> pd.Series:
    return series.astype("string").str.fullmatch(r"[0-9]{17}[0-9Xx]").fillna(False)


def id_check_digit(series: pd.Series, *, flag: bool) -> pd.Series:
    return series.map(lambda v: (not id_length_one(v)) or id_check_digit_ok(v))


def id_length_one(value: object) -> bool:
    """Whether a value has the shape of an 18-character ID number."""
    return isinstance(value, str) and re.fullmatch(r"[0-9]{17}[0-9Xx]", value) is not None


def month_end(series: pd.Series, *, flag: bool) -> pd.Series:
    dates = pd.to_datetime(series)
    return dates == dates + pd.offsets.MonthEnd(0)


def not_future(series: pd.Series, *, flag: bool) -> pd.Series:
    values = pd.to_datetime(series)
    now = pd.Timestamp.now(tz="UTC")
    if getattr(values.dt, "tz", None) is None:
        return values <= now.tz_convert(config.setting("timezone")).tz_localize(None)
    return values <= now


def max_2_decimals(series: pd.Series, *, flag: bool) -> pd.Series:
    cents = series.astype(float) * 100
    return (cents - cents.round()).abs() < 1e-6


def iana_timezone(series: pd.Series, *, flag: bool) -> pd.Series:
    return series.map(lambda v: v in _zones())


def channel_list(series: pd.Series, *, flag: bool) -> pd.Series:
    return series.map(lambda v: all(p.strip() in taxonomy.CHANNELS for p in str(v).split(",") if p.strip()))


def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


for _name, _fn in [
    ("mainland_mobile", mainland_mobile), ("id_length", id_length), ("id_check_digit", id_check_digit),
    ("month_end", month_end), ("not_future", not_future), ("max_2_decimals", max_2_decimals),
    ("iana_timezone", iana_timezone), ("channel_list", channel_list),
]:
    _register(_name, _fn)

ON = {"flag": True}
TZ = "UTC"


def _meta(kind: str, zh: str | None = None, required: bool = True) -> dict:
    return {"kind": kind, "zh": zh, "required": required}


def _amount(zh: str | None = None, required: bool = True, nullable: bool = False, **checks):
    return pa.Field(nullable=nullable, max_2_decimals=ON, metadata=_meta("amount", zh, required), **checks)


class _UploadConfig:
    strict = "filter"
    coerce = True


class CustomersUpload(pa.DataFrameModel):
    """Upload rules for customers (CONTRACT.md)."""

    customer_id: Series[str] = pa.Field(unique=True, str_length={"max_value": 64},
                                        metadata=_meta("text", "客户号"))
    name: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "姓名", False))
    mobile: Series[str] = pa.Field(mainland_mobile=ON, metadata=_meta("text", "手机号"))
    id_number: Series[str] = pa.Field(nullable=True, id_length=ON, id_check_digit=ON,
                                      metadata=_meta("text", "身份证号", False))
    province: Series[str] = pa.Field(metadata=_meta("text", "省份"))
    timezone: Series[str] = pa.Field(iana_timezone=ON, default="Asia/Shanghai",
                                     metadata=_meta("text", "时区", False))
    opted_out_channels: Series[str] = pa.Field(nullable=True, channel_list=ON,
                                               metadata=_meta("text", "拒绝渠道", False))

    Config = _UploadConfig


class LoansUpload(pa.DataFrameModel):
    """Upload rules for loans (CONTRACT.md)."""

    loan_id: Series[str] = pa.Field(unique=True, str_length={"max_value": 64}, metadata=_meta("text", "借据号"))
    customer_id: Series[str] = pa.Field(metadata=_meta("text", "客户号"))
    product: Series[str] = pa.Field(isin=list(taxonomy.PRODUCTS), metadata=_meta("text", "产品"))
    principal: Series[float] = _amount("本金", gt=0)
    annual_rate: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 0.36},
                                          metadata=_meta("rate", "年化利率"))
    term_months: Series[pd.Int64Dtype] = pa.Field(in_range={"min_value": 1, "max_value": 60},
                                                  metadata=_meta("int", "期数"))
    disbursed_on: Series[pa.DateTime] = pa.Field(not_future=ON, metadata=_meta("date", "放款日"))
    region: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "地区", False))
    risk_grade: Series[str] = pa.Field(nullable=True, isin=list(taxonomy.RISK_GRADES),
                                       metadata=_meta("text", "风险等级", False))

    Config = _UploadConfig


class SnapshotsUpload(pa.DataFrameModel):
    """Upload rules for month-end snapshots (CONTRACT.md)."""

    loan_id: Series[str] = pa.Field(metadata=_meta("text", "借据号"))
    as_of: Series[pa.DateTime] = pa.Field(month_end=ON, not_future=ON, metadata=_meta("date", "统计日"))
    dpd: Series[pd.Int64Dtype] = pa.Field(ge=0, metadata=_meta("int", "逾期天数"))
    outstanding_principal: Series[float] = _amount("剩余本金", ge=0)
    overdue_amount: Series[float] = _amount("逾期金额", ge=0)

    Config = _UploadConfig

    @pa.dataframe_check
    def overdue_zero_when_current(cls, df: pd.DataFrame) -> pd.Series:
        """overdue_amount is 0 when dpd is 0."""
        return (df["dpd"] != 0) | (df["overdue_amount"] == 0)


class ContactsUpload(pa.DataFrameModel):
    """Upload rules for the collection contact log (CONTRACT.md)."""

    contact_id: Series[str] = pa.Field(unique=True, str_length={"max_value": 64}, metadata=_meta("text", "催收记录号"))
    loan_id: Series[str] = pa.Field(metadata=_meta("text", "借据号"))
    contact_at: Series[pd.DatetimeTZDtype] = pa.Field(not_future=ON, dtype_kwargs={"unit": "us", "tz": TZ},
                                                      metadata=_meta("timestamp", "催收时间"))
    channel: Series[str] = pa.Field(isin=list(taxonomy.CHANNELS), metadata=_meta("text", "渠道"))
    party: Series[str] = pa.Field(isin=list(taxonomy.PARTIES), metadata=_meta("text", "对象"))
    outcome: Series[str] = pa.Field(isin=list(taxonomy.OUTCOMES), metadata=_meta("text", "结果"))
    agent_id: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "催收员", False))
    agency_id: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "委外机构", False))
    strategy: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "策略", False))
    ptp_amount: Series[float] = _amount("承诺金额", required=False, nullable=True, gt=0)
    ptp_due_on: Series[pa.DateTime] = pa.Field(nullable=True, metadata=_meta("date", "承诺还款日", False))
    cost: Series[float] = _amount("成本", ge=0)
    collectors: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, metadata=_meta("int", "外访人数", False))
    duration_s: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, metadata=_meta("int", "通话秒数", False))

    Config = _UploadConfig

    @pa.dataframe_check
    def ptp_fields_when_ptp(cls, df: pd.DataFrame) -> pd.Series:
        """ptp_amount and ptp_due_on are present when outcome is ptp."""
        return (df["outcome"] != "ptp") | (df["ptp_amount"].notna() & df["ptp_due_on"].notna())

    @pa.dataframe_check
    def collectors_only_on_visits(cls, df: pd.DataFrame) -> pd.Series:
        """collectors is given for visits only."""
        return (df["channel"] == "visit") | df["collectors"].isna()

    @pa.dataframe_check
    def duration_only_on_calls(cls, df: pd.DataFrame) -> pd.Series:
        """duration_s is given for phone calls only."""
        return (df["channel"] == "phone") | df["duration_s"].isna()


class PaymentsUpload(pa.DataFrameModel):
    """Upload rules for payments (CONTRACT.md)."""

    payment_id: Series[str] = pa.Field(unique=True, str_length={"max_value": 64}, metadata=_meta("text", "还款流水号"))
    loan_id: Series[str] = pa.Field(metadata=_meta("text", "借据号"))
    paid_at: Series[pd.DatetimeTZDtype] = pa.Field(not_future=ON, dtype_kwargs={"unit": "us", "tz": TZ},
                                                   metadata=_meta("timestamp", "还款时间"))
    amount: Series[float] = _amount("还款金额", gt=0)

    Config = _UploadConfig


class ComplaintsUpload(pa.DataFrameModel):
    """Upload rules for complaints (CONTRACT.md); a CFPB export is mapped to these columns first."""

    complaint_id: Series[str] = pa.Field(unique=True, str_length={"max_value": 64}, metadata=_meta("text", "投诉编号"))
    received_at: Series[pd.DatetimeTZDtype] = pa.Field(not_future=ON, dtype_kwargs={"unit": "us", "tz": TZ},
                                                       metadata=_meta("timestamp", "受理时间"))
    source: Series[str] = pa.Field(isin=list(taxonomy.COMPLAINT_SOURCES), metadata=_meta("text", "来源"))
    customer_id: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "客户号", False))
    loan_id: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "借据号", False))
    issue: Series[str] = pa.Field(isin=list(taxonomy.COMPLAINT_ISSUES), metadata=_meta("text", "投诉类别"))
    sub_issue: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "子类别", False))
    channel: Series[str] = pa.Field(nullable=True, isin=list(taxonomy.CHANNELS), metadata=_meta("text", "渠道", False))
    agent_id: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "催收员", False))
    agency_id: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "委外机构", False))
    narrative: Series[str] = pa.Field(nullable=True, str_length={"max_value": 5000},
                                      metadata=_meta("text", "投诉内容", False))
    status: Series[str] = pa.Field(isin=list(taxonomy.COMPLAINT_STATUSES), default="new",
                                   metadata=_meta("text", "状态", False))
    resolved_at: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, not_future=ON,
                                                       dtype_kwargs={"unit": "us", "tz": TZ},
                                                       metadata=_meta("timestamp", "办结时间", False))
    extension_days: Series[pd.Int64Dtype] = pa.Field(isin=list(taxonomy.EXTENSION_DAYS), default=0,
                                                     metadata=_meta("int", "延期天数", False))
    extension_reason: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "延期原因", False))
    resolution: Series[str] = pa.Field(nullable=True, isin=list(taxonomy.RESOLUTIONS),
                                       metadata=_meta("text", "处理结果", False))
    root_cause: Series[str] = pa.Field(nullable=True, metadata=_meta("text", "根因", False))
    issue_verbatim: Series[str] = pa.Field(nullable=True, metadata=_meta("text", None, False))
    sub_issue_verbatim: Series[str] = pa.Field(nullable=True, metadata=_meta("text", None, False))
    timely_response: Series[str] = pa.Field(nullable=True, metadata=_meta("text", None, False))

    Config = _UploadConfig

    @pa.dataframe_check
    def extension_reason_when_extended(cls, df: pd.DataFrame) -> pd.Series:
        """extension_reason is given when extension_days > 0."""
        return (df["extension_days"].fillna(0) == 0) | df["extension_reason"].notna()


# Repayment plans (owned by portal/plans.py).
PLAN_TYPES = taxonomy.PLAN_TYPES
PLAN_STATUSES = taxonomy.PLAN_STATUSES
PLAN_MAX_INSTALMENTS = taxonomy.PLAN_MAX_INSTALMENTS


class RepaymentPlansUpload(pa.DataFrameModel):
    """Upload rules for agreed repayment plans (CONTRACT.md, repayment_plans)."""

    plan_id: Series[str] = pa.Field(unique=True, str_length={"max_value": 64}, metadata=_meta("text", "方案号"))
    loan_id: Series[str] = pa.Field(metadata=_meta("text", "借据号"))
    complaint_id: Series[str] = pa.Field(nullable=True, str_length={"max_value": 64},
                                         metadata=_meta("text", "投诉编号", False))
    plan_type: Series[str] = pa.Field(isin=list(PLAN_TYPES), metadata=_meta("text", "方案类型"))
    agreed_on: Series[pa.DateTime] = pa.Field(not_future=ON, metadata=_meta("date", "达成日期"))
    amount: Series[float] = _amount("方案金额", gt=0)
    instalments: Series[pd.Int64Dtype] = pa.Field(in_range={"min_value": 1, "max_value": PLAN_MAX_INSTALMENTS},
                                                  metadata=_meta("int", "期数"))
    first_due_on: Series[pa.DateTime] = pa.Field(metadata=_meta("date", "首期还款日"))
    status: Series[str] = pa.Field(isin=list(PLAN_STATUSES), metadata=_meta("text", "方案状态"))

    Config = _UploadConfig

    @pa.dataframe_check
    def deferral_one_instalment(cls, df: pd.DataFrame) -> pd.Series:
        """A deferral is one instalment."""
        return (df["plan_type"] != "deferral") | (df["instalments"] == 1)

    @pa.dataframe_check
    def first_due_not_before_agreed(cls, df: pd.DataFrame) -> pd.Series:
        """first_due_on is on or after agreed_on."""
        return df["first_due_on"] >= df["agreed_on"]


UPLOAD_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "customers": CustomersUpload,
    "loans": LoansUpload,
    "snapshots": SnapshotsUpload,
    "contacts": ContactsUpload,
    "payments": PaymentsUpload,
    "complaints": ComplaintsUpload,
    "repayment_plans": RepaymentPlansUpload,
}

# Named-query result models: columns and their order are the contract.


def _col(kind: str, codes: str | None = None, *, label: str | None = None, decimals: int | None = None,
         **checks):
    """A result column: pandera checks plus its display metadata (kind, code domain, label, decimals)."""
    meta: dict = {"kind": kind}
    if codes:
        meta["codes"] = codes
    if label:
        meta["label"] = label
    if decimals is not None:
        meta["decimals"] = decimals
    return pa.Field(metadata=meta, **checks)



class _ResultConfig:
    """Named-query results: exactly the contract's columns, in order, coerced to their types."""

    strict = True
    ordered = True
    coerce = True


class DelinquencyBucketsResult(pa.DataFrameModel):
    """Result of queries/delinquency_buckets.sql."""

    as_of: Series[pa.DateTime] = _col("date")
    bucket: Series[str] = _col("code", "bucket", isin=["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"])
    loans: Series[int] = _col("count", ge=0)
    outstanding: Series[float] = _col("amount", ge=0)
    overdue_amount: Series[float] = _col("amount", ge=0)

    Config = _ResultConfig


class RollRatesResult(pa.DataFrameModel):
    """Result of queries/roll_rates.sql."""

    as_of: Series[pa.DateTime] = _col("date")
    from_bucket: Series[str] = _col("code", "bucket")
    to_bucket: Series[str] = _col("code", "bucket")
    loans: Series[int] = _col("count", ge=0)
    share: Series[float] = _col("rate", ge=0, le=1)

    Config = _ResultConfig


class FilterOptionsResult(pa.DataFrameModel):
    """Result of queries/filter_options.sql."""

    dimension: Series[str] = _col("code", "filter_dimension", isin=["product", "region", "risk_grade"])
    value: Series[str] = _col("text")
    loans: Series[int] = _col("count", ge=0)

    Config = _ResultConfig


class MonthEndsResult(pa.DataFrameModel):
    """Result of queries/month_ends.sql."""

    as_of: Series[pa.DateTime] = _col("date")
    loans: Series[int] = _col("count", ge=0)

    Config = _ResultConfig


class DelinquencyFunnelResult(pa.DataFrameModel):
    """Result of queries/delinquency_funnel.sql."""

    stage: Series[str] = _col("code", "stage", isin=["delinquent", "attempted", "reached", "rpc", "ptp", "paid",
                                                     "cured"])
    loans: Series[int] = _col("count", ge=0)
    share_of_delinquent: Series[float] = _col("rate", ge=0, le=1)

    Config = _ResultConfig


class EscalationFunnelResult(pa.DataFrameModel):
    """Result of queries/escalation_funnel.sql."""

    step: Series[str] = _col("code", "step", isin=["reminder", "phone", "visit", "legal"])
    loans: Series[int] = _col("count", ge=0)

    Config = _ResultConfig


class ChannelEffectivenessResult(pa.DataFrameModel):
    """Result of queries/channel_effectiveness.sql."""

    channel: Series[str] = _col("code", "channel")
    attempts: Series[int] = _col("count", ge=0)
    reach_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    rpc_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    ptp_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    ptp_kept_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    recovered_amount: Series[float] = _col("amount", ge=0)
    cost: Series[float] = _col("amount", ge=0)
    cost_per_yuan_recovered: Series[float] = _col("number", decimals=4, ge=0, nullable=True)
    complaints: Series[int] = _col("count", ge=0)
    complaints_per_10k_attempts: Series[float] = _col("number", ge=0, nullable=True)

    Config = _ResultConfig


class CollectorScorecardResult(pa.DataFrameModel):
    """Result of queries/collector_scorecard.sql (agent or agency scorecard)."""

    collector_id: Series[str] = _col("text")
    attempts: Series[int] = _col("count", ge=0)
    reach_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    rpc_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    ptp_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    ptp_kept_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    recovered_amount: Series[float] = _col("amount", ge=0)
    cost: Series[float] = _col("amount", ge=0)
    cost_per_yuan_recovered: Series[float] = _col("number", decimals=4, ge=0, nullable=True)
    complaints: Series[int] = _col("count", ge=0)
    complaints_per_10k_attempts: Series[float] = _col("number", ge=0, nullable=True)

    Config = _ResultConfig


class OverviewKpisResult(pa.DataFrameModel):
    """Result of queries/overview_kpis.sql (the chosen month-end and the one before)."""

    as_of: Series[pa.DateTime] = _col("date")
    loans: Series[int] = _col("count", ge=0)
    outstanding: Series[float] = _col("amount", ge=0)
    overdue_balance: Series[float] = _col("amount", ge=0)
    delinquent_loans: Series[int] = _col("count", ge=0)
    delinquency_rate_amount: Series[float] = _col("rate", ge=0, nullable=True)
    delinquency_rate_count: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    m1_prev_loans: Series[int] = _col("count", ge=0)
    roll_m1_m2: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    delinquent_prev_loans: Series[int] = _col("count", ge=0)
    cure_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    recovered_amount: Series[float] = _col("amount", ge=0)
    collection_cost: Series[float] = _col("amount", ge=0)
    cost_per_yuan_recovered: Series[float] = _col("number", decimals=4, ge=0, nullable=True)
    complaints: Series[int] = _col("count", ge=0)
    complaints_per_10k_overdue: Series[float] = _col("number", ge=0, nullable=True)
    complaints_due: Series[int] = _col("count", ge=0)
    on_time_share: Series[float] = _col("rate", ge=0, le=1, nullable=True)

    Config = _ResultConfig


class VintageCurvesResult(pa.DataFrameModel):
    """Result of queries/vintage_curves.sql."""

    cohort: Series[pa.DateTime] = _col("date")
    months_on_book: Series[int] = _col("count", ge=0)
    loans: Series[int] = _col("count", ge=0)
    ever_m1: Series[int] = _col("count", ge=0)
    ever_m3: Series[int] = _col("count", ge=0)
    ever_m1_share: Series[float] = _col("rate", ge=0, le=1)
    ever_m3_share: Series[float] = _col("rate", ge=0, le=1)

    Config = _ResultConfig


class StrategyComparisonResult(pa.DataFrameModel):
    """Result of queries/strategy_comparison.sql."""

    strategy: Series[str] = _col("code", "strategy")
    accounts: Series[int] = _col("count", ge=0)
    cured: Series[int] = _col("count", ge=0)
    cure_rate: Series[float] = _col("rate", ge=0, le=1)
    recovered_amount: Series[float] = _col("amount", ge=0)
    recovered_per_account: Series[float] = _col("amount", ge=0)
    recovered_sd: Series[float] = _col("amount", ge=0)

    Config = _ResultConfig


# Complaint workbench results (owned by the complaints module). Timestamps are TIMESTAMPTZ:
# validated as tz-aware (compared in UTC).
_TZ = {"dtype_kwargs": {"unit": "us", "tz": "UTC"}}
_STATUSES = ["new", "triaged", "investigating", "resolved", "closed"]


class ComplaintSlaResult(pa.DataFrameModel):
    """Result of queries/complaint_sla.sql."""

    issue: Series[str] = _col("code", "issue")
    complaints: Series[int] = _col("count", ge=0)
    resolved: Series[int] = _col("count", ge=0)
    timely: Series[int] = _col("count", ge=0)
    timely_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    median_days_to_resolve: Series[float] = _col("number", decimals=1, ge=0, nullable=True)
    open_overdue: Series[int] = _col("count", ge=0)

    Config = _ResultConfig


class ComplaintOnTimeResult(pa.DataFrameModel):
    """Result of queries/complaint_on_time.sql."""

    month: Series[pa.DateTime] = _col("date")
    complaints: Series[int] = _col("count", ge=0)
    resolved: Series[int] = _col("count", ge=0)
    timely: Series[int] = _col("count", ge=0)
    timely_rate: Series[float] = _col("rate", ge=0, le=1, nullable=True)
    open_overdue: Series[int] = _col("count", ge=0)

    Config = _ResultConfig


class ComplaintTrendsResult(pa.DataFrameModel):
    """Result of queries/complaint_trends.sql."""

    month: Series[pa.DateTime] = _col("date")
    value: Series[str] = _col("text")
    complaints: Series[int] = _col("count", ge=1)

    Config = _ResultConfig


class ComplaintQueueResult(pa.DataFrameModel):
    """Result of queries/complaint_queue.sql."""

    complaint_id: Series[str] = _col("text")
    ticket: Series[str] = _col("text", nullable=True)
    received_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    source: Series[str] = _col("code", "source")
    issue: Series[str] = _col("code", "issue")
    sub_issue: Series[str] = _col("text", nullable=True)
    channel: Series[str] = _col("code", "channel", nullable=True)
    agent_id: Series[str] = _col("text", nullable=True)
    agency_id: Series[str] = _col("text", nullable=True)
    status: Series[str] = _col("code", "status", isin=_STATUSES)
    assignee: Series[str] = _col("text", nullable=True)
    due_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    days_left: Series[int] = _col("count")
    is_overdue: Series[bool] = _col("code", "flag")
    is_timely: Series[pd.BooleanDtype] = _col("code", "flag", nullable=True)

    Config = _ResultConfig


class ComplaintDetailResult(pa.DataFrameModel):
    """Result of queries/complaint_detail.sql (one row, or none)."""

    complaint_id: Series[str] = _col("text")
    ticket: Series[str] = _col("text", nullable=True)
    received_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    source: Series[str] = _col("code", "source")
    customer_id: Series[str] = _col("text", nullable=True)
    loan_id: Series[str] = _col("text", nullable=True)
    issue: Series[str] = _col("code", "issue")
    sub_issue: Series[str] = _col("text", nullable=True)
    channel: Series[str] = _col("code", "channel", nullable=True)
    agent_id: Series[str] = _col("text", nullable=True)
    agency_id: Series[str] = _col("text", nullable=True)
    narrative: Series[str] = _col("text", nullable=True)
    status: Series[str] = _col("code", "status", isin=_STATUSES)
    resolved_at: Series[pd.DatetimeTZDtype] = _col("timestamp", nullable=True, **_TZ)
    extension_days: Series[int] = _col("count", isin=[0, 15, 45])
    extension_reason: Series[str] = _col("text", nullable=True)
    resolution: Series[str] = _col("code", "resolution", nullable=True)
    public_resolution: Series[str] = _col("text", nullable=True)
    root_cause: Series[str] = _col("code", "root_cause", nullable=True)
    assignee: Series[str] = _col("text", nullable=True)
    substantiated: Series[pd.BooleanDtype] = _col("code", "flag", nullable=True)
    evidence: Series[str] = _col("text", nullable=True)
    complainant_name: Series[str] = _col("text", nullable=True)
    mobile_masked: Series[str] = _col("text", nullable=True, str_matches=r"^\d{3}\*+\d{4}$")
    contact_time: Series[str] = _col("code", "contact_time", nullable=True)
    plan_type: Series[str] = _col("code", "plan_type", nullable=True)
    plan_amount: Series[float] = _col("amount", nullable=True, ge=0)
    plan_months: Series[pd.Int64Dtype] = _col("count", nullable=True, ge=1)
    due_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)

    Config = _ResultConfig


class ComplaintLoansResult(pa.DataFrameModel):
    """Result of queries/complaint_loans.sql."""

    loan_id: Series[str] = _col("text")
    product: Series[str] = _col("code", "product")
    principal: Series[float] = _col("amount", gt=0)
    disbursed_on: Series[pa.DateTime] = _col("date")
    as_of: Series[pa.DateTime] = _col("date", nullable=True)
    dpd: Series[pd.Int64Dtype] = _col("count", nullable=True, ge=0)
    bucket: Series[str] = _col("code", "bucket", nullable=True, isin=["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"])
    outstanding_principal: Series[float] = _col("amount", nullable=True, ge=0)
    overdue_amount: Series[float] = _col("amount", nullable=True, ge=0)

    Config = _ResultConfig


class ComplaintContactsResult(pa.DataFrameModel):
    """Result of queries/complaint_contacts.sql."""

    contact_id: Series[str] = _col("text")
    loan_id: Series[str] = _col("text")
    contact_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    local_time: Series[str] = _col("text")
    channel: Series[str] = _col("code", "channel")
    party: Series[str] = _col("code", "party")
    outcome: Series[str] = _col("code", "outcome")
    agent_id: Series[str] = _col("text", nullable=True)
    agency_id: Series[str] = _col("text", nullable=True)
    collectors: Series[pd.Int64Dtype] = _col("count", nullable=True)
    duration_s: Series[pd.Int64Dtype] = _col("count", nullable=True)
    days_from_complaint: Series[int] = _col("count")

    Config = _ResultConfig


class ComplaintHistoryResult(pa.DataFrameModel):
    """Result of queries/complaint_history.sql."""

    event_id: Series[int] = _col("text", ge=1)
    event_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    complaint_id: Series[str] = _col("text")
    actor: Series[str] = _col("text")
    action: Series[str] = _col("text")
    field: Series[str] = _col("text", nullable=True)
    from_value: Series[str] = _col("text", nullable=True)
    to_value: Series[str] = _col("text", nullable=True)
    note: Series[str] = _col("text", nullable=True)
    hash: Series[str] = _col("text", str_length=64)

    Config = _ResultConfig


# Improvement-loop results (owned by the improvement module).
class RootCausesResult(pa.DataFrameModel):
    """Result of queries/root_causes.sql."""

    dimension: Series[str] = _col("code", "cause_group",
                                  isin=["root_cause", "issue", "channel", "agent", "agency", "strategy"])
    value: Series[str] = _col("text")
    complaints: Series[int] = _col("count", ge=1)
    share: Series[float] = _col("rate", gt=0, le=1)
    cumulative_share: Series[float] = _col("rate", gt=0, le=1.000001)

    Config = _ResultConfig


class ComplaintRatesResult(pa.DataFrameModel):
    """Result of queries/complaint_rates.sql."""

    month: Series[pa.DateTime] = _col("date")
    segment_kind: Series[str] = _col("code", "segment_kind",
                                     isin=["all", "agency", "agent", "strategy", "region", "product", "channel"])
    segment: Series[str] = _col("text")
    contacts: Series[int] = _col("count", ge=0)
    overdue_accounts: Series[int] = _col("count", ge=0)
    complaints: Series[int] = _col("count", ge=0)
    complaints_per_10k_contacts: Series[float] = _col("number", ge=0, nullable=True)
    complaints_per_10k_overdue: Series[float] = _col("number", ge=0, nullable=True)

    Config = _ResultConfig


class ActionEffectInputsResult(pa.DataFrameModel):
    """Result of queries/action_effect_inputs.sql."""

    month: Series[pa.DateTime] = _col("date")
    group_name: Series[str] = _col("code", "group", isin=["treated", "control"])
    contacts: Series[int] = _col("count", ge=0)
    rpc_contacts: Series[int] = _col("count", ge=0)
    ptp_contacts: Series[int] = _col("count", ge=0)
    complaints: Series[int] = _col("count", ge=0)
    overdue_accounts: Series[int] = _col("count", ge=0)
    cured_accounts: Series[pd.Int64Dtype] = _col("count", ge=0, nullable=True)

    Config = _ResultConfig


class ImprovementActionsResult(pa.DataFrameModel):
    """Result of queries/improvement_actions.sql."""

    action_id: Series[str] = _col("text")
    title: Series[str] = _col("text")
    root_cause: Series[str] = _col("code", "root_cause", nullable=True)
    owner: Series[str] = _col("text", nullable=True)
    start_on: Series[pa.DateTime] = _col("date")
    change_made: Series[str] = _col("text", nullable=True)
    target_kpi: Series[str] = _col("code", "target_kpi")
    target_value: Series[float] = _col("number", nullable=True)
    status: Series[str] = _col("code", "action_status", isin=["planned", "in_progress", "done", "reviewed"])
    segment_kind: Series[str] = _col("code", "segment_kind", nullable=True)
    segment_value: Series[str] = _col("text", nullable=True)
    created_by: Series[str] = _col("text", nullable=True)
    created_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)

    Config = _ResultConfig


class ChannelNetRankingResult(pa.DataFrameModel):
    """Result of queries/channel_net_ranking.sql."""

    dimension: Series[str] = _col("code", "rank_dimension", isin=["channel", "strategy"])
    value: Series[str] = _col("text")
    rank: Series[int] = _col("count", ge=1)
    attempts: Series[int] = _col("count", ge=1)
    recovered_amount: Series[float] = _col("amount", ge=0)
    cost: Series[float] = _col("amount", ge=0)
    complaints: Series[int] = _col("count", ge=0)
    complaint_cost: Series[float] = _col("amount", ge=0)
    net_value: Series[float] = _col("amount")
    net_per_attempt: Series[float] = _col("amount")
    net_per_yuan_cost: Series[float] = _col("number", decimals=4, nullable=True)

    Config = _ResultConfig


# Contact-policy results (owned by the rule engine, portal/policy.py).
_POLICY_RULES = ["quiet_hours", "connected_calls_per_day", "unanswered_calls_per_day", "third_party_contact",
                 "visit_collectors", "calls_7_in_7", "call_after_conversation"]


class PolicyViolationsResult(pa.DataFrameModel):
    """Result of queries/policy_violations.sql."""

    rule: Series[str] = _col("code", "rule", isin=_POLICY_RULES, unique=True)
    violations: Series[int] = _col("count", ge=0)
    loans_affected: Series[int] = _col("count", ge=0)
    agents_affected: Series[int] = _col("count", ge=0)

    Config = _ResultConfig


class PolicyViolationDetailsResult(pa.DataFrameModel):
    """Result of queries/policy_violation_details.sql."""

    contact_id: Series[str] = _col("text")
    loan_id: Series[str] = _col("text")
    customer_id: Series[str] = _col("text", nullable=True)
    contact_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    local_time: Series[pa.DateTime] = _col("timestamp")
    channel: Series[str] = _col("code", "channel")
    outcome: Series[str] = _col("code", "outcome")
    agent_id: Series[str] = _col("text", nullable=True)
    agency_id: Series[str] = _col("text", nullable=True)
    rule: Series[str] = _col("code", "rule", isin=_POLICY_RULES)

    Config = _ResultConfig


class PolicyLeagueResult(pa.DataFrameModel):
    """Result of queries/policy_league.sql."""

    level: Series[str] = _col("code", "collector_level", isin=["agent", "agency"])
    id: Series[str] = _col("text", label="collector_id", nullable=True)
    contacts: Series[int] = _col("count", ge=1)
    violations: Series[int] = _col("count", ge=0)
    violations_per_1000: Series[float] = _col("number", ge=0)

    Config = _ResultConfig


class PolicyViolationsByMonthResult(pa.DataFrameModel):
    """Result of queries/policy_violations_by_month.sql."""

    month: Series[pa.DateTime] = _col("date")
    rule: Series[str] = _col("code", "rule", isin=_POLICY_RULES)
    violations: Series[int] = _col("count", ge=1)

    Config = _ResultConfig


class PolicyWhatIfResult(pa.DataFrameModel):
    """Result of queries/policy_what_if.sql."""

    rule: Series[str] = _col("code", "rule", isin=[*_POLICY_RULES, "all"])
    base_violations: Series[int] = _col("count", ge=0)
    scenario_violations: Series[int] = _col("count", ge=0)
    newly_blocked: Series[int] = _col("count", ge=0)
    payments_at_risk: Series[int] = _col("count", ge=0)
    payment_amount_at_risk: Series[float] = _col("amount", ge=0)
    ptps_at_risk: Series[int] = _col("count", ge=0)
    ptp_amount_at_risk: Series[float] = _col("amount", ge=0)

    Config = _ResultConfig


class ComplaintBreachesResult(pa.DataFrameModel):
    """Result of queries/complaint_breaches.sql."""

    complaint_id: Series[str] = _col("text")
    issue: Series[str] = _col("code", "issue")
    rule: Series[str] = _col("code", "rule", isin=_POLICY_RULES)
    contact_id: Series[str] = _col("text")
    loan_id: Series[str] = _col("text")
    contact_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    local_time: Series[pa.DateTime] = _col("timestamp")
    channel: Series[str] = _col("code", "channel")
    outcome: Series[str] = _col("code", "outcome")
    agent_id: Series[str] = _col("text", nullable=True)
    matches_issue: Series[bool] = _col("code", "flag")
    is_supported: Series[bool] = _col("code", "flag")

    Config = _ResultConfig


class ContactCheckResult(pa.DataFrameModel):
    """Result of queries/contact_check.sql (portal/prevention): one row per blocking rule, or one allowed row."""

    allowed: Series[bool] = _col("code", "flag")
    rule: Series[str] = _col("code", "rule", nullable=True, isin=["opted_out_channel", *_POLICY_RULES])
    reason: Series[str] = _col("text", nullable=True)
    next_allowed_at: Series[pd.DatetimeTZDtype] = _col("timestamp", nullable=True, **_TZ)

    Config = _ResultConfig


class UploadHistoryResult(pa.DataFrameModel):
    """Result of queries/upload_history.sql."""

    upload_id: Series[int] = _col("text")
    uploaded_at: Series[pd.DatetimeTZDtype] = _col("timestamp", dtype_kwargs={"unit": "us", "tz": "UTC"})
    uploaded_by: Series[str] = _col("text", nullable=True)
    dataset: Series[str] = _col("code", "dataset")
    file_name: Series[str] = _col("text", nullable=True)
    file_format: Series[str] = _col("text", nullable=True)
    file_sha256: Series[str] = _col("text", nullable=True)
    rows_total: Series[int] = _col("count", ge=0)
    rows_accepted: Series[int] = _col("count", ge=0)
    rows_rejected: Series[int] = _col("count", ge=0)
    status: Series[str] = _col("code", "upload_status")
    is_strict: Series[bool] = _col("code", "flag")
    replaces_upload_id: Series[pd.Int64Dtype] = _col("text", nullable=True)
    message: Series[str] = _col("text", nullable=True)

    Config = _ResultConfig


class QuarantineRowsResult(pa.DataFrameModel):
    """Result of queries/quarantine_rows.sql."""

    row_number: Series[int] = _col("count", ge=1)
    column_name: Series[str] = _col("text", nullable=True)
    reason: Series[str] = _col("text")
    reason_code: Series[str] = _col("text", nullable=True)
    reason_args: Series[str] = _col("text", nullable=True)
    raw_row: Series[str] = _col("text")

    Config = _ResultConfig


class RiskFeaturesResult(pa.DataFrameModel):
    """Result of queries/risk_features.sql."""

    loan_id: Series[str] = _col("text")
    as_of: Series[pa.DateTime] = _col("date")
    dpd: Series[int] = _col("count", ge=0, le=60)
    outstanding_principal: Series[float] = _col("amount", ge=0)
    overdue_amount: Series[float] = _col("amount", ge=0)
    product: Series[str] = _col("code", "product")
    risk_grade: Series[str] = _col("text")
    term_months: Series[int] = _col("count", ge=1)
    annual_rate: Series[float] = _col("rate", ge=0)
    months_on_book: Series[int] = _col("count")
    contacts: Series[int] = _col("count", ge=0)
    phone_calls: Series[int] = _col("count", ge=0)
    rpc_contacts: Series[int] = _col("count", ge=0)
    ptp_contacts: Series[int] = _col("count", ge=0)
    payments: Series[int] = _col("count", ge=0)
    paid_amount: Series[float] = _col("amount", ge=0)
    rolled_m3: Series[pd.Int32Dtype] = _col("code", "flag", isin=[0, 1], nullable=True)

    Config = _ResultConfig


class RiskChannelOutcomesResult(pa.DataFrameModel):
    """Result of queries/risk_channel_outcomes.sql."""

    loan_id: Series[str] = _col("text")
    as_of: Series[pa.DateTime] = _col("date")
    channel: Series[str] = _col("code", "channel")
    attempts: Series[int] = _col("count", ge=1)
    cost: Series[float] = _col("amount", ge=0)
    recovered_amount: Series[float] = _col("amount", ge=0)
    complaints: Series[int] = _col("count", ge=0)

    Config = _ResultConfig


_BUCKETS_FORECAST = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+", "closed", "M1+"]


def _k(kind: str, **extra: str) -> dict:
    return {"metadata": {"kind": kind, **extra}}


class RollForecastResult(pa.DataFrameModel):
    """Result of queries/roll_forecast.sql: expected loans and balance per bucket and month-end ahead."""

    month_end: Series[pa.DateTime] = pa.Field(**_k("date"))
    bucket: Series[str] = pa.Field(isin=_BUCKETS_FORECAST, **_k("code", codes="bucket"))
    forecast_loans: Series[float] = pa.Field(ge=0, **_k("number"))
    forecast_balance: Series[float] = pa.Field(**_k("amount"))
    low_balance: Series[float] = pa.Field(**_k("amount"))
    high_balance: Series[float] = pa.Field(**_k("amount"))

    Config = _ResultConfig


class RollForecastBacktestResult(pa.DataFrameModel):
    """Result of queries/roll_forecast_backtest.sql: forecast vs observed balance per origin and bucket."""

    as_of: Series[pa.DateTime] = pa.Field(**_k("date"))
    month_end: Series[pa.DateTime] = pa.Field(**_k("date"))
    bucket: Series[str] = pa.Field(isin=[b for b in _BUCKETS_FORECAST if b != "closed"], **_k("code", codes="bucket"))
    forecast_balance: Series[float] = pa.Field(**_k("amount"))
    actual_balance: Series[float] = pa.Field(**_k("amount"))
    abs_pct_error: Series[float] = pa.Field(ge=0, nullable=True, **_k("rate"))

    Config = _ResultConfig


class AlertHistoryResult(pa.DataFrameModel):
    """Result of queries/alert_history.sql: KPI alert state transitions, newest first."""

    event_id: Series[int] = pa.Field(ge=1, **_k("number"))
    alert_rule: Series[str] = pa.Field(**_k("text"))
    alert_event: Series[str] = pa.Field(isin=["fired", "cleared"], **_k("code", codes="alert_event"))
    as_of: Series[pa.DateTime] = pa.Field(**_k("date"))
    kpi: Series[str] = pa.Field(**_k("text"))
    kpi_value: Series[float] = pa.Field(nullable=True, **_k("number"))
    alert_condition: Series[str] = pa.Field(**_k("text"))
    recorded_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"}, **_k("timestamp"))
    recorded_by: Series[str] = pa.Field(**_k("text"))

    Config = _ResultConfig


# Drill-down results: the rows behind one figure of a dashboard (owned by the drill-down pages).
_BUCKETS = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"]


class BucketLoansResult(pa.DataFrameModel):
    """Result of queries/bucket_loans.sql."""

    as_of: Series[pa.DateTime] = _col("date")
    loan_id: Series[str] = _col("text")
    customer_id: Series[str] = _col("text", nullable=True)
    customer_name: Series[str] = _col("text", nullable=True)
    mobile: Series[str] = _col("text", nullable=True)
    product: Series[str] = _col("code", "product", nullable=True)
    region: Series[str] = _col("text", nullable=True)
    risk_grade: Series[str] = _col("text", nullable=True)
    bucket: Series[str] = _col("code", "bucket", isin=_BUCKETS)
    dpd: Series[int] = _col("count", ge=0)
    outstanding_principal: Series[float] = _col("amount", ge=0)
    overdue_amount: Series[float] = _col("amount", ge=0)

    Config = _ResultConfig


class RollRateLoansResult(pa.DataFrameModel):
    """Result of queries/roll_rate_loans.sql."""

    as_of: Series[pa.DateTime] = _col("date")
    next_as_of: Series[pa.DateTime] = _col("date")
    loan_id: Series[str] = _col("text")
    customer_id: Series[str] = _col("text", nullable=True)
    customer_name: Series[str] = _col("text", nullable=True)
    mobile: Series[str] = _col("text", nullable=True)
    product: Series[str] = _col("code", "product", nullable=True)
    region: Series[str] = _col("text", nullable=True)
    risk_grade: Series[str] = _col("text", nullable=True)
    from_bucket: Series[str] = _col("code", "bucket", isin=_BUCKETS)
    to_bucket: Series[str] = _col("code", "bucket", isin=[*_BUCKETS, "closed"])
    dpd: Series[int] = _col("count", ge=0)
    next_dpd: Series[pd.Int64Dtype] = _col("count", nullable=True, ge=0)
    outstanding_principal: Series[float] = _col("amount", ge=0)
    next_outstanding_principal: Series[float] = _col("amount", nullable=True, ge=0)

    Config = _ResultConfig


class FunnelStageLoansResult(pa.DataFrameModel):
    """Result of queries/funnel_stage_loans.sql."""

    as_of: Series[pa.DateTime] = _col("date")
    loan_id: Series[str] = _col("text")
    customer_id: Series[str] = _col("text", nullable=True)
    customer_name: Series[str] = _col("text", nullable=True)
    mobile: Series[str] = _col("text", nullable=True)
    product: Series[str] = _col("code", "product", nullable=True)
    region: Series[str] = _col("text", nullable=True)
    risk_grade: Series[str] = _col("text", nullable=True)
    dpd: Series[int] = _col("count", ge=1)
    outstanding_principal: Series[float] = _col("amount", ge=0)
    overdue_amount: Series[float] = _col("amount", ge=0)
    paid_amount: Series[float] = _col("amount", nullable=True, gt=0)
    next_dpd: Series[pd.Int64Dtype] = _col("count", nullable=True, ge=0)

    Config = _ResultConfig


class ContactRowsResult(pa.DataFrameModel):
    """Result of queries/channel_contacts.sql and queries/collector_contacts.sql (contact log rows)."""

    contact_id: Series[str] = _col("text")
    loan_id: Series[str] = _col("text")
    customer_id: Series[str] = _col("text", nullable=True)
    contact_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    channel: Series[str] = _col("code", "channel")
    party: Series[str] = _col("code", "party")
    outcome: Series[str] = _col("code", "outcome")
    agent_id: Series[str] = _col("text", nullable=True)
    agency_id: Series[str] = _col("text", nullable=True)
    strategy: Series[str] = _col("code", "strategy", nullable=True)
    ptp_amount: Series[float] = _col("amount", nullable=True, gt=0)
    ptp_due_on: Series[pa.DateTime] = _col("date", nullable=True)
    cost: Series[float] = _col("amount", ge=0)

    Config = _ResultConfig


# Tables that pages compute from query results (not named queries): declared so that every table on
# screen has a kind and a label per column.
class ComplaintQueueView(pa.DataFrameModel):
    """The complaint queue as the queue page shows it: complaint_queue plus the deadline clock."""

    complaint_id: Series[str] = _col("text")
    clock: Series[str] = _col("text")
    due_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)
    status: Series[str] = _col("code", "status")
    issue: Series[str] = _col("code", "issue")
    channel: Series[str] = _col("code", "channel", nullable=True)
    source: Series[str] = _col("code", "source")
    agency_id: Series[str] = _col("text", nullable=True)
    agent_id: Series[str] = _col("text", nullable=True)
    assignee: Series[str] = _col("text", nullable=True)
    received_at: Series[pd.DatetimeTZDtype] = _col("timestamp", **_TZ)


class ComplaintContactsView(ComplaintContactsResult):
    """A complaint's contact log with the rules each contact broke (complaint detail page)."""

    breach: Series[str] = _col("text")


VIEW_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "complaint_queue_view": ComplaintQueueView,
    "complaint_contacts_view": ComplaintContactsView,
}


# Repayment plan results (owned by portal/plans.py).
_PLAN_BUCKETS = ["M1", "M2", "M3", "M4", "M5", "M6", "M6+"]


class RepaymentPlanOutcomesResult(pa.DataFrameModel):
    """Result of queries/repayment_plan_outcomes.sql (CONTRACT.md)."""

    plan_type: Series[str] = pa.Field(isin=list(PLAN_TYPES), unique=True, **_k("code", codes="plan_type"))
    plans: Series[int] = pa.Field(ge=1, **_k("count"))
    instalments_due: Series[int] = pa.Field(ge=0, **_k("count"))
    instalments_kept: Series[int] = pa.Field(ge=0, **_k("count"))
    kept_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True, **_k("rate"))
    completed: Series[int] = pa.Field(ge=0, **_k("count"))
    broken: Series[int] = pa.Field(ge=0, **_k("count"))
    cured_within_90d: Series[int] = pa.Field(ge=0, **_k("count"))
    cure_rate_90d: Series[float] = pa.Field(ge=0, le=1, nullable=True, **_k("rate"))
    control_cure_rate_90d: Series[float] = pa.Field(ge=0, le=1, nullable=True, **_k("rate"))
    uplift_pp: Series[float] = pa.Field(ge=-100, le=100, nullable=True, **_k("number"))

    Config = _ResultConfig


class RepaymentPlanCureCellsResult(pa.DataFrameModel):
    """Result of queries/repayment_plan_cure_cells.sql."""

    plan_type: Series[str] = pa.Field(isin=list(PLAN_TYPES), **_k("code", codes="plan_type"))
    month_end_before: Series[pa.DateTime] = pa.Field(**_k("date"))
    bucket: Series[str] = pa.Field(isin=_PLAN_BUCKETS, **_k("code", codes="bucket"))
    product: Series[str] = pa.Field(**_k("code", codes="product"))
    risk_grade: Series[str] = pa.Field(nullable=True, **_k("text"))
    horizon_on: Series[pa.DateTime] = pa.Field(**_k("date"))
    plans: Series[int] = pa.Field(ge=1, **_k("count"))
    cured: Series[int] = pa.Field(ge=0, **_k("count"))
    control_loans: Series[int] = pa.Field(ge=0, **_k("count"))
    control_cured: Series[int] = pa.Field(ge=0, **_k("count"))

    Config = _ResultConfig


class RepaymentPlanFunnelResult(pa.DataFrameModel):
    """Result of queries/repayment_plan_funnel.sql."""

    stage: Series[str] = pa.Field(isin=["requested", "offered", "accepted", "kept_to_date", "completed"],
                                  **_k("code", codes="plan_stage"))
    requests: Series[int] = pa.Field(ge=0, **_k("count"))
    share_of_requested: Series[float] = pa.Field(ge=0, le=1, **_k("rate"))

    Config = _ResultConfig


class RepaymentPlanOfferTimingResult(pa.DataFrameModel):
    """Result of queries/repayment_plan_offer_timing.sql."""

    plan_type: Series[str] = pa.Field(isin=[*PLAN_TYPES, "unspecified", "all"], **_k("code", codes="plan_type"))
    requests: Series[int] = pa.Field(ge=1, **_k("count"))
    offered: Series[int] = pa.Field(ge=0, **_k("count"))
    median_days_to_offer: Series[float] = pa.Field(nullable=True, **_k("number"))
    p90_days_to_offer: Series[float] = pa.Field(nullable=True, **_k("number"))
    offered_by_deadline: Series[int] = pa.Field(ge=0, **_k("count"))
    by_deadline_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True, **_k("rate"))
    waiting: Series[int] = pa.Field(ge=0, **_k("count"))
    waiting_past_deadline: Series[int] = pa.Field(ge=0, **_k("count"))

    Config = _ResultConfig


class RepaymentPlanOfferDaysResult(pa.DataFrameModel):
    """Result of queries/repayment_plan_offer_days.sql."""

    days_to_offer: Series[int] = pa.Field(**_k("number"))
    offers: Series[int] = pa.Field(ge=1, **_k("count"))
    by_deadline: Series[int] = pa.Field(ge=0, **_k("count"))

    Config = _ResultConfig


class RepaymentPlanKeptResult(pa.DataFrameModel):
    """Result of queries/repayment_plan_kept.sql."""

    plan_type: Series[str] = pa.Field(isin=list(PLAN_TYPES), **_k("code", codes="plan_type"))
    segment: Series[str] = pa.Field(**_k("text"))
    plans: Series[int] = pa.Field(ge=1, **_k("count"))
    instalments_due: Series[int] = pa.Field(ge=0, **_k("count"))
    instalments_kept: Series[int] = pa.Field(ge=0, **_k("count"))
    kept_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True, **_k("rate"))
    active: Series[int] = pa.Field(ge=0, **_k("count"))
    completed: Series[int] = pa.Field(ge=0, **_k("count"))
    broken: Series[int] = pa.Field(ge=0, **_k("count"))
    cancelled: Series[int] = pa.Field(ge=0, **_k("count"))

    Config = _ResultConfig


class RepaymentPlanScheduleResult(pa.DataFrameModel):
    """Result of queries/repayment_plan_schedule.sql."""

    plan_id: Series[str] = pa.Field(**_k("text"))
    plan_type: Series[str] = pa.Field(isin=list(PLAN_TYPES), **_k("code", codes="plan_type"))
    plan_status: Series[str] = pa.Field(isin=list(PLAN_STATUSES), **_k("code", codes="plan_status"))
    agreed_on: Series[pa.DateTime] = pa.Field(**_k("date"))
    instalment_no: Series[int] = pa.Field(ge=1, **_k("number"))
    due_on: Series[pa.DateTime] = pa.Field(**_k("date"))
    amount_due: Series[float] = pa.Field(ge=0, **_k("amount"))
    cumulative_due: Series[float] = pa.Field(gt=0, **_k("amount"))
    covered_at: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **_k("timestamp"), **_TZ)
    state: Series[str] = pa.Field(isin=["kept", "missed", "in_grace", "upcoming"],
                                  **_k("code", codes="instalment_state"))

    Config = _ResultConfig


RESULT_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "upload_history": UploadHistoryResult,
    "quarantine_rows": QuarantineRowsResult,
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
    "complaint_sla": ComplaintSlaResult,
    "complaint_on_time": ComplaintOnTimeResult,
    "complaint_trends": ComplaintTrendsResult,
    "complaint_queue": ComplaintQueueResult,
    "complaint_detail": ComplaintDetailResult,
    "complaint_loans": ComplaintLoansResult,
    "complaint_contacts": ComplaintContactsResult,
    "complaint_history": ComplaintHistoryResult,
    "root_causes": RootCausesResult,
    "complaint_rates": ComplaintRatesResult,
    "action_effect_inputs": ActionEffectInputsResult,
    "improvement_actions": ImprovementActionsResult,
    "channel_net_ranking": ChannelNetRankingResult,
    "policy_violations": PolicyViolationsResult,
    "policy_violation_details": PolicyViolationDetailsResult,
    "policy_league": PolicyLeagueResult,
    "policy_violations_by_month": PolicyViolationsByMonthResult,
    "policy_what_if": PolicyWhatIfResult,
    "complaint_breaches": ComplaintBreachesResult,
    "contact_check": ContactCheckResult,
    "risk_features": RiskFeaturesResult,
    "risk_channel_outcomes": RiskChannelOutcomesResult,
    "bucket_loans": BucketLoansResult,
    "roll_rate_loans": RollRateLoansResult,
    "funnel_stage_loans": FunnelStageLoansResult,
    "channel_contacts": ContactRowsResult,
    "collector_contacts": ContactRowsResult,
    "roll_forecast": RollForecastResult,
    "roll_forecast_backtest": RollForecastBacktestResult,
    "alert_history": AlertHistoryResult,
    "repayment_plan_outcomes": RepaymentPlanOutcomesResult,
    "repayment_plan_cure_cells": RepaymentPlanCureCellsResult,
    "repayment_plan_funnel": RepaymentPlanFunnelResult,
    "repayment_plan_offer_timing": RepaymentPlanOfferTimingResult,
    "repayment_plan_offer_days": RepaymentPlanOfferDaysResult,
    "repayment_plan_kept": RepaymentPlanKeptResult,
    "repayment_plan_schedule": RepaymentPlanScheduleResult,
}
