"""Flexible repayment plans: the schedule, offers from the complaint workbench, the customer's answer
on the ticket page, and the 90-day cure comparison against a control group.

An offer is not a plan. It lives in `plan_offers` (offered -> accepted | declined | withdrawn) until the
customer answers; only an accepted offer becomes a `repayment_plans` row, with agreed_on the day of
acceptance. The contract's plan statuses (active, completed, broken, cancelled) describe agreed plans,
agreed_on is required and first_due_on >= agreed_on, so an unanswered offer stored as a plan would need
a null agreed_on and a status outside the contract, and every reader (uploads, the derived schedule,
the outcomes) would have to filter it out. An offer can be answered until its first due date.

Every offer, answer and withdrawal appends an event to the complaint's audit chain in the same
transaction (complaints.append_event). Accepting sets the complaint's resolution to repayment_plan
through complaints.record_resolution, so that change is an event of its own.

Schedule (DOMAIN.md): `instalments` equal parts of `amount`, due monthly from first_due_on; a deferral
is one instalment. Parts are whole cents: instalment k's cumulative amount is
floor(cents * k / instalments), so the parts add up exactly and the last takes the remainder. The same
rule is SQL in queries/derived/repayment_plan_instalments.sql.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hmac
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from portal import complaints, config, derived, i18n, stats
from portal import db as dbmod
from portal.i18n import t
from portal.taxonomy import PLAN_MAX_INSTALMENTS, PLAN_STATUSES, PLAN_TYPES

STATUSES = PLAN_STATUSES  # of agreed plans (the contract)

OFFER_STATUSES = ("offered", "accepted", "declined", "withdrawn")
ANSWER_CHANNELS = ("ticket", "phone", "branch", "letter")  # the customer on the ticket page, or via staff
GRACE_DAYS = 3
CURE_DAYS = 90
FIRST_DUE_MAX_DAYS = 180
AMOUNT_MAX = Decimal("10000000")
NOTE_MAX = 2000
ANSWER_LIMIT = 10  # answers per client per complaints.RATE_WINDOW
MIN_PLANS = 20  # fewer comparable plans than this: "not enough data"
BUCKET_GROUPS = {"early": ("M1", "M2"), "late": ("M3", "M4", "M5", "M6", "M6+")}
SEGMENTS = ("bucket", "product", "region", "risk_grade", "agreed_month")  # repayment_plan_kept's segment
VERDICTS = ("higher", "no_difference", "lower", "insufficient")


class PlanError(ValueError):
    """A refused plan action, with a catalogue key (plans.err.*) for the UI; `fields` maps each bad
    field of refused terms to its own catalogue key."""

    def __init__(self, key: str, fields: Mapping[str, str] | None = None, **values: Any) -> None:
        self.key = f"plans.err.{key}"
        self.values = values
        self.fields = dict(fields or {})
        super().__init__(t(self.key, lang="en", **values))

    def localized(self) -> str:
        """The message in the current UI language."""
        return t(self.key, **self.values)


def _tz() -> ZoneInfo:
    return ZoneInfo(config.setting("timezone"))


def local_tz() -> ZoneInfo:
    """The portal's time zone (dates of plans and offers are local dates in it)."""
    return _tz()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_date(when: dt.datetime) -> dt.date:
    """The calendar day of a moment in the portal's time zone."""
    return (when if when.tzinfo else when.replace(tzinfo=_tz())).astimezone(_tz()).date()


def add_months(day: dt.date, months: int) -> dt.date:
    """day + months, clamped to the last day of the month (31 Jan + 1 month = 28 or 29 Feb), as DuckDB does."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return dt.date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def to_cents(amount: Decimal | float | str) -> int:
    """An amount in yuan (at most 2 decimals) as whole cents."""
    return int((Decimal(str(amount)) * 100).to_integral_value())


@dataclass(frozen=True)
class Instalment:
    """One instalment of a schedule: its number, due date, amount and the cumulative amount so far."""

    number: int
    due_on: dt.date
    amount: Decimal
    cumulative: Decimal


def schedule(amount: Decimal | float | str, instalments: int, first_due_on: dt.date) -> list[Instalment]:
    """The schedule of a plan: `instalments` whole-cent parts of amount, due monthly from first_due_on."""
    cents, n = to_cents(amount), int(instalments)
    out, previous = [], 0
    for k in range(1, n + 1):
        cumulative = cents * k // n
        out.append(Instalment(k, add_months(first_due_on, k - 1), Decimal(cumulative - previous) / 100,
                              Decimal(cumulative) / 100))
        previous = cumulative
    return out


def format_amount(value: Decimal | float | None) -> str:
    """An amount in yuan for people: ¥1,234.50."""
    if value is None:
        return "–"
    return f"¥{Decimal(str(value)).quantize(Decimal('0.01')):,}"


def schedule_frame(items: Iterable[Instalment]) -> pd.DataFrame:
    """A schedule as display text (no, due date, amount, cumulative), for a table shown to people."""
    rows = [{"no": i.number, "due_on": i.due_on.isoformat(), "amount": format_amount(i.amount),
             "cumulative": format_amount(i.cumulative)} for i in items]
    return pd.DataFrame(rows, columns=["no", "due_on", "amount", "cumulative"])


def schedule_labels() -> dict[str, str]:
    """Column headers of schedule_frame in the current UI language."""
    return {c: t(f"plans.schedule.{c}") for c in ("no", "due_on", "amount", "cumulative")}


@dataclass(frozen=True)
class Terms:
    """Validated terms of an offer."""

    plan_type: str
    amount: Decimal
    instalments: int
    first_due_on: dt.date

    @property
    def schedule(self) -> list[Instalment]:
        return schedule(self.amount, self.instalments, self.first_due_on)


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def validate_terms(raw: Mapping[str, Any], today: dt.date) -> tuple[Terms | None, dict[str, str]]:
    """Check offer terms server-side; return the terms or {field: catalogue key} errors."""
    errors: dict[str, str] = {}
    plan_type = str(raw.get("plan_type") or "")
    if plan_type not in PLAN_TYPES:
        errors["plan_type"] = "plans.err.plan_type"
    amount = _decimal(raw.get("amount"))
    if amount is None or amount <= 0 or amount > AMOUNT_MAX or amount != amount.quantize(Decimal("0.01")):
        errors["amount"] = "plans.err.amount"
    instalments = _whole(raw.get("instalments"))
    if instalments is None or not 1 <= instalments <= PLAN_MAX_INSTALMENTS:
        errors["instalments"] = "plans.err.instalments"
    elif plan_type == "deferral" and instalments != 1:
        errors["instalments"] = "plans.err.deferral_instalments"
    first_due_on = _date(raw.get("first_due_on"))
    if first_due_on is None:
        errors["first_due_on"] = "plans.err.first_due_on"
    elif first_due_on < today:
        errors["first_due_on"] = "plans.err.first_due_past"
    elif first_due_on > today + dt.timedelta(days=FIRST_DUE_MAX_DAYS):
        errors["first_due_on"] = "plans.err.first_due_far"
    if errors:
        return None, errors
    return Terms(plan_type, amount.quantize(Decimal("0.01")), instalments, first_due_on), {}


@dataclass(frozen=True)
class Offer:
    """A plan offered on a complaint, and the customer's answer."""

    offer_id: int
    complaint_id: str
    loan_id: str
    plan_type: str
    amount: Decimal
    instalments: int
    first_due_on: dt.date
    status: str
    offered_by: str
    offered_at: dt.datetime
    note: str | None = None
    answered_by: str | None = None
    answered_at: dt.datetime | None = None
    plan_id: str | None = None

    @property
    def schedule(self) -> list[Instalment]:
        return schedule(self.amount, self.instalments, self.first_due_on)

    def is_open(self, today: dt.date) -> bool:
        """Whether the customer can still answer: offered, and the first due date not passed."""
        return self.status == "offered" and self.first_due_on >= today

    def shown_status(self, today: dt.date) -> str:
        """The status to show: an unanswered offer past its first due date is 'expired'."""
        return "expired" if self.status == "offered" and self.first_due_on < today else self.status


_OFFER_COLUMNS = ("offer_id, complaint_id, loan_id, plan_type, amount, instalments, first_due_on, status, "
                  "offered_by, offered_at, note, answered_by, answered_at, plan_id")


def _offer(row: Mapping[str, Any]) -> Offer:
    def clean(value: Any) -> Any:
        return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value

    def when(value: Any) -> dt.datetime | None:
        value = clean(value)
        return None if value is None else pd.Timestamp(value).to_pydatetime()

    return Offer(
        offer_id=int(row["offer_id"]), complaint_id=str(row["complaint_id"]), loan_id=str(row["loan_id"]),
        plan_type=str(row["plan_type"]), amount=Decimal(str(row["amount"])).quantize(Decimal("0.01")),
        instalments=int(row["instalments"]), first_due_on=pd.Timestamp(row["first_due_on"]).date(),
        status=str(row["status"]), offered_by=str(row["offered_by"]), offered_at=when(row["offered_at"]),
        note=clean(row["note"]), answered_by=clean(row["answered_by"]), answered_at=when(row["answered_at"]),
        plan_id=clean(row["plan_id"]),
    )


def offers(complaint_id: str, *, db: str | Path | None = None) -> list[Offer]:
    """The offers made on a complaint, newest first."""
    frame = dbmod.read(f"select {_OFFER_COLUMNS} from plan_offers where complaint_id = $c "  # noqa: S608 (fixed columns)
                       "order by offer_id desc", {"c": complaint_id}, db=db)
    return [_offer(r) for r in frame.astype(object).to_dict("records")]


def offers_frame(items: Iterable[Offer], today: dt.date) -> pd.DataFrame:
    """Offers as a table for the workbench: terms, shown status (expired when past its first due date)."""
    rows = [{"offer_id": o.offer_id, "plan_type": i18n.label("plan_type", o.plan_type), "amount": float(o.amount),
             "instalments": o.instalments, "first_due_on": o.first_due_on,
             "status": i18n.label("offer_status", o.shown_status(today)), "offered_by": o.offered_by,
             "offered_at": o.offered_at, "answered_by": o.answered_by, "answered_at": o.answered_at,
             "plan_id": o.plan_id} for o in items]
    return pd.DataFrame(rows, columns=["offer_id", "plan_type", "amount", "instalments", "first_due_on", "status",
                                       "offered_by", "offered_at", "answered_by", "answered_at", "plan_id"])


def _offer_for_update(cur: Any, offer_id: int) -> Offer:
    res = cur.execute(f"select {_OFFER_COLUMNS} from plan_offers where offer_id = $id",  # noqa: S608 (fixed columns)
                      {"id": int(offer_id)})
    row = res.fetchone()
    if row is None:
        raise PlanError("offer_not_found", offer_id=offer_id)
    return _offer(dict(zip([d[0] for d in res.description], row, strict=True)))


def requests_plan(issue: str | None, plan_type: str | None) -> bool:
    """Whether a complaint asks for a plan: the form's plan request, or the issue repayment_plan_request."""
    return plan_type in PLAN_TYPES or issue == "repayment_plan_request"


def _complaint(cur: Any, complaint_id: str) -> dict[str, Any]:
    res = cur.execute("select complaint_id, status, issue, plan_type, loan_id from complaints "
                      "where complaint_id = $id limit 1", {"id": complaint_id})
    row = res.fetchone()
    if row is None:
        raise PlanError("complaint_not_found", complaint_id=complaint_id)
    return dict(zip([d[0] for d in res.description], row, strict=True))


def terms_text(plan_type: str, amount: Decimal, instalments: int, first_due_on: dt.date, lang: str = "en") -> str:
    """A one-line summary of plan terms (audit notes use English; the ticket page the reader's language)."""
    items = schedule(amount, instalments, first_due_on)
    if plan_type == "deferral":
        return t("plans.terms.deferral", lang, amount=format_amount(amount), due_on=first_due_on.isoformat())
    return t("plans.terms.instalments", lang, n=instalments, each=format_amount(items[0].amount),
             first=first_due_on.isoformat(), last=items[-1].due_on.isoformat(), amount=format_amount(amount))


def _note(note: str | None) -> str | None:
    text = (note or "").strip() or None
    if text and len(text) > NOTE_MAX:
        raise PlanError("note_too_long", limit=NOTE_MAX)
    return text


def offer_in(cur: Any, complaint_id: str, actor: str, terms: Terms, note: str | None, when: dt.datetime) -> Offer:
    """Offer validated terms on a complaint, inside the caller's transaction (offer() is the usual door)."""
    row = _complaint(cur, complaint_id)
    if row["status"] == "closed":
        raise PlanError("complaint_closed")
    if not requests_plan(row["issue"], row["plan_type"]):
        raise PlanError("not_requested")
    if not row["loan_id"]:
        raise PlanError("no_loan")
    if not cur.execute("select count(*) from loans where loan_id = $l", {"l": row["loan_id"]}).fetchone()[0]:
        raise PlanError("unknown_loan", loan_id=row["loan_id"])
    open_offers = cur.execute(
        "select offer_id from plan_offers where complaint_id = $c and status = 'offered' and first_due_on >= $d",
        {"c": complaint_id, "d": local_date(when)}).fetchall()
    if open_offers:
        raise PlanError("offer_open", offer_id=open_offers[0][0])
    offer_id = int(cur.execute("select nextval('plan_offer_id_seq')").fetchone()[0])
    cur.execute(
        "insert into plan_offers (offer_id, complaint_id, loan_id, plan_type, amount, instalments, first_due_on,"
        " status, offered_by, offered_at, note) values ($id, $c, $l, $type, $amount, $n, $first, 'offered',"
        " $by, $at, $note)",
        {"id": offer_id, "c": complaint_id, "l": row["loan_id"], "type": terms.plan_type, "amount": terms.amount,
         "n": terms.instalments, "first": terms.first_due_on, "by": actor, "at": when, "note": note})
    summary = terms_text(terms.plan_type, terms.amount, terms.instalments, terms.first_due_on)
    complaints.append_event(cur, complaint_id, actor, "plan_offered", "plan_offer", None,
                            f"offer {offer_id}: {summary}", note, when)
    return _offer_for_update(cur, offer_id)


def offer(complaint_id: str, actor: str, raw: Mapping[str, Any], note: str | None = None, *,
          now: dt.datetime | None = None, db: str | Path | None = None) -> Offer:
    """Offer a plan on a complaint that asks for one; raises PlanError (with field errors) when refused.

    The complaint must ask for a plan, name a known loan, not be closed and have no offer still open.
    """
    when = now or _now()
    terms, errors = validate_terms(raw, local_date(when))
    if terms is None:
        raise PlanError("invalid_terms", errors)
    text = _note(note)
    return complaints.write(lambda cur: offer_in(cur, complaint_id, actor, terms, text, when), db=db,
                       retries=complaints.WRITE_RETRIES)


def withdraw(offer_id: int, actor: str, note: str | None = None, *, now: dt.datetime | None = None,
             db: str | Path | None = None) -> Offer:
    """Withdraw an offer the customer has not answered (audited)."""
    when = now or _now()
    text = _note(note)

    def fn(cur: Any) -> Offer:
        current = _offer_for_update(cur, offer_id)
        if current.status != "offered":
            raise PlanError("not_open", status=current.status)
        cur.execute("update plan_offers set status = 'withdrawn', answered_by = $by, answered_at = $at "
                    "where offer_id = $id", {"by": actor, "at": when, "id": current.offer_id})
        complaints.append_event(cur, current.complaint_id, actor, "plan_withdrawn", "plan_offer", "offered",
                                "withdrawn", text or f"offer {current.offer_id}", when)
        return _offer_for_update(cur, current.offer_id)

    return complaints.write(fn, db=db, retries=complaints.WRITE_RETRIES)


@dataclass(frozen=True)
class Answer:
    """What an answer did: the offer as it is now, the plan it created and whether the resolution was set."""

    offer: Offer
    plan_id: str | None
    resolution_recorded: bool
    resolution_error: str | None = None


def _new_plan_id(cur: Any, offer_id: int) -> str:
    base = f"RP-{offer_id:06d}"
    candidate, suffix = base, 1
    while cur.execute("select count(*) from repayment_plans where plan_id = $p", {"p": candidate}).fetchone()[0]:
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


def refresh_loans(cur: Any, loan_ids: Iterable[str]) -> None:
    """Bring the derived plan facts of these loans up to date inside the caller's transaction."""
    ids = sorted(set(loan_ids))
    if not ids:
        return
    stale_before = frozenset(derived.stale(cur))
    cur.execute("create or replace temp table _affected_loans as select unnest($ids::varchar[]) as loan_id",
                {"ids": ids})
    try:
        derived.refresh(cur, derived.Change(frozenset({"repayment_plans"}), full=False, stale_before=stale_before))
    finally:
        cur.execute("drop table if exists _affected_loans")


def answer_in(cur: Any, offer_id: int, accept: bool, actor: str, channel: str, note: str | None,
              when: dt.datetime, refresh: bool = True) -> tuple[Offer, str | None]:
    """Record an answer inside the caller's transaction: the plan (when accepted), the offer's new state and
    the audit event. answer() is the usual door; it also sets the complaint's resolution afterwards."""
    if channel not in ANSWER_CHANNELS:
        raise PlanError("channel", channel=channel)
    today = local_date(when)
    current = _offer_for_update(cur, offer_id)
    if current.status != "offered":
        raise PlanError("not_open", status=current.status)
    if current.first_due_on < today:
        raise PlanError("offer_expired", first_due_on=current.first_due_on.isoformat())
    if _complaint(cur, current.complaint_id)["status"] == "closed":
        raise PlanError("complaint_closed")
    plan_id = None
    if accept:
        plan_id = _new_plan_id(cur, current.offer_id)
        cur.execute(
            "insert into repayment_plans (plan_id, loan_id, complaint_id, plan_type, agreed_on, amount,"
            " instalments, first_due_on, status, offer_id) values ($p, $l, $c, $type, $agreed, $amount, $n,"
            " $first, 'active', $o)",
            {"p": plan_id, "l": current.loan_id, "c": current.complaint_id, "type": current.plan_type,
             "agreed": today, "amount": current.amount, "n": current.instalments, "first": current.first_due_on,
             "o": current.offer_id})
    status = "accepted" if accept else "declined"
    cur.execute("update plan_offers set status = $s, answered_by = $by, answered_at = $at, plan_id = $p "
                "where offer_id = $id", {"s": status, "by": actor, "at": when, "p": plan_id, "id": current.offer_id})
    detail = f"offer {current.offer_id}; answered via {channel}" + (f"; plan {plan_id}" if plan_id else "")
    complaints.append_event(cur, current.complaint_id, actor, f"plan_{status}", "plan_offer", "offered", status,
                            f"{detail}; {note}" if note else detail, when)
    if accept and refresh:
        refresh_loans(cur, [current.loan_id])
    return _offer_for_update(cur, current.offer_id), plan_id


def record_plan_resolution(item: Offer, actor: str, when: dt.datetime, *,
                           db: str | Path | None = None) -> Answer:
    """Set the complaint of an accepted offer to resolution repayment_plan, with the terms as the customer's
    answer text, through complaints.record_resolution (its own audited transaction)."""
    public = t("plans.public_resolution", terms=terms_text(item.plan_type, item.amount, item.instalments,
                                                          item.first_due_on, lang=i18n.language()))
    try:
        complaints.record_resolution(item.complaint_id, actor, "repayment_plan", public,
                                     note=f"plan {item.plan_id} agreed (offer {item.offer_id})", now=when, db=db)
    except complaints.ComplaintError as exc:
        # closed between the answer and this step (a race): the plan stands; the workbench shows why
        return Answer(item, item.plan_id, False, str(exc))
    return Answer(item, item.plan_id, True)


def answer(offer_id: int, accept: bool, actor: str, *, channel: str = "ticket", note: str | None = None,
           now: dt.datetime | None = None, db: str | Path | None = None, refresh: bool = True) -> Answer:
    """Record the customer's answer to an open offer; accepting agrees the plan (agreed_on = today).

    channel says how the answer came: 'ticket' (the customer on the ticket page) or 'phone', 'branch',
    'letter' (taken by staff, who is the actor). The plan, the offer's new state and the audit event are
    one transaction; the complaint's resolution (repayment_plan) follows through
    complaints.record_resolution. refresh=False leaves the derived plan facts to the caller (bulk builds).
    """
    when = now or _now()
    text = _note(note)
    updated, plan_id = complaints.write(lambda cur: answer_in(cur, offer_id, accept, actor, channel, text, when, refresh),
                                   db=db, retries=complaints.WRITE_RETRIES)
    if not accept:
        return Answer(updated, None, False)
    return record_plan_resolution(updated, actor, when, db=db)


def _ticket_complaint(ticket: str, last4: str, db: str | Path | None) -> str | None:
    """The complaint behind a (ticket, last 4 digits) pair, or None; a wrong pair and an unknown ticket alike."""
    wanted = complaints.normalise_ticket(ticket or "")
    frame = dbmod.read("select complaint_id, mobile from complaints where ticket = $t limit 1", {"t": wanted}, db=db)
    row = frame.iloc[0] if not frame.empty else None
    stored = str(row["mobile"])[-4:] if row is not None and pd.notna(row["mobile"]) else "\x00\x00\x00\x00"
    matches = hmac.compare_digest(stored.encode(), str(last4 or "").strip().encode())
    return str(row["complaint_id"]) if row is not None and matches else None


def customer_offers(ticket: str, last4: str, *, db: str | Path | None = None) -> list[Offer] | None:
    """The offers on a customer's ticket (the page calls this after a rate-limited lookup), or None."""
    complaint_id = _ticket_complaint(ticket, last4, db)
    if complaint_id is None:
        return None
    return [o for o in offers(complaint_id, db=db) if o.status != "withdrawn"]


def customer_answer(ticket: str, last4: str, offer_id: int, accept: bool, client_key: str, *,
                    now: dt.datetime | None = None, db: str | Path | None = None) -> Answer | str | None:
    """The customer accepts or declines an offer on their ticket: an Answer, None for a wrong
    ticket/digits/offer, or "rate_limited". Raises PlanError when the offer can no longer be answered."""
    if not complaints.allow("plan_answer", client_key, limit=ANSWER_LIMIT, now=now, db=db):
        return "rate_limited"
    complaint_id = _ticket_complaint(ticket, last4, db)
    if complaint_id is None:
        return None
    if not any(o.offer_id == int(offer_id) for o in offers(complaint_id, db=db)):
        return None
    return answer(int(offer_id), accept, "customer", channel="ticket", now=now, db=db)


@dataclass(frozen=True)
class Comparison:
    """The 90-day cure rate of comparable plans against their control, with a 95% interval."""

    plans: int
    cured: int
    control_loans: int
    difference: stats.Difference
    control_variance: float = float("nan")

    @property
    def cure_rate(self) -> float:
        return self.difference.b

    @property
    def control_rate(self) -> float:
        return self.difference.a

    def plan_interval(self) -> tuple[float, float]:
        """The 95% interval of the plans' cure rate (normal approximation, clipped to [0, 1])."""
        interval = stats.proportion_interval(self.cured, self.plans)
        return interval.low, interval.high

    def control_interval(self) -> tuple[float, float]:
        """The 95% interval of the standardised control cure rate."""
        half = stats.Z95 * math.sqrt(self.control_variance)
        return max(0.0, self.control_rate - half), min(1.0, self.control_rate + half)

    @property
    def verdict(self) -> str:
        """higher, lower, no_difference or insufficient (fewer than MIN_PLANS comparable plans)."""
        if self.plans < MIN_PLANS or math.isnan(self.difference.estimate):
            return "insufficient"
        if not self.difference.significant:
            return "no_difference"
        return "higher" if self.difference.estimate > 0 else "lower"


def compare(cells: pd.DataFrame, plan_type: str | None = None, buckets: Iterable[str] | None = None) -> Comparison:
    """Plans' cure rate minus the standardised control rate, from repayment_plan_cure_cells rows.

    Each cell (plan type, month-end before agreement, bucket, product, risk grade, horizon) with control
    loans contributes its plans; the control rate is the cells' control cure rates averaged over the
    plans (direct standardisation). Variance: p(1 - p) / N for the plans plus the sum over cells of
    (plans_c / N)^2 r_c (1 - r_c) / control_c for the standardised control (normal approximation).
    """
    frame = cells[cells["control_loans"] > 0]
    if plan_type is not None:
        frame = frame[frame["plan_type"] == plan_type]
    if buckets is not None:
        frame = frame[frame["bucket"].isin(list(buckets))]
    n = int(frame["plans"].sum())
    cured = int(frame["cured"].sum())
    controls = int(frame["control_loans"].sum())
    if n == 0:
        nan = float("nan")
        return Comparison(0, 0, controls, stats.Difference(nan, nan, nan, nan, nan, controls, 0, "proportion"))
    weights = frame["plans"].astype(float) / n
    rates = frame["control_cured"].astype(float) / frame["control_loans"].astype(float)
    p = cured / n
    control = float((weights * rates).sum())
    control_variance = float((weights**2 * rates * (1 - rates) / frame["control_loans"]).sum())
    half = stats.Z95 * math.sqrt(p * (1 - p) / n + control_variance)
    estimate = p - control
    return Comparison(n, cured, controls, stats.Difference(estimate, estimate - half, estimate + half, control, p,
                                                           controls, n, "proportion"), control_variance)


COMPARISON_COLUMNS = ("plan_type", "accounts", "plans", "cured", "cure_rate", "control_loans",
                      "control_cure_rate", "uplift_pp", "ci_low_pp", "ci_high_pp", "verdict")


def comparison_table(cells: pd.DataFrame) -> pd.DataFrame:
    """compare() per plan type, for all comparable accounts and for M1-M2 (early) and M3+ (late) ones."""
    rows = []
    for plan_type in [p for p in PLAN_TYPES if p in set(cells["plan_type"])]:
        for group in ("all", *BUCKET_GROUPS):
            result = compare(cells, plan_type, None if group == "all" else BUCKET_GROUPS[group])
            if result.plans == 0:
                continue
            d = result.difference
            rows.append({"plan_type": plan_type, "accounts": group, "plans": result.plans, "cured": result.cured,
                         "cure_rate": result.cure_rate, "control_loans": result.control_loans,
                         "control_cure_rate": result.control_rate, "uplift_pp": 100 * d.estimate,
                         "ci_low_pp": 100 * d.low, "ci_high_pp": 100 * d.high, "verdict": result.verdict})
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def verdict_line(comparison: Comparison, plans_label: str) -> str:
    """The one-line verdict with the estimate and its interval, in the stats module's wording."""
    templates = {k: t(f"plans.verdict_line.{k}") for k in ("insufficient", "none", "significant", "ci")}
    return stats.verdict(comparison.difference, t("plans.page.control"), plans_label, t("plans.page.measure"),
                         templates=templates)

