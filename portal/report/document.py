"""The board pack as data: a Document of sections, each a list of blocks (notes, formatted tables,
chart specs, rows of side-by-side blocks). It is built once; portal/report/html.py and pdf.py only lay
it out, so the HTML and the PDF hold the same sections, tables and numbers by construction.

Every value is formatted here, as the pages format it: counts with thousands separators, rates as
percents, amounts in ¥ with two decimals, codes as their catalogue labels, and "–" for an empty value.
Text stays plain text: each renderer escapes it for its own medium.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from portal import db, i18n
from portal.charts import ChartSpec

EMPTY = "–"
DIMENSIONS = ("product", "region", "risk_grade")
KINDS = ("text", "code", "count", "rate", "amount", "ratio", "number", "date")


def is_missing(value: object) -> bool:
    """Whether a value is empty: None, NaN, NaT or pd.NA."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt(kind: str, value: object, lang: str, codes: str | None = None) -> str:
    """One value as the pages show it: count 1,234 · rate 12.34% · amount ¥1,234.50 · ratio 1.0095 ·
    number 1,234.5 · date 2024-02-29 · code its catalogue label · "–" when empty."""
    if is_missing(value):
        return EMPTY
    if kind == "count":
        return f"{round(float(value)):,}"
    if kind == "rate":
        return f"{float(value):.2%}"
    if kind == "amount":
        return f"{'-' if float(value) < 0 else ''}¥{abs(float(value)):,.2f}"
    if kind == "ratio":
        return f"{float(value):.4f}"
    if kind == "number":
        return f"{float(value):,.1f}"
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    if kind == "code":
        return i18n.label(codes or "", value, lang)
    return str(value)


@dataclass(frozen=True)
class Context:
    """What one board pack is for: the month-end, the month-end before it, the loan filters, the
    language, the database and the moment it is generated. Sections read everything through it."""

    as_of: dt.date
    previous: dt.date | None
    month_ends: tuple[dt.date, ...]  # every month-end in the data, oldest first
    dims: Mapping[str, Any]
    lang: str
    db_path: str | Path | None
    generated_at: dt.datetime
    pack: str
    _results: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def month_start(self) -> dt.date:
        """The first day of the month this pack covers."""
        return self.as_of.replace(day=1)

    @property
    def month_stop(self) -> dt.date:
        """The day after the month-end: the exclusive end of the month, as the queries take it."""
        return self.as_of + dt.timedelta(days=1)

    @property
    def scope(self) -> dict[str, Any]:
        """The loan filters as query parameters (None where a dimension is not filtered)."""
        return {k: (list(self.dims[k]) if self.dims.get(k) else None) for k in DIMENSIONS}

    @property
    def filtered(self) -> bool:
        """Whether any loan filter is set."""
        return any(self.dims.get(k) for k in DIMENSIONS)

    def last_month_ends(self, n: int) -> list[dt.date]:
        """The last n month-ends up to and including as_of."""
        return [m for m in self.month_ends if m <= self.as_of][-n:]

    def t(self, key: str, **values: object) -> str:
        """A catalogue string in the pack's language."""
        return i18n.t(key, self.lang, **values)

    def label(self, kind: str, value: object) -> str:
        """A code's catalogue label in the pack's language."""
        return i18n.label(kind, value, self.lang)

    def query(self, name: str, **params: Any) -> pd.DataFrame:
        """Run a named query on the pack's database (once per pack for the same parameters)."""
        key = (name, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())))
        if key not in self._results:
            self._results[key] = db.query(name, db=self.db_path, **params)
        return self._results[key].copy()


@dataclass(frozen=True)
class Column:
    """One table column: its header, its kind (how values read and align) and its code domain."""

    name: str
    label: str
    kind: str = "text"
    codes: str | None = None

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers (right-aligned)."""
        return self.kind in ("count", "rate", "amount", "ratio", "number")


@dataclass(frozen=True)
class Note:
    """A paragraph of plain text; tone "empty" says a section or table has nothing to show."""

    text: str
    tone: str = "plain"  # plain | empty | verdict


@dataclass(frozen=True)
class Table:
    """A table of formatted strings. tones, when given, marks cells good or bad (deltas)."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str | None = None
    tones: tuple[tuple[str | None, ...], ...] | None = None
    total_row: bool = False  # the last row sums the others (shown in bold)


@dataclass(frozen=True)
class Chart:
    """A chart spec (portal.charts.ChartSpec) placed in a section."""

    spec: ChartSpec


@dataclass(frozen=True)
class Row:
    """Blocks laid side by side (two charts, or a table beside a chart)."""

    blocks: tuple[Block, ...]


Block = Note | Table | Chart | Row


@dataclass(frozen=True)
class RenderedSection:
    """One section of a built pack: its key, heading, scope note and blocks."""

    key: str
    title: str
    blocks: tuple[Block, ...]
    scope_note: str | None = None


@dataclass(frozen=True)
class Document:
    """A built board pack: its title, subtitle, generation line and sections."""

    title: str
    subtitle: str
    generated: str
    lang: str
    as_of: dt.date
    sections: tuple[RenderedSection, ...] = field(default_factory=tuple)
    generated_at: dt.datetime | None = None

    def tables(self) -> list[Table]:
        """Every table, in order (those inside rows too)."""
        return [b for s in self.sections for b in _flat(s.blocks) if isinstance(b, Table)]

    def charts(self) -> list[ChartSpec]:
        """Every chart spec, in order."""
        return [b.spec for s in self.sections for b in _flat(s.blocks) if isinstance(b, Chart)]

    def section(self, key: str) -> RenderedSection:
        """The section with that key."""
        return next(s for s in self.sections if s.key == key)


def _flat(blocks: Sequence[Block]) -> list[Block]:
    out: list[Block] = []
    for block in blocks:
        out.extend(_flat(block.blocks) if isinstance(block, Row) else [block])
    return out


def flat_blocks(blocks: Sequence[Block]) -> list[Block]:
    """The blocks with every Row opened up, in reading order."""
    return _flat(blocks)


def table(frame: pd.DataFrame, columns: Sequence[Column], ctx: Context, title: str | None = None,
          total: Mapping[str, object] | None = None) -> Table:
    """A Table of frame's columns, formatted by kind; `total` adds a last row of raw values."""
    rows = [tuple(fmt(c.kind, row.get(c.name), ctx.lang, c.codes) for c in columns)
            for row in frame.to_dict("records")]
    if total is not None:
        rows.append(tuple(str(total[c.name]) if c.kind in ("text", "code") and c.name in total
                          else fmt(c.kind, total.get(c.name), ctx.lang) for c in columns))
    return Table(tuple(columns), tuple(rows), title, total_row=total is not None)


@dataclass(frozen=True)
class Section:
    """One part of the board pack. `gather` runs the named queries it lists (`queries`) and returns
    their frames; `blocks` lays the frames out as notes, tables and charts. `filtered` says whether
    the loan filters apply (the sections on complaints, conduct and actions cover the whole book)."""

    key: str
    queries: tuple[str, ...]
    gather: Callable[[Context], dict[str, Any]]
    blocks: Callable[[dict[str, Any], Context], list[Block]]
    filtered: bool = True
    title_key: str | None = None  # default report.section.<key>

    def title(self, lang: str) -> str:
        """The section heading, from the catalogue."""
        return i18n.t(self.title_key or f"report.section.{self.key}", lang)
