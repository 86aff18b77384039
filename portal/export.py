"""Downloads safe from spreadsheet formula injection: CSV and XLSX bytes from a DataFrame."""

from __future__ import annotations

import io

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

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


def _xlsx_clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the control characters XLSX cannot store (NUL...), before formulas are neutralised."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_strip_illegal).astype(object)
    out.columns = [_strip_illegal(str(c)) for c in out.columns]
    return out


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    """An XLSX workbook of frame, formula-safe, with every text cell stored as a string."""
    buf = io.BytesIO()
    safe = neutralise(_xlsx_clean(frame))
    for col in safe.columns:
        if isinstance(safe[col].dtype, pd.DatetimeTZDtype):
            safe[col] = safe[col].dt.tz_localize(None)
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        safe.to_excel(writer, index=False, sheet_name=sheet[:31])
        ws = writer.sheets[sheet[:31]]
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    return buf.getvalue()
