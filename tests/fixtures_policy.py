"""A hand-built contact log for the rule engine: each row is placed to test one edge of one rule.

Portal time zone Asia/Shanghai. Expected counts are worked out in tests/unit/test_policy.py.
"""

from __future__ import annotations

from portal import db

CUSTOMERS = [
    ("C1", "Asia/Shanghai"),      # two loans sharing the cn daily caps
    ("C2", "America/New_York"),   # the us-pack debtor (DST starts 2026-03-08)
    ("C3", "Asia/Shanghai"),      # 7 calls in 7 days, then an 8th
    ("C4", "Asia/Shanghai"),      # third-party contacts after a right-party contact
    ("C5", "Asia/Shanghai"),      # quiet-hour edges, letters at midnight, visits
    ("C7", "Asia/Shanghai"),      # calls after a conversation
]
LOANS = [("L1", "C1"), ("L2", "C1"), ("L3", "C2"), ("L4", "C3"), ("L5", "C4"), ("L6", "C5"), ("L8", "C7")]

# contact_id, loan_id, contact_at (with the debtor's offset), channel, party, outcome, agent, agency,
# ptp_amount, collectors
CONTACTS = [
    # L6 (Shanghai): 21:59 / 22:00 and 07:59 / 08:00 local; letters and legal at midnight; visits
    ("k01", "L6", "2026-03-02 21:59:00+08", "phone", "debtor", "no_answer", "A1", None, None, None),
    ("k02", "L6", "2026-03-02 22:00:00+08", "phone", "debtor", "no_answer", "A1", None, None, None),
    ("k03", "L6", "2026-03-03 07:59:00+08", "phone", "debtor", "no_answer", "A1", None, None, None),
    ("k04", "L6", "2026-03-03 08:00:00+08", "phone", "debtor", "no_answer", "A1", None, None, None),
    ("k05", "L6", "2026-03-04 00:00:00+08", "letter", "debtor", "sent", None, None, None, None),
    ("k06", "L6", "2026-03-04 00:30:00+08", "legal", "debtor", "filed", None, None, None, None),
    ("k07", "L6", "2026-03-05 10:00:00+08", "visit", "debtor", "rpc", "A2", None, None, 1),
    ("k08", "L6", "2026-03-06 10:00:00+08", "visit", "debtor", "rpc", "A2", None, None, 2),
    # L3 (New York): 20:59 and 21:00 local (EDT), 07:30 after DST and 07:30 before DST (EST)
    ("k10", "L3", "2026-03-16 20:59:00-04", "phone", "debtor", "no_answer", "A3", None, None, None),
    ("k11", "L3", "2026-03-16 21:00:00-04", "phone", "debtor", "no_answer", "A3", None, None, None),
    ("k12", "L3", "2026-03-17 07:30:00-04", "sms", "debtor", "delivered", None, None, None, None),
    ("k13", "L3", "2026-03-04 07:30:00-05", "sms", "debtor", "delivered", None, None, None, None),
    # L4: one call a day 03-10..03-16 at 10:00, then an 8th on 03-16 at 15:00
    *[(f"k2{i}", "L4", f"2026-03-{10 + i:02d} 10:00:00+08", "phone", "debtor", "no_answer", "A4", None, None,
       None) for i in range(7)],
    ("k27", "L4", "2026-03-16 15:00:00+08", "phone", "debtor", "no_answer", "A4", None, None, None),
    # L8: a conversation, a call 6 days 23 hours later, and one 7 days 1 hour later
    ("k30", "L8", "2026-03-20 10:00:00+08", "phone", "debtor", "rpc", "A5", None, None, None),
    ("k31", "L8", "2026-03-27 09:00:00+08", "phone", "debtor", "no_answer", "A5", None, None, None),
    ("k32", "L8", "2026-03-27 11:00:00+08", "phone", "debtor", "no_answer", "A5", None, None, None),
    # L5: a right-party contact, a third-party contact 6 days later and one 8 days later
    ("k40", "L5", "2026-03-02 10:00:00+08", "phone", "debtor", "rpc", "A6", None, None, None),
    ("k41", "L5", "2026-03-08 10:00:00+08", "phone", "third_party", "third_party", "A7", None, None, None),
    ("k42", "L5", "2026-03-10 10:00:00+08", "phone", "third_party", "third_party", "A7", None, None, None),
    # C1 on 03-11: 4 connected calls on L1 (the 3rd is a PTP of 500)
    ("k50", "L1", "2026-03-11 09:00:00+08", "phone", "debtor", "rpc", "A1", None, None, None),
    ("k51", "L1", "2026-03-11 10:00:00+08", "phone", "debtor", "refused", "A1", None, None, None),
    ("k52", "L1", "2026-03-11 11:00:00+08", "phone", "debtor", "ptp", "A1", None, 500, None),
    ("k53", "L1", "2026-03-11 12:00:00+08", "phone", "debtor", "rpc", "A1", None, None, None),
    # C1 on 03-12: 2 connected calls on L1, then 2 on L2 (the cap is per debtor)
    ("k54", "L1", "2026-03-12 09:00:00+08", "phone", "debtor", "rpc", "A1", None, None, None),
    ("k55", "L1", "2026-03-12 10:00:00+08", "phone", "debtor", "rpc", "A1", None, None, None),
    ("k56", "L2", "2026-03-12 11:00:00+08", "phone", "debtor", "rpc", "A8", None, None, None),
    ("k57", "L2", "2026-03-12 12:00:00+08", "phone", "debtor", "rpc", "A8", None, None, None),
    # C1 on 03-13: 6 unanswered calls on L1, then a 7th (agency G1)
    *[(f"k6{i}", "L1", f"2026-03-13 {9 + i:02d}:00:00+08", "phone", "debtor", "no_answer", "A9", "G1", None,
       None) for i in range(7)],
]
PAYMENTS = [
    ("P1", "L2", "2026-03-14 10:00:00+08", 300),   # 2 days after k56
    ("P2", "L1", "2026-03-20 10:00:00+08", 700),   # 9 days after k52: not at risk
]
COMPLAINTS = [
    # complaint_id, received_at, customer_id, loan_id, issue
    ("Q1", "2026-03-15 10:00:00+08", "C1", None, "communication_tactics"),
    ("Q2", "2026-03-12 10:00:00+08", None, "L5", "third_party_disclosure"),
    ("Q3", "2026-03-12 10:00:00+08", "C4", None, "threatened_action"),
    ("Q4", "2026-03-01 10:00:00+08", "C3", None, "communication_tactics"),
]


def build(path) -> None:
    """Load the fixture into a migrated database at path."""

    def load(cur) -> None:
        cur.executemany("insert into customers (customer_id, timezone) values (?, ?)", CUSTOMERS)
        cur.executemany(
            "insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, disbursed_on)"
            " values (?, ?, 'cash_loan', 1000, 0.2, 12, date '2025-06-01')", LOANS)
        cur.executemany(
            "insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, agency_id,"
            " ptp_amount, ptp_due_on, collectors) values (?, ?, ?::timestamptz, ?, ?, ?, ?, ?, ?,"
            " case when ? is null then null else date '2026-03-31' end, ?)",
            [(*c[:9], c[8], c[9]) for c in CONTACTS])
        cur.executemany("insert into payments (payment_id, loan_id, paid_at, amount) values (?, ?, ?::timestamptz, ?)",
                        PAYMENTS)
        cur.executemany(
            "insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, status)"
            " values (?, ?::timestamptz, 'form', ?, ?, ?, 'new')", COMPLAINTS)

    db.write(load, db=path)
