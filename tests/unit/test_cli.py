"""The `portal` command as a user runs it: a real process over a real database file."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd

from portal import db


def portal(*args: str, db_path) -> subprocess.CompletedProcess:
    db.close(db_path)
    return subprocess.run([sys.executable, "-m", "portal", "--db", str(db_path), *args],
                          capture_output=True, text=True, timeout=120)


def test_roll_rates_csv_has_contract_columns_and_shares_sum_to_one(demo_db):
    proc = portal("query", "roll_rates", "--format", "csv", db_path=demo_db)
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(io.StringIO(proc.stdout))
    assert list(frame.columns) == ["as_of", "from_bucket", "to_bucket", "loans", "share"]
    sums = frame.groupby(["as_of", "from_bucket"])["share"].sum()
    assert ((sums - 1).abs() < 1e-9).all()
    assert "closed" in set(frame["to_bucket"])


def test_json_format_and_params(demo_db):
    proc = portal("query", "delinquency_buckets", "--param", "start=2026-10-01", "--format", "json",
                  db_path=demo_db)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["as_of"] for r in rows} == {"2026-10-31"}
    expected = db.query("delinquency_buckets", db=demo_db, start="2026-10-01")
    assert [r["loans"] for r in rows] == expected["loans"].tolist()


def test_unknown_query_and_bad_params_exit_2_with_one_line(demo_db):
    for args in (["query", "no_such"], ["query", "roll_rates", "--param", "start=2026-02-30"],
                 ["query", "roll_rates", "--param", "nonsense"], ["query", "roll_rates", "--param", "x=1"]):
        proc = portal(*args, db_path=demo_db)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("portal: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stdout == ""


def test_demo_command_is_deterministic(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    for path in (a, b):
        proc = subprocess.run([sys.executable, "-m", "portal", "--db", str(path), "demo", "--loans", "500",
                               "--seed", "9", "--end-month", "2026-10"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "loans 500" in proc.stdout
    out = [portal("query", "roll_rates", db_path=p).stdout for p in (a, b)]
    assert out[0] == out[1] and out[0].count("\n") > 10


def test_demo_end_month_pins_the_book_and_refuses_a_month_not_over(tmp_path):
    path = tmp_path / "pinned.duckdb"
    proc = subprocess.run([sys.executable, "-m", "portal", "--db", str(path), "demo", "--loans", "300",
                           "--end-month", "2025-06"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    months = pd.read_csv(io.StringIO(portal("query", "month_ends", db_path=path).stdout))["as_of"]
    assert (months.iloc[0], months.iloc[-1], len(months)) == ("2024-07-31", "2025-06-30", 12)
    for bad in ("2025-13", "June", "2999-01"):
        proc = subprocess.run([sys.executable, "-m", "portal", "--db", str(tmp_path / "x.duckdb"), "demo",
                               "--end-month", bad], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "--end-month" in proc.stderr, (bad, proc.stderr)
