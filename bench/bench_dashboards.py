"""Dashboard query benchmark: every named query of the executive dashboards on a synthetic book of
N loans x 12 month-ends and 20 contacts per loan, against two references:

- the floor: a bare DuckDB scan of exactly the columns the query reads (a hash of every value);
- pandas: the same result computed with pandas on frames already loaded in memory, which is what a
  typical Streamlit dashboard does (the one-off load time is reported separately).

Run `python -m bench.bench_dashboards --loans 1000000` (develop with the default 100,000). The book is
synthesised directly in DuckDB SQL (deterministic hashes, no randomness), because portal.demo models a
realistic book with far fewer than 20 contacts per loan. "Cold" means a freshly opened database
(DuckDB's buffer pool empty; the OS file cache is not dropped). Results go to bench/RESULTS_dashboards.md.

The derived tables (queries/derived/, portal/derived.py) are rebuilt from scratch before any timing, also
with --reuse, and that rebuild is timed on its own: it is what the load path pays, once per upload (per
touched loan), instead of every page view paying for it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import portal.startup  # noqa: F401 (registers the data layer's hooks)
from portal import db, derived, taxonomy

HERE = Path(__file__).resolve().parent
END_MONTH = dt.date(2026, 10, 31)
TZ = "Asia/Shanghai"

SYNTH = [
    """
    insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, disbursed_on,
                       region, risk_grade)
    select
        'L' || i, 'U' || i,
        ['cash_loan', 'instalment', 'credit_line'][1 + (hash(i, 1) % 3)::bigint],
        (1000 + hash(i, 2) % 49000)::decimal(18, 2), 0.18, 12,
        $first_month - interval 12 month + to_days((hash(i, 3) % 360)::integer),
        ['north', 'east', 'south', 'west', 'central', 'northeast'][1 + (hash(i, 4) % 6)::bigint],
        ['A', 'B', 'C', 'D', 'E'][1 + (hash(i, 5) % 5)::bigint]
    from range($loans) t(i)
    """,
    # 12 month-ends; about 5% of loans close part-way; about 12% are delinquent at any month-end
    """
    insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount)
    with grid as (
        select i, k, last_day($first_month + to_months(k::integer)) as as_of,
               (hash(i, k, 7) % 1000)::integer as u, (hash(i, 6) % 1000)::integer as risk
        from range($loans) a(i), range(12) b(k)
        where not (hash(i, 10) % 20 = 0 and k >= 6 + hash(i, 11) % 6)
    ), scored as (
        select *, case when u < 40 + risk // 5 then 1 + (hash(i, k, 8) % 30)::integer
                       + 30 * (hash(i, k, 9) % (1 + risk // 150))::integer else 0 end as dpd
        from grid
    )
    select 'L' || i, as_of, dpd, (1000 + hash(i, 2) % 49000) * (1 - k / 24.0),
           case when dpd > 0 then round((1000 + hash(i, 2) % 49000) * 0.05 * (1 + dpd // 30), 2) else 0 end
    from scored
    """,
    """
    insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, agency_id,
                          strategy, ptp_amount, ptp_due_on, cost, collectors, duration_s)
    with base as (
        select j, (hash(j, 1) % $loans)::bigint as i, (hash(j, 4) % 100)::integer as c,
               (hash(j, 5) % 100)::integer as o,
               ($first_month - interval 1 month + interval 1 day)::timestamptz
                 + to_seconds((hash(j, 2) % (365 * 86400))::bigint) as contact_at
        from range($contacts) t(j)
    ), typed as (
        select *, case when c < 30 then 'sms' when c < 45 then 'app' when c < 85 then 'phone'
                       when c < 90 then 'letter' when c < 95 then 'social' when c < 99 then 'visit'
                       else 'legal' end as channel
        from base
    ), outcomes as (
        select *, case channel
            when 'sms' then case when o < 90 then 'delivered' else 'failed' end
            when 'app' then case when o < 60 then 'sent' when o < 95 then 'delivered' else 'failed' end
            when 'phone' then case when o < 52 then 'no_answer' when o < 57 then 'failed'
                                   when o < 64 then 'third_party' when o < 81 then 'rpc'
                                   when o < 94 then 'ptp' else 'refused' end
            when 'letter' then case when o < 85 then 'sent' else 'delivered' end
            when 'social' then case when o < 50 then 'sent' when o < 95 then 'delivered' else 'failed' end
            when 'visit' then case when o < 35 then 'failed' when o < 50 then 'third_party'
                                   when o < 75 then 'rpc' when o < 95 then 'ptp' else 'refused' end
            else 'filed' end as outcome
        from typed
    )
    select
        'K' || j, 'L' || i, contact_at, channel,
        case when outcome = 'third_party' then 'third_party' else 'debtor' end, outcome,
        case when channel in ('phone', 'visit') then 'A' || (hash(j, 6) % 800) end,
        case when channel in ('phone', 'visit') and hash(j, 7) % 10 < 3 then 'AG0' || (1 + hash(j, 8) % 5) end,
        case when hash(i, 12) % 10 < 4 then 'challenger' else 'champion' end,
        case when outcome = 'ptp' then (100 + hash(j, 9) % 2000)::decimal(18, 2) end,
        case when outcome = 'ptp' then contact_at::date + 7 end,
        case channel when 'sms' then 0.05 when 'app' then 0.01 when 'phone' then 2.5 when 'letter' then 8
                     when 'social' then 0.2 when 'visit' then 150 else 800 end,
        case when channel = 'visit' then 2 end,
        case when channel = 'phone' then (hash(j, 10) % 600)::integer end
    from outcomes
    -- stored in time order, as a contact log appended day by day is (PORTAL_BENCH_RANDOM_ORDER=1: the
    -- random order of earlier runs, a worst case for DuckDB's zone maps)
    order by case when $time_ordered then contact_at end
    """,
    """
    insert into payments (payment_id, loan_id, paid_at, amount)
    select 'P' || j, 'L' || (hash(j, 21) % $loans),
           ($first_month - interval 1 month + interval 1 day)::timestamptz
             + to_seconds((hash(j, 22) % (365 * 86400))::bigint),
           (50 + hash(j, 23) % 3000)::decimal(18, 2)
    from range($payments) t(j)
    """,
    """
    insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, channel, agent_id,
                            agency_id, narrative, status, resolved_at, extension_days, extension_reason)
    with base as (
        select j, (hash(j, 31) % $loans)::bigint as i,
               ($first_month - interval 1 month + interval 1 day)::timestamptz
                 + to_seconds((hash(j, 32) % (365 * 86400))::bigint) as received_at,
               (hash(j, 33) % 100)::integer as r
        from range($complaints) t(j)
    )
    select 'Q' || j, received_at, 'form', 'U' || i, 'L' || i, 'communication_tactics',
           case when r < 60 then 'phone' when r < 75 then 'sms' when r < 85 then 'visit' end,
           case when r < 60 then 'A' || (hash(j, 34) % 800) end,
           case when r < 20 then 'AG0' || (1 + hash(j, 35) % 5) end,
           'synthetic', case when r < 80 then 'resolved' else 'investigating' end,
           case when r < 80 then received_at + to_days((hash(j, 36) % 40)::integer) end,
           case when r % 10 = 0 then 15 else 0 end, case when r % 20 = 0 then 'complex' end
    from base
    """,
    # repayment plans on 2% of the delinquent loan-months, agreed in the month after; a fifth of the
    # complaints ask for a plan, and the portal offered one on half of those
    """
    insert into repayment_plans (plan_id, loan_id, complaint_id, plan_type, agreed_on, amount, instalments,
                                 first_due_on, status)
    with picked as (
        select loan_id, as_of, overdue_amount,
               case when hash(loan_id, as_of, 41) % 10 < 7 then 'instalments' else 'deferral' end as plan_type,
               as_of + (1 + hash(loan_id, as_of, 42) % 27)::integer as agreed_on
        from snapshots
        where dpd > 0 and hash(loan_id, as_of, 40) % 50 = 0
    )
    select 'RP' || row_number() over (order by as_of, loan_id), loan_id, null, plan_type, agreed_on,
           greatest(overdue_amount, 100), case when plan_type = 'deferral' then 1
                                               else [3, 4, 6][1 + (hash(loan_id, 43) % 3)::bigint] end,
           agreed_on + case when plan_type = 'deferral' then 30 else 7 + (hash(loan_id, 44) % 14)::integer end,
           case when hash(loan_id, as_of, 45) % 33 = 0 then 'cancelled' else 'active' end
    from picked
    """,
    """
    update complaints set issue = 'repayment_plan_request', plan_type = 'instalments', plan_amount = 3000,
                          plan_months = 6
    where hash(complaint_id, 46) % 5 = 0
    """,
    """
    insert into plan_offers (offer_id, complaint_id, loan_id, plan_type, amount, instalments, first_due_on, status,
                             offered_by, offered_at, answered_by, answered_at)
    select row_number() over (order by complaint_id), complaint_id, loan_id, 'instalments', 3000, 6,
           (received_at + to_days((hash(complaint_id, 47) % 20)::integer))::date + 14,
           case when hash(complaint_id, 48) % 3 = 0 then 'declined' else 'accepted' end, 'bench',
           received_at + to_days((hash(complaint_id, 47) % 20)::integer), 'customer',
           received_at + to_days((hash(complaint_id, 47) % 20)::integer + 2)
    from complaints
    where plan_type = 'instalments' and hash(complaint_id, 49) % 2 = 0
    """,
]


def synthesise(path: Path, loans: int, contacts_per_loan: int = 20) -> dict[str, int]:
    """Build the benchmark book in a fresh database file; return row counts."""
    first_month = END_MONTH.replace(day=1) - pd.DateOffset(months=11)
    params = {
        "time_ordered": os.environ.get("PORTAL_BENCH_RANDOM_ORDER") != "1",
        "loans": loans, "contacts": loans * contacts_per_loan, "payments": loans * 2,
        "complaints": max(loans // 50, 10), "first_month": first_month.date(),
    }

    def load(cur):
        for sql in SYNTH:
            names = [k for k in params if f"${k}" in sql]
            cur.execute(sql, {k: params[k] for k in names})

    db.write(load, db=path)
    return db.table_counts(db=path)


LOAN_COLS = ("loan_id", "product", "region", "risk_grade")
# The columns each timed query reads, derived tables included (the floor scans exactly these).
READS: dict[str, dict[str, tuple[str, ...]]] = {
    "overview_kpis": {
        "loans": LOAN_COLS, "snapshots": ("loan_id", "as_of", "dpd", "outstanding_principal", "overdue_amount"),
        "payments": ("loan_id", "paid_at", "amount"), "contacts": ("loan_id", "contact_at", "cost"),
        "complaints": ("loan_id", "received_at", "resolved_at", "extension_days", "extension_reason"),
    },
    "delinquency_funnel": {
        "loans": LOAN_COLS,
        "delinquent_month_activity": ("loan_id", "as_of", "is_attempted", "is_reached", "is_rpc", "is_ptp",
                                      "paid_amount", "next_dpd"),
    },
    "escalation_funnel": {
        "loans": LOAN_COLS,
        "delinquent_month_activity": ("loan_id", "as_of", "has_reminder", "has_phone", "has_visit", "has_legal"),
    },
    "channel_effectiveness": {
        "loans": LOAN_COLS,
        "contact_day_channel": ("contact_on", "channel", "product", "region", "risk_grade", "attempts", "reached",
                                "rpcs", "ptps", "cost"),
        "ptp_outcomes": ("loan_id", "contact_at", "channel", "is_kept"),
        "payment_attribution": ("loan_id", "paid_at", "amount", "contact_id", "channel"),
        "complaints": ("loan_id", "received_at", "channel"),
    },
    "collector_scorecard": {
        "loans": LOAN_COLS,
        "contact_day_collector": ("contact_on", "kind", "collector_id", "product", "region", "risk_grade",
                                  "attempts", "reached", "rpcs", "ptps", "cost"),
        "ptp_outcomes": ("loan_id", "contact_at", "agent_id", "agency_id", "is_kept"),
        "payment_attribution": ("loan_id", "paid_at", "amount", "contact_id", "agent_id", "agency_id"),
        "complaints": ("loan_id", "received_at", "agent_id", "agency_id"),
    },
    "vintage_curves": {"loans": (*LOAN_COLS, "disbursed_on"), "snapshots": ("loan_id", "as_of", "dpd")},
    "strategy_comparison": {
        "loans": LOAN_COLS, "snapshots": ("as_of",),
        "delinquent_month_activity": ("loan_id", "as_of", "next_as_of", "first_strategy", "paid_amount",
                                      "next_dpd"),
    },
    "roll_rates": {"loans": LOAN_COLS, "snapshots": ("loan_id", "as_of", "dpd")},
    "delinquency_buckets": {
        "loans": LOAN_COLS, "snapshots": ("loan_id", "as_of", "dpd", "outstanding_principal", "overdue_amount"),
    },
}
# The base-table columns the pandas implementations start from (they derive everything themselves).
PANDAS_COLS: dict[str, tuple[str, ...]] = {
    "loans": (*LOAN_COLS, "disbursed_on"),
    "snapshots": ("loan_id", "as_of", "dpd", "outstanding_principal", "overdue_amount"),
    "contacts": ("contact_id", "loan_id", "contact_at", "channel", "outcome", "agent_id", "strategy", "ptp_amount",
                 "ptp_due_on", "cost"),
    "payments": ("loan_id", "paid_at", "amount"),
    "complaints": ("loan_id", "received_at", "channel", "agent_id", "resolved_at", "extension_days",
                   "extension_reason"),
}


def refresh_derived(path: Path, names: list[str]) -> tuple[float, float, dict[str, float]]:
    """Rebuild the given derived tables from scratch (what a load pays); wall s, CPU s, seconds per table."""
    # forget their stamps so ensure_fresh rebuilds each one whole, in its own timed transaction
    db.execute("delete from derived_state where list_contains($names, name)", {"names": names}, db=path)
    start, cpu, each = time.perf_counter(), _cpu(), {}
    for name in names:
        began = time.perf_counter()
        derived.ensure_fresh([name], db=path)
        each[name] = time.perf_counter() - began
    return time.perf_counter() - start, _cpu() - cpu, each


def floor_seconds(path: Path, reads: dict[str, tuple[str, ...]]) -> float:
    """Seconds for a bare scan of the columns a query reads: a hash of every value, so that DuckDB cannot
    answer from its min/max statistics (as it does for max() or count(*)) and must read each column."""
    start = time.perf_counter()
    for table, cols in reads.items():
        # table and column names come from the fixed READS allow-list above
        sql = f"select sum(hash({', '.join(cols)})) from {table}"  # noqa: S608
        db.read(sql, db=path)
    return time.perf_counter() - start


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object, float]:
    """Median wall seconds of repeat runs, the last result, and the median CPU seconds (all threads)."""
    times, cpus, out = [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _cpu()
        out = fn()
        times.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return statistics.median(times), out, statistics.median(cpus)


# pandas equivalents (frames loaded once, as a cached Streamlit dashboard would hold them)

def load_frames(path: Path) -> dict[str, pd.DataFrame]:
    """Every column the dashboards read, as pandas frames."""
    frames = {}
    for table, cols in PANDAS_COLS.items():
        frames[table] = db.read(f"select {', '.join(cols)} from {table}", db=path)  # noqa: S608 (allow-listed)
    for col in ("channel", "outcome", "strategy", "agent_id", "agency_id"):
        if col in frames["contacts"]:
            frames["contacts"][col] = frames["contacts"][col].astype("category")
    for col in ("amount", "cost", "ptp_amount", "outstanding_principal", "overdue_amount"):
        for frame in frames.values():
            if col in frame:
                frame[col] = frame[col].astype(float)
    return frames


def _bound(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(TZ)


def _next_month_end(day: dt.date) -> dt.date:
    return (pd.Timestamp(day) + pd.offsets.MonthEnd(1)).date()


def pd_delinquency_funnel(f: dict[str, pd.DataFrame], as_of: dt.date) -> list[int]:
    """delinquency_funnel in pandas: the stage counts."""
    s, c, p = f["snapshots"], f["contacts"], f["payments"]
    nxt = _next_month_end(as_of)
    lo, hi = _bound(as_of + dt.timedelta(days=1)), _bound(nxt + dt.timedelta(days=1))
    cohort = s.loc[(s["as_of"] == pd.Timestamp(as_of)) & (s["dpd"] >= 1), "loan_id"]
    w = c[(c["contact_at"] >= lo) & (c["contact_at"] < hi)]
    w = w[w["loan_id"].isin(cohort)]
    pw = p[(p["paid_at"] >= lo) & (p["paid_at"] < hi)]
    cured = s[(s["as_of"] == pd.Timestamp(nxt)) & (s["dpd"] == 0) & s["loan_id"].isin(cohort)]
    return [
        len(cohort), w["loan_id"].nunique(),
        w.loc[w["outcome"].isin(taxonomy.REACH_OUTCOMES), "loan_id"].nunique(),
        w.loc[w["outcome"].isin(taxonomy.RPC_OUTCOMES), "loan_id"].nunique(),
        w.loc[w["outcome"] == "ptp", "loan_id"].nunique(),
        pw.loc[pw["loan_id"].isin(cohort), "loan_id"].nunique(), len(cured),
    ]


def pd_escalation_funnel(f: dict[str, pd.DataFrame], as_of: dt.date) -> list[int]:
    """escalation_funnel in pandas: loans per ladder step."""
    s, c = f["snapshots"], f["contacts"]
    lo, hi = _bound(as_of + dt.timedelta(days=1)), _bound(_next_month_end(as_of) + dt.timedelta(days=1))
    cohort = s.loc[(s["as_of"] == pd.Timestamp(as_of)) & (s["dpd"] >= 1), "loan_id"]
    w = c[(c["contact_at"] >= lo) & (c["contact_at"] < hi)]
    w = w[w["loan_id"].isin(cohort)]
    return [w.loc[w["channel"].isin(chs), "loan_id"].nunique() for chs in taxonomy.LADDER.values()]


def pd_effectiveness(f: dict[str, pd.DataFrame], key: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """channel_effectiveness (key='channel') or the agent scorecard (key='agent_id') in pandas."""
    c, p, q = f["contacts"], f["payments"], f["complaints"]
    lo, hi = _bound(start), _bound(end)
    pc = c[(c["contact_at"] >= lo) & (c["contact_at"] < hi)]
    if key != "channel":
        pc = pc[pc[key].notna()]
    reached = pc["outcome"].isin(taxonomy.REACH_OUTCOMES)
    out = pd.DataFrame({
        "attempts": pc.groupby(key, observed=True).size(),
        "reached": reached.groupby(pc[key], observed=True).sum(),
        "rpc": pc["outcome"].isin(taxonomy.RPC_OUTCOMES).groupby(pc[key], observed=True).sum(),
        "ptp": (pc["outcome"] == "ptp").groupby(pc[key], observed=True).sum(),
        "cost": pc.groupby(key, observed=True)["cost"].sum(),
    })
    ptps = pc.loc[pc["outcome"] == "ptp", ["contact_id", "loan_id", "contact_at", key, "ptp_amount", "ptp_due_on"]]
    due = pd.to_datetime(ptps["ptp_due_on"]) + pd.Timedelta(days=4)
    ptps = ptps.assign(closes_at=due.dt.tz_localize(TZ))
    joined = ptps.merge(p[["loan_id", "paid_at", "amount"]], on="loan_id", how="left")
    inside = (joined["paid_at"] >= joined["contact_at"]) & (joined["paid_at"] < joined["closes_at"])
    paid = joined["amount"].where(inside, 0.0).groupby(joined["contact_id"]).sum()
    ptps = ptps.assign(kept=ptps["contact_id"].map(paid).fillna(0.0) >= ptps["ptp_amount"])
    out["ptp_kept_rate"] = ptps.groupby(key, observed=True)["kept"].mean()
    # ties on contact_at go to the greatest contact_id (payment_attribution's rule): merge_asof takes the last
    reach = c.loc[c["outcome"].isin(taxonomy.REACH_OUTCOMES), ["contact_id", "loan_id", "contact_at", key]]
    reach = reach.sort_values(["contact_at", "contact_id"], kind="stable").drop(columns="contact_id")
    pays = p[(p["paid_at"] >= lo) & (p["paid_at"] < hi)].sort_values("paid_at")
    att = pd.merge_asof(pays, reach, left_on="paid_at", right_on="contact_at", by="loan_id", direction="backward")
    att = att[att["contact_at"] >= att["paid_at"] - pd.Timedelta(days=7)]
    out["recovered_amount"] = att.groupby(key, observed=True)["amount"].sum()
    complaint_key = "channel" if key == "channel" else key
    qp = q[(q["received_at"] >= lo) & (q["received_at"] < hi)]
    out["complaints"] = qp.groupby(complaint_key).size()
    out = out.fillna({"recovered_amount": 0.0, "complaints": 0})
    out["reach_rate"] = out["reached"] / out["attempts"]
    out["cost_per_yuan_recovered"] = out["cost"] / out["recovered_amount"].replace(0, np.nan)
    out["complaints_per_10k_attempts"] = out["complaints"] * 10000 / out["attempts"]
    return out


def pd_overview_kpis(f: dict[str, pd.DataFrame], as_of: dt.date) -> dict[str, float]:
    """The headline overview_kpis of one month-end in pandas."""
    s, c, p, q = f["snapshots"], f["contacts"], f["payments"], f["complaints"]
    prev = (pd.Timestamp(as_of) - pd.offsets.MonthEnd(1)).date()
    lo, hi = _bound(prev + dt.timedelta(days=1)), _bound(as_of + dt.timedelta(days=1))
    now = s[s["as_of"] == pd.Timestamp(as_of)]
    before = s[s["as_of"] == pd.Timestamp(prev)]
    pair = before.merge(now[["loan_id", "dpd"]], on="loan_id", how="left", suffixes=("", "_now"))
    m1 = pair[pair["dpd"].between(1, 30)]
    delinquent_prev = pair[pair["dpd"] >= 1]
    recovered = p.loc[(p["paid_at"] >= lo) & (p["paid_at"] < hi), "amount"].sum()
    cost = c.loc[(c["contact_at"] >= lo) & (c["contact_at"] < hi), "cost"].sum()
    ext = np.where(q["extension_reason"].fillna("").str.strip() != "", q["extension_days"], 0)
    due_at = q["received_at"] + pd.to_timedelta(15 + ext, unit="D")
    due = (due_at >= lo) & (due_at < hi)
    delinquent = int((now["dpd"] >= 1).sum())
    return {
        "overdue_balance": now.loc[now["dpd"] >= 1, "overdue_amount"].sum(),
        "delinquency_rate_amount": now.loc[now["dpd"] >= 1, "overdue_amount"].sum() / now["outstanding_principal"].sum(),
        "delinquency_rate_count": delinquent / len(now),
        "roll_m1_m2": m1["dpd_now"].between(31, 60).sum() / len(m1),
        "cure_rate": (delinquent_prev["dpd_now"] == 0).sum() / len(delinquent_prev),
        "recovered_amount": recovered, "cost_per_yuan_recovered": cost / recovered,
        "complaints_per_10k_overdue": ((q["received_at"] >= lo) & (q["received_at"] < hi)).sum() * 10000 / delinquent,
        "on_time_share": (due & (q["resolved_at"] <= due_at)).sum() / due.sum(),
    }


def pd_roll_rates(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """roll_rates in pandas."""
    s = f["snapshots"][["loan_id", "as_of", "dpd"]]
    bucket = pd.cut(s["dpd"], [-1, 0, 30, 60, 90, 120, 150, 180, np.inf], labels=list(taxonomy.BUCKETS)).astype(str)
    s = s.assign(bucket=bucket, next_as_of=s["as_of"] + pd.offsets.MonthEnd(1))
    months = set(s["as_of"])
    s = s[s["next_as_of"].isin(months)]
    nxt = s[["loan_id", "as_of", "bucket"]].rename(columns={"as_of": "next_as_of", "bucket": "to_bucket"})
    pairs = s.merge(nxt, on=["loan_id", "next_as_of"], how="left").fillna({"to_bucket": "closed"})
    counts = pairs.groupby(["as_of", "bucket", "to_bucket"]).size().rename("loans").reset_index()
    counts["share"] = counts["loans"] / counts.groupby(["as_of", "bucket"])["loans"].transform("sum")
    return counts


def pd_vintage_curves(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """vintage_curves in pandas (ever-M1+ share by cohort and months on book)."""
    loans, s = f["loans"], f["snapshots"]
    cohort = pd.to_datetime(loans["disbursed_on"]).dt.to_period("M")
    sizes = cohort.value_counts()
    first = s[s["dpd"] >= 1].groupby("loan_id")["as_of"].min()
    ev = pd.DataFrame({"cohort": cohort.array}, index=loans["loan_id"]).join(first.rename("first"), how="inner")
    ev["mob"] = (ev["first"].dt.to_period("M") - ev["cohort"]).apply(lambda d: d.n)
    counts = ev.groupby(["cohort", "mob"]).size().unstack(fill_value=0).cumsum(axis=1)
    return counts.div(sizes.reindex(counts.index), axis=0)


def pd_strategy_comparison(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """strategy_comparison in pandas: accounts, cure rate and recovered per account by strategy."""
    s, c, p = f["snapshots"], f["contacts"], f["payments"]
    months = sorted(set(s["as_of"]))
    with_next = {m for m in months if m + pd.offsets.MonthEnd(1) in set(months)}
    local = c["contact_at"].dt.tz_convert(TZ).dt.tz_localize(None).dt.normalize()
    window_of = local - pd.Timedelta(days=1) - pd.offsets.MonthEnd(0) * 0
    window_of = (local.dt.to_period("M") - 1).dt.to_timestamp(how="end").dt.normalize()
    cs = pd.DataFrame({"loan_id": c["loan_id"], "as_of": window_of, "at": c["contact_at"], "strategy": c["strategy"]})
    cs = cs[cs["strategy"].notna()].sort_values("at").drop_duplicates(["loan_id", "as_of"])
    d = s[(s["dpd"] >= 1) & s["as_of"].isin(with_next)][["loan_id", "as_of"]]
    treated = d.merge(cs[["loan_id", "as_of", "strategy"]], on=["loan_id", "as_of"])
    treated["next_as_of"] = treated["as_of"] + pd.offsets.MonthEnd(1)
    nxt = s[["loan_id", "as_of", "dpd"]].rename(columns={"as_of": "next_as_of"})
    treated = treated.merge(nxt, on=["loan_id", "next_as_of"], how="left")
    pw = (p["paid_at"].dt.tz_convert(TZ).dt.tz_localize(None).dt.to_period("M") - 1).dt.to_timestamp(how="end")
    paid = p.assign(as_of=pw.dt.normalize()).groupby(["loan_id", "as_of"])["amount"].sum().rename("recovered")
    treated = treated.join(paid, on=["loan_id", "as_of"]).fillna({"recovered": 0.0})
    return treated.groupby("strategy", observed=True).agg(
        accounts=("loan_id", "size"), cure_rate=("dpd", lambda x: (x == 0).mean()),
        recovered_per_account=("recovered", "mean"), recovered_sd=("recovered", "std"),
    )


def run(path: Path, loans: int, build: bool, with_pandas: bool = True) -> str:
    """Build (unless reusing) and benchmark; return the Markdown report."""
    lines = []
    if build or not path.exists():
        path.unlink(missing_ok=True)
        start = time.perf_counter()
        counts = synthesise(path, loans)
        build_s = time.perf_counter() - start
    else:
        counts, build_s = db.table_counts(db=path), float("nan")
    months = sorted(pd.Timestamp(m).date() for m in db.query("month_ends", db=path)["as_of"])
    last, cohort_month = months[-1], months[-2]
    period = {"start": months[0], "end": last + dt.timedelta(days=1)}
    cases = [
        ("overview_kpis", {"as_of": last}),
        ("delinquency_funnel", {"as_of": cohort_month}),
        ("escalation_funnel", {"as_of": cohort_month}),
        ("channel_effectiveness", period),
        ("collector_scorecard", {"by": "agent", **period}),
        ("collector_scorecard", {"by": "agency", **period}),
        ("vintage_curves", {}),
        ("strategy_comparison", period),
        ("delinquency_buckets", {"start": months[-12], "end": period["end"]}),
        ("roll_rates", {}),
        # a sidebar filter on the Channels page: the loan semi-join paths
        ("channel_effectiveness", {**period, "product": ["cash_loan"]}),
        ("collector_scorecard", {"by": "agent", **period, "product": ["cash_loan"]}),
        ("collector_scorecard", {"by": "agency", **period, "product": ["cash_loan"]}),
        ("strategy_comparison", {**period, "product": ["cash_loan"]}),
    ]

    # before any timing, also with --reuse: otherwise the first query pays for stale tables (ensure_fresh)
    used = sorted({t for name, _ in cases for t in derived.used_by(db.get_query(name).sql)})
    refresh_s, refresh_cpu, refresh_each = refresh_derived(path, used)

    load_before = os.getloadavg()[0]
    db.close(path)
    overview = [("month_ends", {}), ("filter_options", {}), ("overview_kpis", {"as_of": last}),
                ("delinquency_buckets", {"start": months[-12], "end": period["end"]})]
    start, cpu = time.perf_counter(), _cpu()
    for name, params in overview:
        db.query(name, db=path, **params)
    overview_cold, overview_cpu = time.perf_counter() - start, _cpu() - cpu

    results = []
    for name, params in cases:
        db.close(path)
        start = time.perf_counter()
        db.query(name, db=path, **params)
        cold = time.perf_counter() - start
        warm, _, warm_cpu = timed(lambda n=name, p=params: db.query(n, db=path, **p))
        floor, _, _ = timed(lambda n=name: floor_seconds(path, READS[n]))
        results.append((name, params, cold, warm, warm_cpu, floor))

    pandas_s, pandas_out, checks = {}, {}, "not run (--skip-pandas)."
    start = time.perf_counter()
    frames = load_frames(path) if with_pandas else {}
    load_s = time.perf_counter() - start
    pandas_impl = {
        "overview_kpis": lambda: pd_overview_kpis(frames, last),
        "delinquency_funnel": lambda: pd_delinquency_funnel(frames, cohort_month),
        "escalation_funnel": lambda: pd_escalation_funnel(frames, cohort_month),
        "channel_effectiveness": lambda: pd_effectiveness(frames, "channel", period["start"], period["end"]),
        "collector_scorecard": lambda: pd_effectiveness(frames, "agent_id", period["start"], period["end"]),
        "vintage_curves": lambda: pd_vintage_curves(frames),
        "strategy_comparison": lambda: pd_strategy_comparison(frames),
        "roll_rates": lambda: pd_roll_rates(frames),
    }
    for name, fn in pandas_impl.items() if with_pandas else ():
        pandas_s[name], pandas_out[name], _ = timed(fn, repeat=1)
    load_after = os.getloadavg()[0]
    if with_pandas:
        checks = cross_check(path, pandas_out, last, cohort_month, period)

    lines += [
        f"## {loans:,} loans" + ("" if with_pandas else ", SQL only"),
        "",
        f"Machine: {os.cpu_count()} cores, {_memory_gib():.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, pandas {pd.__version__}.",
        "",
        "Rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + (f". Synthesised in {build_s:.1f} s." if build_s == build_s else "."),
        "",
        f"Load average (1 min) on this shared machine: {load_before:.1f} before, {load_after:.1f} after the run; "
        "CPU s is the time DuckDB's threads spent on the CPU (all threads), which contention inflates far less "
        "than wall time.",
        "",
        "Derived tables these queries read, each rebuilt from scratch (the load-time cost, paid per upload for "
        f"the loans or months it touches instead of on every view): "
        f"**{refresh_s:.1f} s** wall, {refresh_cpu:.1f} s CPU; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in refresh_each.items()) + ".",
        "",
        f"Overview page queries together (month_ends, filter_options, overview_kpis, delinquency_buckets), "
        f"cold: **{overview_cold:.3f} s** wall, {overview_cpu:.3f} s CPU (target < 2 s).",
        "",
        "| query | params | cold s | warm s | warm CPU s | floor s | warm / floor | pandas s | pandas / warm |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, params, cold, warm, warm_cpu, floor in results:
        shown = ", ".join(f"{k}={v if k != 'product' else ','.join(v)}" for k, v in params.items()
                          if k in ("as_of", "by", "product")) or "all"
        no_pandas = (name == "collector_scorecard" and params.get("by") == "agency") or "product" in params
        pd_s = None if no_pandas else pandas_s.get(name)
        pd_cell = f"{pd_s:.3f}" if pd_s is not None else "–"
        ratio = f"{pd_s / warm:.1f}x" if pd_s is not None else "–"
        lines.append(f"| {name} | {shown} | {cold:.3f} | {warm:.3f} | {warm_cpu:.3f} | {floor:.3f} | {warm / floor:.1f}x "
                     f"| {pd_cell} | {ratio} |")
    lines += [
        "",
        f"pandas load of every column the dashboards read: {load_s:.1f} s (once; not in the pandas column)."
        if with_pandas else "pandas: not run.",
        "",
        "Cross-check of the pandas implementations against the SQL results: " + checks,
        "",
    ]
    return "\n".join(lines)


def cross_check(path: Path, results: dict, last, cohort_month, period) -> str:
    """Compare headline numbers of the pandas and SQL implementations; return a one-line verdict."""
    failures = []
    funnel = db.query("delinquency_funnel", db=path, as_of=cohort_month)["loans"].tolist()
    if funnel != results["delinquency_funnel"]:
        failures.append("delinquency_funnel")
    if db.query("escalation_funnel", db=path, as_of=cohort_month)["loans"].tolist() != results["escalation_funnel"]:
        failures.append("escalation_funnel")
    sql = db.query("channel_effectiveness", db=path, **period).set_index("channel")
    pdf = results["channel_effectiveness"]
    for col in ("attempts", "recovered_amount", "ptp_kept_rate", "complaints"):
        if not np.allclose(sql[col].astype(float), pdf[col].reindex(sql.index).astype(float), equal_nan=True):
            failures.append(f"channel_effectiveness.{col}")
    kpi = db.query("overview_kpis", db=path, as_of=last).iloc[0]
    for col, value in results["overview_kpis"].items():
        # the SQL rounds cost per yuan to 4 decimals
        if not np.isclose(float(kpi[col]), float(value), rtol=1e-6, atol=5e-5):
            failures.append(f"overview_kpis.{col}")
    strat = db.query("strategy_comparison", db=path, **period).set_index("strategy")
    pstrat = results["strategy_comparison"]
    if not (strat["accounts"] == pstrat["accounts"].reindex(strat.index)).all():
        failures.append("strategy_comparison.accounts")
    return "all equal." if not failures else "DIFFERENT: " + ", ".join(failures)


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="database file (default: /tmp/bench_dashboards_N.duckdb)")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing benchmark database")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS_dashboards.md")
    parser.add_argument("--skip-pandas", action="store_true", help="time only DuckDB and the floor")
    args = parser.parse_args()
    path = args.db or Path(f"/tmp/bench_dashboards_{args.loans}.duckdb")
    report = run(path, args.loans, build=not args.reuse, with_pandas=not args.skip_pandas)
    print(report)
    header = "# Dashboard query benchmark\n\n" + (__doc__ or "").split("\n\n", 1)[1].strip() + "\n"
    previous = args.out.read_text(encoding="utf-8") if args.out.exists() else header
    # one section per size (and mode): replace this run's section, keep the others
    parts = previous.split("\n## ")
    title = report.split("\n", 1)[0].removeprefix("## ")
    kept = [parts[0].rstrip()] + ["## " + p.rstrip() for p in parts[1:] if p.split("\n", 1)[0] != title]
    args.out.write_text("\n\n".join([*kept, report.rstrip()]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
