"""The pandera upload models compiled to one vectorised DuckDB SQL pass, and the reasons it gives."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from portal import config, schemas, taxonomy
from portal.i18n import t
from portal.ingest.datasets import DATASETS, Column, columns

INT_RE = r"^[+-]?[0-9]+(\.0*)?$"

# How each numeric kind is stored (the data tables' column types; a test checks them against the
# catalog) and the range that type can hold. A value that parses but does not fit is a row error
# (`too_large`), never a failed cast that aborts the file.
STORAGE: dict[str, tuple[str, str]] = {
    "int": ("integer", "2147483647"),
    "amount": ("decimal(18, 2)", "9999999999999999.99"),
    "rate": ("decimal(8, 6)", "99.999999"),
}
# Dates and timestamps must be ones every reader of the tables can represent (Python's years 1..9999);
# 'infinity' and year 290000 parse in DuckDB but are not dates a lender means.
DATE_RANGE = ("0001-01-01", "9999-12-31")
TIMESTAMP_RANGE = ("0001-01-02 00:00:00+00", "9999-12-30 00:00:00+00")
RANGE_CHECKS = frozenset({"greater_than_or_equal_to", "greater_than", "less_than_or_equal_to", "in_range"})


@dataclass(frozen=True)
class Rule:
    """One compiled check: SQL that is true for a failing row, and the reason to give."""

    column: str
    code: str
    sql: str
    args: dict[str, Any] = field(default_factory=dict)
    value: str | None = None  # SQL for the offending value, when it is not the column's raw text


# Rule compilation: pandera check name -> (reason code, SQL template over `x` with $p params).
def _id_sum_sql(x: str) -> str:
    terms = " + ".join(f"(ascii(substr({x}, {i + 1}, 1)) - 48) * {w}" for i, w in enumerate(schemas.ID_WEIGHTS))
    return f"substr('{schemas.ID_CHECK_CHARS}', (({terms}) % 11) + 1, 1) != upper(substr({x}, 18, 1))"


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _check_rule(col: Column, check: Any, x: str, params: _Params) -> Rule:
    stats = check.statistics or {}
    name = check.name
    if name == "isin":
        allowed = [str(v) for v in stats["allowed_values"]]
        if col.kind == "int":
            return Rule(col.name, "not_allowed", f"not list_contains({params.add([int(v) for v in allowed])}, {x})",
                        {"allowed": ", ".join(allowed)})
        return Rule(col.name, "not_allowed", f"not list_contains({params.add(allowed)}, {x})",
                    {"allowed": ", ".join(allowed)})
    if name == "greater_than_or_equal_to":
        return Rule(col.name, "below_min", f"{x} < {params.add(stats['min_value'])}", {"limit": stats["min_value"]})
    if name == "greater_than":
        return Rule(col.name, "not_above", f"{x} <= {params.add(stats['min_value'])}", {"limit": stats["min_value"]})
    if name == "less_than_or_equal_to":
        return Rule(col.name, "above_max", f"{x} > {params.add(stats['max_value'])}", {"limit": stats["max_value"]})
    if name == "in_range":
        lo, hi = stats["min_value"], stats["max_value"]
        return Rule(col.name, "out_of_range", f"({x} < {params.add(lo)} or {x} > {params.add(hi)})",
                    {"low": lo, "high": hi})
    if name == "str_length":
        limit = stats["max_value"]
        return Rule(col.name, "too_long", f"length({x}) > {params.add(limit)}", {"limit": limit})
    if name == "str_matches":
        return Rule(col.name, "bad_format", f"not regexp_matches({x}, {params.add(stats['pattern'])})", {})
    if name == "mainland_mobile":
        return Rule(col.name, "bad_mobile", f"not regexp_full_match({x}, {params.add(schemas.MOBILE_PATTERN[1:-1])})")
    if name == "id_length":
        return Rule(col.name, "id_length", f"not regexp_full_match({x}, '[0-9]{{17}}[0-9Xx]')")
    if name == "id_check_digit":
        return Rule(col.name, "id_check_digit", f"regexp_full_match({x}, '[0-9]{{17}}[0-9Xx]') and {_id_sum_sql(x)}")
    if name == "month_end":
        return Rule(col.name, "not_month_end", f"{x} != last_day({x})")
    if name == "not_future":
        limit = "now()" if col.kind == "timestamp" else "current_date"
        return Rule(col.name, "in_future", f"{x} > {limit}")
    if name == "max_2_decimals":
        d = f"_n_{col.name}"
        return Rule(col.name, "too_many_decimals", f"abs({d} * 100 - round({d} * 100)) > 1e-6")
    if name == "iana_timezone":
        return Rule(col.name, "bad_timezone", f"not list_contains({params.add(sorted(schemas._zones()))}, {x})")
    if name == "channel_list":
        chans = params.add(list(taxonomy.CHANNELS))
        return Rule(col.name, "bad_channel_list",
                    f"len(list_filter(string_split({x}, ','), lambda c: trim(c) != '' "
                    f"and not list_contains({chans}, trim(c)))) > 0", {"allowed": ", ".join(taxonomy.CHANNELS)})
    raise NotImplementedError(f"no SQL for pandera check {name!r} on {col.name}")


# Dataframe-wide checks of the models: name -> (column to blame, reason code, SQL true when failing).
FRAME_RULES = {
    "overdue_zero_when_current": ("overdue_amount", "overdue_not_zero", "dpd = 0 and overdue_amount != 0"),
    "ptp_fields_when_ptp": ("outcome", "ptp_missing",
                            "outcome = 'ptp' and (ptp_amount is null or ptp_due_on is null)"),
    "collectors_only_on_visits": ("collectors", "collectors_not_visit",
                                  "channel != 'visit' and collectors is not null"),
    "duration_only_on_calls": ("duration_s", "duration_not_call", "channel != 'phone' and duration_s is not null"),
    "extension_reason_when_extended": ("extension_reason", "extension_reason_missing",
                                       "extension_days > 0 and extension_reason is null"),
    "deferral_one_instalment": ("instalments", "deferral_instalments", "plan_type = 'deferral' and instalments != 1"),
    "first_due_not_before_agreed": ("first_due_on", "first_due_before_agreed", "first_due_on < agreed_on"),
}


def compile_rules(dataset: str, params: _Params | None = None) -> list[Rule]:
    """The dataset's pandera model as SQL rules over typed columns (plus type, key and foreign-key rules)."""
    params = params or _Params()
    spec = DATASETS[dataset]
    schema = schemas.UPLOAD_SCHEMAS[dataset].to_schema()
    rules: list[Rule] = []
    for col in columns(dataset):
        raw, x = f"r_{col.name}", col.name
        cast_code = {"int": "not_int", "amount": "not_number", "rate": "not_number", "date": "not_date",
                     "timestamp": "not_timestamp"}.get(col.kind)
        if col.kind in STORAGE:
            # _n_<col> is the value parsed wide (a double): a number that does not fit the stored type
            # is `too_large`; range checks see the wide value too, so 250 also reads "between 0 and 0.36".
            rules.append(Rule(col.name, cast_code, f"{raw} is not null and _n_{x} is null"))
            rules.append(Rule(col.name, "too_large", f"_n_{x} is not null and {x} is null",
                              {"limit": STORAGE[col.kind][1]}))
        elif cast_code:
            rules.append(Rule(col.name, cast_code, f"{raw} is not null and {x} is null"))
        if not col.nullable and col.default is None:
            rules.append(Rule(col.name, "missing", f"{raw} is null"))
        for check in schema.columns[col.name].checks:
            v = f"coalesce({x}, _n_{x})" if col.kind in STORAGE and check.name in RANGE_CHECKS else x
            rule = _check_rule(col, check, v, params)
            rules.append(Rule(rule.column, rule.code, f"{v} is not null and ({rule.sql})", rule.args))
    for check in schema.checks:
        column, code, sql = FRAME_RULES[check.name]
        rules.append(Rule(column, code, sql))
    rules.append(Rule(spec.keys[0], "duplicate_key", "_dup > 1", {"key_columns": ", ".join(spec.keys), "keys": spec.keys}))
    for column, target in spec.fks:
        rules.append(Rule(column, "unknown_fk", f"{column} is not null and not _fk_{column}", {"target": target}))
    return rules


def header_label(headers: list[str], i: int) -> str:
    """A column's name in reasons and in the quarantined row: its header, or "column N" when it has none."""
    return headers[i] if headers[i] else f"column {i + 1}"


def source_rules(headers: list[str], colmap: dict[str, int], *, nul: bool, formulas: frozenset[int] = frozenset(),
                 raw_cells: bool = True) -> tuple[list[Rule], list[int]]:
    """Rules about the file's cells rather than the model's values, and the header positions they read.

    - nul_byte: a NUL character in a column that is loaded (only when the reader saw one);
    - no_header: a value under a column whose header is empty (not for a mapped CFPB export);
    - formula_no_value: an XLSX formula whose cached value is missing, in a loaded column (the reader
      keeps the formula's text in the cell).
    Their SQL reads `r_<column>` (the trimmed raw text), `_c<i>` (header position i, verbatim) and
    `_formulas` (the positions the reader flagged).
    """
    by_position = {i: name for name, i in colmap.items()}
    rules: list[Rule] = []
    cells: set[int] = set()
    if nul:
        for name in colmap:
            rules.append(Rule(name, "nul_byte", f"strpos(r_{name}, chr(0)) > 0"))
    if raw_cells:
        for i, header in enumerate(headers):
            if not header:
                cells.add(i)
                rules.append(Rule(header_label(headers, i), "no_header", f"nullif(trim(_c{i}), '') is not null",
                                  value=f"_c{i}"))
    for i in sorted(formulas):
        if not raw_cells:  # a mapped CFPB export: its columns feed the model's through the mapping
            rules.append(Rule(header_label(headers, i), "formula_no_value", f"list_contains(_formulas, {i})",
                              value="null::varchar"))
        elif i in by_position:  # a formula in a column that is not loaded loses nothing
            rules.append(Rule(by_position[i], "formula_no_value", f"list_contains(_formulas, {i})"))
    return rules, sorted(cells)


def format_rejects(errors: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The reject report (row_number, column, reason in lang, raw values) from errors or quarantine rows."""
    if errors.empty:
        return pd.DataFrame({"row_number": pd.Series(dtype="int64"), "column": pd.Series(dtype="string"),
                             "reason": pd.Series(dtype="string"), "raw_row": pd.Series(dtype="string")})
    reasons = [reason_text(code, json.loads(args), lang) if code else str(fallback)
               for code, args, fallback in zip(errors["reason_code"], errors["reason_args"], errors["reason"],
                                               strict=True)]
    column = errors["column"] if "column" in errors else errors["column_name"]
    return pd.DataFrame({
        "row_number": errors["row_number"].astype("int64").to_numpy(),
        "column": column.to_numpy(),
        "reason": reasons,
        "raw_row": errors["raw_row"].to_numpy(),
    })


def reason_text(code: str, args: dict[str, Any], lang: str = "en") -> str:
    """A plain-words reason from its code and arguments, in one language."""
    values = {"column": "", "value": "", "limit": "", "low": "", "high": "", "allowed": "", "target": "",
              "key_columns": "", "length": "", "fields": "", "expected": ""}
    values.update({k: ("" if v is None else v) for k, v in args.items()})
    if values["target"]:
        values["target"] = t(f"uploads.target.{values['target']}", lang)
    return t(f"uploads.reason.{code}", lang, **values)


def _raw_expr(colmap: dict[str, int], name: str) -> str:
    """A column's text as uploaded: NULL when blank; trimmed only when padded (trim is costly at scale)."""
    if name not in colmap:
        return "null::varchar"
    c = f"s.c{colmap[name]}"
    return f"case when {c} like ' %' or {c} like '% ' then nullif(trim({c}), '') else nullif({c}, '') end"


def _typed_sql(dataset: str, colmap: dict[str, int], source: str, rules: list[Rule], params: _Params,
               cells: list[int] = ()) -> str:
    """SQL creating temp table _typed: typed columns and the list of failed rules of each row."""
    spec = DATASETS[dataset]
    default_tz = params.add(config.setting("timezone"))
    raw_cols, joins = [], []
    for col in columns(dataset):
        raw_cols.append(f"{_raw_expr(colmap, col.name)} as r_{col.name}")
    raw_cols.extend(f"s.c{int(i)} as _c{int(i)}" for i in cells)  # header positions the source rules read
    tz_parts = []
    customers = "(select distinct on (customer_id) customer_id, timezone from customers)"
    if "customer_id" in spec.tz_from or any(c == "customer_id" for c, _ in spec.fks):
        joins.append(f"left join {customers} c on c.customer_id = r.r_customer_id")
        tz_parts.append("c.timezone")
    if "loan_id" in spec.tz_from or any(c == "loan_id" for c, _ in spec.fks):
        # Loans come with their customer's time zone: one join of the (small) book, not two of the file.
        joins.append(f"left join (select l.loan_id, l.customer_id, lc.timezone from (select distinct on (loan_id) "  # noqa: S608 (allow-listed)
                     f"loan_id, customer_id from loans) l left join {customers} lc using (customer_id)) l "
                     "on l.loan_id = r.r_loan_id")
        if "loan_id" in spec.tz_from:
            tz_parts.append("l.timezone")
    tz = f"coalesce({', '.join([*tz_parts, default_tz])})"
    typed = []
    for col in columns(dataset):
        r = f"r.r_{col.name}"
        if col.kind in STORAGE:
            sqltype = STORAGE[col.kind][0]
            if col.kind == "int":
                typed.append(f"case when regexp_matches({r}, '{INT_RE}') then try_cast({r} as double) end as _n_{col.name}")
                expr = f"case when _n_{col.name} is not null then try_cast({r} as {sqltype}) end"
            else:
                typed.append(f"case when isfinite(try_cast({r} as double)) then try_cast({r} as double) end "
                             f"as _n_{col.name}")
                expr = f"try_cast(round(_n_{col.name}, {2 if col.kind == 'amount' else 6}) as {sqltype})"
        elif col.kind == "date":
            typed.append(f"try_cast({r} as date) as _t_{col.name}")
            expr = (f"case when _t_{col.name} between date '{DATE_RANGE[0]}' and date '{DATE_RANGE[1]}' "
                    f"then _t_{col.name} end")
        elif col.kind == "timestamp":
            # An offset is a '+' or '-' after the date part, or a trailing Z (cheaper than a regex).
            has_offset = (f"(strpos(substr({r}, 11), '+') > 0 or strpos(substr({r}, 11), '-') > 0 "
                          f"or upper(right({r}, 1)) = 'Z')")
            # A naive time is converted in the debtor's zone only when it is in range: near year 294247
            # the conversion itself overflows (an error, not NULL).
            typed.append(f"try_cast({r} as timestamp) as _w_{col.name}")
            typed.append(f"case when {has_offset} then try_cast({r} as timestamptz) "
                         f"when _w_{col.name} between timestamp '{TIMESTAMP_RANGE[0][:19]}' and "
                         f"timestamp '{TIMESTAMP_RANGE[1][:19]}' then timezone({tz}, _w_{col.name}) end as _t_{col.name}")
            expr = (f"case when _t_{col.name} between timestamptz '{TIMESTAMP_RANGE[0]}' and "
                    f"timestamptz '{TIMESTAMP_RANGE[1]}' then _t_{col.name} end")
        else:
            expr = r
        if col.default is not None:
            expr = f"coalesce({expr}, {params.add(col.default)})"
        typed.append(f"{expr} as {col.name}")
    # Keys seen more than once in the file (an aggregate is much cheaper than a window here).
    key_raw = ", ".join(f"{_raw_expr(colmap, k)} as r_{k}" for k in spec.keys)
    key_names = ", ".join(f"r_{k}" for k in spec.keys)
    dup_on = " and ".join(f"dk.r_{k} = r.r_{k}" for k in spec.keys)
    joins.append(f"left join (select {key_names}, count(*) as n from (select {key_raw} from {source} s) "  # noqa: S608 (allow-listed)
                 f"group by all having count(*) > 1) dk on {dup_on}")
    typed.append("coalesce(dk.n, 1) as _dup")
    for column, target in spec.fks:
        alias = "l" if target == "loan" else "c"
        typed.append(f"{alias}.{target}_id is not null as _fk_{column}")
    # _n_/_t_ columns are referenced by name inside the same select list (DuckDB lateral aliases).
    inner = (f"select r.*, {', '.join(typed)} from (select s._line, s._fields, s._formulas, {', '.join(raw_cols)} "  # noqa: S608 (identifiers from the model allow-list)
             f"from {source} s) r {' '.join(joins)}")
    # A NULL condition counts as passing, both in the CASE and in the OR (every rule guards its nulls).
    conds = [f"({rule.sql})" for rule in rules]
    structs = [f"case when {cond} then {{'r': {i}, 'v': {_value_expr(rule)}}} end"
               for i, (cond, rule) in enumerate(zip(conds, rules, strict=True))]
    structs.append(f"case when _fields is not null then {{'r': {len(rules)}, 'v': _fields::varchar}} end")
    any_bad = " or ".join([*conds, "_fields is not null"])
    out_cols = ", ".join(["_line", *[c.name for c in columns(dataset)]])
    return (f"create or replace temp table _typed as select {out_cols}, case when {any_bad} then "  # noqa: S608 (identifiers from the model allow-list)
            f"list_filter([{', '.join(structs)}], lambda e: e is not null) end as _errs from ({inner}) t")


def _value_expr(rule: Rule) -> str:
    if rule.value is not None:
        return rule.value
    if rule.code == "duplicate_key":
        keys = [f"coalesce(r_{k}, '')" for k in rule.args["keys"]]
        return f"concat_ws(', ', {', '.join(keys)})"
    if rule.code in ("overdue_not_zero", "ptp_missing", "extension_reason_missing"):
        return "null::varchar"
    return f"r_{rule.column}"


def _errors_frame(cur: Any, rules: list[Rule], headers: list[str], dataset: str) -> pd.DataFrame:
    """The failed rules, one row per (line, rule), with the raw source row as JSON."""
    pairs = ", ".join(f"$h{i}, c{i}" for i in range(len(headers)))
    hparams = {f"h{i}": header_label(headers, i) for i in range(len(headers))}
    # The row verbatim: its cells under their headers (an empty cell is null) and, when the line has
    # cells past the header, those cells in order under the key "" (no header can be empty).
    raw_row = f"case when _extra is null then json_object({pairs}) else json_object({pairs}, '', _extra) end"
    # Unnest the few failing rows once, then fetch just their raw lines from the stage.
    cur.execute("create or replace temp table _errors as select _line, err.r as rule, err.v as value "
                "from (select _line, unnest(_errs) as err from _typed where _errs is not null)")
    frame = cur.execute(
        f"with raw as (select _line, {raw_row} as raw_row from _stage "  # noqa: S608 (positional names)
        "semi join (select distinct _line from _errors) b using (_line)) "
        "select e._line as row_number, e.rule, e.value, raw.raw_row "
        "from _errors e join raw using (_line) order by e._line, e.rule",
        hparams,
    ).df()
    cur.execute("drop table _errors")
    if frame.empty:
        return pd.DataFrame(columns=["row_number", "column", "reason_code", "reason_args", "reason", "raw_row"])
    extra = Rule("", "bad_field_count", "", {"expected": len(headers)})
    table = [*rules, extra]
    col, code, args = [], [], []
    for rule_index, value in zip(frame["rule"], frame["value"], strict=True):
        rule = table[int(rule_index)]
        value = None if value is None or value is pd.NA else str(value).replace("\x00", "\\0")  # no NUL in a reason
        a = dict(rule.args, column=rule.column or "", value=value)
        if rule.code == "too_long":
            a["length"] = len(value or "")
            a["value"] = None
        if rule.code == "bad_field_count":
            a["fields"], a["value"] = value, None
        if rule.code == "duplicate_key":
            a["column"] = rule.args["key_columns"]
            a.pop("keys", None)
        col.append(a["column"])
        code.append(rule.code)
        args.append(json.dumps(a, ensure_ascii=False, default=str))
    out = pd.DataFrame({"row_number": frame["row_number"].astype("int64"), "column": col, "reason_code": code,
                        "reason_args": args, "raw_row": frame["raw_row"].astype(object)})
    out["reason"] = [reason_text(c, json.loads(a), "en") for c, a in zip(code, args, strict=True)]
    return out

