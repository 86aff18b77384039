"""A hand-built book of repayment plans for the plan tests (times in Asia/Shanghai, +08).

Month-ends 2025-01-31 .. 2025-06-30. The clock of the plan queries is the latest payment or month-end:
2025-07-01 00:00 (the day after the June snapshot). Every loan is cash_loan / east / A unless noted.

Plans (instalments of amount / n, monthly from first_due_on; kept = payments since agreed_on reach the
cumulative amount by due + 3 days, i.e. before due + 4 days at midnight):

| plan     | loan | type         | agreed     | amount | n | first due  | payments since agreed_on            | outcome |
|----------|------|--------------|------------|--------|---|------------|-------------------------------------|---------|
| P_ON     | L1   | instalments  | 2025-02-05 | 300.00 | 3 | 2025-02-15 | 100 02-14, 100 03-15 23:00, 100 04-10 | 3 kept, completed |
| P_LATE   | L2   | instalments  | 2025-02-05 | 200.00 | 2 | 2025-02-20 | 100 02-22 (2 days late), 100 03-23 23:59 (+3) | 2 kept, completed |
| P_BROKEN | L3   | instalments  | 2025-02-05 | 300.00 | 3 | 2025-02-10 | (500 on 02-01 is before agreement) 100 02-09 | 1 kept, 2 missed: broken |
| P_DEFER  | L4   | deferral     | 2025-02-10 | 500.00 | 1 | 2025-04-10 | 200 03-01, 300 04-13 10:00          | kept, completed |
| P_OVER   | L5 (west) | instalments | 2025-02-03 | 300.00 | 3 | 2025-02-28 | 250 02-27 (covers 1 and 2), 50 04-30 | due 02-28, 03-28, 04-28: 3 kept |
| P_CANCEL | L6   | instalments  | 2025-02-06 | 400.00 | 2 | 2025-02-20 | none; status cancelled              | neither completed nor broken |
| P_ACTIVE | L7 (instalment/B) | instalments | 2025-05-20 | 100.01 | 3 | 2025-06-25 | none | 33.33, 33.34, 33.34; 1 missed: active |
| P_LATER  | C5   | instalments  | 2025-06-15 | 100.00 | 1 | 2025-06-30 | 100 06-29                           | kept (grace ends 07-04): completed, 0 due |
| P_MARCH  | C6   | instalments  | 2025-03-10 | 150.00 | 1 | 2025-03-20 | 150 03-20                           | kept, completed |

Cure comparison. Cell X = (2025-01-31, M1, cash_loan, A), read at 2025-05-31 (agreed in early February:
the first month-end >= agreed_on + 90 days). Its plans L1, L2, L3, L5, L6 (instalments) and L4
(deferral); at 05-31 L1, L2, L4, L5 have DPD 0, L3 45, L6 20. Its control: loans in the cell with no plan
agreed on or before 02-28 (the month-end after): C1 (0), C2 (0), C3 (west, 40), C4 (no snapshot: closed,
not cured), C5 (plan on 06-15: 0) and C6 (plan on 03-10, after 02-28: it had none when the others agreed
theirs; 0) = 4 of 6 cured; C7 (grade B) and C8 (instalment) are other cells. Cell Y = (2025-02-28, M2,
cash_loan, A), read at 2025-06-30: plan P_MARCH (C6 at 0 on 06-30, cured); control C3 (west, 70 on 06-30,
not cured). P_ACTIVE's horizon (08-31) is past the data; P_LATER's loan was M0 at 05-31: neither is
compared.

Complaints that ask for a plan (the funnel), with their portal offers (plan_offers):

| id | source  | asks for (plan_type / issue) | loan | received (+08)   | offer (+08)                | answer               |
|----|---------|------------------------------|------|------------------|----------------------------|----------------------|
| K1 | form    | instalments                  | L1   | 2025-01-25 10:00 | 1: 2025-02-01 10:00 (7 d)  | accepted -> P_ON     |
| K2 | form    | deferral                     | L4   | 2025-01-20 10:00 | 2: 2025-02-08 10:00 (19 d, late) | accepted -> P_DEFER |
| K3 | hotline | issue repayment_plan_request | L3   | 2025-02-01 10:00 | none (uploaded P_BROKEN answers it) |            |
| K4 | form    | instalments                  | C1   | 2025-02-10 10:00 | 3: 2025-02-12 10:00 (2 d)  | declined             |
| K5 | form    | instalments                  | C2   | 2025-06-20 10:00 | none: waiting, past due    |                      |
| K6 | form    | none (communication_tactics) | C7   | 2025-02-15 10:00 | not a plan request         |                      |
| K7 | form    | instalments                  | L7   | 2025-05-10 10:00 | 4: 2025-05-12 22:00 (2.5 d) | accepted -> P_ACTIVE |
"""

from __future__ import annotations

from pathlib import Path

from portal import complaints, db

LOANS = [
    # loan_id, product, region, risk_grade
    ("L1", "cash_loan", "east", "A"), ("L2", "cash_loan", "east", "A"), ("L3", "cash_loan", "east", "A"),
    ("L4", "cash_loan", "east", "A"), ("L5", "cash_loan", "west", "A"), ("L6", "cash_loan", "east", "A"),
    ("L7", "instalment", "east", "B"),
    ("C1", "cash_loan", "east", "A"), ("C2", "cash_loan", "east", "A"), ("C3", "cash_loan", "west", "A"),
    ("C4", "cash_loan", "east", "A"), ("C5", "cash_loan", "east", "A"), ("C6", "cash_loan", "east", "A"),
    ("C7", "cash_loan", "east", "B"), ("C8", "instalment", "east", "A"),
]

MONTH_ENDS = ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30"]
# DPD per loan at each month-end (None: no snapshot that month)
DPD = {
    "L1": [10, 5, 5, 5, 0, 0], "L2": [10, 5, 5, 5, 0, 0], "L3": [10, 20, 30, 40, 45, 50],
    "L4": [10, 5, 5, 5, 0, 0], "L5": [10, 5, 5, 5, 0, 0], "L6": [10, 15, 20, 20, 20, 20],
    "L7": [0, 0, 0, 5, 10, 15],
    "C1": [10, 5, 5, 5, 0, 0], "C2": [10, 5, 5, 5, 0, 0], "C3": [10, 40, 50, 60, 40, 70],
    "C4": [10, 5, 5, 5, None, None], "C5": [10, 5, 5, 5, 0, 0], "C6": [10, 35, 20, 10, 0, 0],
    "C7": [10, 5, 5, 5, 0, 0], "C8": [10, 5, 5, 5, 0, 0],
}

PLANS = [
    # plan_id, loan_id, complaint_id, plan_type, agreed_on, amount, instalments, first_due_on, status
    ("P_ON", "L1", "K1", "instalments", "2025-02-05", "300.00", 3, "2025-02-15", "active"),
    ("P_LATE", "L2", None, "instalments", "2025-02-05", "200.00", 2, "2025-02-20", "active"),
    ("P_BROKEN", "L3", "K3", "instalments", "2025-02-05", "300.00", 3, "2025-02-10", "active"),
    ("P_DEFER", "L4", "K2", "deferral", "2025-02-10", "500.00", 1, "2025-04-10", "active"),
    ("P_OVER", "L5", None, "instalments", "2025-02-03", "300.00", 3, "2025-02-28", "active"),
    ("P_CANCEL", "L6", None, "instalments", "2025-02-06", "400.00", 2, "2025-02-20", "cancelled"),
    ("P_ACTIVE", "L7", "K7", "instalments", "2025-05-20", "100.01", 3, "2025-06-25", "active"),
    ("P_LATER", "C5", None, "instalments", "2025-06-15", "100.00", 1, "2025-06-30", "active"),
    ("P_MARCH", "C6", None, "instalments", "2025-03-10", "150.00", 1, "2025-03-20", "completed"),
]

PAYMENTS = [
    # payment_id, loan_id, paid_at (+08), amount
    ("Y01", "L1", "2025-02-14 10:00:00", "100.00"), ("Y02", "L1", "2025-03-15 23:00:00", "100.00"),
    ("Y03", "L1", "2025-04-10 10:00:00", "100.00"),
    ("Y04", "L2", "2025-02-22 12:00:00", "100.00"), ("Y05", "L2", "2025-03-23 23:59:00", "100.00"),
    ("Y06", "L3", "2025-02-01 10:00:00", "500.00"), ("Y07", "L3", "2025-02-09 10:00:00", "100.00"),
    ("Y08", "L4", "2025-03-01 10:00:00", "200.00"), ("Y09", "L4", "2025-04-13 10:00:00", "300.00"),
    ("Y10", "L5", "2025-02-27 10:00:00", "250.00"), ("Y11", "L5", "2025-04-30 10:00:00", "50.00"),
    ("Y12", "C5", "2025-06-29 10:00:00", "100.00"),
    ("Y13", "C6", "2025-03-20 10:00:00", "150.00"),
]

COMPLAINTS = [
    # complaint_id, source, plan_type, issue, loan_id, received_at (+08), mobile
    ("K1", "form", "instalments", "fees_or_amount", "L1", "2025-01-25 10:00:00", "13800000001"),
    ("K2", "form", "deferral", "repayment_plan_request", "L4", "2025-01-20 10:00:00", "13800000002"),
    ("K3", "hotline", None, "repayment_plan_request", "L3", "2025-02-01 10:00:00", None),
    ("K4", "form", "instalments", "repayment_plan_request", "C1", "2025-02-10 10:00:00", "13800000004"),
    ("K5", "form", "instalments", "repayment_plan_request", "C2", "2025-06-20 10:00:00", "13800000005"),
    ("K6", "form", "none", "communication_tactics", "C7", "2025-02-15 10:00:00", "13800000006"),
    ("K7", "form", "instalments", "repayment_plan_request", "L7", "2025-05-10 10:00:00", "13800000007"),
]

OFFERS = [
    # offer_id, complaint_id, loan_id, plan_type, amount, n, first_due_on, status, offered_at, answered_at, plan_id
    (1, "K1", "L1", "instalments", "300.00", 3, "2025-02-15", "accepted", "2025-02-01 10:00:00",
     "2025-02-05 09:00:00", "P_ON"),
    (2, "K2", "L4", "deferral", "500.00", 1, "2025-04-10", "accepted", "2025-02-08 10:00:00",
     "2025-02-10 09:00:00", "P_DEFER"),
    (3, "K4", "C1", "instalments", "600.00", 6, "2025-03-01", "declined", "2025-02-12 10:00:00",
     "2025-02-13 09:00:00", None),
    (4, "K7", "L7", "instalments", "100.01", 3, "2025-06-25", "accepted", "2025-05-12 22:00:00",
     "2025-05-20 09:00:00", "P_ACTIVE"),
]


def ticket(complaint_id: str) -> str:
    """The ticket number of a fixture complaint (K1 -> CP-2222-33B2)."""
    return f"CP-2222-33{'ABCDEFGH'[int(complaint_id[1])]}2"


def _ts(text: str | None) -> str | None:
    return None if text is None else f"{text}+08"


def load(path: Path, with_plans: bool = True) -> Path:
    """Write the plan book into a migrated database; derived tables are built when first queried."""

    def work(cur) -> None:
        for loan_id, product, region, grade in LOANS:
            cur.execute("insert into customers (customer_id, mobile, province) values ($c, '13800000000', 'x')",
                        {"c": f"U{loan_id}"})
            cur.execute("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, "
                        "disbursed_on, region, risk_grade) values ($l, $c, $p, 5000, 0.2, 12, date '2024-06-01', "
                        "$r, $g)", {"l": loan_id, "c": f"U{loan_id}", "p": product, "r": region, "g": grade})
        for loan_id, values in DPD.items():
            for as_of, dpd in zip(MONTH_ENDS, values, strict=True):
                if dpd is not None:
                    cur.execute("insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount) "
                                "values ($l, $d::date, $dpd, 4000, $o)",
                                {"l": loan_id, "d": as_of, "dpd": dpd, "o": 100 if dpd else 0})
        for payment_id, loan_id, paid_at, amount in PAYMENTS:
            cur.execute("insert into payments (payment_id, loan_id, paid_at, amount) values ($p, $l, $t::timestamptz, "
                        "$a::decimal(18, 2))", {"p": payment_id, "l": loan_id, "t": _ts(paid_at), "a": amount})
        for cid, source, plan_type, issue, loan_id, received, mobile in COMPLAINTS:
            cur.execute("insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, "
                        "status, extension_days, plan_type, ticket, mobile) values ($id, $t::timestamptz, $s, $c, $l, "
                        "$i, 'investigating', 0, $pt, $ticket, $m)",
                        {"id": cid, "t": _ts(received), "s": source, "c": f"U{loan_id}", "l": loan_id, "i": issue,
                         "pt": plan_type, "ticket": None if mobile is None else ticket(cid),
                         "m": mobile})
        if not with_plans:
            return
        for row in PLANS:
            cur.execute("insert into repayment_plans (plan_id, loan_id, complaint_id, plan_type, agreed_on, amount, "
                        "instalments, first_due_on, status) values ($1, $2, $3, $4, $5::date, $6::decimal(18, 2), $7, "
                        "$8::date, $9)", list(row))
        for (offer_id, cid, loan_id, plan_type, amount, n, first_due, status, offered_at, answered_at,
             plan_id) in OFFERS:
            cur.execute("insert into plan_offers (offer_id, complaint_id, loan_id, plan_type, amount, instalments, "
                        "first_due_on, status, offered_by, offered_at, answered_by, answered_at, plan_id) values "
                        "($id, $c, $l, $pt, $a::decimal(18, 2), $n, $f::date, $s, 'compliance1', $o::timestamptz, "
                        "'customer', $ans::timestamptz, $p)",
                        {"id": offer_id, "c": cid, "l": loan_id, "pt": plan_type, "a": amount, "n": n, "f": first_due,
                         "s": status, "o": _ts(offered_at), "ans": _ts(answered_at), "p": plan_id})
        # the portal numbers offers from this sequence: move it past the ids written here
        cur.execute("select nextval('plan_offer_id_seq') from range($n)", {"n": len(OFFERS)})

    db.write(work, db=path)
    complaints.ensure_creation_events(db=path)  # complaints written in SQL start their audit trail, as the backfill does
    return path
