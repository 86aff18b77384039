"""The board pack as a PDF (A4 landscape), written with fpdf2: the document's sections, tables and
notes as real text (searchable, copyable; text is never read as markup), charts drawn by matplotlib
(portal/report/static.py), fonts embedded as subsets (DejaVu Sans, WenQuanYi Micro Hei for Chinese),
a bookmark per section, and a running header and page numbers."""

from __future__ import annotations

import datetime as dt
import io
import math

from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, TableCellFillMode, WrapMode

from portal import i18n
from portal.report import fonts, static
from portal.report.document import Block, Chart, Document, Note, RenderedSection, Row, Table

MARGIN = 12.0
GAP = 6.0
BODY_PT = 8.5
TABLE_PT = 7.5
LINE_MM = 4.6
CHART_MM = {"full": (200.0, 88.0), "half": (None, 78.0)}
INK = (26, 26, 26)
MUTED = (96, 96, 96)
ACCENT = (13, 71, 161)
TONES = {"good": (46, 125, 50), "bad": (198, 40, 40)}
HEAD_FILL = (232, 238, 246)
ZEBRA_FILL = (247, 249, 252)
CELL_PAD = 1.6
SECTION_MIN_MM = 55.0  # a section starts on a new page when less than this is left


class _Pack(FPDF):
    def __init__(self, document: Document):
        super().__init__(orientation="L", unit="mm", format="A4")
        self.document = document
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 2)
        self.add_font("body", "", fonts.latin(""))
        self.add_font("body", "B", fonts.latin("B"))
        self.add_font("cjk", "", fonts.CJK)
        self.set_fallback_fonts(["cjk"], exact_match=False)
        self.set_text_color(*INK)

    @property
    def width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("body", "", 7)
        self.set_text_color(*MUTED)
        self.cell(0, 4, self.document.title, new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(200, 205, 212)
        self.line(self.l_margin, self.get_y() + 0.5, self.w - self.r_margin, self.get_y() + 0.5)
        self.ln(3)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-MARGIN + 2)
        self.set_font("body", "", 7)
        self.set_text_color(*MUTED)
        self.cell(self.width / 2, 4, self.document.generated)
        self.cell(self.width / 2, 4, i18n.t("report.page", self.document.lang, page=self.page_no(), pages="{nb}"),
                  align="R")
        self.set_text_color(*INK)

    def room(self) -> float:
        """Millimetres left on this page above the bottom margin."""
        return self.page_break_trigger - self.get_y()


def _note(pdf: _Pack, note: Note, width: float) -> None:
    style = "B" if note.tone == "verdict" else ""
    pdf.set_font("body", style, BODY_PT)
    pdf.set_text_color(*((109, 76, 65) if note.tone == "empty" else INK))
    pdf.multi_cell(width, LINE_MM, note.text, new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.ln(1.2)


def _column_widths(pdf: _Pack, table: Table, width: float) -> list[float]:
    pdf.set_font("body", "B" if table.tones or table.total_row else "", TABLE_PT)
    body = [max([pdf.get_string_width(r[j]) for r in table.rows] or [0]) for j in range(len(table.columns))]
    pdf.set_font("body", "B", TABLE_PT)
    heads = [pdf.get_string_width(c.label) for c in table.columns]
    words = [max((pdf.get_string_width(w) for w in c.label.split()), default=0) for c in table.columns]
    natural = [max(b, h) + 2 * CELL_PAD + 0.5 for b, h in zip(body, heads, strict=True)]
    least = [min(max(b, w) + 2 * CELL_PAD + 0.5, 60.0) for b, w in zip(body, words, strict=True)]
    if sum(natural) <= width:
        return natural
    if sum(least) >= width:
        return [w * width / sum(least) for w in least]
    spare = (width - sum(least)) / (sum(natural) - sum(least))
    return [lo + (hi - lo) * spare for lo, hi in zip(least, natural, strict=True)]


def _table(pdf: _Pack, table: Table, width: float) -> None:
    if table.title:
        pdf.set_font("body", "B", BODY_PT)
        pdf.multi_cell(width, LINE_MM, table.title, new_x="LEFT", new_y="NEXT")
    widths = _column_widths(pdf, table, min(width, pdf.epw) - 0.01)
    pdf.set_font("body", "", TABLE_PT)
    aligns = tuple("RIGHT" if c.numeric else "LEFT" for c in table.columns)
    with pdf.table(
        col_widths=widths, width=sum(widths), align="LEFT", text_align=aligns, line_height=TABLE_PT * 0.5,
        headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=ACCENT),
        cell_fill_color=ZEBRA_FILL, cell_fill_mode=TableCellFillMode.EVEN_ROWS,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES, padding=(1.1, CELL_PAD), wrapmode=WrapMode.WORD,
        repeat_headings=1, markdown=False,
    ) as grid:
        heading = grid.row()
        for column in table.columns:
            heading.cell(column.label)
        last = len(table.rows) - 1
        for i, values in enumerate(table.rows):
            bold = table.total_row and i == last
            row = grid.row()
            for j, value in enumerate(values):
                tone = table.tones[i][j] if table.tones else None
                style = None
                if tone in TONES or bold:
                    style = FontFace(emphasis="BOLD" if (bold or tone) else None, color=TONES.get(tone))
                row.cell(value, style=style)
    pdf.ln(2)


def _chart(pdf: _Pack, chart: Chart, width: float, height: float, x: float | None = None) -> None:
    image = static.png(chart.spec, width, height)
    if pdf.room() < height:
        pdf.add_page()
    left = pdf.l_margin if x is None else x
    top = pdf.get_y()
    pdf.image(io.BytesIO(image), x=left, y=top, w=width, h=height)
    pdf.set_y(top + height + 2)


def _lines(pdf: FPDF, text: str, width: float) -> int:
    return max(1, math.ceil(pdf.get_string_width(text) / max(width, 1.0)))


def _block_height(pdf: _Pack, block: Block, width: float) -> float:
    """How tall a block will be, in mm (to keep a row of blocks on one page)."""
    if isinstance(block, Chart):
        return (CHART_MM["full"][1] if width >= CHART_MM["full"][0] else CHART_MM["half"][1]) + 2
    if isinstance(block, Note):
        pdf.set_font("body", "", BODY_PT)
        return _lines(pdf, block.text, width) * LINE_MM + 1.2
    if isinstance(block, Table):
        widths = _column_widths(pdf, block, min(width, pdf.epw) - 0.01)
        pdf.set_font("body", "B", TABLE_PT)
        cell = TABLE_PT * 0.5
        total = max(_lines(pdf, c.label, w - 2 * CELL_PAD) for c, w in zip(block.columns, widths, strict=True))
        total = total * cell + 2.2
        pdf.set_font("body", "", TABLE_PT)
        for row in block.rows:
            total += max(_lines(pdf, v, w - 2 * CELL_PAD) for v, w in zip(row, widths, strict=True)) * cell + 2.2
        return total + (LINE_MM if block.title else 0) + 2
    column = (width - GAP * (len(block.blocks) - 1)) / len(block.blocks)
    return max(_block_height(pdf, b, column) for b in block.blocks)


def _row(pdf: _Pack, row: Row) -> None:
    blocks = row.blocks
    column = (pdf.width - GAP * (len(blocks) - 1)) / len(blocks)
    needed = max(_block_height(pdf, b, column) for b in blocks)
    if pdf.room() < needed:
        pdf.add_page()
    top, bottom = pdf.get_y(), pdf.get_y()
    left_margin, right_margin = pdf.l_margin, pdf.r_margin
    for i, block in enumerate(blocks):
        x = left_margin + i * (column + GAP)
        pdf.set_left_margin(x)
        pdf.set_right_margin(pdf.w - x - column)
        pdf.set_xy(x, top)
        if isinstance(block, Chart):
            _chart(pdf, block, column, CHART_MM["half"][1], x=x)
        else:
            _draw(pdf, block, column)
        bottom = max(bottom, pdf.get_y())
    pdf.set_left_margin(left_margin)
    pdf.set_right_margin(right_margin)
    pdf.set_xy(left_margin, bottom)


def _draw(pdf: FPDF, block: Block, width: float) -> None:
    if isinstance(block, Note):
        _note(pdf, block, width)
    elif isinstance(block, Table):
        if isinstance(pdf, _Pack):
            needed = _block_height(pdf, block, width)
            if needed > pdf.room() and needed < pdf.eph - 20:  # it fits on a page of its own: do not split it
                pdf.add_page()
        _table(pdf, block, width)
    elif isinstance(block, Chart):
        full_w, full_h = CHART_MM["full"]
        _chart(pdf, block, min(width, full_w), full_h)
    elif isinstance(block, Row):
        _row(pdf, block)
    else:
        raise TypeError(f"unknown block {type(block).__name__}")


def _section(pdf: _Pack, section: RenderedSection, first: bool) -> None:
    # the heading stays with what follows it: its notes and the first table, chart or row
    lead = []
    for block in section.blocks:
        lead.append(block)
        if not isinstance(block, Note):
            break
    needed = 14 + sum(_block_height(pdf, b, pdf.width) for b in lead)
    if not first and (pdf.room() < SECTION_MIN_MM or pdf.eph > needed > pdf.room()):
        pdf.add_page()
    pdf.start_section(section.title)
    pdf.set_font("body", "B", 13)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 7, section.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.5)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.set_text_color(*INK)
    pdf.ln(2)
    if section.scope_note:
        pdf.set_font("body", "", BODY_PT - 0.5)
        pdf.set_text_color(141, 110, 0)
        pdf.multi_cell(0, LINE_MM, section.scope_note, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)
    for block in section.blocks:
        _draw(pdf, block, pdf.width)
    pdf.ln(3)


def _title(pdf: _Pack, document: Document) -> None:
    pdf.set_font("body", "B", 18)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(0, 9, document.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*MUTED)
    pdf.set_font("body", "", BODY_PT)
    pdf.multi_cell(0, LINE_MM, document.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, LINE_MM, document.generated, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.ln(2)


def render(document: Document) -> bytes:
    """The document as PDF bytes."""
    pdf = _Pack(document)
    pdf.set_title(document.title)
    pdf.set_author("Collections Portal")
    pdf.set_creator("Collections Portal board pack (fpdf2)")
    pdf.set_lang("zh-CN" if document.lang == "zh" else "en")
    pdf.set_creation_date(document.generated_at or dt.datetime.now(dt.UTC))
    pdf.add_page()
    _title(pdf, document)
    for i, section in enumerate(document.sections):
        _section(pdf, section, first=i == 0)
    return bytes(pdf.output())
