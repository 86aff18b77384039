"""Policy benchmark: `policy_violations` (all rules of a pack together) over N synthetic contacts, read from
the materialised breaches (policy_breach_facts), against a bare scan of the contacts columns the engine
reads (a hash of every value, same period filter); plus the one-off full build of the facts and the incremental
refresh after one day of new contacts, both through the refresher the load path calls.

Run `python -m bench.bench_policy --contacts 20000000` (develop with the default 2,000,000). The data
is synthesised directly in DuckDB SQL from deterministic hashes: N/20 loans, 90% of debtors with one
loan, time zones 96% Asia/Shanghai, 2% Asia/Urumqi, 1% Asia/Hong_Kong, 1% America/New_York (DST);
channels 30% sms, 12% app, 48% phone, 3% letter, 3% social, 2.5% visit, 1.5% legal; phone outcomes
45% no_answer, 10% failed, 25% rpc, 10% ptp, 10% refused, 1 in 17 contacts with a third party;
contacts fall in each loan's 60-day collection episode in 2025, mostly 09:00-21:00 local, about 6% at
night; the table is stored in time order, as an export of a contact log would be. The contacts of one
day (HELD_DAY, mid-log so the refresh range after it is full of contacts) are held back in
`bench_held_contacts` and come in afterwards as the "new day" of the incremental refresh.
Results go to bench/RESULTS_policy.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import portal.startup  # noqa: F401 (registers the data layer's hooks)
from portal import db, derived, policy

HERE = Path(__file__).resolve().parent
START, END = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
HELD_DAY = dt.date(2025, 10, 1)

SYNTH = [
    """
    insert into customers (customer_id, timezone)
    select
        'C' || lpad(i::varchar, 9, '0'),
        case
            when hash(i, 'tz') % 100 < 96 then 'Asia/Shanghai'
            when hash(i, 'tz') % 100 < 98 then 'Asia/Urumqi'
            when hash(i, 'tz') % 100 < 99 then 'Asia/Hong_Kong'
            else 'America/New_York'
        end
    from range($customers) as t (i)
    """,
    # loans 0..customers-1 belong to customer i; the rest go to the first 10% of customers
    """
    insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, disbursed_on)
    select
        'L' || lpad(i::varchar, 9, '0'),
        'C' || lpad((case when i < $customers then i else hash(i, 'c') % ($customers // 10) end)::varchar, 9, '0'),
        'cash_loan', 5000, 0.18, 12, date '2024-06-01'
    from range($loans) as t (i)
    """,
    """
    insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, agency_id,
                          ptp_amount, ptp_due_on, cost, collectors)
    with draws as (
        select
            i,
            hash(i, 'loan') % $loans as loan_no,
            hash(i, 'ch') % 1000 as ch,
            hash(i, 'o') % 1000 as o,
            hash(i, 'h') % 1000 as h,
            hash(i, 'd') % 60 as d,
            hash(i, 's') % 3600 as s
        from range($contacts) as t (i)
    ),
    shaped as (
        select
            draws.*,
            case
                when ch < 300 then 'sms' when ch < 420 then 'app' when ch < 900 then 'phone'
                when ch < 930 then 'letter' when ch < 960 then 'social' when ch < 985 then 'visit'
                else 'legal'
            end as channel,
            'L' || lpad(loan_no::varchar, 9, '0') as loan_id,
            timestamp '2025-01-01 00:00:00'
                + to_days((hash(loan_no, 'start') % 300)::integer + d::integer)
                + to_seconds(
                    (case when h < 940 then 9 + h % 12 when h < 970 then 21 + h % 3 else 6 + h % 3 end) * 3600
                    + s::integer
                ) as local_at
        from draws
    )
    select
        'K' || lpad(i::varchar, 10, '0'),
        shaped.loan_id,
        timezone(customers.timezone, local_at),
        channel,
        case when channel in ('phone', 'visit', 'social') and o % 17 = 0 then 'third_party' else 'debtor' end,
        case
            when channel in ('phone', 'visit', 'social') and o % 17 = 0 then 'third_party'
            when channel = 'phone' then case when o < 450 then 'no_answer' when o < 550 then 'failed'
                when o < 800 then 'rpc' when o < 900 then 'ptp' else 'refused' end
            when channel = 'visit' then case when o < 500 then 'rpc' when o < 700 then 'ptp' else 'failed' end
            when channel = 'legal' then 'filed'
            when channel = 'letter' then 'sent'
            else case when o < 80 then 'failed' when o < 600 then 'delivered' else 'sent' end
        end as outcome,
        case when channel not in ('sms', 'app', 'letter') then 'A' || lpad((hash(shaped.loan_id, 'agent') % 2000)::varchar, 5, '0') end,
        case when hash(shaped.loan_id, 'agency') % 10 >= 6 then 'G' || (hash(shaped.loan_id, 'agency') % 20)::varchar end,
        case when outcome = 'ptp' then 500 end,
        case when outcome = 'ptp' then (local_at + interval 7 day)::date end,
        0,
        case when channel = 'visit' then case when o % 10 = 0 then 1 else 2 end end
    from shaped
    inner join loans on shaped.loan_id = loans.loan_id
    inner join customers on loans.customer_id = customers.customer_id
    order by 3
    """,
]

# hash() forces every value to be read: max() or count() alone can come from the row groups'
# statistics (that is how the earlier runs measured a 0.03 s "scan" of 20M rows). Same floor as bench/run.py.
BARE_SCAN = """
select count(*), sum(hash(contact_id)), sum(hash(loan_id)), sum(hash(contact_at)), sum(hash(channel)),
       sum(hash(party)), sum(hash(outcome)), sum(hash(agent_id)), sum(hash(agency_id)), sum(hash(collectors)),
       sum(hash(ptp_amount))
from contacts
where contact_at >= $start::timestamptz - interval 9 days and contact_at < $end::timestamptz
"""


def build(path: Path, contacts: int) -> float:
    """Synthesise the contact log into a fresh portal database; return the seconds it took."""
    loans = max(contacts // 20, 10)
    customers = max(loans * 9 // 10, 10)
    params = {"contacts": contacts, "loans": loans, "customers": customers}
    began = time.perf_counter()
    for sql in SYNTH:
        db.write(lambda cur, sql=sql: cur.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}),
                 db=path)
    db.write(lambda cur: cur.execute(
        "create table bench_held_contacts as select * from contacts "
        "where contact_at >= $day::timestamptz and contact_at < $day::timestamptz + interval 1 day",
        {"day": HELD_DAY}), db=path)
    db.execute("checkpoint", db=path)
    return time.perf_counter() - began


def hold_back(path: Path) -> int:
    """Take the held-back day out of contacts (again, on a reused database); return its row count."""
    def work(cur) -> int:
        cur.execute("delete from contacts where contact_id in (select contact_id from bench_held_contacts)")
        return cur.execute("select count(*) from bench_held_contacts").fetchone()[0]

    return db.write(work, db=path)


def full_build(path: Path) -> None:
    """Rebuild the facts from scratch the way a stale table is rebuilt before a query (ensure_fresh)."""
    db.execute("delete from derived_state where name in ($f, $r)",
               {"f": policy.FACTS_TABLE, "r": policy.RULES_TABLE}, db=path)
    derived.ensure_fresh([policy.FACTS_TABLE, policy.RULES_TABLE], db=path)


def incremental(path: Path) -> tuple[float, float]:
    """Load the held-back day into contacts and run the facts' refresher for its span, as an upload does;
    return (wall s, CPU s) of the refresh alone."""
    out = {}

    def work(cur) -> None:
        cur.execute("insert into contacts select * from bench_held_contacts")
        lo, hi = cur.execute("select min(contact_at), max(contact_at) from bench_held_contacts").fetchone()
        change = derived.Change(frozenset({"contacts"}), full=False, contact_span=(lo, hi))
        wall, cpu = time.perf_counter(), time.process_time()
        policy.refresh_facts(cur, change)
        out["wall"], out["cpu"] = time.perf_counter() - wall, time.process_time() - cpu

    db.write(work, db=path)
    return out["wall"], out["cpu"]


def facts_from_scratch_differ(path: Path) -> int:
    """Rows that differ between the stored facts and the engine run over the whole log (0 = identical)."""
    cols = "rule, contact_id, loan_id, customer_id, contact_at, local_time, channel, outcome, agent_id, agency_id"
    total = 0
    for pack in db.read("select pack from rule_packs where not is_scenario", db=path)["pack"]:
        diff = f"""
        with lo_hi as (select min(contact_at) as lo, max(contact_at) + interval 1 day as hi from contacts),
        scratch as (select {cols} from lo_hi, policy_breaches($pack, lo_hi.lo, lo_hi.hi, null)),
        stored as (select {cols} from policy_breach_facts where pack = $pack)
        select (select count(*) from (select * from scratch except all select * from stored))
             + (select count(*) from (select * from stored except all select * from scratch))
        """  # noqa: S608 (fixed column list)
        total += db.scalar(diff, {"pack": pack}, db=path)
    return total


def timed(fn, repeat: int) -> tuple[float, float, list[float]]:
    """Run fn repeat times; return (median wall s, median CPU s of this process, all wall times)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), walls


BEGIN, END_MARK = "<!-- bench_policy: latest run -->", "<!-- bench_policy: end of latest run -->"


def write_section(out: Path, text: str) -> None:
    """Put this run's report at the top of `out`, replacing the previous run's; older notes stay below."""
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    if BEGIN in old and END_MARK in old:
        old = old[:old.index(BEGIN)] + old[old.index(END_MARK) + len(END_MARK):].lstrip("\n")
    out.write_text(f"{BEGIN}\n{text.rstrip()}\n{END_MARK}\n\n{old}", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the synthetic database, time the engine and the bare scan, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2_000_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse or create this database file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--packs", default="cn,us")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS_policy.md")
    parser.add_argument("--check", action="store_true",
                        help="after the incremental refresh, compare the facts with the engine run from scratch")
    args = parser.parse_args(argv)

    path = args.db or Path(tempfile.mkdtemp(prefix="bench_policy_")) / "policy.duckdb"
    fresh = not path.exists()
    build_s = build(path, args.contacts) if fresh else None
    held = hold_back(path)
    rows = db.scalar("select count(*) from contacts", db=path)
    period = {"start": START, "end": END}

    lines = []
    wall, cpu, _ = timed(lambda: full_build(path), 1)
    facts = db.read("select pack, count(*) as n from policy_breach_facts group by pack order by pack", db=path)
    per_pack = ", ".join(f"{p} {n:,}" for p, n in zip(facts["pack"], facts["n"], strict=True))
    build_line = (f"| full build of policy_breach_facts, every stored pack, whole log (one-off) | {wall:.3f} | "
                  f"{cpu:.2f} | facts: {per_pack} |")
    print(build_line, flush=True)

    bare_first = timed(lambda: db.read(BARE_SCAN, period, db=path), 1)[0]
    bare, bare_cpu, _ = timed(lambda: db.read(BARE_SCAN, period, db=path), args.repeat)
    lines.append(f"| bare scan of the contacts columns the engine reads | {bare_first:.3f} | {bare:.3f} | "
                 f"{bare_cpu:.2f} | 1.0 |")
    results = {}
    for pack in args.packs.split(","):
        for name in ("policy_violations", "policy_violations_by_month", "policy_league"):
            first = timed(lambda pack=pack, name=name: db.query(name, db=path, pack=pack, **period), 1)[0]
            wall, cpu, _ = timed(lambda pack=pack, name=name: db.query(name, db=path, pack=pack, **period),
                                 args.repeat)
            label = f"{name} pack={pack}" + (" (all rules)" if name == "policy_violations" else "")
            lines.append(f"| {label} | {first:.3f} | {wall:.3f} | {cpu:.2f} | {wall / bare:.1f} |")
            print(lines[-1], flush=True)
        results[pack] = db.query("policy_violations", db=path, pack=pack, **period)

    inc_wall, inc_cpu = incremental(path)
    inc_line = (f"| incremental refresh: {held:,} new contacts of {HELD_DAY} (every stored pack) | "
                f"{inc_wall:.3f} | {inc_cpu:.2f} | refresh range {HELD_DAY} - 1 day to + window + 2 days |")
    print(inc_line, flush=True)
    check = None
    if args.check:
        check = facts_from_scratch_differ(path)
        print(f"facts after the incremental refresh differ from a rebuild in {check} rows", flush=True)

    load = os.getloadavg()
    report = [
        f"# Policy benchmark: {rows:,} contacts (+ {held:,} held back for the incremental refresh)",
        "",
        f"Machine: {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}, DuckDB {db.duckdb.__version__}; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is shared).",
        "",
        f"Data: `python -m bench.bench_policy --contacts {args.contacts}` "
        + (f"(synthesised in {build_s:.0f} s). " if build_s else "(reused database). ")
        + f"Period {START} to {END} (the whole log). Times in seconds; warm = median of {args.repeat} runs "
        "after the first; CPU = this process's CPU time (both DuckDB threads), which is what the other "
        "engineers' jobs on the shared cores do not inflate.",
        "",
        "Named queries (read policy_breach_facts):",
        "",
        "| what | first run (s) | warm wall (s) | warm CPU (s) | × bare scan |",
        "|---|---|---|---|---|",
        *lines,
        "",
        "Maintaining the facts (the engine, queries/macros/policy_breaches.sql, run by portal/policy.py):",
        "",
        "| what | wall (s) | CPU (s) | notes |",
        "|---|---|---|---|",
        build_line,
        inc_line,
        "",
    ]
    if check is not None:
        report += [f"Check: after the incremental refresh the facts differ from a rebuild from scratch in "
                   f"{check} rows.", ""]
    for pack, frame in results.items():
        report += [f"Violations found, pack {pack}:", "", "```", frame.to_string(index=False), "```", ""]
    write_section(args.out, "\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    main()
