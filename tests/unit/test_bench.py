"""The benchmark suite runs end to end on a tiny book, so the README command cannot rot unnoticed.

The figures at this size mean nothing; what is checked is that every part runs and reports: every
named query timed (or skipped with its reason), pandas agreeing with DuckDB, the four pages rendered
without errors, and a contacts upload landing whole.
"""

from __future__ import annotations

import json

from bench import run
from portal import db


def test_bench_run_end_to_end(tmp_path, capsys, monkeypatch):
    # the suite points PORTAL_DB at each book it times; monkeypatch puts the variable back afterwards
    monkeypatch.setenv("PORTAL_DB", str(tmp_path / "unused.duckdb"))
    assert run.main(["--sizes", "2000", "--repeat", "1", "--workdir", str(tmp_path), "--load-rows", "500"]) == 0
    report = capsys.readouterr().out
    block = json.loads((tmp_path / "results_2000.json").read_text())["sizes"]["2000"]

    assert block["counts"]["loans"] == 2000
    assert block["counts"]["contacts"] == 2000 * run.CONTACTS_PER_LOAN
    assert block["build_s"] > 0 and block["derived_s"], "a fresh book is synthesised and its derived tables built"

    timed = {r["query"] for r in block["queries"] if "median_s" in r}
    skipped = {r["query"]: r["skipped"] for r in block["queries"] if "skipped" in r}
    assert timed | set(skipped) == set(db.named_queries())
    assert set(skipped) <= {"action_effect_inputs", "quarantine_rows"}, skipped  # need an id the book lacks

    assert {r["query"]: r["same_answer"] for r in block["pandas"]} == {
        "delinquency_buckets": True, "roll_rates": True}

    pages = {r["page"]: r for r in block["pages"]}
    assert set(pages) == {"overview", "channels", "conduct", "improvement"}
    for page in pages.values():
        assert page["errors"] == [], page
        assert page["first_s"] > 0 and page["period_change_s"] > 0
    assert pages["channels"]["filter_change_s"] > 0 and pages["conduct"]["filter_change_s"] is None

    load = block["load"]
    assert (load["accepted"], load["rejected"]) == (500, 0)
    assert load["landed"] == 500
    assert "2,000 loans" in report and "| page |" in report
