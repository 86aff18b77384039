"""The board pack as one self-contained HTML page: the document's sections, tables and notes, with
each chart spec drawn by Plotly (portal.charts.figure) and plotly.js inlined once, so the file opens
offline. Every piece of text is HTML-escaped, in the page and inside the charts."""

from __future__ import annotations

import html

from portal import charts
from portal.report.document import Block, Chart, Document, Note, Row, Table

CHART_HEIGHT_PX = 380
PAGE_WIDTH_PX = 1140  # the body's width for content; a chart in a row of n blocks gets 1/n of it

_CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;
margin:2rem auto;max-width:1180px;padding:0 1rem;color:#1a1a1a;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;padding-bottom:.2rem;
border-bottom:2px solid #1565c0;color:#0d47a1}
.meta,.subtitle{color:#555;font-size:.9rem;margin:.2rem 0}.scope{color:#8d6e00;font-size:.85rem}
nav ol{columns:2;font-size:.9rem}nav a{color:#1565c0;text-decoration:none}
table{border-collapse:collapse;margin:.8rem 0;font-size:.85rem}caption{text-align:left;font-weight:600;padding:.3rem 0}
td,th{border-bottom:1px solid #dde3ea;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#e8eef6}td.num,th.num{text-align:right}td.num,td.date{white-space:nowrap}
div.table{overflow-x:auto;max-width:100%}
tr.total td{font-weight:700;border-top:2px solid #90a4ae}.good{color:#2e7d32;font-weight:600}
.bad{color:#c62828;font-weight:600}p.note{font-size:.9rem;color:#333}p.empty{color:#6d4c41;font-style:italic}
p.verdict{font-weight:600}.row{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start}
.row>div{flex:0 1 auto;min-width:0}.chart{page-break-inside:avoid}
@media print{nav{display:none}h2{page-break-before:auto}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


class _Charts:
    """Draws chart specs with Plotly; the first one carries plotly.js, the others reuse it."""

    def __init__(self) -> None:
        self.count = 0

    def draw(self, chart: Chart, width: int) -> str:
        fig = charts.figure(charts.escaped(chart.spec))
        # a set size: plotly.js measures its box while the page is still being laid out
        fig.update_layout(height=CHART_HEIGHT_PX, width=width)
        first = self.count == 0
        self.count += 1
        return '<div class="chart">' + fig.to_html(
            full_html=False, include_plotlyjs="inline" if first else False,
            config={"displaylogo": False}) + "</div>"


def _table(table: Table) -> str:
    head = "".join(f'<th class="num">{_e(c.label)}</th>' if c.numeric else f"<th>{_e(c.label)}</th>"
                   for c in table.columns)
    body = []
    for i, row in enumerate(table.rows):
        cells = []
        for j, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            classes = ["num"] if column.numeric else (["date"] if column.kind == "date" else [])
            tone = table.tones[i][j] if table.tones else None
            if tone:
                classes.append(tone)
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{_e(value)}</td>")
        total = ' class="total"' if table.total_row and i == len(table.rows) - 1 else ""
        body.append(f"<tr{total}>{''.join(cells)}</tr>")
    caption = f"<caption>{_e(table.title)}</caption>" if table.title else ""
    return (f'<div class="table"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table></div>")


def _block(block: Block, drawer: _Charts, width: int = PAGE_WIDTH_PX) -> str:
    if isinstance(block, Note):
        return f'<p class="note {block.tone}">{_e(block.text)}</p>'
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        return drawer.draw(block, width)
    if isinstance(block, Row):
        share = (width - 20 * (len(block.blocks) - 1)) // len(block.blocks)
        return '<div class="row">' + "".join(f"<div>{_block(b, drawer, share)}</div>" for b in block.blocks) + "</div>"
    raise TypeError(f"unknown block {type(block).__name__}")


def render(document: Document) -> str:
    """The document as an HTML page (a str)."""
    drawer = _Charts()
    toc = "".join(f'<li><a href="#{_e(s.key)}">{_e(s.title)}</a></li>' for s in document.sections)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(document.lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(document.title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(document.title)}</h1>",
        f'<p class="subtitle">{_e(document.subtitle)}</p><p class="meta">{_e(document.generated)}</p></header>',
        f"<nav><ol>{toc}</ol></nav>",
    ]
    for section in document.sections:
        parts.append(f'<section id="{_e(section.key)}"><h2>{_e(section.title)}</h2>')
        if section.scope_note:
            parts.append(f'<p class="scope">{_e(section.scope_note)}</p>')
        parts.extend(_block(b, drawer) for b in section.blocks)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
