"""A hand-built book for the improvement-loop queries: three loans, seven contacts, three payments and
four complaints over March and April 2026 (portal timezone Asia/Shanghai). Expected values are worked
out by hand in tests/unit/test_improvement.py."""

from __future__ import annotations

from pathlib import Path

from portal import db

LOANS = [
    # loan_id, region, product
    ("L1", "east", "cash_loan"),
    ("L2", "west", "instalment"),
    ("L3", "east", "instalment"),
]
SNAPSHOTS = [
    # L1: M1 at Feb, cured by Mar. L2: M2 at Feb, rolls on. L3: current at Feb, M1 at Mar, cured by Apr.
    ("L1", "2026-02-28", 10), ("L1", "2026-03-31", 0), ("L1", "2026-04-30", 0),
    ("L2", "2026-02-28", 40), ("L2", "2026-03-31", 70), ("L2", "2026-04-30", 100),
    ("L3", "2026-02-28", 0), ("L3", "2026-03-31", 5), ("L3", "2026-04-30", 0),
]
CONTACTS = [
    # contact_id, loan_id, contact_at, channel, outcome, agent_id, agency_id, strategy, cost
    ("K1", "L1", "2026-03-05 10:00:00+08", "phone", "rpc", "A1", "AG01", "challenger", 2.00),
    ("K2", "L1", "2026-03-06 10:00:00+08", "sms", "delivered", None, None, "challenger", 0.05),
    ("K3", "L2", "2026-03-07 10:00:00+08", "phone", "no_answer", "A2", None, "champion", 2.00),
    ("K4", "L2", "2026-03-08 10:00:00+08", "phone", "ptp", "A2", None, "champion", 2.00),
    ("K5", "L3", "2026-04-02 10:00:00+08", "phone", "rpc", "A1", "AG01", "champion", 2.00),
    ("K6", "L2", "2026-04-03 10:00:00+08", "visit", "failed", "A2", None, "champion", 150.00),
    ("K7", "L2", "2026-04-04 10:00:00+08", "phone", "no_answer", "A1", "AG01", "champion", 2.00),
]
PAYMENTS = [
    ("P1", "L1", "2026-03-10 12:00:00+08", 100.00),  # last reaching contact K2 (sms, challenger), 4 days before
    ("P2", "L3", "2026-04-20 12:00:00+08", 50.00),  # last reaching contact K5 is 18 days before: unattributed
    ("P3", "L2", "2026-03-09 12:00:00+08", 30.00),  # last reaching contact K4 (phone ptp, champion)
]
COMPLAINTS = [
    # complaint_id, received_at, loan_id, issue, channel, agent_id, agency_id, root_cause
    ("C1", "2026-03-20 09:00:00+08", "L1", "communication_tactics", "phone", "A1", "AG01", "excessive_call_frequency"),
    ("C2", "2026-03-25 09:00:00+08", "L2", "third_party_disclosure", "phone", "A2", None, "third_party_contact"),
    ("C3", "2026-04-10 09:00:00+08", "L2", "threatened_action", "visit", "A2", None, "excessive_call_frequency"),
    ("C4", "2026-04-15 09:00:00+08", "L3", "other", None, None, None, None),
]


def load(path: Path) -> None:
    """Write the hand-built book into the (migrated, empty) database at path."""

    def fn(cur):
        for loan_id, region, product in LOANS:
            cur.execute("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months,"
                        " disbursed_on, region, risk_grade) values ($l, 'C' || $l, $p, 1000, 0.1, 12,"
                        " '2025-06-01', $r, 'B')", {"l": loan_id, "p": product, "r": region})
        for loan_id, as_of, dpd in SNAPSHOTS:
            cur.execute("insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount)"
                        " values ($l, $a, $d, 800, case when $d > 0 then 90 else 0 end)",
                        {"l": loan_id, "a": as_of, "d": dpd})
        for cid, loan_id, at, channel, outcome, agent, agency, strategy, cost in CONTACTS:
            cur.execute("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id,"
                        " agency_id, strategy, ptp_amount, ptp_due_on, cost) values ($c, $l, $at::timestamptz,"
                        " $ch, 'debtor', $o, $ag, $agc, $s, case when $o = 'ptp' then 90 end,"
                        " case when $o = 'ptp' then date '2026-03-12' end, $cost)",
                        {"c": cid, "l": loan_id, "at": at, "ch": channel, "o": outcome, "ag": agent,
                         "agc": agency, "s": strategy, "cost": cost})
        for pid, loan_id, at, amount in PAYMENTS:
            cur.execute("insert into payments (payment_id, loan_id, paid_at, amount) values ($p, $l,"
                        " $at::timestamptz, $a)", {"p": pid, "l": loan_id, "at": at, "a": amount})
        for cid, at, loan_id, issue, channel, agent, agency, root in COMPLAINTS:
            cur.execute("insert into complaints (complaint_id, received_at, source, loan_id, issue, channel,"
                        " agent_id, agency_id, narrative, status, root_cause) values ($c, $at::timestamptz,"
                        " 'hotline', $l, $i, $ch, $ag, $agc, 'n', 'resolved', $r)",
                        {"c": cid, "at": at, "l": loan_id, "i": issue, "ch": channel, "ag": agent,
                         "agc": agency, "r": root})

    db.write(fn, db=path)
