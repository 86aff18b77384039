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
import logging
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pandas as pd

from portal import audit, config, policy, taxonomy
from portal import db as dbmod
from portal.i18n import t

UTC = dt.UTC
T = TypeVar("T")
_log = logging.getLogger(__name__)
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
SUBMIT_LIMIT, LOOKUP_LIMIT = 5, 10
RATE_WINDOW = dt.timedelta(minutes=10)
DUPLICATE_WINDOW = dt.timedelta(minutes=1)  # a second press of Send, or a reload that posts again
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


def now() -> dt.datetime:
    """The time as the complaint clock reads it (UTC), e.g. when a form is put on screen."""
    return _now()


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


def storable(text: str, allowed: str = "") -> bool:
    """Whether typed text can be stored as it is: no NUL or other control character (but those in
    `allowed`), no lone surrogate (half of a UTF-16 pair, which UTF-8 cannot encode)."""
    return not any((unicodedata.category(ch) == "Cc" and ch not in allowed) or unicodedata.category(ch) == "Cs"
                   for ch in text)


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
    elif not storable(name):
        errors["name"] = "complaints.err.name_invalid"
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
    description = _text(raw, "description").replace("\r\n", "\n")  # a browser's line ends are one newline
    if len(description.strip()) < NARRATIVE_MIN:
        errors["description"] = "complaints.err.description_short"
    elif len(description) > NARRATIVE_MAX:
        errors["description"] = "complaints.err.description_long"
    elif not storable(description, "\n\t"):
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


def _fingerprint(client_key: str, form: FeedbackForm) -> str:
    """One submission's identity: the client and every field it sent (a digest, like the rate limit's)."""
    fields = {name: str(getattr(form, name)) for name in FeedbackForm.__dataclass_fields__}
    return f"{client_key}|{json.dumps(fields, sort_keys=True, ensure_ascii=False)}"


def too_fast(shown_at: dt.datetime | None, when: dt.datetime) -> bool:
    """Whether a form was sent sooner after it was shown than a person can fill it in (a bot)."""
    floor = float(config.setting("form_min_seconds"))
    return shown_at is not None and floor > 0 and (when - shown_at).total_seconds() < floor


def _customer_for(cur: Any, form: FeedbackForm) -> str | None:
    if form.loan_id:
        row = cur.execute("select customer_id from loans where loan_id = $l limit 1", {"l": form.loan_id}).fetchone()
        if row:
            return row[0]
    rows = cur.execute("select customer_id from customers where mobile = $m limit 2", {"m": form.mobile}).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def submit(raw: Mapping[str, Any], client_key: str, *, now: dt.datetime | None = None,
           db: str | Path | None = None, shown_at: dt.datetime | None = None) -> SubmitResult:
    """Validate and store a public form submission as a new complaint; rate-limited per client.
    shown_at, when the form was put on screen: one sent sooner than the floor is refused without a
    reason, and so is the same submission from the same client again within DUPLICATE_WINDOW."""
    when = now or _now()
    form, errors = validate_form(raw)
    if form is not None and too_fast(shown_at, when):
        form, errors = None, {"form": "complaints.err.rejected"}
    if form is None:
        if "form" in errors:
            allow("submit", client_key, now=when, db=db)  # a bot's attempt still uses up its quota
        return SubmitResult(errors=errors)
    fingerprint = _fingerprint(client_key, form)

    def fn(cur: Any) -> SubmitResult:
        seen = cur.execute(
            "select count(*) from rate_limit_hits where bucket = 'duplicate' and client_hash = $k and hit_at > $since",
            {"k": _client_hash(fingerprint), "since": when - DUPLICATE_WINDOW},
        ).fetchone()[0]
        if seen:
            return SubmitResult(errors={"form": "complaints.err.duplicate"})
        if not _take(cur, "submit", client_key, SUBMIT_LIMIT, RATE_WINDOW, when):
            return SubmitResult(errors={"form": "complaints.err.rate_limited"})
        _take(cur, "duplicate", fingerprint, 1, DUPLICATE_WINDOW, when)
        _chain(cur, "customer", when)  # a legacy chain is sealed before the new row exists
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
        append_event(cur, ticket, "customer", "created", note="source=form", at=when, row_hash_before=None)
        return SubmitResult(ticket=ticket, due_on=due_at(when).astimezone(_tz()).date())

    return write(fn, db=db)


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
    if not storable(str(ticket or "")) or not storable(str(last4 or "")):
        return None  # no ticket or mobile holds such characters: answered like a wrong pair
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


# The keyed chain.
#
# An event is signed with HMAC-SHA256(key, prev_hash + canonical JSON of the event, its key id and the
# hash of its complaint's row after the event). Events from before keys existed (key_id null) were
# sha256(prev_hash + canonical JSON): they may only come first, and the first keyed event after them
# must be the seal, which signs the legacy head. The head row records the key that signs the chain;
# a rotation event, signed with the old key, names the new one.

CHAIN_SUBJECT = "(chain)"  # the complaint_id of events about the chain itself (seal, key rotation)
KEYED_FIELDS = (*EVENT_FIELDS, "key_id", "row_hash", "row_hash_before")
UNKNOWN_BEFORE = "-"  # row_hash_before of an event whose writer did not read the row before its change
# The complaint columns a row hash covers, in order (version r1). A new complaints column is not
# covered until it is added here under a new version; tests list the table's columns against this.
ROW_HASH_COLUMNS = (
    "complaint_id", "received_at", "source", "customer_id", "loan_id", "issue", "sub_issue", "channel",
    "agent_id", "agency_id", "narrative", "status", "resolved_at", "extension_days", "extension_reason",
    "resolution", "root_cause", "issue_verbatim", "sub_issue_verbatim", "timely_response", "upload_id",
    "ticket", "mobile", "complainant_name", "contact_time", "plan_type", "plan_amount", "plan_months",
    "public_resolution", "assignee", "substantiated", "evidence", "consent_at",
)
_TIMESTAMP_COLUMNS = frozenset({"received_at", "resolved_at", "consent_at"})
_local = threading.local()


def row_hash_sql(alias: str = "c") -> str:
    """SQL for the sha256 of a complaint row's canonical form: its ROW_HASH_COLUMNS as a JSON array of
    text, timestamps as UTC epoch microseconds (so the session time zone cannot change it)."""
    parts = [f"epoch_us({alias}.{c})::varchar" if c in _TIMESTAMP_COLUMNS else f"{alias}.{c}::varchar"
             for c in ROW_HASH_COLUMNS]
    return f"sha256(to_json(['r1', {', '.join(parts)}]))"


def _row_hashes(cur: Any, ids: list[str] | None) -> dict[str, str]:
    """The current row hash of each complaint in ids (every complaint when None), in one query."""
    expr = row_hash_sql("c")
    if ids is None:
        return dict(cur.execute(f"select complaint_id, {expr} from complaints c").fetchall())  # noqa: S608 (fixed columns)
    if not ids:
        return {}
    if len(ids) == 1:
        return dict(cur.execute(f"select complaint_id, {expr} from complaints c where complaint_id = $id",  # noqa: S608 (fixed columns)
                                {"id": ids[0]}).fetchall())
    wanted = pd.DataFrame({"complaint_id": pd.Series(list(dict.fromkeys(ids)), dtype=object)})
    with dbmod.arrow_view(cur, "_row_hash_ids", wanted):
        return dict(cur.execute(f"select complaint_id, {expr} from complaints c "  # noqa: S608 (fixed columns)
                                "semi join _row_hash_ids i using (complaint_id)").fetchall())


def canonical_event(event: Mapping[str, Any]) -> str:
    """The canonical JSON of an event: fixed keys, sorted, compact, UTF-8 text (with key_id and
    row_hash for a keyed event)."""
    names = KEYED_FIELDS if event.get("key_id") is not None else EVENT_FIELDS
    payload = {k: event.get(k) for k in names}
    payload["event_id"] = int(payload["event_id"])
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, event: Mapping[str, Any], key: bytes | None = None) -> str:
    """HMAC-SHA256(key, prev_hash + canonical JSON), hex; without a key the legacy sha256 of the same."""
    text = (prev_hash + canonical_event(event)).encode("utf-8")
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.digest(key, text, "sha256").hex()


@dataclass
class _Chain:
    """The chain head as this transaction sees it, and the key that signs the next event."""

    last_id: int
    last_hash: str
    key_id: str | None
    ring: audit.Keyring


def _head(cur: Any) -> tuple[int, str, str | None]:
    last_id, last_hash, kid = cur.execute(
        "select last_event_id, last_hash, key_id from audit_chain_head where chain_id = 1").fetchall()[0]
    return int(last_id), str(last_hash), kid


def _chain(cur: Any, actor: str = "system", when: dt.datetime | None = None) -> _Chain:
    """Read the head and make the chain ready to sign: create the key on first use, seal a legacy
    (unkeyed) chain, or record a rotation when the configured key is not the one signing the chain."""
    last_id, last_hash, kid = _head(cur)
    db_file = _local.db_file if getattr(_local, "cur", None) is cur else audit.db_file_of(cur)
    ring = audit.keyring(db_file, create=kid is None)
    chain = _Chain(last_id, last_hash, kid, ring)
    if kid is None:
        if ring.active_id is None:
            raise audit.AuditKeyError(f"no audit key: set PORTAL_AUDIT_KEY or audit_key_file ({ring.where})")
        chain.key_id = ring.active_id
        # The anchor starts with the keyed chain (before the commit, so any write path creates it);
        # afterwards only heads are appended, and a missing anchor is never silently recreated.
        audit.start_anchor(audit.anchor_file(db_file))
        if last_id > 0:
            _seal(cur, chain, when or _now())
    elif ring.active_id != kid:
        if ring.key(kid) is None or ring.active_id is None:
            raise audit.AuditKeyError(audit.missing_key_message(ring, kid, last_id))
        _append_records(cur, chain, [_event(CHAIN_SUBJECT, actor, "key_rotated", "key_id", kid, ring.active_id,
                                            "signing key rotated", when or _now())], {})
    return chain


def _event(complaint_id: str, actor: str, action: str, field_name: str | None, from_value: Any, to_value: Any,
           note: str | None, when: dt.datetime) -> dict[str, Any]:
    return {"complaint_id": str(complaint_id), "actor": str(actor), "action": action, "field": field_name,
            "from_value": _value(from_value), "to_value": _value(to_value), "note": note,
            "event_at": _iso_utc(when), "at": when.astimezone(UTC)}


def _append_records(cur: Any, chain: _Chain, events: list[dict[str, Any]], row_hashes: Mapping[str, str]) -> int:
    """Number, sign and insert events after the chain head, move the head; return the last event id."""
    if not events:
        return chain.last_id
    prev = chain.last_hash
    for offset, event in enumerate(events, start=1):
        kid = chain.key_id
        key = chain.ring.key(kid)
        if key is None:
            raise audit.AuditKeyError(audit.missing_key_message(chain.ring, str(kid), chain.last_id))
        event["event_id"] = chain.last_id + offset
        event["key_id"] = kid
        if event["complaint_id"] == CHAIN_SUBJECT:
            event["row_hash"] = event["row_hash_before"] = None
        else:
            event["row_hash"] = row_hashes.get(event["complaint_id"])
            event.setdefault("row_hash_before", UNKNOWN_BEFORE)
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(prev, event, key)
        if event["action"] == "key_rotated":
            chain.key_id = event["to_value"]  # the rotation is signed with the old key; the new one follows
    chain.last_id, chain.last_hash = events[-1]["event_id"], prev
    _local.head = (chain.last_id, prev)  # for complaints.write to anchor after the commit
    # Updating the head first makes a concurrent appender fail fast with a conflict and retry.
    cur.execute("update audit_chain_head set last_event_id = $id, last_hash = $h, key_id = $k where chain_id = 1",
                {"id": chain.last_id, "h": prev, "k": chain.key_id})
    columns = "event_id, complaint_id, actor, action, field, from_value, to_value, note, event_at, prev_hash, hash," \
              " key_id, row_hash, row_hash_before"
    if len(events) == 1:
        cur.execute(f"insert into complaint_events ({columns}) values ($event_id, $complaint_id, $actor, $action,"  # noqa: S608 (fixed columns)
                    " $field, $from_value, $to_value, $note, $at, $prev_hash, $hash, $key_id, $row_hash,"
                    " $row_hash_before)",
                    {k: v for k, v in events[0].items() if k != "event_at"})
        return chain.last_id
    frame = pd.DataFrame.from_records(events, exclude=["event_at", "at"])
    frame = frame.astype({c: object for c in ("field", "from_value", "to_value", "note", "row_hash",
                                              "row_hash_before")})
    with dbmod.arrow_view(cur, "_new_events", frame):
        cur.execute(
            f"insert into complaint_events ({columns}) select event_id, complaint_id, actor, action,"  # noqa: S608 (fixed columns)
            " field::varchar, from_value::varchar, to_value::varchar, note::varchar, $at, prev_hash, hash, key_id,"
            " row_hash::varchar, row_hash_before::varchar from _new_events order by event_id",
            {"at": events[0]["at"]},
        )
    return chain.last_id


def _seal(cur: Any, chain: _Chain, when: dt.datetime) -> None:
    """Key a legacy chain: a seal event signing the legacy head, then one event per complaint recording
    its row as it stands (an "imported" backfill for a complaint that had no event at all)."""
    legacy = chain.last_id
    rows = cur.execute(
        "select c.complaint_id, c.source, exists (select 1 from complaint_events e"
        " where e.complaint_id = c.complaint_id) from complaints c order by c.received_at, c.complaint_id"
    ).fetchall()
    events = [_event(CHAIN_SUBJECT, "system", "chain_sealed", None, None, None,
                     f"sealed the legacy unkeyed chain of {legacy} events", when)]
    hashes = _row_hashes(cur, None)
    for complaint_id, source, has_events in rows:
        if has_events:  # the trail of this complaint goes on from its row as found
            event = _event(complaint_id, "system", "sealed", None, None, None, "row recorded at the seal", when)
            event["row_hash_before"] = hashes.get(complaint_id)
        else:  # its trail starts here
            event = _event(complaint_id, "system", "imported", None, None, None, f"source={source}", when)
            event["row_hash_before"] = None
        events.append(event)
    _append_records(cur, chain, events, hashes)


_UNSET: Any = object()


def append_event(cur: Any, complaint_id: str, actor: str, action: str, field_name: str | None = None,
                 from_value: Any = None, to_value: Any = None, note: str | None = None,
                 at: dt.datetime | None = None, *, row_hash: str | None = _UNSET,
                 row_hash_before: str | None = _UNSET) -> int:
    """Append one event to the chain inside the caller's transaction (a db.write cursor).

    Make the change to the row first: the event records the hash of the row as it then stands
    (read here; pass row_hash only when it was just computed with row_hash_sql() on this
    transaction). Pass row_hash_before, the row's hash read before the change (current_row_hash;
    None for a row the transaction created), so that verify can tell the change began from the
    row the previous event recorded: without it the event is not part of that check. Run the transaction through complaints.write so that the new head is anchored
    after the commit (with a plain db.write it is anchored by the next complaints.write).
    """
    when = (at or _now()).astimezone(UTC)
    chain = _chain(cur, actor, when)
    event = _event(complaint_id, actor, action, field_name, from_value, to_value, note, when)
    if row_hash_before is not _UNSET:
        event["row_hash_before"] = row_hash_before
    hashes = _row_hashes(cur, [str(complaint_id)]) if row_hash is _UNSET else {str(complaint_id): row_hash}
    return _append_records(cur, chain, [event], hashes)


def current_row_hash(cur: Any, complaint_id: str) -> str | None:
    """The hash of a complaint's row as it stands in this transaction (None when there is none)."""
    return _row_hashes(cur, [str(complaint_id)]).get(str(complaint_id))


def _append_many(cur: Any, rows: list[tuple[str, str | None]], actor: str, action: str,
                 at: dt.datetime | None = None) -> int:
    """Append one event per (complaint_id, note) in one pass: row hashes in one query, chain computed
    here, one bulk insert."""
    if not rows:
        return 0
    when = (at or _now()).astimezone(UTC)
    chain = _chain(cur, actor, when)
    ids = [str(cid) for cid, _ in rows]
    events = [_event(cid, actor, action, None, None, None, note, when) for cid, note in rows]
    # A complaint with no event yet starts its trail here; one that has events was not read before.
    seen: set[str] = set()
    if chain.last_id > 0:
        wanted = pd.DataFrame({"complaint_id": pd.Series(list(dict.fromkeys(ids)), dtype=object)})
        with dbmod.arrow_view(cur, "_import_ids", wanted):
            seen = {r[0] for r in cur.execute("select distinct complaint_id from complaint_events "
                                              "semi join _import_ids using (complaint_id)").fetchall()}
    for event, cid in zip(events, ids, strict=True):
        event["row_hash_before"] = UNKNOWN_BEFORE if cid in seen else None
    _append_records(cur, chain, events, _row_hashes(cur, ids))
    return len(events)


def record_import_events(cur: Any, complaint_ids: Iterable[str], actor: str, action: str = "imported",
                         note: str | None = None) -> int:
    """Append one creation event per complaint inside the caller's db.write transaction (bulk)."""
    return _append_many(cur, [(cid, note) for cid in complaint_ids], actor, action)


def write(fn: Callable[[Any], T], *, db: str | Path | None = None, retries: int = WRITE_RETRIES) -> T:
    """db.write for a transaction that may append audit events: after it commits, anchor the new head.

    The anchor is written only after the commit, so a crash in between leaves the anchor behind the
    database (verify says how many events are not anchored yet; the next write anchors them), never
    ahead of it.
    """

    db_file = str(config.db_path(db).resolve())

    def run(cur: Any) -> tuple[T, tuple | None, bool]:
        _local.reset, _local.head, _local.cur, _local.db_file = False, None, cur, db_file
        _local.upload_plan = None
        try:
            return fn(cur), _local.head, _local.reset
        finally:
            _local.cur = None

    result, head, reset = dbmod.write(run, db=db, retries=retries)
    if reset or head is not None:
        _anchor_head(db, head or (0, GENESIS_HASH), create=reset, reset=reset)
    return result


def _anchor_head(db: str | Path | None, head: tuple, *, create: bool, reset: bool = False) -> None:
    """Append a committed head to the anchor; a failure here is logged, never raised: the data is saved."""
    path = audit.anchor_file(config.db_path(db).resolve())
    if path is None:
        return
    try:
        if reset and audit.read_anchor(path).entries:  # (a header-only anchor is the new chain's already)
            audit.retire_anchor(path)
        if head[0] == 0:
            return
        if not audit.write_anchor(path, head[0], head[1], create=create):
            _log.warning("audit anchor %s is missing: head %s not anchored; verify reports it", path, head[0])
    except OSError as exc:
        _log.warning("cannot write the audit anchor %s: %s", path, exc)


def ensure_creation_events(db: str | Path | None = None, actor: str = "system") -> int:
    """Backfill an "imported" event for every complaint that has no event yet; return how many.

    This is the documented backfill for complaints written into the table outside the portal:
    until it runs, verify reports them as complaints without an audit event.
    """

    def fn(cur: Any) -> int:
        rows = cur.execute(
            "select complaint_id, 'source=' || source from complaints as c where not exists"
            " (select 1 from complaint_events as e where e.complaint_id = c.complaint_id)"
            " order by received_at, complaint_id"
        ).fetchall()
        return _append_many(cur, rows, actor, "imported")

    return write(fn, db=db)


def seal(db: str | Path | None = None, actor: str = "system") -> int:
    """Key a legacy chain now (it is also sealed by the first change); return the events it added."""

    def fn(cur: Any) -> int:
        before = _head(cur)[0]
        _chain(cur, actor)
        return _head(cur)[0] - before

    return write(fn, db=db)


def rotate_key(db: str | Path | None = None, actor: str = "system") -> tuple[str, int | None]:
    """Add a new key to the keyring and record the rotation on the chain (signed with the old key);
    return the new key id and the rotation event id (None when the chain had no keyed event yet)."""
    path = config.db_path(db).resolve()
    dbmod.connect(db)  # migrated before the key changes
    new_id = audit.add_key(path)

    def fn(cur: Any) -> int | None:
        before = _head(cur)
        _chain(cur, actor)
        after = _head(cur)
        return after[0] if before[2] is not None and after[0] != before[0] else None

    return new_id, write(fn, db=db)


def restart_anchor(db: str | Path | None = None, actor: str = "system") -> int:
    """Start a new anchor after the old one was lost: only when the chain verifies in every other
    respect; records an "anchor_restarted" event and anchors it. Returns that event id."""
    result = verify_chain(db, check_anchor=False)
    if not result.ok:
        raise audit.AuditError(f"the anchor is not restarted because the chain does not verify: {result.message}")
    path = audit.anchor_file(config.db_path(db).resolve())
    if path is not None and path.exists():
        audit.retire_anchor(path)

    def fn(cur: Any) -> tuple:
        append_event(cur, CHAIN_SUBJECT, actor, "anchor_restarted", note=f"new anchor {path}")
        return _head(cur)

    head = dbmod.write(fn, db=db, retries=WRITE_RETRIES)
    _anchor_head(db, head, create=True)
    return head[0]


def reset_chain(cur: Any) -> None:
    """Empty the audit trail and restart its chain: only for a demo rebuild that wipes every table.

    Run it through complaints.write: after the commit the old anchor is moved aside and a new one starts.
    """
    cur.execute("delete from complaint_events")
    cur.execute("update audit_chain_head set last_event_id = 0, last_hash = $h, key_id = null where chain_id = 1",
                {"h": GENESIS_HASH})
    _local.reset, _local.head = True, None


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verify_chain: ok, events checked, the first broken event and a one-line message
    (English; `reason` and `values` give the catalogue key audit.verify.<reason> for the UI)."""

    ok: bool
    checked: int
    broken_event_id: int | None
    message: str
    unanchored: int = 0
    reason: str = "intact"
    values: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def localized(self) -> str:
        """The message in the current UI language."""
        return t(f"audit.verify.{self.reason}", **self.values)


def _verdict(ok: bool, checked: int, broken: int | None, reason: str, unanchored: int = 0,
             **values: Any) -> VerifyResult:
    values = {"checked": f"{checked:,}", **values}
    return VerifyResult(ok, checked, broken, t(f"audit.verify.{reason}", lang="en", **values), unanchored,
                        reason, values)


_EVENTS_SQL = (
    "select event_id, complaint_id, actor, action, field, from_value, to_value, note,"
    " strftime(timezone('UTC', event_at), '%Y-%m-%dT%H:%M:%S.%fZ') as event_at, prev_hash, hash, key_id, row_hash,"
    " row_hash_before"
    " from complaint_events order by event_id"
)


def verify_chain(db: str | Path | None = None, *, check_anchor: bool = True) -> VerifyResult:
    """Check the whole audit trail and name the first thing that is wrong.

    In order: each event's link and signature (HMAC under its key id; legacy sha256 only before the
    seal), key changes only through rotation events, the head, the anchor outside the database (read
    first, so a head anchored by a concurrent commit is never ahead of this snapshot), then every
    complaint row against the row hash of its latest event. Raises AuditKeyError when the keyring
    is missing altogether (nothing can be checked).
    """
    path = config.db_path(db).resolve()
    anchor = audit.read_anchor(audit.anchor_file(path)) if check_anchor else None
    ring = audit.keyring(path)
    cur = dbmod.cursor(db)
    try:
        cur.execute("begin transaction")
        try:
            return _verify(cur, ring, anchor)
        finally:
            cur.execute("rollback")
    finally:
        cur.close()


def _verify(cur: Any, ring: audit.Keyring, anchor: audit.Anchor | None) -> VerifyResult:
    found = cur.execute("select last_event_id, last_hash, key_id from audit_chain_head where chain_id = 1").fetchall()
    head = found[0] if found else None
    records = cur.execute(_EVENTS_SQL).fetchall()
    expected_prev, expected_id, checked = GENESIS_HASH, 1, 0
    keyed_from: int | None = None
    current: str | None = None
    hashes: list[str] = []
    names = (*EVENT_FIELDS[:-1], "event_at", "prev_hash", "hash", "key_id", "row_hash", "row_hash_before")
    for values in records:
        rec = dict(zip(names, values, strict=True))
        event_id, kid = int(rec["event_id"]), rec["key_id"]
        if event_id != expected_id:
            return _verdict(False, checked, event_id, "missing", event_id=event_id, expected=expected_id)
        if rec["prev_hash"] != expected_prev:
            return _verdict(False, checked, event_id, "link", event_id=event_id)
        if kid is None:
            if keyed_from is not None:
                return _verdict(False, checked, event_id, "unkeyed", event_id=event_id, keyed_from=keyed_from)
            key = None
        else:
            if keyed_from is None:
                keyed_from, current = event_id, kid
                if event_id > 1 and rec["action"] != "chain_sealed":
                    return _verdict(False, checked, event_id, "unsealed", event_id=event_id, last_legacy=event_id - 1)
            elif rec["action"] == "chain_sealed":
                return _verdict(False, checked, event_id, "late_seal", event_id=event_id)
            if kid != current:
                return _verdict(False, checked, event_id, "key_switch", event_id=event_id, key_id=kid,
                                current=current)
            key = ring.key(kid)
            if key is None:
                if not ring.keys:
                    raise audit.AuditKeyError(audit.missing_key_message(ring, kid, len(records)))
                return _verdict(False, checked, event_id, "unknown_key", event_id=event_id, key_id=kid,
                                where=ring.where)
        if event_hash(rec["prev_hash"], rec, key) != rec["hash"]:
            return _verdict(False, checked, event_id, "content" if key is None else "content_keyed",
                            event_id=event_id)
        if kid is not None and rec["action"] == "key_rotated":
            current = rec["to_value"]
        hashes.append(rec["hash"])
        checked += 1
        expected_prev, expected_id = rec["hash"], event_id + 1
    last = expected_id - 1
    if head is not None and (int(head[0]) != last or head[1] != expected_prev):
        return _verdict(False, checked, expected_id, "head", event_id=expected_id, last_id=int(head[0]))
    if head is not None and head[2] != current:
        return _verdict(False, checked, None, "head_key", head_key=head[2] or "none", current=current or "none")
    if checked and keyed_from is None:
        return _verdict(False, checked, None, "not_sealed")
    unanchored = 0
    if anchor is not None and keyed_from is not None:
        where = str(anchor.path)
        if not anchor.exists:
            return _verdict(False, checked, None, "no_anchor", anchor=where)
        if anchor.bad_line is not None:
            return _verdict(False, checked, None, "anchor_unreadable", anchor=where, line=anchor.bad_line)
        if anchor.last_event_id > last:
            return _verdict(False, checked, last + 1, "behind", event_id=last + 1, anchored=anchor.last_event_id,
                            last_id=last, anchor=where)
        for entry in anchor.entries:
            if entry.event_id < 1 or hashes[entry.event_id - 1] != entry.hash:
                return _verdict(False, checked, entry.event_id, "anchor_mismatch", event_id=entry.event_id,
                                line=entry.line, anchor=where)
        unanchored = last - anchor.last_event_id
    problem = _row_gap(cur) or _row_problem(cur)
    if problem is not None:
        reason, complaint_id, event_id, count, rows = problem
        return _verdict(False, checked, event_id, reason, complaint_id=complaint_id, event_id=event_id,
                        count=f"{count:,}", rows=rows)
    if unanchored:
        return _verdict(True, checked, None, "intact_unanchored", unanchored, pending=f"{unanchored:,}",
                        anchor=str(anchor.path))
    return _verdict(True, checked, None, "intact")


def _row_gap(cur: Any) -> tuple[str, str, int | None, int, int] | None:
    """The first event whose change did not start from the row the complaint's previous event
    recorded: the row was edited outside the trail in between (and the event then vouched for it)."""
    found = cur.execute(
        f"""
        with e as (
            select event_id, complaint_id, action, row_hash_before,
                   lag(row_hash) over w as prev_after, row_number() over w as n
            from complaint_events where key_id is not null and complaint_id <> $chain
            window w as (partition by complaint_id order by event_id)
        )
        select event_id, complaint_id, count(distinct complaint_id) over () from e
        where row_hash_before is distinct from '{UNKNOWN_BEFORE}' and not (n = 1 and action = 'sealed')
          and row_hash_before is distinct from prev_after
        order by event_id limit 1
        """, {"chain": CHAIN_SUBJECT}  # noqa: S608 (a constant)
    ).fetchall()
    if not found:
        return None
    event_id, complaint_id, count = found[0]
    return "row_gap", str(complaint_id), int(event_id), int(count), 1


def _row_problem(cur: Any) -> tuple[str, str, int | None, int, int] | None:
    """The first complaint whose row the chain does not vouch for, as (reason, complaint id, event id,
    how many complaints have that problem, rows with that id), or None."""
    found = cur.execute(
        f"""
        with rows_now as (select complaint_id, {row_hash_sql('c')} as h from complaints c),
        dups as (select complaint_id, count(*) as n from rows_now group by complaint_id having count(*) > 1),
        latest as (
            select complaint_id, max(event_id) as event_id, arg_max(row_hash, event_id) as row_hash
            from complaint_events where row_hash is not null group by complaint_id
        ),
        any_event as (select distinct complaint_id from complaint_events),
        problems as (
            select 1 as rank, 'row_duplicate' as reason, complaint_id, null::bigint as event_id, n from dups
            union all
            select 2, 'row_changed', r.complaint_id, l.event_id, 1 from rows_now r join latest l using (complaint_id)
            where r.h is distinct from l.row_hash
            union all
            select 3, 'row_deleted', l.complaint_id, l.event_id, 0 from latest l anti join rows_now using (complaint_id)
            union all
            select 4, 'row_no_event', r.complaint_id, null, 1 from rows_now r anti join any_event using (complaint_id)
            union all
            select 5, 'row_unhashed', r.complaint_id, null, 1 from rows_now r semi join any_event using (complaint_id)
            anti join latest using (complaint_id)
        )
        select reason, complaint_id, event_id, count(distinct complaint_id) over (partition by reason), n
        from problems order by rank, event_id nulls last, complaint_id limit 1
        """  # noqa: S608 (fixed columns)
    ).fetchall()
    if not found:
        return None
    reason, complaint_id, event_id, count, rows = found[0]
    return str(reason), str(complaint_id), None if event_id is None else int(event_id), int(count), int(rows)


def _row(cur: Any, complaint_id: str) -> dict[str, Any]:
    res = cur.execute("select * from complaints where complaint_id = $id limit 1", {"id": complaint_id})
    row = res.fetchone()
    if row is None:
        raise ComplaintError("not_found", complaint_id=complaint_id)
    return dict(zip([d[0] for d in res.description], row, strict=True))


def _same(old: Any, new: Any) -> bool:
    return _value(old) == _value(new)


def _apply(cur: Any, complaint_id: str, row: dict[str, Any], updates: Mapping[str, Any], actor: str,
           action: str, note: str | None, when: dt.datetime) -> list[int]:
    """Apply checked updates to one complaint on the caller's cursor: one UPDATE and one event per
    changed field, each event carrying the row hash its UPDATE returned; `row` is kept current."""
    events = []
    before: str | None = _UNSET
    for col, new in updates.items():
        if col not in EDITABLE:
            raise ValueError(f"field {col} is not editable")
        if _same(row.get(col), new):
            continue
        if before is _UNSET:
            _chain(cur, actor, when)  # a legacy chain is sealed before the row changes
            before = current_row_hash(cur, complaint_id)
        cur.execute(f"update complaints set {col} = $v where complaint_id = $id",  # noqa: S608 (allow-listed)
                    {"v": new, "id": complaint_id})
        after = current_row_hash(cur, complaint_id)
        events.append(append_event(cur, complaint_id, actor, action, col, row.get(col), new, note, when,
                                   row_hash=after, row_hash_before=before))
        row[col] = new
        before = after
    return events


def _check_open(row: Mapping[str, Any]) -> None:
    """Closed is final: a closed complaint accepts no further action, from any path."""
    if row["status"] == "closed":
        raise ComplaintError("closed")


def _change(complaint_id: str, actor: str, action: str, updates: Mapping[str, Any],
            note: str | None, check: Any, db: str | Path | None, now: dt.datetime | None = None) -> list[int]:
    """Apply updates to one complaint and append an event per changed field, in one transaction."""
    when = now or _now()

    def fn(cur: Any) -> list[int]:
        row = _row(cur, complaint_id)
        _check_open(row)
        resolved = check(row, when) if check else updates
        return _apply(cur, complaint_id, row, resolved, actor, action, note, when)

    return write(fn, db=db)


def _required(value: str | None, what: str, limit: int = NOTE_MAX) -> str:
    text = (value or "").strip()
    if not text:
        raise ComplaintError("required", field=what)
    if len(text) > limit:
        raise ComplaintError("too_long", field=what, limit=limit)
    return text


def lifecycle_path(from_status: str, to_status: str) -> list[str] | None:
    """The steps that take a complaint from one status to another along TRANSITIONS (shortest
    first, without the start); None when the lifecycle has no way there (into new, out of closed...)."""
    if from_status == to_status:
        return []
    frontier, seen = [(from_status, [])], {from_status}
    while frontier:
        status, path = frontier.pop(0)
        for step in TRANSITIONS.get(status, ()):
            if step == to_status:
                return [*path, step]
            if step not in seen:
                seen.add(step)
                frontier.append((step, [*path, step]))
    return None


def _transition_updates(row: Mapping[str, Any], to_status: str, when: dt.datetime, *,
                        require_public: bool = True) -> dict[str, Any]:
    """The updates of one lifecycle step, or ComplaintError when the lifecycle forbids it.

    Resolving needs the resolution (and, from the workbench, the customer-facing text; an upload
    has no column for it). Reopening clears resolved_at.
    """
    current = row["status"]
    if to_status not in taxonomy.COMPLAINT_STATUSES:
        raise ComplaintError("unknown_status", status=to_status)
    if to_status not in TRANSITIONS.get(current, ()):
        allowed = ", ".join(TRANSITIONS.get(current, ())) or "-"
        raise ComplaintError("illegal_transition", from_status=current, to_status=to_status, allowed=allowed)
    updates: dict[str, Any] = {"status": to_status}
    if to_status == "resolved":
        if not row.get("resolution") or (require_public and not row.get("public_resolution")):
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


ASSIGNEE_ROLES = ("compliance", "admin")


def assignees(db: str | Path | None = None) -> list[str]:
    """The usernames a complaint may be assigned to: active compliance officers and admins."""
    frame = dbmod.read("select username from users where is_active and list_contains($roles, role)"
                       " order by username", {"roles": list(ASSIGNEE_ROLES)}, db=db)
    return frame["username"].tolist()


def assign(complaint_id: str, actor: str, assignee: str, note: str | None = None, *,
           now: dt.datetime | None = None, db: str | Path | None = None, staff_only: bool = False) -> list[int]:
    """Assign the complaint to a team member; with staff_only (the portal's own form), only to one of
    assignees(), whatever a browser sends."""
    who = _required(assignee, "assignee", 64)
    if staff_only and who not in assignees(db):
        raise ComplaintError("assignee_unknown", assignee=who)
    return _change(complaint_id, actor, "assign", {"assignee": who}, note, None, db, now)


def extend(complaint_id: str, actor: str, extension_days: int, reason: str, *,
           now: dt.datetime | None = None, db: str | Path | None = None) -> list[int]:
    """Record an extension to 30 (15 more days) or 60 days (45 more), with a required reason."""
    if extension_days not in (15, 45):
        raise ComplaintError("extension_days")
    why = _required(reason, "reason", 2000)

    return _change(complaint_id, actor, "extend", {}, why,
                   lambda row, when: _extension_updates(row, extension_days, why), db, now)


def _extension_updates(row: Mapping[str, Any], extension_days: int, reason: str) -> dict[str, Any]:
    """An extension's updates, or ComplaintError: only while open, only longer (0 -> 15 -> 45)."""
    if extension_days not in (15, 45):
        raise ComplaintError("extension_days")
    if row["status"] in DONE_STATUSES:
        raise ComplaintError("extension_after_resolution")
    if int(row.get("extension_days") or 0) >= extension_days:
        raise ComplaintError("extension_not_longer", days=int(row.get("extension_days") or 0))
    return {"extension_days": extension_days, "extension_reason": reason}


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


# Complaints uploads: what an upload may change in an existing complaint.
#
# An upload adds new complaints (an "imported" event each). A row for a complaint that exists goes
# through the lifecycle, inside the upload's one transaction: each field it changes is one event
# (actor upload:<id>:<user>, the workbench's action names); a status moves along TRANSITIONS one
# step per event. What the lifecycle forbids is a row error in quarantine, with the row verbatim:
# any change to a closed complaint, a status the lifecycle cannot reach (into new, back from
# investigating...), resolving without a resolution, an extension that is not longer or comes after
# the resolution, and a change to a public-form ticket's own words (narrative, received_at,
# source; its contact details and plan request have no upload column at all). A blank cell keeps
# the stored value; resolved_at from the file is used when the complaint ends resolved (the
# lifecycle clears it when the complaint ends open).

UPLOAD_FIELDS = (
    "received_at", "source", "customer_id", "loan_id", "channel", "agent_id", "agency_id", "narrative",
    "issue", "sub_issue", "issue_verbatim", "sub_issue_verbatim", "timely_response", "resolution", "root_cause",
    "extension_days", "extension_reason", "status", "resolved_at",
)
FORM_OWN_FIELDS = ("received_at", "source", "narrative")  # a form ticket's own, among the upload's columns
_UPLOAD_ACTIONS = {"issue": "triage", "sub_issue": "triage", "resolution": "resolution", "root_cause": "root_cause",
                   "extension_days": "extend", "extension_reason": "extend", "status": "transition",
                   "resolved_at": "transition"}


@dataclass(frozen=True)
class UploadRule:
    """A lifecycle row error, shaped like the upload's own rules (column, code, sql, args)."""

    column: str
    code: str
    sql: str = ""
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class _UploadPlan:
    changes: dict[str, list[tuple[str, Any, Any, str]]]  # complaint -> [(column, old, new, action)]
    old_loans: dict[str, Any]
    new_loans: dict[str, Any]


def _upload_actor(upload_id: int, user: str) -> str:
    return f"upload:{upload_id}:{user}"


def _plan_row(old: dict[str, Any], new: dict[str, Any], diff: list[str], carried: set[str],
              when: dt.datetime) -> tuple[list[tuple[str, Any, Any, str]], tuple[str, str, str, dict] | None]:
    """The lifecycle's verdict on one uploaded row of an existing complaint, given the columns whose
    non-blank uploaded value differs from the stored one (in UPLOAD_FIELDS order): the changes in
    order, or a row error (code, column, value, args)."""
    if not diff:
        return [], None
    if old["status"] == "closed":
        return [], ("complaint_closed", diff[0], ", ".join(diff), {})
    if old.get("source") == "form":
        own = [c for c in diff if c in FORM_OWN_FIELDS]
        if own:
            return [], ("complaint_form_field", own[0], _value(new[own[0]]) or "", {})
    elif "source" in diff and new["source"] == "form":
        return [], ("complaint_form_source", "source", "form", {})
    row = dict(old)
    changes: list[tuple[str, Any, Any, str]] = []

    def put(column: str, value: Any) -> None:
        if not _same(row.get(column), value):
            changes.append((column, row.get(column), value, _UPLOAD_ACTIONS.get(column, "update")))
            row[column] = value

    for column in diff:
        if column not in ("status", "resolved_at", "extension_days", "extension_reason"):
            put(column, new[column])
    if "extension_days" in diff:
        reason = new.get("extension_reason") or row.get("extension_reason")
        try:
            for column, value in _extension_updates(row, int(new["extension_days"]), reason or "").items():
                put(column, value)
        except ComplaintError:  # the reason says what the lifecycle allows
            return [], ("complaint_extension", "extension_days",
                        f"{row.get('extension_days') or 0} → {new['extension_days']}", {})
    elif "extension_reason" in diff:
        put("extension_reason", new["extension_reason"])
    if "status" in diff:
        path = lifecycle_path(row["status"], new["status"])
        if path is None:
            return [], ("complaint_transition", "status", f"{row['status']} → {new['status']}", {})
        for step in path:
            try:
                updates = _transition_updates(row, step, when, require_public=False)
            except ComplaintError:
                return [], ("complaint_resolution_first", "status", f"{row['status']} → {step}", {})
            if step == "resolved" and "resolved_at" in carried and new.get("resolved_at") is not None:
                updates["resolved_at"] = new["resolved_at"]
            for column, value in updates.items():
                put(column, value)
    elif "resolved_at" in diff and row["status"] in DONE_STATUSES:
        put("resolved_at", new["resolved_at"])
    return changes, None


def _upload_candidates(cur: Any, carried: set[str]) -> list[tuple[int, dict, dict, list[str]]]:
    """The valid uploaded rows of existing complaints that differ from the stored row in a carried,
    non-blank column: (line, stored row, uploaded row, the differing columns), all found in one query.
    Times compare to the whole second (exports drop the fractions the portal stored)."""
    cols = [c for c in UPLOAD_FIELDS if c in carried]
    if not cols:
        return []
    checks = []
    for c in cols:
        differs = (f"date_trunc('second', t.{c}) is distinct from date_trunc('second', c.{c})"
                   if c in _TIMESTAMP_COLUMNS else f"t.{c} is distinct from c.{c}")
        checks.append(f"case when t.{c} is not null and {differs} then '{c}' end")
    stored = ", ".join(f"c.{c} as old_{c}" for c in dict.fromkeys(
        ("status", "source", "extension_days", "extension_reason", "resolution", "public_resolution",
         "resolved_at", "loan_id", *cols)))
    res = cur.execute(
        f"select * from (select t._line, t.complaint_id, {', '.join('t.' + c for c in cols)}, {stored}, "  # noqa: S608 (allow-listed)
        f"list_filter([{', '.join(checks)}], lambda x: x is not null) as _diff from _typed t "
        f"join complaints c using (complaint_id) where t._errs is null) where len(_diff) > 0 order by _line")
    names = [d[0] for d in res.description]
    out = []
    for values in res.fetchall():
        rec = dict(zip(names, values, strict=True))
        old = {k[4:]: v for k, v in rec.items() if k.startswith("old_")} | {"complaint_id": rec["complaint_id"]}
        out.append((int(rec["_line"]), old, {c: rec[c] for c in cols}, list(rec["_diff"])))
    return out


def check_upload(cur: Any, rules: list[Any], carried: Iterable[str], *, expected_fields: int = 0,
                 now: dt.datetime | None = None) -> list[Any]:
    """Validate a complaints upload's rows for existing complaints against the lifecycle (on the
    upload's cursor, after its typed table `_typed` exists): mark each forbidden change as a row
    error in `_typed._errs` and return the rules extended with their reasons. The allowed changes
    are kept for apply_upload on the same cursor."""
    when = (now or _now()).astimezone(UTC)
    carried = set(carried)
    _chain(cur, "system", when)  # a legacy chain is sealed before the upload changes any row
    candidates = _upload_candidates(cur, carried)
    # The slot after the file rules is the ragged-row rule of the reader; keep it where it is.
    extended = [*rules, UploadRule("", "bad_field_count", "", {"expected": expected_fields})]
    index: dict[tuple[str, str], int] = {}
    bad: list[dict[str, Any]] = []
    plan = _UploadPlan({}, {}, {})
    for line, old, new, diff in candidates:
        changes, error = _plan_row(old, new, diff, carried, when)
        if error is not None:
            code, column, value, args = error
            if (code, column) not in index:
                index[(code, column)] = len(extended)
                extended.append(UploadRule(column, code, "", args))
            bad.append({"_line": line, "r": index[(code, column)], "v": value})
        elif changes:
            cid = str(old["complaint_id"])
            plan.changes[cid] = changes
            plan.old_loans[cid] = old.get("loan_id")
            plan.new_loans[cid] = new.get("loan_id", old.get("loan_id"))
    if bad:
        frame = pd.DataFrame(bad).astype({"_line": "int64", "r": "int32", "v": object})
        with dbmod.arrow_view(cur, "_lifecycle_errors", frame[["_line", "r", "v"]]):
            cur.execute("update _typed set _errs = [{'r': f.r, 'v': f.v::varchar}] from _lifecycle_errors f "
                        "where _typed._line = f._line")
    _local.upload_plan = (cur, plan, when)
    return extended if bad else rules


def _column_types(cur: Any) -> dict[str, str]:
    return dict(cur.execute("select column_name, data_type from information_schema.columns "
                            "where table_name = 'complaints' and table_schema = 'main'").fetchall())


def _as_text(value: Any) -> str | None:
    """A value as text DuckDB casts back to its column type (timestamps keep their offset)."""
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return _aware(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def apply_upload(cur: Any, upload_id: int, user: str, upsert: Callable[[], Any]) -> int:
    """Apply a complaints upload on its cursor, inside its transaction: the changes check_upload
    allowed, in rounds (the first change of every complaint, then the second...), each round one
    UPDATE per column, one row-hash query and one bulk append of events; then the new complaints
    through `upsert` (the upload's own insert), after the rows of existing complaints are taken out
    of `_typed`; then the changed complaints' loans join `_affected_loans` for the derived facts.
    Returns the number of events appended."""
    stash = getattr(_local, "upload_plan", None)
    if stash is None or stash[0] is not cur:
        raise RuntimeError("apply_upload needs check_upload on the same cursor first")
    _, plan, when = stash
    _local.upload_plan = None
    actor = _upload_actor(upload_id, user)
    types = _column_types(cur)
    appended = 0
    if plan.changes:
        before = _row_hashes(cur, list(plan.changes))  # each row as the trail last saw it
        ids = pd.DataFrame({"complaint_id": pd.Series(list(plan.changes), dtype=object)})
        with dbmod.arrow_view(cur, "_upload_changed", ids):
            cur.execute("update complaints set upload_id = $u where complaint_id in "
                        "(select complaint_id from _upload_changed)", {"u": upload_id})
        rounds = max(len(c) for c in plan.changes.values())
        for k in range(rounds):
            step = [(cid, changes[k]) for cid, changes in plan.changes.items() if len(changes) > k]
            by_column: dict[str, list[tuple[str, str | None]]] = {}
            for cid, (column, _old, new, _action) in step:
                by_column.setdefault(column, []).append((cid, _as_text(new)))
            for column, values in by_column.items():
                if column not in UPLOAD_FIELDS:
                    raise ValueError(f"field {column} is not uploadable")
                frame = pd.DataFrame(values, columns=["complaint_id", "v"]).astype(object)
                with dbmod.arrow_view(cur, "_upload_round", frame):
                    cur.execute(f"update complaints set {column} = cast(f.v as {types[column]}) "  # noqa: S608 (allow-listed column, catalog type)
                                "from _upload_round f where complaints.complaint_id = f.complaint_id")
            chain = _chain(cur, actor, when)
            events = [_event(cid, actor, action, column, old, new, f"upload {upload_id}", when)
                      for cid, (column, old, new, action) in step]
            after = _row_hashes(cur, [cid for cid, _ in step])
            for event, (cid, _) in zip(events, step, strict=True):
                event["row_hash_before"] = before.get(cid)
            _append_records(cur, chain, events, after)
            before.update(after)
            appended += len(events)
    # Existing complaints are done (changed above, unchanged, or row errors): the upsert adds the new.
    cur.execute("delete from _typed where _errs is null and complaint_id in (select complaint_id from complaints)")
    upsert()
    loans = {v for v in (*plan.old_loans.values(), *plan.new_loans.values()) if v is not None}
    if loans:
        exists = cur.execute("select count(*) from duckdb_tables() where temporary and table_name = "
                             "'_affected_loans'").fetchall()[0][0]
        if exists:
            frame = pd.DataFrame({"loan_id": pd.Series(sorted(loans), dtype=object)})
            with dbmod.arrow_view(cur, "_upload_loans", frame):
                cur.execute("insert into _affected_loans select loan_id from _upload_loans "
                            "where loan_id not in (select loan_id from _affected_loans)")
    return appended
