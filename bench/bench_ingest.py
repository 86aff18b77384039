"""Upload benchmark: a contacts CSV with 1% bad rows, fully validated and loaded, against a plain path.

Run `python -m bench.bench_ingest --rows 1000000`. Each measured path runs in its own fresh process
so its peak memory (ru_maxrss) is its own. Results go to bench/RESULTS_ingest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

import portal.startup  # noqa: F401 (registers the data layer's hooks)

HERE = Path(__file__).resolve().parent
LOANS = 100_000
CUSTOMERS = 50_000

# The file: ~1% of rows carry one of six different faults (every tenth of those a foreign-key miss).
GENERATE_CONTACTS = """
copy (
    with base as (
        select i, (hash(i) % 4000000007)::bigint as h from range($rows) t(i)
    ), rows as (
        select
            i, h, (h % 100) = 7 as bad, (h // 100) % 6 as fault,
            -- Faults 3 (ptp without amount) and 5 (visit with 0 collectors) need a ptp / a visit.
            case when (h % 100) = 7 and (h // 100) % 6 = 5 then 'visit'
                 else ['sms', 'app', 'phone', 'letter', 'social', 'visit', 'legal'][1 + (h // 1000) % 7] end as channel,
            case when (h % 100) = 7 and (h // 100) % 6 = 3 then 'ptp'
                 else ['sent', 'delivered', 'failed', 'no_answer', 'third_party', 'rpc', 'ptp', 'refused', 'filed'][1 + (h // 10000) % 9] end as outcome
        from base
    )
    select
        'K' || i as contact_id,
        case when bad and fault = 0 then 'LX' || i else 'L' || (h // 7) % $loans end as loan_id,
        case when bad and fault = 1 then '2999-01-01 10:00:00'
             else strftime(timestamp '2025-01-01' + to_seconds((h // 13) % 31536000), '%Y-%m-%d %H:%M:%S') end as contact_at,
        case when bad and fault = 2 then 'fax' else channel end as channel,
        case when outcome = 'third_party' then 'third_party' else 'debtor' end as party,
        outcome,
        'A' || (h % 300) as agent_id,
        case when h % 4 = 0 then 'AG0' || (h % 5) else '' end as agency_id,
        case when h % 2 = 0 then 'champion' else 'challenger' end as strategy,
        case when outcome = 'ptp' and not (bad and fault = 3) then ((h % 900) + 100)::varchar || '.00' else '' end as ptp_amount,
        case when outcome = 'ptp' then '2025-12-31' else '' end as ptp_due_on,
        case when bad and fault = 4 then '-1.00' else ((h % 500) / 100.0)::decimal(10, 2)::varchar end as cost,
        case when channel = 'visit' and not (bad and fault = 2) then (case when bad and fault = 5 then '0' else '2' end)
             else '' end as collectors,
        case when channel = 'phone' and not (bad and fault = 2) then ((h % 600))::varchar else '' end as duration_s
    from rows
) to '{path}' (header, delimiter ',')
"""


class Plain(pa.DataFrameModel):
    """The plain path's 9 simple column checks."""


    contact_id: Series[str]
    loan_id: Series[str]
    channel: Series[str] = pa.Field(isin=["sms", "app", "phone", "letter", "social", "visit", "legal"])
    party: Series[str] = pa.Field(isin=["debtor", "third_party"])
    outcome: Series[str] = pa.Field(isin=["sent", "delivered", "failed", "no_answer", "third_party", "rpc",
                                          "ptp", "refused", "filed"])
    cost: Series[float] = pa.Field(ge=0)
    ptp_amount: Series[float] = pa.Field(gt=0, nullable=True)
    collectors: Series[float] = pa.Field(ge=1, nullable=True)
    duration_s: Series[float] = pa.Field(ge=0, nullable=True)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (less sensitive than wall time to a busy machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def setup(workdir: Path, rows: int) -> dict:
    """Build the book database (customers, loans) and the contacts CSV; not timed."""
    from portal import db

    book = workdir / "book.duckdb"
    csv_path = workdir / "contacts.csv"

    def build(cur) -> None:
        cur.execute("insert into customers (customer_id, mobile, province, timezone) "
                    "select 'C' || i, '138' || lpad(i::varchar, 8, '0'), '北京', "
                    "case when i % 10 = 0 then 'Asia/Urumqi' else 'Asia/Shanghai' end from range($n) t(i)",
                    {"n": CUSTOMERS})
        cur.execute("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, "
                    "disbursed_on) select 'L' || i, 'C' || (i % $c), 'cash_loan', 5000, 0.18, 12, date '2024-06-01' "
                    "from range($n) t(i)", {"n": LOANS, "c": CUSTOMERS})
        # The path is ours (a temp dir), so it is safe to place in the COPY statement.
        cur.execute(GENERATE_CONTACTS.format(path=str(csv_path).replace("'", "''")), {"rows": rows, "loans": LOANS})

    db.write(build, db=book)
    db.close(book)
    return {"book": str(book), "csv": str(csv_path), "csv_mb": csv_path.stat().st_size / 2**20}


def run_ingest(book: str, csv_path: str) -> dict:
    """The portal path: ingest.load_file with every contract rule, foreign keys included."""
    from portal import db, ingest

    db.connect(book)
    start, cpu = time.perf_counter(), _cpu_s()
    result = ingest.load_file("contacts", csv_path, db=book, uploaded_by="bench")
    report = result.rejects()
    seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
    quarantined = db.scalar("select count(distinct row_number) from quarantine where upload_id = $u",
                            {"u": result.upload_id}, db=book)
    # the derived tables (rollups, attribution, policy facts) refreshed inside the load's transaction
    derived = db.read("select name, seconds from derived_state order by name", db=book)
    return {"seconds": seconds, "cpu_s": cpu, "derived_s": float(derived["seconds"].sum()),
            "derived": dict(zip(derived["name"], derived["seconds"].round(2), strict=True)), "peak_mb": _peak_mb(), "rows": result.rows_total, "accepted": result.accepted,
            "rejected": result.rejected, "quarantined_rows": quarantined, "report_rows": len(report),
            "reasons": report["reason"].str.replace(r"[0-9].*", "", regex=True).value_counts().to_dict()}


def run_plain(book: str, csv_path: str) -> dict:
    """The plain path: pandas read_csv + pandera validate (9 simple column checks) + DuckDB insert."""
    from portal import db

    db.connect(book)
    start, cpu = time.perf_counter(), _cpu_s()
    frame = pd.read_csv(csv_path)
    try:
        Plain.validate(frame, lazy=True)
        failures = 0
    except pa.errors.SchemaErrors as exc:
        failures = len(exc.failure_cases)

    def insert(cur) -> None:
        cur.execute("create or replace table plain_contacts as select * from contacts limit 0")
        cur.register("plain_frame", frame)
        cur.execute("insert into plain_contacts by name select * exclude (contact_at, ptp_due_on), "
                    "contact_at::timestamptz as contact_at, ptp_due_on::date as ptp_due_on from plain_frame")
        cur.unregister("plain_frame")

    db.write(insert, db=book)
    seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
    return {"seconds": seconds, "cpu_s": cpu, "peak_mb": _peak_mb(), "rows": len(frame), "failure_cases": failures}


def _child(phase: str, book: Path, csv_path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_ingest", "--phase", phase, "--book", str(book),
                          "--csv", str(csv_path)], capture_output=True, text=True, cwd=HERE.parent, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write bench/RESULTS_ingest.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=["ingest", "plain"])
    parser.add_argument("--book")
    parser.add_argument("--csv")
    parser.add_argument("--out", default=str(HERE / "RESULTS_ingest.md"))
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each path (best is reported)")
    args = parser.parse_args(argv)
    if args.phase:
        fn = run_ingest if args.phase == "ingest" else run_plain
        print(json.dumps(fn(args.book, args.csv), default=str))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        info = setup(workdir, args.rows)
        load_before = os.getloadavg()[0]
        all_runs: dict[str, list[dict]] = {"plain": [], "ingest": []}
        for attempt in range(args.repeat):
            for phase in ("plain", "ingest"):  # alternate, so both see the same machine load
                book = workdir / f"{phase}{attempt}.duckdb"
                shutil.copy(info["book"], book)  # each path loads into its own copy of the same book
                all_runs[phase].append(_child(phase, book, Path(info["csv"])))
                book.unlink()
        load_after = os.getloadavg()[0]
        plain = min(all_runs["plain"], key=lambda r: r["seconds"])
        full = min(all_runs["ingest"], key=lambda r: r["seconds"])
        ratio = full["seconds"] / plain["seconds"]
        pairs = [f"{p['seconds']:.2f} / {f['seconds']:.2f}" for p, f in zip(all_runs["plain"], all_runs["ingest"],
                                                                            strict=True)]
        lines = [
            "# Upload benchmark (bench/bench_ingest.py)",
            "",
            f"Machine: {os.cpu_count()} cores, {_ram_gib():.0f} GiB RAM, {platform.system()} "
            f"{platform.machine()}, Python {platform.python_version()}. Shared with other engineers' jobs.",
            f"File: contacts CSV, {args.rows:,} rows, {info['csv_mb']:.0f} MB, about 1% bad rows "
            f"(unknown loan, future time, bad channel, ptp without amount, negative cost, visit with 0 collectors).",
            f"Book: {CUSTOMERS:,} customers, {LOANS:,} loans already in the database.",
            "",
            "| path | wall seconds | CPU seconds | peak memory (MB) | rows | accepted | rejected |",
            "|---|---|---|---|---|---|---|",
            f"| portal `ingest.load_file` (every contract rule, FKs, debtor time zones, upsert, quarantine, "
            f"reject report) | {full['seconds']:.2f} | {full['cpu_s']:.2f} | {full['peak_mb']:.0f} | {full['rows']:,} | "
            f"{full['accepted']:,} | {full['rejected']:,} |",
            f"| plain: pandas read_csv + pandera validate (9 column checks) + DuckDB insert | "
            f"{plain['seconds']:.2f} | {plain['cpu_s']:.2f} | {plain['peak_mb']:.0f} | {plain['rows']:,} | {plain['rows']:,} | "
            f"({plain['failure_cases']:,} failure cases, nothing quarantined) |",
            "",
            f"Best of {args.repeat} alternating runs each; all runs (plain / portal, seconds): {'; '.join(pairs)}. "
            f"Load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} on {os.cpu_count()} cores.",
            "",
            f"Of the portal path's {full['seconds']:.2f} s, {full['derived_s']:.2f} s refreshed the derived tables "
            f"inside the same transaction (the book had no contacts, so this first load builds them for the "
            f"whole year it covers): {full['derived']}. Validation and load alone: "
            f"{full['seconds'] - full['derived_s']:.2f} s.",
            "",
            f"Ratio portal / plain: **{ratio:.2f}x** wall, **{full['cpu_s'] / plain['cpu_s']:.2f}x** CPU. Target: under 5 s and under 1 GiB peak "
            f"({'met' if full['seconds'] < 5 and full['peak_mb'] < 1024 else 'NOT met'}).",
            f"Rows quarantined: {full['quarantined_rows']:,}; reject report lines: {full['report_rows']:,}.",
            *(["", f"Note: the machine was oversubscribed (load {load_before:.0f} on {os.cpu_count()} cores), so "
               "both paths' seconds are inflated alike and the ratio is the meaningful figure. The issue quotes "
               "about 1.6 s for the plain path on a quiet machine; at the measured wall ratio the portal path "
               f"would take about {1.6 * ratio:.1f} s there. Its CPU time ({full['cpu_s']:.1f} s over all "
               f"threads) is the other measure to compare: the plain path is mostly single-threaded, DuckDB uses both cores."] if load_before > (os.cpu_count() or 1)
             else []),
            f"Reasons (first words): {full['reasons']}",
            "",
            "How validation runs: the pandera upload models in portal/schemas.py are the rule set; "
            "portal/ingest/ compiles each model's checks into one vectorised DuckDB SQL pass over a staging "
            "table filled by DuckDB's CSV reader. pandera itself does not touch the million rows; "
            "tests/unit/test_ingest.py checks that pandera's own lazy validation of the models flags the same "
            "cells as the SQL.",
        ]
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _ram_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 0.0


if __name__ == "__main__":
    raise SystemExit(main())
