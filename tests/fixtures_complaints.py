"""A small hand-built complaints fixture (times in Asia/Shanghai, +08) for the complaint queries.

Complaints (due = received + 15 days + extension; "as of" in tests is 2026-04-20 12:00 +08):

| id | received (+08)   | issue                 | status        | resolved (+08)   | ext | due (+08)   | channel | agency |
|----|------------------|-----------------------|---------------|------------------|-----|-------------|---------|--------|
| K1 | 2026-03-01 10:00 | communication_tactics | resolved      | 2026-03-11 10:00 |   0 | 03-16 10:00 | phone   | AG01   |
| K2 | 2026-03-05 10:00 | communication_tactics | closed        | 2026-03-25 10:00 |   0 | 03-20 10:00 | phone   | AG01   |
| K3 | 2026-03-10 10:00 | communication_tactics | closed        | 2026-04-05 10:00 |  15 | 04-09 10:00 | sms     |        |
| K4 | 2026-03-20 10:00 | communication_tactics | investigating |                  |   0 | 04-04 10:00 | phone   | AG02   |
| K5 | 2026-03-31 10:00 | privacy               | triaged       |                  |  15 | 04-30 10:00 | visit   |        |
| K6 | 2026-03-15 00:00 | privacy               | closed (CFPB, timely_response Yes, no resolved_at)  |       |         |        |
| K7 | 2026-02-28 23:59 | privacy               | new           |                  |   0 | 03-15 23:59 |         |        |
| K8 | 2026-04-01 00:00 | other                 | new           |                  |   0 | 04-16 00:00 |         |        |
| K9 | 2026-03-01 00:00 | other                 | resolved      | 2026-03-16 00:00 |   0 | 03-16 00:00 |         |        |

Customers: C1 (timezone Asia/Urumqi, +06) owns L1 and L2; C2 owns L3. K1 names only loan L1.
"""

from __future__ import annotations

from pathlib import Path

from portal import db

COMPLAINTS_SQL = """
insert into complaints (complaint_id, received_at, source, customer_id, loan_id, issue, channel, agency_id,
                        narrative, status, resolved_at, extension_days, extension_reason, timely_response,
                        ticket, mobile, complainant_name)
values
 ('K1', timestamptz '2026-03-01 10:00:00+08', 'form', null, 'L1', 'communication_tactics', 'phone', 'AG01',
  'Called me 8 times.', 'resolved', timestamptz '2026-03-11 10:00:00+08', 0, null, null,
  'CP-2222-3333', '13812345678', '张三'),
 ('K2', timestamptz '2026-03-05 10:00:00+08', 'hotline', 'C2', 'L3', 'communication_tactics', 'phone', 'AG01',
  null, 'closed', timestamptz '2026-03-25 10:00:00+08', 0, null, null, null, null, null),
 ('K3', timestamptz '2026-03-10 10:00:00+08', 'form', 'C1', null, 'communication_tactics', 'sms', null,
  null, 'closed', timestamptz '2026-04-05 10:00:00+08', 15, 'complex', null, null, null, null),
 ('K4', timestamptz '2026-03-20 10:00:00+08', 'regulator', null, null, 'communication_tactics', 'phone', 'AG02',
  null, 'investigating', null, 0, null, null, null, null, null),
 ('K5', timestamptz '2026-03-31 10:00:00+08', 'form', null, null, 'privacy', 'visit', null,
  null, 'triaged', null, 15, 'records', null, null, null, null),
 ('K6', timestamptz '2026-03-15 00:00:00+08', 'email', null, null, 'privacy', null, null,
  null, 'closed', null, 0, null, 'Yes', null, null, null),
 ('K7', timestamptz '2026-02-28 23:59:00+08', 'form', null, null, 'privacy', null, null,
  null, 'new', null, 0, null, null, null, null, null),
 ('K8', timestamptz '2026-04-01 00:00:00+08', 'form', null, null, 'other', null, null,
  null, 'new', null, 0, null, null, null, null, null),
 ('K9', timestamptz '2026-03-01 00:00:00+08', 'letter', null, null, 'other', null, null,
  null, 'resolved', timestamptz '2026-03-16 00:00:00+08', 0, null, null, null, null, null)
"""

BOOK_SQL = """
insert into customers (customer_id, name, mobile, province, timezone) values
 ('C1', '张三', '13812345678', 'Xinjiang', 'Asia/Urumqi'),
 ('C2', '李四', '13900001111', 'Beijing', 'Asia/Shanghai');
insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, disbursed_on) values
 ('L1', 'C1', 'cash_loan', 5000, 0.24, 12, date '2025-06-01'),
 ('L2', 'C1', 'instalment', 3000, 0.18, 6, date '2025-09-01'),
 ('L3', 'C2', 'cash_loan', 8000, 0.24, 12, date '2025-06-01');
insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount) values
 ('L1', date '2026-01-31', 0, 4000, 0),
 ('L1', date '2026-02-28', 35, 3800, 450.50),
 ('L1', date '2026-03-31', 65, 3800, 900),
 ('L3', date '2026-03-31', 5, 7000, 700);
insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, agent_id, agency_id, cost) values
 ('X1', 'L1', timestamptz '2026-01-30 09:59:00+08', 'sms', 'debtor', 'sent', null, null, 0.05),
 ('X2', 'L1', timestamptz '2026-01-30 10:00:00+08', 'sms', 'debtor', 'delivered', null, null, 0.05),
 ('X3', 'L2', timestamptz '2026-03-01 23:30:00+08', 'phone', 'debtor', 'no_answer', 'A001', 'AG01', 1.2),
 ('X4', 'L3', timestamptz '2026-03-02 10:00:00+08', 'phone', 'debtor', 'rpc', 'A002', null, 1.2),
 ('X5', 'L1', timestamptz '2026-03-31 10:00:01+08', 'phone', 'debtor', 'rpc', 'A001', 'AG01', 1.2);
"""


def build(path: Path) -> Path:
    """Load the fixture into a migrated database file and return its path."""
    db.execute(BOOK_SQL, db=path)
    db.execute(COMPLAINTS_SQL, db=path)
    return path
