"""Checking lists: planned rows typed and validated as an upload's are, each debtor's recent contacts read
in one pass over contact_check_log, then every row checked in order (the log plus the earlier allowed
rows). The callers: `check` (a list of contacts, the API), `check_payload` (the HTTP body and status),
`check_file` (a CSV, XLSX or Parquet list: the CLI and the Plan check page).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from portal import db as portal_db
from portal import derived, taxonomy
from portal.prevention.rules import (
    CHECK_RULES,
    DAY_US,
    HORIZON_DAYS,
    LOOKBACK_DAYS,
    CheckError,
    Contact,
    Debtor,
    Pack,
    Verdict,
    evaluate,
    load_pack,
    opted_out_channels,
    render,
    to_datetime,
    zone,
)

DERIVED_TABLES = ("contact_check_debtors", "contact_check_log")


INPUT_COLUMNS = ("loan_id", "channel", "party", "planned_at", "collectors")
HEADERS = {
    "loan_id": ("loan_id", "借据号"),
    "channel": ("channel", "渠道"),
    "party": ("party", "对象"),
    "planned_at": ("planned_at", "at", "计划时间", "计划催收时间"),
    "collectors": ("collectors", "外访人数"),
}
REQUIRED = ("loan_id", "channel", "party", "planned_at")
OUTPUT_COLUMNS = ("allowed", "rules", "reasons", "next_allowed_at", "error")
_INT = re.compile(r"^[+-]?[0-9]+(\.0*)?$")  # a whole number, as the upload rules read one

# One statement per list: the planned rows of {source} with the loan's debtor and the planned instant (`at`
# without an offset is the debtor's local time, resolved as an upload resolves it), and, on each debtor's
# first row, its contacts from LOOKBACK_DAYS
# before its first planned row to HORIZON_DAYS + LOOKBACK_DAYS after its last: a join on (customer_hash,
# customer_id) whose keys DuckDB pushes into the scan of contact_check_log as a dynamic filter, so only
# the row groups that hold these debtors are read.
# A planned time with an offset (a '+' or '-' after the date, or a trailing Z) is that instant; without
# one it is the debtor's wall-clock time, as ingest reads an upload's timestamps.
_AT_TS = """case
            when strpos(substr({text}, 11), '+') > 0 or strpos(substr({text}, 11), '-') > 0
                or upper(right({text}, 1)) = 'Z'
                then try_cast({text} as timestamptz)
            else timezone(coalesce({zone}, $tz_default), try_cast({text} as timestamp))
        end"""
_CHECK_SQL = """
with

raw as (
    select
        _line,
        nullif(trim(loan_id), '') as loan_id,
        lower(nullif(trim(channel), '')) as channel,
        lower(nullif(trim(party), '')) as party,
        nullif(trim(planned_at), '') as planned_at,
        nullif(trim(collectors), '') as collectors
    from ({source})
),

typed as (
    select
        raw.*,
        debtors.customer_id,
        debtors.customer_hash,
        coalesce(debtors.timezone, $tz_default) as tz,
        debtors.opted_out_channels,
        {at_ts} as at_ts
    from raw
    left join contact_check_debtors as debtors
        on debtors.loan_hash = hash(raw.loan_id) and debtors.loan_id = raw.loan_id
),

debtors as (
    select
        customer_hash,
        customer_id,
        min(at_ts) - to_days($lookback) as lo,
        max(at_ts) + to_days($horizon + $lookback) as hi
    from typed
    where customer_id is not null and at_ts is not null
    group by customer_hash, customer_id
),

recent as (
    select
        log.customer_id,
        list(epoch_us(log.contact_at) order by log.contact_at) as times,
        list(log.loan_id order by log.contact_at) as loans,
        list(log.kind order by log.contact_at) as kinds
    from contact_check_log as log
    inner join debtors
        on
            log.customer_hash = debtors.customer_hash
            and log.customer_id = debtors.customer_id
            and log.contact_at >= debtors.lo
            and log.contact_at < debtors.hi
    group by log.customer_id
),

final as (
    select
        typed._line,
        typed.loan_id,
        typed.channel,
        typed.party,
        typed.planned_at,
        typed.collectors,
        typed.customer_id,
        typed.tz,
        typed.opted_out_channels,
        epoch_us(typed.at_ts) as at_us,
        -- the debtor's contacts ride on its first row only
        row_number() over (partition by typed.customer_id order by typed._line) = 1 as is_first,
        case when is_first then recent.times end as times,
        case when is_first then recent.loans end as loans,
        case when is_first then recent.kinds end as kinds
    from typed
    left join recent on typed.customer_id = recent.customer_id
)

select * from final
order by _line
"""
_CHECK_SQL = _CHECK_SQL.replace("{at_ts}", _AT_TS.format(text="raw.planned_at", zone="debtors.timezone"))
_CHECK_PARAMS = {"lookback": LOOKBACK_DAYS, "horizon": HORIZON_DAYS}
# One contact (the dialer's question) in small statements whose filters are constants, so DuckDB prunes by
# zone maps when it plans them: the loan's debtor with the planned instant, then the debtor's contacts
# (by the 64-bit hash alone; the customer and the time span are checked here, on the few rows it returns).
_ONE_DEBTOR_SQL = f"""
select
    customer_id,
    customer_hash,
    coalesce(timezone, $tz_default) as tz,
    opted_out_channels,
    epoch_us({_AT_TS.format(text="$planned_at::varchar", zone="timezone")}) as at_us
from contact_check_debtors
where loan_hash = hash($loan_id::varchar) and loan_id = $loan_id::varchar
"""  # noqa: S608 (a fixed expression of this module)
_ONE_AT_SQL = f"select epoch_us({_AT_TS.format(text='$planned_at::varchar', zone='null')})"  # noqa: S608 (fixed)
_ONE_LOG_SQL = """
select customer_id, epoch_us(contact_at) as at_us, loan_id, kind
from contact_check_log
where customer_hash = $customer_hash
order by contact_at
"""
# the two sources of planned rows: a file staged by portal.ingest (columns c0..cN) or lists of parameters
_PARAM_SOURCE = ("select unnest($p_line) as _line, unnest($p_loan_id) as loan_id, unnest($p_channel) as channel, "
                 "unnest($p_party) as party, unnest($p_planned_at) as planned_at, "
                 "unnest($p_collectors) as collectors")


@dataclass
class CheckedRow:
    """One planned row after the check: the verdict, or the reasons it could not be checked."""

    line: int
    verdict: Verdict | None
    tz_name: str | None
    errors: tuple[dict, ...] = ()

    def result(self, lang: str = "en") -> dict[str, Any]:
        """allowed, rules, reasons, next_allowed_at (in the debtor's zone), error, for output."""
        if self.verdict is None:
            from portal.ingest import reason_text

            reasons = [reason_text(e["code"], _error_args(e), lang) for e in self.errors]
            return {"allowed": None, "rules": [], "reasons": [], "next_allowed_at": None, "error": reasons}
        v = self.verdict
        nxt = None if v.next_allowed_us is None else to_datetime(zone(self.tz_name), v.next_allowed_us)
        return {"allowed": v.allowed, "rules": [b.rule for b in v.blocks],
                "reasons": [render(b, lang) for b in v.blocks], "next_allowed_at": nxt, "error": []}

    def rows(self, lang: str = "en") -> list[dict[str, Any]]:
        """The contact_check rows of this contact: one per blocking rule, or one allowed row."""
        v = self.verdict
        if v is None:
            raise CheckError("; ".join(self.result(lang)["error"]))
        nxt = None if v.next_allowed_us is None else to_datetime(zone(self.tz_name), v.next_allowed_us)
        if v.allowed:
            return [{"allowed": True, "rule": None, "reason": None, "next_allowed_at": None}]
        return [{"allowed": False, "rule": b.rule, "reason": render(b, lang), "next_allowed_at": nxt} for b in v.blocks]


def _row_errors(loan_id: str | None, channel: str | None, party: str | None, planned_at: str | None,
                collectors: str | None, customer_id: str | None, at_us: int | None) -> tuple[dict, ...]:
    """The reasons a planned row cannot be checked, as the upload rules name them (empty: a good row)."""
    def bad(column: str, code: str, value: Any = None) -> dict:
        return {"column": column, "code": code, "value": value}

    out = []
    if loan_id is None:
        out.append(bad("loan_id", "missing"))
    elif customer_id is None:
        out.append(bad("loan_id", "unknown_fk", loan_id))
    if channel is None:
        out.append(bad("channel", "missing"))
    elif channel not in taxonomy.CHANNELS:
        out.append(bad("channel", "not_allowed", channel))
    if party is None:
        out.append(bad("party", "missing"))
    elif party not in taxonomy.PARTIES:
        out.append(bad("party", "not_allowed", party))
    if planned_at is None:
        out.append(bad("planned_at", "missing"))
    elif at_us is None:
        out.append(bad("planned_at", "not_timestamp", planned_at))
    if collectors is not None:
        if not _INT.match(collectors):
            out.append(bad("collectors", "not_int", collectors))
        elif float(collectors) < 1:
            out.append(bad("collectors", "below_min", collectors))
        if channel != "visit":
            out.append(bad("collectors", "collectors_not_visit", collectors))
    return tuple(out)


def _error_args(error: Mapping[str, Any]) -> dict[str, Any]:
    args = {"column": error["column"], "value": error["value"]}
    if error["code"] == "not_allowed":
        args["allowed"] = ", ".join(taxonomy.CHANNELS if error["column"] == "channel" else taxonomy.PARTIES)
    elif error["code"] == "unknown_fk":
        args["target"] = "loan"
    elif error["code"] == "below_min":
        args["limit"] = 1
    return args


def check_staged(cur: Any, pack: Pack, source: str, params: Mapping[str, Any] | None = None,
                 progress: Callable[[float, str], None] | None = None) -> list[CheckedRow]:
    """Check the planned rows of the relation `source` (text columns _line, loan_id, channel, party,
    planned_at, collectors; a fixed SQL text from this module) on this cursor, in _line order."""
    step = progress or (lambda fraction, stage: None)
    step(0.1, "validating")
    rows = cur.execute(_CHECK_SQL.format(source=source),
                       {**_CHECK_PARAMS, **(params or {}), "tz_default": pack.timezone_default}).fetchall()
    step(0.3, "checking")
    debtors: dict[str, Debtor] = {}
    out: list[CheckedRow] = []
    every = max(len(rows) // 20, 1)
    for i, (line, loan_id, channel, party, planned_at, collectors, customer_id, tz_name, opted, at_us,
            _, times, loans, kinds) in enumerate(rows):
        if i % every == 0 and i:
            step(0.3 + 0.65 * i / len(rows), "checking")
        if customer_id is not None and customer_id not in debtors:
            # the debtor's contacts ride on its first row, valid or not
            debtors[customer_id] = Debtor(customer_id, tz_name, opted_out_channels(opted), times or [],
                                          loans or [], kinds or [])
        errors = _row_errors(loan_id, channel, party, planned_at, collectors, customer_id, at_us)
        if errors:
            out.append(CheckedRow(line, None, None, errors))
            continue
        collectors = None if collectors is None else int(float(collectors))
        debtor = debtors[customer_id]
        contact = Contact(loan_id, channel, party, at_us, collectors)
        verdict = evaluate(pack, debtor, contact)
        if verdict.allowed:
            debtor.add(contact.at_us, contact.loan_id, contact.kind)
        out.append(CheckedRow(line, verdict, tz_name))
    step(0.95, "writing")
    return out


def _clean(value: str | None, lower: bool = False) -> str | None:
    """A cell as the list statement reads it: trimmed of spaces, empty as missing."""
    text = None if value is None else value.strip(" ")
    return (text.lower() if lower else text) if text else None


def check_one(cur: Any, pack: Pack, cell: Mapping[str, str | None]) -> CheckedRow:
    """Check one planned row (text cells loan_id, channel, party, planned_at, collectors) on this cursor:
    the same checks as check_staged, in two statements that read only the debtor's contacts."""
    loan_id, channel, party = _clean(cell.get("loan_id")), _clean(cell.get("channel"), True), _clean(cell.get("party"), True)
    planned_at, collectors = _clean(cell.get("planned_at")), _clean(cell.get("collectors"))
    params = {"loan_id": loan_id, "planned_at": planned_at, "tz_default": pack.timezone_default}
    found = cur.execute(_ONE_DEBTOR_SQL, params).fetchall()
    if found:
        customer_id, customer_hash, tz_name, opted, at_us = found[0]
    else:  # an unknown loan: its planned time is still checked, in the pack's zone, for the report
        customer_id = customer_hash = tz_name = opted = None
        at_us = cur.execute(_ONE_AT_SQL, {k: params[k] for k in ("planned_at", "tz_default")}).fetchall()[0][0]
    errors = _row_errors(loan_id, channel, party, planned_at, collectors, customer_id, at_us)
    if errors:
        return CheckedRow(0, None, None, errors)
    lo, hi = at_us - LOOKBACK_DAYS * DAY_US, at_us + (HORIZON_DAYS + LOOKBACK_DAYS) * DAY_US
    log = [r for r in cur.execute(_ONE_LOG_SQL, {"customer_hash": customer_hash}).fetchall()
           if r[0] == customer_id and lo <= r[1] < hi]
    debtor = Debtor(customer_id, tz_name, opted_out_channels(opted), [r[1] for r in log], [r[2] for r in log],
                    [r[3] for r in log])
    contact = Contact(loan_id, channel, party, at_us, None if collectors is None else int(float(collectors)))
    return CheckedRow(0, evaluate(pack, debtor, contact), tz_name)


_packs: dict[tuple, Pack] = {}


def _pack(cur: Any, database: Any, name: str | None) -> Pack:
    """The stored pack, cached per database connection until this process syncs a changed pack."""
    from portal import config, policy

    key = (id(portal_db.connect(database)), name or config.setting("rule_pack"), policy.packs_generation())
    found = _packs.get(key)
    if found is None:
        found = load_pack(cur, key[1])
        if len(_packs) > 64:
            _packs.clear()
        _packs[key] = found
    return found


# The data versions of the tables the derived tables read (portal.db bumps them on every write): when
# they are what they were before the last freshness check on this connection, nothing was written since
# and the derived tables are still fresh, so a check skips the fingerprints (several statements).
_VERSIONS_SQL = "select table_name, version from data_versions"
_VERSIONED = frozenset(("contacts", "loans", "customers"))
_fresh_at: dict[int, tuple] = {}


def _ensure_fresh(cur: Any, database: Any) -> None:
    key = id(portal_db.connect(database))
    before = tuple(sorted(r for r in cur.execute(_VERSIONS_SQL).fetchall() if r[0] in _VERSIONED))
    if _fresh_at.get(key) == before:
        return
    derived.ensure_fresh(DERIVED_TABLES, db=database)
    if len(_fresh_at) > 64:
        _fresh_at.clear()
    _fresh_at[key] = before  # read before the check: a write racing it only costs one more check


def _with_cursor(database: Any, fn: Callable[[Any], Any]) -> Any:
    cur = portal_db.cursor(database)
    try:
        _ensure_fresh(cur, database)
        return fn(cur)
    except portal_db.Error as exc:
        raise CheckError(f"contact check failed: {str(exc).splitlines()[0]}") from exc
    finally:
        cur.close()


# --- Callers: a list of contacts (API), a file (CLI, page) ------------------------------------------------

@dataclass(frozen=True)
class FieldError:
    """A bad field of one contact in a request: its index in the list, the field and a one-line reason."""

    index: int
    field: str
    reason: str


class RequestError(CheckError):
    """A request whose contacts have bad fields (HTTP 422); `errors` names each."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"contact {e.index}: {e.field}: {e.reason}" for e in errors))
        self.errors = errors


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, str | int | float | dt.date):
        raise TypeError(type(value).__name__)
    return str(value)


def check(contacts: Mapping[str, Any] | Sequence[Mapping[str, Any]], pack: str | None = None, *,
          db: str | Path | None = None, lang: str = "en") -> list[list[dict[str, Any]]]:
    """Check one contact or a list (in order: later ones count the earlier allowed ones).

    Each contact is a mapping with loan_id, channel, party (default debtor), at (ISO 8601 text or a
    datetime; without an offset, the debtor's local time) and optionally collectors (visits). Returns,
    per contact, its contact_check rows (allowed, rule, reason, next_allowed_at). Raises RequestError
    naming every bad field, CheckError for an unknown pack.
    """
    items = [contacts] if isinstance(contacts, Mapping) else list(contacts)
    cells, problems = [], []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.append(FieldError(i, "contact", "must be an object"))
            continue
        unknown = sorted(set(item) - {"loan_id", "channel", "party", "at", "collectors"})
        problems += [FieldError(i, k, "unknown field") for k in unknown]
        row = {"_line": i}
        for name, key in (("loan_id", "loan_id"), ("channel", "channel"), ("party", "party"),
                          ("planned_at", "at"), ("collectors", "collectors")):
            try:
                row[name] = _cell(item.get(key, "debtor" if key == "party" else None))
            except TypeError as exc:
                problems.append(FieldError(i, key, f"must be text, not {exc}"))
        cells.append(row)
    if problems:
        raise RequestError(problems)
    params = {"p_line": [r["_line"] for r in cells],
              **{f"p_{c}": [r.get(c) for r in cells] for c in INPUT_COLUMNS}}

    def work(cur: Any) -> list[CheckedRow]:
        chosen = _pack(cur, db, pack)
        if len(cells) == 1:
            return [check_one(cur, chosen, cells[0])]
        return check_staged(cur, chosen, _PARAM_SOURCE, params)

    checked = _with_cursor(db, work)
    bad = [FieldError(r.line, e["column"] if e["column"] != "planned_at" else "at",
                      _request_reason(e, lang)) for r in checked for e in r.errors]
    if bad:
        raise RequestError(bad)
    return [r.rows(lang) for r in checked]


def _request_reason(error: Mapping[str, Any], lang: str) -> str:
    from portal.ingest import reason_text

    args = _error_args(error)
    if args["column"] == "planned_at":
        args["column"] = "at"
    return reason_text(error["code"], args, lang)


def check_payload(payload: Any, pack: str | None = None, *, db: str | Path | None = None,
                  lang: str = "en") -> tuple[int, Any]:
    """POST /api/v1/contact-check: (HTTP status, JSON body) for a JSON body of one contact or a list.

    200 with the contact_check rows (a list of rows for one contact; a list of such lists for a list),
    422 {"error", "fields"} for bad fields, 400 {"error"} for an unknown pack.
    """
    if not isinstance(payload, Mapping | list) or (isinstance(payload, list) and not payload):
        return 422, {"error": "the body must be a contact object or a non-empty list of them", "fields": []}
    try:
        rows = check(payload, pack, db=db, lang=lang)
    except RequestError as exc:
        return 422, {"error": str(exc).split("; ")[0],
                     "fields": [{"index": e.index, "field": e.field, "reason": e.reason} for e in exc.errors]}
    except CheckError as exc:
        return 400, {"error": str(exc)}
    body = [[{**r, "next_allowed_at": None if r["next_allowed_at"] is None else r["next_allowed_at"].isoformat()}
             for r in rows_of] for rows_of in rows]
    return 200, body[0] if isinstance(payload, Mapping) else body


@dataclass
class CheckedPlan:
    """A checked planned list: the file's columns as read, with allowed, rules, reasons, next_allowed_at
    and error added, in the file's order."""

    frame: pd.DataFrame
    rows: list[CheckedRow]
    pack: str
    layout: str
    lang: str = "en"

    @property
    def counts(self) -> dict[str, int]:
        """rows, allowed, blocked, invalid."""
        invalid = sum(r.verdict is None for r in self.rows)
        allowed = sum(r.verdict is not None and r.verdict.allowed for r in self.rows)
        return {"rows": len(self.rows), "allowed": allowed, "blocked": len(self.rows) - allowed - invalid,
                "invalid": invalid}

    def by_rule(self) -> pd.DataFrame:
        """Per rule: the rows it blocks and their share of the checkable rows (a row may name several)."""
        checkable = sum(r.verdict is not None for r in self.rows)
        counts: dict[str, int] = {}
        for r in self.rows:
            for b in (r.verdict.blocks if r.verdict is not None else ()):
                counts[b.rule] = counts.get(b.rule, 0) + 1
        order = [rule for rule in CHECK_RULES if rule in counts]
        return pd.DataFrame({"rule": order, "blocked": [counts[r] for r in order],
                             "share": [counts[r] / checkable if checkable else 0.0 for r in order]})


def check_file(path: str | Path, pack: str | None = None, *, db: str | Path | None = None, lang: str = "en",
               progress: Callable[[float, str], None] | None = None) -> CheckedPlan:
    """Check a planned list (CSV, XLSX or Parquet, read as an upload is) in its order.

    Raises CheckError in one line for a file that cannot be read or lacks a required column, or an
    unknown pack. Bad rows are kept, with their reasons in `error`.
    """
    from portal import ingest
    from portal.ingest.sources import _stage  # the upload path's staging of a read file (_line, c0..cN)

    step = progress or (lambda fraction, stage: None)
    step(0.02, "reading")
    path = Path(path)
    try:
        src = ingest.open_source(path)
    except ingest.UploadError as exc:
        raise CheckError(str(exc)) from None
    try:
        positions = _map_headers(src.headers)

        def work(cur: Any) -> tuple[list[CheckedRow], pd.DataFrame, str]:
            chosen = _pack(cur, db, pack)
            try:
                total = _stage(cur, src)
            except ingest.UploadError as exc:
                raise CheckError(str(exc)) from None
            if total == 0:
                raise CheckError(f"{path.name} has a header but no data rows")
            select = ", ".join(f"c{positions[c]} as {c}" if c in positions else f"null::varchar as {c}"
                               for c in INPUT_COLUMNS)
            names = [f"c{i}" for i in range(len(src.headers))]
            original = cur.execute(f"select {', '.join(names)} from _stage order by _line").df()  # noqa: S608 (positional names)
            checked = check_staged(cur, chosen, f"select _line, {select} from _stage", progress=step)  # noqa: S608 (positions are integers)
            return checked, original, chosen.name

        checked, original, pack_name = _with_cursor(db, work)
    finally:
        if src.temp is not None:
            src.temp.unlink(missing_ok=True)
    frame = _output_frame(src.headers, original, checked, lang)
    step(1.0, "done")
    return CheckedPlan(frame, checked, pack_name, src.layout, lang)


def _map_headers(headers: list[str]) -> dict[str, int]:
    from portal.ingest.datasets import _header_key  # headers compared as an upload compares them

    aliases = {_header_key(a): name for name, names in HEADERS.items() for a in names}
    found: dict[str, int] = {}
    for i, header in enumerate(headers):
        name = aliases.get(_header_key(header))
        if name is None:
            continue
        if name in found:
            raise CheckError(f"two columns both mean {name}: {headers[found[name]]!r} and {header!r}")
        found[name] = i
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise CheckError(f"missing required columns: {', '.join(missing)} "
                         f"(a planned list has {', '.join(REQUIRED)} and optionally collectors)")
    return found


def _output_frame(headers: list[str], original: pd.DataFrame, checked: list[CheckedRow], lang: str) -> pd.DataFrame:
    names = [h or f"column {i + 1}" for i, h in enumerate(headers)]
    keep = [i for i, n in enumerate(names) if n not in OUTPUT_COLUMNS]
    frame = pd.DataFrame({names[i]: original[f"c{i}"].astype(object).where(original[f"c{i}"].notna(), None)
                          for i in keep})
    allowed, rules, reasons, nexts, errors = [], [], [], [], []
    for r in checked:
        v = r.verdict
        if v is None:
            result = r.result(lang)
            allowed.append(None)
            rules.append("")
            reasons.append("")
            nexts.append(None)
            errors.append("; ".join(result["error"]))
        elif v.allowed:  # most rows of a list: nothing to render
            allowed.append(True)
            rules.append("")
            reasons.append("")
            nexts.append(None)
            errors.append("")
        else:
            allowed.append(False)
            rules.append("; ".join(b.rule for b in v.blocks))
            reasons.append("; ".join(render(b, lang) for b in v.blocks))
            nexts.append(None if v.next_allowed_us is None
                         else to_datetime(zone(r.tz_name), v.next_allowed_us).isoformat())
            errors.append("")
    frame["allowed"] = pd.array(allowed, dtype="boolean")
    frame["rules"] = rules
    frame["reasons"] = reasons
    frame["next_allowed_at"] = nexts
    frame["error"] = errors
    return frame


def to_json(plan: CheckedPlan) -> str:
    """The checked list as JSON records: the file's cells as text (or null), allowed true/false (null for
    a bad row), rules and reasons as lists, next_allowed_at as ISO 8601 text, error as text or null."""
    originals = plan.frame.drop(columns=list(OUTPUT_COLUMNS))
    records = []
    for cells, row in zip(originals.to_dict(orient="records"), plan.rows, strict=True):
        result = row.result(plan.lang)
        records.append({
            **{k: (None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v) for k, v in cells.items()},
            "allowed": result["allowed"], "rules": result["rules"], "reasons": result["reasons"],
            "next_allowed_at": None if result["next_allowed_at"] is None else result["next_allowed_at"].isoformat(),
            "error": "; ".join(result["error"]) or None,
        })
    return json.dumps(records, ensure_ascii=False, indent=1)


def to_xlsx(frame: pd.DataFrame) -> bytes:
    """A checked list (text_frame) as a workbook with the file's own headers and the contract's column
    names, every cell text and formula-safe: a dialer reads it back as it wrote it."""
    from portal import columns, export

    specs = {str(c): columns.ColumnSpec(str(c), "text", "") for c in frame.columns}
    return export.to_xlsx_bytes(frame, sheet="checked", specs=specs)


def text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The checked list for a CSV or XLSX file: allowed as true/false (empty for a bad row), empty cells blank."""
    out = frame.copy()
    out["allowed"] = ["" if v is pd.NA or v is None else ("true" if v else "false") for v in frame["allowed"]]
    return out.astype(object).where(out.notna(), "")
