"""KPI alerts: rules from TOML over the Overview's KPIs, evaluated per month-end, with a history of
when each rule fired and cleared. No Streamlit here; the Overview, `portal alerts check`, the snapshot
upload path and the board pack call these functions.

Rules live in `portal/alert_rules.toml`; an organisation adds or changes rules without code through
extra TOML files named by the setting `alert_rules_file` (env PORTAL_ALERT_RULES_FILE; several paths
separated by the OS path separator), merged over the shipped file the way rule packs are: a
[rules.NAME] table with a new NAME adds a rule, one with an existing NAME overrides only the keys it
sets (`enabled = false` switches a shipped rule off). `load_rules()` validates them and raises
AlertError with one line naming the rule and the field.

A rule watches one KPI of the Overview (portal/kpis.py TILES, values from the named query
overview_kpis, never recomputed here) and is either
- a threshold: fires when the KPI at the month-end compares true with `value` under `op`
  (>, >=, < or <=), or
- a change: fires when the KPI is more than `sigmas` sample standard deviations from the mean of the
  `window` month-ends before it (all of them must have a value), in `direction` up, down or either.
  A window with no variation at all fires on any change from its (constant) value.
A KPI with no value at a month-end (no complaints due, no previous month) is not evaluated there.

History: `check()` walks the month-ends from where each rule's state stands (table alert_state) up to
the month-end checked, and records in alert_history each transition (fired, cleared) at the month-end
where it happened; a first check records the whole history of the data. A month-end with no value
keeps the state as it was. A check of a month-end older than a rule's state evaluates without writing
(history only moves forward); re-checking the newest month-end re-evaluates it, so a corrected upload
of that month is recorded, and unchanged data writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import operator
import os
import re
import statistics
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from portal import config, kpis
from portal import db as portal_db
from portal.i18n import t

log = logging.getLogger(__name__)

SHIPPED_FILE = config.PACKAGE_DIR / "alert_rules.toml"
TYPES = ("threshold", "change")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
DIRECTIONS = ("either", "up", "down")
SEVERITIES = ("info", "warning", "critical")
COMMON_KEYS = ("kpi", "type", "label", "severity", "enabled")
TYPE_KEYS = {"threshold": ("op", "value"), "change": ("sigmas", "window", "direction")}
KNOWN_KEYS = frozenset(COMMON_KEYS + TYPE_KEYS["threshold"] + TYPE_KEYS["change"])
DEFAULT_SIGMAS, DEFAULT_WINDOW, MAX_WINDOW = 2.0, 6, 24
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
TILE_BY_KEY = {tile.key: tile for tile in kpis.TILES}
TILE_BY_COLUMN = {tile.column: tile for tile in kpis.TILES}

Runner = Callable[..., pd.DataFrame]


class AlertError(ValueError):
    """An alert rules file or rule that cannot be used; the message is one line naming rule and field."""


@dataclass(frozen=True)
class Rule:
    """One validated alert rule."""

    name: str
    kpi: str  # a kpis.TILES key
    type: str
    op: str | None = None
    value: float | None = None
    sigmas: float = DEFAULT_SIGMAS
    window: int = DEFAULT_WINDOW
    direction: str = "either"
    label: str = ""
    severity: str = "warning"
    enabled: bool = True

    @property
    def tile(self) -> kpis.Tile:
        return TILE_BY_KEY[self.kpi]

    @property
    def signature(self) -> str:
        """A fingerprint of what the rule checks (not its label or severity)."""
        parts = [self.kpi, self.type, self.op, self.value, self.sigmas, self.window, self.direction]
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]

    @property
    def condition(self) -> str:
        """The condition in plain text, language-neutral (stored in the history): '> 0.28', 'change > 2 sd / 6'."""
        if self.type == "threshold":
            return f"{self.op} {self.value:g}"
        arrow = {"either": "±", "up": "+", "down": "-"}[self.direction]
        return f"change {arrow}{self.sigmas:g} sd / {self.window}"


@dataclass(frozen=True)
class Evaluation:
    """One rule at one month-end: the KPI value, whether it fires, and for a change rule its baseline."""

    rule: Rule
    as_of: dt.date
    value: float | None
    firing: bool
    evaluated: bool  # False when the KPI (or the change rule's window) has no value
    mean: float | None = None
    sd: float | None = None
    since: dt.date | None = None  # the month-end this run of firing started, when known

    def message(self, lang: str | None = None) -> str:
        """One line saying what fired (or why it is quiet), in the catalogue's language."""
        tile = self.rule.tile
        kpi = t(f"dash.overview.{tile.key}", lang)
        value = kpis.format_value(tile.kind, self.value)
        if not self.evaluated:
            return t("forecast.alerts.not_evaluated", lang, rule=self.rule.name, kpi=kpi)
        if self.rule.type == "threshold":
            key = "forecast.alerts.threshold_firing" if self.firing else "forecast.alerts.threshold_quiet"
            return t(key, lang, rule=self.rule.name, kpi=kpi, value=value, op=self.rule.op,
                     limit=kpis.format_value(tile.kind, self.rule.value), month=self.as_of.isoformat())
        deviation = self.value - self.mean
        if self.sd:
            sds = f"{deviation / self.sd:+.1f}"
        else:  # a window without variation: any change is infinitely many standard deviations
            sds = "0.0" if deviation == 0 else ("+∞" if deviation > 0 else "-∞")
        key = "forecast.alerts.change_firing" if self.firing else "forecast.alerts.change_quiet"
        return t(key, lang, rule=self.rule.name, kpi=kpi, value=value, month=self.as_of.isoformat(),
                 sds=sds, limit=f"{self.rule.sigmas:g}", window=self.rule.window,
                 mean=kpis.format_value(tile.kind, self.mean), sd=kpis.format_value(tile.kind, self.sd))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record (the CLI's --format json and the board pack)."""
        return {
            "rule": self.rule.name, "label": self.rule.label, "severity": self.rule.severity,
            "kpi": self.rule.kpi, "type": self.rule.type, "condition": self.rule.condition,
            "as_of": self.as_of.isoformat(), "value": self.value, "firing": self.firing,
            "evaluated": self.evaluated, "mean": self.mean, "sd": self.sd,
            "since": self.since.isoformat() if self.since else None, "message": self.message("en"),
        }


@dataclass(frozen=True)
class CheckResult:
    """What one check saw and wrote."""

    as_of: dt.date
    evaluations: tuple[Evaluation, ...]
    events: tuple[dict[str, Any], ...]  # the alert_history rows written by this check

    @property
    def firing(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.firing]


# Rules: files, merge, validation.


def rule_files() -> list[Path]:
    """The shipped rules file, then each of the organisation's files from the setting alert_rules_file."""
    extra = config.setting("alert_rules_file") or ""
    return [SHIPPED_FILE, *(Path(p).expanduser() for p in str(extra).split(os.pathsep) if p.strip())]


def load_rules(include_disabled: bool = False) -> dict[str, Rule]:
    """Every alert rule by name, validated (files re-read when they change); raises AlertError."""
    stamps = []
    for path in rule_files():
        try:
            stamps.append((str(path), path.stat().st_mtime_ns))
        except OSError as exc:
            raise AlertError(f"alert rules file {path} cannot be read: {exc.strerror}") from None
    rules = _load(tuple(stamps))
    return dict(rules) if include_disabled else {n: r for n, r in rules.items() if r.enabled}


@cache
def _load(stamps: tuple[tuple[str, int], ...]) -> dict[str, Rule]:
    raw: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for path, _ in stamps:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise AlertError(f"alert rules file {path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise AlertError(f"alert rules file {path} cannot be read: {exc.strerror}") from None
        unknown = sorted(set(data) - {"rules"})
        if unknown:
            raise AlertError(f"alert rules file {path}: unknown table {unknown[0]!r} (rules go in [rules.NAME])")
        tables = data.get("rules", {})
        if not isinstance(tables, dict):
            raise AlertError(f"alert rules file {path}: rules must be tables [rules.NAME]")
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise AlertError(f"alert rule {name} ({Path(path).name}): must be a table [rules.{name}]")
            raw.setdefault(name, {}).update(table)
            origin[name] = Path(path).name
    return {name: validate(name, table, origin[name]) for name, table in raw.items()}


def _number(name: str, field: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise AlertError(f"alert rule {name}{where}: {field} must be a number, not {value!r}")
    return float(value)


def validate(name: str, table: Mapping[str, Any], source: str = "") -> Rule:
    """Check one merged rule table and return the Rule; raises AlertError naming the rule and field."""
    where = f" ({source})" if source else ""
    if not _NAME_RE.match(str(name)):
        raise AlertError(f"alert rule name {name!r}{where} must be lowercase letters, digits and _ (at most 60)")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise AlertError(f"alert rule {name}{where}: unknown field {unknown[0]!r} "
                         f"(fields: {', '.join(sorted(KNOWN_KEYS))})")
    kind = table.get("type")
    if kind not in TYPES:
        raise AlertError(f"alert rule {name}{where}: type must be threshold or change, not {kind!r}")
    raw_kpi = table.get("kpi")
    tile = TILE_BY_KEY.get(str(raw_kpi)) or TILE_BY_COLUMN.get(str(raw_kpi))
    if tile is None:
        raise AlertError(f"alert rule {name}{where}: kpi must be one of {', '.join(TILE_BY_KEY)}, not {raw_kpi!r}")
    other = "change" if kind == "threshold" else "threshold"
    misplaced = [k for k in TYPE_KEYS[other] if k in table]
    if misplaced:
        raise AlertError(f"alert rule {name}{where}: {misplaced[0]} applies to {other} rules, not {kind} rules")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise AlertError(f"alert rule {name}{where}: enabled must be true or false, not {enabled!r}")
    severity = table.get("severity", "warning")
    if severity not in SEVERITIES:
        raise AlertError(f"alert rule {name}{where}: severity must be one of {', '.join(SEVERITIES)}, "
                         f"not {severity!r}")
    label = table.get("label", "")
    if not isinstance(label, str) or len(label) > 200 or any(ord(c) < 32 for c in label):
        raise AlertError(f"alert rule {name}{where}: label must be one line of text of at most 200 characters")
    common = {"name": name, "kpi": tile.key, "type": kind, "label": label, "severity": severity, "enabled": enabled}
    if kind == "threshold":
        op = table.get("op")
        if op not in OPS:
            raise AlertError(f"alert rule {name}{where}: op must be one of {', '.join(OPS)}, not {op!r}")
        if "value" not in table:
            raise AlertError(f"alert rule {name}{where}: value is required for a threshold rule")
        value = _number(name, "value", table["value"], where)
        if tile.kind == "rate" and not 0 <= value <= 1:
            raise AlertError(f"alert rule {name}{where}: value must be a fraction from 0 to 1 for {tile.key} "
                             f"(28% is 0.28), not {value:g}")
        return Rule(op=op, value=value, **common)
    sigmas = _number(name, "sigmas", table.get("sigmas", DEFAULT_SIGMAS), where)
    if sigmas <= 0:
        raise AlertError(f"alert rule {name}{where}: sigmas must be above 0, not {sigmas:g}")
    window = table.get("window", DEFAULT_WINDOW)
    if isinstance(window, bool) or not isinstance(window, int) or not 2 <= window <= MAX_WINDOW:
        raise AlertError(f"alert rule {name}{where}: window must be a whole number of month-ends from 2 to "
                         f"{MAX_WINDOW}, not {window!r}")
    direction = table.get("direction", "either")
    if direction not in DIRECTIONS:
        raise AlertError(f"alert rule {name}{where}: direction must be one of {', '.join(DIRECTIONS)}, "
                         f"not {direction!r}")
    return Rule(sigmas=sigmas, window=window, direction=direction, **common)


# Evaluation.


def _run(runner: Runner | None, db: str | Path | None) -> Runner:
    if runner is not None:
        return runner
    return lambda name, **params: portal_db.query(name, db=db, **params)


def month_ends(*, db: str | Path | None = None, runner: Runner | None = None) -> list[dt.date]:
    """The month-ends in the snapshots, oldest first."""
    frame = _run(runner, db)("month_ends")
    return sorted(pd.Timestamp(m).date() for m in frame["as_of"])


def kpi_series(months: Iterable[dt.date], *, db: str | Path | None = None,
               runner: Runner | None = None) -> pd.DataFrame:
    """The overview_kpis rows (whole book, no filters) of the given month-ends, indexed by month-end.

    overview_kpis returns a month-end and the one before it, so about every second month-end is queried.
    """
    run = _run(runner, db)
    wanted = set(months)
    rows: dict[dt.date, dict] = {}
    for month in sorted(wanted, reverse=True):
        if month in rows:
            continue
        for record in run("overview_kpis", as_of=month).to_dict("records"):
            rows.setdefault(pd.Timestamp(record["as_of"]).date(), record)
    kept = [m for m in sorted(rows) if m in wanted]
    return pd.DataFrame([rows[m] for m in kept], index=pd.Index(kept, name="month"))


def _value(series: pd.DataFrame, month: dt.date, column: str) -> float | None:
    if month not in series.index:
        return None
    raw = series.at[month, column]
    if raw is None or raw is pd.NA or (isinstance(raw, float) and math.isnan(raw)):
        return None
    return float(raw)


def _evaluate_one(rule: Rule, month: dt.date, months: list[dt.date], series: pd.DataFrame) -> Evaluation:
    column = rule.tile.column
    value = _value(series, month, column)
    if value is None:
        return Evaluation(rule, month, None, False, False)
    if rule.type == "threshold":
        return Evaluation(rule, month, value, OPS[rule.op](value, rule.value), True)
    before = [m for m in months if m < month][-rule.window:]
    trailing = [_value(series, m, column) for m in before]
    if len(trailing) < rule.window or any(v is None for v in trailing):
        return Evaluation(rule, month, value, False, False)
    mean, sd = statistics.fmean(trailing), statistics.stdev(trailing)
    deviation = value - mean
    outside = abs(deviation) > rule.sigmas * sd if sd > 0 else deviation != 0
    fires = outside and (rule.direction == "either" or (deviation > 0) == (rule.direction == "up"))
    return Evaluation(rule, month, value, fires, True, mean, sd)


def _needed(rules: Iterable[Rule], targets: list[dt.date], months: list[dt.date]) -> list[dt.date]:
    """The month-ends whose KPIs evaluating `targets` needs: the targets and the change windows before them."""
    if not targets:
        return []
    window = max((r.window for r in rules if r.type == "change"), default=0)
    earlier = [m for m in months if m < min(targets)][-window:] if window else []
    return sorted(set(earlier) | set(targets))


def _resolve_month(as_of: dt.date | str | None, months: list[dt.date]) -> dt.date:
    if not months:
        raise AlertError("no month-end in the snapshots: load snapshots first")
    if as_of is None:
        return months[-1]
    if isinstance(as_of, dt.datetime):
        month = as_of.date()
    elif isinstance(as_of, dt.date):
        month = as_of
    else:
        try:
            month = dt.date.fromisoformat(str(as_of).strip())
        except ValueError:
            raise AlertError(f"as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
    if month not in months:
        raise AlertError(f"{month.isoformat()} is not a month-end in the snapshots "
                         f"({months[0].isoformat()} to {months[-1].isoformat()})")
    return month


def evaluate(as_of: dt.date | str | None = None, *, db: str | Path | None = None,
             rules: Mapping[str, Rule] | None = None, runner: Runner | None = None) -> list[Evaluation]:
    """Every enabled rule at the month-end as_of (default: the latest); nothing is written."""
    rules = dict(rules) if rules is not None else load_rules()
    months = month_ends(db=db, runner=runner)
    month = _resolve_month(as_of, months)
    series = kpi_series(_needed(rules.values(), [month], months), db=db, runner=runner)
    return [_evaluate_one(rule, month, months, series) for rule in rules.values()]


def firing(as_of: dt.date | str | None = None, *, db: str | Path | None = None,
           runner: Runner | None = None) -> list[Evaluation]:
    """The rules that fire at the month-end as_of (default: the latest), each with the month-end its
    current run of firing started (`since`, from the recorded history; None when not recorded). Nothing
    is written: the board pack's and any report's entry point."""
    evaluations = [e for e in evaluate(as_of, db=db, runner=runner) if e.firing]
    if not evaluations:
        return []
    since = _since(evaluations[0].as_of, db)
    return [dataclasses.replace(e, since=since.get(e.rule.name)) for e in evaluations]


def _since(month: dt.date, db: str | Path | None) -> dict[str, dt.date]:
    """Per rule whose latest recorded event at or before `month` is `fired`, that event's month-end."""
    frame = portal_db.read(
        "select alert_rule, alert_event, as_of from alert_history where as_of <= $m "
        "qualify row_number() over (partition by alert_rule order by as_of desc, event_id desc) = 1",
        {"m": month}, db=db)
    return {r.alert_rule: pd.Timestamp(r.as_of).date() for r in frame.itertuples() if r.alert_event == "fired"}


# Recording.


def check(as_of: dt.date | str | None = None, *, db: str | Path | None = None, record: bool = True,
          recorded_by: str = "check", runner: Runner | None = None) -> CheckResult:
    """Evaluate every enabled rule at as_of (default: the latest month-end) and, when record is true,
    write each rule's state transitions up to as_of into alert_history (see the module docstring)."""
    rules = load_rules()
    months = month_ends(db=db, runner=runner)
    month = _resolve_month(as_of, months)
    first = month
    if record:
        state = _state(db)
        for rule in rules.values():
            last = state.get(rule.name, (False, None, None))[1]
            first = min(first, months[0] if last is None else min(last, month))
    targets = [m for m in months if first <= m <= month]
    series = kpi_series(_needed(rules.values(), targets, months), db=db, runner=runner)
    by_month = {r.name: {m: _evaluate_one(r, m, months, series) for m in targets} for r in rules.values()}
    events = _record(rules, by_month, month, recorded_by, db) if record else []
    since = _since(month, db)
    evaluations = tuple(
        dataclasses.replace(by_month[r.name][month], since=since.get(r.name)) if by_month[r.name][month].firing
        else by_month[r.name][month]
        for r in rules.values()
    )
    return CheckResult(month, evaluations, tuple(events))


def _plan(rules: Mapping[str, Rule], by_month: Mapping[str, Mapping[dt.date, Evaluation]], month: dt.date,
          state: Mapping[str, tuple[bool, dt.date, str]], recorded_by: str,
          now: dt.datetime) -> tuple[list[dict[str, Any]], list[tuple]]:
    """The history rows and state rows that bring each rule's state up to `month`."""
    events, states = [], []
    for rule in rules.values():
        firing_now, last, signature = state.get(rule.name, (False, None, None))
        if last is not None and month < last:
            continue  # an older month-end: evaluated, not recorded
        walk = sorted(m for m in by_month[rule.name] if last is None or m >= last)
        changed = False
        for m in walk:
            e = by_month[rule.name][m]
            if not e.evaluated or e.firing == firing_now:
                continue
            firing_now, changed = e.firing, True
            events.append({"alert_rule": rule.name, "alert_event": "fired" if e.firing else "cleared",
                           "as_of": m, "kpi": rule.kpi, "kpi_value": e.value, "alert_condition": rule.condition,
                           "recorded_at": now, "recorded_by": recorded_by})
        if changed or last != month or signature != rule.signature:
            states.append((rule.name, firing_now, month, rule.signature, now))
    return events, states


_STATE_SQL = "select alert_rule, firing, as_of, signature from alert_state"


def _state_rows(rows: Iterable[tuple]) -> dict[str, tuple[bool, dt.date, str]]:
    return {r[0]: (bool(r[1]), pd.Timestamp(r[2]).date(), r[3]) for r in rows}


def _state(db: str | Path | None) -> dict[str, tuple[bool, dt.date, str]]:
    """Each rule's recorded state: (firing, month-end it was checked at, rule signature then)."""
    return _state_rows(portal_db.read(_STATE_SQL, db=db).itertuples(index=False))


def _record(rules: Mapping[str, Rule], by_month: Mapping[str, Mapping[dt.date, Evaluation]], month: dt.date,
            recorded_by: str, db: str | Path | None) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    events, states = _plan(rules, by_month, month, _state(db), recorded_by, now)
    if not events and not states:
        return []  # nothing moved: no write transaction at all

    def work(cur: Any) -> list[dict[str, Any]]:
        # planned again on the transaction's own view of the state, so concurrent checks write once
        events, states = _plan(rules, by_month, month, _state_rows(cur.execute(_STATE_SQL).fetchall()),
                               recorded_by, now)
        for e in events:
            cur.execute(
                "insert into alert_history (alert_rule, alert_event, as_of, kpi, kpi_value, alert_condition, "
                "recorded_at, recorded_by) values ($alert_rule, $alert_event, $as_of, $kpi, $kpi_value, "
                "$alert_condition, $recorded_at, $recorded_by)", e)
        for name, is_firing, as_of, signature, at in states:
            cur.execute(
                "insert or replace into alert_state (alert_rule, firing, as_of, signature, updated_at) "
                "values ($r, $f, $a, $s, $u)", {"r": name, "f": is_firing, "a": as_of, "s": signature, "u": at})
        return events

    return portal_db.write(work, db=db)


def record_latest(*, db: str | Path | None = None, recorded_by: str = "upload") -> CheckResult | None:
    """Check and record the latest month-end, for a hook after an upload: a bad rules file or an empty
    book is logged, never raised, so it cannot fail the upload that called it."""
    try:
        return check(db=db, recorded_by=recorded_by)
    except (AlertError, portal_db.PortalDBError, portal_db.QueryError) as exc:
        log.warning("KPI alerts not checked: %s", exc)
        return None


def history(*, db: str | Path | None = None, rule: str | None = None, limit: int = 500,
            runner: Runner | None = None) -> pd.DataFrame:
    """The alert_history rows (named query alert_history), newest first."""
    return _run(runner, db)("alert_history", alert_rule=rule, row_limit=limit)
