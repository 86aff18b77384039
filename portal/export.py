"""Downloads safe from spreadsheet formula injection: CSV and XLSX bytes from a DataFrame.

CSV keeps the contract's column names and raw values (what `portal query --format csv` prints); XLSX is
for people: labelled headers in the current language, codes as their labels, and cells typed as numbers,
percents, amounts and dates with number formats (portal/columns.py says which column is which).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from portal import columns as cols
from portal import config

XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")


def dates_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose date-only timestamp columns (all at midnight) read 2026-10-31, not 00:00:00."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_datetime64_dtype(series) and not isinstance(series.dtype, pd.DatetimeTZDtype):
            present = series.dropna()
            if (present.dt.normalize() == present).all():
                out[col] = series.dt.strftime("%Y-%m-%d")
    return out


def safe_cell(value: object) -> object:
    """Prefix a text cell that a spreadsheet would run as a formula with a single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose text cells (and headers) cannot start a formula."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_cell).astype(object)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a BOM (so Excel opens Chinese text correctly), formula-safe."""
    # CRLF rows make the writer quote any cell holding a bare CR, which would otherwise split the row.
    return neutralise(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _strip_illegal(value: object) -> object:
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


NUMBER_FORMATS = {
    "count": "#,##0",
    "rate": "0.00%",
    "amount": '"¥"#,##0.00',
    "date": "yyyy-mm-dd",
    "timestamp": "yyyy-mm-dd hh:mm:ss",
}


def number_format(spec: cols.ColumnSpec) -> str | None:
    """The spreadsheet number format of a column's cells (None: General)."""
    if spec.kind == "number":
        return "#,##0" + ("." + "0" * spec.places if spec.places else "")
    if spec.kind == "amount" and spec.places != 2:
        return '"¥"#,##0' + ("." + "0" * spec.places if spec.places else "")
    return NUMBER_FORMATS.get(spec.kind)


def _text(value: object) -> str:
    return safe_cell(_strip_illegal(value if isinstance(value, str) else str(value)))


def _typed(value: object, spec: cols.ColumnSpec, zone, lang: str | None) -> object:
    """One cell's value as the spreadsheet should hold it; text for anything that is not its kind."""
    kind = spec.kind
    if kind == "code":
        return _text(spec.value_label(value, lang))
    if kind in ("count", "rate", "amount", "number"):
        if isinstance(value, bool) or isinstance(value, str):
            return _text(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return _text(value)
        return int(number) if kind == "count" and number.is_integer() else number
    if kind in ("date", "timestamp"):
        if isinstance(value, str):
            return _text(value)
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(zone).tz_localize(None)
        return stamp.date() if kind == "date" else stamp.to_pydatetime()
    return _text(value)


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "data", specs: Mapping[str, cols.ColumnSpec] | None = None,
                  lang: str | None = None) -> bytes:
    """An XLSX workbook of frame: labelled headers (lang), codes as labels, typed cells, formula-safe.

    `specs` says each column's kind and label (columns.specs_for(frame) when None). Empty cells stay
    blank; every text cell is stored as a string, never a formula.
    """
    inferred = cols.specs_for(frame)
    chosen = [(specs or {}).get(str(c)) or inferred[str(c)] for c in frame.columns]
    zone = config.setting("timezone")
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet[:31])

    def cell(value: object, fmt: str | None = None) -> WriteOnlyCell:
        out = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            out.data_type = "s"
        elif fmt and isinstance(value, int | float | dt.date):
            out.number_format = fmt
        return out

    ws.append([cell(_text(spec.label(lang))) for spec in chosen])
    formats = [number_format(spec) for spec in chosen]
    for row in frame.itertuples(index=False, name=None):
        ws.append([None if cols.is_empty(v) else cell(_typed(v, spec, zone, lang), fmt)
                   for v, spec, fmt in zip(row, chosen, formats, strict=True)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
