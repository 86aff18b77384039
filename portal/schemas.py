"""pandera models: one per upload dataset, and one per named-query result."""

from __future__ import annotations

import re

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from portal import config, taxonomy

# Upload dataset models (owned by the uploads module).
# These are the declared rule set for uploads. portal/ingest.py compiles every check below into
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


UPLOAD_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "customers": CustomersUpload,
    "loans": LoansUpload,
    "snapshots": SnapshotsUpload,
    "contacts": ContactsUpload,
    "payments": PaymentsUpload,
    "complaints": ComplaintsUpload,
}

# Named-query result models: columns and their order are the contract.


class _ResultConfig:
    """Named-query results: exactly the contract's columns, in order, coerced to their types."""

    strict = True
    ordered = True
    coerce = True


class DelinquencyBucketsResult(pa.DataFrameModel):
    """Result of queries/delinquency_buckets.sql."""

    as_of: Series[pa.DateTime]
    bucket: Series[str] = pa.Field(isin=["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"])
    loans: Series[int] = pa.Field(ge=0)
    outstanding: Series[float] = pa.Field(ge=0)
    overdue_amount: Series[float] = pa.Field(ge=0)

    Config = _ResultConfig


class RollRatesResult(pa.DataFrameModel):
    """Result of queries/roll_rates.sql."""

    as_of: Series[pa.DateTime]
    from_bucket: Series[str]
    to_bucket: Series[str]
    loans: Series[int] = pa.Field(ge=0)
    share: Series[float] = pa.Field(ge=0, le=1)

    Config = _ResultConfig


class FilterOptionsResult(pa.DataFrameModel):
    """Result of queries/filter_options.sql."""

    dimension: Series[str] = pa.Field(isin=["product", "region", "risk_grade"])
    value: Series[str]
    loans: Series[int] = pa.Field(ge=0)

    Config = _ResultConfig


class MonthEndsResult(pa.DataFrameModel):
    """Result of queries/month_ends.sql."""

    as_of: Series[pa.DateTime]
    loans: Series[int] = pa.Field(ge=0)

    Config = _ResultConfig


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


# Complaint workbench results (owned by the complaints module). Timestamps are TIMESTAMPTZ:
# validated as tz-aware (compared in UTC).
_TZ = {"dtype_kwargs": {"unit": "us", "tz": "UTC"}}
_STATUSES = ["new", "triaged", "investigating", "resolved", "closed"]


class ComplaintSlaResult(pa.DataFrameModel):
    """Result of queries/complaint_sla.sql."""

    issue: Series[str]
    complaints: Series[int] = pa.Field(ge=0)
    resolved: Series[int] = pa.Field(ge=0)
    timely: Series[int] = pa.Field(ge=0)
    timely_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    median_days_to_resolve: Series[float] = pa.Field(ge=0, nullable=True)
    open_overdue: Series[int] = pa.Field(ge=0)

    Config = _ResultConfig


class ComplaintOnTimeResult(pa.DataFrameModel):
    """Result of queries/complaint_on_time.sql."""

    month: Series[pa.DateTime]
    complaints: Series[int] = pa.Field(ge=0)
    resolved: Series[int] = pa.Field(ge=0)
    timely: Series[int] = pa.Field(ge=0)
    timely_rate: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    open_overdue: Series[int] = pa.Field(ge=0)

    Config = _ResultConfig


class ComplaintTrendsResult(pa.DataFrameModel):
    """Result of queries/complaint_trends.sql."""

    month: Series[pa.DateTime]
    value: Series[str]
    complaints: Series[int] = pa.Field(ge=1)

    Config = _ResultConfig


class ComplaintQueueResult(pa.DataFrameModel):
    """Result of queries/complaint_queue.sql."""

    complaint_id: Series[str]
    ticket: Series[str] = pa.Field(nullable=True)
    received_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)
    source: Series[str]
    issue: Series[str]
    sub_issue: Series[str] = pa.Field(nullable=True)
    channel: Series[str] = pa.Field(nullable=True)
    agent_id: Series[str] = pa.Field(nullable=True)
    agency_id: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(isin=_STATUSES)
    assignee: Series[str] = pa.Field(nullable=True)
    due_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)
    days_left: Series[int]
    is_overdue: Series[bool]
    is_timely: Series[pd.BooleanDtype] = pa.Field(nullable=True)

    Config = _ResultConfig


class ComplaintDetailResult(pa.DataFrameModel):
    """Result of queries/complaint_detail.sql (one row, or none)."""

    complaint_id: Series[str]
    ticket: Series[str] = pa.Field(nullable=True)
    received_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)
    source: Series[str]
    customer_id: Series[str] = pa.Field(nullable=True)
    loan_id: Series[str] = pa.Field(nullable=True)
    issue: Series[str]
    sub_issue: Series[str] = pa.Field(nullable=True)
    channel: Series[str] = pa.Field(nullable=True)
    agent_id: Series[str] = pa.Field(nullable=True)
    agency_id: Series[str] = pa.Field(nullable=True)
    narrative: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(isin=_STATUSES)
    resolved_at: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **_TZ)
    extension_days: Series[int] = pa.Field(isin=[0, 15, 45])
    extension_reason: Series[str] = pa.Field(nullable=True)
    resolution: Series[str] = pa.Field(nullable=True)
    public_resolution: Series[str] = pa.Field(nullable=True)
    root_cause: Series[str] = pa.Field(nullable=True)
    assignee: Series[str] = pa.Field(nullable=True)
    substantiated: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    evidence: Series[str] = pa.Field(nullable=True)
    complainant_name: Series[str] = pa.Field(nullable=True)
    mobile_masked: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{3}\*+\d{4}$")
    contact_time: Series[str] = pa.Field(nullable=True)
    plan_type: Series[str] = pa.Field(nullable=True)
    plan_amount: Series[float] = pa.Field(nullable=True, ge=0)
    plan_months: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1)
    due_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)

    Config = _ResultConfig


class ComplaintLoansResult(pa.DataFrameModel):
    """Result of queries/complaint_loans.sql."""

    loan_id: Series[str]
    product: Series[str]
    principal: Series[float] = pa.Field(gt=0)
    disbursed_on: Series[pa.DateTime]
    as_of: Series[pa.DateTime] = pa.Field(nullable=True)
    dpd: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    bucket: Series[str] = pa.Field(nullable=True, isin=["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"])
    outstanding_principal: Series[float] = pa.Field(nullable=True, ge=0)
    overdue_amount: Series[float] = pa.Field(nullable=True, ge=0)

    Config = _ResultConfig


class ComplaintContactsResult(pa.DataFrameModel):
    """Result of queries/complaint_contacts.sql."""

    contact_id: Series[str]
    loan_id: Series[str]
    contact_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)
    local_time: Series[str]
    channel: Series[str]
    party: Series[str]
    outcome: Series[str]
    agent_id: Series[str] = pa.Field(nullable=True)
    agency_id: Series[str] = pa.Field(nullable=True)
    collectors: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    duration_s: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    days_from_complaint: Series[int]

    Config = _ResultConfig


class ComplaintHistoryResult(pa.DataFrameModel):
    """Result of queries/complaint_history.sql."""

    event_id: Series[int] = pa.Field(ge=1)
    event_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)
    complaint_id: Series[str]
    actor: Series[str]
    action: Series[str]
    field: Series[str] = pa.Field(nullable=True)
    from_value: Series[str] = pa.Field(nullable=True)
    to_value: Series[str] = pa.Field(nullable=True)
    note: Series[str] = pa.Field(nullable=True)
    hash: Series[str] = pa.Field(str_length=64)

    Config = _ResultConfig


# Improvement-loop results (owned by the improvement module).
class RootCausesResult(pa.DataFrameModel):
    """Result of queries/root_causes.sql."""

    dimension: Series[str] = pa.Field(isin=["root_cause", "issue", "channel", "agent", "agency", "strategy"])
    value: Series[str]
    complaints: Series[int] = pa.Field(ge=1)
    share: Series[float] = pa.Field(gt=0, le=1)
    cumulative_share: Series[float] = pa.Field(gt=0, le=1.000001)

    Config = _ResultConfig


class ComplaintRatesResult(pa.DataFrameModel):
    """Result of queries/complaint_rates.sql."""

    month: Series[pa.DateTime]
    segment_kind: Series[str] = pa.Field(isin=["all", "agency", "agent", "strategy", "region", "product", "channel"])
    segment: Series[str]
    contacts: Series[int] = pa.Field(ge=0)
    overdue_accounts: Series[int] = pa.Field(ge=0)
    complaints: Series[int] = pa.Field(ge=0)
    complaints_per_10k_contacts: Series[float] = pa.Field(ge=0, nullable=True)
    complaints_per_10k_overdue: Series[float] = pa.Field(ge=0, nullable=True)

    Config = _ResultConfig


class ActionEffectInputsResult(pa.DataFrameModel):
    """Result of queries/action_effect_inputs.sql."""

    month: Series[pa.DateTime]
    group_name: Series[str] = pa.Field(isin=["treated", "control"])
    contacts: Series[int] = pa.Field(ge=0)
    rpc_contacts: Series[int] = pa.Field(ge=0)
    ptp_contacts: Series[int] = pa.Field(ge=0)
    complaints: Series[int] = pa.Field(ge=0)
    overdue_accounts: Series[int] = pa.Field(ge=0)
    cured_accounts: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)

    Config = _ResultConfig


class ImprovementActionsResult(pa.DataFrameModel):
    """Result of queries/improvement_actions.sql."""

    action_id: Series[str]
    title: Series[str]
    root_cause: Series[str] = pa.Field(nullable=True)
    owner: Series[str] = pa.Field(nullable=True)
    start_on: Series[pa.DateTime]
    change_made: Series[str] = pa.Field(nullable=True)
    target_kpi: Series[str]
    target_value: Series[float] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(isin=["planned", "in_progress", "done", "reviewed"])
    segment_kind: Series[str] = pa.Field(nullable=True)
    segment_value: Series[str] = pa.Field(nullable=True)
    created_by: Series[str] = pa.Field(nullable=True)
    created_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)

    Config = _ResultConfig


class ChannelNetRankingResult(pa.DataFrameModel):
    """Result of queries/channel_net_ranking.sql."""

    dimension: Series[str] = pa.Field(isin=["channel", "strategy"])
    value: Series[str]
    rank: Series[int] = pa.Field(ge=1)
    attempts: Series[int] = pa.Field(ge=1)
    recovered_amount: Series[float] = pa.Field(ge=0)
    cost: Series[float] = pa.Field(ge=0)
    complaints: Series[int] = pa.Field(ge=0)
    complaint_cost: Series[float] = pa.Field(ge=0)
    net_value: Series[float]
    net_per_attempt: Series[float]
    net_per_yuan_cost: Series[float] = pa.Field(nullable=True)

    Config = _ResultConfig


# Contact-policy results (owned by the rule engine, portal/policy.py).
_POLICY_RULES = ["quiet_hours", "connected_calls_per_day", "unanswered_calls_per_day", "third_party_contact",
                 "visit_collectors", "calls_7_in_7", "call_after_conversation"]


class PolicyViolationsResult(pa.DataFrameModel):
    """Result of queries/policy_violations.sql."""

    rule: Series[str] = pa.Field(isin=_POLICY_RULES, unique=True)
    violations: Series[int] = pa.Field(ge=0)
    loans_affected: Series[int] = pa.Field(ge=0)
    agents_affected: Series[int] = pa.Field(ge=0)

    Config = _ResultConfig


class PolicyViolationDetailsResult(pa.DataFrameModel):
    """Result of queries/policy_violation_details.sql."""

    contact_id: Series[str]
    loan_id: Series[str]
    customer_id: Series[str] = pa.Field(nullable=True)
    contact_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)
    local_time: Series[pa.DateTime]
    channel: Series[str]
    outcome: Series[str]
    agent_id: Series[str] = pa.Field(nullable=True)
    agency_id: Series[str] = pa.Field(nullable=True)
    rule: Series[str] = pa.Field(isin=_POLICY_RULES)

    Config = _ResultConfig


class PolicyLeagueResult(pa.DataFrameModel):
    """Result of queries/policy_league.sql."""

    level: Series[str] = pa.Field(isin=["agent", "agency"])
    id: Series[str] = pa.Field(nullable=True)
    contacts: Series[int] = pa.Field(ge=1)
    violations: Series[int] = pa.Field(ge=0)
    violations_per_1000: Series[float] = pa.Field(ge=0)

    Config = _ResultConfig


class PolicyViolationsByMonthResult(pa.DataFrameModel):
    """Result of queries/policy_violations_by_month.sql."""

    month: Series[pa.DateTime]
    rule: Series[str] = pa.Field(isin=_POLICY_RULES)
    violations: Series[int] = pa.Field(ge=1)

    Config = _ResultConfig


class PolicyWhatIfResult(pa.DataFrameModel):
    """Result of queries/policy_what_if.sql."""

    rule: Series[str] = pa.Field(isin=[*_POLICY_RULES, "all"])
    base_violations: Series[int] = pa.Field(ge=0)
    scenario_violations: Series[int] = pa.Field(ge=0)
    newly_blocked: Series[int] = pa.Field(ge=0)
    payments_at_risk: Series[int] = pa.Field(ge=0)
    payment_amount_at_risk: Series[float] = pa.Field(ge=0)
    ptps_at_risk: Series[int] = pa.Field(ge=0)
    ptp_amount_at_risk: Series[float] = pa.Field(ge=0)

    Config = _ResultConfig


class ComplaintBreachesResult(pa.DataFrameModel):
    """Result of queries/complaint_breaches.sql."""

    complaint_id: Series[str]
    issue: Series[str]
    rule: Series[str] = pa.Field(isin=_POLICY_RULES)
    contact_id: Series[str]
    loan_id: Series[str]
    contact_at: Series[pd.DatetimeTZDtype] = pa.Field(**_TZ)
    local_time: Series[pa.DateTime]
    channel: Series[str]
    outcome: Series[str]
    agent_id: Series[str] = pa.Field(nullable=True)
    matches_issue: Series[bool]
    is_supported: Series[bool]

    Config = _ResultConfig


class UploadHistoryResult(pa.DataFrameModel):
    """Result of queries/upload_history.sql."""

    upload_id: Series[int]
    uploaded_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "us", "tz": "UTC"})
    uploaded_by: Series[str] = pa.Field(nullable=True)
    dataset: Series[str]
    file_name: Series[str] = pa.Field(nullable=True)
    file_format: Series[str] = pa.Field(nullable=True)
    file_sha256: Series[str] = pa.Field(nullable=True)
    rows_total: Series[int] = pa.Field(ge=0)
    rows_accepted: Series[int] = pa.Field(ge=0)
    rows_rejected: Series[int] = pa.Field(ge=0)
    status: Series[str]
    is_strict: Series[bool]
    replaces_upload_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    message: Series[str] = pa.Field(nullable=True)

    Config = _ResultConfig


class QuarantineRowsResult(pa.DataFrameModel):
    """Result of queries/quarantine_rows.sql."""

    row_number: Series[int] = pa.Field(ge=1)
    column_name: Series[str] = pa.Field(nullable=True)
    reason: Series[str]
    reason_code: Series[str] = pa.Field(nullable=True)
    reason_args: Series[str] = pa.Field(nullable=True)
    raw_row: Series[str]

    Config = _ResultConfig


class RiskFeaturesResult(pa.DataFrameModel):
    """Result of queries/risk_features.sql."""

    loan_id: Series[str]
    as_of: Series[pa.DateTime]
    dpd: Series[int] = pa.Field(ge=0, le=60)
    outstanding_principal: Series[float] = pa.Field(ge=0)
    overdue_amount: Series[float] = pa.Field(ge=0)
    product: Series[str]
    risk_grade: Series[str]
    term_months: Series[int] = pa.Field(ge=1)
    annual_rate: Series[float] = pa.Field(ge=0)
    months_on_book: Series[int]
    contacts: Series[int] = pa.Field(ge=0)
    phone_calls: Series[int] = pa.Field(ge=0)
    rpc_contacts: Series[int] = pa.Field(ge=0)
    ptp_contacts: Series[int] = pa.Field(ge=0)
    payments: Series[int] = pa.Field(ge=0)
    paid_amount: Series[float] = pa.Field(ge=0)
    rolled_m3: Series[pd.Int32Dtype] = pa.Field(isin=[0, 1], nullable=True)

    Config = _ResultConfig


class RiskChannelOutcomesResult(pa.DataFrameModel):
    """Result of queries/risk_channel_outcomes.sql."""

    loan_id: Series[str]
    as_of: Series[pa.DateTime]
    channel: Series[str]
    attempts: Series[int] = pa.Field(ge=1)
    cost: Series[float] = pa.Field(ge=0)
    recovered_amount: Series[float] = pa.Field(ge=0)
    complaints: Series[int] = pa.Field(ge=0)

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
    "risk_features": RiskFeaturesResult,
    "risk_channel_outcomes": RiskChannelOutcomesResult,
    "roll_forecast": RollForecastResult,
    "roll_forecast_backtest": RollForecastBacktestResult,
    "alert_history": AlertHistoryResult,
}
