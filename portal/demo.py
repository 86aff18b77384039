"""Deterministic synthetic data: a realistic lender with 12 month-ends of collections history.

Everything is drawn from one seeded numpy Generator, so the same (loans, seed, end_month) gives the
same database. By default the book ends at the last month-end before today, so its SLA clocks and on-time
figures read like a live book; pass end_month (`portal demo --end-month YYYY-MM`) to pin a build.
Numbers are drawn vectorised in numpy and formatted into IDs by DuckDB, so 50,000 loans take seconds
and 1,000,000 loans about a minute.

Planted effects (recovered by tests and the improvement loop):
- the `challenger` strategy calls earlier and more often and cures about 6 points more M1 loans;
- cure rates rise with right-party contact and promises to pay (channel mix matters);
- eight agents call in quiet hours and bunch their calls over the daily caps;
- complaints are likelier after heavy, off-hours or third-party contact;
- agency AG03 capped connected calls from planted_action_start(end_month) (five months before the last
  month-end), cutting its complaint rate to 0.4x.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from portal import complaints as complaint_log
from portal import config, db, derived, taxonomy

FIXED_END_MONTH = dt.date(2026, 10, 31)  # the end month tests pin, so their expectations never move
MONTHS = 12
BURN_IN_MONTHS = 6
PLANTED_AGENCY = "AG03"
N_AGENCIES = 5
BAD_AGENT_COUNT = 8
CHALLENGER_SHARE = 0.4

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉斌宇浩凯健俊帆帅旭宁亮")
PROVINCES = [
    ("北京", "110101", "north"), ("上海", "310101", "east"), ("广东", "440103", "south"),
    ("浙江", "330102", "east"), ("江苏", "320102", "east"), ("四川", "510104", "west"),
    ("湖北", "420102", "central"), ("河南", "410102", "central"), ("山东", "370102", "north"),
    ("辽宁", "210102", "northeast"), ("陕西", "610102", "west"), ("福建", "350102", "south"),
]
MOBILE_PREFIXES = ["130", "133", "135", "136", "138", "139", "150", "151", "158", "177", "186", "188", "199"]
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))
CHANNEL_COST = {"sms": 0.05, "app": 0.01, "phone": 2.5, "letter": 8.0, "social": 0.2, "visit": 150.0, "legal": 800.0}
CHANNEL_CODE = {c: i for i, c in enumerate(taxonomy.CHANNELS)}
OUTCOME_CODE = {o: i for i, o in enumerate(taxonomy.OUTCOMES)}
OUTCOME_P = {
    "sms": {"delivered": 0.9, "failed": 0.1},
    "app": {"sent": 0.6, "delivered": 0.35, "failed": 0.05},
    "letter": {"sent": 0.85, "delivered": 0.15},
    "social": {"sent": 0.5, "delivered": 0.45, "failed": 0.05},
    "phone": {"no_answer": 0.52, "failed": 0.05, "third_party": 0.07, "rpc": 0.17, "ptp": 0.13, "refused": 0.06},
    "visit": {"failed": 0.35, "third_party": 0.15, "rpc": 0.25, "ptp": 0.2, "refused": 0.05},
    "legal": {"filed": 1.0},
}
ROOT_CAUSES = (
    "excessive_call_frequency", "calls_outside_permitted_hours", "third_party_contact",
    "agent_conduct", "billing_error", "unclear_communication", "hardship_not_assessed",
)


@dataclass(frozen=True)
class DemoSummary:
    """What `portal demo` built: row counts and seconds taken."""

    path: Path
    counts: dict[str, int]
    seconds: float


def month_ends(end_month: dt.date, months: int = MONTHS) -> list[dt.date]:
    """The `months` month-ends ending at end_month, oldest first."""
    out = []
    year, month = end_month.year, end_month.month
    for _ in range(months):
        first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
        out.append(first_next - dt.timedelta(days=1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def current_end_month(today: dt.date | None = None) -> dt.date:
    """The last month-end before today (in the portal's timezone): a demo ending there reads as a live book."""
    if today is None:
        from zoneinfo import ZoneInfo

        today = dt.datetime.now(ZoneInfo(config.setting("timezone"))).date()
    return today.replace(day=1) - dt.timedelta(days=1)


def planted_action_start(end_month: dt.date) -> dt.date:
    """The first day of the month five months before end_month's: when agency AG03's planted action starts."""
    months = end_month.year * 12 + end_month.month - 1 - 5
    return dt.date(months // 12, months % 12 + 1, 1)


PLANTED_ACTION_START = planted_action_start(FIXED_END_MONTH)


def _id_numbers(rng: np.random.Generator, region_codes: np.ndarray) -> np.ndarray:
    n = len(region_codes)
    birth = pd.to_datetime("1965-01-01") + pd.to_timedelta(rng.integers(0, 38 * 365, n), unit="D")
    seq = rng.integers(0, 1000, n)
    body = np.char.add(np.char.add(region_codes.astype("U6"), birth.strftime("%Y%m%d").to_numpy().astype("U8")),
                       np.char.zfill(seq.astype("U3"), 3))
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17) - ord("0")
    check = ID_CHECK[(digits * ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(body, check)


def _customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    prov = rng.integers(0, len(PROVINCES), n)
    names = np.char.add(np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)],
                        np.array(GIVEN)[rng.integers(0, len(GIVEN), n)])
    two = rng.random(n) < 0.5
    names = np.where(two, np.char.add(names, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]), names)
    mobiles = np.char.add(np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)],
                          np.char.zfill(rng.integers(0, 10**8, n).astype("U8"), 8))
    region_codes = np.array([p[1] for p in PROVINCES])[prov]
    opted = np.where(rng.random(n) < 0.03, "social", None)
    return pd.DataFrame({
        "cust_idx": np.arange(n, dtype=np.int64), "name": names, "mobile": mobiles,
        "id_number": _id_numbers(rng, region_codes), "province": np.array([p[0] for p in PROVINCES])[prov],
        "opted_out_channels": opted,
    })


def build(path: str | Path | None = None, *, loans: int = 50_000, seed: int = 7,
          end_month: dt.date | None = None, contacts_scale: float = 1.0) -> DemoSummary:
    """Build (replace) the demo data in the database at path and return what was written.

    end_month defaults to current_end_month(): the last month-end before today.
    """
    started = time.perf_counter()
    end_month = end_month or current_end_month()
    planted_start = planted_action_start(end_month)
    rng = np.random.default_rng(seed)
    ends = month_ends(end_month)
    all_ends = month_ends(end_month, MONTHS + BURN_IN_MONTHS)
    n_loans = int(loans)
    n_cust = max(1, int(n_loans * 0.85))
    customers = _customers(rng, n_cust)
    loan_cust = np.concatenate([np.arange(n_cust), rng.integers(0, n_cust, n_loans - n_cust)])[:n_loans]
    rng.shuffle(loan_cust)
    grade = rng.choice(5, n_loans, p=[0.25, 0.3, 0.25, 0.13, 0.07])
    product = rng.choice(3, n_loans, p=[0.5, 0.35, 0.15])
    principal = np.round(np.clip(rng.lognormal(9.6, 0.6, n_loans), 1000, 200_000) / 100) * 100
    term = rng.choice(np.array([3, 6, 12, 24, 36]), n_loans, p=[0.1, 0.2, 0.4, 0.2, 0.1])
    rate = np.round(0.072 + grade * 0.05 + rng.random(n_loans) * 0.04, 4)
    first_day = pd.Timestamp(ends[0]) - pd.DateOffset(months=24)
    span_days = (pd.Timestamp(ends[-1]) - first_day).days
    disbursed = (first_day + pd.to_timedelta(rng.integers(0, span_days, n_loans), unit="D")).normalize()
    region = np.array([p[2] for p in PROVINCES])[rng.integers(0, len(PROVINCES), n_loans)]
    strategy = (rng.random(n_loans) < CHALLENGER_SHARE).astype(np.int8)
    instalment = principal * (1 + rate * term / 12) / term
    loans_df = pd.DataFrame({
        "loan_idx": np.arange(n_loans, dtype=np.int64), "cust_idx": loan_cust,
        "product": np.array(taxonomy.PRODUCTS)[product], "principal": principal, "annual_rate": rate,
        "term_months": term, "disbursed_on": disbursed.date, "region": region,
        "risk_grade": np.array(taxonomy.RISK_GRADES)[grade],
    })

    n_agents = 150
    agent_agency = np.where(rng.random(n_agents) < 0.55, 0, rng.integers(1, N_AGENCIES + 1, n_agents))
    bad_agents = rng.choice(n_agents, BAD_AGENT_COUNT, replace=False)
    agent_is_bad = np.zeros(n_agents, bool)
    agent_is_bad[bad_agents] = True

    disb_ord = disbursed.year * 12 + disbursed.month
    state = np.full(n_loans, -2, np.int8)  # -2 not yet disbursed, -1 closed, 0..7 bucket
    dpd = np.zeros(n_loans, np.int32)
    months_in_bucket = np.zeros(n_loans, np.int32)
    base_p_m1 = np.array([0.012, 0.02, 0.035, 0.06, 0.1])[grade]

    snap_parts, contact_parts, payment_parts, complaint_parts = [], [], [], []
    prev_flags = np.zeros((n_loans, 3), bool)
    was_active = state >= 0
    plan_sim = _PlanSim(seed, n_loans, all_ends, product, grade)
    for mi, as_of in enumerate(all_ends):
        recorded = mi >= BURN_IN_MONTHS
        month_ord = as_of.year * 12 + as_of.month
        new = (state == -2) & (disb_ord <= month_ord)
        state[new] = 0
        mob = month_ord - disb_ord
        if mi == 0:
            seasoned = new & (mob >= 2)
            start_bucket = rng.choice(8, n_loans, p=[0.944, 0.02, 0.01, 0.007, 0.005, 0.004, 0.003, 0.007])
            state[seasoned] = start_bucket[seasoned]
            state[new & (mob >= term) & (state == 0)] = -1
            lo0 = np.array([0, 1, 31, 61, 91, 121, 151, 181])[state.clip(0, 7)]
            dpd = np.where(state > 0, lo0 + rng.integers(0, 30, n_loans), 0).astype(np.int32)
        if mi > 0:
            state, dpd, months_in_bucket = _transition(
                rng, state, dpd, months_in_bucket, prev_flags, base_p_m1, strategy, mob, term, was_active)
            plan_sim.observe(mi, state)
        active = state >= 0
        outstanding = np.round(principal * np.clip(1 - 0.85 * np.clip(mob, 0, None) / term, 0.05, 1), 2)
        overdue = np.where(dpd > 0, np.round(np.minimum(instalment * np.ceil(dpd / 30), outstanding * 1.1), 2), 0.0)
        cohort = np.flatnonzero(active & (dpd > 0))
        was_active = active.copy()
        if not recorded:
            # Burn-in months settle the book into its steady state; only their outcomes are kept.
            prev_flags = rng.random((n_loans, 3)) < np.array([0.4, 0.25, 0.2])
            continue
        idx = np.flatnonzero(active)
        snap_parts.append(pd.DataFrame({
            "loan_idx": idx, "as_of": as_of, "dpd": dpd[idx],
            "outstanding_principal": outstanding[idx], "overdue_amount": overdue[idx],
        }))
        prev_flags = np.zeros((n_loans, 3), bool)  # rpc, ptp, heavy contact
        if mi == len(all_ends) - 1:
            break
        window_start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
        window_days = (all_ends[mi + 1] - as_of).days
        plan_sim.choose(mi, as_of, cohort, state, overdue, window_days, len(all_ends) - 1 - mi)
        contacts, flags, payments, complaints = _month_of_collections(
            rng, cohort, state, overdue, strategy, window_start, window_days, agent_agency, agent_is_bad,
            contacts_scale, n_agents, planted_start)
        prev_flags[cohort] = flags
        contact_parts.append(contacts)
        payment_parts.append(payments)
        complaint_parts.append(complaints)

    plan_frame, plan_requests, plan_payments = plan_sim.finish(end_month)
    payment_parts.append(plan_payments)
    snapshots = plan_sim.apply(pd.concat(snap_parts, ignore_index=True))
    contacts = pd.concat(contact_parts, ignore_index=True)
    payments = pd.concat(payment_parts, ignore_index=True)
    complaints = _complaint_details(rng, pd.concat(complaint_parts, ignore_index=True), end_month)
    agents = pd.DataFrame({"agent_idx": np.arange(n_agents), "agency": agent_agency})
    plan_rows = _PlanRows(plan_sim, plan_frame, plan_requests, end_month)
    counts = _write(path, customers, loans_df, snapshots, contacts, payments, complaints, agents, planted_start,
                    plan_rows)
    _resolve_plan_requests(path, plan_rows)
    db.checkpoint(db=path)
    return DemoSummary(config.db_path(path), counts, time.perf_counter() - started)


def _transition(rng, state, dpd, months_in_bucket, flags, base_p_m1, strategy, mob, term, was_active):
    """Move every active loan one month: pay down, cure, stay, roll forward, or close."""
    n = len(state)
    u = rng.random(n)
    new_state = state.copy()
    current = was_active & (state == 0)
    matured = current & (mob >= term)
    prepay = current & (rng.random(n) < 0.015)
    new_state[matured | prepay] = -1
    to_m1 = current & ~matured & ~prepay & (u < base_p_m1)
    new_state[to_m1] = 1

    delinquent = was_active & (state >= 1)
    b = np.clip(state, 0, 7)
    rpc, ptp, heavy = flags[:, 0], flags[:, 1], flags[:, 2]
    base_cure = np.array([0, 0.22, 0.12, 0.07, 0.04, 0.03, 0.02, 0.01])[b]
    cure = base_cure + 0.12 * rpc + 0.22 * ptp + 0.05 * heavy
    cure = cure + np.where((strategy == 1) & (b <= 2), 0.06, 0.0)
    roll = np.array([0, 0.30, 0.45, 0.6, 0.7, 0.75, 0.8, 0.0])[b] * np.where(ptp, 0.6, 1.0)
    u2 = rng.random(n)
    cured = delinquent & (u2 < cure)
    rolled = delinquent & ~cured & (u2 < cure + roll) & (b < 7)
    written_off = delinquent & (b == 7) & (months_in_bucket >= 2) & (rng.random(n) < 0.35)
    new_state[cured] = 0
    new_state[rolled] = np.minimum(state[rolled] + 1, 7)
    new_state[written_off] = -1
    stayed = new_state == state
    months_in_bucket = np.where(stayed, months_in_bucket + 1, 0)
    lo = np.array([0, 1, 31, 61, 91, 121, 151, 181])[np.clip(new_state, 0, 7)]
    width = np.where(new_state == 7, 30 + 30 * months_in_bucket, 30)
    new_dpd = np.where(new_state <= 0, 0, lo + rng.integers(0, 30, n) % width)
    return new_state, new_dpd.astype(np.int32), months_in_bucket


def _month_of_collections(rng, cohort, state, overdue, strategy, window_start, window_days, agent_agency,
                          agent_is_bad, scale, n_agents, planted_start):
    """Contacts, payments and complaints for one month's delinquent cohort, plus per-loan flags."""
    k = len(cohort)
    if k == 0:
        cohort = np.array([], dtype=np.int64)
    b = state[cohort]
    chal = strategy[cohort] == 1
    lam = {
        "sms": np.where(b == 1, 5.0, 3.0),
        "app": np.where(b == 1, 3.0, 1.5),
        "phone": np.where(b == 1, np.where(chal, 7.5, 4.5), np.where(b == 2, 8.0, 6.0)),
        "letter": np.where(b >= 2, 0.8, 0.1),
        "social": np.where(b >= 2, 0.8, 0.2),
        "visit": np.where(b >= 3, 0.35, 0.0),
        "legal": np.where(b >= 4, 0.15, 0.0),
    }
    agent = rng.integers(0, n_agents, k)
    bad = agent_is_bad[agent]
    frames = []
    for ch in taxonomy.CHANNELS:
        counts = rng.poisson(lam[ch] * scale)
        if ch == "phone":
            counts = counts + np.where(bad, 4, 0)
        total = int(counts.sum())
        if total == 0:
            continue
        pos = np.repeat(np.arange(k), counts)
        probs = OUTCOME_P[ch]
        outcomes = rng.choice(np.array([OUTCOME_CODE[o] for o in probs]), total, p=list(probs.values()))
        spread = np.where(chal[pos] & (ch == "phone"), window_days // 2, window_days)
        day = rng.integers(0, 1 << 30, total) % np.maximum(spread, 1)
        if ch == "phone":
            day = np.where(bad[pos], day % 2, day)
        hour = rng.choice(np.arange(8, 21), total)
        quiet = bad[pos] & (rng.random(total) < 0.25)
        hour = np.where(quiet, rng.choice(np.array([6, 7, 22, 23]), total), hour)
        if ch == "letter":
            hour = np.where(rng.random(total) < 0.5, 0, hour)
        seconds = hour * 3600 + rng.integers(0, 3600, total)
        wall = window_start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(seconds, unit="s")
        staffed = ch in ("phone", "visit", "social")
        party = np.where(outcomes == OUTCOME_CODE["third_party"], 1, 0)
        is_ptp = outcomes == OUTCOME_CODE["ptp"]
        ptp_amount = np.where(is_ptp, np.round(overdue[cohort[pos]] * rng.uniform(0.5, 1.0, total), 2), np.nan)
        ptp_due = np.where(is_ptp, day + rng.integers(3, 11, total), -1)
        connected = np.isin(outcomes, [OUTCOME_CODE[o] for o in taxonomy.RPC_OUTCOMES])
        duration = np.where(ch == "phone", np.where(connected, rng.integers(60, 600, total),
                                                    rng.integers(0, 30, total)), -1)
        collectors = np.where(ch == "visit", np.where(rng.random(total) < 0.15, 1, 2), -1)
        cost = CHANNEL_COST[ch] + np.where(duration > 0, duration / 60 * 0.4, 0)
        frames.append(pd.DataFrame({
            "pos": pos, "loan_idx": cohort[pos], "wall": wall, "channel": CHANNEL_CODE[ch],
            "party": party, "outcome": outcomes, "agent": np.where(staffed, agent[pos], -1),
            "strategy": strategy[cohort[pos]], "ptp_amount": ptp_amount, "ptp_day": ptp_due,
            "cost": np.round(cost, 2), "collectors": collectors, "duration_s": duration,
            "quiet": quiet, "day": day,
        }))
    if not frames:
        frames.append(pd.DataFrame({"pos": pd.Series([], dtype=np.int64)}))
    contacts = pd.concat(frames, ignore_index=True).sort_values(["loan_idx", "wall"], kind="stable")
    rpc_codes = [OUTCOME_CODE[o] for o in taxonomy.RPC_OUTCOMES]
    had_rpc = np.bincount(contacts["pos"], weights=contacts["outcome"].isin(rpc_codes), minlength=k) > 0
    had_ptp = np.bincount(contacts["pos"], weights=contacts["outcome"] == OUTCOME_CODE["ptp"], minlength=k) > 0
    n_calls = np.bincount(contacts["pos"], weights=contacts["channel"] == CHANNEL_CODE["phone"], minlength=k)
    heavy = n_calls >= 10
    flags = np.column_stack([had_rpc, had_ptp, heavy])

    first_ptp = contacts[contacts["outcome"] == OUTCOME_CODE["ptp"]].drop_duplicates("pos")
    pays = []
    will_cure = rng.random(k) < (0.25 + 0.35 * had_ptp + 0.1 * had_rpc)
    kept = first_ptp[will_cure[first_ptp["pos"].to_numpy()]]
    if len(kept):
        late = rng.choice(np.array([0, 0, 0, 1, 2, 3]), len(kept))
        pays.append(pd.DataFrame({
            "loan_idx": kept["loan_idx"].to_numpy(),
            "wall": window_start + pd.to_timedelta(np.minimum(kept["ptp_day"].to_numpy() + late, window_days - 1),
                                                   unit="D") + pd.Timedelta(hours=12),
            "amount": kept["ptp_amount"].to_numpy(),
        }))
    others = np.flatnonzero(~had_ptp & will_cure)
    if len(others):
        pays.append(pd.DataFrame({
            "loan_idx": cohort[others],
            "wall": window_start + pd.to_timedelta(rng.integers(0, window_days, len(others)), unit="D")
            + pd.to_timedelta(rng.integers(8 * 3600, 22 * 3600, len(others)), unit="s"),
            "amount": np.round(np.maximum(overdue[cohort[others]], 1.0) * rng.uniform(0.3, 1.0, len(others)), 2),
        }))
    payments = pd.concat(pays, ignore_index=True) if pays else pd.DataFrame(columns=["loan_idx", "wall", "amount"])
    payments = payments[payments["amount"] > 0]

    quiet_n = np.bincount(contacts["pos"], weights=contacts["quiet"], minlength=k)
    third = np.bincount(contacts["pos"], weights=contacts["party"], minlength=k)
    lone_visit = np.bincount(contacts["pos"], weights=contacts["collectors"] == 1, minlength=k)
    agency = agent_agency[agent]
    p = 0.004 + 0.0015 * n_calls + 0.05 * (quiet_n > 0) + 0.012 * (third > 0) + 0.04 * (lone_visit > 0)
    planted = (agency == int(PLANTED_AGENCY[2:])) & (window_start.date() >= planted_start)
    p = np.where(planted, p * 0.4, p)
    p = np.where(agency == int(PLANTED_AGENCY[2:]), p * 1.8, p)
    hit = np.flatnonzero(rng.random(k) < np.clip(p, 0, 0.9))
    cause = np.select(
        [quiet_n[hit] > 0, third[hit] > 0, lone_visit[hit] > 0, n_calls[hit] >= 10],
        [1, 2, 3, 1], default=0)
    complaints = pd.DataFrame({
        "loan_idx": cohort[hit], "agent": agent[hit], "agency": agency[hit], "cause": cause,
        "wall": window_start + pd.to_timedelta(rng.integers(3, max(window_days, 4) + 10, len(hit)), unit="D")
        + pd.to_timedelta(rng.integers(8 * 3600, 21 * 3600, len(hit)), unit="s"),
    })
    contacts = contacts.drop(columns=["pos", "quiet", "day"])
    contacts["ptp_due_on"] = (window_start + pd.to_timedelta(contacts["ptp_day"].clip(lower=0), unit="D")).where(
        contacts["ptp_day"] >= 0)
    return contacts.drop(columns=["ptp_day"]), flags, payments, complaints


def _complaint_details(rng, frame: pd.DataFrame, end_month: dt.date) -> pd.DataFrame:
    """Issue, channel, status and resolution for each generated complaint."""
    n = len(frame)
    issue_for_cause = np.array(["other", "communication_tactics", "third_party_disclosure", "threatened_action"])
    generic = np.array(["debt_not_owed", "fees_or_amount", "repayment_plan_request", "service_quality",
                        "written_notification", "privacy", "false_representation", "communication_tactics"])
    issue = np.where(frame["cause"] > 0, issue_for_cause[frame["cause"]], generic[rng.integers(0, len(generic), n)])
    channel = np.select([issue == "third_party_disclosure", issue == "threatened_action",
                         issue == "communication_tactics"], ["phone", "visit", "phone"],
                        default=np.where(rng.random(n) < 0.5, "phone", "sms"))
    now = pd.Timestamp(end_month) + pd.Timedelta(days=1)
    received = frame["wall"].where(frame["wall"] < now - pd.Timedelta(hours=1), now - pd.Timedelta(days=1))
    age_days = (now - received).dt.days.to_numpy()
    extension = np.where(rng.random(n) < 0.08, np.where(rng.random(n) < 0.7, 15, 45), 0)
    took = np.clip(rng.gamma(4, 2.6, n), 0.2, 75)
    took = np.where(rng.random(n) < 0.06, took + 14, took)
    resolved = took < age_days
    status = np.where(resolved, np.where(age_days - took > 10, "closed", "resolved"),
                      np.array(["new", "triaged", "investigating"])[np.minimum(age_days // 4, 2)])
    resolution = np.where(resolved, rng.choice(np.array(taxonomy.RESOLUTIONS), n,
                                               p=[0.45, 0.1, 0.15, 0.2, 0.1]), None)
    root = np.where(resolved, np.array(ROOT_CAUSES)[np.select(
        [issue == "communication_tactics", issue == "third_party_disclosure", issue == "threatened_action",
         issue == "fees_or_amount"], [rng.integers(0, 2, n), 2, 3, 4], default=rng.integers(3, 7, n))], None)
    source = rng.choice(np.array(taxonomy.COMPLAINT_SOURCES), n, p=[0.3, 0.35, 0.15, 0.08, 0.07, 0.05])
    return pd.DataFrame({
        "loan_idx": frame["loan_idx"].to_numpy(), "wall": received, "source": source, "issue": issue,
        "channel": channel, "agent": frame["agent"].to_numpy(), "agency": frame["agency"].to_numpy(),
        "status": status, "resolved_wall": (received + pd.to_timedelta(took, unit="D")).where(resolved),
        "extension_days": extension, "resolution": resolution, "root_cause": root,
    })


def _write(path, customers, loans, snapshots, contacts, payments, complaints, agents,
           planted_start: dt.date, plan_rows: _PlanRows | None = None) -> dict[str, int]:
    """Replace the six datasets and the planted improvement action in one transaction."""

    def work(cur):
        for table in ("customers", "loans", "snapshots", "contacts", "payments", "complaints",
                      "quarantine", "improvement_actions"):
            cur.execute(f"delete from {table}")  # noqa: S608 (fixed allow-list)
        complaint_log.reset_chain(cur)
        cur.execute("delete from uploads where dataset like 'demo:%'")
        cur.register("g_customers", customers)
        cur.register("g_loans", loans)
        cur.register("g_snapshots", snapshots)
        cur.register("g_contacts", contacts)
        cur.register("g_payments", payments)
        cur.register("g_complaints", complaints)
        cur.register("g_agents", agents)
        cur.execute("""
            insert into customers (customer_id, name, mobile, id_number, province, timezone, opted_out_channels)
            select 'C' || lpad(cust_idx::varchar, 8, '0'), name, mobile, id_number, province,
                   'Asia/Shanghai', opted_out_channels
            from g_customers order by cust_idx""")
        cur.execute("""
            insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months,
                               disbursed_on, region, risk_grade)
            select 'L' || lpad(loan_idx::varchar, 8, '0'), 'C' || lpad(cust_idx::varchar, 8, '0'), product,
                   principal, annual_rate, term_months, disbursed_on, region, risk_grade
            from g_loans order by loan_idx""")
        cur.execute("""
            insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount)
            select 'L' || lpad(loan_idx::varchar, 8, '0'), as_of, dpd, outstanding_principal, overdue_amount
            from g_snapshots order by as_of, loan_idx""")
        channels = list(taxonomy.CHANNELS)
        outcomes = list(taxonomy.OUTCOMES)
        cur.execute("""
            insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, agency_id,
                                  strategy, ptp_amount, ptp_due_on, cost, collectors, duration_s)
            select 'K' || lpad((row_number() over (order by c.wall, c.loan_idx))::varchar, 9, '0'),
                   'L' || lpad(c.loan_idx::varchar, 8, '0'),
                   timezone('Asia/Shanghai', c.wall::timestamp),
                   $channels[c.channel + 1], case when c.party = 1 then 'third_party' else 'debtor' end,
                   $outcomes[c.outcome + 1],
                   case when c.agent >= 0 then 'A' || lpad(c.agent::varchar, 3, '0') end,
                   case when c.agent >= 0 and a.agency > 0 then 'AG' || lpad(a.agency::varchar, 2, '0') end,
                   case when c.strategy = 1 then 'challenger' else 'champion' end,
                   c.ptp_amount, c.ptp_due_on::date, c.cost,
                   case when c.collectors >= 0 then c.collectors end,
                   case when c.duration_s >= 0 then c.duration_s end
            from g_contacts c left join g_agents a on a.agent_idx = c.agent
            order by c.wall, c.loan_idx""", {"channels": channels, "outcomes": outcomes})
        cur.execute("""
            insert into payments (payment_id, loan_id, paid_at, amount)
            select 'P' || lpad((row_number() over (order by wall, loan_idx))::varchar, 9, '0'),
                   'L' || lpad(loan_idx::varchar, 8, '0'), timezone('Asia/Shanghai', wall::timestamp), amount
            from g_payments order by wall, loan_idx""")
        cur.execute("""
            insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, channel,
                                    agent_id, agency_id, narrative, status, resolved_at, extension_days,
                                    extension_reason, resolution, root_cause)
            select 'CMP' || lpad((row_number() over (order by c.wall, c.loan_idx))::varchar, 7, '0'),
                   timezone('Asia/Shanghai', c.wall::timestamp), c.source, l.customer_id,
                   'L' || lpad(c.loan_idx::varchar, 8, '0'), c.issue, c.channel,
                   'A' || lpad(c.agent::varchar, 3, '0'),
                   case when c.agency > 0 then 'AG' || lpad(c.agency::varchar, 2, '0') end,
                   'Demo complaint about ' || c.issue || ' via ' || c.channel || '.', c.status,
                   timezone('Asia/Shanghai', c.resolved_wall::timestamp), c.extension_days,
                   case when c.extension_days > 0 then 'Complex case: records requested from agency' end,
                   c.resolution, c.root_cause
            from g_complaints c join loans l on l.loan_id = 'L' || lpad(c.loan_idx::varchar, 8, '0')
            order by c.wall, c.loan_idx""")
        ids = [row[0] for row in cur.execute("select complaint_id from complaints order by complaint_id").fetchall()]
        complaint_log.record_import_events(cur, ids, "demo")
        cur.execute("""
            insert into improvement_actions (action_id, title, root_cause, owner, start_on, change_made,
                target_kpi, target_value, status, segment_kind, segment_value, created_by, created_at)
            values ('IA-0001', 'Cap connected calls at 2 per day for agency ' || $agency,
                    'excessive_call_frequency', 'Head of collections', $start,
                    'Dialler cap: at most 2 connected calls per debtor per day', 'complaints_per_10k_contacts',
                    NULL, 'done', 'agency', $agency, 'demo', now())""",
                    {"agency": PLANTED_AGENCY, "start": planted_start})
        for name in ("g_customers", "g_loans", "g_snapshots", "g_contacts", "g_payments", "g_complaints", "g_agents"):
            cur.unregister(name)
        if plan_rows is not None:
            plan_rows.store(cur)
        derived.refresh_all(cur)
        return {t: cur.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: S608 (fixed allow-list)
                for t in ("customers", "loans", "snapshots", "contacts", "payments", "complaints",
                          "repayment_plans", "plan_offers")}

    # complaints.write: after the commit the old anchor is moved aside and the new chain is anchored
    return complaint_log.write(work, db=path)


# Repayment plans (issue 18). Plans are drawn at random within each month's delinquent cohort, so the
# control of repayment_plan_outcomes (same bucket, product and risk grade at the month-end before
# agreement, no plan) is a fair counterfactual here. The effect is planted in the book's snapshots:
# at each plan's horizon (the first month-end at least 90 days after agreement) a share of the plan
# loans still delinquent there is cured (DPD 0 from the horizon on), sized so that the cure rate rises
# by PLAN_EFFECT over loans with no plan; the plan's payments follow (cured loans keep their
# instalments). The cures are written after the simulation, so its random draws (and every other
# planted effect) stay as they were; the plans use a random stream of their own.
PLAN_RATE = {"early": 0.06, "late": 0.03}  # share of each month's M1-M2 / M3+ cohort agreeing a plan
PLAN_INSTALMENT_SHARE = 0.7
PLAN_EFFECT = {("instalments", "early"): 0.12, ("instalments", "late"): 0.06,
               ("deferral", "early"): 0.0, ("deferral", "late"): 0.0}
PLAN_FORM_REQUESTS = 12  # plans that start as a form request, offered and accepted in the portal
PLAN_DECLINED = 4  # form requests whose offer the customer declines
PLAN_OPEN = 4  # requests at the end of the data: half offered and unanswered, half not offered yet


class _PlanSim:
    """The plans of the demo book, drawn month by month alongside the collections simulation."""

    def __init__(self, seed: int, n_loans: int, all_ends: list[dt.date], product: np.ndarray,
                 grade: np.ndarray) -> None:
        self.rng = np.random.default_rng([seed, 18])  # its own stream: the book's draws stay as they were
        self.all_ends = all_ends
        self.index = {d: i for i, d in enumerate(all_ends)}
        self.cell = product.astype(np.int64) * 8 + grade.astype(np.int64)
        self.agreed = np.full(n_loans, np.iinfo(np.int64).max, np.int64)  # ordinal of the loan's plan
        self.requested = np.zeros(n_loans, bool)
        self.before: dict[int, np.ndarray] = {}  # month index -> state at that month-end
        self.parts: list[pd.DataFrame] = []
        self.requests: list[pd.DataFrame] = []
        self.cured: dict[int, bool] = {}  # plan row -> DPD 0 at its horizon
        self.flips: list[tuple[int, dt.date]] = []  # (loan, horizon month-end) the plan cures
        self._cached: tuple[pd.DataFrame, int] = (pd.DataFrame(), 0)  # the parts concatenated

    def _frame(self) -> pd.DataFrame:
        if self._cached[1] != len(self.parts):
            self._cached = (pd.concat(self.parts, ignore_index=True), len(self.parts))
        return self._cached[0]

    def choose(self, mi: int, as_of: dt.date, cohort: np.ndarray, state: np.ndarray, overdue: np.ndarray,
               window_days: int, months_left: int) -> None:
        """Draw the plans agreed in the month after month-end as_of, and this month's plan requests."""
        rng = self.rng
        self.before[mi] = state.copy()
        free = cohort[(self.agreed[cohort] == np.iinfo(np.int64).max) & ~self.requested[cohort]]
        early = state[free] <= 2
        pick = free[rng.random(len(free)) < np.where(early, PLAN_RATE["early"], PLAN_RATE["late"])]
        k = len(pick)
        if k:
            deferral = rng.random(k) >= PLAN_INSTALMENT_SHARE
            offset = rng.integers(1, window_days, k)
            form = np.zeros(k, bool)
            form[rng.permutation(k)[:max(1, round(PLAN_FORM_REQUESTS / (MONTHS - 1)))]] = True
            request_day = rng.integers(1, 7, k)
            offer_days = np.where(rng.random(k) < 0.15, rng.integers(16, 19, k), rng.integers(0, 12, k))
            answer_days = rng.integers(0, 4, k)
            offset = np.where(form, request_day + offer_days + answer_days, offset)
            agreed = pd.Timestamp(as_of) + pd.to_timedelta(offset, unit="D")
            first_due = agreed + pd.to_timedelta(np.where(deferral, rng.integers(30, 61, k),
                                                          rng.integers(7, 21, k)), unit="D")
            horizon = (agreed + pd.Timedelta(days=90)) + pd.offsets.MonthEnd(0)
            self.agreed[pick] = agreed.to_numpy().astype("datetime64[D]").astype(np.int64)
            self.parts.append(pd.DataFrame({
                "loan_idx": pick, "month": mi, "bucket": state[pick], "deferral": deferral,
                "agreed_on": agreed.date, "first_due_on": first_due.date,
                "instalments": np.where(deferral, 1, rng.choice(np.array([3, 4, 6]), k)),
                "amount": np.round(np.maximum(overdue[pick], 100.0), 2),
                "horizon": [self.index.get(h.date(), -1) for h in horizon], "form": form,
                "request_day": request_day, "offer_days": offer_days, "answer_days": answer_days,
                "cancelled": rng.random(k) < 0.03,
            }))
        # requests that do not become plans: declined offers, and the last month's open requests
        spare = free[~np.isin(free, pick)]
        n_declined = min(len(spare), int(rng.random() < PLAN_DECLINED / (MONTHS - 1)))
        n_open = min(len(spare) - n_declined, PLAN_OPEN if months_left == 1 else 0)
        chosen = rng.permutation(spare)[:n_declined + n_open]
        if len(chosen):
            self.requested[chosen] = True
            n = len(chosen)
            day = rng.integers(1, max(window_days - 8, 2), n)
            self.requests.append(pd.DataFrame({
                "loan_idx": chosen, "received": pd.Timestamp(as_of) + pd.to_timedelta(day, unit="D"),
                "deferral": rng.random(n) >= PLAN_INSTALMENT_SHARE, "amount": np.round(np.maximum(overdue[chosen], 100), 2),
                "instalments": rng.choice(np.array([3, 6, 12]), n), "offer_days": rng.integers(0, 8, n),
                "outcome": ["declined"] * n_declined + ["offered", "waiting"] * (n_open // 2) + ["waiting"] * (n_open % 2),
            }))

    def observe(self, mi: int, state: np.ndarray) -> None:
        """At month-end mi, choose which still delinquent plan loans whose horizon it is the plan cures.

        The book is not changed here (its random draws stay as they were): apply() writes the cures
        into the snapshots once the simulation is done.
        """
        frame = self._frame()
        if frame.empty:
            return
        due = frame[frame["horizon"] == mi]
        flipped: set[int] = set()
        for month, group in due.groupby("month"):
            before = self.before[month]
            # the query's control: no plan agreed on or before the month-end after the plans' month-end
            next_end = np.datetime64(self.all_ends[month + 1], "D").astype(np.int64)
            for name, buckets in (("early", (1, 2)), ("late", (3, 4, 5, 6, 7))):
                in_group = group[group["bucket"].isin(buckets)]
                controls = np.isin(before, buckets) & (self.agreed > next_end)
                still = float((state[controls] >= 1).mean()) if controls.any() else 0.0
                for kind, rows in (("instalments", in_group[~in_group["deferral"]]),
                                   ("deferral", in_group[in_group["deferral"]])):
                    effect = PLAN_EFFECT[(kind, name)]
                    loans = rows["loan_idx"].to_numpy()
                    if effect <= 0 or still <= 0 or not len(loans):
                        continue
                    flip = loans[(state[loans] >= 1) & (self.rng.random(len(loans)) < min(1.0, effect / still))]
                    flipped.update(int(i) for i in flip)
                    self.flips.extend((int(i), self.all_ends[mi]) for i in flip)
        for row, loan in zip(due.index, due["loan_idx"], strict=True):
            self.cured[int(row)] = bool(state[loan] == 0) or int(loan) in flipped

    def apply(self, snapshots: pd.DataFrame) -> pd.DataFrame:
        """The snapshots with the planted cures: a cured plan loan is at DPD 0 from its horizon on."""
        if not self.flips:
            return snapshots
        cures = pd.DataFrame(self.flips, columns=["loan_idx", "cured_on"]).groupby("loan_idx")["cured_on"].min()
        rows = np.flatnonzero(snapshots["loan_idx"].isin(cures.index).to_numpy())
        part = snapshots.iloc[rows]
        current = rows[(part["as_of"] >= part["loan_idx"].map(cures)).to_numpy(dtype=bool)]
        out = snapshots.copy()
        out.loc[out.index[current], "dpd"] = 0
        out.loc[out.index[current], "overdue_amount"] = 0.0
        return out

    def finish(self, end_month: dt.date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The plans, the requests that did not become plans, and the plans' payments (local wall times)."""
        from portal import plans as plan_rules

        frame = self._frame()
        requests = pd.concat(self.requests, ignore_index=True) if self.requests else pd.DataFrame()
        if frame.empty:
            return frame, requests, pd.DataFrame(columns=["loan_idx", "wall", "amount"])
        rng = self.rng
        frame["cured"] = [self.cured.get(i, rng.random() < 0.55) for i in frame.index]
        limit = dt.datetime.combine(end_month + dt.timedelta(days=1), dt.time())
        late_days = np.array([-3, -1, 0, 1, 2, 5])
        rows = []
        for plan in frame.itertuples():
            items = plan_rules.schedule(f"{plan.amount:.2f}", int(plan.instalments), plan.first_due_on)
            paid = len(items) if plan.cured else int(rng.choice([0, 0, 1, 1, 2]))
            together = plan.cured and len(items) > 1 and rng.random() < 0.1  # one payment covers two
            earliest = dt.datetime.combine(plan.agreed_on, dt.time(21))
            lates = rng.choice(late_days, paid, p=[0.1, 0.2, 0.3, 0.2, 0.15, 0.05])
            hours = rng.integers(9, 21, paid)
            carry = 0.0
            for number, item in enumerate(items[:paid], start=1):
                amount = float(item.amount) + carry
                if together and number == 1:
                    carry = float(item.amount)
                    continue
                carry = 0.0
                wall = dt.datetime.combine(item.due_on + dt.timedelta(days=int(lates[number - 1])),
                                           dt.time(int(hours[number - 1])))
                if together and number == 2:
                    wall = dt.datetime.combine(items[0].due_on, dt.time(12))
                rows.append((plan.loan_idx, max(wall, earliest), round(amount, 2)))
        payments = pd.DataFrame(rows, columns=["loan_idx", "wall", "amount"])
        payments["wall"] = pd.to_datetime(payments["wall"])
        return frame, requests, payments[payments["wall"] < pd.Timestamp(limit)].reset_index(drop=True)


def _ticket(rng: np.random.Generator) -> str:
    from portal.complaints import TICKET_ALPHABET

    chars = "".join(TICKET_ALPHABET[i] for i in rng.integers(0, len(TICKET_ALPHABET), 8))
    return f"CP-{chars[:4]}-{chars[4:]}"


class _PlanRows:
    """The demo's plans as rows: uploaded-style plans, and form requests answered through the portal."""

    def __init__(self, sim: _PlanSim, plan_frame: pd.DataFrame, requests: pd.DataFrame, end_month: dt.date) -> None:
        self.tz = config.setting("timezone")
        self.end_month = end_month
        self.rng = np.random.default_rng([int(sim.rng.integers(1 << 31)), 19])
        frame = plan_frame.reset_index(drop=True)
        self.uploaded = frame[~frame["form"].astype(bool)] if len(frame) else frame
        asks = []
        for plan in (frame[frame["form"].astype(bool)] if len(frame) else frame).itertuples():
            received = (pd.Timestamp(plan.agreed_on) - pd.Timedelta(days=int(plan.offer_days + plan.answer_days))
                        - pd.Timedelta(hours=int(self.rng.integers(1, 8))))
            asks.append({"loan_idx": plan.loan_idx, "received": received, "deferral": plan.deferral,
                         "amount": plan.amount, "instalments": plan.instalments, "outcome": "accepted",
                         "offer_days": int(plan.offer_days), "first_due_on": plan.first_due_on,
                         "agreed_on": plan.agreed_on})
        for ask in requests.itertuples() if len(requests) else []:
            asks.append({"loan_idx": ask.loan_idx, "received": ask.received, "deferral": ask.deferral,
                         "amount": ask.amount, "instalments": 1 if ask.deferral else int(ask.instalments),
                         "outcome": ask.outcome, "offer_days": int(ask.offer_days),
                         "first_due_on": (ask.received + pd.Timedelta(days=int(ask.offer_days) + 20)).date(),
                         "agreed_on": None})
        self.asks = pd.DataFrame(asks)
        if len(self.asks):
            self.asks = self.asks.sort_values(["received", "loan_idx"], kind="stable").reset_index(drop=True)
            self.asks["plan_type"] = np.where(self.asks["deferral"], "deferral", "instalments")
            self.asks["ticket"] = [_ticket(self.rng) for _ in range(len(self.asks))]
        self.answered: list[tuple] = []

    def _local(self, ts: pd.Timestamp) -> dt.datetime:
        return ts.to_pydatetime().replace(tzinfo=ZoneInfo(self.tz))

    def store(self, cur) -> None:
        """Inside the demo's transaction: the plans, the request complaints, the offers and the answers."""
        from portal import plans as plan_flow

        cur.execute("delete from repayment_plans")
        cur.execute("delete from plan_offers")
        cur.execute("create or replace sequence plan_offer_id_seq start 1")
        if len(self.uploaded):
            rows = self.uploaded.assign(
                plan_id=[f"PL{i:07d}" for i in range(1, len(self.uploaded) + 1)],
                loan_id=["L" + str(int(i)).zfill(8) for i in self.uploaded["loan_idx"]],
                plan_type=np.where(self.uploaded["deferral"], "deferral", "instalments"),
                status=np.where(self.uploaded["cancelled"], "cancelled", "active"))
            with db.arrow_view(cur, "g_plans", rows[["plan_id", "loan_id", "plan_type", "agreed_on", "amount",
                                                      "instalments", "first_due_on", "status"]]):
                cur.execute("insert into repayment_plans (plan_id, loan_id, plan_type, agreed_on, amount, instalments, "
                            "first_due_on, status) select plan_id, loan_id, plan_type, agreed_on::date, amount, "
                            "instalments, first_due_on::date, status from g_plans order by plan_id")
        if not len(self.asks):
            return
        asks = self.asks.assign(
            loan_id=["L" + str(int(i)).zfill(8) for i in self.asks["loan_idx"]],
            plan_months=np.where(self.asks["deferral"], 2, self.asks["instalments"]),
            plan_amount=(np.ceil(self.asks["amount"] / 100) * 100).astype(float))
        with db.arrow_view(cur, "g_asks", asks[["ticket", "received", "loan_id", "plan_type", "plan_amount",
                                                "plan_months"]]):
            cur.execute("""
                insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, narrative,
                                        status, extension_days, ticket, mobile, complainant_name, contact_time,
                                        plan_type, plan_amount, plan_months, consent_at)
                select a.ticket, timezone($tz, a.received::timestamp), 'form', l.customer_id, a.loan_id,
                       'repayment_plan_request', 'Demo request: my income fell and I ask to repay over time.',
                       'investigating', 0, a.ticket, c.mobile, c.name, 'any', a.plan_type, a.plan_amount,
                       a.plan_months, timezone($tz, a.received::timestamp)
                from g_asks a join loans l on l.loan_id = a.loan_id join customers c on c.customer_id = l.customer_id
                order by a.received, a.ticket""", {"tz": self.tz})
        complaint_log.record_import_events(cur, asks["ticket"].tolist(), "customer", action="created",
                                           note="source=form")
        # offers and answers through the portal's own steps (validated, audited), in this transaction
        for ask in asks.itertuples():
            if ask.outcome == "waiting":
                continue
            offered_at = ask.received + pd.Timedelta(days=ask.offer_days, hours=2)
            if ask.agreed_on is not None:
                answered_at = pd.Timestamp(ask.agreed_on) + pd.Timedelta(hours=20)
                offered_at = min(offered_at, answered_at - pd.Timedelta(hours=1))
            else:
                answered_at = offered_at + pd.Timedelta(days=int(self.rng.integers(0, 4)), hours=3)
            terms, errors = plan_flow.validate_terms({"plan_type": ask.plan_type, "amount": f"{ask.amount:.2f}",
                                                      "instalments": int(ask.instalments),
                                                      "first_due_on": ask.first_due_on}, offered_at.date())
            if terms is None:
                raise ValueError(f"demo plan terms refused: {errors}")
            made = plan_flow.offer_in(cur, ask.ticket, "demo_compliance", terms, None, self._local(offered_at))
            if ask.outcome != "offered":
                answered, _ = plan_flow.answer_in(cur, made.offer_id, ask.outcome == "accepted", "customer", "ticket",
                                                  None, self._local(answered_at), refresh=False)
                self.answered.append((ask.ticket, ask.outcome, answered, self._local(answered_at)))


def _resolve_plan_requests(path, rows: _PlanRows) -> None:
    """After the demo's transaction: each answered request's resolution and lifecycle steps, each audited."""
    from portal import plans as plan_flow

    last = pd.Timestamp(rows.end_month) + pd.Timedelta(days=1)
    for ticket, outcome, answered, answered_at in rows.answered:
        if outcome != "accepted":
            continue  # a declined offer stays with compliance: the complaint is still being investigated
        plan_flow.record_plan_resolution(answered, "customer", answered_at, db=path)
        next_day = answered_at + dt.timedelta(days=1)
        if pd.Timestamp(next_day.replace(tzinfo=None)) < last:
            complaint_log.transition(ticket, "demo_compliance", "resolved", now=next_day, db=path)
    if rows.answered:
        # those steps wrote complaints: the facts that read them are stamped fresh again
        db.write(lambda cur: derived.refresh(cur, derived.Change(frozenset({"complaints"}), full=True)), db=path)
