"""CFPB Consumer Complaint Database exports: detect them by their headers and map them to the contract.

The mapping follows CONTRACT.md: Complaint ID, Date received, Submitted via, Issue / Sub-issue
(kept verbatim and mapped to the portal taxonomy), Company response to consumer, Timely response?.
"""

from __future__ import annotations

import re

import pandas as pd

from portal import taxonomy

# Headers that together identify an export (compared case-insensitively).
SIGNATURE = ("date received", "issue", "sub-issue", "submitted via", "company response to consumer",
             "timely response?", "complaint id")

# CFPB issue text (normalised: lower case, straight apostrophes, single spaces) -> taxonomy key.
# Debt-collection issues map one to one; other products' issues go to the nearest theme.
ISSUE_MAP: dict[str, str] = {
    "attempts to collect debt not owed": "debt_not_owed",
    "cont'd attempts collect debt not owed": "debt_not_owed",
    "received a loan you didn't apply for": "debt_not_owed",
    "incorrect information on your report": "debt_not_owed",
    "communication tactics": "communication_tactics",
    "collection practices": "communication_tactics",
    "threatened to contact someone or share information improperly": "third_party_disclosure",
    "improper contact or sharing of info": "third_party_disclosure",
    "took or threatened to take negative or legal action": "threatened_action",
    "taking/threatening an illegal action": "threatened_action",
    "false statements or representation": "false_representation",
    "written notification about debt": "written_notification",
    "disclosure verification of debt": "written_notification",
    "confusing or missing disclosures": "written_notification",
    "improper use of your report": "privacy",
    "problem with fraud alerts or security freezes": "privacy",
    "identity theft / fraud / embezzlement": "privacy",
    "credit monitoring or identity theft protection services": "privacy",
    "identity theft protection or other monitoring services": "privacy",
    "fees or interest": "fees_or_amount",
    "charged fees or interest you didn't expect": "fees_or_amount",
    "charged fees or interest i didn't expect": "fees_or_amount",
    "unexpected or other fees": "fees_or_amount",
    "excessive fees": "fees_or_amount",
    "apr or interest rate": "fees_or_amount",
    "problem with a purchase shown on your statement": "fees_or_amount",
    "billing disputes": "fees_or_amount",
    "billing statement": "fees_or_amount",
    "wrong amount charged or received": "fees_or_amount",
    "problem with a lender or other company charging your account": "fees_or_amount",
    "problem caused by your funds being low": "fees_or_amount",
    "problems caused by my funds being low": "fees_or_amount",
    "loan payment wasn't credited to your account": "fees_or_amount",
    "settlement process and costs": "fees_or_amount",
    "trouble during payment process": "fees_or_amount",
    "problem when making payments": "fees_or_amount",
    "struggling to pay mortgage": "repayment_plan_request",
    "struggling to repay your loan": "repayment_plan_request",
    "struggling to pay your loan": "repayment_plan_request",
    "struggling to pay your bill": "repayment_plan_request",
    "problems when you are unable to pay": "repayment_plan_request",
    "loan modification,collection,foreclosure": "repayment_plan_request",
    "problem with customer service": "service_quality",
    "dealing with your lender or servicer": "service_quality",
    "can't contact lender or servicer": "service_quality",
    "problem with a credit reporting company's investigation into an existing problem": "service_quality",
    "problem with a company's investigation into an existing problem": "service_quality",
    "problem with a company's investigation into an existing issue": "service_quality",
    "unable to get your credit report or credit score": "service_quality",
    "managing an account": "service_quality",
    "managing the loan or lease": "service_quality",
}

# "Improper contact" sub-issues that are about contact after a stop request, not third parties.
CONTACT_AFTER_STOP = ("contacted me after i asked not to",)

SOURCE_MAP = {
    "web": "form", "web referral": "regulator", "referral": "regulator", "phone": "hotline",
    "postal mail": "letter", "fax": "letter", "email": "email",
}
RESOLUTION_MAP = {
    "closed with explanation": "explanation",
    "closed with monetary relief": "monetary_relief",
    "closed with relief": "monetary_relief",
    "closed with non-monetary relief": "non_monetary_relief",
    "closed without relief": "no_action",
    "closed": "no_action",
    "untimely response": "no_action",
}
OPEN_RESPONSES = ("in progress",)

assert set(ISSUE_MAP.values()) <= set(taxonomy.COMPLAINT_ISSUES)


def _norm(text: object) -> str:
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return ""
    return re.sub(r"\s+", " ", str(text).replace("\u2019", "'")).strip().lower()


def is_cfpb(headers: list[str]) -> bool:
    """Whether a file's headers are those of a CFPB complaint export."""
    have = {_norm(h) for h in headers}
    return all(h in have for h in SIGNATURE)


def map_issue(issue: object, sub_issue: object = None) -> str:
    """The taxonomy key for a CFPB Issue (and Sub-issue); 'other' when no theme fits."""
    key = _norm(issue)
    mapped = ISSUE_MAP.get(key, "other")
    if key == "improper contact or sharing of info" and _norm(sub_issue) in CONTACT_AFTER_STOP:
        return "communication_tactics"
    return mapped


def map_source(submitted_via: object) -> str | None:
    """The complaint source for CFPB 'Submitted via' (unknown values pass through to be rejected)."""
    key = _norm(submitted_via)
    return SOURCE_MAP.get(key, key or None)


def map_resolution(response: object) -> str | None:
    """The resolution for 'Company response to consumer'; None while the complaint is in progress."""
    return RESOLUTION_MAP.get(_norm(response))


def map_status(response: object) -> str:
    """investigating while the company response is in progress, else closed."""
    return "investigating" if _norm(response) in OPEN_RESPONSES else "closed"


def _received_at(value: object) -> str | None:
    text = _norm(value)
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if m:
        return f"{m[3]}-{int(m[1]):02d}-{int(m[2]):02d}"
    return text or None


def to_contract(raw: pd.DataFrame) -> pd.DataFrame:
    """Map a CFPB export (original headers, text values) to the complaints upload columns."""
    cols = {_norm(c): c for c in raw.columns}

    def col(name: str) -> pd.Series:
        source = cols.get(name)
        if source is None:
            return pd.Series([None] * len(raw), index=raw.index, dtype=object)
        return raw[source].astype(object).where(raw[source].notna(), None)

    def blank_to_none(series: pd.Series) -> pd.Series:
        return series.map(lambda v: None if v is None or str(v).strip() == "" else str(v))

    issue, sub_issue = col("issue"), col("sub-issue")
    response = col("company response to consumer")
    return pd.DataFrame({
        "complaint_id": blank_to_none(col("complaint id")),
        "received_at": col("date received").map(_received_at),
        "source": col("submitted via").map(map_source),
        "issue": [map_issue(i, s) for i, s in zip(issue, sub_issue, strict=True)],
        "sub_issue": blank_to_none(sub_issue),
        "narrative": blank_to_none(col("consumer complaint narrative")),
        "status": response.map(map_status),
        "resolution": response.map(map_resolution),
        "issue_verbatim": blank_to_none(issue),
        "sub_issue_verbatim": blank_to_none(sub_issue),
        "timely_response": blank_to_none(col("timely response?")),
    }, index=raw.index)
