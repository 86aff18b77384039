"""Concurrency check: simulated users run the Overview page's queries while a large contacts load runs.

    python -m bench.concurrency --db data/bench/bench_100000.duckdb [--threads 20] [--rows 1000000]

The database is copied first (the original is not touched). Phase 1 measures the users alone. Phase 2
runs the same users while `portal.ingest.load_file` loads ROWS new contacts. A watcher keeps counting
contacts during the load: every count must be the count before or the count after, never a partial
load. Prints errors (must be 0), p50/p95 latency of both phases and the ratio, and whether the load
landed whole.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import portal.startup  # noqa: F401 (registers the data layer's hooks)
from bench.run import contacts_file, sample_params
from portal import db

PAGE_QUERIES = ("month_ends", "filter_options", "overview_kpis", "delinquency_buckets")


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)] if ordered else float("nan")


def users(database: Path, threads: int, stop: threading.Event, rounds: int | None) -> tuple[list, list]:
    """Run `threads` simulated users until stop is set (or each has done `rounds` page views)."""
    params = {name: sample_params(name, database) for name in PAGE_QUERIES}
    latencies: list[tuple[str, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(index: int) -> None:
        done = 0
        while not stop.is_set() and (rounds is None or done < rounds):
            for name in PAGE_QUERIES:
                started = time.perf_counter()
                try:
                    db.query(name, db=database, **params[name])
                except Exception as exc:  # noqa: BLE001  (every failure is a finding)
                    with lock:
                        errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:150]}")
                    continue
                with lock:
                    latencies.append((name, time.perf_counter() - started))
            done += 1

    pool = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors


def summarise(latencies: list[tuple[str, float]]) -> dict:
    """p50 and p95 seconds, overall and per query."""
    out = {"all": (statistics.median([s for _, s in latencies]), p95([s for _, s in latencies]), len(latencies))}
    for name in PAGE_QUERIES:
        values = [s for n, s in latencies if n == name]
        if values:
            out[name] = (statistics.median(values), p95(values), len(values))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run both phases and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a benchmark database (copied, not changed)")
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--idle-rounds", type=int, default=3, help="page views per user in the idle phase")
    parser.add_argument("--workdir", default="bench/out")
    args = parser.parse_args(argv)
    from portal import ingest

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    source = Path(args.db)
    upload = contacts_file(source, workdir / f"concurrency_contacts_{args.rows}.parquet", args.rows)
    db.close(source)
    database = workdir / "concurrency.duckdb"
    shutil.copy(source, database)
    before = db.table_counts(db=database)["contacts"]

    idle, idle_errors = users(database, args.threads, threading.Event(), args.idle_rounds)

    stop = threading.Event()
    seen: set[int] = set()
    outcome: dict = {}

    def load() -> None:
        started = time.perf_counter()
        try:
            outcome["result"] = ingest.load_file("contacts", upload, db=database, uploaded_by="bench")
        except Exception as exc:  # noqa: BLE001
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        outcome["seconds"] = time.perf_counter() - started
        stop.set()

    def watch() -> None:
        while not stop.is_set():
            seen.add(db.scalar("select count(*) from contacts", db=database))
            time.sleep(0.2)

    loader = threading.Thread(target=load, daemon=True)
    watcher = threading.Thread(target=watch, daemon=True)
    loader.start()
    watcher.start()
    busy, busy_errors = users(database, args.threads, stop, None)
    loader.join()
    watcher.join()
    after = db.table_counts(db=database)["contacts"]
    db.close(database)
    database.unlink()

    quiet, loaded = summarise(idle), summarise(busy)
    print(f"{args.threads} users on {source.name} ({before:,} contacts); load of {args.rows:,} contacts "
          f"took {outcome.get('seconds', float('nan')):.1f} s")
    print("| query | idle p50 s | idle p95 s | loaded p50 s | loaded p95 s | p95 ratio | runs idle/loaded |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for key in ("all", *PAGE_QUERIES):
        if key in quiet and key in loaded:
            (a50, a95, an), (b50, b95, bn) = quiet[key], loaded[key]
            print(f"| {key} | {a50:.3f} | {a95:.3f} | {b50:.3f} | {b95:.3f} | {b95 / a95:.2f} | {an}/{bn} |")
    errors = idle_errors + busy_errors + ([outcome["error"]] if "error" in outcome else [])
    result = outcome.get("result")
    whole = result is not None and after - before == result.accepted == args.rows and seen <= {before, after}
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    print(f"load landed whole: {whole} (before {before:,}, after {after:,}, counts seen during the load: "
          f"{sorted(seen)})")
    return 0 if not errors and whole else 1


if __name__ == "__main__":
    sys.exit(main())
