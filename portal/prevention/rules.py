"""The rules of the pre-contact check, for one planned contact against one debtor's contacts.

Each rule is an object with blocks(u) (whether it blocks the contact at instant u), block(u) (the Block
naming the reason's numbers) and release(u) (the first instant >= u at which it no longer blocks, None
for never); `evaluate` asks every rule that bears on the contact and `next_allowed` jumps from release
to release. Times are epoch microseconds;
local times are the debtor's wall clock, as the audit engine computes them (local_us).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal import config
from portal.i18n import label, t

SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US
LOOKBACK_DAYS = 32  # the longest window a pack may have (30 days) plus a local day either side
HORIZON_DAYS = 62
MAX_STEPS = 400

# the bits of contact_check_log.kind (queries/derived/contact_check_log.sql), plus PLANNED for rows of a list
PHONE, RIGHT_PARTY, NO_ANSWER, DEBTOR, PLANNED = 1, 2, 4, 8, 16
OPTED_OUT = "opted_out_channel"
CHECK_RULES = (OPTED_OUT, "quiet_hours", "connected_calls_per_day", "unanswered_calls_per_day",
               "third_party_contact", "visit_collectors", "calls_7_in_7", "call_after_conversation")
"""Every rule a check can name: the customer's opt-out, then the audit engine's rules."""

ATTEMPT_OUTCOMES = {"phone": "no_answer", "visit": "failed", "legal": "filed"}
"""The outcome a planned contact is appended with (never a right-party outcome); `sent` otherwise."""


class CheckError(ValueError):
    """A check that cannot run at all (unknown pack, unreadable list); the message is one line."""


@dataclass(frozen=True)
class Pack:
    """A rule pack as the check reads it: a row of the rule_packs table (the audit engine's numbers)."""

    name: str
    rules: tuple[str, ...]
    timezone_default: str
    quiet_start_s: int | None = None
    quiet_end_s: int | None = None
    exempt_channels: frozenset[str] = frozenset()
    connected_calls_per_day: int | None = None
    unanswered_calls_per_day: int | None = None
    third_party_after_rpc_days: int | None = None
    visit_min_collectors: int | None = None
    calls_in_window: int | None = None
    call_window_days: int | None = None
    no_call_after_conversation_days: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Pack:
        """A Pack from a rule_packs row (a dict of its columns)."""
        names = cls.__dataclass_fields__
        values = {k: row[k] for k in names if k in row and k not in ("name", "rules", "exempt_channels")}
        return cls(name=row.get("pack") or row.get("name"), rules=tuple(row["rules"]),
                   exempt_channels=frozenset(row.get("exempt_channels") or ()), **values)


PACK_SQL = "select * from rule_packs where pack = $pack"


def load_pack(cur: Any, name: str | None) -> Pack:
    """The stored pack `name` (default: the setting rule_pack); raises CheckError for an unknown one."""
    name = name or config.setting("rule_pack")
    found = cur.execute(PACK_SQL, {"pack": name}).fetchall()
    if not found:
        known = [r[0] for r in cur.execute("select pack from rule_packs where not is_scenario order by pack").fetchall()]
        raise CheckError(f"unknown rule pack {name!r}; known: {', '.join(known)}")
    return Pack.from_row(dict(zip([d[0] for d in cur.description], found[0], strict=True)))


# --- Local time in the debtor's zone -------------------------------------------------------------------

@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (cached); raises CheckError for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CheckError(f"unknown time zone {name!r}") from None


HOUR_US = 3600 * SECOND_US


def _exact_offset(tz: ZoneInfo, at_us: int) -> int:
    local = dt.datetime.fromtimestamp(at_us // SECOND_US, tz)
    return int(local.utcoffset().total_seconds()) * SECOND_US


def _hour_offset(tz: ZoneInfo, hour: int) -> int | None:
    """The offset throughout one UTC hour, or None when it changes inside it (no zone changes twice in one)."""
    first, last = _exact_offset(tz, hour * HOUR_US), _exact_offset(tz, (hour + 1) * HOUR_US - 1)
    return first if first == last else None


_MISSING = object()
_hours: dict[ZoneInfo, dict[int, int | None]] = {}


def offset_us(tz: ZoneInfo, at_us: int) -> int:
    """The UTC offset of zone tz at the instant at_us (epoch microseconds), in microseconds."""
    hours = _hours.get(tz)
    if hours is None or len(hours) > 200_000:
        hours = _hours[tz] = {}
    hour = at_us // HOUR_US
    offset = hours.get(hour, _MISSING)
    if offset is _MISSING:
        offset = hours[hour] = _hour_offset(tz, hour)
    return _exact_offset(tz, at_us) if offset is None else offset


def local_us(tz: ZoneInfo, at_us: int) -> int:
    """The wall-clock time in tz at at_us, as microseconds since 1970-01-01 00:00 (the engine's local_us)."""
    return at_us + offset_us(tz, at_us)


def _offset_change(tz: ZoneInfo, start_us: int, end_us: int) -> int | None:
    """The first instant in (start, end] whose offset differs from start's, or None (at most one change)."""
    before = offset_us(tz, start_us)
    if offset_us(tz, end_us) == before:
        return None
    lo, hi = start_us // SECOND_US, end_us // SECOND_US  # offsets change on whole seconds
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offset_us(tz, mid * SECOND_US) == before:
            lo = mid
        else:
            hi = mid
    return hi * SECOND_US


_EPOCH = dt.datetime(1970, 1, 1)


def to_local_text(tz: ZoneInfo, at_us: int, with_date: bool = True) -> str:
    """'2026-03-11 08:00' (or '08:00') in zone tz, for reasons."""
    text = (_EPOCH + dt.timedelta(microseconds=local_us(tz, at_us))).isoformat(sep=" ", timespec="minutes")
    return text if with_date else text[11:]


def to_datetime(tz: ZoneInfo, at_us: int) -> dt.datetime:
    """The instant at_us as an aware datetime in zone tz."""
    return dt.datetime.fromtimestamp(at_us // SECOND_US, tz) + dt.timedelta(microseconds=at_us % SECOND_US)


def epoch_us(value: dt.datetime) -> int:
    """Epoch microseconds of an aware datetime."""
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * SECOND_US + delta.microseconds


def opted_out_channels(text: str | None) -> frozenset[str]:
    """The channels a customer refused, from the comma-separated text of customers.opted_out_channels."""
    return frozenset(c.strip().lower() for c in (text or "").split(",") if c.strip())


# --- The debtor's log ------------------------------------------------------------------------------------

@dataclass
class Debtor:
    """One debtor's contacts near the planned time (log and allowed planned rows), sorted by time."""

    customer_id: str
    tz_name: str
    opted_out: frozenset[str] = frozenset()
    times: list[int] = field(default_factory=list)
    loans: list[str] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    days: list[int] = field(default_factory=list)
    _loan_times: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tz = zone(self.tz_name)
        if len(self.days) != len(self.times):
            self.days = [local_us(self.tz, at) // DAY_US for at in self.times]

    def add(self, at_us: int, loan_id: str, kind: int) -> None:
        """Append one contact, keeping time order."""
        i = bisect_right(self.times, at_us)
        self.times.insert(i, at_us)
        self.loans.insert(i, loan_id)
        self.kinds.insert(i, kind)
        self.days.insert(i, local_us(self.tz, at_us) // DAY_US)
        self._loan_times.clear()

    def loan_times(self, loan_id: str, test: Callable[[int], bool]) -> list[int]:
        """The times of this loan's contacts whose kind passes test, in order (kept until the next add)."""
        key = (loan_id, test)
        found = self._loan_times.get(key)
        if found is None:
            found = self._loan_times[key] = [at for at, loan, kind in zip(self.times, self.loans, self.kinds,
                                                                          strict=True) if loan == loan_id and test(kind)]
        return found

    def day_count(self, day: int, test: Callable[[int], bool]) -> tuple[int, int]:
        """(contacts, of them planned) on local day `day` whose kind passes test."""
        # an offset is within +-26 h: only contacts in that band of UTC can fall on the local day
        lo = bisect_left(self.times, day * DAY_US - 26 * 3600 * SECOND_US)
        hi = bisect_left(self.times, (day + 1) * DAY_US + 26 * 3600 * SECOND_US)
        n = planned = 0
        for i in range(lo, hi):
            if self.days[i] == day and test(self.kinds[i]):
                n += 1
                planned += bool(self.kinds[i] & PLANNED)
        return n, planned


@dataclass(frozen=True)
class Contact:
    """A planned contact: the loan, channel, party (debtor or third_party), instant and collectors."""

    loan_id: str
    channel: str
    party: str
    at_us: int
    collectors: int | None = None

    @property
    def kind(self) -> int:
        """Its bits once it is made as planned (an attempt: never a right-party outcome)."""
        return (PHONE if self.channel == "phone" else 0) | (DEBTOR if self.party == "debtor" else 0) | PLANNED


@dataclass(frozen=True)
class Block:
    """One rule that blocks a contact, with the numbers its reason names."""

    rule: str
    key: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    """The check of one contact: the blocking rules (none: allowed) and the earliest allowed instant."""

    blocks: tuple[Block, ...]
    next_allowed_us: int | None = None

    @property
    def allowed(self) -> bool:
        return not self.blocks


def _is_connected(kind: int) -> bool:
    return kind & (PHONE | DEBTOR) == PHONE | DEBTOR and bool(kind & (RIGHT_PARTY | PLANNED))


def _is_unanswered(kind: int) -> bool:
    return bool(kind & PHONE) and bool(kind & (NO_ANSWER | PLANNED))


def _is_phone(kind: int) -> bool:
    return bool(kind & PHONE)


def _is_right_party(kind: int) -> bool:
    return bool(kind & RIGHT_PARTY)


def _is_conversation(kind: int) -> bool:
    return kind & (PHONE | RIGHT_PARTY) == PHONE | RIGHT_PARTY


# --- The rules, each for one planned contact: blocks(u) whether it blocks at instant u, block(u) the reason's
# numbers, release(u) the first instant >= u at which it no longer blocks (None: never) ----------------------------------


class _OptedOut:
    rule = OPTED_OUT

    def __init__(self, channel: str):
        self.channel = channel

    def blocks(self, u: int) -> bool:
        return True

    def block(self, u: int) -> Block:
        return Block(self.rule, self.rule, {"channel": self.channel})

    def release(self, u: int) -> int | None:
        return None


class _QuietHours:
    rule = "quiet_hours"

    def __init__(self, debtor: Debtor, start_s: int, end_s: int):
        self.tz, self.tz_name, self.start_s, self.end_s = debtor.tz, debtor.tz_name, start_s, end_s
        self.window = (_hhmm(start_s), _hhmm(end_s))

    def blocks(self, u: int) -> bool:
        sod = local_us(self.tz, u) // SECOND_US % 86_400
        if self.start_s > self.end_s:
            return sod >= self.start_s or sod < self.end_s
        return self.start_s <= sod < self.end_s

    def block(self, u: int) -> Block:
        return Block(self.rule, self.rule, {
            "local_time": to_local_text(self.tz, u, with_date=False), "day": to_local_text(self.tz, u)[:10],
            "quiet_start": self.window[0], "quiet_end": self.window[1], "timezone": self.tz_name})

    def release(self, u: int) -> int | None:
        # within one UTC offset the wall clock runs on to quiet_end; a DST change on the way restarts it
        for _ in range(8):
            if not self.blocks(u):
                return u
            sod_us = local_us(self.tz, u) % DAY_US
            target = u + (self.end_s * SECOND_US - sod_us) % DAY_US
            change = _offset_change(self.tz, u, target)
            if change is None:
                return target
            u = change
        return None


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"


class _DailyCap:
    def __init__(self, rule: str, debtor: Debtor, test: Callable[[int], bool], limit: int):
        self.rule, self.debtor, self.test, self.limit = rule, debtor, test, limit

    def _count(self, u: int) -> tuple[int, int]:
        return self.debtor.day_count(local_us(self.debtor.tz, u) // DAY_US, self.test)

    def blocks(self, u: int) -> bool:
        return self._count(u)[0] >= self.limit

    def block(self, u: int) -> Block:
        n, planned = self._count(u)
        key = f"{self.rule}_planned" if planned else self.rule
        return Block(self.rule, key, {"count": n, "planned": planned, "limit": self.limit,
                                      "day": to_local_text(self.debtor.tz, u)[:10]})

    def _next_day(self, u: int) -> int | None:
        tz = self.debtor.tz
        day = local_us(tz, u) // DAY_US
        for _ in range(8):
            target = u + DAY_US - local_us(tz, u) % DAY_US
            change = _offset_change(tz, u, target)
            if change is None:
                return target
            u = change
            if local_us(tz, u) // DAY_US != day:
                return u
        return None

    def release(self, u: int) -> int | None:
        if self.limit <= 0:
            return None
        for _ in range(HORIZON_DAYS + 2):
            u = self._next_day(u)
            if u is None or not self.blocks(u):
                return u
        return None


class _AfterContact:
    """No contact of this kind within `window` after (strictly after, at most window later) a trigger."""

    def __init__(self, rule: str, triggers: list[int], window_us: int, days: int, tz: ZoneInfo):
        self.rule, self.triggers, self.window_us, self.days, self.tz = rule, triggers, window_us, days, tz

    def _trigger(self, u: int) -> int | None:
        i = bisect_left(self.triggers, u) - 1
        if i >= 0 and self.triggers[i] >= u - self.window_us:
            return self.triggers[i]
        return None

    def blocks(self, u: int) -> bool:
        return self._trigger(u) is not None

    def block(self, u: int) -> Block:
        return Block(self.rule, self.rule, {"days": self.days, "since": to_local_text(self.tz, self._trigger(u))})

    def release(self, u: int) -> int | None:
        for _ in range(len(self.triggers) + 1):
            trigger = self._trigger(u)
            if trigger is None:
                return u
            u = trigger + self.window_us + 1
        return u


class _CallWindow:
    """At most `limit` calls on the loan in any window (t - W, t], counted as the engine's lag does."""

    rule = "calls_7_in_7"

    def __init__(self, calls: list[int], limit: int, days: int, tz: ZoneInfo):
        self.calls, self.limit, self.days, self.window_us, self.tz = calls, limit, days, days * DAY_US, tz

    def _why(self, u: int) -> tuple[str, int] | None:
        """("own", calls in u's window) when u would be over the limit, ("later", s) when u would put the
        later call s over it, else None."""
        if self.window_us <= 0:
            return None
        calls, w, n = self.calls, self.window_us, self.limit
        within = bisect_right(calls, u) - bisect_right(calls, u - w)
        if within >= n:
            return "own", within
        # a later call s in (u, u + W): u joins its window; it turns into a breach when the calls before
        # it in its window fall short of the limit but reach it with its own ties (a_s < n <= a_s + m_s)
        j = bisect_right(calls, u)
        end = bisect_left(calls, u + w)
        while j < end:
            s = calls[j]
            last = bisect_right(calls, s)
            before = bisect_left(calls, s) - bisect_right(calls, s - w)
            if before < n <= before + (last - j):
                return "later", s
            j = last
        return None

    def blocks(self, u: int) -> bool:
        return self._why(u) is not None

    def block(self, u: int) -> Block:
        kind, value = self._why(u)
        if kind == "own":
            return Block(self.rule, self.rule, {"count": value, "limit": self.limit, "days": self.days,
                                                "local_time": to_local_text(self.tz, u)})
        return Block(self.rule, "calls_7_in_7_later", {"limit": self.limit, "days": self.days,
                                                       "later": to_local_text(self.tz, value)})

    def release(self, u: int) -> int | None:
        # the blocked instants end where a call leaves a window (x + W) or where u passes a later call (s)
        candidates = sorted({x + self.window_us for x in self.calls} | set(self.calls))
        for c in candidates[bisect_right(candidates, u):]:
            if not self.blocks(c):
                return c
        return None


class _VisitCollectors:
    rule = "visit_collectors"

    def __init__(self, collectors: int | None, minimum: int):
        self.collectors, self.minimum = collectors, minimum

    def blocks(self, u: int) -> bool:
        return (self.collectors or 1) < self.minimum

    def block(self, u: int) -> Block:
        key = self.rule if self.collectors is not None else f"{self.rule}_none"
        return Block(self.rule, key, {"minimum": self.minimum, "collectors": self.collectors or 0})

    def release(self, u: int) -> int | None:
        return None


def _checkers(pack: Pack, debtor: Debtor, c: Contact) -> list[Any]:
    """The rules that bear on this contact, the opt-out first, then the pack's rules in its order."""
    out: list[Any] = []
    if c.channel in debtor.opted_out:
        out.append(_OptedOut(c.channel))
    phone = c.channel == "phone"
    # a rule that has nothing to count (no contact of the debtor, no trigger on the loan) and a limit above
    # 0 cannot block at any instant: it is left out, which only saves time
    anything = bool(debtor.times)
    for rule in pack.rules:
        if rule == "quiet_hours" and c.channel not in pack.exempt_channels:
            out.append(_QuietHours(debtor, pack.quiet_start_s, pack.quiet_end_s))
        elif rule == "connected_calls_per_day" and phone and c.party == "debtor":
            if anything or pack.connected_calls_per_day <= 0:
                out.append(_DailyCap(rule, debtor, _is_connected, pack.connected_calls_per_day))
        elif rule == "unanswered_calls_per_day" and phone:
            if anything or pack.unanswered_calls_per_day <= 0:
                out.append(_DailyCap(rule, debtor, _is_unanswered, pack.unanswered_calls_per_day))
        elif rule == "third_party_contact" and c.party == "third_party":
            days = pack.third_party_after_rpc_days
            triggers = debtor.loan_times(c.loan_id, _is_right_party) if anything else []
            if triggers:
                out.append(_AfterContact(rule, triggers, days * DAY_US, days, debtor.tz))
        elif rule == "visit_collectors" and c.channel == "visit":
            out.append(_VisitCollectors(c.collectors, pack.visit_min_collectors))
        elif rule == "calls_7_in_7" and phone and pack.call_window_days > 0:
            calls = debtor.loan_times(c.loan_id, _is_phone) if anything else []
            if calls or pack.calls_in_window <= 0:
                out.append(_CallWindow(calls, pack.calls_in_window, pack.call_window_days, debtor.tz))
        elif rule == "call_after_conversation" and phone:
            days = pack.no_call_after_conversation_days
            triggers = debtor.loan_times(c.loan_id, _is_conversation) if anything else []
            if triggers:
                # the engine's window is at least a day wide (a zero-day window still needs a bucket width)
                out.append(_AfterContact(rule, triggers, max(days, 1) * DAY_US, days, debtor.tz))
    return out


def evaluate(pack: Pack, debtor: Debtor, contact: Contact) -> Verdict:
    """Check one planned contact against the debtor's contacts; the blocks and the next allowed instant."""
    checkers = _checkers(pack, debtor, contact)
    at = contact.at_us
    blocking = [ch for ch in checkers if ch.blocks(at)]
    if not blocking:
        return Verdict(())
    return Verdict(tuple(ch.block(at) for ch in blocking), next_allowed(checkers, at))


def next_allowed(checkers: Sequence[Any], at_us: int) -> int | None:
    """The first instant >= at_us that no rule blocks: jump to the latest release of the blocking ones."""
    u, limit = at_us, at_us + HORIZON_DAYS * DAY_US
    for _ in range(MAX_STEPS):
        releases = [ch.release(u) for ch in checkers if ch.blocks(u)]
        if not releases:
            return u
        if None in releases:
            return None
        u = max(releases)
        if u > limit:
            return None
    return None


def render(block: Block, lang: str = "en") -> str:
    """The plain-language reason of one block, in lang, from the prevention catalogue."""
    args = dict(block.args)
    if "channel" in args:
        args["channel"] = label("channel", args["channel"], lang)
    return t(f"prevention.reason.{block.key}", lang, **args)
