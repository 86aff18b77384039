"""delinquency_buckets, roll_rates, filter_options and month_ends on a hand-built fixture.

Fixture (three month-ends):
  L1 cash_loan/east/A: Jan dpd 0 (out 1000), Feb dpd 15 (out 950, overdue 100), Mar dpd 45 (out 950, overdue 200)
  L2 instalment/west/B: Jan dpd 20 (out 500, overdue 50), Feb dpd 0 (out 480), Mar missing -> closed
  L3 cash_loan/east/C: Jan dpd 200 (out 300, overdue 300), Feb dpd 230 (out 300, overdue 300), Mar dpd 260
"""

from __future__ import annotations

import datetime as dt

import pytest

from portal import db

JAN, FEB, MAR = dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)


@pytest.fixture
def core_db(tmp_db):
    db.execute("""insert into loans values
        ('L1','C1','cash_loan',1000,0.1,12,'2025-12-01','east','A',null),
        ('L2','C2','instalment',500,0.2,6,'2025-12-01','west','B',null),
        ('L3','C3','cash_loan',300,0.3,6,'2025-06-01','east','C',null)""", db=tmp_db)
    db.execute("""insert into snapshots values
        ('L1','2026-01-31',0,1000,0,null), ('L1','2026-02-28',15,950,100,null), ('L1','2026-03-31',45,950,200,null),
        ('L2','2026-01-31',20,500,50,null), ('L2','2026-02-28',0,480,0,null),
        ('L3','2026-01-31',200,300,300,null), ('L3','2026-02-28',230,300,300,null),
        ('L3','2026-03-31',260,300,300,null)""", db=tmp_db)
    return tmp_db


def test_delinquency_buckets_by_hand(core_db):
    out = db.query("delinquency_buckets", db=core_db)
    rows = [(r.as_of.date(), r.bucket, r.loans, float(r.outstanding), float(r.overdue_amount))
            for r in out.itertuples()]
    assert rows == [
        (JAN, "M0", 1, 1000.0, 0.0), (JAN, "M1", 1, 500.0, 50.0), (JAN, "M6+", 1, 300.0, 300.0),
        (FEB, "M0", 1, 480.0, 0.0), (FEB, "M1", 1, 950.0, 100.0), (FEB, "M6+", 1, 300.0, 300.0),
        (MAR, "M2", 1, 950.0, 200.0), (MAR, "M6+", 1, 300.0, 300.0),
    ]
    east = db.query("delinquency_buckets", db=core_db, region=["east"], start=FEB, end=MAR)
    assert east[["bucket", "loans"]].values.tolist() == [["M1", 1], ["M6+", 1]]


def test_roll_rates_by_hand(core_db):
    out = db.query("roll_rates", db=core_db)
    rows = [(r.as_of.date(), r.from_bucket, r.to_bucket, r.loans, round(r.share, 6)) for r in out.itertuples()]
    # Jan -> Feb: L1 M0->M1, L2 M1->M0 (cure), L3 M6+->M6+.  Feb -> Mar: L1 M1->M2, L2 M0->closed, L3 M6+->M6+.
    # March is the last month-end, so it has no row as a `from` month.
    assert rows == [
        (JAN, "M0", "M1", 1, 1.0), (JAN, "M1", "M0", 1, 1.0), (JAN, "M6+", "M6+", 1, 1.0),
        (FEB, "M0", "closed", 1, 1.0), (FEB, "M1", "M2", 1, 1.0), (FEB, "M6+", "M6+", 1, 1.0),
    ]


def test_roll_rate_shares_split(core_db):
    db.execute("insert into loans values ('L4','C4','cash_loan',100,0.1,12,'2025-12-01','east','A',null)",
               db=core_db)
    db.execute("insert into snapshots values ('L4','2026-01-31',0,100,0,null), ('L4','2026-02-28',0,90,0,null)",
               db=core_db)
    out = db.query("roll_rates", db=core_db, start=JAN, end=FEB)
    m0 = out[out["from_bucket"] == "M0"].set_index("to_bucket")["share"].to_dict()
    assert m0 == {"M0": 0.5, "M1": 0.5}  # L1 went to M1, L4 stayed in M0: 1 of 2 each


def test_filter_options_and_month_ends(core_db):
    opts = db.query("filter_options", db=core_db)
    assert opts.values.tolist() == [
        ["product", "cash_loan", 2], ["product", "instalment", 1], ["region", "east", 2], ["region", "west", 1],
        ["risk_grade", "A", 1], ["risk_grade", "B", 1], ["risk_grade", "C", 1],
    ]
    months = db.query("month_ends", db=core_db)
    assert [(m.date(), n) for m, n in months.values.tolist()] == [(JAN, 3), (FEB, 3), (MAR, 2)]
