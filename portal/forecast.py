"""The roll-rate forecast and its backtest against the naive forecast, as plain functions over the
named queries `roll_forecast` and `roll_forecast_backtest` (queries/*.sql hold the model; this module
adds no arithmetic of its own beyond the naive comparison). Used by the Delinquency page and the
board pack; no Streamlit here.

Every function takes `runner`, a callable `runner(name, **params) -> DataFrame` (default: db.query on
`db`), so a page can pass its cached query runner.

The naive forecast ("next month = this month", DOMAIN.md) predicts for month_end the balance observed
at the origin as_of; its error is computed here from `delinquency_buckets` (the observed book, same
rollup and filters) against the backtest's actual_balance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from portal import db as portal_db

DEFAULT_K = 6
HORIZONS = tuple(range(1, 7))
ACCURACY_HORIZONS = (1, 3)
DELINQUENT = "M1+"
DIMENSIONS = ("product", "region", "risk_grade")
SIMULATED_PATHS = 500
INTERVAL_LEVEL = 0.95

Runner = Callable[..., pd.DataFrame]


def _runner(runner: Runner | None, db: str | Path | None) -> Runner:
    if runner is not None:
        return runner
    return lambda name, **params: portal_db.query(name, db=db, **params)


def _scope(dims: dict[str, Any] | None) -> dict[str, Any]:
    return {k: (dims or {}).get(k) for k in DIMENSIONS}


def forecast_frame(as_of: dt.date | None = None, horizon: int = 6, k: int = DEFAULT_K,
                   dims: dict[str, Any] | None = None, *, db: str | Path | None = None,
                   runner: Runner | None = None) -> pd.DataFrame:
    """The roll_forecast rows: month_end, bucket, forecast_loans, forecast_balance, low_balance, high_balance.

    as_of None starts from the latest month-end in scope; buckets M0..M6+, closed (cumulative since
    as_of) and M1+ (M1..M6+ summed, with its own interval).
    """
    run = _runner(runner, db)
    return run("roll_forecast", as_of=as_of, horizon=str(int(horizon)), k=str(int(k)), **_scope(dims))


def backtest_frame(horizon: int, k: int = DEFAULT_K, dims: dict[str, Any] | None = None, *,
                   db: str | Path | None = None, runner: Runner | None = None) -> pd.DataFrame:
    """The roll_forecast_backtest rows, with the naive forecast beside each: naive_balance (the balance
    observed at as_of) and naive_abs_pct_error."""
    run = _runner(runner, db)
    back = run("roll_forecast_backtest", horizon=str(int(horizon)), k=str(int(k)), **_scope(dims))
    observed = observed_balances(dims, runner=run)
    key = pd.MultiIndex.from_arrays([pd.to_datetime(back["as_of"]), back["bucket"]])
    naive = observed.reindex(key).fillna(0.0).to_numpy() if not back.empty else []
    out = back.assign(naive_balance=naive)
    actual = out["actual_balance"].astype(float)
    out["naive_abs_pct_error"] = ((out["naive_balance"] - actual).abs() / actual.where(actual != 0)).astype(float)
    return out


def observed_balances(dims: dict[str, Any] | None = None, *, db: str | Path | None = None,
                      runner: Runner | None = None) -> pd.Series:
    """Outstanding balance per (as_of, bucket) from delinquency_buckets, with an M1+ total per month-end."""
    run = _runner(runner, db)
    buckets = run("delinquency_buckets", **_scope(dims))
    if buckets.empty:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []], names=["as_of", "bucket"]))
    frame = buckets.assign(as_of=pd.to_datetime(buckets["as_of"]), outstanding=buckets["outstanding"].astype(float))
    per_bucket = frame.groupby(["as_of", "bucket"])["outstanding"].sum()
    delinquent = frame[frame["bucket"] != "M0"].groupby("as_of")["outstanding"].sum()
    delinquent.index = pd.MultiIndex.from_arrays([delinquent.index, [DELINQUENT] * len(delinquent)])
    return pd.concat([per_bucket, delinquent]).rename_axis(["as_of", "bucket"])


def accuracy(horizons: Iterable[int] = ACCURACY_HORIZONS, k: int = DEFAULT_K, dims: dict[str, Any] | None = None,
             *, db: str | Path | None = None, runner: Runner | None = None) -> pd.DataFrame:
    """Forecast vs naive on the delinquent (M1+) balance, per horizon.

    Columns: horizon, k, origins (backtest month-ends), forecast_mape, naive_mape (mean absolute
    percentage errors, fractions; NaN without origins) and winner ('forecast', 'naive', 'tie' or None).
    """
    run = _runner(runner, db)
    rows = []
    for h in horizons:
        back = backtest_frame(h, k, dims, runner=run)
        agg = back[(back["bucket"] == DELINQUENT) & back["abs_pct_error"].notna()]
        f_mape = float(agg["abs_pct_error"].mean()) if not agg.empty else float("nan")
        n_mape = float(agg["naive_abs_pct_error"].mean()) if not agg.empty else float("nan")
        if agg.empty:
            winner = None
        elif abs(f_mape - n_mape) < 1e-12:
            winner = "tie"
        else:
            winner = "forecast" if f_mape < n_mape else "naive"
        rows.append({"horizon": int(h), "k": int(k), "origins": int(len(agg)), "forecast_mape": f_mape,
                     "naive_mape": n_mape, "winner": winner})
    return pd.DataFrame(rows, columns=["horizon", "k", "origins", "forecast_mape", "naive_mape", "winner"])


def _months_apart(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def backtest_k(month_ends: Sequence[dt.date], horizons: Iterable[int] = ACCURACY_HORIZONS,
               k: int = DEFAULT_K) -> int | None:
    """The largest k' <= k for which every horizon has at least one backtest origin, given the
    month-ends in the data (a transition needs consecutive month-ends); None when even k' = 1 has none.

    An origin needs k' consecutive month-ends before it and the month-end `h` months after it.
    """
    months = sorted({pd.Timestamp(m).date() for m in month_ends})
    present = {(m.year, m.month) for m in months}

    def shifted(m: dt.date, n: int) -> tuple[int, int]:
        total = m.year * 12 + m.month - 1 + n
        return total // 12, total % 12 + 1

    def origins(kk: int, h: int) -> int:
        return sum(
            1 for m in months
            if shifted(m, h) in present and all(shifted(m, -n) in present for n in range(1, kk + 1))
        )

    for kk in range(int(k), 0, -1):
        if all(origins(kk, h) > 0 for h in horizons):
            return kk
    return None


def history_and_forecast(forecast: pd.DataFrame, observed: pd.Series, as_of: dt.date,
                         months_back: int = 12) -> pd.DataFrame:
    """Observed balances (the months_back month-ends up to as_of and any observed after it) and the
    forecast in one long frame for the chart: month_end, bucket, balance, low, high, kind ('actual' or
    'forecast'). The forecast line starts at as_of's observed value so that it joins the history."""
    if observed.empty:
        actual = pd.DataFrame(columns=["month_end", "bucket", "balance"])
    else:
        actual = observed.rename("balance").reset_index().rename(columns={"as_of": "month_end"})
    cutoff = pd.Timestamp(as_of) - pd.DateOffset(months=months_back)
    actual = actual[pd.to_datetime(actual["month_end"]) > cutoff].assign(kind="actual", low=None, high=None)
    fc = forecast[forecast["bucket"] != "closed"].rename(columns={
        "forecast_balance": "balance", "low_balance": "low", "high_balance": "high"})
    anchor = actual[pd.to_datetime(actual["month_end"]) == pd.Timestamp(as_of)].assign(kind="forecast")
    anchor = anchor.assign(low=anchor["balance"], high=anchor["balance"])
    fc = pd.concat([anchor, fc.assign(kind="forecast")[["month_end", "bucket", "balance", "low", "high", "kind"]]])
    out = pd.concat([actual, fc], ignore_index=True)
    out["month_end"] = pd.to_datetime(out["month_end"])
    for col in ("balance", "low", "high"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out[["month_end", "bucket", "balance", "low", "high", "kind"]]


def available_k(month_ends: Sequence[dt.date], as_of: dt.date, k: int = DEFAULT_K) -> int:
    """How many transition months roll_forecast averages from as_of: the month-ends t in the k months
    before as_of whose next month-end (at most as_of) is in the data."""
    present = {(m.year, m.month) for m in (pd.Timestamp(x).date() for x in month_ends)}
    count = 0
    for n in range(1, int(k) + 1):
        total = as_of.year * 12 + as_of.month - 1 - n
        month, following = (total // 12, total % 12 + 1), ((total + 1) // 12, (total + 1) % 12 + 1)
        if month in present and following in present:
            count += 1
    return count
