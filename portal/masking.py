"""Personal data masked by default: mobiles, ID numbers, names and free text, plus the one audited
way to reveal a single value (a role that may reveal, a reason, a row in `pii_reveals`)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd

from portal import db as store
from portal.auth_types import User

MASK = "*"
REVEAL_ROLES = frozenset({"compliance", "admin"})
MIN_REASON_LENGTH = 5

# Columns holding personal data, by kind; other columns pass through unchanged.
NAME_COLUMNS = frozenset({"name", "customer_name", "debtor_name", "contact_name", "full_name", "complainant_name",
                          "姓名"})
MOBILE_COLUMNS = frozenset({"mobile", "phone_number", "mobile_number", "手机号"})
ID_COLUMNS = frozenset({"id_number", "id_card", "身份证号"})
FREE_TEXT_COLUMNS = frozenset({"raw_row", "narrative"})

_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])|(?<![0-9A-Za-z])\d{15}(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")

# What may be revealed: table -> (the fixed lookup SQL by field). Keys are bound as parameters.
_REVEAL_SQL = {
    ("customers", "name"): "select name from customers where customer_id = $key limit 1",
    ("customers", "mobile"): "select mobile from customers where customer_id = $key limit 1",
    ("customers", "id_number"): "select id_number from customers where customer_id = $key limit 1",
    ("quarantine", "raw_row"): (
        "select raw_row from quarantine where upload_id = try_cast(split_part($key, ':', 1) as bigint)"
        " and row_number = try_cast(split_part($key, ':', 2) as bigint) limit 1"
    ),
}
REVEALABLE = frozenset(_REVEAL_SQL)


def _clean(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip()


def _mask_middle(text: str, head: int, tail: int) -> str:
    """Keep head and tail characters; shorter values keep at most their first character."""
    if len(text) > head + tail:
        return text[:head] + MASK * (len(text) - head - tail) + text[len(text) - tail:]
    if len(text) <= 2:
        return MASK * len(text)
    return text[0] + MASK * (len(text) - 1)


def mask_mobile(value: object) -> str | None:
    """138****5678 for 13812345678: the first 3 and last 4 digits stay (spaces and dashes dropped)."""
    text = _clean(value)
    if text is None:
        return None
    return _mask_middle(re.sub(r"[\s-]", "", text), 3, 4)


def mask_id_number(value: object) -> str | None:
    """110***********1234 for an 18-character ID: the first 3 and last 4 characters stay."""
    text = _clean(value)
    if text is None:
        return None
    return _mask_middle(text.replace(" ", ""), 3, 4)


def mask_name(value: object) -> str | None:
    """张* for 张三, 欧*** for 欧阳娜娜, J********* for John Smith: only the first character stays."""
    text = _clean(value)
    if text is None:
        return None
    if len(text) <= 1:
        return MASK * len(text)
    return text[0] + MASK * (len(text) - 1)


def _numbers_masked(text: str) -> str:
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)
    return _MOBILE_IN_TEXT.sub(lambda m: m.group()[:-11] + mask_mobile(m.group()[-11:]), text)


def _row_masked(text: str) -> str | None:
    """A quarantined row as uploaded (a JSON object keyed by the file's headers), each value masked
    as its header's column is everywhere else; None when the text is not such an object."""
    try:
        row = json.loads(text)
    except ValueError:
        return None
    if not isinstance(row, dict):
        return None
    masked = {}
    for key, value in row.items():
        kind = column_kind(key)
        if value is None or kind is None or kind == "text":
            masked[key] = _numbers_masked(value) if isinstance(value, str) else value
        else:
            masked[key] = _MASKERS[kind](value)
    return json.dumps(masked, ensure_ascii=False, separators=(",", ":"))  # as DuckDB writes it


def mask_text(value: object) -> str | None:
    """Free text with every mobile number and ID number inside it masked; in a raw uploaded row
    (JSON keyed by headers), names, mobiles and ID numbers are masked by their header too."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    if text.startswith("{"):
        row = _row_masked(text)
        if row is not None:
            return row
    return _numbers_masked(text)


def column_kind(column: object) -> str | None:
    """Which kind of personal data a column holds (name, mobile, id_number, text), or None."""
    col = str(column).strip().lower()
    if col in NAME_COLUMNS:
        return "name"
    if col in MOBILE_COLUMNS or col.endswith("_mobile"):
        return "mobile"
    if col in ID_COLUMNS or col.endswith("_id_number"):
        return "id_number"
    if col in FREE_TEXT_COLUMNS:
        return "text"
    return None


_MASKERS = {"name": mask_name, "mobile": mask_mobile, "id_number": mask_id_number, "text": mask_text}


def may_reveal(role: str | None) -> bool:
    """Whether a role may reveal a masked value (one record at a time, with a reason)."""
    return role in REVEAL_ROLES


_DIGIT_RUN = r"\d{11}"


def _mask_numbers_in(series: pd.Series) -> pd.Series:
    """Mask mobiles and ID numbers inside any text column (only rows holding 11+ digits are touched)."""
    if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
        return series
    text = series.astype("string")
    hits = text.str.contains(_DIGIT_RUN, regex=True, na=False)
    if not hits.any():
        return series
    out = series.astype(object).copy()
    out[hits] = text[hits].map(mask_text).astype(object)
    return out


def mask_frame(frame: pd.DataFrame, role: str | None = None, *, reveal: bool = False) -> pd.DataFrame:
    """A copy of frame with its personal-data columns masked.

    Known columns (name, mobile, id_number, *_mobile, raw_row, narrative...) are masked by kind; every
    other text column still has any mobile or ID number inside it masked, so renamed or translated
    headers and free-text reasons do not leak them. Masking is the default for every role. Only a
    caller that asks for `reveal` on behalf of a role that may reveal gets clear values (the caller
    then owns auditing that disclosure).
    """
    if reveal and may_reveal(role):
        return frame.copy()
    out = frame.copy()
    for col in out.columns:
        kind = column_kind(col)
        if kind is not None:
            out[col] = out[col].astype(object).map(_MASKERS[kind]).astype(object)
        else:
            out[col] = _mask_numbers_in(out[col])
    return out


class RevealError(PermissionError):
    """A refused reveal; `code` says why (role, reason, field, not_found)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def reveal(db: str | Path | None, user: User | None, table: str, key: str, field: str, reason: str,
           *, now: dt.datetime | None = None) -> str | None:
    """Return one clear value and write who/what/when/why to `pii_reveals` in the same transaction."""
    if user is None or not may_reveal(user.role):
        raise RevealError("role")
    why = (reason or "").strip()
    if len(why) < MIN_REASON_LENGTH:
        raise RevealError("reason")
    sql = _REVEAL_SQL.get((table, field))
    if sql is None:
        raise RevealError("field")
    stamp = now or dt.datetime.now(dt.UTC)

    def lookup_and_log(cur) -> str | None:
        row = cur.execute(sql, {"key": str(key)}).fetchone()
        if row is None:
            raise RevealError("not_found")
        cur.execute(
            "insert into pii_reveals values ($by, $role, $tbl, $key, $field, $why, $at)",
            {"by": user.username, "role": user.role, "tbl": table, "key": str(key), "field": field,
             "why": why, "at": stamp},
        )
        return row[0]

    return store.write(lookup_and_log, db=db)


def reveals(limit: int = 500, *, db: str | Path | None = None) -> pd.DataFrame:
    """The newest `limit` entries of the reveal audit log."""
    return store.read("select * from pii_reveals order by revealed_at desc limit $n", {"n": int(limit)}, db=db)
