"""roll_forecast_backtest and the forecast-vs-naive comparison: by hand on book TWO (tests/unit/test_forecast.py)
with an April month-end, and the honest measured figures on the demo book."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction as F

import pandas as pd
import pytest

from portal import db, forecast
from tests.unit.test_forecast import APR, FEB, JAN, MAR, two_state_book

# April: M0 = {L1, L4, L5} 100 + 400 + 300 = 800; M1 = {L2, L3, L6} 100 + 200 + 500 = 800


@pytest.fixture
def two_apr(tmp_db):
    return two_state_book(tmp_db, months=(JAN, FEB, MAR, APR))


def by_key(frame: pd.DataFrame) -> dict[tuple[dt.date, str], dict]:
    return {(pd.Timestamp(r["as_of"]).date(), r["bucket"]): r for r in frame.to_dict("records")}


def test_backtest_with_k_2_one_month_ahead(two_apr):
    got = db.query("roll_forecast_backtest", db=two_apr, horizon="1", k="2")
    assert list(got.columns) == ["as_of", "month_end", "bucket", "forecast_balance", "actual_balance",
                                 "abs_pct_error"]
    # only March has two transition months before it (Jan -> Feb, Feb -> Mar) and a month-end after it
    assert {pd.Timestamp(a).date() for a in got["as_of"]} == {MAR}
    assert {pd.Timestamp(m).date() for m in got["month_end"]} == {APR}
    rows = by_key(got)
    assert set(rows) == {(MAR, "M0"), (MAR, "M1"), (MAR, "M1+")}
    # forecast (test_forecast: 651.76, 948.24) against April's 800 and 800
    m0, m1 = 600 * F(2, 5) + 1000 * F(7, 17), 600 * F(3, 5) + 1000 * F(10, 17)
    assert float(rows[(MAR, "M0")]["forecast_balance"]) == round(float(m0), 2) == 651.76
    assert float(rows[(MAR, "M1")]["actual_balance"]) == 800.0
    assert rows[(MAR, "M0")]["abs_pct_error"] == pytest.approx(float((800 - m0) / 800))  # 0.1853
    assert rows[(MAR, "M1")]["abs_pct_error"] == pytest.approx(float((m1 - 800) / 800))  # 0.1853
    # the delinquent (M1+) row sums M1..M6+: here only M1
    assert rows[(MAR, "M1+")]["forecast_balance"] == rows[(MAR, "M1")]["forecast_balance"]
    assert rows[(MAR, "M1+")]["abs_pct_error"] == rows[(MAR, "M1")]["abs_pct_error"]


def test_backtest_with_k_1_and_the_naive_forecast(two_apr):
    """k = 1: February forecasts March from month A alone, March forecasts April from month B alone.

    Feb (700, 900) under A: M0 = 350 + 337.5 = 687.5, M1 = 350 + 562.5 = 912.5; March is (600, 1000):
    errors M0 87.5 / 600, M1 87.5 / 1000 = 0.0875. Mar (600, 1000) under B: M1 = 600 * 5/7 + 1000 * 5/9 =
    984.13 against April's 800: 0.2302. Naive (M1+): Feb's 900 for March's 1000 = 0.1; March's 1000 for
    April's 800 = 0.25.
    """
    got = by_key(db.query("roll_forecast_backtest", db=two_apr, horizon="1", k="1"))
    assert float(got[(FEB, "M0")]["forecast_balance"]) == 687.5
    assert got[(FEB, "M0")]["abs_pct_error"] == pytest.approx(87.5 / 600)
    assert got[(FEB, "M1+")]["abs_pct_error"] == pytest.approx(0.0875)
    m1_apr = 600 * F(5, 7) + 1000 * F(5, 9)
    assert got[(MAR, "M1+")]["abs_pct_error"] == pytest.approx(float((m1_apr - 800) / 800))

    scores = forecast.accuracy((1, 2), 1, db=two_apr).set_index("horizon")
    assert scores.loc[1, "origins"] == 2
    assert scores.loc[1, "forecast_mape"] == pytest.approx((0.0875 + float((m1_apr - 800) / 800)) / 2)  # 0.1588
    assert scores.loc[1, "naive_mape"] == pytest.approx((0.1 + 0.25) / 2)  # 0.175
    assert scores.loc[1, "winner"] == "forecast"
    # two months ahead from February: (687.5, 912.5) under A again: M1 = 343.75 + 570.3125 = 914.0625
    # against April's 800 = 0.1426; naive: February's 900 against 800 = 0.125, so naive wins here
    assert scores.loc[2, "origins"] == 1
    assert scores.loc[2, "forecast_mape"] == pytest.approx(114.0625 / 800)
    assert scores.loc[2, "naive_mape"] == pytest.approx(0.125)
    assert scores.loc[2, "winner"] == "naive"

    detail = forecast.backtest_frame(1, 1, db=two_apr)
    feb = detail[(pd.to_datetime(detail["as_of"]) == pd.Timestamp(FEB)) & (detail["bucket"] == "M1+")].iloc[0]
    assert (feb["naive_balance"], feb["naive_abs_pct_error"]) == (900.0, pytest.approx(0.1))


def test_no_origin_without_enough_history(two_apr):
    assert db.query("roll_forecast_backtest", db=two_apr, horizon="3", k="1").empty  # Jan + 3 = Apr, no k before
    assert db.query("roll_forecast_backtest", db=two_apr, horizon="1", k="3").empty
    scores = forecast.accuracy((3,), 1, db=two_apr)
    assert scores.loc[0, "origins"] == 0 and scores.loc[0, "winner"] is None
    months = [JAN, FEB, MAR, APR]
    assert forecast.backtest_k(months, (1, 2), 6) == 1
    assert forecast.backtest_k(months, (1,), 6) == 2
    assert forecast.backtest_k(months, (1, 3), 6) is None
    with pytest.raises(db.QueryError):
        db.query("roll_forecast_backtest", db=two_apr, horizon="9")


def test_backtest_origins_agree_with_the_forecast_query(two_apr):
    back = db.query("roll_forecast_backtest", db=two_apr, horizon="2", k="1")
    direct = db.query("roll_forecast", db=two_apr, as_of="2024-02-29", horizon="2", k="1")
    apr = direct[pd.to_datetime(direct["month_end"]) == pd.Timestamp(APR)].set_index("bucket")
    for r in back.itertuples():
        assert float(r.forecast_balance) == float(apr.loc[r.bucket, "forecast_balance"])


def test_backtest_errors_on_the_demo_are_the_definition_recomputed(demo_db):
    """On the small test demo (12 month-ends, so k = 6 leaves 5 origins one month ahead and 3 three
    months ahead) the naive error is |M1+(t) - M1+(t+h)| / M1+(t+h), recomputed from
    delinquency_buckets by hand, and the forecast error is the backtest rows' own mean."""
    months = [pd.Timestamp(m).date() for m in db.query("month_ends", db=demo_db)["as_of"]]
    assert forecast.backtest_k(months, (1, 3), 6) == 6
    scores = forecast.accuracy((1, 3), 6, db=demo_db).set_index("horizon")
    buckets = db.query("delinquency_buckets", db=demo_db)
    m1 = buckets[buckets["bucket"] != "M0"].groupby("as_of")["outstanding"].sum().astype(float).sort_index()
    values = m1.to_numpy()
    for h, origins in ((1, 5), (3, 3)):
        assert scores.loc[h, "origins"] == origins
        errors = [abs(values[i] - values[i + h]) / values[i + h] for i in range(6, len(values) - h)]
        assert scores.loc[h, "naive_mape"] == pytest.approx(sum(errors) / len(errors))
        back = db.query("roll_forecast_backtest", db=demo_db, horizon=str(h))
        m1_rows = back[back["bucket"] == "M1+"]
        assert len(m1_rows) == origins
        assert scores.loc[h, "forecast_mape"] == pytest.approx(m1_rows["abs_pct_error"].astype(float).mean())


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory):
    """The book `portal demo` builds by default (50,000 loans, seed 7), at a fixed end month."""
    from portal import demo

    path = tmp_path_factory.mktemp("demo50k") / "demo.duckdb"
    demo.build(path, loans=50_000, seed=7, end_month=dt.date(2026, 10, 31))
    yield path
    db.close(path)


@pytest.mark.slow
def test_the_forecast_beats_naive_on_the_default_demo_book(default_demo):
    """Issue 19: lower MAPE of the delinquent balance than "next month = this month" at h = 1 and 3.
    Measured, not tuned: 2.48% vs 2.52% one month ahead (a thin margin), 2.66% vs 4.63% three ahead;
    two months ahead naive wins (3.58% vs 3.20%), and the page says so."""
    scores = forecast.accuracy((1, 3), 6, db=default_demo).set_index("horizon")
    for h in (1, 3):
        assert scores.loc[h, "forecast_mape"] < scores.loc[h, "naive_mape"], scores
        assert scores.loc[h, "winner"] == "forecast"
