"""Pre-contact check benchmark: how fast a dialer gets its answer, on the bench book of bench/run.py.

    python -m bench.bench_contact_check --loans 1000000 [--workdir data/bench] [--threads 1,20]
        [--checks 2000] [--batch 100000] [--api 20] [--index]

The book is bench/run.py's (`ensure_db`: N loans x 20 contacts, 12 month-ends, built once and reused, so
`--workdir data/bench --loans 1000000` runs on data/bench/bench_1000000.duckdb). Timed, in-process:

- a single check, `portal.prevention.check` (what POST /api/v1/contact-check calls), from T threads at once,
  each its own stream of random loans, channels and parties at a random time in the day after the log's
  newest contact (a dialer checks "now"): latency p50 / p95 / p99 / max and throughput;
- the same through the named query (`db.query("contact_check")`, what `portal query` and the page use);
- a 100,000-row planned list through `check_file` (CSV in, checked frame out: read, validate, fetch the
  debtors' recent contacts, check in order) and the CSV writing of the result;
- with --api, the same single checks through POST /api/v1/contact-check of a real `portal serve` (each request
  on a new connection, C concurrent clients), the issue's second latency target;
- the reads that the check avoids, for scale: one debtor's contacts by a scan of the base contacts table
  (no index) against the derived contact_check_log (zone maps of customer_hash), and an ART index on
  contact_check_log(customer_hash) in its place (created, timed, dropped; `--index`).

Results go to bench/RESULTS_prevention.md (this run's section at the top). Targets (issue 17): single check
p99 <= 20 ms in-process, <= 50 ms through the API with 20 concurrent clients; 100,000 rows <= 10 s.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import portal.startup  # noqa: F401 (registers the data layer's hooks: packs synced, the check's SQL function)
from bench.run import ensure_db, machine
from portal import db, derived, export, prevention, taxonomy

HERE = Path(__file__).resolve().parent
CHANNEL_MIX = ["phone"] * 6 + ["sms"] * 2 + ["app", "visit", "letter", "social"]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by nearest rank (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered))) - 1))]


def sample(path: Path, n: int, seed: int) -> tuple[list[str], dt.datetime]:
    """n random loan ids of the book and the instant the dialer checks at (an hour after the newest contact)."""
    loans = db.read("select loan_id from contact_check_debtors order by hash(loan_id, $seed) limit $n",
                    {"n": n, "seed": seed}, db=path)["loan_id"].tolist()
    newest = db.scalar("select max(contact_at) from contacts", db=path)
    return loans, newest + dt.timedelta(hours=1)


def contacts(loans: list[str], start: dt.datetime, n: int, seed: int) -> list[dict]:
    """n planned contacts on random loans within 24 hours of start."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        channel = rng.choice(CHANNEL_MIX)
        at = start + dt.timedelta(seconds=rng.randrange(24 * 3600))
        out.append({"loan_id": rng.choice(loans), "channel": channel,
                    "party": "third_party" if rng.random() < 0.1 else "debtor", "at": at.isoformat(),
                    "collectors": 2 if channel == "visit" else None})
    return out


def single_checks(path: Path, work: list[dict], threads: int, named: bool) -> dict:
    """Each of `threads` threads checks its share of `work` one contact at a time; latencies in ms."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    shares = [work[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads)

    cpu: list[float] = []

    def run(share: list[dict]) -> None:
        mine = []
        barrier.wait()
        for c in share:
            began, cpu_began = time.perf_counter(), time.process_time()
            try:
                if named:
                    db.query("contact_check", db=path, loan_id=c["loan_id"], channel=c["channel"],
                             party=c["party"], at=c["at"], collectors=c["collectors"])
                else:
                    prevention.check(c, db=path)
            except Exception as exc:  # a bench counts failures instead of stopping at the first
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            mine.append((time.perf_counter() - began) * 1000)
            if threads == 1:  # the process's CPU (DuckDB's threads included) is this check's alone
                cpu.append((time.process_time() - cpu_began) * 1000)
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    pool = [threading.Thread(target=run, args=(s,)) for s in shares]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    wall = time.perf_counter() - began
    return {"checks": len(latencies), "p50": statistics.median(latencies), "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99), "max": max(latencies), "per_s": len(latencies) / wall,
            "cpu_ms": statistics.median(cpu) if cpu else None,
            "errors": len(errors), "first_error": errors[0] if errors else ""}


def batch(path: Path, loans: list[str], start: dt.datetime, rows: int) -> dict:
    """Check a planned list of `rows` rows from a CSV file; seconds per step."""
    folder = Path(tempfile.mkdtemp(prefix="bench_plan_"))
    plan = folder / "plan.csv"
    with plan.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["loan_id", "channel", "party", "planned_at", "collectors"])
        for c in contacts(loans, start, rows, seed=99):
            writer.writerow([c["loan_id"], c["channel"], c["party"], c["at"], c["collectors"] or ""])
    stages: dict[str, float] = {}
    last = [time.perf_counter(), "reading"]

    def progress(fraction: float, stage: str) -> None:
        now = time.perf_counter()
        if stage != last[1]:
            stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
            last[0], last[1] = now, stage

    began = time.perf_counter()
    checked = prevention.check_file(plan, db=path, progress=progress)
    check_s = time.perf_counter() - began
    began = time.perf_counter()
    (folder / "checked.csv").write_bytes(export.to_csv_bytes(prevention.text_frame(checked.frame)))
    write_s = time.perf_counter() - began
    return {"rows": rows, "check_s": check_s, "write_s": write_s, "stages": stages, **checked.counts}


def reads(path: Path, loans: list[str], with_index: bool, repeat: int = 50) -> list[tuple[str, float]]:
    """Median ms to read one debtor's contacts: base-table scan, derived table, derived table with an index."""
    customers = db.read("select loan_id, customer_id, customer_hash from contact_check_debtors "
                        "where list_contains($loans, loan_id)", {"loans": loans[:repeat]}, db=path)
    pairs = list(zip(customers["loan_id"], customers["customer_id"], customers["customer_hash"], strict=True))

    def median_ms(sql: str, args) -> float:
        times = []
        for params in args:
            began = time.perf_counter()
            db.read(sql, params, db=path)
            times.append((time.perf_counter() - began) * 1000)
        return statistics.median(times)

    out = [
        ("base contacts table, by loan_id (a scan of the whole log)",
         median_ms("select contact_at, channel, outcome from contacts where loan_id = $l",
                   [{"l": loan} for loan, _, _ in pairs[:10]])),
        ("contact_check_log by customer_hash (zone maps)",
         median_ms("select contact_at, kind from contact_check_log where customer_hash = $h and customer_id = $c",
                   [{"h": int(h), "c": c} for _, c, h in pairs])),
    ]
    if with_index:
        began = time.perf_counter()
        db.execute("create index bench_contact_check_log_hash on contact_check_log (customer_hash)", db=path)
        built = time.perf_counter() - began
        try:
            sql = "select contact_at, kind from contact_check_log where customer_hash = $h and customer_id = $c"
            explained = "\n".join(db.read("explain " + sql, {"h": int(pairs[0][2]), "c": pairs[0][1]}, db=path).iloc[:, 1])
            used = "an index scan" if "Index Scan" in explained else "a sequential scan: the index is not used"
            out.append((f"contact_check_log by customer_hash with an ART index (built in {built:.1f} s; the planner "
                        f"chose {used})", median_ms(sql, [{"h": int(h), "c": c} for _, c, h in pairs])))
        finally:
            db.execute("drop index bench_contact_check_log_hash", db=path)
    return out


def through_api(path: Path, work: list[dict], clients: int, log_path: Path) -> dict:
    """POST each contact of `work` from `clients` threads to a real `portal serve` over the book; ms."""
    import json
    import urllib.request

    from bench.bench_api import start_server, stop_server
    from portal import auth

    token = auth.create_token(f"bench_check_{int(time.time())}", "compliance", db=path)[1]
    db.close(path)
    proc, url = start_server(path, log_path)

    def post(contact: dict) -> None:
        req = urllib.request.Request(url + "/api/v1/contact-check", data=json.dumps(contact).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 (loopback bench server)
            resp.read()

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def run(share: list[dict]) -> None:
        mine = []
        barrier.wait()
        for c in share:
            began = time.perf_counter()
            try:
                post(c)
            except Exception as exc:  # a bench counts failures instead of stopping at the first
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(mine)

    try:
        for c in work[:20]:  # warm: the server's connection, the zone data, the packs
            post(c)
        pool = [threading.Thread(target=run, args=(work[i::clients],)) for i in range(clients)]
        began = time.perf_counter()
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        wall = time.perf_counter() - began
    finally:
        stop_server(proc, url)
    return {"checks": len(latencies), "p50": statistics.median(latencies), "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99), "max": max(latencies), "per_s": len(latencies) / wall, "cpu_ms": None,
            "errors": len(errors), "first_error": errors[0] if errors else ""}


BEGIN, END_MARK = "<!-- bench_contact_check: latest run -->", "<!-- bench_contact_check: end of latest run -->"


def write_section(out: Path, text: str) -> None:
    """Put this run's report at the top of `out`, replacing the previous run's; older notes stay below."""
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    if BEGIN in old and END_MARK in old:
        old = old[:old.index(BEGIN)] + old[old.index(END_MARK) + len(END_MARK):].lstrip("\n")
    out.write_text(f"{BEGIN}\n{text.rstrip()}\n{END_MARK}\n\n{old}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the bench book, time single checks and a planned list, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=Path("data") / "bench")
    parser.add_argument("--threads", default="1,20", help="comma-separated thread counts for the single checks")
    parser.add_argument("--checks", type=int, default=2000, help="single checks per thread count")
    parser.add_argument("--batch", type=int, default=100_000, help="rows of the planned list")
    parser.add_argument("--index", action="store_true", help="also time an ART index in place of the zone maps")
    parser.add_argument("--api", type=int, default=0, metavar="CLIENTS",
                        help="also time POST /api/v1/contact-check of a real portal serve with CLIENTS clients")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS_prevention.md")
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    path, synth_s, derived_s = ensure_db(args.workdir, args.loans)
    started = time.perf_counter()
    derived.ensure_fresh(prevention.DERIVED_TABLES, db=path)
    derived_s.setdefault("contact_check_*", time.perf_counter() - started)
    counts = db.table_counts(db=path)
    log_rows = db.scalar("select count(*) from contact_check_log", db=path)
    loans, start = sample(path, min(args.loans, 50_000), seed=7)
    work = contacts(loans, start, args.checks, seed=11)
    prevention.check(work[:20], db=path)  # warm: the connection, the zone data, the packs

    load = os.getloadavg()[0]
    lines = [f"## Pre-contact check, {args.loans:,} loans ({counts['contacts']:,} contacts; contact_check_log "
             f"{log_rows:,} rows)", "",
             f"{dt.date.today()} · {platform.node()} · " + ", ".join(f"{k} {v}" for k, v in machine().items()),
             "", f"Load average when the timings started: {load:.1f} (CPU ms/check, single thread, is the "
             "process's CPU time: it moves less with the machine's load than the wall times do).", ""]
    if synth_s is not None:
        lines.append(f"Book synthesised in {synth_s:.1f} s.")
    if derived_s:
        lines.append("Derived tables built: " + ", ".join(f"{k} {v:.1f} s" for k, v in derived_s.items()) + ".")
    lines += ["", "| single check | threads | checks | p50 ms | p95 ms | p99 ms | max ms | checks/s | CPU ms/check | "
              "errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for named in (False, True):
        for threads in (int(t) for t in args.threads.split(",")):
            r = single_checks(path, work, threads, named)
            label = "named query contact_check" if named else "prevention.check (the API's function)"
            lines.append(f"| {label} | {threads} | {r['checks']:,} | {r['p50']:.1f} | {r['p95']:.1f} | "
                         f"{r['p99']:.1f} | {r['max']:.1f} | {r['per_s']:.0f} | "
                         f"{'' if r['cpu_ms'] is None else format(r['cpu_ms'], '.1f')} | {r['errors']} |")
            print(lines[-1], r["first_error"], flush=True)
    if args.api:
        r = through_api(path, work, args.api, args.workdir / "bench_contact_check_serve.log")
        lines.append(f"| POST /api/v1/contact-check (portal serve) | {args.api} | {r['checks']:,} | {r['p50']:.1f} | "
                     f"{r['p95']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {r['per_s']:.0f} |  | {r['errors']} |")
        print(lines[-1], r["first_error"], flush=True)
    b = batch(path, loans, start, args.batch)
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in b["stages"].items())
    lines += ["", "| planned list | rows | check s | write CSV s | allowed | blocked | not checked | steps |",
              "|---|---:|---:|---:|---:|---:|---:|---|",
              f"| check_file (CSV) | {b['rows']:,} | {b['check_s']:.2f} | {b['write_s']:.2f} | {b['allowed']:,} | "
              f"{b['blocked']:,} | {b['invalid']:,} | {stages} |"]
    print(lines[-1], flush=True)
    lines += ["", "| one debtor's contacts, read by | median ms |", "|---|---:|"]
    for label, ms in reads(path, loans, args.index):
        lines.append(f"| {label} | {ms:.2f} |")
        print(lines[-1], flush=True)
    lines += ["", f"Channels planned: {', '.join(sorted(set(CHANNEL_MIX)))} (phone 50%); 10% to third parties; "
              f"times within 24 h after the log's newest contact + 1 h. Known channels: {len(taxonomy.CHANNELS)}."]
    write_section(args.out, "\n".join(lines))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
