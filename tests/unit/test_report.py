"""The board pack on the hand-built book (tests/fixtures_dashboards.py): the numbers of every section
against hand-computed values, the HTML and the PDF holding the same sections and numbers (the PDF's
text read back with pypdf), en and zh, filters, escaping and empty sections."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from pypdf import PdfReader

from portal import charts, db, forecast, i18n, improvement, kpis, report
from portal.report import document, fonts, static
from tests.fixtures_dashboards import build

JAN, FEB = dt.date(2024, 1, 31), dt.date(2024, 2, 29)
AT = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
HOSTILE = '</script><b onmouseover="alert(1)">A9</b>'


@pytest.fixture
def book(tmp_db):
    return build(tmp_db)


def pack(book, lang="en", dims=None, as_of=FEB) -> document.Document:
    return report.assemble(report.context(as_of, dims, lang=lang, db_path=book, generated_at=AT))


def rows_of(doc: document.Document, key: str, index: int = 0) -> list[tuple[str, ...]]:
    tables = [b for b in document.flat_blocks(doc.section(key).blocks) if isinstance(b, document.Table)]
    return [tuple(r) for r in tables[index].rows]


def period_of(doc: document.Document) -> dict[str, str]:
    """The period table's items (two item/detail pairs per row)."""
    return {k: v for row in rows_of(doc, "period") for k, v in (row[:2], row[2:]) if k}


def notes_of(doc: document.Document, key: str) -> list[str]:
    return [b.text for b in document.flat_blocks(doc.section(key).blocks) if isinstance(b, document.Note)]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


class Tables(HTMLParser):
    """The text of every <h2> and every table cell of an HTML page, as the browser shows it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h2":
            self._in_h2 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_h2:
            self.headings[-1] += data


def parse(page: str) -> Tables:
    parser = Tables()
    parser.feed(page)
    return parser


# The numbers of each section, worked out by hand from the fixture (February 2024 against January).


def test_sections_in_order_with_the_period_and_the_kpi_tiles(book):
    doc = pack(book)
    assert [s.key for s in doc.sections] == ["period", "overview", "alerts", "delinquency", "roll_rates",
                                             "forecast", "funnels", "channels", "strategy", "complaints",
                                             "conduct", "improvement"]
    assert doc.title == "Collections board pack: month-end 2024-02-29"
    period = period_of(doc)
    assert period["Month-end"] == "2024-02-29"
    assert period["Month covered"] == "2024-02-01 to 2024-02-29"
    assert period["Compared with"] == "2024-01-31"
    assert period["Loan filters"] == "none: the whole book"
    assert period["Month-ends in the data"] == "2024-01-31 to 2024-03-31 (3)"
    assert period["Generated"] == "2024-03-05 09:00 UTC"
    assert period["Database"] == book.name
    assert period["Conduct rule pack"] == i18n.t("codes.rule_pack.cn", "en")
    # the Overview tiles, Feb vs Jan (tests/unit/test_dashboards.py::test_overview_kpis)
    assert rows_of(doc, "overview") == [
        ("Overdue balance (¥)", "¥450.00", "¥430.00", "+¥20.00"),
        ("Delinquency rate (amount)", "12.40%", "10.24%", "+2.16 pp"),  # 450/3630 vs 430/4200
        ("Delinquency rate (count)", "60.00%", "66.67%", "-6.67 pp"),  # 3/5 vs 4/6
        ("M1→M2 roll rate", "33.33%", "–", "–"),  # no December snapshot: no January value
        ("Cure rate", "25.00%", "–", "–"),
        ("Recovered this month (¥)", "¥550.00", "¥50.00", "+¥500.00"),
        ("Cost to collect per ¥ recovered", "1.0095", "0.0020", "+1.0075"),
        ("Complaints per 10,000 overdue accounts", "10,000.0", "5,000.0", "+5,000.0"),
        ("Complaints resolved on time", "66.67%", "0.00%", "+66.67 pp"),
    ]
    tiles = next(b for b in document.flat_blocks(doc.section("overview").blocks) if isinstance(b, document.Table))
    # more overdue and a worse count rate is bad, more recovered is good
    assert [t[3] for t in tiles.tones] == ["bad", "bad", "good", None, None, "good", "bad", "bad", "good"]


def test_delinquency_roll_rates_and_funnels(book):
    doc = pack(book)
    # Jan: M0 L1 L5, M1 L2 L4 L6, M2 L3; overdue 100+200+50+80 = 430 of 4,200 outstanding
    # Feb: M0 L1 L2, M1 L5, M2 L4, M3 L3; overdue 30+120+300 = 450 of 3,630
    assert rows_of(doc, "delinquency") == [
        ("2024-01-31", "2", "3", "1", "0", "0", "0", "0", "0", "6", "¥430.00", "10.24%"),
        ("2024-02-29", "2", "1", "1", "1", "0", "0", "0", "0", "5", "¥450.00", "12.40%"),
    ]
    # Jan -> Feb: M0 {L1 stays, L5 to M1}; M1 {L2 cures, L4 to M2, L6 closes}; M2 {L3 to M3}
    assert rows_of(doc, "roll_rates") == [
        ("M0 (current)", "2", "50.00%", "50.00%", "0.00%", "0.00%", "0.00%"),
        ("M1 (1–30)", "3", "33.33%", "0.00%", "33.33%", "0.00%", "33.33%"),
        ("M2 (31–60)", "1", "0.00%", "0.00%", "0.00%", "100.00%", "0.00%"),
    ]
    roll = next(b for b in document.flat_blocks(doc.section("roll_rates").blocks) if isinstance(b, document.Table))
    assert [c.label for c in roll.columns][2:] == ["M0 (current)", "M1 (1–30)", "M2 (31–60)", "M3 (61–90)", "Closed"]
    # the cohort delinquent on 31 Jan followed to 29 Feb (test_dashboards: [4, 4, 2, 2, 2, 3, 1]);
    # its cured share is the cure-rate tile and the M1 row's M2 cell is the M1->M2 tile
    assert rows_of(doc, "funnels", 0) == [
        ("Delinquent", "4", "100.00%", "–"), ("Attempted", "4", "100.00%", "100.00%"),
        ("Reached", "2", "50.00%", "50.00%"), ("Right-party contact", "2", "50.00%", "100.00%"),
        ("Promise to pay", "2", "50.00%", "100.00%"), ("Paid", "3", "75.00%", "150.00%"),
        ("Cured", "1", "25.00%", "33.33%"),
    ]
    assert rows_of(doc, "funnels", 1) == [
        ("Reminder (SMS/app)", "2", "50.00%"), ("Phone", "2", "50.00%"), ("Home visit", "1", "25.00%"),
        ("Legal", "1", "25.00%"),
    ]
    assert [s.kind for s in doc.charts()][:8] == [
        "bucket_trend", "bucket_trend", "kpi_trend", "roll_matrix", "forecast_band", "forecast_band", "funnel",
        "funnel"]


def test_channels_strategy_complaints_conduct_and_improvement(book):
    doc = pack(book)
    # February contacts (C10 at 00:30 on 1 March local time is outside); P1 goes to C3 (app), P2 to C4
    assert rows_of(doc, "channels") == [
        ("SMS", "2", "50.00%", "0.00%", "0.00%", "–", "¥0.00", "¥0.20", "–", "1", "5,000.0"),
        ("App", "1", "100.00%", "0.00%", "0.00%", "–", "¥100.00", "¥0.05", "0.0005", "0", "0.0"),
        ("Phone", "2", "100.00%", "100.00%", "100.00%", "50.00%", "¥50.00", "¥5.00", "0.1000", "1", "5,000.0"),
        ("Home visit", "1", "100.00%", "0.00%", "0.00%", "–", "¥0.00", "¥50.00", "–", "0", "0.0"),
        ("Legal", "1", "0.00%", "0.00%", "0.00%", "–", "¥0.00", "¥500.00", "–", "0", "0.0"),
    ]
    # cohort of 31 Jan: champion L2 (cured; P1 100) and L4 (to M2; paid nothing in Feb): 1 of 2 cured,
    # ¥50.00 per account; challenger L3 (to M3; P2 50): 0 of 1, ¥50.00
    strategy = rows_of(doc, "strategy")
    assert [r[:4] + r[5:6] for r in strategy] == [("Champion", "2", "1", "50.00%", "¥50.00"),
                                                  ("Challenger", "1", "0", "0.00%", "¥50.00")]
    assert strategy[1][6] == "–"  # one account: no interval for its mean
    assert notes_of(doc, "strategy")[1].startswith("Cure rate: No significant difference: Challenger -50.0 pp")
    # received in February: K1 (resolved in 10 days, on time), K2 (19 days, late: due 6 Mar), K5 open past
    # its deadline of 16 Feb at the generation time
    assert rows_of(doc, "complaints") == [
        ("How we contacted me (too often, rude, bad hours)", "1", "1", "1", "100.00%", "10.0", "0"),
        ("Not my debt, or wrong amount", "1", "0", "0", "–", "–", "1"),
        ("Something else", "1", "1", "0", "0.00%", "19.0", "0"),
        ("All", "3", "2", "1", "50.00%", "–", "1"),
    ]
    assert rows_of(doc, "conduct") == [(i18n.label("rule", r, "en"), "0", "0", "0") for r in (
        "quiet_hours", "connected_calls_per_day", "unanswered_calls_per_day", "third_party_contact",
        "visit_collectors")]
    assert notes_of(doc, "improvement") == ["No improvement actions have been recorded."]


def test_alerts_and_forecast_sections(book):
    doc = pack(book)
    # the shipped rules at 29 Feb: on-time share 66.67% < 90% and M1->M2 33.33% > 28% fire (both critical);
    # the two change rules need 6 month-ends before February, which the book lacks
    assert notes_of(doc, "alerts") == ["2 KPI alert(s) firing at 2024-02-29"]
    assert [r[:5] for r in rows_of(doc, "alerts")] == [
        ("Critical", "Fewer than 90% of complaints due this month were resolved on time",
         "Complaints resolved on time", "66.67%", "–"),
        ("Critical", "More than 28% of M1 loans rolled to M2", "M1→M2 roll rate", "33.33%", "–"),
    ]
    assert rows_of(doc, "alerts")[1][5] == "roll_m1_m2_high: M1→M2 roll rate is 33.33% at 2024-02-29, > 28.00%"
    # the forecast is portal/forecast.py's, as on the Delinquency page: 3 month-ends from 29 Feb, k = 1
    projected = forecast.forecast_frame(FEB, 3, forecast.DEFAULT_K, db=book)
    m1 = projected[projected["bucket"] == "M1+"]
    assert rows_of(doc, "forecast", 0) == [
        (pd.Timestamp(r.month_end).date().isoformat(), f"{r.forecast_loans:,.0f}", f"¥{r.forecast_balance:,.2f}",
         f"¥{r.low_balance:,.2f}", f"¥{r.high_balance:,.2f}") for r in m1.itertuples()]
    assert [r[0] for r in rows_of(doc, "forecast", 0)] == ["2024-03-31", "2024-04-30", "2024-05-31"]
    assert i18n.t("forecast.page.k_reduced", "en", wanted=6, k=1) in notes_of(doc, "forecast")
    by_bucket = rows_of(doc, "forecast", 1)
    m0 = projected[(projected["bucket"] == "M0")]["forecast_balance"].tolist()
    assert by_bucket[0] == ("M0 (current)", *(f"¥{v:,.2f}" for v in m0))
    # too few month-ends for any backtest: the section says so rather than showing an empty table
    assert notes_of(doc, "forecast")[-1].startswith("Too few month-ends to backtest")


# HTML and PDF: the same document.


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_and_pdf_hold_the_same_sections_and_numbers(book, lang):
    doc = pack(book, lang)
    page = report.render(doc, "html").decode("utf-8")
    pages, text = pdf_text(report.render(doc, "pdf"))
    assert pages > 1
    assert page.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in page
    assert not re.search(r"<script[^>]+src=", page), "nothing is fetched: plotly.js is inlined"
    assert page.count("plotly.js v") == 1
    assert page.count('<div class="chart">') == len(doc.charts())

    parsed = parse(page)
    assert parsed.headings == [s.title for s in doc.sections]
    expected = [[[c.label for c in t.columns], *[list(r) for r in t.rows]] for t in doc.tables()]
    assert parsed.tables == expected

    flat = squash(text)
    assert squash(doc.title) in flat
    for section in doc.sections:
        assert squash(section.title) in flat, section.title
    for table in doc.tables():
        for row in table.rows:
            for cell in row:
                assert squash(cell) in flat, cell
        for column in table.columns:
            assert squash(column.label) in flat, column.label
    # the hand-computed tiles, in both
    for value in ("¥450.00", "12.40%", "+2.16 pp", "1.0095", "10,000.0", "+66.67 pp"):
        assert squash(value) in flat and html.escape(value) in page
    heading = i18n.t("report.section.overview", lang)
    assert heading in page and squash(heading) in flat


def test_chinese_pack_has_chinese_text_and_labels(book):
    doc = pack(book, "zh")
    assert doc.title == "催收董事会报告：2024-02-29 月末"
    assert rows_of(doc, "overview")[0] == ("逾期余额（元）", "¥450.00", "¥430.00", "+¥20.00")
    assert rows_of(doc, "funnels", 1)[0][0] == i18n.label("step", "reminder", "zh")
    data = report.render(doc, "pdf")
    _, text = pdf_text(data)
    assert "催收董事会报告" in text and "关键指标" in text and "逾期余额（元）" in text
    reader = PdfReader(io.BytesIO(data))
    embedded = set()
    for pdf_page in reader.pages:
        for font in pdf_page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            if "/FontFile2" in descriptor:
                embedded.add(str(font["/BaseFont"]).split("+")[-1])
    assert "WenQuanYiMicroHei" in embedded, embedded


def test_filters_are_shown_and_applied(book):
    doc = pack(book, dims={"product": ["cash_loan"], "region": ["west"]})
    period = period_of(doc)
    assert period["Loan filters"] == "Product: Cash loan; Region: west"
    # cash loans in the west: L6 only. January: M1, 20 days, 80 overdue of 400; gone by February, so the
    # February pack has no tiles to show
    assert notes_of(doc, "overview") == [i18n.t("report.empty.no_rows", "en")]
    jan = pack(book, dims={"product": ["cash_loan"], "region": ["west"]}, as_of=JAN)
    assert rows_of(jan, "overview")[0] == ("Overdue balance (¥)", "¥80.00", "–", "–")
    assert rows_of(jan, "overview")[2][1] == "100.00%"  # 1 of 1 loans delinquent
    whole_book = i18n.t("report.whole_book", "en")
    scoped = {s.key: s.scope_note for s in doc.sections}
    assert scoped["complaints"] == scoped["conduct"] == scoped["improvement"] == whole_book
    assert scoped["channels"] is None and scoped["overview"] is None
    assert "Champion vs challenger" in period["Filters apply to"]
    page = report.render(doc, "html").decode("utf-8")
    assert "Product: Cash loan; Region: west" in page and whole_book in page
    _, text = pdf_text(report.render(doc, "pdf"))
    assert squash("Product: Cash loan; Region: west") in squash(text)
    # the unfiltered pack says so in no section
    assert all(s.scope_note is None for s in pack(book).sections)
    zh = pack(book, "zh", dims={"product": ["cash_loan", "instalment"]})
    assert period_of(zh)["贷款筛选条件"] == (
        f"{i18n.t('filters.product', 'zh')}：{i18n.label('product', 'cash_loan', 'zh')}、"
        f"{i18n.label('product', 'instalment', 'zh')}")


def _hostile_book(book):
    def work(cur):
        # a quiet-hours call (23:30 local) by an agent whose id is markup
        cur.execute(
            "insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, cost,"
            " duration_s) values ('C99', 'L3', '2024-02-15 23:30:00+08'::timestamptz, 'phone', 'debtor',"
            " 'no_answer', $agent, 1.0, 0)", {"agent": HOSTILE})

    db.write(work, db=book)
    improvement.create_action({"title": f"Retrain {HOSTILE} $x^2$ {{month}}", "root_cause": "rude_agent",
                               "owner": HOSTILE, "start_on": dt.date(2024, 2, 1),
                               "change_made": "coaching", "target_kpi": "rpc_rate",
                               "segment_kind": "agent", "segment_value": HOSTILE}, "tester", db=book)


def test_user_text_never_becomes_markup(book):
    _hostile_book(book)
    doc = pack(book)
    league = rows_of(doc, "conduct", 1)
    assert league[0][:3] == (HOSTILE, "1", "1")
    assert rows_of(doc, "conduct")[0] == (i18n.label("rule", "quiet_hours", "en"), "1", "1", "1")
    actions = rows_of(doc, "improvement", 0)
    assert actions[0][1] == f"Retrain {HOSTILE} $x^2$ {{month}}" and actions[0][3] == HOSTILE
    page = report.render(doc, "html").decode("utf-8")
    assert HOSTILE not in page
    assert "<b onmouseover" not in page and "</script><b" not in page
    assert html.escape(HOSTILE, quote=True) in page  # the table cell
    assert "&lt;/script&gt;&lt;b onmouseover" in page  # inside the Plotly figure's title, escaped for Plotly
    assert [r[0] for r in parse(page).tables[-3][1:]][0] == HOSTILE  # the browser shows the text itself
    _, text = pdf_text(report.render(doc, "pdf"))
    assert squash(HOSTILE) in squash(text)
    assert squash("$x^2$ {month}") in squash(text)


def test_empty_sections_say_so(book):
    db.write(lambda cur: cur.execute("delete from snapshots where as_of > date '2024-01-31'"), db=book)
    doc = pack(book, as_of=JAN)
    no_previous = i18n.t("report.empty.no_previous", "en", month="2024-01-31")
    for key in ("roll_rates", "funnels", "strategy"):
        assert notes_of(doc, key) == [no_previous], key
    assert period_of(doc)["Compared with"] == "no earlier month-end in the data"
    assert rows_of(doc, "overview")[0] == ("Overdue balance (¥)", "¥430.00", "–", "–")
    assert notes_of(doc, "improvement") == [i18n.t("report.empty.no_actions", "en")]
    # a filter nothing matches: the sections that follow loans say there is nothing to show
    none = pack(book, dims={"region": ["nowhere"]}, as_of=JAN)
    assert notes_of(none, "overview") == [i18n.t("report.empty.no_rows", "en")]
    assert notes_of(none, "delinquency") == [i18n.t("report.empty.no_rows", "en")]
    assert notes_of(none, "channels") == [i18n.t("report.empty.no_rows", "en")]
    for doc in (pack(book, "zh", as_of=JAN), none):
        pages, text = pdf_text(report.render(doc, "pdf"))
        assert pages >= 1 and squash(doc.title) in squash(text)
        assert report.render(doc, "html").decode("utf-8").count("<h2>") == len(doc.sections)


def test_month_end_checks(book):
    months = report.month_ends(book)
    assert months == [JAN, FEB, dt.date(2024, 3, 31)]
    assert report.resolve_as_of(None, months) == dt.date(2024, 3, 31)
    assert report.resolve_as_of("2024-02-29", months) == FEB
    with pytest.raises(report.ReportError, match=r"^--as-of 2024-02-30 is not a date \(YYYY-MM-DD\)$"):
        report.resolve_as_of("2024-02-30", months)
    with pytest.raises(report.ReportError, match="is not a month-end in the data .month-ends 2024-01-31 to 2024-03-31"):
        report.resolve_as_of("2024-02-28", months)
    with pytest.raises(report.ReportError, match="no month-end"):
        report.resolve_as_of(None, [])
    with pytest.raises(report.ReportError, match="--risk-grade Z is not one of A, B, C, D, E"):
        report.check_filters({"risk_grade": ["Z"]})
    assert report.check_filters({"region": [" east ", ""], "product": None}) == {"region": ["east"]}
    # the pack for the latest month-end: March has no next month, the funnels follow February's cohort
    latest = report.assemble(report.context(None, {}, db_path=book, generated_at=AT))
    assert latest.as_of == dt.date(2024, 3, 31)
    assert rows_of(latest, "funnels", 0)[0] == ("Delinquent", "3", "100.00%", "–")


# Charts: one spec, drawn by Plotly for the HTML and by matplotlib for the PDF.


def test_every_chart_kind_has_both_renderers(book):
    assert set(charts.SPEC_BUILDERS) == set(static.DRAWERS)
    doc = pack(book)
    kinds = {s.kind for s in doc.charts()}
    assert kinds == {"bucket_trend", "kpi_trend", "roll_matrix", "funnel", "effectiveness_bubbles",
                     "strategy_bars", "on_time_rate", "forecast_band"}
    for spec in doc.charts():
        fig = charts.figure(spec)
        assert fig.layout.title.text == spec.title
        image = static.png(spec, 120, 70)
        assert image.startswith(b"\x89PNG")


def test_escaped_specs_keep_plotly_from_reading_markup():
    frame = pd.DataFrame({"rule_label": ["<b>bold</b>", "plain"], "violations": [3, 1]})
    spec = charts.ChartSpec("ranked_bars", frame, "<a href='javascript:x'>t</a>",
                            {"label": "rule_label", "value": "violations", "x_label": "n & m"})
    fig = charts.figure(charts.escaped(spec))
    assert fig.layout.title.text == "&lt;a href='javascript:x'&gt;t&lt;/a&gt;"
    assert list(fig.data[0].y) == ["plain", "&lt;b&gt;bold&lt;/b&gt;"]
    assert fig.layout.xaxis.title.text == "n &amp; m"
    assert spec.data["rule_label"][0] == "<b>bold</b>", "the spec itself is left as it was"


def test_static_titles_wrap_by_display_width():
    assert static.wrap("one two three four", 9) == "one two\nthree\nfour"
    assert static.wrap("催收董事会报告", 6) == "催收董\n事会报\n告"


def test_every_chinese_string_has_a_glyph_in_the_shipped_fonts():
    from fontTools.ttLib import TTFont

    covered = set(TTFont(fonts.CJK, lazy=True).getBestCmap()) | set(TTFont(fonts.latin(), lazy=True).getBestCmap())
    missing = {ch for text in i18n.catalogue("zh").values() for ch in text if ord(ch) not in covered
               and not ch.isspace()}
    assert not missing, sorted(missing)


def test_value_formats():
    assert document.fmt("count", 1234.0, "en") == "1,234"
    assert document.fmt("rate", 0.12345, "en") == "12.35%"
    assert document.fmt("amount", -48.0, "en") == "-¥48.00"
    assert document.fmt("amount", 1234.5, "en") == "¥1,234.50"
    assert document.fmt("ratio", 1.00952, "en") == "1.0095"
    assert document.fmt("number", 10000.0, "en") == "10,000.0"
    assert document.fmt("date", "2024-02-29 00:00:00", "en") == "2024-02-29"
    assert document.fmt("code", "visit", "en", "channel") == "Home visit"
    for kind in document.KINDS:
        assert document.fmt(kind, None, "en") == "–"
        assert document.fmt(kind, float("nan"), "en") == "–"


def test_tile_formatting():
    assert kpis.format_value("money", 1234.5) == "¥1,234.50"
    assert kpis.format_value("rate", 0.12345) == "12.35%"
    assert kpis.format_value("per10k", float("nan")) == "–"
    assert kpis.format_delta("money", 10.0, 25.5) == "-¥15.50"
    assert kpis.format_delta("rate", 0.25, 0.2) == "+5.00 pp"
    assert kpis.format_delta("ratio", 0.5, None) is None
