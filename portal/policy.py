"""Contact-policy rule packs (loaded from TOML config) and the SQL engine that finds violations.

Packs live in `portal/rule_packs.toml`; an organisation adds or tightens packs without code through
extra TOML files named by the setting `rule_packs_file` (env PORTAL_RULE_PACKS_FILE), merged over the
shipped file. `load_packs()` validates them; `pack(name)` is the stable read API for other pages.

SQL never sees a formatted value: `sync_packs` copies the packs into the `rule_packs` table (and the
complaint-issue mapping into `policy_issue_rules`) whenever a database is opened, and installs the
engine, the table macro `policy_breaches(pack, start, end, customer)` from
`queries/macros/policy_breaches.sql`.

The engine runs at load time, not per page view: the derived table `policy_breach_facts` (see the end
of this module and portal/derived.py) holds every breach of every stored pack over the whole contact
log, refreshed for the affected time range in the upload's own transaction, and rebuilt whole when the
engine or a pack definition changes. The named queries policy_violations, policy_violation_details,
policy_league, policy_violations_by_month and complaint_breaches read it (plain SQL, so they also run
on Spark); policy_what_if runs the engine live, since a scenario pack is a one-off question.

Complaint evidence ("supported by contact data") maps complaint issues to the rules that bear them
out (table [complaint_issue_rules] of rule_packs.toml, the default shown in ISSUE_RULES):
communication_tactics <- quiet hours and every call cap; third_party_disclosure <- third_party_contact;
threatened_action <- visit_collectors (a lone collector at the door is the intimidation the 2-collector
rule guards against).

Counting details the DOMAIN text leaves open, as implemented:
- "within N days after" a right-party contact means strictly after it and at most N days later;
- contacts at the same instant are ordered deterministically (by contact_id, or its hash for 7-in-7),
  so a cap or 7-in-7 flags exactly the excess contacts (8 calls in one window = 1 violation);
- a visit with no collectors recorded is not counted (only a recorded number below the minimum is);
- a contact on a loan with no loan record is its own debtor in the pack's default time zone;
- loan and debtor keys are compared through 64-bit hashes where that saves a sort; a collision can at
  worst hide a 7-in-7 violation (probability about 1e-8 for a million loans), never invent one.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from portal import config, db, derived, taxonomy

log = logging.getLogger(__name__)

SHIPPED_FILE = config.PACKAGE_DIR / "rule_packs.toml"
ENGINE_NAME = "policy_breaches"
ENGINE_FILE = config.QUERIES_DIR / "macros" / "policy_breaches.sql"

RULE_KEYS: dict[str, tuple[str, ...]] = {
    "quiet_hours": ("quiet_start", "quiet_end"),
    "connected_calls_per_day": ("connected_calls_per_day",),
    "unanswered_calls_per_day": ("unanswered_calls_per_day",),
    "third_party_contact": ("third_party_after_rpc_days",),
    "visit_collectors": ("visit_min_collectors",),
    "calls_7_in_7": ("calls_in_window", "call_window_days"),
    "call_after_conversation": ("no_call_after_conversation_days",),
}
"""Every rule the engine knows, with the pack numbers it needs."""

RULES = tuple(RULE_KEYS)
COUNT_KEYS = ("connected_calls_per_day", "unanswered_calls_per_day", "visit_min_collectors", "calls_in_window",
              "complaint_decision_days", "complaint_max_days")
DAY_KEYS = ("third_party_after_rpc_days", "call_window_days", "no_call_after_conversation_days")
TIME_KEYS = ("quiet_start", "quiet_end")
TEXT_KEYS = ("label", "timezone_default", "extends")
NUMERIC_KEYS = COUNT_KEYS + DAY_KEYS
KNOWN_KEYS = frozenset(("rules", "exempt_channels", *TIME_KEYS, *TEXT_KEYS, *NUMERIC_KEYS))
MAX_WINDOW_DAYS = 30
ISSUE_RULES: dict[str, tuple[str, ...]] = {
    "communication_tactics": ("quiet_hours", "connected_calls_per_day", "unanswered_calls_per_day",
                              "calls_7_in_7", "call_after_conversation"),
    "third_party_disclosure": ("third_party_contact",),
    "threatened_action": ("visit_collectors",),
}
"""The shipped complaint issue -> breaching rules mapping (rule_packs.toml may redefine it)."""

PAYMENT_AT_RISK_DAYS = 7
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_PACK_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class PolicyError(ValueError):
    """A rule pack file or override that cannot be used; the message names the pack and key."""


def pack_files() -> list[Path]:
    """The TOML files that define packs: the shipped one, then each extra file from the settings."""
    extra = config.setting("rule_packs_file") or ""
    return [SHIPPED_FILE, *(Path(p).expanduser() for p in str(extra).split(os.pathsep) if p.strip())]


def load_packs() -> dict[str, dict[str, Any]]:
    """All rule packs by name, validated (files re-read when they change); raises PolicyError."""
    files = pack_files()
    stamps = []
    for path in files:
        try:
            stamps.append((str(path), path.stat().st_mtime_ns))
        except OSError as exc:
            raise PolicyError(f"rule pack file {path} cannot be read: {exc.strerror}") from None
    return copy.deepcopy(_load(tuple(stamps))[0])


def issue_rules() -> dict[str, tuple[str, ...]]:
    """Complaint issue -> the rules whose breaches support a complaint with that issue."""
    return dict(_load(tuple((str(p), p.stat().st_mtime_ns) for p in pack_files()))[1])


def pack(name: str | None = None) -> dict[str, Any]:
    """One pack (default: setting rule_pack) as a plain dict; raises PolicyError for an unknown name.

    Stable keys for other pages: name, label, rules (tuple, display order), quiet_start / quiet_end
    ("HH:MM" local time), exempt_channels, and each rule's numbers: connected_calls_per_day,
    unanswered_calls_per_day, third_party_after_rpc_days, visit_min_collectors, calls_in_window,
    call_window_days, no_call_after_conversation_days, plus complaint_decision_days and
    complaint_max_days. Keys of rules the pack does not check may be absent.
    """
    name = name or config.setting("rule_pack")
    packs = load_packs()
    if name not in packs:
        raise PolicyError(f"unknown rule pack {name!r}; known: {', '.join(packs)}")
    return packs[name]


def pack_names() -> list[str]:
    """The configured pack names, shipped packs first."""
    return list(load_packs())


@cache
def _load(stamps: tuple[tuple[str, int], ...]) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, ...]]]:
    raw: dict[str, dict[str, Any]] = {}
    issues: dict[str, tuple[str, ...]] = dict(ISSUE_RULES)
    for path, _ in stamps:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"rule pack file {path} is not valid TOML: {exc}") from None
        unknown = set(data) - {"packs", "complaint_issue_rules"}
        if unknown:
            raise PolicyError(f"rule pack file {path}: unknown table {sorted(unknown)[0]!r}")
        for name, table in data.get("packs", {}).items():
            if not isinstance(table, dict):
                raise PolicyError(f"rule pack file {path}: packs.{name} must be a table")
            raw.setdefault(name, {}).update(table)
        for issue, rules in data.get("complaint_issue_rules", {}).items():
            if issue not in taxonomy.COMPLAINT_ISSUES:
                raise PolicyError(f"complaint_issue_rules: unknown complaint issue {issue!r}")
            bad = [r for r in rules if r not in RULE_KEYS]
            if bad:
                raise PolicyError(f"complaint_issue_rules.{issue}: unknown rule {bad[0]!r}")
            issues[issue] = tuple(rules)
    packs = {name: validate(name, _resolve(name, raw, ())) for name in raw}
    return packs, issues


def _resolve(name: str, raw: Mapping[str, dict], seen: tuple[str, ...]) -> dict[str, Any]:
    table = dict(raw[name])
    base = table.pop("extends", None)
    if base is None:
        return table
    if base not in raw:
        raise PolicyError(f"rule pack {name}: extends unknown pack {base!r}")
    if base in seen or base == name:
        raise PolicyError(f"rule pack {name}: extends forms a cycle")
    merged = _resolve(base, raw, (*seen, name))
    merged.pop("label", None)
    merged.update(table)
    return merged


def _seconds(name: str, key: str, value: Any) -> int:
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    m = _TIME_RE.match(str(value).strip())
    if not m:
        raise PolicyError(f"rule pack {name}: {key} must be a local time HH:MM, not {value!r}")
    return int(m[1]) * 3600 + int(m[2]) * 60


def validate(name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """Check one resolved pack table and return it normalised; raises PolicyError naming the bad key."""
    if not _PACK_NAME_RE.match(name):
        raise PolicyError(f"rule pack name {name!r} must be lowercase letters, digits and _ (at most 40)")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise PolicyError(f"rule pack {name}: unknown key {unknown[0]!r}")
    out: dict[str, Any] = {"name": name, **{k: v for k, v in table.items() if k != "extends"}}
    rules = table.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError(f"rule pack {name}: rules must be a non-empty list of rule names")
    for rule in rules:
        if rule not in RULE_KEYS:
            raise PolicyError(f"rule pack {name}: unknown rule {rule!r} (known: {', '.join(RULES)})")
        missing = [k for k in RULE_KEYS[rule] if k not in table]
        if missing:
            raise PolicyError(f"rule pack {name}: rule {rule} needs {missing[0]}")
    if len(set(rules)) != len(rules):
        raise PolicyError(f"rule pack {name}: a rule is listed twice")
    out["rules"] = tuple(rules)
    for key in NUMERIC_KEYS:
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyError(f"rule pack {name}: {key} must be a whole number >= 0, not {value!r}")
        if key in DAY_KEYS and value > MAX_WINDOW_DAYS:
            raise PolicyError(f"rule pack {name}: {key} must be at most {MAX_WINDOW_DAYS} days")
    if "visit_min_collectors" in table and table["visit_min_collectors"] < 1:
        raise PolicyError(f"rule pack {name}: visit_min_collectors must be at least 1")
    for key in TIME_KEYS:
        if key in table:
            seconds = _seconds(name, key, table[key])
            out[key] = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    exempt = table.get("exempt_channels", ["letter", "legal"])
    if not isinstance(exempt, list) or any(c not in taxonomy.CHANNELS for c in exempt):
        raise PolicyError(f"rule pack {name}: exempt_channels must list channels from {taxonomy.CHANNELS}")
    out["exempt_channels"] = tuple(exempt)
    tz = table.get("timezone_default", config.setting("timezone"))
    if not isinstance(tz, str) or not tz:
        raise PolicyError(f"rule pack {name}: timezone_default must be an IANA time zone name")
    out["timezone_default"] = tz
    out.setdefault("label", name)
    return out


def _row(p: Mapping[str, Any], is_scenario: bool = False) -> dict[str, Any]:
    row = {
        "pack": p["name"], "label": p["label"], "is_scenario": is_scenario, "rules": list(p["rules"]),
        "timezone_default": p["timezone_default"],
        "quiet_start_s": _seconds(p["name"], "quiet_start", p["quiet_start"]) if "quiet_start" in p else None,
        "quiet_end_s": _seconds(p["name"], "quiet_end", p["quiet_end"]) if "quiet_end" in p else None,
        "exempt_channels": list(p["exempt_channels"]),
    }
    row.update({k: p.get(k) for k in NUMERIC_KEYS})
    return row


_ROW_COLUMNS = tuple(_row({"name": "x", "label": "x", "rules": (), "timezone_default": "UTC",
                           "exempt_channels": ()}))
_INSERT = (
    f"insert or replace into rule_packs ({', '.join(_ROW_COLUMNS)}, synced_at) "  # noqa: S608 (fixed column list)
    f"values ({', '.join('$' + c for c in _ROW_COLUMNS)}, now())"
)
_COMPARE = f"select {', '.join(_ROW_COLUMNS)} from rule_packs where not is_scenario order by pack"  # noqa: S608


def _engine_sql() -> tuple[str, str]:
    text = ENGINE_FILE.read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def sync_packs(cur: Any) -> bool:
    """Bring rule_packs, policy_issue_rules and the engine macro in line with config; True if changed.

    Runs on the cursor it is given inside the caller's transaction (a db.write function); idempotent,
    and writes nothing when the database already matches.
    """
    packs = load_packs()
    wanted = [_row(p) for p in packs.values()]
    have = cur.execute(_COMPARE).fetchall()
    wanted_tuples = sorted(tuple(_norm(r[c]) for c in _ROW_COLUMNS) for r in wanted)
    changed = packs_changed = [tuple(_norm(v) for v in row) for row in have] != wanted_tuples
    if changed:
        cur.execute("delete from rule_packs where not is_scenario")
        for row in wanted:
            cur.execute(_INSERT, row)
    pairs = sorted((issue, rule) for issue, rules in issue_rules().items() for rule in rules)
    if cur.execute("select issue, rule from policy_issue_rules order by all").fetchall() != pairs:
        cur.execute("delete from policy_issue_rules")
        for issue, rule in pairs:
            cur.execute("insert into policy_issue_rules values ($issue, $rule)", {"issue": issue, "rule": rule})
        changed = True
    text, digest = _engine_sql()
    installed = cur.execute("select sha256 from policy_engine where name = $n", {"n": ENGINE_NAME}).fetchone()
    engine_changed = installed is None or installed[0] != digest
    if engine_changed:
        cur.execute(text)
        cur.execute("insert or replace into policy_engine values ($n, $sha, now())",
                    {"n": ENGINE_NAME, "sha": digest})
        changed = True
    _register(wanted)
    if changed:
        _bump_generation()
    if packs_changed or engine_changed:
        # the stored facts were computed under other definitions: rebuilt whole before the next read
        cur.execute("delete from derived_state where name in ($f, $r)", {"f": FACTS_TABLE, "r": RULES_TABLE})
    return changed


_generation = [0]


def _bump_generation() -> None:
    _generation[0] += 1


def packs_generation() -> int:
    """A number that changes whenever this process syncs a changed pack into a database (for caches)."""
    return _generation[0]


def _norm(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


def sync(*, db_path: str | Path | None = None) -> bool:
    """Refresh the packs, issue mapping and engine in one database through the write path."""
    return db.write(sync_packs, db=db_path)


def sync_on_open(conn: Any) -> None:
    """db.connect hook: sync on a fresh cursor (a broken pack file is logged, not fatal to the portal),
    and install the pre-contact check's SQL functions (portal/prevention) on the connection."""
    from portal import prevention  # late import: prevention reads packs and the log through portal.db

    prevention.register_functions(conn)
    cur = conn.cursor()
    try:
        cur.execute("set TimeZone = $tz", {"tz": config.setting("timezone")})
        cur.execute("begin transaction")
        try:
            sync_packs(cur)
            cur.execute("commit")
        except Exception:
            cur.execute("rollback")
            raise
    except PolicyError as exc:
        log.warning("rule packs not synced: %s", exc)
    finally:
        cur.close()


def scenario(base_pack: str, overrides: Mapping[str, Any], *, db_path: str | Path | None = None) -> str:
    """Store base_pack with overrides as a what-if scenario pack and return its name (stable per content)."""
    base = pack(base_pack)
    bad = sorted(set(overrides) - set(NUMERIC_KEYS) - set(TIME_KEYS))
    if bad:
        raise PolicyError(f"what-if cannot change {bad[0]!r}")
    table = {k: v for k, v in base.items() if k != "name"}
    table.update({k: v for k, v in overrides.items() if v is not None})
    table["rules"] = list(table["rules"])
    table["exempt_channels"] = list(table["exempt_channels"])
    digest = hashlib.sha256(repr(sorted(table.items())).encode()).hexdigest()[:12]
    name = f"whatif_{digest}"
    checked = validate(name, table)
    checked["label"] = f"{base['label']} (what-if)"

    def store(cur: Any) -> None:
        cur.execute(_INSERT.replace("insert or replace", "insert or ignore"), _row(checked, is_scenario=True))

    db.write(store, db=db_path)
    return name


def what_if(base_pack: str, overrides: Mapping[str, Any], start: dt.date, end: dt.date, *,
            db_path: str | Path | None = None) -> pd.DataFrame:
    """Compare base_pack with a stricter variant over [start, end): per rule, the contacts the variant
    would also have blocked, and the payments (within 7 days after on the loan) and PTPs they put at risk."""
    name = scenario(base_pack, overrides, db_path=db_path)
    return db.query("policy_what_if", db=db_path, base_pack=base_pack, pack=name, start=start, end=end)


def complaint_evidence(complaint_id: str, pack_name: str | None = None, *,
                       db_path: str | Path | None = None) -> tuple[pd.DataFrame, bool]:
    """Breaches in the complaint's customer log in the 30 days before it, and whether any supports it."""
    frame = db.query("complaint_breaches", db=db_path, complaint_id=complaint_id,
                     pack=pack_name or config.setting("rule_pack"))
    return frame, bool(frame["matches_issue"].any()) if not frame.empty else False


# --- Materialised breaches ---------------------------------------------------------------------------
# The engine runs at load time, not per page view: policy_breach_facts holds every (pack, contact, rule)
# breach of every stored non-scenario pack over the whole contact log, and the Conduct queries filter it
# by pack and period. The engine's windows only look back (daily caps: the same local day; 7-in-7, calls
# after a conversation, third party after a right-party contact: at most N days), so new or changed
# contacts in [lo, hi] can only change the breaches of contacts in [lo - 1 day, hi + N days + 2 days):
# an upload deletes the facts of that range and runs the engine over it alone (the macro reads its own
# lookback before the range). Scenario (what-if) packs stay on the live engine.

FACTS_TABLE = "policy_breach_facts"
RULES_TABLE = "policy_pack_rules"
FACTS_READS = ("customers", "loans", "contacts")
_FACTS_LAYOUT = ("policy_breach_facts v1: pack, rule, contact_id, loan_id, customer_id, contact_at, local_time, "
                 "channel, outcome, agent_id, agency_id; refresh range [lo - 1 day, hi + window + 2 days)")
_FACTS_INSERT = """
insert into policy_breach_facts
select
    $pack, rule, contact_id, loan_id, customer_id, contact_at, local_time, channel, outcome, agent_id, agency_id
from policy_breaches($pack, $start::timestamptz, $end::timestamptz, null)
"""
_STORED_PACKS = """
select
    pack,
    greatest(coalesce(third_party_after_rpc_days, 0), coalesce(call_window_days, 0),
             coalesce(no_call_after_conversation_days, 0)) as window_days
from rule_packs
where not is_scenario
order by pack
"""


# The calendar months (UTC) the contact log spans, as [start, end) ranges; the last ends after the newest.
_LOG_MONTHS = """
with bounds as (
    select
        date_trunc('month', min(contact_at) at time zone 'UTC') as first_month,
        max(contact_at) as newest
    from contacts
)
select
    timezone('UTC', month_start) as start,
    least(timezone('UTC', month_start + interval 1 month), newest + interval 1 second) as end
from bounds, range(first_month, newest at time zone 'UTC' + interval 1 second, interval 1 month) as months (month_start)
where first_month is not null
order by start
"""


FULL_BUILD_CONTACTS = 10_000_000  # contacts per engine run in a full build (memory: roughly 1 GB per million)


def _build_chunks(cur: Any) -> list[tuple[Any, Any]]:
    """[start, end) ranges of whole calendar months, each holding about FULL_BUILD_CONTACTS contacts."""
    months = cur.execute(_LOG_MONTHS).fetchall()
    if not months:
        return []
    total = cur.execute("select count(*) from contacts").fetchall()[0][0]
    per_chunk = max(1, len(months) * FULL_BUILD_CONTACTS // max(total, 1))
    return [(months[i][0], months[min(i + per_chunk, len(months)) - 1][1]) for i in range(0, len(months), per_chunk)]


def facts_version(rows: list[Mapping[str, Any]]) -> str:
    """Version of the facts: the engine SQL, the facts layout and every (non-scenario) pack definition."""
    text, _ = _engine_sql()
    packs = sorted(repr(sorted((k, _norm(v)) for k, v in r.items())) for r in rows)
    return hashlib.sha256("\n".join([_FACTS_LAYOUT, text, *packs]).encode("utf-8")).hexdigest()[:16]


def _register(rows: list[Mapping[str, Any]]) -> None:
    version = facts_version(rows)
    derived.register(FACTS_TABLE, FACTS_READS, refresh_facts, version)
    derived.register(RULES_TABLE, ("customers",), refresh_pack_rules, version)


def _facts_stamped(cur: Any) -> bool:
    """True when the stored facts were last computed under the current engine and packs."""
    row = cur.execute("select signature from derived_state where name = $n", {"n": FACTS_TABLE}).fetchone()
    return row is not None and row[0] == derived.tables()[FACTS_TABLE].signature


def refresh_facts(cur: Any, change: derived.Change) -> None:
    """derived refresher of policy_breach_facts: whole log when `change.full` (or the facts were computed
    under other definitions), else only the range the changed contacts can affect."""
    packs = cur.execute(_STORED_PACKS).fetchall()
    if change.full or not _facts_stamped(cur):
        cur.execute("delete from policy_breach_facts")
        for pack_name, _ in packs:
            # A few calendar months of the log at a time (the engine reads its own look-back before each),
            # so memory stays bounded by about FULL_BUILD_CONTACTS contacts however long the log is;
            # fewer, larger chunks scan the log fewer times.
            for start, end in _build_chunks(cur):
                cur.execute(_FACTS_INSERT + "order by rule, loan_id, contact_at",
                            {"pack": pack_name, "start": start, "end": end})
        return
    if change.contact_span is None:
        return
    lo, hi = change.contact_span
    for pack_name, window_days in packs:
        start, end = cur.execute("select $lo::timestamptz - interval 1 day, $hi::timestamptz + to_days($d + 2)",
                                 {"lo": lo, "hi": hi, "d": int(window_days)}).fetchone()
        cur.execute("delete from policy_breach_facts where pack = $pack and contact_at >= $start "
                    "and contact_at < $end", {"pack": pack_name, "start": start, "end": end})
        cur.execute(_FACTS_INSERT, {"pack": pack_name, "start": start, "end": end})


def refresh_pack_rules(cur: Any, change: derived.Change) -> None:
    """derived refresher of policy_pack_rules: each stored pack's rules in display order (a few rows)."""
    cur.execute("delete from policy_pack_rules")
    cur.execute("insert into policy_pack_rules select pack, unnest(rules), generate_subscripts(rules, 1) "
                "from rule_packs where not is_scenario")


def register_derived() -> None:
    """Register the policy derived tables with the packs of the current configuration (done on import;
    sync_packs re-registers them with the packs it stores)."""
    try:
        _register([_row(p) for p in load_packs().values()])
    except PolicyError:  # a broken pack file is reported when a database is opened (sync_on_open)
        _register([])


register_derived()
