"""`portal report board-pack` (for cron): through portal.cli.main, as a real subprocess, and the first
page of the PDF rendered to PNG (pdftoppm, where the test machine has it) with colour charts."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from portal import cli, db, report
from portal.report import document, fonts
from tests.fixtures_dashboards import build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def book(tmp_db):
    return build(tmp_db)


def board_pack(book, *args: str) -> int:
    return cli.main(["--db", str(book), "report", "board-pack", *args])


def test_cli_writes_html_by_its_suffix_with_filters(book, tmp_path, capsys):
    out = tmp_path / "pack.html"
    code = board_pack(book, "--as-of", "2024-02-29", "--product", "cash_loan,instalment", "--region", "east",
                      "--out", str(out))
    assert code == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("board pack for 2024-02-29 (html, en, ") and printed.endswith(f"written to {out}")
    page = out.read_text(encoding="utf-8")
    assert "<h1>Collections board pack: month-end 2024-02-29</h1>" in page
    assert "Product: Cash loan, Instalment; Region: east" in page
    # east: L1 (cash, current), L2 (cash, cured in Feb), L5 (credit line: filtered out). Nothing overdue in
    # Feb; in Jan L2 owed 100
    assert "<td>Overdue balance (¥)</td><td class=\"num\">¥0.00</td><td class=\"num\">¥100.00</td>" in page
    assert not list(tmp_path.glob(".*.part")), "no partial file is left behind"


def test_cli_pdf_in_chinese_for_the_latest_month_end(book, tmp_path, capsys):
    out = tmp_path / "pack.pdf"
    assert board_pack(book, "--lang", "zh", "--out", str(out)) == 0
    assert "board pack for 2024-03-31 (pdf, zh," in capsys.readouterr().out
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    assert len(reader.pages) > 1
    text = "".join(p.extract_text() for p in reader.pages)
    assert "催收董事会报告：2024-03-31 月末" in text


@pytest.mark.parametrize(("args", "message"), [
    (["--as-of", "2024-02-30"], "portal: --as-of 2024-02-30 is not a date (YYYY-MM-DD)"),
    (["--as-of", "2024-02-28"],
     "portal: --as-of 2024-02-28 is not a month-end in the data (month-ends 2024-01-31 to 2024-03-31)"),
    (["--product", "mortgage"], "portal: --product mortgage is not one of cash_loan, instalment, credit_line"),
])
def test_cli_bad_input_is_one_line_and_exit_2(book, tmp_path, capsys, args, message):
    out = tmp_path / "pack.pdf"
    assert board_pack(book, *args, "--out", str(out)) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n"
    assert captured.out == ""
    assert not out.exists()


def test_cli_refuses_a_missing_folder_before_building(book, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "pack.pdf"
    assert board_pack(book, "--out", str(out)) == 2
    assert capsys.readouterr().err == f"portal: cannot write {out}: no folder {out.parent}\n"


def test_cli_on_an_empty_database(tmp_db, tmp_path, capsys):
    assert board_pack(tmp_db, "--out", str(tmp_path / "pack.pdf")) == 2
    assert capsys.readouterr().err == "portal: the database holds no month-end snapshot: load snapshots first\n"


def test_board_pack_as_a_real_subprocess(book, tmp_path):
    out = tmp_path / "board pack.pdf"
    db.close(book)  # the subprocess opens the database itself
    proc = subprocess.run(
        [sys.executable, "-m", "portal", "--db", str(book), "report", "board-pack", "--as-of", "2024-02-29",
         "--format", "pdf", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("board pack for 2024-02-29 (pdf, en, ")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 1
    assert reader.metadata.title == "Collections board pack: month-end 2024-02-29"
    assert [o.title for o in reader.outline][:4] == ["Period and filters", "Key indicators", "KPI alerts", "Delinquency"]
    bad = subprocess.run(
        [sys.executable, "-m", "portal", "--db", str(book), "report", "board-pack", "--as-of", "soon",
         "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert (bad.returncode, bad.stderr) == (2, "portal: --as-of soon is not a date (YYYY-MM-DD)\n")


def test_every_character_of_a_chinese_pack_has_a_glyph(book):
    """fpdf2 embeds the glyph of each character from DejaVu Sans or, failing that, WenQuanYi Micro Hei:
    a character in neither would print as an empty box."""
    from fontTools.ttLib import TTFont

    covered = set(TTFont(fonts.CJK, lazy=True).getBestCmap()) | set(TTFont(fonts.latin(), lazy=True).getBestCmap())
    doc = report.assemble(report.context(dt.date(2024, 2, 29), {"region": ["east"]}, lang="zh", db_path=book))
    texts = [doc.title, doc.subtitle, doc.generated]
    for section in doc.sections:
        texts += [section.title, section.scope_note or ""]
        for block in document.flat_blocks(section.blocks):
            if isinstance(block, document.Table):
                texts += [c.label for c in block.columns] + [cell for row in block.rows for cell in row]
            elif isinstance(block, document.Note):
                texts.append(block.text)
            else:
                texts.append(block.spec.title)
    chars = {ch for text in texts for ch in text if not ch.isspace()}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chars)
    assert not {ch for ch in chars if ord(ch) not in covered}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_first_page_renders_in_colour(book, tmp_path, lang):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils) is not installed: scripts/test.sh installs it")
    from PIL import Image

    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(report.build(dt.date(2024, 2, 29), lang=lang, db_path=book))
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=300)
    pixels = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")).astype(int)
    height, width, _ = pixels.shape
    assert width > height, "A4 landscape"
    chart = pixels[height // 2:, width // 2:]  # page 1's lower right: the overdue-by-bucket bars beside the tiles
    colourful = int(((chart.max(axis=2) - chart.min(axis=2)) > 80).sum())
    assert colourful > 0.03 * chart.shape[0] * chart.shape[1], "the chart on page 1 is drawn in colour"
