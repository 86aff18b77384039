"""Drill-down benchmark: each drill-down named query on a synthetic book of N loans (the books of
bench.run: 12 month-ends, 20 contacts and 2 payments per loan), timed two ways:

- page: the first 5,001 rows, as a dashboard fetches them when a bar, cell, stage or row is picked;
- download: every row, as the CSV/XLSX download fetches them on click.

Each is checked against its figure (the rows listed equal the count the figure shows). Run
`python -m bench.bench_drilldown --loans 1000000 --workdir data/bench` (develop with the default 20,000);
`--out bench/RESULTS_drilldown.md` writes the report. Books are built once per size and reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

from portal import db

PAGE_ROWS = 5_001
# what each drill-down reads (from its SQL): a base table scan is the cost that grows with the book
READS = {
    "bucket_loans": "snapshots (one month-end), loans, customers",
    "roll_rate_loans": "snapshots (two month-ends), book_flows, loans, customers",
    "funnel_stage_loans": "delinquent_month_activity (derived), snapshots (one month-end), loans, customers",
    "channel_contacts": "contacts (the period), loans",
    "collector_contacts": "contacts (the period), loans",
    "policy_violation_details": "policy_breach_facts (derived)",
}


def cases(database: Path) -> list[tuple[str, dict, str, dict, str]]:
    """(drill-down, its parameters, the figure's query, its parameters, the figure's count column)."""
    last = db.scalar("select max(as_of) from snapshots", db=database)
    as_of = db.scalar("select last_day($d::date - interval 1 month)", {"d": last}, db=database)
    start, end = (last - dt.timedelta(days=182)).replace(day=1), last + dt.timedelta(days=1)
    agent = db.scalar("select min(agent_id) from contacts", db=database)
    month = {"start": as_of, "end": as_of + dt.timedelta(days=1)}
    period = {"start": start, "end": end}
    return [
        ("bucket_loans", {"as_of": as_of, "bucket": "M1"}, "delinquency_buckets", month, "loans"),
        ("roll_rate_loans", {"as_of": as_of - dt.timedelta(days=as_of.day), "from_bucket": "M1", "to_bucket": "M2"},
         "roll_rates", {"start": as_of - dt.timedelta(days=as_of.day), "end": as_of - dt.timedelta(days=as_of.day - 1)},
         "loans"),
        ("funnel_stage_loans", {"as_of": as_of, "stage": "reached"}, "delinquency_funnel", {"as_of": as_of}, "loans"),
        ("channel_contacts", {"channel": "phone", **period}, "channel_effectiveness", period, "attempts"),
        ("collector_contacts", {"by": "agent", "collector_id": agent, **period}, "collector_scorecard",
         {"by": "agent", **period}, "attempts"),
        ("policy_violation_details", {"pack": "cn", "rule": "quiet_hours", **period}, "policy_violations",
         {"pack": "cn", **period}, "violations"),
    ]


def _figure_count(database: Path, name: str, params: dict, column: str, drill: str, drill_params: dict) -> int:
    frame = db.query(name, db=database, **params)
    key = {"bucket_loans": ("bucket", drill_params.get("bucket")),
           "roll_rate_loans": None, "funnel_stage_loans": ("stage", drill_params.get("stage")),
           "channel_contacts": ("channel", drill_params.get("channel")),
           "collector_contacts": ("collector_id", drill_params.get("collector_id")),
           "policy_violation_details": ("rule", drill_params.get("rule"))}[drill]
    if key is None:
        frame = frame[(frame["from_bucket"] == drill_params["from_bucket"])
                      & (frame["to_bucket"] == drill_params["to_bucket"])]
    else:
        frame = frame[frame[key[0]] == key[1]]
    return int(frame[column].sum())


def _timed(fn) -> tuple[float, object]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def run(database: Path, repeat: int = 3) -> list[dict]:
    """Time every drill-down (page and download) and check its rows against its figure."""
    rows = []
    for drill, params, figure, figure_params, column in cases(database):
        db.close(database)
        cold, page = _timed(lambda d=drill, p=params: db.query(d, db=database, row_limit=PAGE_ROWS, **p))
        warm = [_timed(lambda d=drill, p=params: db.query(d, db=database, row_limit=PAGE_ROWS, **p))[0]
                for _ in range(repeat)]
        download_s, full = _timed(lambda d=drill, p=params: db.query(d, db=database, **p))
        count = _figure_count(database, figure, figure_params, column, drill, params)
        rows.append({"query": drill, "page_rows": len(page), "cold_s": cold, "page_s": statistics.median(warm),
                     "rows": len(full), "download_s": download_s, "figure_count": count,
                     "same_count": len(full) == count, "reads": READS[drill]})
        print(f"  {drill:<26} page {statistics.median(warm):7.3f}s (cold {cold:6.3f}s)  all {len(full):>9,} rows "
              f"{download_s:7.3f}s  figure {count:,}", file=sys.stderr, flush=True)
    return rows


def report(loans: int, rows: list[dict]) -> str:
    """A markdown table of the timings."""
    lines = [f"## Drill-downs, {loans:,} loans", "",
             "| drill-down | page: first 5,001 rows, warm (cold) | all rows | download: all rows | = figure | reads |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['query']} | {r['page_s']:.3f} s ({r['cold_s']:.3f} s) | {r['rows']:,} | "
                     f"{r['download_s']:.3f} s | {'yes' if r['same_count'] else 'NO'} | {r['reads']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.run import ensure_db

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=Path("data/bench"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="write the markdown report here")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    database, _, _ = ensure_db(args.workdir, args.loans)
    rows = run(database, args.repeat)
    db.close(database)
    text = report(args.loans, rows)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if all(r["same_count"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
