"""The board pack: one self-contained HTML file with the Overview KPIs and the Delinquency charts
for a month-end. Plotly is inlined so the file opens offline; every value is HTML-escaped."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import pandas as pd

from portal import charts, db, i18n, kpis
from portal.i18n import t

DIMENSIONS = ("product", "region", "risk_grade")
MONTHS_SHOWN = 12

_CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2rem;color:#1a1a1a}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.35rem .7rem;text-align:right}
th:first-child,td:first-child{text-align:left}.meta{color:#555;font-size:.9rem}.chart{page-break-inside:avoid}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _filters_text(dims: dict[str, Any], lang: str) -> str:
    parts = []
    for dim in DIMENSIONS:
        values = dims.get(dim)
        if values:
            labels = ", ".join(i18n.label(dim, v, lang) for v in values)
            parts.append(f"{t(f'filters.{dim}', lang)}: {labels}")
    return "; ".join(parts) or t("dash.report.no_filters", lang)


def gather(as_of: dt.date, dims: dict[str, Any], *, db_path: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Run the queries behind the board pack for one month-end and the loan filters in dims."""
    scope = {k: dims.get(k) for k in DIMENSIONS}
    months = db.query("month_ends", db=db_path)["as_of"]
    months = sorted(pd.Timestamp(m).date() for m in months if pd.Timestamp(m).date() <= as_of)
    start = months[-MONTHS_SHOWN] if len(months) >= MONTHS_SHOWN else (months[0] if months else as_of)
    end = as_of + dt.timedelta(days=1)
    rolls = db.query("roll_rates", db=db_path, start=as_of, end=end, **scope)
    return {
        "kpis": db.query("overview_kpis", db=db_path, as_of=as_of, **scope),
        "buckets": db.query("delinquency_buckets", db=db_path, start=start, end=end, **scope),
        "rolls": rolls,
        "vintage": db.query("vintage_curves", db=db_path, **scope),
    }


def render(data: dict[str, pd.DataFrame], as_of: dt.date, dims: dict[str, Any], lang: str,
           source: str = "", generated_at: dt.datetime | None = None) -> str:
    """The board pack HTML for data gathered by gather()."""
    month = as_of.isoformat()
    generated = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    current, previous = kpis.tile_values(data["kpis"], as_of) if not data["kpis"].empty else ({}, None)
    rows = []
    for tile in kpis.TILES:
        value = current.get(tile.column)
        prev = previous.get(tile.column) if previous else None
        rows.append(
            "<tr>" + "".join(f"<td>{_e(v)}</td>" for v in (
                t(f"dash.overview.{tile.key}", lang),
                kpis.format_value(tile.kind, value),
                kpis.format_value(tile.kind, prev),
                kpis.format_delta(tile.kind, value, prev) or "–",
            )) + "</tr>"
        )
    head = "".join(f"<th>{_e(t(k, lang))}</th>" for k in (
        "dash.report.indicator", "dash.report.value", "dash.report.previous", "dash.report.change"))
    figures = []
    buckets = data["buckets"]
    if not buckets.empty:
        figures.append(charts.bucket_trend(
            buckets, "loans", t("dash.delinquency.distribution_title", lang), t("dash.delinquency.loans", lang)))
        delinquent = buckets[buckets["bucket"] != "M0"]
        figures.append(charts.bucket_trend(
            delinquent, "overdue_amount", t("dash.overview.trend_title", lang), t("dash.overview.trend_balance", lang)))
    rolls = data["rolls"]
    if not rolls.empty:
        figures.append(charts.roll_matrix(rolls, t("dash.delinquency.roll_title", lang, month=month)))
        figures.append(charts.roll_sankey(rolls, t("dash.delinquency.sankey_title", lang, month=month)))
    vintage = data["vintage"]
    if not vintage.empty:
        x, y = t("dash.delinquency.months_on_book", lang), t("dash.delinquency.share", lang)
        figures.append(charts.vintage(vintage, "ever_m1_share", t("dash.delinquency.vintage_m1", lang), x, y))
        figures.append(charts.vintage(vintage, "ever_m3_share", t("dash.delinquency.vintage_m3", lang), x, y))
    chart_html = [
        '<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
        + "</div>"
        for i, fig in enumerate(figures)
    ]
    title = t("dash.report.heading", lang, month=month)
    meta = t("dash.report.generated", lang, at=generated, db=source, filters=_filters_text(dims, lang))
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{_e(lang)}"><head><meta charset="utf-8"><title>{_e(title)}</title>',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(meta)}</p>',
        f"<h2>{_e(t('dash.report.kpis', lang))}</h2>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
        f"<h2>{_e(t('dash.report.delinquency', lang))}</h2>",
        *chart_html,
        "</body></html>",
    ])


def build_html(as_of: dt.date, dims: dict[str, Any] | None = None, *, lang: str = i18n.DEFAULT_LANGUAGE,
               db_path: str | Path | None = None) -> str:
    """Gather and render the board pack for a month-end (the one-click download on the Overview page)."""
    dims = dims or {}
    data = gather(as_of, dims, db_path=db_path)
    return render(data, as_of, dims, lang, source=Path(str(db_path or "")).name)
