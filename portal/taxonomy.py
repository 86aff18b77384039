"""The contract's coded values, in one place: channels, outcomes, products, complaint taxonomy."""

from __future__ import annotations

PRODUCTS = ("cash_loan", "instalment", "credit_line")
RISK_GRADES = ("A", "B", "C", "D", "E")
CHANNELS = ("sms", "app", "phone", "letter", "social", "visit", "legal")
PARTIES = ("debtor", "third_party")
OUTCOMES = ("sent", "delivered", "failed", "no_answer", "third_party", "rpc", "ptp", "refused", "filed")
REACH_OUTCOMES = ("delivered", "third_party", "rpc", "ptp", "refused")
RPC_OUTCOMES = ("rpc", "ptp", "refused")
LADDER = {"reminder": ("sms", "app"), "phone": ("phone",), "visit": ("visit",), "legal": ("legal",)}
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+")

COMPLAINT_SOURCES = ("form", "hotline", "regulator", "social", "email", "letter")
COMPLAINT_STATUSES = ("new", "triaged", "investigating", "resolved", "closed")
COMPLAINT_ISSUES = (
    "debt_not_owed", "communication_tactics", "third_party_disclosure", "threatened_action",
    "false_representation", "written_notification", "privacy", "fees_or_amount",
    "repayment_plan_request", "service_quality", "other",
)
RESOLUTIONS = ("explanation", "monetary_relief", "non_monetary_relief", "repayment_plan", "no_action")
PLAN_TYPES = ("instalments", "deferral")  # repayment_plans.plan_type
PLAN_STATUSES = ("active", "completed", "broken", "cancelled")  # repayment_plans.status (agreed plans)
PLAN_MAX_INSTALMENTS = 60
EXTENSION_DAYS = (0, 15, 45)
BASE_DEADLINE_DAYS = 15


def bucket_of(dpd: int) -> str:
    """The DPD bucket of a number of days past due (DOMAIN.md)."""
    if dpd <= 0:
        return "M0"
    if dpd > 180:
        return "M6+"
    return f"M{(dpd - 1) // 30 + 1}"
