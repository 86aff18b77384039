"""The improvement loop: actions traced to a root cause, their status flow on the audit trail, and
their measured effect.

Actions move planned -> in_progress -> done -> reviewed, one step at a time. Creation and every status
step append an event to the complaint audit chain (portal.complaints.append_event) with the action id
in complaint_id, so `portal audit verify` covers them too.

Measured effect: a difference-in-differences over calendar months. The after window starts at the
action's start date (or the first whole month after it when it starts mid-month; the month it starts in
is left out as a transition); the before window is the same number of whole months just before it,
at most MAX_WINDOW_MONTHS. The treated group is the action's segment, the control group everyone else.
For a rate (complaints per 10,000 contacts or overdue accounts) the estimate is
(treated after - treated before) - (control after - control before) in events per 10,000, with a
normal approximation that treats each event count as Poisson (variance of a rate = events / exposure²);
the relative effect, the ratio of the two rate ratios (treated after/before over control after/before),
gets a log-scale interval with variance sum(1 / events), and the verdict of a rate follows that
interval, because complaint rates move multiplicatively with contact intensity. For a proportion (cure, rpc or ptp rate) the variance of each share is p(1 - p) / n.
Both ignore clustering of events within accounts, so intervals are somewhat narrow when a few accounts
complain repeatedly. When the data hold no month before the start (a change in place from the
beginning, such as a champion/challenger split), the estimate is the plain treated - control
difference over the after window. The verdict is "improved" or "worse" when the 95% interval excludes
zero (in the KPI's good or bad direction) and "no detectable change" otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from portal import complaints, stats
from portal import db as dbmod

STATUSES = ("planned", "in_progress", "done", "reviewed")
NEXT_STATUS = {"planned": "in_progress", "in_progress": "done", "done": "reviewed"}
SEGMENT_KINDS = ("agency", "agent", "strategy", "region", "product")
RATE_SEGMENTS = ("all", "agency", "agent", "strategy", "region", "product", "channel")
CAUSE_GROUPS = ("root_cause", "issue", "channel", "agent", "agency", "strategy")
EDIT_ROLES = ("compliance", "analyst", "admin")
VERDICTS = ("improved", "no_change", "worse", "insufficient")
MAX_WINDOW_MONTHS = 6
COMPLAINT_KPI = "complaints_per_10k_contacts"
TEXT_LIMITS = {"title": 200, "root_cause": 200, "owner": 100, "change_made": 2000, "segment_value": 64}


@dataclass(frozen=True)
class Kpi:
    """A target KPI: events over exposure in the effect inputs, its kind and its good direction."""

    events: str
    exposure: str
    kind: str  # "rate" (per 10,000) or "proportion"
    higher_is_better: bool

    @property
    def scale(self) -> float:
        return 10_000.0 if self.kind == "rate" else 1.0


TARGET_KPIS: dict[str, Kpi] = {
    "complaints_per_10k_contacts": Kpi("complaints", "contacts", "rate", False),
    "complaints_per_10k_overdue": Kpi("complaints", "overdue_accounts", "rate", False),
    "cure_rate": Kpi("cured_accounts", "overdue_accounts", "proportion", True),
    "rpc_rate": Kpi("rpc_contacts", "contacts", "proportion", True),
    "ptp_rate": Kpi("ptp_contacts", "contacts", "proportion", True),
}


class ActionError(ValueError):
    """An action that cannot be saved or moved: `errors` maps each field to an error code."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class ActionInput:
    """A validated new improvement action."""

    title: str
    root_cause: str
    owner: str
    start_on: dt.date
    change_made: str
    target_kpi: str
    target_value: float | None
    segment_kind: str | None
    segment_value: str | None


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def validate_action(raw: Mapping[str, Any]) -> tuple[ActionInput | None, dict[str, str]]:
    """Check a create-action form; return the action or a field -> error-code map."""
    errors: dict[str, str] = {}
    texts = {}
    for key in ("title", "root_cause", "owner", "change_made"):
        texts[key] = _text(raw, key)
        if not texts[key]:
            errors[key] = "required"
        elif len(texts[key]) > TEXT_LIMITS[key]:
            errors[key] = "too_long"
    start_on = raw.get("start_on")
    if isinstance(start_on, str) and start_on.strip():
        try:
            start_on = dt.date.fromisoformat(start_on.strip())
        except ValueError:
            start_on = None
            errors["start_on"] = "bad_date"
    elif isinstance(start_on, dt.datetime):
        start_on = start_on.date()
    if "start_on" not in errors and not isinstance(start_on, dt.date):
        errors["start_on"] = "required"
    kpi = _text(raw, "target_kpi")
    if kpi not in TARGET_KPIS:
        errors["target_kpi"] = "choose" if not kpi else "unknown"
    target_value = raw.get("target_value")
    if target_value is None or (isinstance(target_value, str) and not target_value.strip()):
        target_value = None
    else:
        try:
            target_value = float(target_value)
            if not math.isfinite(target_value) or target_value < 0:
                raise ValueError(target_value)
            if kpi in TARGET_KPIS and TARGET_KPIS[kpi].kind == "proportion" and target_value > 1:
                errors["target_value"] = "share"
        except (TypeError, ValueError):
            errors["target_value"] = "number"
    kind = _text(raw, "segment_kind") or None
    value = _text(raw, "segment_value") or None
    if kind is not None and kind not in SEGMENT_KINDS:
        errors["segment_kind"] = "unknown"
    if kind and not value:
        errors["segment_value"] = "required"
    elif value and not kind:
        errors["segment_kind"] = "required"
    elif value and len(value) > TEXT_LIMITS["segment_value"]:
        errors["segment_value"] = "too_long"
    if errors:
        return None, errors
    return ActionInput(texts["title"], texts["root_cause"], texts["owner"], start_on, texts["change_made"],
                       kpi, target_value, kind, value), {}


def create_action(raw: Mapping[str, Any], actor: str, *, db: str | Path | None = None) -> str:
    """Validate and save a new action in status planned, with its creation event; return its id."""
    action, errors = validate_action(raw)
    if action is None:
        raise ActionError(errors)

    def fn(cur: Any) -> str:
        # The audit append updates the chain head row, so concurrent creates conflict and retry:
        # the id chosen here cannot be taken twice.
        top = cur.execute(
            "select max(try_cast(substr(action_id, 4) as integer)) from improvement_actions"
            " where action_id like 'IA-%'"
        ).fetchone()[0]
        action_id = f"IA-{(top or 0) + 1:04d}"
        cur.execute(
            "insert into improvement_actions (action_id, title, root_cause, owner, start_on, change_made,"
            " target_kpi, target_value, status, segment_kind, segment_value, created_by, created_at)"
            " values ($id, $title, $root_cause, $owner, $start_on, $change_made, $target_kpi, $target_value,"
            " 'planned', $segment_kind, $segment_value, $actor, now())",
            {"id": action_id, "actor": actor, **action.__dict__},
        )
        complaints.append_event(cur, action_id, actor, "action_created", "status", None, "planned",
                                note=action.title)
        return action_id

    return complaints.write(fn, db=db, retries=complaints.WRITE_RETRIES)


def get_action(action_id: str, *, db: str | Path | None = None) -> dict[str, Any]:
    """One action as a dict; ActionError(not_found) when there is none."""
    frame = dbmod.read("select * from improvement_actions where action_id = $id", {"id": action_id}, db=db)
    if frame.empty:
        raise ActionError({"action_id": "not_found"})
    row = frame.iloc[0].to_dict()
    return {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in row.items()}


def next_status(status: str) -> str | None:
    """The one status an action may move to from status (None when reviewed)."""
    return NEXT_STATUS.get(status)


def set_status(action_id: str, to_status: str, actor: str, note: str | None = None, *,
               db: str | Path | None = None) -> int:
    """Move an action one step along the flow and append the step to the audit trail; return the event id."""
    if to_status not in STATUSES:
        raise ActionError({"status": "unknown"})

    def fn(cur: Any) -> int:
        row = cur.execute("select status from improvement_actions where action_id = $id",
                          {"id": action_id}).fetchone()
        if row is None:
            raise ActionError({"action_id": "not_found"})
        if NEXT_STATUS.get(row[0]) != to_status:
            raise ActionError({"status": "illegal_transition"})
        cur.execute("update improvement_actions set status = $s where action_id = $id",
                    {"s": to_status, "id": action_id})
        return complaints.append_event(cur, action_id, actor, "action_status", "status", row[0], to_status,
                                       note=note)

    return complaints.write(fn, db=db, retries=complaints.WRITE_RETRIES)


def action_events(action_id: str, *, db: str | Path | None = None) -> pd.DataFrame:
    """The audit-trail events of one action, oldest first."""
    return dbmod.read(
        "select event_id, event_at, actor, action, from_value, to_value, note from complaint_events"
        " where complaint_id = $id order by event_id", {"id": action_id}, db=db)


@dataclass(frozen=True)
class Effect:
    """The measured effect of an action on one KPI, in the KPI's display units (per 10,000 or a share)."""

    kpi: str
    method: str  # "did", "post_difference" or "none"
    months: int
    before: tuple[dt.date, dt.date] | None  # [first month, last month]
    after: tuple[dt.date, dt.date] | None
    treated_before: float
    treated_after: float
    control_before: float
    control_after: float
    difference: stats.Difference
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None

    @property
    def estimate(self) -> float:
        return self.difference.estimate

    @property
    def low(self) -> float:
        return self.difference.low

    @property
    def high(self) -> float:
        return self.difference.high

    @property
    def verdict(self) -> str:
        """improved, worse, no_change or insufficient (rates: from the ratio interval when there is one)."""
        if math.isnan(self.estimate):
            return "insufficient"
        if self.ratio is not None:
            if self.ratio_low <= 1 <= self.ratio_high:
                return "no_change"
            up = self.ratio > 1
        elif not self.difference.significant:
            return "no_change"
        else:
            up = self.estimate > 0
        return "improved" if up == TARGET_KPIS[self.kpi].higher_is_better else "worse"


def _month(value: Any) -> dt.date:
    return pd.Timestamp(value).date().replace(day=1)


def effect_windows(months: list[dt.date], start_on: dt.date, max_months: int = MAX_WINDOW_MONTHS
                   ) -> tuple[list[dt.date], list[dt.date]]:
    """The before and after months of equal length around start_on (before is empty without history)."""
    start_month = start_on.replace(day=1)
    first_after = start_month if start_on.day == 1 else (start_month + dt.timedelta(days=32)).replace(day=1)
    before = sorted(m for m in months if m < start_month)
    after = sorted(m for m in months if m >= first_after)
    n = min(len(before), len(after), max_months)
    if n == 0:
        return [], after[:max_months]
    return before[-n:], after[:n]


def _span(months: list[dt.date]) -> tuple[dt.date, dt.date] | None:
    return (months[0], months[-1]) if months else None


def _nan_effect(kpi: str, before, after) -> Effect:
    nan = float("nan")
    diff = stats.Difference(nan, nan, nan, nan, nan, 0, 0, "did")
    return Effect(kpi, "none", 0, before, after, nan, nan, nan, nan, diff)


def estimate_effect(inputs: pd.DataFrame, start_on: dt.date, kpi: str = COMPLAINT_KPI,
                    max_months: int = MAX_WINDOW_MONTHS) -> Effect:
    """The difference-in-differences effect of a change started on start_on, from action_effect_inputs rows."""
    spec = TARGET_KPIS[kpi]
    frame = inputs.copy()
    frame["month"] = [_month(m) for m in frame["month"]]
    frame = frame[frame[spec.events].notna()]
    exposed = frame.groupby("month")[spec.exposure].min()
    months = sorted(m for m, x in exposed.items() if x > 0 and len(frame[frame["month"] == m]) == 2)
    before, after = effect_windows(months, start_on, max_months)
    if not after:
        return _nan_effect(kpi, _span(before), None)

    def totals(group: str, window: list[dt.date]) -> tuple[float, float]:
        part = frame[(frame["group_name"] == group) & frame["month"].isin(window)]
        return float(part[spec.events].sum()), float(part[spec.exposure].sum())

    et1, xt1 = totals("treated", after)
    ec1, xc1 = totals("control", after)
    scale = spec.scale
    if not before:
        if spec.kind == "proportion":
            diff = stats.diff_proportions(int(ec1), int(xc1), int(et1), int(xt1))
        else:
            est = et1 / xt1 - ec1 / xc1
            half = stats.Z95 * math.sqrt(et1 / xt1**2 + ec1 / xc1**2)
            diff = stats.Difference(est * scale, (est - half) * scale, (est + half) * scale,
                                    ec1 / xc1 * scale, et1 / xt1 * scale, int(xc1), int(xt1), "rate")
        nan = float("nan")
        ratio = _ratio_ci([(et1, xt1)], [(ec1, xc1)]) if spec.kind == "rate" else (None, None, None)
        return Effect(kpi, "post_difference", len(after), None, _span(after), nan, et1 / xt1 * scale, nan,
                      ec1 / xc1 * scale, diff, *ratio)

    et0, xt0 = totals("treated", before)
    ec0, xc0 = totals("control", before)
    cells = [(et0, xt0), (et1, xt1), (ec0, xc0), (ec1, xc1)]
    rt0, rt1, rc0, rc1 = (e / x for e, x in cells)
    est = (rt1 - rt0) - (rc1 - rc0)
    if spec.kind == "proportion":
        var = sum((e / x) * (1 - e / x) / x for e, x in cells)
    else:
        var = sum(e / x**2 for e, x in cells)
    half = stats.Z95 * math.sqrt(var)
    diff = stats.Difference(est * scale, (est - half) * scale, (est + half) * scale, (rt0 - rc0) * scale,
                            (rt1 - rc1) * scale, int(xt0 + xc0), int(xt1 + xc1), "did")
    ratio = _ratio_ci([(et1, xt1), (ec0, xc0)], [(et0, xt0), (ec1, xc1)]) if spec.kind == "rate" \
        else (None, None, None)
    return Effect(kpi, "did", len(after), _span(before), _span(after), rt0 * scale, rt1 * scale, rc0 * scale,
                  rc1 * scale, diff, *ratio)


def _ratio_ci(upper: list[tuple[float, float]], lower: list[tuple[float, float]]
              ) -> tuple[float | None, float | None, float | None]:
    """prod(upper rates) / prod(lower rates) with a 95% log-scale Poisson interval; Nones if a count is 0."""
    cells = upper + lower
    if any(e <= 0 or x <= 0 for e, x in cells):
        return None, None, None
    log_ratio = sum(math.log(e / x) for e, x in upper) - sum(math.log(e / x) for e, x in lower)
    log_half = stats.Z95 * math.sqrt(sum(1 / e for e, _ in cells))
    return math.exp(log_ratio), math.exp(log_ratio - log_half), math.exp(log_ratio + log_half)


def effect_series(inputs: pd.DataFrame, kpi: str = COMPLAINT_KPI) -> pd.DataFrame:
    """Treated and control KPI values by month (display units), for the measured-effect chart."""
    spec = TARGET_KPIS[kpi]
    frame = inputs[["month", "group_name", spec.events, spec.exposure]].copy()
    frame["month"] = [_month(m) for m in frame["month"]]
    exposure = frame[spec.exposure].astype(float).where(frame[spec.exposure] > 0)
    frame["value"] = frame[spec.events].astype(float) / exposure * spec.scale
    return frame[["month", "group_name", "value"]].dropna().reset_index(drop=True)


def effect_inputs(action: Mapping[str, Any], *, db: str | Path | None = None,
                  bucket: list[str] | None = None) -> pd.DataFrame:
    """The action_effect_inputs rows of an action's segment (empty when it names no segment)."""
    if not action.get("segment_kind") or not action.get("segment_value"):
        return pd.DataFrame(columns=["month", "group_name", "contacts", "rpc_contacts", "ptp_contacts",
                                     "complaints", "overdue_accounts", "cured_accounts"])
    return dbmod.query("action_effect_inputs", db=db, segment_kind=action["segment_kind"],
                       segment_value=action["segment_value"], bucket=bucket)


def measure_action(action: Mapping[str, Any], *, db: str | Path | None = None,
                   inputs: pd.DataFrame | None = None) -> dict[str, Effect]:
    """The measured effect of an action on the complaint rate and on its target KPI (when different)."""
    frame = effect_inputs(action, db=db) if inputs is None else inputs
    start_on = pd.Timestamp(action["start_on"]).date()
    kpis = [COMPLAINT_KPI] + ([action["target_kpi"]] if action.get("target_kpi") in TARGET_KPIS
                              and action["target_kpi"] != COMPLAINT_KPI else [])
    if frame.empty:
        return {k: _nan_effect(k, None, None) for k in kpis}
    return {k: estimate_effect(frame, start_on, k) for k in kpis}
