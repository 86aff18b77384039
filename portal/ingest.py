"""Uploads: read a file -> normalise headers and encoding -> validate -> quarantine -> load, in one transaction.

The rule set is the pandera upload models in `portal/schemas.py`. For speed on large files those
models are compiled (`compile_rules`) into vectorised DuckDB SQL that runs over a staging table read
by DuckDB's CSV reader, so a million-row file never becomes a pandas frame. Foreign keys, keys unique
in the file and the debtor's time zone need the database and are checked in the same SQL pass.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from portal import cfpb, config, derived, schemas, taxonomy
from portal import complaints as complaint_log
from portal import db as portal_db
from portal.i18n import t

MB = 1024 * 1024
XLSX_MAX_EXPANSION = 10  # uncompressed XLSX may be at most this many times max_upload_mb
XLSX_MAX_RATIO = 100  # a member compressed more than this (and over 20 MB) is a zip bomb
CHUNK = 4 * MB
MAGIC = {
    b"PK\x03\x04": "ZIP/XLSX", b"PAR1": "Parquet", b"%PDF": "PDF", b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"\xd0\xcf\x11\xe0": "old Excel (XLS)", b"\x1f\x8b": "gzip",
    b"7z\xbc\xaf": "7-Zip", b"Rar!": "RAR",
}
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")
INT_RE = r"^[+-]?[0-9]+(\.0*)?$"
STATUSES = ("loaded", "partial", "rejected", "failed")


class UploadError(ValueError):
    """A file that cannot be loaded at all; the message is one line for the user."""


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset loads: its table, key columns, foreign keys and where its time zone comes from."""

    name: str
    keys: tuple[str, ...]
    fks: tuple[tuple[str, str], ...] = ()  # (column, "loan" | "customer")
    tz_from: tuple[str, ...] = ()  # columns whose customer's time zone applies: "loan_id", "customer_id"


DATASETS: dict[str, DatasetSpec] = {
    "customers": DatasetSpec("customers", ("customer_id",)),
    "loans": DatasetSpec("loans", ("loan_id",), (("customer_id", "customer"),)),
    "snapshots": DatasetSpec("snapshots", ("loan_id", "as_of"), (("loan_id", "loan"),)),
    "contacts": DatasetSpec("contacts", ("contact_id",), (("loan_id", "loan"),), ("loan_id",)),
    "payments": DatasetSpec("payments", ("payment_id",), (("loan_id", "loan"),), ("loan_id",)),
    "complaints": DatasetSpec("complaints", ("complaint_id",),
                              (("customer_id", "customer"), ("loan_id", "loan")), ("customer_id", "loan_id")),
}


@dataclass(frozen=True)
class Column:
    """One upload column as declared in the pandera model."""

    name: str
    kind: str
    zh: str | None
    required: bool
    nullable: bool
    default: Any


@dataclass(frozen=True)
class Rule:
    """One compiled check: SQL that is true for a failing row, and the reason to give."""

    column: str
    code: str
    sql: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadResult:
    """What one upload did: counts, status, a one-line message and the rejected rows."""

    upload_id: int | None
    dataset: str
    rows_total: int
    accepted: int
    rejected: int
    status: str
    message: str
    file_sha256: str = ""
    layout: str = ""
    strict: bool = False
    errors: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def rejects(self, lang: str | None = None) -> pd.DataFrame:
        """The rejected rows: row_number, column, reason (in lang, default English) and raw values."""
        return format_rejects(self.errors, lang or "en")


def columns(dataset: str) -> list[Column]:
    """The declared columns of an upload dataset, from its pandera model."""
    schema = schemas.UPLOAD_SCHEMAS[dataset].to_schema()
    out = []
    for name, col in schema.columns.items():
        meta = col.metadata or {}
        out.append(Column(name, meta["kind"], meta.get("zh"), bool(meta.get("required")),
                          bool(col.nullable), col.default))
    return out


def _header_key(text: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(text or "").replace("\ufeff", "").strip().lower())


def header_aliases(dataset: str) -> dict[str, str]:
    """Every accepted header (normalised) -> its column: the English name and the Chinese one."""
    out = {}
    for col in columns(dataset):
        out[_header_key(col.name)] = col.name
        if col.zh:
            out[_header_key(col.zh)] = col.name
    return out


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
        d = f"_d_{col.name}"
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
        if cast_code:
            rules.append(Rule(col.name, cast_code, f"{raw} is not null and {x} is null"))
        if not col.nullable and col.default is None:
            rules.append(Rule(col.name, "missing", f"{raw} is null"))
        for check in schema.columns[col.name].checks:
            rule = _check_rule(col, check, x, params)
            rules.append(Rule(rule.column, rule.code, f"{x} is not null and ({rule.sql})", rule.args))
    for check in schema.checks:
        column, code, sql = FRAME_RULES[check.name]
        rules.append(Rule(column, code, sql))
    rules.append(Rule(spec.keys[0], "duplicate_key", "_dup > 1", {"key_columns": ", ".join(spec.keys), "keys": spec.keys}))
    for column, target in spec.fks:
        rules.append(Rule(column, "unknown_fk", f"{column} is not null and not _fk_{column}", {"target": target}))
    return rules


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


@dataclass
class _Source:
    """A readable file, prepared for staging."""

    layout: str
    headers: list[str]
    csv_path: Path | None = None  # UTF-8 CSV that DuckDB reads directly
    delimiter: str = ","
    table: pa.Table | None = None  # or an Arrow table of text cells c0..cN plus _line, _fields
    temp: Path | None = None
    lines: int | None = None  # physical lines of csv_path, when already counted
    stage_is_view: bool = False


@dataclass(frozen=True)
class _Scan:
    sha256: str
    lines: int
    utf8: bool


def _scan(path: Path) -> _Scan:
    """One pass over the bytes: the file's sha256, its physical line count, and whether it is UTF-8."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8, count, last = True, 0, b"\n"
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
            count += chunk.count(b"\n")
            last = chunk[-1:]
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return _Scan(h.hexdigest(), count + (0 if last == b"\n" else 1), utf8)


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_header(path: Path, delimiter: str | None = None) -> tuple[list[str], str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
        if not first:
            raise UploadError("the file is empty")
        delim = delimiter or _sniff_delimiter(first)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delim)
        for row in reader:
            if any(cell.strip() for cell in row):
                return [cell.replace("\ufeff", "").strip() for cell in row], delim
    raise UploadError("the file is empty")


def _csv_source(path: Path, scan: _Scan | None = None) -> _Source:
    with path.open("rb") as fh:
        head = fh.read(8192)
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            raise UploadError(f"{path.name} is a binary {kind} file, not CSV text")
    if b"\x00" in head:
        raise UploadError(f"{path.name} is a binary file (or UTF-16 text), not a UTF-8 or GBK CSV")
    if (scan.utf8 if scan else _decodes(path, "utf-8")):
        layout, utf8, temp = "csv-utf8", path, None
    elif _decodes(path, "gb18030"):
        # DuckDB reads UTF-8 only: transcode GBK/GB18030 (GBK is a subset) to a temporary file.
        fd, name = tempfile.mkstemp(suffix=".csv", prefix="portal_upload_")
        os.close(fd)
        temp = utf8 = Path(name)
        with path.open(encoding="gb18030", newline="") as src, utf8.open("w", encoding="utf-8", newline="") as dst:
            for chunk in iter(lambda: src.read(CHUNK), ""):
                dst.write(chunk)
        layout = "csv-gb18030"
    else:
        raise UploadError(f"cannot read {path.name}: its text is neither UTF-8 nor GBK/GB18030")
    headers, delim = _read_header(utf8)
    lines = scan.lines if scan and temp is None else None
    return _Source(layout, headers, csv_path=utf8, delimiter=delim, temp=temp, lines=lines)


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0 and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    text = str(value)
    return text if text.strip() else None


def _arrow_rows(headers: list[str], rows: list[tuple[int, list[str | None]]]) -> pa.Table:
    width = len(headers)
    data: dict[str, list] = {"_line": [r[0] for r in rows], "_fields": []}
    cols: list[list] = [[] for _ in range(width)]
    for _, cells in rows:
        data["_fields"].append(None if len(cells) <= width or not any(cells[width:]) else len(cells))
        for i in range(width):
            cols[i].append(cells[i] if i < len(cells) else None)
    for i in range(width):
        data[f"c{i}"] = cols[i]
    schema = pa.schema([("_line", pa.int64()), ("_fields", pa.int64())] + [(f"c{i}", pa.string()) for i in range(width)])
    return pa.Table.from_pydict(data, schema=schema)


def _xlsx_source(path: Path, limit_bytes: int) -> _Source:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile:
        raise UploadError(f"{path.name} is not a valid XLSX workbook") from None
    total = sum(i.file_size for i in infos)
    if total > limit_bytes * XLSX_MAX_EXPANSION:
        raise UploadError(f"{path.name} expands to {total // MB} MB when unzipped, over the "
                          f"{limit_bytes * XLSX_MAX_EXPANSION // MB} MB limit; it was not opened")
    for info in infos:
        if info.file_size > 20 * MB and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1):
            raise UploadError(f"{path.name} looks like a zip bomb ({info.filename} expands "
                              f"{info.file_size // max(info.compress_size, 1)} times); it was not opened")
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise UploadError(f"{path.name} is not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        ws = wb.worksheets[0]
        headers: list[str] | None = None
        rows: list[tuple[int, list[str | None]]] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if headers is None:
                if any(cells):
                    headers = [c or "" for c in cells]
                    while headers and not headers[-1]:
                        headers.pop()
                continue
            if any(cells):
                rows.append((number, cells))
    finally:
        wb.close()
    if headers is None:
        raise UploadError(f"{path.name} has no table: its first sheet is empty")
    return _Source("xlsx", [h.strip() for h in headers], table=_arrow_rows(headers, rows))


def _parquet_source(path: Path) -> _Source:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise UploadError(f"{path.name} is not a readable Parquet file ({type(exc).__name__})") from None
    headers = [str(n) for n in table.column_names]
    out = {"_line": pa.array(range(2, table.num_rows + 2), pa.int64()),
           "_fields": pa.nulls(table.num_rows, pa.int64())}
    for i, column in enumerate(table.columns):
        aware = pa.types.is_timestamp(column.type) and column.type.tz is not None
        if aware or pa.types.is_floating(column.type) or pa.types.is_date(column.type):
            # Aware timestamps keep their offset in ISO text; floats print without float noise.
            text = pa.array([_cell_text(v) for v in column.to_pylist()], pa.string())
        else:
            text = column.cast(pa.string())
        out[f"c{i}"] = text
    return _Source("parquet", headers, table=pa.table(out))


def open_source(path: Path, scan: _Scan | None = None) -> _Source:
    """Check a file and prepare it for staging, or raise UploadError with a one-line reason."""
    if not path.is_file():
        raise UploadError(f"file not found: {path}")
    size = path.stat().st_size
    limit_mb = int(config.setting("max_upload_mb"))
    if size == 0:
        raise UploadError(f"{path.name} is empty")
    if size > limit_mb * MB:
        raise UploadError(f"{path.name} is {size / MB:.1f} MB, over the {limit_mb} MB upload limit")
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        head = fh.read(8)
    if suffix in XLSX_SUFFIXES:
        if not head.startswith(b"PK\x03\x04"):
            raise UploadError(f"{path.name} is not an XLSX workbook")
        return _xlsx_source(path, limit_mb * MB)
    if suffix in PARQUET_SUFFIXES:
        if not head.startswith(b"PAR1"):
            raise UploadError(f"{path.name} is not a Parquet file")
        return _parquet_source(path)
    if suffix in CSV_SUFFIXES or suffix == "":
        return _csv_source(path, scan)
    raise UploadError(f"{path.name}: unsupported file type {suffix}; upload CSV, XLSX or Parquet")


def _python_csv_table(path: Path, headers: list[str], delimiter: str) -> pa.Table:
    """Parse a CSV in Python, keeping each record's first physical line and flagging ragged rows."""
    rows: list[tuple[int, list[str | None]]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        seen_header = False
        last = 0
        for cells in reader:
            start, last = last + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if not seen_header:
                seen_header = True
                continue
            rows.append((start, [c if c.strip() else None for c in cells]))
    return _arrow_rows(headers, rows)


def _stage(cur: Any, src: _Source) -> int:
    """Create temp table _stage (_line, _fields, c0..cN text) on this cursor; return its row count."""
    width = len(src.headers)
    names = [f"c{i}" for i in range(width)]
    src.stage_is_view = False
    if src.table is None:
        physical_lines = src.lines if src.lines is not None else _count_lines(src.csv_path)
        blank = _leading_blank_lines(src.csv_path)
        try:
            cur.execute(
                "create or replace temp table _stage_raw as select * from read_csv($path, header = true, "
                "all_varchar = true, names = $names, delim = $delim, quote = '\"', escape = '\"', "
                "strict_mode = true, null_padding = false, skip = $skip)",
                {"path": str(src.csv_path), "names": names, "delim": src.delimiter, "skip": blank},
            )
            rows, base = cur.execute("select count(*), min(rowid) from _stage_raw").fetchall()[0]
            if rows + 1 + blank == physical_lines:
                # One physical line per record: rowid (file order) gives the source line number. Rows
                # of a table created in an open transaction number from a large base: subtract it.
                # A view (integers computed here, never user text) avoids copying a million rows.
                offset = 2 + blank - int(base or 0)
                cur.execute("create or replace temp view _stage as select rowid + "  # noqa: S608 (integer literal)
                            f"{int(offset)} as _line, null::bigint as _fields, {', '.join(names)} from _stage_raw")
                src.stage_is_view = True
                return rows
            cur.execute("drop table _stage_raw")
        except portal_db.Error:
            pass  # ragged rows or quoted newlines: fall back to the line-tracking parser below
        src.table = _python_csv_table(src.csv_path, src.headers, src.delimiter)
    with portal_db.arrow_view(cur, "_stage_arrow", src.table):
        cur.execute("create or replace temp table _stage as select * from _stage_arrow")
    return src.table.num_rows


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _leading_blank_lines(path: Path) -> int:
    blank = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line in fh:
            if line.strip():
                break
            blank += 1
    return blank


def _map_headers(dataset: str, headers: list[str]) -> tuple[dict[str, int], list[str]]:
    aliases = header_aliases(dataset)
    found: dict[str, int] = {}
    ignored = []
    for i, header in enumerate(headers):
        name = aliases.get(_header_key(header))
        if name is None:
            if header:
                ignored.append(header)
            continue
        if name in found:
            raise UploadError(f"two columns both mean {name}: {headers[found[name]]!r} and {header!r}")
        found[name] = i
    spec = DATASETS[dataset]
    missing_keys = [k for k in spec.keys if k not in found]
    if missing_keys:
        if len(found) == 0:
            raise UploadError(f"this is not a {dataset} table: none of its columns were found "
                              f"(missing key columns: {', '.join(missing_keys)})")
        raise UploadError(f"missing key columns: {', '.join(missing_keys)}")
    missing = [c.name for c in columns(dataset) if c.required and c.name not in found]
    if missing:
        raise UploadError(f"missing required columns: {', '.join(missing)}")
    return found, ignored


def _cfpb_stage(cur: Any, headers: list[str]) -> dict[str, int]:
    """Map a staged CFPB export to complaint columns in temp table _mapped; return its column positions."""
    frame = cur.execute("select * from _stage order by _line").df()
    raw = frame[[f"c{i}" for i in range(len(headers))]].copy()
    raw.columns = headers
    mapped = cfpb.to_contract(raw)
    names = list(mapped.columns)
    table = pa.table({"_line": pa.array(frame["_line"].astype("int64")), "_fields": pa.array(frame["_fields"], pa.int64()),
                      **{f"c{i}": pa.array([None if pd.isna(v) else str(v) for v in mapped[n]], pa.string())
                         for i, n in enumerate(names)}})
    with portal_db.arrow_view(cur, "_mapped_arrow", table):
        cur.execute("create or replace temp table _mapped as select * from _mapped_arrow")
    return {n: i for i, n in enumerate(names)}


def _raw_expr(colmap: dict[str, int], name: str) -> str:
    """A column's text as uploaded: NULL when blank; trimmed only when padded (trim is costly at scale)."""
    if name not in colmap:
        return "null::varchar"
    c = f"s.c{colmap[name]}"
    return f"case when {c} like ' %' or {c} like '% ' then nullif(trim({c}), '') else nullif({c}, '') end"


def _typed_sql(dataset: str, colmap: dict[str, int], source: str, rules: list[Rule], params: _Params) -> str:
    """SQL creating temp table _typed: typed columns and the list of failed rules of each row."""
    spec = DATASETS[dataset]
    default_tz = params.add(config.setting("timezone"))
    raw_cols, joins = [], []
    for col in columns(dataset):
        raw_cols.append(f"{_raw_expr(colmap, col.name)} as r_{col.name}")
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
        if col.kind == "int":
            expr = f"case when regexp_matches({r}, '{INT_RE}') then try_cast(try_cast({r} as double) as bigint) end"
        elif col.kind in ("amount", "rate"):
            typed.append(f"case when isfinite(try_cast({r} as double)) then try_cast({r} as double) end as _d_{col.name}")
            sqltype = "decimal(18, 2)" if col.kind == "amount" else "decimal(8, 6)"
            expr = f"cast(round(_d_{col.name}, {2 if col.kind == 'amount' else 6}) as {sqltype})"
            typed.append(f"{expr} as {col.name}")
            continue
        elif col.kind == "date":
            expr = f"try_cast({r} as date)"
        elif col.kind == "timestamp":
            # An offset is a '+' or '-' after the date part, or a trailing Z (cheaper than a regex).
            has_offset = (f"(strpos(substr({r}, 11), '+') > 0 or strpos(substr({r}, 11), '-') > 0 "
                          f"or upper(right({r}, 1)) = 'Z')")
            expr = (f"case when {has_offset} then try_cast({r} as timestamptz) "
                    f"else timezone({tz}, try_cast({r} as timestamp)) end")
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
    # Amount columns are referenced by name inside the same select list (DuckDB lateral aliases).
    inner = (f"select r.*, {', '.join(typed)} from (select s._line, s._fields, {', '.join(raw_cols)} "  # noqa: S608 (identifiers from the model allow-list)
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
    if rule.code == "duplicate_key":
        keys = [f"coalesce(r_{k}, '')" for k in rule.args["keys"]]
        return f"concat_ws(', ', {', '.join(keys)})"
    if rule.code in ("overdue_not_zero", "ptp_missing", "extension_reason_missing"):
        return "null::varchar"
    return f"r_{rule.column}"


def _upsert(cur: Any, dataset: str, upload_id: int) -> int:
    """Delete-then-insert the accepted rows whose content is new; identical rows are left untouched."""
    spec = DATASETS[dataset]
    cols = [c.name for c in columns(dataset)]
    col_list = ", ".join(cols)
    on = " and ".join(f"t.{k} = n.{k}" for k in spec.keys)
    overlap = cur.execute(f"select count(*) from {dataset} t semi join (select {', '.join(spec.keys)} "  # noqa: S608 (allow-listed)
                          f"from _typed where _errs is null) n on {on}").fetchall()[0][0]
    if overlap == 0:
        # No key is loaded yet (a first load): insert straight away, no comparison needed.
        _collect_affected(cur, dataset, "(select * from _typed where _errs is null)", None)
        cur.execute(f"insert into {dataset} ({col_list}, upload_id) select {col_list}, $uid from _typed "  # noqa: S608 (allow-listed)
                    "where _errs is null", {"uid": upload_id})
        return -1
    cur.execute(f"create or replace temp table _changed as select {col_list} from _typed where _errs is null "  # noqa: S608 (identifiers from the model allow-list)
                f"except select {col_list} from {dataset} t semi join (select {', '.join(spec.keys)} from _typed "
                f"where _errs is null) n on {on}")
    # Columns the upload does not carry (the complaint workbench's ticket, assignee, answer...) survive
    # a changed row: keep them aside, then put them back on the new version of the row.
    extra = [c for (c,) in cur.execute(
        "select column_name from information_schema.columns where table_name = $t order by ordinal_position",
        {"t": dataset}).fetchall() if c not in cols and c != "upload_id"]
    if extra:
        kept = ", ".join([*spec.keys, *extra])
        cur.execute(f"create or replace temp table _kept as select {kept} from {dataset} t "  # noqa: S608 (identifiers from the model allow-list and the catalog)
                    f"semi join _changed n on {on}")
    _collect_affected(cur, dataset, "_changed", f"(select * from {dataset} t semi join _changed n on {on})")  # noqa: S608 (allow-listed)
    cur.execute(f"delete from {dataset} t where exists (select 1 from _changed n where {on})")  # noqa: S608 (identifiers from the model allow-list)
    if extra:
        keep_on = " and ".join(f"k.{k} = n.{k}" for k in spec.keys)
        cur.execute(f"insert into {dataset} ({col_list}, {', '.join(extra)}, upload_id) "  # noqa: S608 (identifiers from the model allow-list and the catalog)
                    f"select {', '.join('n.' + c for c in cols)}, {', '.join('k.' + c for c in extra)}, $uid "
                    f"from _changed n left join _kept k on {keep_on}", {"uid": upload_id})
        cur.execute("drop table _kept")
    else:
        cur.execute(f"insert into {dataset} ({col_list}, upload_id) select {col_list}, $uid from _changed",  # noqa: S608 (identifiers from the model allow-list)
                    {"uid": upload_id})
    changed = cur.execute("select count(*) from _changed").fetchall()[0][0]
    cur.execute("drop table _changed")
    return changed


def _collect_affected(cur: Any, dataset: str, new_rows: str, old_rows: str | None) -> None:
    """Fill `_affected_loans` (and `_affected_span`) with what this upload changes, for derived tables.

    new_rows and old_rows are fixed SQL relations (the accepted new rows and the stored versions
    they replace). A customer change touches that customer's loans; a contact change spans the old
    and new contact times; a customer or loan change spans every contact of the touched loans.
    """
    rows = new_rows if old_rows is None else f"(select * from {new_rows} union all by name select * from {old_rows})"  # noqa: S608
    if dataset == "customers":
        cur.execute("create or replace temp table _affected_loans as select distinct loan_id from loans "  # noqa: S608 (fixed relations)
                    f"where customer_id in (select customer_id from {rows})")
    else:
        cur.execute(f"create or replace temp table _affected_loans as select distinct loan_id from {rows} "  # noqa: S608 (fixed relations)
                    "where loan_id is not null")
    if dataset == "contacts":
        cur.execute(f"create or replace temp table _affected_span as select min(contact_at) as lo, "  # noqa: S608 (fixed relations)
                    f"max(contact_at) as hi from {rows}")
    elif dataset in ("customers", "loans"):
        # a customers or loans upload does not change contacts: every contact of the touched loans
        cur.execute("create or replace temp table _affected_span as select min(contact_at) as lo, "
                    "max(contact_at) as hi from contacts where loan_id in (select loan_id from _affected_loans)")
    else:
        cur.execute("create or replace temp table _affected_span as select null::timestamptz as lo, "
                    "null::timestamptz as hi")
    # the time span the dataset's own rows cover, for the month-level rollups
    time_column = {"contacts": "contact_at", "payments": "paid_at", "snapshots": "as_of::timestamptz"}
    if dataset in time_column:
        cur.execute(f"create or replace temp table _affected_time as select min({time_column[dataset]}) as lo, "  # noqa: S608 (fixed relations)
                    f"max({time_column[dataset]}) as hi from {rows}")
    else:
        cur.execute("create or replace temp table _affected_time as select null::timestamptz as lo, "
                    "null::timestamptz as hi")


def _refresh_derived(cur: Any, dataset: str, stale_before: frozenset[str] = frozenset()) -> None:
    """Recompute the derived facts of the loans this upload touched, inside the load's transaction."""
    exists = cur.execute("select count(*) from duckdb_tables() where temporary and table_name = "
                         "'_affected_loans'").fetchall()[0][0]
    if not exists:
        return
    if cur.execute("select count(*) from _affected_loans").fetchall()[0][0] > 0:
        lo, hi = cur.execute("select lo, hi from _affected_span").fetchall()[0]
        t_lo, t_hi = cur.execute("select lo, hi from _affected_time").fetchall()[0]
        derived.refresh(cur, derived.Change(frozenset({dataset}), full=False, stale_before=stale_before,
                                            contact_span=None if lo is None else (lo, hi),
                                            span=None if t_lo is None else (t_lo, t_hi)))
    else:
        # no loan's rows changed (a customer without loans, or a re-load of identical rows): the facts
        # keyed by loan or month stand as they are and are stamped fresh, so no page view rebuilds them
        derived.refresh(cur, derived.Change(frozenset({dataset}), full=False, stale_before=stale_before,
                                            loans_touched=False))
    for temp in ("_affected_loans", "_affected_span", "_affected_time"):
        cur.execute(f"drop table {temp}")


def _record_complaint_imports(cur: Any, upload_id: int, actor: str) -> None:
    """Start the audit trail of every complaint this upload brought in that has no event yet."""
    ids = [row[0] for row in cur.execute(
        "select complaint_id from complaints as c where upload_id = $uid and not exists "
        "(select 1 from complaint_events as e where e.complaint_id = c.complaint_id) order by complaint_id",
        {"uid": upload_id}).fetchall()]
    complaint_log.record_import_events(cur, ids, actor, note=f"upload {upload_id}")


def _errors_frame(cur: Any, rules: list[Rule], headers: list[str], dataset: str) -> pd.DataFrame:
    """The failed rules, one row per (line, rule), with the raw source row as JSON."""
    pairs = ", ".join(f"$h{i}, c{i}" for i in range(len(headers)))
    hparams = {f"h{i}": h if h else f"column {i + 1}" for i, h in enumerate(headers)}
    # Unnest the few failing rows once, then fetch just their raw lines from the stage.
    cur.execute("create or replace temp table _errors as select _line, err.r as rule, err.v as value "
                "from (select _line, unnest(_errs) as err from _typed where _errs is not null)")
    frame = cur.execute(
        f"with raw as (select _line, json_object({pairs}) as raw_row from _stage "  # noqa: S608 (positional names)
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
        value = None if value is None or value is pd.NA else str(value)
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


def load_file(dataset: str, path: str | os.PathLike, *, strict: bool = False, db: str | os.PathLike | None = None,
              uploaded_by: str = "cli", replaces_upload_id: int | None = None,
              progress: Callable[[float, str], None] | None = None, file_name: str | None = None) -> LoadResult:
    """Validate a file and load its valid rows in one transaction; quarantine and report the rest.

    Status: loaded (every row), partial (some rows quarantined), rejected (nothing loaded: every row
    bad, or strict with any bad row). Raises UploadError (one line) for a file that cannot be read.
    """
    database = db
    if dataset not in DATASETS:
        raise UploadError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    path = Path(path)
    name = file_name or path.name
    step = progress or (lambda fraction, stage: None)
    step(0.02, "reading")
    size = path.stat().st_size if path.is_file() else 0
    scan = _scan(path) if 0 < size <= int(config.setting("max_upload_mb")) * MB else None
    sha = scan.sha256 if scan else ""
    try:
        src = open_source(path, scan)
    except UploadError as exc:
        _record_failure(dataset, name, sha, size, "", uploaded_by, strict, replaces_upload_id, str(exc), database)
        raise
    try:
        result = _load(dataset, src, name, sha, size, strict, database, uploaded_by, replaces_upload_id, step)
    except UploadError as exc:
        _record_failure(dataset, name, sha, size, src.layout, uploaded_by, strict, replaces_upload_id, str(exc),
                        database)
        raise
    except Exception as exc:
        _record_failure(dataset, name, sha, size, src.layout, uploaded_by, strict, replaces_upload_id,
                        f"load failed and was rolled back: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                        database)
        raise
    finally:
        if src.temp is not None:
            src.temp.unlink(missing_ok=True)
    if dataset == "snapshots" and result.accepted:
        # a new or corrected month-end: bring the KPI alert history up to date (never fails the upload)
        from portal import alerts

        alerts.record_latest(db=database, recorded_by="upload")
    return result


def _load(dataset: str, src: _Source, name: str, sha: str, size: int, strict: bool, database: Any,
          uploaded_by: str, replaces: int | None, step: Callable[[float, str], None]) -> LoadResult:
    is_cfpb = dataset == "complaints" and cfpb.is_cfpb(src.headers)
    layout = f"{src.layout}+cfpb" if is_cfpb else src.layout
    # A CFPB export is mapped after staging; any other file must carry the contract's columns.
    file_colmap, ignored = ({}, []) if is_cfpb else _map_headers(dataset, src.headers)

    def work(cur: Any) -> LoadResult:
        colmap = file_colmap
        stale_before = frozenset(derived.stale(cur))  # a few metadata counts
        total = _stage(cur, src)
        if total == 0:
            raise UploadError(f"{name} has a header but no data rows")
        step(0.3, "validating")
        source = "_stage"
        if is_cfpb:
            colmap = _cfpb_stage(cur, src.headers)
            source = "_mapped"
        params = _Params()
        rules = compile_rules(dataset, params)
        sql = _typed_sql(dataset, colmap, source, rules, params)
        used = set(re.findall(r"\$(p\d+)\b", sql))
        cur.execute(sql, {k: v for k, v in params.values.items() if k in used})
        errors = _errors_frame(cur, rules, src.headers, dataset)
        rejected = int(errors["row_number"].nunique()) if not errors.empty else 0
        valid = total - rejected
        upload_id = cur.execute("select nextval('upload_id_seq')").fetchall()[0][0]
        step(0.6, "loading")
        if strict and rejected:
            accepted, status = 0, "rejected"
            message = f"strict: nothing loaded because {rejected} of {total} rows are bad"
        else:
            _upsert(cur, dataset, upload_id)
            step(0.75, "deriving")
            _refresh_derived(cur, dataset, stale_before)
            if dataset == "complaints":
                _record_complaint_imports(cur, upload_id, uploaded_by)
            accepted = valid
            status = "loaded" if rejected == 0 else ("partial" if accepted else "rejected")
            message = f"{accepted} of {total} rows loaded, {rejected} rejected"
        if ignored:
            message += f"; ignored columns: {', '.join(ignored)}"
        if not errors.empty:
            q = errors.assign(upload_id=upload_id, dataset=dataset)
            with portal_db.arrow_view(cur, "_q", q):
                cur.execute("insert into quarantine (upload_id, dataset, row_number, column_name, reason, raw_row, "
                            "quarantined_at, reason_code, reason_args) select upload_id, dataset, row_number, "
                            "\"column\", reason, raw_row, now(), reason_code, reason_args from _q")
        step(0.9, "recording")
        _insert_upload(cur, upload_id, dataset, name, sha, size, layout, uploaded_by, total, accepted, rejected,
                       status, strict, replaces, message)
        if src.stage_is_view:
            cur.execute("drop view _stage")
            cur.execute("drop table _stage_raw")
        for temp in ("_stage", "_typed", "_mapped"):
            cur.execute(f"drop table if exists {temp}")
        return LoadResult(upload_id, dataset, total, accepted, rejected, status, message, sha, layout, strict, errors)

    result = portal_db.write(work, db=database)
    step(1.0, "done")
    return result


def _insert_upload(cur: Any, upload_id: int, dataset: str, name: str, sha: str, size: int, layout: str,
                   uploaded_by: str, total: int, accepted: int, rejected: int, status: str, strict: bool,
                   replaces: int | None, message: str) -> None:
    cur.execute(
        "insert into uploads (upload_id, dataset, file_name, file_sha256, file_bytes, file_format, uploaded_by, "
        "uploaded_at, rows_total, rows_accepted, rows_rejected, status, is_strict, replaces_upload_id, message, "
        "file_layout) values ($id, $ds, $fn, $sha, $bytes, $fmt, $by, now(), $total, $acc, $rej, $status, $strict, "
        "$rep, $msg, $layout)",
        {"id": upload_id, "ds": dataset, "fn": name, "sha": sha, "bytes": size, "fmt": layout.split("-")[0].split("+")[0],
         "by": uploaded_by, "total": total, "acc": accepted, "rej": rejected, "status": status, "strict": strict,
         "rep": replaces, "msg": message, "layout": layout},
    )


def _record_failure(dataset: str, name: str, sha: str, size: int, layout: str, uploaded_by: str, strict: bool,
                    replaces: int | None, message: str, database: Any) -> None:
    """Note a file that loaded nothing in the upload history (its own small transaction)."""
    def work(cur: Any) -> None:
        upload_id = cur.execute("select nextval('upload_id_seq')").fetchall()[0][0]
        _insert_upload(cur, upload_id, dataset, name, sha, size, layout or "unknown", uploaded_by, 0, 0, 0,
                       "failed", strict, replaces, message[:500])

    try:
        portal_db.write(work, db=database)
    except Exception:  # the history line is best effort: never hide the real error from the caller
        pass


def sample_csv(dataset: str) -> bytes:
    """A header-only UTF-8 CSV template for a dataset (English headers)."""
    buf = io.StringIO()
    csv.writer(buf).writerow([c.name for c in columns(dataset)])
    return buf.getvalue().encode("utf-8")
