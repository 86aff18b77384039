"""The board pack: one document for a month-end (and optional loan filters), built once as data
(portal/report/document.py, from the sections in portal/report/sections.py) and written as PDF
(portal/report/pdf.py: fpdf2, matplotlib charts, embedded fonts) or as one self-contained HTML file
(portal/report/html.py: Plotly inlined). The Overview page's buttons and `portal report board-pack`
both call build(), so they produce the same document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from portal import alerts, config, db, i18n, policy, taxonomy
from portal.report.document import DIMENSIONS, Context, Document, Note, RenderedSection, Section
from portal.report.sections import SECTIONS

FORMATS = ("pdf", "html")
MIME = {"pdf": "application/pdf", "html": "text/html"}


class ReportError(ValueError):
    """A board pack that cannot be made (no data, a bad month-end): one line, in English."""


def month_ends(db_path: str | Path | None = None) -> list[dt.date]:
    """Every month-end in the snapshots, oldest first."""
    frame = db.query("month_ends", db=db_path)
    return sorted(pd.Timestamp(m).date() for m in frame["as_of"])


def resolve_as_of(value: dt.date | str | None, months: Sequence[dt.date]) -> dt.date:
    """The month-end a pack is for: value (a date or YYYY-MM-DD) when it is a month-end in the data,
    else the latest month-end when value is None; ReportError otherwise."""
    if not months:
        raise ReportError(i18n.t("report.errors.no_month_ends", "en"))
    if value is None or value == "":
        return months[-1]
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ReportError(i18n.t("report.errors.bad_date", "en", value=value)) from None
    if value not in months:
        raise ReportError(i18n.t("report.errors.not_month_end", "en", value=value.isoformat(),
                                 first=months[0].isoformat(), last=months[-1].isoformat()))
    return value


FILTER_VALUES = {"product": taxonomy.PRODUCTS, "risk_grade": taxonomy.RISK_GRADES}  # region is free text


def check_filters(dims: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The loan filters as lists of values, each checked against the contract's codes."""
    out: dict[str, list[str]] = {}
    for dim in DIMENSIONS:
        values = [str(v).strip() for v in (dims or {}).get(dim) or [] if str(v).strip()]
        allowed = FILTER_VALUES.get(dim)
        for value in values:
            if allowed is not None and value not in allowed:
                raise ReportError(i18n.t("report.errors.bad_filter", "en", dimension=dim.replace("_", "-"),
                                         value=value, allowed=", ".join(allowed)))
        if values:
            out[dim] = values
    return out


def _previous_month_end(as_of: dt.date, months: Sequence[dt.date]) -> dt.date | None:
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    return previous if previous in months else None


def context(as_of: dt.date | str | None = None, dims: Mapping[str, Any] | None = None, *,
            lang: str = i18n.DEFAULT_LANGUAGE, db_path: str | Path | None = None,
            generated_at: dt.datetime | None = None, pack: str | None = None) -> Context:
    """What a pack is for, checked: the month-end (default the latest), filters, language, database."""
    months = month_ends(db_path)
    month = resolve_as_of(as_of, months)
    clean = check_filters(dims)
    generated = generated_at or dt.datetime.now(dt.UTC)
    if generated.tzinfo is None:
        generated = generated.replace(tzinfo=dt.UTC)
    return Context(
        as_of=month, previous=_previous_month_end(month, months), month_ends=tuple(months),
        dims=clean, lang=lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE,
        db_path=Path(db_path) if db_path else config.db_path(), generated_at=generated.astimezone(dt.UTC),
        pack=pack or str(config.setting("rule_pack")),
    )


def assemble(ctx: Context, sections: Sequence[Section] | None = None) -> Document:
    """Run every section's queries and lay them out: the pack as data, ready for either renderer.
    A section whose query fails says so in the pack (the others still show)."""
    built = []
    for section in sections if sections is not None else SECTIONS:
        try:
            blocks = section.blocks(section.gather(ctx), ctx)
        except (db.QueryError, policy.PolicyError, alerts.AlertError) as exc:
            blocks = [Note(ctx.t("report.empty.failed", reason=str(exc).splitlines()[0]), "empty")]
        if not blocks:
            blocks = [Note(ctx.t("report.empty.no_rows"), "empty")]
        scope = ctx.t("report.whole_book") if ctx.filtered and not section.filtered else None
        built.append(RenderedSection(section.key, section.title(ctx.lang), tuple(blocks), scope))
    return Document(
        title=ctx.t("report.heading", month=ctx.as_of.isoformat()),
        subtitle=ctx.t("report.subtitle", start=ctx.month_start.isoformat(), end=ctx.as_of.isoformat()),
        generated=ctx.t("report.generated", at=ctx.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
                        db=Path(str(ctx.db_path)).name),
        lang=ctx.lang, as_of=ctx.as_of, sections=tuple(built), generated_at=ctx.generated_at,
    )


def render(document: Document, fmt: str) -> bytes:
    """The document as PDF or HTML (UTF-8) bytes."""
    if fmt == "pdf":
        from portal.report import pdf

        return pdf.render(document)
    if fmt == "html":
        from portal.report import html

        return html.render(document).encode("utf-8")
    raise ReportError(i18n.t("report.errors.bad_format", "en", value=fmt))


def build(as_of: dt.date | str | None = None, dims: Mapping[str, Any] | None = None, *, fmt: str = "pdf",
          lang: str = i18n.DEFAULT_LANGUAGE, db_path: str | Path | None = None,
          generated_at: dt.datetime | None = None) -> bytes:
    """The board pack for a month-end (default the latest) and loan filters, as PDF or HTML bytes."""
    if fmt not in FORMATS:
        raise ReportError(i18n.t("report.errors.bad_format", "en", value=fmt))
    ctx = context(as_of, dims, lang=lang, db_path=db_path, generated_at=generated_at)
    return render(assemble(ctx), fmt)


def build_html(as_of: dt.date | str | None = None, dims: Mapping[str, Any] | None = None, *,
               lang: str = i18n.DEFAULT_LANGUAGE, db_path: str | Path | None = None) -> str:
    """The board pack as one self-contained HTML page."""
    return build(as_of, dims, fmt="html", lang=lang, db_path=db_path).decode("utf-8")


def build_pdf(as_of: dt.date | str | None = None, dims: Mapping[str, Any] | None = None, *,
              lang: str = i18n.DEFAULT_LANGUAGE, db_path: str | Path | None = None) -> bytes:
    """The board pack as a PDF."""
    return build(as_of, dims, fmt="pdf", lang=lang, db_path=db_path)


def file_name(as_of: dt.date, fmt: str, lang: str) -> str:
    """The download name of a pack: board_pack_2024-02-29_en.pdf."""
    return f"board_pack_{as_of.isoformat()}_{lang}.{fmt}"


__all__ = ["FORMATS", "MIME", "SECTIONS", "ReportError", "assemble", "build", "build_html", "build_pdf",
           "check_filters", "context", "file_name", "month_ends", "render", "resolve_as_of"]
