"""A named query's result as text or bytes: one function for `portal query` and the API alike, so the
API's CSV and JSON are byte-equal to the command's."""

from __future__ import annotations

import io
import json

import pandas as pd

from portal.export import dates_as_text, neutralise

FORMATS = ("csv", "json", "parquet")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


def as_text(frame: pd.DataFrame, fmt: str) -> str:
    """CSV (formula-safe) or JSON records (indented, UTF-8) exactly as `portal query --format` prints them."""
    frame = dates_as_text(frame)
    if fmt == "json":
        records = json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        return neutralise(frame).to_csv(index=False)
    raise ValueError(f"no text format {fmt!r}")


def as_parquet(frame: pd.DataFrame) -> bytes:
    """The frame as one Parquet file, columns typed as the query returns them."""
    out = io.BytesIO()
    frame.to_parquet(out, index=False, engine="pyarrow")
    return out.getvalue()
