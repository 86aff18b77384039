"""Time the board pack: its queries per section, the layout, the HTML, the PDF's charts, fonts and file.

    python -m bench.bench_report --workdir data/bench --loans 1000000 [--repeat 3] [--langs en,zh]
    python -m bench.bench_report --db data/portal.duckdb            # any database, e.g. the demo

With --loans, the book is WORKDIR/bench_N.duckdb, the one `python -m bench.run` builds (synthesised and
its derived tables built when missing, reused otherwise). The month-end is the latest in the data, with
no filters, as `portal report board-pack` makes it from cron. Synthetic books hold no improvement
action, so the cost of one measured action (action_effect_inputs for the busiest agency, then
improvement.measure_action) is timed on its own: a pack pays it once per action.

Each step is timed `--repeat` times on one warm connection (the first run also on its own, cold), and the
peak RSS of the whole run is reported. Results go to WORKDIR/report_N.json (or beside --db) and a markdown
table on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import time
from pathlib import Path

from portal import db, improvement, report
from portal.report import pdf, static
from portal.report.sections import SECTIONS

CHART_MM = (133.0, 78.0)


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    """(first run s, median of the repeat runs after it s, last result)."""
    started = time.perf_counter()
    result = fn()
    first = time.perf_counter() - started
    runs = []
    for _ in range(max(repeat - 1, 0)):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return first, (statistics.median(runs) if runs else first), result


def _rss_peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _busiest_agency(path: Path) -> str | None:
    return db.scalar("select agency_id from contacts where agency_id is not null group by agency_id"
                     " order by count(*) desc, agency_id limit 1", db=path)


def bench(path: Path, repeat: int, langs: list[str]) -> dict:
    """Time every step of the pack on one database; returns the rows of the report."""
    rows: list[dict] = []

    def add(step: str, first: float, median: float, note: str = "") -> None:
        rows.append({"step": step, "first_s": round(first, 3), "median_s": round(median, 3), "note": note})
        print(f"  {step:<38} first {first:7.2f} s   median {median:7.2f} s  {note}", file=sys.stderr, flush=True)

    first, median, ctx = _timed(lambda: report.context(None, {}, db_path=path), repeat)
    add("context (month-ends)", first, median, f"as of {ctx.as_of}")
    for section in SECTIONS:
        # a fresh context each time: its per-pack query memo would make repeats free
        def gather(s=section):
            return s.gather(report.context(ctx.as_of, {}, db_path=path, generated_at=ctx.generated_at))

        first, median, data = _timed(gather, repeat)
        add(f"queries: {section.key}", first, median, ", ".join(section.queries))
    fresh = report.context(ctx.as_of, {}, db_path=path, generated_at=ctx.generated_at)
    first, median, doc = _timed(lambda: report.assemble(fresh), repeat)
    add("assemble (queries memoised + layout)", first, median, f"{len(doc.tables())} tables, {len(doc.charts())} charts")
    agency = _busiest_agency(path)
    if agency:
        action = {"action_id": "IA-BENCH", "start_on": ctx.month_start.replace(day=1) - dt.timedelta(days=90),
                  "target_kpi": "cure_rate", "segment_kind": "agency", "segment_value": agency}

        def measure():
            inputs = db.query("action_effect_inputs", db=path, segment_kind="agency", segment_value=agency,
                              end=ctx.month_stop)
            return improvement.measure_action(action, inputs=inputs)

        first, median, _ = _timed(measure, repeat)
        add("one improvement action measured", first, median, f"agency {agency}; the pack pays this per action")
    for lang in langs:
        doc = report.assemble(report.context(ctx.as_of, {}, lang=lang, db_path=path, generated_at=ctx.generated_at))
        first, median, page = _timed(lambda d=doc: report.render(d, "html"), repeat)
        add(f"html render ({lang})", first, median, f"{len(page) / 2**20:.1f} MiB")
        first, median, _ = _timed(lambda d=doc: [static.png(s, *CHART_MM) for s in d.charts()], repeat)
        add(f"pdf charts, matplotlib ({lang})", first, median, f"{len(doc.charts())} charts")
        first, median, _ = _timed(lambda d=doc: pdf._Pack(d), repeat)
        add(f"pdf fonts loaded ({lang})", first, median, "DejaVu Sans x2, WenQuanYi Micro Hei")
        first, median, data = _timed(lambda d=doc: report.render(d, "pdf"), repeat)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
        add(f"pdf render, all of it ({lang})", first, median, f"{len(data) / 2**20:.2f} MiB, {pages} pages")
        first, median, _ = _timed(lambda la=lang: report.build(ctx.as_of, {}, fmt="pdf", lang=la, db_path=path),
                                  repeat)
        add(f"end to end: build pdf ({lang})", first, median, "what the button and the CLI run")
    return {"db": str(path), "as_of": ctx.as_of.isoformat(), "loans": db.table_counts(db=path).get("loans"),
            "rows": rows, "rss_peak_mib": round(_rss_peak_mib())}


def markdown(result: dict) -> str:
    """The result as a markdown table."""
    lines = [f"Board pack on {result['db']} ({result['loans']:,} loans), month-end {result['as_of']}; "
             f"peak RSS {result['rss_peak_mib']:,} MiB", "", "| step | first (s) | median (s) | note |",
             "|---|---:|---:|---|"]
    lines += [f"| {r['step']} | {r['first_s']:.2f} | {r['median_s']:.2f} | {r['note']} |" for r in result["rows"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_report", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--db", default=None, help="time the pack on this database")
    source.add_argument("--loans", type=int, default=1_000_000, help="size of the bench book (default 1,000,000)")
    parser.add_argument("--workdir", default="data/bench", help="where bench books live (default data/bench)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--langs", default="en,zh")
    args = parser.parse_args(argv)
    if args.db:
        path = Path(args.db)
        out = path.with_name(f"report_{path.stem}.json")
    else:
        from bench.run import ensure_db

        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        path, _, _ = ensure_db(workdir, args.loans)
        out = workdir / f"report_{args.loans}.json"
    result = bench(path, args.repeat, [x for x in args.langs.split(",") if x])
    out.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    print(f"\n(results in {out})", file=sys.stderr)
    db.close(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
