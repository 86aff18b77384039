"""The board pack benchmark runs end to end on the hand-built book (the figures mean nothing at this
size; the lead runs it on the 1,000,000-loan bench book)."""

from __future__ import annotations

import json

from bench import bench_report
from portal.report.sections import SECTIONS
from tests.fixtures_dashboards import build


def test_bench_report_times_every_step(tmp_db, capsys):
    book = build(tmp_db)
    assert bench_report.main(["--db", str(book), "--repeat", "1", "--langs", "en"]) == 0
    table = capsys.readouterr().out
    result = json.loads(book.with_name(f"report_{book.stem}.json").read_text())
    steps = [r["step"] for r in result["rows"]]
    assert steps[0] == "context (month-ends)"
    assert [s for s in steps if s.startswith("queries: ")] == [f"queries: {s.key}" for s in SECTIONS]
    assert {"pdf charts, matplotlib (en)", "pdf fonts loaded (en)", "pdf render, all of it (en)",
            "end to end: build pdf (en)", "html render (en)", "one improvement action measured"} <= set(steps)
    assert all(r["median_s"] > 0 for r in result["rows"])
    pdf_row = next(r for r in result["rows"] if r["step"] == "pdf render, all of it (en)")
    assert pdf_row["note"].endswith("pages") and not pdf_row["note"].endswith(" 0 pages")
    assert result["as_of"] == "2024-03-31" and result["loans"] == 6
    assert "| end to end: build pdf (en) |" in table
