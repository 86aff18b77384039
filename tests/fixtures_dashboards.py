"""A hand-built collections book for the dashboard tests: 6 loans, 3 month-ends, 10 contacts.

Every expected number in tests/unit/test_dashboards.py is worked out by hand from these rows.
Timestamps carry +08 (the portal timezone, Asia/Shanghai), so month boundaries are local midnights.

Month-ends: 2024-01-31, 2024-02-29, 2024-03-31.

loan  product      region risk  disbursed    Jan dpd/out/ovd   Feb dpd/out/ovd   Mar dpd/out/ovd
L1    cash_loan    east   A     2023-11-15   0/1000/0          0/950/0           0/900/0
L2    cash_loan    east   B     2023-11-20   15/800/100        0/700/0           0/650/0
L3    instalment   west   C     2023-12-10   45/600/200        75/600/300        105/600/400
L4    instalment   west   D     2023-12-12   10/500/50         40/500/120        0/450/0
L5    credit_line  east   A     2024-01-05   0/900/0           5/880/30          35/880/60
L6    cash_loan    west   B     2024-01-08   20/400/80         (closed)          (closed)

Cases: L6 closes after January (`closed` in roll rates); C2 is a ptp kept by P1, paid 2 days after its
due date; C4 is a ptp broken (P2 pays 50 of 200); P3 has no reaching contact in the 7 days before it
(only a `filed` legal contact) so it is not attributed; K1 and K2 name a channel (phone, sms); K3 has an
extension with a reason, K4 one without (so it does not count); C10 falls 30 minutes after the February
window closes in local time (it is still 29 Feb in UTC).
"""

from __future__ import annotations

from pathlib import Path

from portal import db

LOANS = [
    # loan_id, customer_id, product, principal, rate, term, disbursed_on, region, risk_grade
    ("L1", "U1", "cash_loan", 1000, 0.18, 12, "2023-11-15", "east", "A"),
    ("L2", "U2", "cash_loan", 800, 0.20, 12, "2023-11-20", "east", "B"),
    ("L3", "U3", "instalment", 600, 0.24, 6, "2023-12-10", "west", "C"),
    ("L4", "U4", "instalment", 500, 0.24, 6, "2023-12-12", "west", "D"),
    ("L5", "U5", "credit_line", 900, 0.15, 24, "2024-01-05", "east", "A"),
    ("L6", "U6", "cash_loan", 400, 0.30, 3, "2024-01-08", "west", "B"),
]

SNAPSHOTS = [
    # loan_id, as_of, dpd, outstanding_principal, overdue_amount
    ("L1", "2024-01-31", 0, 1000, 0), ("L2", "2024-01-31", 15, 800, 100),
    ("L3", "2024-01-31", 45, 600, 200), ("L4", "2024-01-31", 10, 500, 50),
    ("L5", "2024-01-31", 0, 900, 0), ("L6", "2024-01-31", 20, 400, 80),
    ("L1", "2024-02-29", 0, 950, 0), ("L2", "2024-02-29", 0, 700, 0),
    ("L3", "2024-02-29", 75, 600, 300), ("L4", "2024-02-29", 40, 500, 120),
    ("L5", "2024-02-29", 5, 880, 30),
    ("L1", "2024-03-31", 0, 900, 0), ("L2", "2024-03-31", 0, 650, 0),
    ("L3", "2024-03-31", 105, 600, 400), ("L4", "2024-03-31", 0, 450, 0),
    ("L5", "2024-03-31", 35, 880, 60),
]

CONTACTS = [
    # contact_id, loan_id, contact_at, channel, party, outcome, agent_id, agency_id, strategy,
    # ptp_amount, ptp_due_on, cost, collectors, duration_s
    ("C1", "L2", "2024-02-02 10:00:00+08", "sms", "debtor", "delivered", None, None, "champion",
     None, None, 0.10, None, None),
    ("C2", "L2", "2024-02-03 11:00:00+08", "phone", "debtor", "ptp", "A1", None, "champion",
     100, "2024-02-10", 2.00, None, 120),
    ("C3", "L2", "2024-02-08 09:00:00+08", "app", "debtor", "delivered", None, None, "champion",
     None, None, 0.05, None, None),
    ("C4", "L3", "2024-02-09 14:00:00+08", "phone", "debtor", "ptp", "A2", "AG1", "challenger",
     200, "2024-02-15", 3.00, None, 300),
    ("C5", "L3", "2024-02-20 10:00:00+08", "visit", "third_party", "third_party", "A2", "AG1", "challenger",
     None, None, 50.00, 2, None),
    ("C6", "L4", "2024-02-01 09:00:00+08", "sms", "debtor", "failed", None, None, "champion",
     None, None, 0.10, None, None),
    ("C7", "L6", "2024-02-25 10:00:00+08", "legal", "debtor", "filed", None, "AG2", None,
     None, None, 500.00, None, None),
    ("C8", "L1", "2024-01-20 10:00:00+08", "sms", "debtor", "delivered", None, None, None,
     None, None, 0.10, None, None),
    ("C9", "L5", "2024-03-05 10:00:00+08", "phone", "debtor", "rpc", "A1", None, "challenger",
     None, None, 2.00, None, 60),
    ("C10", "L4", "2024-03-01 00:30:00+08", "phone", "debtor", "rpc", "A1", None, "champion",
     None, None, 2.00, None, 90),
]

PAYMENTS = [
    # payment_id, loan_id, paid_at, amount
    ("P1", "L2", "2024-02-12 15:00:00+08", 100),
    ("P2", "L3", "2024-02-14 10:00:00+08", 50),
    ("P3", "L6", "2024-02-26 12:00:00+08", 400),
    ("P4", "L4", "2024-03-02 10:00:00+08", 120),
    ("P5", "L1", "2024-01-25 10:00:00+08", 50),
]

COMPLAINTS = [
    # complaint_id, received_at, source, customer_id, loan_id, issue, channel, agent_id, agency_id,
    # narrative, status, resolved_at, extension_days, extension_reason
    ("K1", "2024-02-10 10:00:00+08", "hotline", "U3", "L3", "communication_tactics", "phone", "A2", "AG1",
     "Too many calls", "resolved", "2024-02-20 10:00:00+08", 0, None),
    ("K2", "2024-02-20 09:00:00+08", "form", "U5", "L5", "other", "sms", None, None,
     "=HYPERLINK(\"x\")", "resolved", "2024-03-10 09:00:00+08", 0, None),
    ("K3", "2024-01-10 10:00:00+08", "email", "U1", "L1", "fees_or_amount", None, None, None,
     "Fee question", "resolved", "2024-02-08 10:00:00+08", 15, "complex case"),
    ("K4", "2024-01-10 11:00:00+08", "regulator", None, None, "threatened_action", "phone", None, None,
     "<b>threat</b>", "new", None, 15, None),
    ("K5", "2024-02-01 10:00:00+08", "form", "U4", "L4", "debt_not_owed", None, None, None,
     "Not mine", "investigating", None, 0, None),
]


def load(cur) -> None:
    """Insert the fixture rows on a cursor inside the write transaction."""
    cur.executemany(
        "insert into customers (customer_id, name, mobile, province, timezone) values (?, ?, ?, ?, ?)",
        [(f"U{i}", f"Customer {i}", f"1380000000{i}", "Guangdong", "Asia/Shanghai") for i in range(1, 7)],
    )
    cur.executemany(
        "insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, disbursed_on,"
        " region, risk_grade) values (?, ?, ?, ?, ?, ?, ?, ?, ?)", LOANS,
    )
    cur.executemany(
        "insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount)"
        " values (?, ?, ?, ?, ?)", SNAPSHOTS,
    )
    cur.executemany(
        "insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, agency_id,"
        " strategy, ptp_amount, ptp_due_on, cost, collectors, duration_s)"
        " values (?, ?, ?::timestamptz, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", CONTACTS,
    )
    cur.executemany(
        "insert into payments (payment_id, loan_id, paid_at, amount) values (?, ?, ?::timestamptz, ?)", PAYMENTS,
    )
    cur.executemany(
        "insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, channel,"
        " agent_id, agency_id, narrative, status, resolved_at, extension_days, extension_reason)"
        " values (?, ?::timestamptz, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::timestamptz, ?, ?)", COMPLAINTS,
    )


def build(path: str | Path) -> Path:
    """Load the fixture into a (migrated, empty) database file and return its path."""
    db.write(load, db=path)
    return Path(path)
