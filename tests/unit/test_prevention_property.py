"""The pre-contact check agrees with the audit, by property (DOMAIN.md, Pre-contact check).

Hypothesis draws a contact log (loans of debtors in Asia/Shanghai, America/New_York and Europe/London
across their DST changes, a loan whose customer has no record, a customer with opted-out channels;
every channel, party and outcome; visits with and without collectors) and planned contacts, often
placed on the edges that matter (a microsecond either side of a window's end, quiet-hour boundaries).
For every pack (cn, us, cn_strict and two organisation packs that extend cn and us with small numbers,
so caps and windows are reached often) the check must say "blocked by R" exactly when appending the
contact to the log makes the audit engine (the policy_breaches macro) count one more breach of R: the
contact appended as an unanswered attempt, and, for the cap on connected calls, as a connected call
(portal/prevention explains why). At next_allowed_at the same contact is allowed and one microsecond
before it is not. The named query and check() return the same rows.

CI runs the `ci` profile (40 logs x 2 planned contacts x 5 packs, derandomised); PORTAL_HYPOTHESIS_PROFILE=
long runs 3,000 random logs (PORTAL_HYPOTHESIS_EXAMPLES=N sets the number). Counter-examples worth keeping go below as @example cases (the one there is
worked by hand: a call 7 days and 1 microsecond after a conversation, a third party the day after).
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from portal import db, derived, prevention, taxonomy

UTC = dt.UTC
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=40, deadline=None, derandomize=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate],
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("PORTAL_HYPOTHESIS_PROFILE", "ci")
EXAMPLES = os.environ.get("PORTAL_HYPOTHESIS_EXAMPLES")  # overrides the profile's number of logs

ORG_PACKS = """
[packs.acme]
extends = "cn"
label = "ACME (extends cn): tighter numbers"
quiet_start = "20:30"
quiet_end = "09:00"
connected_calls_per_day = 1
unanswered_calls_per_day = 2
third_party_after_rpc_days = 2

[packs.acme_us]
extends = "us"
label = "ACME US (extends us): 2 calls in 3 days"
calls_in_window = 2
call_window_days = 3
no_call_after_conversation_days = 1
"""
PACKS = ("cn", "us", "cn_strict", "acme", "acme_us")
CUSTOMERS = [("C1", "Asia/Shanghai", None), ("C2", "America/New_York", None), ("C3", "Europe/London", "sms,visit")]
LOANS = [("A1", "C1"), ("A2", "C1"), ("B1", "C2"), ("B2", "C2"), ("E1", "C3"), ("N1", "CX")]  # CX: no record
PLANNED_LOANS = [loan for loan, _ in LOANS]
LOG_LOANS = [*PLANNED_LOANS, "Z9"]  # Z9: no loan record at all
# around New York's DST changes (2026-03-08, 2026-11-01), London's (2026-03-29, 2026-10-25) and a plain day
FOCUS = [dt.datetime(2026, 3, 8, 6, 0, tzinfo=UTC), dt.datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
         dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
         dt.datetime(2026, 6, 15, 13, 0, tzinfo=UTC)]
US = dt.timedelta(microseconds=1)
DAY = dt.timedelta(days=1)
# The book is held UNIVERSES times over, each copy with its own customers and loans ("A1", "A1~1", ...):
# copy 0 holds the log that the checks read; copies 1 + 2i and 2 + 2i hold it with planned contact i
# appended as an attempt and as a connected call. One audit run counts the breaches of every copy.
PLANNED_PER_LOG = 2
UNIVERSES = 1 + 2 * PLANNED_PER_LOG


def in_universe(key: str, universe: int) -> str:
    return key if universe == 0 else f"{key}~{universe}"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A database with the debtors and loans above and the organisation packs (the log varies per example)."""
    extra = tmp_path_factory.mktemp("packs") / "org.toml"
    extra.write_text(ORG_PACKS, encoding="utf-8")
    saved = os.environ.get("PORTAL_RULE_PACKS_FILE")
    os.environ["PORTAL_RULE_PACKS_FILE"] = str(extra)
    path = tmp_path_factory.mktemp("property") / "portal.duckdb"
    db.connect(path)

    def load(cur):
        cur.executemany("insert into customers (customer_id, timezone, opted_out_channels) values (?, ?, ?)",
                        [(in_universe(c, u), tz, out) for u in range(UNIVERSES) for c, tz, out in CUSTOMERS])
        cur.executemany("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, "
                        "disbursed_on) values (?, ?, 'cash_loan', 1000, 0.2, 12, date '2025-06-01')",
                        [(in_universe(loan, u), in_universe(c, u)) for u in range(UNIVERSES) for loan, c in LOANS])

    db.write(load, db=path)
    assert set(db.read("select pack from rule_packs", db=path)["pack"]) >= set(PACKS)
    yield path
    db.close(path)
    if saved is None:
        os.environ.pop("PORTAL_RULE_PACKS_FILE", None)
    else:
        os.environ["PORTAL_RULE_PACKS_FILE"] = saved


def instants(focus: dt.datetime):
    """Times near focus: whole hours and the minutes and microseconds either side of them."""
    hours = st.one_of(st.integers(-9 * 24, 9 * 24), st.integers(-30, 30))
    minutes = st.one_of(st.sampled_from([0, 0, 59, 30]), st.integers(0, 59))
    jitter = st.sampled_from([0, 0, 0, 1, -1])
    return st.builds(lambda h, m, j: focus + dt.timedelta(hours=h, minutes=m, microseconds=j), hours, minutes, jitter)


CHANNELS = st.sampled_from(["phone"] * 6 + list(taxonomy.CHANNELS))
OUTCOMES = st.sampled_from(["no_answer"] * 3 + ["rpc"] * 2 + list(taxonomy.OUTCOMES))


@st.composite
def logs(draw):
    """(focus, contacts): each contact (loan, at, channel, party, outcome, collectors)."""
    focus = draw(st.sampled_from(FOCUS))
    contacts = []
    for _ in range(draw(st.integers(0, 24))):
        channel = draw(CHANNELS)
        collectors = draw(st.sampled_from([None, 1, 2, 3])) if channel == "visit" else None
        contacts.append((draw(st.sampled_from(LOG_LOANS)), draw(instants(focus)), channel,
                         draw(st.sampled_from(taxonomy.PARTIES)), draw(OUTCOMES), collectors))
    if draw(st.booleans()):  # a burst of calls on one loan: caps and 7-in-7 windows reached
        loan, start = draw(st.sampled_from(PLANNED_LOANS)), draw(instants(focus))
        for _ in range(draw(st.integers(2, 9))):
            start += dt.timedelta(minutes=draw(st.integers(0, 36 * 60)))
            contacts.append((loan, start, "phone", "debtor", draw(OUTCOMES), None))
    return focus, contacts


def planned(focus, contacts):
    """A planned contact: anywhere near focus, or on an edge of a logged contact's window."""
    near_log = st.builds(lambda c, days, j: c[1] + days * DAY + j * US, st.sampled_from(contacts),
                         st.sampled_from([0, 1, 2, 3, 7, 14]), st.sampled_from([0, 1, -1, 0])) if contacts else None
    at = instants(focus) if near_log is None else st.one_of(instants(focus), near_log)
    return CHANNELS.flatmap(lambda channel: st.fixed_dictionaries({
        "loan_id": st.sampled_from(PLANNED_LOANS), "channel": st.just(channel),
        "party": st.sampled_from(taxonomy.PARTIES), "at": at,
        "collectors": st.sampled_from([None, 1, 2]) if channel == "visit" else st.none()}))


@st.composite
def scenarios(draw):
    """A log, two planned contacts and the pack the named query is compared under."""
    focus, contacts = draw(logs())
    plans = draw(st.lists(planned(focus, contacts), min_size=PLANNED_PER_LOG, max_size=PLANNED_PER_LOG))
    return focus, contacts, plans, draw(st.sampled_from(PACKS))


def appended(contact, outcome) -> tuple:
    """The planned contact as a logged one (a visit without collectors named counts as one collector)."""
    collectors = (contact["collectors"] or 1) if contact["channel"] == "visit" else None
    return contact["loan_id"], contact["at"], contact["channel"], contact["party"], outcome, collectors


def write_log(path, contacts, plans) -> None:
    """Copy 0: the log; copies 1 + 2i and 2 + 2i: the log with plans[i] as an attempt and as a connected call."""
    copies = [contacts]
    for plan in plans:
        connected = plan["channel"] == "phone" and plan["party"] == "debtor"
        copies.append([*contacts, appended(plan, prevention.rules.ATTEMPT_OUTCOMES.get(plan["channel"], "sent"))])
        copies.append([*contacts, appended(plan, "rpc")] if connected else contacts)

    def work(cur):
        cur.execute("delete from contacts")
        rows = [(in_universe(f"k{i:03d}", u), in_universe(loan, u), at, ch, party, outcome, coll)
                for u, log in enumerate(copies) for i, (loan, at, ch, party, outcome, coll) in enumerate(log)]
        if rows:
            cur.executemany("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, "
                            "collectors) values (?, ?, ?, ?, ?, ?, ?)", rows)
        # as a load does: the check's derived tables follow in the same transaction
        for name in prevention.DERIVED_TABLES:
            derived.refresh_one(cur, name)

    db.write(work, db=path)


AUDIT = " union all ".join(
    f"select $p{i} as pack, rule, coalesce(nullif(split_part(loan_id, '~', 2), ''), '0')::int as universe, "  # noqa: S608 (integer names)
    f"count(*) as n from policy_breaches($p{i}, $lo, $hi, null) group by all"
    for i in range(len(PACKS)))


def audit(path, lo, hi) -> dict[tuple[str, str, int], int]:
    """The audit engine's breach counts per (pack, rule, copy of the book) over [lo, hi)."""
    params = {"lo": lo, "hi": hi, **{f"p{i}": p for i, p in enumerate(PACKS)}}
    return {(p, r, u): n for p, r, u, n in db.read(AUDIT, params, db=path).itertuples(index=False)}


def expected_blocks(counts, i) -> dict[str, set[str]]:
    """Per pack, the rules whose breach count grows when planned contact i is appended (DOMAIN.md)."""
    def grew(pack, rule, universe):
        return counts.get((pack, rule, universe), 0) > counts.get((pack, rule, 0), 0)

    out = {}
    for pack in PACKS:
        rules = {r for (p, r, u) in counts if p == pack and u == 1 + 2 * i and grew(pack, r, u)}
        rules.discard("connected_calls_per_day")  # an unanswered attempt is never a connected call
        if grew(pack, "connected_calls_per_day", 2 + 2 * i):
            rules.add("connected_calls_per_day")
        out[pack] = rules
    return out


def check_one(path, contact, pack):
    return prevention.check({**contact, "at": contact["at"].isoformat()}, pack, db=path)[0]


def opted_out(contact) -> bool:
    return contact["loan_id"] == "E1" and contact["channel"] in ("sms", "visit")


def contact(loan, at, channel="phone", party="debtor", collectors=None):
    return {"loan_id": loan, "channel": channel, "party": party, "at": at, "collectors": collectors}


@pytest.mark.timeout(900 if PROFILE == "ci" and not EXAMPLES else 0)
@settings(settings.get_profile(PROFILE), **({"max_examples": int(EXAMPLES)} if EXAMPLES else {}))
@given(scenario=scenarios())
@example(scenario=(FOCUS[0], [("A1", FOCUS[0], "phone", "debtor", "rpc", None)],
                   [contact("A1", FOCUS[0] + 7 * DAY + US), contact("A1", FOCUS[0] + DAY, party="third_party")],
                   "acme_us")).via("hand: after a conversation")
def test_check_agrees_with_the_audit(book, scenario):
    focus, contacts, plans, named_pack = scenario
    write_log(book, contacts, plans)
    counts = audit(book, focus - 60 * DAY, focus + 60 * DAY)
    for i, planned_contact in enumerate(plans):
        expected = expected_blocks(counts, i)
        for pack in PACKS:
            rows = check_one(book, planned_contact, pack)
            rules = {r["rule"] for r in rows if r["rule"] is not None}
            assert ("opted_out_channel" in rules) == opted_out(planned_contact), (pack, planned_contact, rows)
            assert rules - {"opted_out_channel"} == expected[pack], (pack, planned_contact, rows, contacts)
            assert all(r["allowed"] == (not rules) for r in rows)
            nxt = rows[0]["next_allowed_at"]
            if not rules:
                assert nxt is None
            elif nxt is not None:
                assert nxt > planned_contact["at"]
                # one list: the row a microsecond before is blocked, so it does not count for the next row
                before_next, at_next = prevention.check(
                    [{**planned_contact, "at": (nxt - US).isoformat()}, {**planned_contact, "at": nxt.isoformat()}],
                    pack, db=book)
                assert not before_next[0]["allowed"], (pack, planned_contact, nxt, contacts)
                assert at_next[0]["allowed"], (pack, planned_contact, nxt, at_next, contacts)
        # the named query answers with the same rows as check()
        named = db.query("contact_check", db=book, loan_id=planned_contact["loan_id"],
                         channel=planned_contact["channel"], party=planned_contact["party"],
                         at=planned_contact["at"].isoformat(), pack=named_pack,
                         collectors=planned_contact["collectors"])
        rows = check_one(book, planned_contact, named_pack)
        assert list(named["rule"].where(named["rule"].notna(), None)) == [r["rule"] for r in rows]
        assert list(named["reason"].where(named["reason"].notna(), None)) == [r["reason"] for r in rows]
        assert [None if n != n else n.to_pydatetime() for n in named["next_allowed_at"]] == \
            [r["next_allowed_at"] for r in rows]
