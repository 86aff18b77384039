"""Complaints: the public form, ticket lookup, the ticket lifecycle, the SLA clock and the
hash-chained audit trail.

Lifecycle: new -> triaged -> investigating -> resolved -> closed. One step back is allowed:
resolved -> investigating ("reopen", when the customer disputes the answer before the ticket is
closed); reopening clears resolved_at so timeliness is judged on the final resolution. Closed is
final: a closed complaint accepts no further action.

Audit trail: every change appends one complaint_events row. All events form a single global chain
ordered by event_id: hash = sha256(prev_hash + canonical JSON of the event). The chain head
(audit_chain_head, one row) is read and updated in the same transaction as the append, so two
concurrent writers conflict on that row, one retries, and the chain never forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from portal import config, policy, taxonomy
from portal import db as dbmod
from portal.i18n import t

UTC = dt.UTC
GENESIS_HASH = "0" * 64
TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud over the phone
TICKET_RE = re.compile(r"^CP-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}$")
MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
LOAN_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triaged",),
    "triaged": ("investigating",),
    "investigating": ("resolved",),
    "resolved": ("closed", "investigating"),
    "closed": (),
}
OPEN_STATUSES = ("new", "triaged", "investigating")
DONE_STATUSES = ("resolved", "closed")
PLAN_TYPES = ("none", "instalments", "deferral")
CONTACT_TIMES = ("any", "morning", "afternoon", "evening")
NARRATIVE_MIN, NARRATIVE_MAX = 10, 5000
NAME_MAX, NOTE_MAX = 100, 5000
PLAN_MONTHS_MAX = 60
PLAN_AMOUNT_MAX = Decimal("10000000")
AMBER_DAYS = 3
CLOCK_MARKS = {"ok": "🟢", "amber": "🟠", "red": "🔴", "timely": "✅", "late": "⚠️"}
SUBMIT_LIMIT, LOOKUP_LIMIT = 5, 10
RATE_WINDOW = dt.timedelta(minutes=10)
dbmod.untracked("rate_limit_hits")  # a hit is bookkeeping, not data: it must not expire cached results
WRITE_RETRIES = 40  # appends serialise on the chain head; many sessions may queue behind it

# Columns an action may change: update statements name only these.
EDITABLE = (
    "issue", "sub_issue", "assignee", "status", "resolved_at", "extension_days", "extension_reason",
    "resolution", "public_resolution", "root_cause", "substantiated", "evidence",
)
EVENT_FIELDS = (
    "event_id", "complaint_id", "actor", "action", "field", "from_value", "to_value", "note", "event_at",
)


class ComplaintError(ValueError):
    """A refused action, with a catalogue key (complaints.err.*) for the UI."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key = f"complaints.err.{key}"
        self.values = values
        super().__init__(t(self.key, lang="en", **values))

    def localized(self) -> str:
        """The message in the current UI language."""
        return t(self.key, **self.values)


def _tz() -> ZoneInfo:
    return ZoneInfo(config.setting("timezone"))


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _aware(value: dt.datetime | pd.Timestamp) -> dt.datetime:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value if value.tzinfo else value.replace(tzinfo=_tz())


def rule_pack(name: str | None = None) -> dict[str, Any]:
    """The active contact-policy rule pack (setting rule_pack), as the rule engine loads it."""
    return policy.pack(name)


def due_at(received_at: dt.datetime, extension_days: int = 0) -> dt.datetime:
    """The decision deadline: received_at + 15 days + the recorded extension (0, 15 or 45)."""
    return _aware(received_at) + dt.timedelta(days=taxonomy.BASE_DEADLINE_DAYS + int(extension_days or 0))


def is_timely(received_at: dt.datetime, resolved_at: dt.datetime | None, extension_days: int = 0) -> bool:
    """Whether a complaint was resolved at or before its due time."""
    return resolved_at is not None and _aware(resolved_at) <= due_at(received_at, extension_days)


@dataclass(frozen=True)
class Clock:
    """The deadline clock: calendar days left (portal timezone) and a level.

    level is ok, amber (<= 3 days left), red (open past due), timely or late (resolved/closed).
    """

    days_left: int | None
    level: str


def clock_level(status: str, days_left: int | None, is_overdue: bool, is_timely_done: bool | None = None) -> str:
    """The clock colour of one complaint from its status, days left and overdue flag."""
    if status in DONE_STATUSES:
        return "timely" if is_timely_done else "late"
    if is_overdue:
        return "red"
    if days_left is not None and days_left <= AMBER_DAYS:
        return "amber"
    return "ok"


def mark_breaches(contacts: pd.DataFrame, breaches: pd.DataFrame | None) -> pd.DataFrame:
    """The contact log with a `breach` column naming the rules each contact broke (empty when none)."""
    out = contacts.copy()
    if breaches is None or breaches.empty or "contact_id" not in breaches.columns:
        out["breach"] = ""
        return out
    label = "rule" if "rule" in breaches.columns else breaches.columns.drop("contact_id")[0]
    rules = (breaches.dropna(subset=["contact_id"]).groupby("contact_id")[label]
             .agg(lambda v: ", ".join(sorted({str(x) for x in v if pd.notna(x)}))))
    out["breach"] = out["contact_id"].map(rules).fillna("").astype(str)
    return out


def deadline_clock(received_at: dt.datetime, extension_days: int, status: str,
                   now: dt.datetime, resolved_at: dt.datetime | None = None,
                   tz: ZoneInfo | None = None) -> Clock:
    """The deadline clock of one complaint at `now` (a pure function of its arguments)."""
    zone = tz or _tz()
    due = due_at(received_at, extension_days)
    days_left = (due.astimezone(zone).date() - _aware(now).astimezone(zone).date()).days
    overdue = status in OPEN_STATUSES and _aware(now) > due
    level = clock_level(status, days_left, overdue, is_timely(received_at, resolved_at, extension_days))
    return Clock(None if status in DONE_STATUSES else days_left, level)


@dataclass(frozen=True)
class FeedbackForm:
    """A validated public form submission."""

    mobile: str
    issue: str
    description: str
    consent: bool
    name: str | None = None
    loan_id: str | None = None
    channel: str | None = None
    plan_type: str = "none"
    plan_amount: Decimal | None = None
    plan_months: int | None = None
    contact_time: str = "any"


@dataclass(frozen=True)
class SubmitResult:
    """The outcome of a submission: a ticket and due date, or field-level error keys."""

    ticket: str | None = None
    due_on: dt.date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.ticket is not None


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value)


def normalise_mobile(value: str) -> str:
    """Drop spaces, dashes and a +86/0086 prefix from a typed mobile number."""
    digits = re.sub(r"[\s\-()]", "", value or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits


def validate_form(raw: Mapping[str, Any]) -> tuple[FeedbackForm | None, dict[str, str]]:
    """Check the public form server-side; return the form or {field: catalogue key} errors."""
    errors: dict[str, str] = {}
    if _text(raw, "website").strip():
        # The honeypot: people never see a reason to fill it; bots fill every field.
        return None, {"form": "complaints.err.rejected"}
    name = _text(raw, "name").strip()
    if len(name) > NAME_MAX:
        errors["name"] = "complaints.err.name_too_long"
    mobile = normalise_mobile(_text(raw, "mobile"))
    if not mobile:
        errors["mobile"] = "complaints.err.mobile_required"
    elif not MOBILE_RE.fullmatch(mobile):
        errors["mobile"] = "complaints.err.mobile_invalid"
    loan_id = _text(raw, "loan_id").strip()
    if loan_id and not LOAN_ID_RE.fullmatch(loan_id):
        errors["loan_id"] = "complaints.err.loan_id_invalid"
    issue = _text(raw, "issue")
    if not issue:
        errors["issue"] = "complaints.err.issue_required"
    elif issue not in taxonomy.COMPLAINT_ISSUES:
        errors["issue"] = "complaints.err.issue_invalid"
    channel = _text(raw, "channel")
    if channel and channel not in taxonomy.CHANNELS:
        errors["channel"] = "complaints.err.channel_invalid"
    description = _text(raw, "description")
    if len(description.strip()) < NARRATIVE_MIN:
        errors["description"] = "complaints.err.description_short"
    elif len(description) > NARRATIVE_MAX:
        errors["description"] = "complaints.err.description_long"
    elif "\x00" in description:
        errors["description"] = "complaints.err.description_invalid"
    plan_type = _text(raw, "plan_type") or "none"
    plan_amount: Decimal | None = None
    plan_months: int | None = None
    if plan_type not in PLAN_TYPES:
        errors["plan_type"] = "complaints.err.plan_type_invalid"
    elif plan_type != "none":
        try:
            plan_amount = Decimal(str(raw.get("plan_amount")).strip())
            if not plan_amount.is_finite() or plan_amount <= 0 or plan_amount > PLAN_AMOUNT_MAX \
                    or plan_amount != plan_amount.quantize(Decimal("0.01")):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["plan_amount"] = "complaints.err.plan_amount_invalid"
            plan_amount = None
        try:
            months_raw = raw.get("plan_months")
            if isinstance(months_raw, float) and not months_raw.is_integer():
                raise ValueError
            plan_months = int(str(int(months_raw) if isinstance(months_raw, float) else months_raw).strip())
            if not 1 <= plan_months <= PLAN_MONTHS_MAX:
                raise ValueError
        except (TypeError, ValueError):
            errors["plan_months"] = "complaints.err.plan_months_invalid"
            plan_months = None
    contact_time = _text(raw, "contact_time") or "any"
    if contact_time not in CONTACT_TIMES:
        errors["contact_time"] = "complaints.err.contact_time_invalid"
    if raw.get("consent") is not True:
        errors["consent"] = "complaints.err.consent_required"
    if errors:
        return None, errors
    return FeedbackForm(
        mobile=mobile, issue=issue, description=description, consent=True, name=name or None,
        loan_id=loan_id or None, channel=channel or None, plan_type=plan_type,
        plan_amount=plan_amount, plan_months=plan_months, contact_time=contact_time,
    ), {}


def new_ticket() -> str:
    """A random, non-guessable ticket number like CP-7K3Q-9XHD (31^8, about 8.5e11 values)."""
    chars = "".join(secrets.choice(TICKET_ALPHABET) for _ in range(8))
    return f"CP-{chars[:4]}-{chars[4:]}"


def normalise_ticket(value: str) -> str:
    """Upper-case a typed ticket and restore its dashes (cp7k3q9xhd -> CP-7K3Q-9XHD)."""
    compact = re.sub(r"[\s\-]", "", (value or "").upper())
    if compact.startswith("CP"):
        compact = compact[2:]
    return f"CP-{compact[:4]}-{compact[4:]}" if len(compact) == 8 else (value or "").strip().upper()


def client_key(ip_address: object, session_key: str) -> str:
    """The rate limit's key: the client's IP when known (None on localhost), else the browser session."""
    return f"ip:{ip_address}" if isinstance(ip_address, str) and ip_address else session_key


def _client_hash(client_key: str) -> str:
    # Only a digest of the IP or session id is kept: the log must not become a list of visitors.
    return hashlib.sha256(f"portal-rate-limit:{client_key}".encode()).hexdigest()


def _take(cur: Any, bucket: str, client_key: str, limit: int, window: dt.timedelta, now: dt.datetime) -> bool:
    """Record one hit for (bucket, client) unless limit hits already fell in the window."""
    key = _client_hash(client_key)
    hits = cur.execute(
        "select count(*) from rate_limit_hits where bucket = $b and client_hash = $k and hit_at > $since",
        {"b": bucket, "k": key, "since": now - window},
    ).fetchone()[0]
    if hits >= limit:
        return False
    cur.execute(
        "delete from rate_limit_hits where bucket = $b and client_hash = $k and hit_at <= $since",
        {"b": bucket, "k": key, "since": now - window},
    )
    cur.execute("insert into rate_limit_hits values ($b, $k, $now)", {"b": bucket, "k": key, "now": now})
    return True


def allow(bucket: str, client_key: str, *, limit: int = SUBMIT_LIMIT, window: dt.timedelta = RATE_WINDOW,
          now: dt.datetime | None = None, db: str | Path | None = None) -> bool:
    """Rate limiter kept in the database: True (and one hit recorded) while under limit per window."""
    when = now or _now()
    return dbmod.write(lambda cur: _take(cur, bucket, client_key, limit, window, when), db=db,
                       retries=WRITE_RETRIES)


def _customer_for(cur: Any, form: FeedbackForm) -> str | None:
    if form.loan_id:
        row = cur.execute("select customer_id from loans where loan_id = $l limit 1", {"l": form.loan_id}).fetchone()
        if row:
            return row[0]
    rows = cur.execute("select customer_id from customers where mobile = $m limit 2", {"m": form.mobile}).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def submit(raw: Mapping[str, Any], client_key: str, *, now: dt.datetime | None = None,
           db: str | Path | None = None) -> SubmitResult:
    """Validate and store a public form submission as a new complaint; rate-limited per client."""
    form, errors = validate_form(raw)
    when = now or _now()
    if form is None:
        if "form" in errors:
            allow("submit", client_key, now=when, db=db)  # a bot's attempt still uses up its quota
        return SubmitResult(errors=errors)

    def fn(cur: Any) -> SubmitResult:
        if not _take(cur, "submit", client_key, SUBMIT_LIMIT, RATE_WINDOW, when):
            return SubmitResult(errors={"form": "complaints.err.rate_limited"})
        ticket = new_ticket()
        while cur.execute("select count(*) from complaints where ticket = $t or complaint_id = $t",
                          {"t": ticket}).fetchone()[0]:
            ticket = new_ticket()
        cur.execute(
            "insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, channel,"
            " narrative, status, extension_days, ticket, mobile, complainant_name, contact_time, plan_type,"
            " plan_amount, plan_months, consent_at) values ($id, $at, 'form', $customer, $loan, $issue,"
            " $channel, $narrative, 'new', 0, $id, $mobile, $name, $contact_time, $plan_type, $plan_amount,"
            " $plan_months, $at)",
            {"id": ticket, "at": when, "customer": _customer_for(cur, form), "loan": form.loan_id,
             "issue": form.issue, "channel": form.channel, "narrative": form.description,
             "mobile": form.mobile, "name": form.name, "contact_time": form.contact_time,
             "plan_type": form.plan_type, "plan_amount": form.plan_amount, "plan_months": form.plan_months},
        )
        append_event(cur, ticket, "customer", "created", note="source=form", at=when)
        return SubmitResult(ticket=ticket, due_on=due_at(when).astimezone(_tz()).date())

    return dbmod.write(fn, db=db, retries=WRITE_RETRIES)


@dataclass(frozen=True)
class TicketStatus:
    """What a customer may see about their ticket: status, due date, the public resolution text."""

    ticket: str
    status: str
    due_on: dt.date
    public_resolution: str | None


def lookup(ticket: str, last4: str, client_key: str, *, now: dt.datetime | None = None,
           db: str | Path | None = None) -> TicketStatus | None | str:
    """Look up a ticket by number + last 4 mobile digits; None when unknown or not matching,
    "rate_limited" after too many tries. Wrong pairs and unknown tickets answer alike."""
    if not allow("lookup", client_key, limit=LOOKUP_LIMIT, now=now, db=db):
        return "rate_limited"
    wanted = normalise_ticket(ticket)
    frame = dbmod.read(
        "select ticket, mobile, status, received_at, extension_days, public_resolution"
        " from complaints where ticket = $t limit 1",
        {"t": wanted}, db=db,
    )
    row = frame.iloc[0] if not frame.empty else None
    stored = str(row["mobile"])[-4:] if row is not None and pd.notna(row["mobile"]) else "\x00\x00\x00\x00"
    # Compare even when the ticket is unknown, so timing does not tell the two cases apart.
    matches = hmac.compare_digest(stored.encode(), str(last4 or "").strip().encode())
    if row is None or not matches:
        return None
    status = str(row["status"])
    text = row["public_resolution"] if status in DONE_STATUSES and pd.notna(row["public_resolution"]) else None
    due = due_at(row["received_at"], int(row["extension_days"] or 0))
    return TicketStatus(wanted, status, due.astimezone(_tz()).date(), text)


def _value(value: Any) -> str | None:
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return _iso_utc(_aware(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _iso_utc(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_event(event: Mapping[str, Any]) -> str:
    """The canonical JSON of an event: fixed keys, sorted, compact, UTF-8 text."""
    payload = {k: event.get(k) for k in EVENT_FIELDS}
    payload["event_id"] = int(payload["event_id"])
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of the event), hex."""
    return hashlib.sha256((prev_hash + canonical_event(event)).encode("utf-8")).hexdigest()


def append_event(cur: Any, complaint_id: str, actor: str, action: str, field_name: str | None = None,
                 from_value: Any = None, to_value: Any = None, note: str | None = None,
                 at: dt.datetime | None = None) -> int:
    """Append one event to the chain inside the caller's transaction (a db.write cursor)."""
    last_id, prev = cur.execute(
        "select last_event_id, last_hash from audit_chain_head where chain_id = 1"
    ).fetchone()
    when = (at or _now()).astimezone(UTC)
    event = {
        "event_id": int(last_id) + 1, "complaint_id": str(complaint_id), "actor": str(actor),
        "action": action, "field": field_name, "from_value": _value(from_value),
        "to_value": _value(to_value), "note": note, "event_at": _iso_utc(when),
    }
    digest = event_hash(prev, event)
    # Updating the head first makes a concurrent appender fail fast with a conflict and retry.
    cur.execute("update audit_chain_head set last_event_id = $id, last_hash = $h where chain_id = 1",
                {"id": event["event_id"], "h": digest})
    cur.execute(
        "insert into complaint_events (event_id, complaint_id, actor, action, field, from_value, to_value,"
        " note, event_at, prev_hash, hash) values ($event_id, $complaint_id, $actor, $action, $field,"
        " $from_value, $to_value, $note, $at, $prev, $hash)",
        {**{k: v for k, v in event.items() if k != "event_at"}, "at": when, "prev": prev, "hash": digest},
    )
    return event["event_id"]


def _append_many(cur: Any, rows: list[tuple[str, str | None]], actor: str, action: str,
                 at: dt.datetime | None = None) -> int:
    """Append one event per (complaint_id, note) in one pass: chain computed here, one bulk insert."""
    if not rows:
        return 0
    last_id, prev = cur.execute(
        "select last_event_id, last_hash from audit_chain_head where chain_id = 1"
    ).fetchone()
    when = (at or _now()).astimezone(UTC)
    records = []
    for offset, (complaint_id, note) in enumerate(rows, start=1):
        event = {
            "event_id": int(last_id) + offset, "complaint_id": str(complaint_id), "actor": str(actor),
            "action": action, "field": None, "from_value": None, "to_value": None, "note": note,
            "event_at": _iso_utc(when),
        }
        digest = event_hash(prev, event)
        records.append({**event, "prev_hash": prev, "hash": digest})
        prev = digest
    cur.execute("update audit_chain_head set last_event_id = $id, last_hash = $h where chain_id = 1",
                {"id": records[-1]["event_id"], "h": prev})
    frame = pd.DataFrame.from_records(records).astype({"field": object, "from_value": object, "to_value": object})
    with dbmod.arrow_view(cur, "_new_events", frame):
        cur.execute(
            "insert into complaint_events (event_id, complaint_id, actor, action, field, from_value, to_value,"
            " note, event_at, prev_hash, hash) select event_id, complaint_id, actor, action, field::varchar,"
            " from_value::varchar, to_value::varchar, note::varchar, $at, prev_hash, hash from _new_events"
            " order by event_id",
            {"at": when},
        )
    return len(records)


def record_import_events(cur: Any, complaint_ids: Iterable[str], actor: str, action: str = "imported",
                         note: str | None = None) -> int:
    """Append one creation event per complaint inside the caller's db.write transaction (bulk)."""
    return _append_many(cur, [(cid, note) for cid in complaint_ids], actor, action)


def ensure_creation_events(db: str | Path | None = None, actor: str = "system") -> int:
    """Backfill an "imported" event for every complaint that has no event yet; return how many."""

    def fn(cur: Any) -> int:
        rows = cur.execute(
            "select complaint_id, 'source=' || source from complaints as c where not exists"
            " (select 1 from complaint_events as e where e.complaint_id = c.complaint_id)"
            " order by received_at, complaint_id"
        ).fetchall()
        return _append_many(cur, rows, actor, "imported")

    return dbmod.write(fn, db=db, retries=WRITE_RETRIES)


def reset_chain(cur: Any) -> None:
    """Empty the audit trail and restart its chain: only for a demo rebuild that wipes every table."""
    cur.execute("delete from complaint_events")
    cur.execute("update audit_chain_head set last_event_id = 0, last_hash = $h where chain_id = 1",
                {"h": GENESIS_HASH})


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verify_chain: ok, events checked, the first broken event and a one-line message."""

    ok: bool
    checked: int
    broken_event_id: int | None
    message: str


def verify_chain(db: str | Path | None = None) -> VerifyResult:
    """Recompute the whole audit hash chain and name the first broken event."""
    frame = dbmod.read(
        "select event_id, complaint_id, actor, action, field, from_value, to_value, note,"
        " strftime(timezone('UTC', event_at), '%Y-%m-%dT%H:%M:%S.%fZ') as event_at, prev_hash, hash"
        " from complaint_events order by event_id",
        db=db,
    )
    head = dbmod.read("select last_event_id, last_hash from audit_chain_head where chain_id = 1", db=db)
    expected_prev, expected_id, checked = GENESIS_HASH, 1, 0
    for rec in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        event_id = int(rec["event_id"])
        if event_id != expected_id:
            return VerifyResult(False, checked, event_id,
                                f"broken at event {event_id}: expected event {expected_id} before it (missing)")
        if rec["prev_hash"] != expected_prev:
            return VerifyResult(False, checked, event_id,
                                f"broken at event {event_id}: prev_hash does not match the event before it")
        if event_hash(rec["prev_hash"], rec) != rec["hash"]:
            return VerifyResult(False, checked, event_id,
                                f"broken at event {event_id}: its content no longer matches its hash")
        checked += 1
        expected_prev, expected_id = rec["hash"], event_id + 1
    if not head.empty:
        last_id, last_hash = int(head.iloc[0]["last_event_id"]), head.iloc[0]["last_hash"]
        if last_id != expected_id - 1 or last_hash != expected_prev:
            return VerifyResult(False, checked, expected_id,
                                f"broken at event {expected_id}: the chain head records {last_id} events; "
                                "later events are missing or changed")
    return VerifyResult(True, checked, None, f"audit chain intact: {checked} events verified")


def _row(cur: Any, complaint_id: str) -> dict[str, Any]:
    res = cur.execute("select * from complaints where complaint_id = $id limit 1", {"id": complaint_id})
    row = res.fetchone()
    if row is None:
        raise ComplaintError("not_found", complaint_id=complaint_id)
    return dict(zip([d[0] for d in res.description], row, strict=True))


def _same(old: Any, new: Any) -> bool:
    return _value(old) == _value(new)


def _change(complaint_id: str, actor: str, action: str, updates: Mapping[str, Any],
            note: str | None, check: Any, db: str | Path | None, now: dt.datetime | None = None) -> list[int]:
    """Apply updates to one complaint and append an event per changed field, in one transaction."""
    when = now or _now()

    def fn(cur: Any) -> list[int]:
        row = _row(cur, complaint_id)
        if row["status"] == "closed":
            raise ComplaintError("closed")
        resolved = check(row, when) if check else updates
        events = []
        for col, new in resolved.items():
            if col not in EDITABLE:
                raise ValueError(f"field {col} is not editable")
            if _same(row.get(col), new):
                continue
            cur.execute(f"update complaints set {col} = $v where complaint_id = $id",  # noqa: S608 (allow-listed)
                        {"v": new, "id": complaint_id})
            events.append(append_event(cur, complaint_id, actor, action, col, row.get(col), new, note, when))
        return events

    return dbmod.write(fn, db=db, retries=WRITE_RETRIES)


def _required(value: str | None, what: str, limit: int = NOTE_MAX) -> str:
    text = (value or "").strip()
    if not text:
        raise ComplaintError("required", field=what)
    if len(text) > limit:
        raise ComplaintError("too_long", field=what, limit=limit)
    return text


def _transition_updates(row: Mapping[str, Any], to_status: str, when: dt.datetime) -> dict[str, Any]:
    current = row["status"]
    if to_status not in taxonomy.COMPLAINT_STATUSES:
        raise ComplaintError("unknown_status", status=to_status)
    if to_status not in TRANSITIONS.get(current, ()):
        allowed = ", ".join(TRANSITIONS.get(current, ())) or "-"
        raise ComplaintError("illegal_transition", from_status=current, to_status=to_status, allowed=allowed)
    updates: dict[str, Any] = {"status": to_status}
    if to_status == "resolved":
        if not row.get("resolution") or not row.get("public_resolution"):
            raise ComplaintError("resolution_first")
        updates["resolved_at"] = when
    elif current == "resolved" and to_status == "investigating":
        updates["resolved_at"] = None
    return updates


def transition(complaint_id: str, actor: str, to_status: str, note: str | None = None, *,
               now: dt.datetime | None = None, db: str | Path | None = None) -> list[int]:
    """Move a complaint along its lifecycle; an illegal step raises ComplaintError."""
    return _change(complaint_id, actor, "transition", {}, note,
                   lambda row, when: _transition_updates(row, to_status, when), db, now)


def triage(complaint_id: str, actor: str, issue: str, sub_issue: str | None = None, note: str | None = None,
           *, now: dt.datetime | None = None, db: str | Path | None = None) -> list[int]:
    """Set issue and sub-issue; a new complaint moves to triaged."""
    if issue not in taxonomy.COMPLAINT_ISSUES:
        raise ComplaintError("issue_unknown", issue=issue)
    sub = (sub_issue or "").strip() or None
    if sub and len(sub) > 200:
        raise ComplaintError("too_long", field="sub_issue", limit=200)

    def check(row: Mapping[str, Any], when: dt.datetime) -> dict[str, Any]:
        updates: dict[str, Any] = {"issue": issue, "sub_issue": sub}
        if row["status"] == "new":
            updates.update(_transition_updates(row, "triaged", when))
        return updates

    return _change(complaint_id, actor, "triage", {}, note, check, db, now)


def assign(complaint_id: str, actor: str, assignee: str, note: str | None = None, *,
           now: dt.datetime | None = None, db: str | Path | None = None) -> list[int]:
    """Assign the complaint to a team member."""
    who = _required(assignee, "assignee", 64)
    return _change(complaint_id, actor, "assign", {"assignee": who}, note, None, db, now)


def extend(complaint_id: str, actor: str, extension_days: int, reason: str, *,
           now: dt.datetime | None = None, db: str | Path | None = None) -> list[int]:
    """Record an extension to 30 (15 more days) or 60 days (45 more), with a required reason."""
    if extension_days not in (15, 45):
        raise ComplaintError("extension_days")
    why = _required(reason, "reason", 2000)

    def check(row: Mapping[str, Any], when: dt.datetime) -> dict[str, Any]:
        if row["status"] in DONE_STATUSES:
            raise ComplaintError("extension_after_resolution")
        if int(row.get("extension_days") or 0) >= extension_days:
            raise ComplaintError("extension_not_longer", days=int(row.get("extension_days") or 0))
        return {"extension_days": extension_days, "extension_reason": why}

    return _change(complaint_id, actor, "extend", {}, why, check, db, now)


def record_resolution(complaint_id: str, actor: str, resolution: str, public_text: str,
                      note: str | None = None, *, now: dt.datetime | None = None,
                      db: str | Path | None = None) -> list[int]:
    """Record the resolution type and the customer-facing text shown on the ticket page."""
    if resolution not in taxonomy.RESOLUTIONS:
        raise ComplaintError("resolution_unknown", resolution=resolution)
    text = _required(public_text, "public_resolution")
    return _change(complaint_id, actor, "resolution",
                   {"resolution": resolution, "public_resolution": text}, note, None, db, now)


def record_root_cause(complaint_id: str, actor: str, root_cause: str, note: str | None = None, *,
                      now: dt.datetime | None = None, db: str | Path | None = None) -> list[int]:
    """Record the root cause (it feeds the improvement loop)."""
    cause = _required(root_cause, "root_cause", 2000)
    return _change(complaint_id, actor, "root_cause", {"root_cause": cause}, note, None, db, now)


def record_substantiation(complaint_id: str, actor: str, substantiated: bool, evidence: str, *,
                          now: dt.datetime | None = None, db: str | Path | None = None) -> list[int]:
    """Mark the complaint substantiated or not, with the evidence for that finding."""
    proof = _required(evidence, "evidence")
    return _change(complaint_id, actor, "substantiation",
                   {"substantiated": bool(substantiated), "evidence": proof}, None, None, db, now)
