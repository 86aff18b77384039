"""roll_forecast on tiny hand-built books, every number worked out by hand (written as the fractions
they are), through the real named query on a DuckDB file; plus invariants on random books.

Book TWO (two states, M0 and M1; no loan closes, none is new; balances never change):

    loan  balance  Jan  Feb  Mar  (Apr, used by the backtest tests)
    L1    100      M0   M0   M0   M0
    L2    100      M0   M0   M0   M1
    L3    200      M0   M0   M1   M1
    L4    400      M0   M1   M0   M0
    L5    300      M1   M0   M1   M0
    L6    500      M1   M1   M1   M1

Jan -> Feb (month A): of M0 {L1..L4} 3 stay, L4 rolls; of M1 {L5, L6} L5 cures, L6 stays.
Feb -> Mar (month B): of M0 {L1, L2, L3, L5} 2 stay, L3 and L5 roll; of M1 {L4, L6} L4 cures, L6 stays.
Pooled by count: M0 -> M0 5/8, M0 -> M1 3/8; M1 -> M0 2/4, M1 -> M1 2/4.
Pooled by balance: M0 holds 800 + 700 = 1500, of which 400 + 200 = 600 stays: 2/5 and 3/5;
M1 holds 800 + 900 = 1700, of which 300 + 400 = 700 cures: 7/17 and 10/17.
March (the origin): M0 = {L1, L2, L4} 3 loans, 600; M1 = {L3, L5, L6} 3 loans, 1000.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction as F

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import db, forecast

JAN, FEB, MAR, APR = dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 30)
DPD = {"M0": 0, "M1": 15, "M2": 45}

TWO = {  # loan: (balance, bucket per month-end)
    "L1": (100, ("M0", "M0", "M0", "M0")),
    "L2": (100, ("M0", "M0", "M0", "M1")),
    "L3": (200, ("M0", "M0", "M1", "M1")),
    "L4": (400, ("M0", "M1", "M0", "M0")),
    "L5": (300, ("M1", "M0", "M1", "M0")),
    "L6": (500, ("M1", "M1", "M1", "M1")),
}


def write_book(path, snapshots: list[tuple[str, dt.date, int, float]], disbursed: dict[str, dt.date] | None = None):
    """Insert loans (one per loan id in snapshots) and snapshot rows (loan_id, as_of, dpd, outstanding)."""
    loan_ids = sorted({s[0] for s in snapshots})
    loans = pd.DataFrame({
        "loan_id": loan_ids, "customer_id": [f"U{x}" for x in loan_ids], "product": "cash_loan",
        "principal": 1000.0, "annual_rate": 0.2, "term_months": 12,
        "disbursed_on": [(disbursed or {}).get(x, dt.date(2023, 6, 1)) for x in loan_ids],
        "region": "east", "risk_grade": "B",
    })
    snaps = pd.DataFrame(snapshots, columns=["loan_id", "as_of", "dpd", "outstanding_principal"])
    snaps["overdue_amount"] = [min(o, 50.0) if d > 0 else 0.0 for d, o in zip(snaps["dpd"], snaps["outstanding_principal"],
                                                                             strict=True)]

    def work(cur):
        with db.arrow_view(cur, "_loans", loans):
            cur.execute("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months,"
                        " disbursed_on, region, risk_grade) select loan_id, customer_id, product, principal,"
                        " annual_rate, term_months, disbursed_on, region, risk_grade from _loans")
        with db.arrow_view(cur, "_snaps", snaps):
            cur.execute("insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount)"
                        " select loan_id, as_of, dpd, outstanding_principal, overdue_amount from _snaps")

    db.write(work, db=path)
    return path


def two_state_book(path, months=(JAN, FEB, MAR)):
    rows = [(loan, m, DPD[path_[i]], float(bal)) for loan, (bal, path_) in TWO.items()
            for i, m in enumerate((JAN, FEB, MAR, APR)) if m in months]
    return write_book(path, rows)


@pytest.fixture
def two(tmp_db):
    return two_state_book(tmp_db)


def rows(frame: pd.DataFrame, month: dt.date) -> dict[str, dict]:
    part = frame[pd.to_datetime(frame["month_end"]) == pd.Timestamp(month)]
    return {r["bucket"]: r for r in part.to_dict("records")}


def test_two_state_chain_loans_are_count_weighted(two):
    got = db.query("roll_forecast", db=two, horizon="3")
    assert list(got.columns) == ["month_end", "bucket", "forecast_loans", "forecast_balance", "low_balance",
                                 "high_balance"]
    assert sorted({pd.Timestamp(m).date() for m in got["month_end"]}) == [APR, dt.date(2024, 5, 31),
                                                                          dt.date(2024, 6, 30)]
    p = {("M0", "M0"): F(5, 8), ("M0", "M1"): F(3, 8), ("M1", "M0"): F(1, 2), ("M1", "M1"): F(1, 2)}
    v = {"M0": F(3), "M1": F(3)}
    expected = []
    for _ in range(3):
        v = {j: sum(v[i] * p[(i, j)] for i in v) for j in ("M0", "M1")}
        expected.append(v)
    # by hand: h=1 M0 = 3*5/8 + 3*1/2 = 27/8 = 3.375; h=2 3.421875; h=3 3.427734375 (M1 = 6 - M0)
    assert [e["M0"] for e in expected] == [F(27, 8), F(219, 64), F(1755, 512)]
    for month, want in zip((APR, dt.date(2024, 5, 31), dt.date(2024, 6, 30)), expected, strict=True):
        r = rows(got, month)
        assert set(r) == {"M0", "M1", "closed", "M1+"}
        assert r["M0"]["forecast_loans"] == pytest.approx(float(want["M0"]), abs=0.005)
        assert r["M1"]["forecast_loans"] == pytest.approx(float(want["M1"]), abs=0.005)
        assert r["M1+"]["forecast_loans"] == r["M1"]["forecast_loans"]
        assert r["closed"]["forecast_loans"] == 0 and r["closed"]["forecast_balance"] == 0


def test_two_state_chain_balance_is_balance_weighted(two):
    got = db.query("roll_forecast", db=two, horizon="2")
    q = {("M0", "M0"): F(2, 5), ("M0", "M1"): F(3, 5), ("M1", "M0"): F(7, 17), ("M1", "M1"): F(10, 17)}
    v = {"M0": F(600), "M1": F(1000)}
    h1 = {j: sum(v[i] * q[(i, j)] for i in v) for j in v}
    # by hand: M0 = 600 * 2/5 + 1000 * 7/17 = 240 + 411.76 = 651.76; M1 = 360 + 588.24 = 948.24
    assert round(float(h1["M0"]), 2) == 651.76 and round(float(h1["M1"]), 2) == 948.24
    h2 = {j: sum(h1[i] * q[(i, j)] for i in h1) for j in h1}
    for month, want in ((APR, h1), (dt.date(2024, 5, 31), h2)):
        r = rows(got, month)
        assert float(r["M0"]["forecast_balance"]) == pytest.approx(float(want["M0"]), abs=0.006)
        assert float(r["M1"]["forecast_balance"]) == pytest.approx(float(want["M1"]), abs=0.006)
        assert float(r["M0"]["forecast_balance"]) + float(r["M1"]["forecast_balance"]) == pytest.approx(1600, abs=0.01)


def test_the_interval_bootstraps_the_months(two):
    """low / high: the 2.5th and 97.5th percentiles of 500 paths, each future month repeating month A or B.

    Month A's balance rates: M0 stays 400/800, rolls 400/800; M1 cures 300/800, stays 500/800.
    Month B's: M0 stays 200/700, rolls 500/700; M1 cures 400/900, stays 500/900.
    h = 1 from (600, 1000): under A M0 = 300 + 375 = 675, M1 = 925; under B M0 = 600*2/7 + 1000*4/9 = 615.87,
    M1 = 984.13. About half of the paths draw each month, so the percentiles are those two values.
    h = 2: AA (675, 925) -> M0 = 337.5 + 346.875 = 684.375; AB -> 675*2/7 + 925*4/9 = 603.97; BA -> 676.98;
    BB -> 613.35: the lowest M0 is AB and the highest AA (each about a quarter of the paths).
    """
    a = {("M0", "M0"): F(1, 2), ("M0", "M1"): F(1, 2), ("M1", "M0"): F(3, 8), ("M1", "M1"): F(5, 8)}
    b = {("M0", "M0"): F(2, 7), ("M0", "M1"): F(5, 7), ("M1", "M0"): F(4, 9), ("M1", "M1"): F(5, 9)}

    def step(v, m):
        return {j: sum(v[i] * m[(i, j)] for i in v) for j in ("M0", "M1")}

    start = {"M0": F(600), "M1": F(1000)}
    under_a, under_b = step(start, a), step(start, b)
    assert (under_a["M0"], round(float(under_b["M0"]), 2)) == (675, 615.87)
    got = db.query("roll_forecast", db=two, horizon="2")
    apr = rows(got, APR)
    assert float(apr["M0"]["low_balance"]) == round(float(under_b["M0"]), 2)
    assert float(apr["M0"]["high_balance"]) == 675.00
    assert float(apr["M1"]["low_balance"]) == 925.00
    assert float(apr["M1"]["high_balance"]) == round(float(under_b["M1"]), 2)
    assert (apr["M1+"]["low_balance"], apr["M1+"]["high_balance"]) == (apr["M1"]["low_balance"],
                                                                        apr["M1"]["high_balance"])
    may = rows(got, dt.date(2024, 5, 31))
    ab, aa = step(under_a, b), step(under_a, a)
    assert float(may["M0"]["low_balance"]) == round(float(ab["M0"]), 2) == 603.97
    assert float(may["M0"]["high_balance"]) == round(float(aa["M0"]), 2) == 684.38
    for r in (*apr.values(), *may.values()):
        assert r["low_balance"] <= r["high_balance"]


def three_state_book(path):
    """Book THREE: M0, M1 and closed (absorbing), balances that amortise, and new loans entering M0.

    loan  disbursed   Jan        Feb          Mar
    L1    2023-06     M0 1000    M0 900       (closed)
    L2    2023-06     M0 1000    M1 1000      M1 1000
    L3    2023-06     M1 500     (closed)
    L4    2023-06     M1 500     M0 450       M0 400
    N1    2024-02                M0 800       M0 700
    N2    2024-03                             M0 600
    N3    2024-03                             M0 400
    """
    snaps = [
        ("L1", JAN, 0, 1000.0), ("L2", JAN, 0, 1000.0), ("L3", JAN, 10, 500.0), ("L4", JAN, 20, 500.0),
        ("L1", FEB, 0, 900.0), ("L2", FEB, 5, 1000.0), ("L4", FEB, 0, 450.0), ("N1", FEB, 0, 800.0),
        ("L2", MAR, 25, 1000.0), ("L4", MAR, 0, 400.0), ("N1", MAR, 0, 700.0), ("N2", MAR, 0, 600.0),
        ("N3", MAR, 0, 400.0),
    ]
    return write_book(path, snaps, {"N1": dt.date(2024, 2, 10), "N2": dt.date(2024, 3, 3), "N3": dt.date(2024, 3, 20)})


def test_three_state_chain_with_closed_absorbing_and_new_loans(tmp_db):
    """By hand, pooled over Jan -> Feb and Feb -> Mar:
    count: M0 (5 loan-months): -> M0 3 (L1 Jan, L4 Feb, N1 Feb), -> M1 1 (L2 Jan), -> closed 1 (L1 Feb);
           M1 (3): -> M0 1 (L4 Jan), -> M1 1 (L2 Feb), -> closed 1 (L3 Jan).
    balance: M0 holds 2000 + 2150 = 4150 and carries 900 + 400 + 700 = 2000 into M0 a month later, 1000 into
             M1; 900 closes; M1 holds 1000 + 1000 = 2000: 450 into M0, 1000 into M1, 500 closes.
    new loans: Feb N1 (800), Mar N2 + N3 (1000): 1.5 loans and 900 a month, into M0.
    March: M0 = {L4, N1, N2, N3} 4 loans, 2100; M1 = {L2} 1 loan, 1000.
    """
    book = three_state_book(tmp_db)
    p = {"M0": {"M0": F(3, 5), "M1": F(1, 5), "closed": F(1, 5)},
         "M1": {"M0": F(1, 3), "M1": F(1, 3), "closed": F(1, 3)},
         "closed": {"closed": F(1)}}
    q = {"M0": {"M0": F(2000, 4150), "M1": F(1000, 4150), "closed": F(900, 4150)},
         "M1": {"M0": F(450, 2000), "M1": F(1000, 2000), "closed": F(500, 2000)},
         "closed": {"closed": F(1)}}
    new_loans, new_balance = F(3, 2), F(900)
    loans = {"M0": F(4), "M1": F(1), "closed": F(0)}
    balance = {"M0": F(2100), "M1": F(1000), "closed": F(0)}
    got = db.query("roll_forecast", db=book, horizon="3")
    for h, month in enumerate((APR, dt.date(2024, 5, 31), dt.date(2024, 6, 30)), start=1):
        loans = {j: sum(loans[i] * p[i].get(j, 0) for i in loans) + (new_loans if j == "M0" else 0) for j in loans}
        balance = {j: sum(balance[i] * q[i].get(j, 0) for i in balance) + (new_balance if j == "M0" else 0)
                   for j in balance}
        if h == 1:
            # M0 = 4*3/5 + 1/3 + 1.5 = 4.2333; M1 = 4/5 + 1/3 = 1.1333; closed = 1.1333; all 6.5 = 5 + 1.5
            assert loans == {"M0": F(127, 30), "M1": F(17, 15), "closed": F(17, 15)}
            # M0 = 2100*2000/4150 + 1000*0.225 + 900 = 2137.05; M1 = 506.02 + 500; closed = 455.42 + 250
            assert [round(float(balance[b]), 2) for b in ("M0", "M1", "closed")] == [2137.05, 1006.02, 705.42]
        r = rows(got, month)
        assert set(r) == {"M0", "M1", "closed", "M1+"}
        for bucket in ("M0", "M1", "closed"):
            assert r[bucket]["forecast_loans"] == pytest.approx(float(loans[bucket]), abs=0.005), (h, bucket)
            assert float(r[bucket]["forecast_balance"]) == pytest.approx(float(balance[bucket]), abs=0.006), (h, bucket)
        # the absorbing state only grows, and every loan is somewhere: the book plus h months of inflow
        assert sum(r[b]["forecast_loans"] for b in ("M0", "M1", "closed")) == pytest.approx(5 + 1.5 * h, abs=0.02)


def test_as_of_k_and_horizon_parameters(two):
    # from February with k = 1: only Jan -> Feb counts; the book at Feb is M0 {L1, L2, L3, L5}, M1 {L4, L6}
    got = rows(db.query("roll_forecast", db=two, as_of="2024-02-29", horizon="1", k="1"), MAR)
    # count: M0 -> M0 3/4, M1 -> M0 1/2: 4*3/4 + 2*1/2 = 4; balance (700, 900) under month A: 350 + 337.5
    assert got["M0"]["forecast_loans"] == 4.0
    assert float(got["M0"]["forecast_balance"]) == 687.5
    # k larger than the history uses what there is: from March, k = 6 and k = 2 agree
    assert db.query("roll_forecast", db=two, horizon="1", k="6").equals(db.query("roll_forecast", db=two, horizon="1",
                                                                                 k="2"))
    # no forecast from a month-end without history, nor from a date that is not a month-end in the data
    assert db.query("roll_forecast", db=two, as_of="2024-01-31").empty
    assert db.query("roll_forecast", db=two, as_of="2024-03-15").empty
    for bad in ({"horizon": "7"}, {"horizon": "0"}, {"k": "13"}, {"horizon": "two"}):
        with pytest.raises(db.QueryError):
            db.query("roll_forecast", db=two, **bad)


def test_filters_scope_the_book(two):
    assert db.query("roll_forecast", db=two, product=["instalment"]).empty
    assert db.query("roll_forecast", db=two, product=["cash_loan"]).equals(db.query("roll_forecast", db=two))


def test_forecast_frame_is_the_named_query(two):
    frame = forecast.forecast_frame(None, 2, db=two)
    assert frame.equals(db.query("roll_forecast", db=two, horizon="2"))
    assert forecast.available_k([JAN, FEB, MAR], MAR) == 2
    assert forecast.available_k([JAN, MAR], MAR) == 0
    assert forecast.available_k([JAN, FEB, MAR], MAR, k=1) == 1


# Invariants on random books.

BUCKET_DPD = (0, 10, 40, 70, 100, 130, 160, 200)


@st.composite
def random_books(draw):
    n = draw(st.integers(2, 12))
    months = [JAN, FEB, MAR, APR]
    snaps = []
    for i in range(n):
        start = draw(st.integers(0, 2))  # a loan may enter later (new)
        end = draw(st.integers(start + 1, 4))  # and close earlier
        balance = float(draw(st.integers(0, 5000)))
        for m in months[start:end]:
            bucket = draw(st.integers(0, 7))
            snaps.append((f"R{i}", m, BUCKET_DPD[bucket], balance))
            balance = float(max(0, balance - draw(st.integers(0, 300))))
    return snaps


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(snaps=random_books())
def test_invariants_on_random_books(tmp_path_factory, snaps):
    path = tmp_path_factory.mktemp("fc") / "book.duckdb"
    write_book(path, snaps)
    try:
        got = db.query("roll_forecast", db=path, horizon="3", k="3")
        if got.empty:
            return
        book = pd.DataFrame(snaps, columns=["loan_id", "as_of", "dpd", "bal"])
        origin = max(book["as_of"])
        at_origin = int((book["as_of"] == origin).sum())
        # new loans: in a month-end's snapshot and not in the one before, over the (up to 3) transitions
        present = {m: set(book.loc[book["as_of"] == m, "loan_id"]) for m in set(book["as_of"])}
        pairs = [(a, b) for a, b in ((JAN, FEB), (FEB, MAR), (MAR, APR)) if b <= origin and a in present
                 and b in present]
        mean_new = sum(len(present[b] - present[a]) for a, b in pairs) / len(pairs)
        for h, part in enumerate(sorted(got.groupby("month_end"), key=lambda kv: kv[0]), start=1):
            frame = part[1]
            states = frame[frame["bucket"] != "M1+"]
            assert states["forecast_loans"].sum() == pytest.approx(at_origin + h * mean_new, abs=0.01 * (1 + h) + 0.06)
            assert (frame["low_balance"] <= frame["high_balance"]).all()
            delinquent = states[~states["bucket"].isin(["M0", "closed"])]
            m1 = frame[frame["bucket"] == "M1+"]
            assert float(m1["forecast_balance"].sum()) == pytest.approx(float(delinquent["forecast_balance"].sum()),
                                                                        abs=0.01 * len(delinquent) + 0.001)
        # the backtest is the same model: each of its origins agrees with roll_forecast from there
        back = db.query("roll_forecast_backtest", db=path, horizon="1", k="1")
        for origin_date, part in back.groupby("as_of"):
            direct = db.query("roll_forecast", db=path, as_of=pd.Timestamp(origin_date).date(), horizon="1", k="1")
            for r in part.itertuples():
                match = direct[direct["bucket"] == r.bucket]
                want = float(match["forecast_balance"].iloc[0]) if not match.empty else 0.0
                assert float(r.forecast_balance) == pytest.approx(want, abs=0.011), (origin_date, r.bucket)
    finally:
        db.close(path)
