"""roll_rates on a real panel: the UCI Taiwan credit-card data (30,000 accounts, April..September 2005)
converted to month-end snapshots, checked against a transition matrix computed independently in pandas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from portal import db

# PAY_6 is the repayment status in April 2005, ..., PAY_0 in September; BILL_AMT6..BILL_AMT1 likewise.
MONTHS = {
    "2005-04-30": ("PAY_6", "BILL_AMT6"), "2005-05-31": ("PAY_5", "BILL_AMT5"), "2005-06-30": ("PAY_4", "BILL_AMT4"),
    "2005-07-31": ("PAY_3", "BILL_AMT3"), "2005-08-31": ("PAY_2", "BILL_AMT2"), "2005-09-30": ("PAY_0", "BILL_AMT1"),
}


@pytest.fixture(scope="module")
def panel(external_dir) -> pd.DataFrame:
    return pd.read_csv(external_dir / "uci_taiwan_credit_card_default.csv")


def to_snapshots(panel: pd.DataFrame) -> pd.DataFrame:
    """Status k >= 1 (k months late) -> dpd 30k, else 0; outstanding = bill clipped at 0; overdue only when dpd > 0."""
    frames = []
    for as_of, (pay, bill) in MONTHS.items():
        dpd = np.where(panel[pay] >= 1, 30 * panel[pay], 0).astype(int)
        outstanding = panel[bill].clip(lower=0).astype(float)
        frames.append(pd.DataFrame({
            "loan_id": panel["ID"].astype(str), "as_of": dt.date.fromisoformat(as_of), "dpd": dpd,
            "outstanding_principal": outstanding, "overdue_amount": np.where(dpd > 0, outstanding, 0.0),
        }))
    return pd.concat(frames, ignore_index=True)


def expected_transitions(snaps: pd.DataFrame) -> pd.DataFrame:
    """The transition counts and row shares, computed with pandas only (no SQL)."""
    labels = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+"]
    snaps = snaps.assign(bucket=pd.cut(snaps["dpd"], [-1, 0, 30, 60, 90, 120, 150, 180, np.inf], labels=labels)
                         .astype(str))
    dates = sorted(snaps["as_of"].unique())
    out = []
    for this, nxt in zip(dates, dates[1:], strict=False):
        a = snaps[snaps["as_of"] == this].set_index("loan_id")["bucket"]
        b = snaps[snaps["as_of"] == nxt].set_index("loan_id")["bucket"].reindex(a.index).fillna("closed")
        counts = pd.crosstab(a.rename("from_bucket"), b.rename("to_bucket")).stack().rename("loans").reset_index()
        counts = counts[counts["loans"] > 0]
        counts["share"] = counts["loans"] / counts.groupby("from_bucket")["loans"].transform("sum")
        counts.insert(0, "as_of", pd.Timestamp(this))
        out.append(counts)
    return pd.concat(out).sort_values(["as_of", "from_bucket", "to_bucket"]).reset_index(drop=True)


def test_roll_rates_match_pandas_on_the_uci_panel(tmp_db, panel):
    snaps = to_snapshots(panel)
    loans = pd.DataFrame({
        "loan_id": panel["ID"].astype(str), "customer_id": panel["ID"].astype(str), "product": "credit_line",
        "principal": panel["LIMIT_BAL"].astype(float), "annual_rate": 0.18, "term_months": 12,
        "disbursed_on": dt.date(2005, 1, 1),
    })

    def load(cur):
        with db.arrow_view(cur, "uci_loans", loans):
            cur.execute(
                "insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, disbursed_on)"
                " select loan_id, customer_id, product, principal, annual_rate, term_months, disbursed_on"
                " from uci_loans"
            )
        with db.arrow_view(cur, "uci_snapshots", snaps):
            cur.execute(
                "insert into snapshots (loan_id, as_of, dpd, outstanding_principal, overdue_amount)"
                " select loan_id, as_of, dpd, outstanding_principal, overdue_amount from uci_snapshots"
            )

    db.write(load, db=tmp_db)
    got = db.query("roll_rates", db=tmp_db)
    want = expected_transitions(snaps)
    assert len(panel) == 30000
    assert got["as_of"].nunique() == 5  # five transitions between six month-ends
    pd.testing.assert_frame_equal(
        got[["as_of", "from_bucket", "to_bucket", "loans"]].astype({"loans": "int64", "as_of": "datetime64[ns]"}),
        want[["as_of", "from_bucket", "to_bucket", "loans"]].astype({"loans": "int64", "as_of": "datetime64[ns]"}),
        check_dtype=False,
    )
    np.testing.assert_allclose(got["share"].to_numpy(), want["share"].to_numpy(), rtol=1e-12)
    # a sanity anchor read off the raw file: April accounts at status 1 that are at status 2 in May
    m1_to_m2 = int(((panel["PAY_6"] == 1) & (panel["PAY_5"] == 2)).sum())
    row = got[(got["as_of"] == pd.Timestamp("2005-04-30")) & (got["from_bucket"] == "M1") & (got["to_bucket"] == "M2")]
    assert int(row["loans"].sum()) == m1_to_m2
    # and the delinquency funnel's cohort on the same data is every account at status >= 1 in August
    cohort = db.query("delinquency_funnel", db=tmp_db, as_of="2005-08-31")
    assert int(cohort["loans"].iloc[0]) == int((panel["PAY_2"] >= 1).sum())
    # cured in the funnel = at status <= 0 in September among them
    assert int(cohort["loans"].iloc[-1]) == int(((panel["PAY_2"] >= 1) & (panel["PAY_0"] < 1)).sum())
