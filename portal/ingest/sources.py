"""Upload files (CSV, XLSX, Parquet) checked, decoded and staged as text cells for validation."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from portal import config
from portal import db as portal_db
from portal.ingest.datasets import UploadError

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
    nul: bool = True  # the cells may hold NUL characters (each mapped cell is then checked)
    formulas: frozenset[int] = frozenset()  # header positions holding a formula without a cached value


@dataclass(frozen=True)
class _Scan:
    sha256: str
    lines: int
    utf8: bool
    nul: bool = True


def _scan(path: Path) -> _Scan:
    """One pass over the bytes: the file's sha256, its physical line count, and whether it is UTF-8."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8, count, last, nul = True, 0, b"\n", False
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
            count += chunk.count(b"\n")
            nul = nul or b"\x00" in chunk
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
    return _Scan(h.hexdigest(), count + (0 if last == b"\n" else 1), utf8, nul)


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


def _raise_csv_limit() -> None:
    """Let Python's csv module read any field the upload size allows (its default stops at 131,072)."""
    limit = int(config.setting("max_upload_mb")) * MB + 1
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)  # process-wide, only ever raised: safe with concurrent uploads


def _read_header(path: Path, delimiter: str | None = None) -> tuple[list[str], str]:
    _raise_csv_limit()
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
                return list(row), delim
    raise UploadError("the file is empty")


# Single-byte text other than UTF-8 and GBK that the portal reads, by its codec name -> its usual name.
OTHER_ENCODINGS = {"cp1252": "Windows-1252"}
DETECT_READ = 8 * MB  # how much of the file the encoding detector looks through
DETECT_SAMPLE = 256 * 1024  # and how much non-ASCII text it keeps for charset-normalizer
CONFIDENT = 0.1  # how much less "mess" Windows-1252 text must show than GB18030 to be preferred
MAX_MESS = 0.2  # and the most it may show at all (invalid UTF-8 such as an encoded lone surrogate reads as mess)
# Words are split at the bytes that never sit inside a GBK/GB18030 character (all but digits, letters,
# @[\]^_`{|}~ and the non-ASCII bytes): each word starts and ends on a character boundary in both encodings.
_WORD_BREAK = re.compile(rb"[^\x30-\x39\x40-\x7e\x80-\xff]+")
_HIGH = re.compile(rb"[\x80-\xff]")


def _text_encoding(path: Path) -> str:
    """The codec of a CSV that is not UTF-8: GB18030 (GBK's superset) or Windows-1252, or UploadError.

    Both often decode the same bytes (Latin-1 "é" followed by a letter is a valid GBK pair), so
    charset-normalizer compares the two on the file's non-ASCII words: GB18030 (a Chinese lender's usual
    export) unless its text shows clearly more "mess" than Windows-1252's. The whole file must then
    decode strictly in the chosen one.
    """
    import charset_normalizer

    with path.open("rb") as fh:
        head = fh.read(DETECT_READ)
    sample = bytearray()
    for word in _WORD_BREAK.split(head):
        if len(word) <= 4096 and _HIGH.search(word):  # the non-ASCII words are the evidence
            sample += word + b" "
            if len(sample) > DETECT_SAMPLE:
                break
    chaos = {m.encoding: m.chaos for m in charset_normalizer.from_bytes(
        bytes(sample), cp_isolation=["gb18030", *OTHER_ENCODINGS], threshold=1.0)}
    gb = _decodes(path, "gb18030")
    # Windows-1252 only when its text reads as text, and (when GB18030 decodes too) clearly better.
    candidates = [e for e in OTHER_ENCODINGS if e in chaos and chaos[e] <= MAX_MESS
                  and (not gb or chaos[e] + CONFIDENT <= chaos.get("gb18030", 1.0))]
    for encoding in candidates:
        if _decodes(path, encoding):
            return encoding
    if gb:
        return "gb18030"
    raise UploadError(f"cannot read {path.name}: its text is neither UTF-8 nor GBK/GB18030 (nor Windows-1252); "
                      "save it as UTF-8 (in Excel: CSV UTF-8) and upload it again")


def _csv_source(path: Path, scan: _Scan | None = None) -> _Source:
    with path.open("rb") as fh:
        head = fh.read(8192)
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            raise UploadError(f"{path.name} is a binary {kind} file, not CSV text")
    if head.count(b"\x00") * 20 > len(head):
        # More than 5% NUL bytes: binary data or UTF-16 text. A stray NUL in a text file is a row error.
        raise UploadError(f"{path.name} is a binary file (or UTF-16 text), not a UTF-8 or GBK CSV; "
                          "save it as UTF-8 (in Excel: CSV UTF-8) and upload it again")
    nul = scan.nul if scan else True
    if (scan.utf8 if scan else _decodes(path, "utf-8")):
        layout, utf8, temp = "csv-utf8", path, None
    else:
        encoding = _text_encoding(path)
        # DuckDB reads UTF-8 only: transcode GBK/GB18030 (GBK is a subset) or Windows-1252 to a temporary file.
        fd, name = tempfile.mkstemp(suffix=".csv", prefix="portal_upload_")
        os.close(fd)
        temp = utf8 = Path(name)
        with path.open(encoding=encoding, newline="") as src, utf8.open("w", encoding="utf-8", newline="") as dst:
            for chunk in iter(lambda: src.read(CHUNK), ""):
                dst.write(chunk)
        layout = f"csv-{encoding}"
    headers, delim = _read_header(utf8)
    lines = scan.lines if scan and temp is None else None
    return _Source(layout, headers, csv_path=utf8, delimiter=delim, temp=temp, lines=lines, nul=nul)


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
    return text if text != "" else None


def _arrow_rows(headers: list[str], rows: list[tuple[int, list[str | None]]],
                formulas: dict[int, list[int]] | None = None) -> pa.Table:
    """Staged cells: _line, _fields (set when a row has data past the header), _extra (those cells,
    verbatim), _formulas (positions of formulas without a value), then c0..cN."""
    width = len(headers)
    formulas = formulas or {}
    data: dict[str, list] = {"_line": [r[0] for r in rows], "_fields": [], "_extra": [], "_formulas": []}
    cols: list[list] = [[] for _ in range(width)]
    for line, cells in rows:
        extra = cells[width:]
        while extra and extra[-1] is None:
            extra.pop()  # trailing empty cells are no data (a short row reads as empty cells too)
        data["_fields"].append(len(cells) if extra else None)
        data["_extra"].append(extra or None)
        data["_formulas"].append(formulas.get(line))
        for i in range(width):
            cols[i].append(cells[i] if i < len(cells) else None)
    for i in range(width):
        data[f"c{i}"] = cols[i]
    schema = pa.schema([("_line", pa.int64()), ("_fields", pa.int64()), ("_extra", pa.list_(pa.string())),
                        ("_formulas", pa.list_(pa.int32()))] + [(f"c{i}", pa.string()) for i in range(width)])
    return pa.Table.from_pydict(data, schema=schema)


def _table_has_nul(table: pa.Table) -> bool:
    import pyarrow.compute as pc

    return any(pc.any(pc.match_substring(table[name], "\x00")).as_py() for name in table.column_names
               if name.startswith("c") and pa.types.is_string(table.schema.field(name).type))


def _is_formula(value: Any) -> bool:
    """A cell of the formula view of a workbook that holds a formula (text "=..." or an array formula)."""
    return (isinstance(value, str) and value.startswith("=")) or type(value).__name__ in (
        "ArrayFormula", "DataTableFormula")


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
    import itertools

    import openpyxl

    try:
        # Once for the values Excel cached, once for the formulas: a formula whose cached value is
        # missing (a workbook written by a script) must not read as an empty cell.
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        wf = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise UploadError(f"{path.name} is not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        ws, wsf = wb.worksheets[0], wf.worksheets[0]
        headers: list[str] | None = None
        rows: list[tuple[int, list[str | None]]] = []
        formulas: dict[int, list[int]] = {}
        pairs = itertools.zip_longest(ws.iter_rows(values_only=True), wsf.iter_rows(values_only=True), fillvalue=())
        for number, (values, written) in enumerate(pairs, start=1):
            cells = [_cell_text(v) for v in values]
            unvalued = [i for i, (v, f) in enumerate(itertools.zip_longest(values, written)) if v is None and _is_formula(f)]
            for i in unvalued:
                while len(cells) <= i:
                    cells.append(None)
                f = written[i]
                cells[i] = f if isinstance(f, str) else str(getattr(f, "text", None) or "=")  # the formula as written
            if headers is None:
                if any(cells):
                    headers = [c or "" for c in cells]
                    while headers and not headers[-1]:
                        headers.pop()
                continue
            if not all(_blank(c) for c in cells):
                rows.append((number, cells))
                if unvalued:
                    formulas[number] = unvalued
    except UploadError:
        raise
    except Exception as exc:  # a workbook can be broken inside a sheet as well
        raise UploadError(f"{path.name} is not a readable XLSX workbook ({type(exc).__name__})") from None
    finally:
        wb.close()
        wf.close()
    if headers is None:
        raise UploadError(f"{path.name} has no table: its first sheet is empty")
    table = _arrow_rows(headers, rows, formulas)
    seen = frozenset(i for positions in formulas.values() for i in positions if i < len(headers))
    return _Source("xlsx", headers, table=table, nul=_table_has_nul(table), formulas=seen)


def _parquet_source(path: Path) -> _Source:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise UploadError(f"{path.name} is not a readable Parquet file ({type(exc).__name__})") from None
    headers = [str(n) for n in table.column_names]
    out = {"_line": pa.array(range(2, table.num_rows + 2), pa.int64()),
           "_fields": pa.nulls(table.num_rows, pa.int64()),
           "_extra": pa.nulls(table.num_rows, pa.list_(pa.string())),
           "_formulas": pa.nulls(table.num_rows, pa.list_(pa.int32()))}
    for i, column in enumerate(table.columns):
        aware = pa.types.is_timestamp(column.type) and column.type.tz is not None
        try:
            if aware or pa.types.is_floating(column.type) or pa.types.is_date(column.type):
                # Aware timestamps keep their offset in ISO text; floats print without float noise.
                text = pa.array([_cell_text(v) for v in column.to_pylist()], pa.string())
            else:
                text = column.cast(pa.string())
        except (pa.ArrowException, ValueError, OverflowError):
            raise UploadError(f"{path.name}: column {headers[i]!r} has type {column.type}, which cannot be "
                              "read as text") from None
        out[f"c{i}"] = text
    staged = pa.table(out)
    return _Source("parquet", headers, table=staged, nul=_table_has_nul(staged))


def clean_header(text: str) -> str:
    """A header as the portal reads it: NFKC (full-width ｌｏａｎ＿ｉｄ is loan_id), no invisible format
    characters (BOM, zero-width space), whitespace runs as one space, stripped."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def _clean_headers(name: str, headers: list[str]) -> list[str]:
    out = []
    for i, header in enumerate(headers):
        cleaned = clean_header(header)
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in cleaned):
            raise UploadError(f"{name}: the header of column {i + 1} holds a control character "
                              "(such as NUL); fix the header row and upload again")
        out.append(cleaned)
    return out


def open_source(path: Path, scan: _Scan | None = None) -> _Source:
    """Check a file and prepare it for staging, or raise UploadError with a one-line reason."""
    src = _open(path, scan)
    src.headers = _clean_headers(path.name, src.headers)
    return src


def _open(path: Path, scan: _Scan | None) -> _Source:
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


def _blank(cell: str | None) -> bool:
    """An empty cell (one of spaces is text, as DuckDB's reader gives it)."""
    return cell is None or cell == ""


def _python_csv_table(path: Path, headers: list[str], delimiter: str) -> pa.Table:
    """Parse a CSV in Python, keeping each record's first physical line and flagging ragged rows.

    Cells are kept verbatim (spaces too; an empty cell is NULL), and so are the cells past the header.
    A record whose cells are all empty is skipped, as the DuckDB reader's view skips it.
    """
    _raise_csv_limit()
    rows: list[tuple[int, list[str | None]]] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        seen_header = False
        last = 0
        for cells in reader:
            start, last = last + 1, reader.line_num
            if not seen_header:
                seen_header = any(c.strip() for c in cells)  # as _read_header finds it
                continue
            if all(_blank(c) for c in cells):
                continue
            rows.append((start, [c if c != "" else None for c in cells]))
    return _arrow_rows(headers, rows)


def _stage(cur: Any, src: _Source) -> int:
    """Create temp table _stage (_line, _fields, _extra, _formulas, c0..cN text) on this cursor; return its
    row count."""
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
            # A record whose cells are all empty is no row (the Python parser skips it too). Null checks
            # only: a trim of every cell would cost a second per million rows.
            blank_row = f"{names[0]} is null and coalesce({', '.join(names)}) is null"
            lines, rows, base = cur.execute(
                f"select count(*), count(*) filter (where not ({blank_row})), min(rowid) from _stage_raw"  # noqa: S608 (positional names)
            ).fetchall()[0]
            if lines + 1 + blank == physical_lines:
                # One physical line per record: rowid (file order) gives the source line number. Rows
                # of a table created in an open transaction number from a large base: subtract it.
                # A view (integers computed here, never user text) avoids copying a million rows.
                offset = 2 + blank - int(base or 0)
                where = f" where not ({blank_row})" if rows < lines else ""
                cur.execute("create or replace temp view _stage as select rowid + "  # noqa: S608 (integer literal)
                            f"{int(offset)} as _line, null::bigint as _fields, null::varchar[] as _extra, "
                            f"null::integer[] as _formulas, {', '.join(names)} from _stage_raw{where}")
                src.stage_is_view = True
                return rows
            cur.execute("drop table _stage_raw")
        except portal_db.Error:
            pass  # ragged rows or quoted newlines: fall back to the line-tracking parser below
        src.table = _python_csv_table(src.csv_path, src.headers, src.delimiter)
        if src.nul:
            src.nul = _table_has_nul(src.table)
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

