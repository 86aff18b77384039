"""Benchmark suite: named queries, page renders and a 1,000,000-contact load at several book sizes.

    python -m bench.run --sizes 100000,1000000 [--repeat 5] [--workdir bench/out]

Databases are synthetic books of N loans x 12 month-ends, 20 contacts and 2 payments per loan, made
directly in DuckDB SQL by `bench.bench_dashboards.synthesise` (deterministic hashes; minutes even at
5,000,000 loans, where the pandas-based demo generator would need tens of GiB), built once per size and
reused. After the base tables, the derived tables (portal/derived.py: rollups and per-payment / per-ptp
/ policy facts) are built and timed separately: that is the one-off cost a bulk history load pays. For each named query: the first run on a fresh connection (DuckDB's buffer cache empty, the OS
page cache not), the median of `--repeat` warm runs, peak RSS, and the ratio to a bare DuckDB scan of the
columns it reads. delinquency_buckets and roll_rates are also timed as pandas implementations. Results
go to WORKDIR/results_SIZE.json and a markdown report on stdout (growth table included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd

import portal.startup  # noqa: F401 (registers the data layer's hooks)
from portal import db, derived

CONTACTS_PER_LOAN = 20
PAGES = ("overview", "channels", "conduct", "improvement")
SUPER_LINEAR = 1.15  # growth exponent above which a cost is flagged (1.0 = linear)
SCAN_TABLES = ("loans", "snapshots", "contacts", "payments", "complaints", "customers")
# the drill-down queries are timed as a page runs them: the first 5,000 rows and one more
DRILL_DOWNS = ("bucket_loans", "roll_rate_loans", "funnel_stage_loans", "channel_contacts", "collector_contacts")
DRILL_DOWN_ROWS = 5_001
# Parameters beyond the required ones, where the default is not the case a page pays for: the forecast
# at its longest horizon (6 month-ends ahead, 500 simulated paths each) and the backtest three months ahead
# (the Delinquency page also runs it one month ahead, which is cheaper).
QUERY_PARAMS = {"roll_forecast": {"horizon": "6", "k": "6"}, "roll_forecast_backtest": {"horizon": "3", "k": "6"}}


def rss_reset() -> None:
    """Reset this process's peak RSS (Linux: writing 5 to clear_refs), so the next peak is per step."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def rss_peak_mib() -> float:
    """Peak resident memory since the last reset, in MiB, from /proc/self/status (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds taken by fn() and its result."""
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def machine() -> dict:
    """CPU model, cores and memory of this machine."""
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines()
            if line.startswith("Model name"))
    except StopIteration:
        pass
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return {"cpu": model, "cores": os.cpu_count(), "mem_gib": round(mem / 2**20, 1),
            "python": platform.python_version(), "duckdb": metadata.version("duckdb"),
            "pandas": pd.__version__, "load_avg": os.getloadavg()[0]}


def ensure_db(workdir: Path, loans: int) -> tuple[Path, float | None, dict[str, float]]:
    """The benchmark database for this size, built when missing.

    Returns (path, seconds to synthesise the base tables or None when reused, seconds per derived table
    rebuilt now: empty when they were already fresh).
    """
    from bench.bench_dashboards import synthesise

    path = workdir / f"bench_{loans}.duckdb"
    seconds = None
    if not path.exists():
        seconds, _ = timed(lambda: synthesise(path, loans, contacts_per_loan=CONTACTS_PER_LOAN))
    derived_s = {}
    cur = db.cursor(path)
    try:
        todo = derived.stale(cur)
    finally:
        cur.close()
    for name in todo:
        derived_s[name], _ = timed(lambda n=name: derived.ensure_fresh([n], db=path))
        print(f"  derived {name:<26} built in {derived_s[name]:7.1f}s", file=sys.stderr, flush=True)
    db.checkpoint(db=path)
    db.close(path)
    return path, seconds, derived_s


def sample_params(name: str, database: Path) -> dict | None:
    """Representative parameters for a named query (None when a required one has no sample)."""
    last = db.scalar("select max(as_of) from snapshots", db=database)
    as_of = db.scalar("select last_day($d::date - interval 1 month)", {"d": last}, db=database)
    samples = {
        "as_of": as_of, "start": (last - dt.timedelta(days=182)).replace(day=1), "end": last + dt.timedelta(days=1),
        "pack": "cn", "complaint_id": db.scalar("select min(complaint_id) from complaints", db=database),
        # contact_check: one loan, checked an hour after the newest contact (a dialer asks about "now")
        "loan_id": db.scalar("select min(loan_id) from loans", db=database),
        "at": db.scalar("select max(contact_at) + interval 1 hour from contacts", db=database),
        # drill-downs: a bucket, a roll-rate cell and a collector with rows, fetched as the page does
        "bucket": "M1", "from_bucket": "M1", "to_bucket": "M2", "row_limit": DRILL_DOWN_ROWS,
        "collector_id": db.scalar("select min(agent_id) from contacts", db=database),
    }
    out = {}
    for pname, spec in db.get_query(name).params.items():
        if pname in samples and (spec.required or pname in ("start", "end")
                                 or pname == "row_limit" and name in DRILL_DOWNS):
            out[pname] = samples[pname]
        elif spec.required and spec.choices:
            out[pname] = spec.choices[0]
        elif spec.required:
            return None
    return {**out, **QUERY_PARAMS.get(name, {})}


def scan_sql(name: str) -> list[str]:
    """Bare scans of the columns a named query mentions, in the uploaded and the derived tables it reads
    (names from information_schema): the floor for reading what the query reads."""
    text = db.get_query(name).sql.lower()
    words = set(re.findall(r"[a-z_][a-z0-9_]*", text))
    statements = []
    for table in (*SCAN_TABLES, *sorted(derived.tables())):
        if table not in words:
            continue
        columns = db.read("select column_name from information_schema.columns where table_name = $t",
                          {"t": table})["column_name"]
        used = [c for c in columns if c in words and c != "upload_id"]
        if used:
            # hash() forces every value to be read; count(col) on a NOT NULL column comes from metadata.
            aggregates = ", ".join(f"sum(hash({c}))" for c in used)
            statements.append(f"select {aggregates} from {table}")  # noqa: S608 (catalog names)
    return statements


def bench_queries(database: Path, repeat: int, only: set[str] | None = None) -> list[dict]:
    """Time every named query (or those in `only`): cold run, median warm run, peak RSS, ratio to a bare scan."""
    os.environ["PORTAL_DB"] = str(database)
    rows = []
    for name in sorted(only or db.named_queries()):
        params = sample_params(name, database)
        if params is None:
            rows.append({"query": name, "skipped": "no sample for a required parameter"})
            continue
        db.close(database)
        rss_reset()
        try:
            cold, frame = timed(lambda n=name, p=params: db.query(n, db=database, **p))
        except db.PortalDBError as exc:
            rows.append({"query": name, "skipped": str(exc)[:200]})
            continue
        peak = rss_peak_mib()
        warm = [timed(lambda n=name, p=params: db.query(n, db=database, **p))[0] for _ in range(repeat)]
        scans = scan_sql(name)
        scan_times = []
        for _ in range(3):
            total = 0.0
            for sql in scans:
                total += timed(lambda s=sql: db.read(s, db=database))[0]
            scan_times.append(total)
        scan = statistics.median(scan_times) if scans else float("nan")
        median = statistics.median(warm)
        rows.append({"query": name, "rows": len(frame), "cold_s": cold, "median_s": median,
                     "peak_rss_mib": peak, "scan_s": scan, "x_scan": median / scan if scan else None,
                     "params": {k: str(v) for k, v in params.items()}})
        print(f"  {name:<28} cold {cold:7.3f}s  median {median:7.3f}s  scan {scan:6.3f}s  "
              f"rss {peak:7.0f} MiB", file=sys.stderr, flush=True)
    return rows


def pandas_buckets(snap: pd.DataFrame) -> pd.DataFrame:
    """delinquency_buckets in pandas (no filters)."""
    bins = [-1, 0, 30, 60, 90, 120, 150, 180, math.inf]
    labels = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"]
    bucket = pd.cut(snap["dpd"], bins=bins, labels=labels).astype(str)
    out = snap.assign(bucket=bucket).groupby(["as_of", "bucket"], as_index=False).agg(
        loans=("loan_id", "size"), outstanding=("outstanding_principal", "sum"),
        overdue_amount=("overdue_amount", "sum"))
    return out.sort_values(["as_of", "bucket"], ignore_index=True)


def pandas_roll_rates(snap: pd.DataFrame) -> pd.DataFrame:
    """roll_rates in pandas (no filters)."""
    bins = [-1, 0, 30, 60, 90, 120, 150, 180, math.inf]
    labels = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"]
    frame = snap[["loan_id", "as_of", "dpd"]].assign(
        bucket=pd.cut(snap["dpd"], bins=bins, labels=labels).astype(str))
    months = sorted(frame["as_of"].unique())
    nxt = {m: (pd.Timestamp(m) + pd.offsets.MonthEnd(1)) for m in months}
    pairs = {pd.Timestamp(m): nxt[m] for m in months if nxt[m] in set(pd.to_datetime(months))}
    left = frame[frame["as_of"].isin(list(pairs))].assign(next_as_of=lambda f: f["as_of"].map(pairs))
    right = frame.rename(columns={"as_of": "next_as_of", "bucket": "to_bucket"})[["loan_id", "next_as_of", "to_bucket"]]
    joined = left.merge(right, on=["loan_id", "next_as_of"], how="left")
    joined["to_bucket"] = joined["to_bucket"].fillna("closed")
    counted = joined.groupby(["as_of", "bucket", "to_bucket"], as_index=False).size().rename(
        columns={"bucket": "from_bucket", "size": "loans"})
    counted["share"] = counted["loans"] / counted.groupby(["as_of", "from_bucket"])["loans"].transform("sum")
    return counted.sort_values(["as_of", "from_bucket", "to_bucket"], ignore_index=True)


def bench_pandas(database: Path, repeat: int, duck: dict[str, float]) -> list[dict]:
    """pandas versions of delinquency_buckets and roll_rates: load time, median compute, same answer."""
    rss_reset()
    load_s, snap = timed(lambda: db.read(
        "select loan_id, as_of, dpd, outstanding_principal::double as outstanding_principal, "
        "overdue_amount::double as overdue_amount from snapshots", db=database))
    out = []
    for name, fn in (("delinquency_buckets", pandas_buckets), ("roll_rates", pandas_roll_rates)):
        rss_reset()
        times, result = [], None
        for _ in range(max(1, repeat)):
            seconds, result = timed(lambda f=fn: f(snap))
            times.append(seconds)
        peak = rss_peak_mib()
        expected = db.query(name, db=database)
        same = len(result) == len(expected) and int(result["loans"].sum()) == int(expected["loans"].sum())
        median = statistics.median(times)
        out.append({"query": name, "pandas_load_s": load_s, "pandas_median_s": median, "peak_rss_mib": peak,
                    "same_answer": bool(same), "x_duckdb": median / duck[name] if duck.get(name) else None})
        print(f"  pandas {name:<21} load {load_s:6.3f}s  compute {median:7.3f}s  same={same}",
              file=sys.stderr, flush=True)
    return out


def bench_pages(database: Path, page_timeout: float = 300, pages: tuple[str, ...] = PAGES) -> list[dict]:
    """Full renders of the Overview, Channels, Conduct and Improvement pages through AppTest.

    Times the first render, a warm rerun, a filter change (product, on the pages that have that filter)
    and a period change (the sidebar's date range narrowed to its last three months, on every page).
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from portal import navigation
    from portal.auth_types import User

    app = str(Path(navigation.__file__).parent / "streamlit_app.py")
    os.environ["PORTAL_DB"] = str(database)
    out = []
    for page in pages:
        script = Path(navigation.__file__).parent / "app_pages" / f"{page}.py"
        if not script.exists():
            continue
        st.cache_data.clear()
        db.close(database)
        at = AppTest.from_file(app, default_timeout=page_timeout)
        at.session_state["user"] = User("bench", "admin", "Benchmark")
        at.session_state["lang"] = "en"
        at.run()
        rss_reset()
        warm = filtered = period = None
        try:
            first, _ = timed(lambda a=at, s=script: a.switch_page(f"app_pages/{s.name}").run())
            warm, _ = timed(lambda a=at: a.run())
            if any(w.key == "flt_product" for w in at.multiselect):
                widget = at.multiselect(key="flt_product")
                filtered, _ = timed(lambda a=at, w=widget: w.set_value(["instalment"]).run())
            dates = at.date_input(key="flt_dates")
            lo, hi = dates.value
            narrowed = (max(lo, hi - dt.timedelta(days=92)), hi)
            period, _ = timed(lambda a=at, w=dates, v=narrowed: w.set_value(v).run())
        except KeyError:
            pass
        except RuntimeError as exc:  # AppTest's timeout
            first = float("nan")
            errors = [f"did not finish within {page_timeout} s: {exc}"[:200]]
        else:
            errors = [str(e.value)[:200] for e in at.exception]
        peak = rss_peak_mib()
        out.append({"page": page, "first_s": first, "warm_s": warm, "filter_change_s": filtered,
                    "period_change_s": period, "peak_rss_mib": peak, "errors": errors})
        print(f"  page {page:<10} first {first:6.2f}s  warm {warm}s  filter {filtered}s  period {period}s  "
              f"errors {errors}", file=sys.stderr, flush=True)
    return out


def contacts_file(source: Path, out: Path, rows: int) -> Path:
    """A Parquet upload of `rows` new contacts: copies of the book's latest contacts under new ids.

    This is what a daily or weekly contact-log upload looks like (1,000,000 contacts is about 18 days
    of a 1M-loan book): new rows on existing loans, in the most recent days. Their times are kept (not
    moved forward), so none falls in the future and is rejected.
    """
    db.read(
        "copy (select 'BK' || lpad((row_number() over (order by contact_at, contact_id))::varchar, 9, '0') "
        "as contact_id, loan_id, strftime(contact_at at time zone 'Asia/Shanghai', '%Y-%m-%dT%H:%M:%S+08:00') "
        "as contact_at, channel, party, outcome, agent_id, agency_id, strategy, ptp_amount, ptp_due_on, cost, "
        "collectors, duration_s from (select * from contacts order by contact_at desc limit $n)) "
        "to $path (format parquet)",
        {"n": rows, "path": str(out)}, db=source)
    return out


def bench_load(workdir: Path, source: Path, rows: int) -> dict | None:
    """`portal load contacts` of `rows` rows into a copy of the source book, via portal.ingest.load_file."""
    try:
        from portal import ingest
    except ImportError:
        return None
    upload = contacts_file(source, workdir / f"contacts_{rows}.parquet", rows)
    target = workdir / f"load_target_{source.stem}.duckdb"
    db.close(source)
    shutil.copy(source, target)
    before = db.table_counts(db=target)["contacts"]
    rss_reset()
    seconds, result = timed(lambda: ingest.load_file("contacts", upload, db=target, uploaded_by="bench"))
    peak = rss_peak_mib()
    after = db.table_counts(db=target)["contacts"]
    db.close(target)
    target.unlink()
    row = {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mib": peak,
           "accepted": result.accepted, "rejected": result.rejected, "landed": after - before,
           "status": result.status}
    print(f"  load {rows:,} contacts: {seconds:.1f}s, accepted {result.accepted:,}, landed {after - before:,}",
          file=sys.stderr, flush=True)
    return row


def growth(results: dict) -> list[dict]:
    """Per item, time at each size and the growth exponent between consecutive sizes (1 = linear)."""
    sizes = sorted(int(s) for s in results["sizes"])
    items: dict[str, dict[int, float]] = {}
    for size in sizes:
        block = results["sizes"][str(size)]
        for row in block["queries"]:
            if "median_s" in row:
                items.setdefault(f"query {row['query']}", {})[size] = row["median_s"]
        for row in block.get("pages", []):
            items.setdefault(f"page {row['page']} (first)", {})[size] = row["first_s"]
    out = []
    for item, by_size in items.items():
        exponents = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            if a in by_size and b in by_size and by_size[a] > 0.005:
                exponents.append(math.log(by_size[b] / by_size[a]) / math.log(b / a))
        worst = max(exponents) if exponents else None
        out.append({"item": item, "seconds": by_size, "exponent": worst,
                    "super_linear": worst is not None and worst > SUPER_LINEAR})
    return out


def report(results: dict) -> str:
    """The results as markdown tables."""
    sizes = sorted(int(s) for s in results["sizes"])
    lines = [f"Machine: {results['machine']}", ""]
    for size in sizes:
        block = results["sizes"][str(size)]
        lines += [f"### {size:,} loans ({block['counts']}; {block['mib']} MiB; "
                  f"median of {block.get('repeat', '?')} warm runs)", ""]
        if block.get("build_s"):
            lines += [f"Synthesised base tables in {block['build_s']:.0f} s.", ""]
        if block.get("derived_s"):
            lines += ["Derived tables built from scratch (the one-off cost of a bulk history load): "
                      + ", ".join(f"{k} {v:.1f} s" for k, v in block["derived_s"].items())
                      + f"; total {sum(block['derived_s'].values()):.1f} s.", ""]
        lines += ["| query | rows | cold s | median s | peak RSS MiB | bare scan s | x scan |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in block["queries"]:
            if "skipped" in r:
                lines.append(f"| {r['query']} | skipped: {r['skipped']} | | | | | |")
                continue
            x = f"{r['x_scan']:.1f}" if r.get("x_scan") else ""
            lines.append(f"| {r['query']} | {r['rows']} | {r['cold_s']:.3f} | {r['median_s']:.3f} | "
                         f"{r['peak_rss_mib']:.0f} | {r['scan_s']:.3f} | {x} |")
        lines.append("")
        if block.get("pandas"):
            lines += ["| pandas | load s | compute s | x DuckDB | peak RSS MiB | same answer |",
                      "|---|---:|---:|---:|---:|---|"]
            for r in block["pandas"]:
                lines.append(f"| {r['query']} | {r['pandas_load_s']:.2f} | {r['pandas_median_s']:.3f} | "
                             f"{r['x_duckdb']:.1f} | {r['peak_rss_mib']:.0f} | {r['same_answer']} |")
            lines.append("")
        if block.get("pages"):
            lines += ["| page | first render s | warm rerun s | filter change s | period change s | peak RSS MiB "
                      "| errors |", "|---|---:|---:|---:|---:|---:|---|"]
            for r in block["pages"]:
                f, w, c = ("" if r.get(k) is None else f"{r[k]:.2f}"
                           for k in ("filter_change_s", "warm_s", "period_change_s"))
                lines.append(f"| {r['page']} | {r['first_s']:.2f} | {w} | {f} | {c} | "
                             f"{r['peak_rss_mib']:.0f} | {'; '.join(r['errors']) or 0} |")
            lines.append("")
        if block.get("load"):
            r = block["load"]
            lines += [f"Load of {r['rows']:,} contacts: {r['seconds']:.1f} s ({r['rows_per_s']:,.0f} rows/s), "
                      f"peak RSS {r['peak_rss_mib']:.0f} MiB, accepted {r['accepted']:,}, rejected "
                      f"{r['rejected']:,}, landed {r['landed']:,} ({r['status']})", ""]
    if len(sizes) > 1:
        lines += ["### Growth (median seconds by loans; exponent 1 = linear)", "",
                  "| item | " + " | ".join(f"{s:,}" for s in sizes) + " | exponent | flag |",
                  "|---|" + "---:|" * len(sizes) + "---:|---|"]
        for g in results["growth"]:
            cells = " | ".join(f"{g['seconds'].get(s, float('nan')):.3f}" for s in sizes)
            e = "" if g["exponent"] is None else f"{g['exponent']:.2f}"
            lines.append(f"| {g['item']} | {cells} | {e} | {'SUPER-LINEAR' if g['super_linear'] else ''} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the suite and print the markdown report."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated loan counts")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", default="bench/out")
    parser.add_argument("--load-rows", type=int, default=1_000_000, help="contacts in the load test (0 skips)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: queries,pandas,pages,load")
    parser.add_argument("--queries", default="", help="comma-separated query names (default: all)")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages to render")
    parser.add_argument("--report-only", action="store_true",
                        help="no runs: combine every WORKDIR/results_*.json into one report")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    if args.report_only:
        results = {"machine": None, "sizes": {}}
        for path in sorted(workdir.glob("results_*.json")):
            part = json.loads(path.read_text())
            results["machine"] = results["machine"] or part["machine"]
            results["sizes"].update(part["sizes"])
        results["growth"] = growth(results)
        print(report(results))
        return 0
    results: dict = {"machine": machine(), "repeat": args.repeat, "sizes": {}}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size:,} loans", file=sys.stderr, flush=True)
        previous_file = workdir / f"results_{size}.json"
        previous = (json.loads(previous_file.read_text())["sizes"].get(str(size), {})
                    if previous_file.exists() else {})
        path, build_s, derived_s = ensure_db(workdir, size)
        # derived tables rebuilt now (a new definition) replace their earlier figures; the rest are kept
        # (those of tables that no longer exist are dropped)
        if build_s is None:
            kept = {n: v for n, v in previous.get("derived_s", {}).items() if n in derived.tables()}
            derived_s = {**kept, **derived_s}
        block = {"db": str(path), "build_s": build_s, "derived_s": derived_s, "counts": db.table_counts(db=path),
                 "mib": round(path.stat().st_size / 2**20)}
        only = set(filter(None, args.queries.split(","))) or None
        block["queries"] = [] if "queries" in skip else bench_queries(path, args.repeat, only)
        duck = {r["query"]: r["median_s"] for r in block["queries"] if "median_s" in r}
        if "pandas" not in skip:
            block["pandas"] = bench_pandas(path, args.repeat, duck) if duck else []
        if "pages" not in skip:
            block["pages"] = bench_pages(path, pages=tuple(filter(None, args.pages.split(","))))
        if "load" not in skip and args.load_rows:
            block["load"] = bench_load(workdir, path, args.load_rows)
        db.close(path)
        if only and previous.get("queries"):
            # a run of some queries replaces their rows and keeps the others' from the previous run
            timed_now = {r["query"] for r in block["queries"]}
            block["queries"] = sorted([r for r in previous["queries"] if r["query"] not in timed_now]
                                      + block["queries"], key=lambda r: r["query"])
        # parts skipped this time keep their figures from the previous run of this size
        for part in ("queries", "pandas", "pages", "load", "build_s", "derived_s"):
            if not block.get(part) and previous.get(part):
                block[part] = previous[part]
        block["repeat"] = args.repeat if "queries" not in skip else previous.get("repeat", args.repeat)
        results["sizes"][str(size)] = block
        (workdir / f"results_{size}.json").write_text(
            json.dumps({"machine": results["machine"], "sizes": {str(size): block}}, indent=1, default=str))
    results["growth"] = growth(results)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
