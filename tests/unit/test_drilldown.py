"""Drill-down named queries against rows worked out by hand from tests/fixtures_dashboards.py, their
parameter checks (the same for the page, `portal query` and the API), and on the demo book the
invariant that each drill-down lists exactly the rows its figure counts."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from portal import db, drill
from portal.schemas import RESULT_SCHEMAS
from tests.fixtures_dashboards import build

JAN, FEB, MAR = "2024-01-31", "2024-02-29", "2024-03-31"


@pytest.fixture
def book(tmp_db):
    return build(tmp_db)


def run(book, name, **params) -> pd.DataFrame:
    frame = db.query(name, db=book, **params)
    RESULT_SCHEMAS[name].validate(frame, lazy=True)
    assert list(frame.columns) == list(RESULT_SCHEMAS[name].to_schema().columns)
    return frame


def test_bucket_loans(book):
    # 31 Jan, M1 (dpd 1-30): L2 (15, overdue 100), L6 (20, 80), L4 (10, 50); worst overdue first
    frame = run(book, "bucket_loans", as_of=JAN, bucket="M1")
    assert frame["loan_id"].tolist() == ["L2", "L6", "L4"]
    assert frame["dpd"].tolist() == [15, 20, 10]
    assert frame["overdue_amount"].tolist() == [100.0, 80.0, 50.0]
    assert frame["customer_name"].tolist() == ["Customer 2", "Customer 6", "Customer 4"]
    assert frame["mobile"].iloc[0] == "13800000002"  # clear in the query; every screen and download masks it
    # 31 Mar, M4 (91-120): L3 at 105; M0: L1, L2, L4 (overdue 0), by outstanding 900, 650, 450
    assert run(book, "bucket_loans", as_of=MAR, bucket="M4")["loan_id"].tolist() == ["L3"]
    assert run(book, "bucket_loans", as_of=MAR, bucket="M0")["loan_id"].tolist() == ["L1", "L2", "L4"]
    # filters: cash loans in M1 on 31 Jan: L2, L6; east: L2 only
    assert run(book, "bucket_loans", as_of=JAN, bucket="M1", product=["cash_loan"])["loan_id"].tolist() == ["L2", "L6"]
    assert run(book, "bucket_loans", as_of=JAN, bucket="M1", region=["east"])["loan_id"].tolist() == ["L2"]
    assert run(book, "bucket_loans", as_of=JAN, bucket="M1", row_limit=2)["loan_id"].tolist() == ["L2", "L6"]
    assert run(book, "bucket_loans", as_of=JAN, bucket="M9").empty  # not a bucket: no rows


def test_bucket_loans_lists_a_snapshot_without_a_loan_row(book):
    db.execute("insert into snapshots values ('L9', date '2024-01-31', 200, 300, 300, null)", db=book)
    frame = run(book, "bucket_loans", as_of=JAN, bucket="M6+")
    assert frame["loan_id"].tolist() == ["L9"] and frame["product"].isna().all()
    assert run(book, "bucket_loans", as_of=JAN, bucket="M6+", product=["cash_loan"]).empty


def test_roll_rate_loans(book):
    # Jan -> Feb: L2 M1 -> M0, L4 M1 -> M2, L6 M1 -> closed (no Feb snapshot), L3 M2 -> M3
    assert run(book, "roll_rate_loans", as_of=JAN, from_bucket="M1", to_bucket="M0")["loan_id"].tolist() == ["L2"]
    closed = run(book, "roll_rate_loans", as_of=JAN, from_bucket="M1", to_bucket="closed")
    assert closed["loan_id"].tolist() == ["L6"]
    assert closed["next_dpd"].isna().all() and closed["next_outstanding_principal"].isna().all()
    rolled = run(book, "roll_rate_loans", as_of=JAN, from_bucket="M2", to_bucket="M3").iloc[0]
    assert (rolled["loan_id"], rolled["dpd"], rolled["next_dpd"]) == ("L3", 45, 75)
    assert str(rolled["next_as_of"].date()) == FEB
    # Feb -> Mar: L5 M1 (5) -> M2 (35); L4 M2 (40) -> M0
    assert run(book, "roll_rate_loans", as_of=FEB, from_bucket="M1", to_bucket="M2")["loan_id"].tolist() == ["L5"]
    assert run(book, "roll_rate_loans", as_of=FEB, from_bucket="M2", to_bucket="M0")["loan_id"].tolist() == ["L4"]
    # 31 Mar has no next month-end in the data: no flows, as in roll_rates
    assert run(book, "roll_rate_loans", as_of=MAR, from_bucket="M0", to_bucket="closed").empty


def test_roll_rate_loans_needs_the_next_month_end_in_scope(book):
    # credit lines: L5 only, current on 31 Jan and M1 on 29 Feb
    assert run(book, "roll_rate_loans", as_of=JAN, from_bucket="M0", to_bucket="M1",
               product=["credit_line"])["loan_id"].tolist() == ["L5"]
    db.execute("delete from snapshots where loan_id = 'L5' and as_of = date '2024-02-29'", db=book)
    # now no credit line is in the book on 29 Feb: roll_rates drops 31 Jan, and so does the drill-down
    assert db.query("roll_rates", db=book, start=JAN, end="2024-02-01", product=["credit_line"]).empty
    assert run(book, "roll_rate_loans", as_of=JAN, from_bucket="M0", to_bucket="closed",
               product=["credit_line"]).empty


def test_funnel_stage_loans(book):
    # cohort at 31 Jan: L2, L3, L4, L6 (worked out in tests/unit/test_dashboards.py)
    expected = {
        "delinquent": ["L2", "L3", "L4", "L6"], "attempted": ["L2", "L3", "L4", "L6"], "reached": ["L2", "L3"],
        "rpc": ["L2", "L3"], "ptp": ["L2", "L3"], "paid": ["L2", "L3", "L6"], "cured": ["L2"],
        "reminder": ["L2", "L4"], "phone": ["L2", "L3"], "visit": ["L3"], "legal": ["L6"],
    }
    for stage, loans in expected.items():
        assert run(book, "funnel_stage_loans", as_of=JAN, stage=stage)["loan_id"].tolist() == loans, stage
    paid = run(book, "funnel_stage_loans", as_of=JAN, stage="paid").set_index("loan_id")
    assert paid["paid_amount"].to_dict() == {"L2": 100.0, "L3": 50.0, "L6": 400.0}
    assert paid["outstanding_principal"].to_dict() == {"L2": 800.0, "L3": 600.0, "L6": 400.0}
    assert paid["next_dpd"].isna().tolist() == [False, False, True]  # L6 has no February snapshot
    # cash loans delinquent on 31 Jan: L2, L6
    assert run(book, "funnel_stage_loans", as_of=JAN, stage="delinquent",
               product=["cash_loan"])["loan_id"].tolist() == ["L2", "L6"]
    # February cohort (L3, L4, L5): March rpc C10 (L4), C9 (L5)
    assert run(book, "funnel_stage_loans", as_of=FEB, stage="rpc")["loan_id"].tolist() == ["L4", "L5"]


def test_channel_contacts(book):
    feb = {"start": "2024-02-01", "end": "2024-03-01"}
    phone = run(book, "channel_contacts", channel="phone", **feb)
    # C10 is 1 Mar 00:30 local (still 29 Feb in UTC): March, as on the dashboard
    assert phone["contact_id"].tolist() == ["C2", "C4"]
    assert phone["customer_id"].tolist() == ["U2", "U3"]
    assert phone["ptp_amount"].tolist() == [100.0, 200.0]
    assert run(book, "channel_contacts", channel="phone")["contact_id"].tolist() == ["C2", "C4", "C10", "C9"]
    assert run(book, "channel_contacts", channel="sms", **feb)["contact_id"].tolist() == ["C6", "C1"]
    assert run(book, "channel_contacts", channel="sms", product=["instalment"], **feb)["contact_id"].tolist() == ["C6"]
    assert run(book, "channel_contacts", channel="letter").empty
    # a page fetches the first rows only; the day rollup tells up to which local day they fall
    assert run(book, "channel_contacts", channel="phone", row_limit=1)["contact_id"].tolist() == ["C2"]
    assert run(book, "channel_contacts", channel="phone", row_limit=3)["contact_id"].tolist() == ["C2", "C4", "C10"]
    assert run(book, "channel_contacts", channel="phone", row_limit=9)["contact_id"].tolist() == ["C2", "C4", "C10", "C9"]


def test_collector_contacts(book):
    assert run(book, "collector_contacts", by="agent", collector_id="A1")["contact_id"].tolist() == ["C2", "C10", "C9"]
    assert run(book, "collector_contacts", by="agent", collector_id="A2")["contact_id"].tolist() == ["C4", "C5"]
    assert run(book, "collector_contacts", by="agency", collector_id="AG2")["contact_id"].tolist() == ["C7"]
    in_house = run(book, "collector_contacts", by="agency", collector_id="in_house", start="2024-02-01",
                   end="2024-03-01")
    assert in_house["contact_id"].tolist() == ["C6", "C1", "C2", "C3"]
    assert in_house["agency_id"].isna().all()
    assert run(book, "collector_contacts", by="agent", collector_id="A1", row_limit=2)["contact_id"].tolist() == [
        "C2", "C10"]


@pytest.mark.parametrize(("name", "params", "message"), [
    ("funnel_stage_loans", {"as_of": JAN, "stage": "bought"}, "must be one of"),
    ("funnel_stage_loans", {"stage": "paid"}, "needs --param as_of"),
    ("channel_contacts", {"channel": "pigeon"}, "must be one of"),
    ("collector_contacts", {"by": "team", "collector_id": "A1"}, "must be one of"),
    ("collector_contacts", {"by": "agent"}, "needs --param collector_id"),
    ("bucket_loans", {"as_of": "31/01/2024", "bucket": "M1"}, "is not a valid date"),
    ("roll_rate_loans", {"as_of": JAN, "from_bucket": "M1"}, "needs --param to_bucket"),
    ("bucket_loans", {"as_of": JAN, "bucket": "M1", "row_limit": "many"}, "is not a valid int"),
])
def test_drill_down_parameters_are_checked(book, name, params, message):
    with pytest.raises(db.QueryError, match=message):
        db.query(name, db=book, **params)


def test_portal_query_runs_a_drill_down_and_rejects_a_bad_parameter(book):
    db.close(book)
    base = [sys.executable, "-m", "portal", "--db", str(book), "query"]
    done = subprocess.run([*base, "funnel_stage_loans", "--param", f"as_of={JAN}", "--param", "stage=visit",
                           "--format", "json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"loan_id": "L3"' in done.stdout
    bad = subprocess.run([*base, "funnel_stage_loans", "--param", f"as_of={JAN}", "--param", "stage=bought"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_each_drill_down_lists_what_its_figure_counts_on_the_demo(demo_db):
    months = sorted(pd.Timestamp(m).date() for m in db.query("month_ends", db=demo_db)["as_of"])
    as_of, scope = months[-3], {"product": ["cash_loan", "instalment"]}
    buckets = db.query("delinquency_buckets", db=demo_db, start=as_of, end=months[-2], **scope)
    for bar in buckets.itertuples():
        listed = db.query("bucket_loans", db=demo_db, as_of=as_of, bucket=bar.bucket, **scope)
        assert len(listed) == bar.loans, bar.bucket
        assert listed["outstanding_principal"].sum() == pytest.approx(float(bar.outstanding))
    rolls = db.query("roll_rates", db=demo_db, start=as_of, end=months[-2], **scope)
    assert len(rolls) > 5
    for cell in rolls.itertuples():
        listed = db.query("roll_rate_loans", db=demo_db, as_of=as_of, from_bucket=cell.from_bucket,
                          to_bucket=cell.to_bucket, **scope)
        assert len(listed) == cell.loans, (cell.from_bucket, cell.to_bucket)
    for funnel, column in (("delinquency_funnel", "stage"), ("escalation_funnel", "step")):
        for stage in db.query(funnel, db=demo_db, as_of=as_of, **scope).itertuples():
            listed = db.query("funnel_stage_loans", db=demo_db, as_of=as_of, stage=getattr(stage, column), **scope)
            assert len(listed) == stage.loans, getattr(stage, column)
    period = {"start": months[-4], "end": months[-1], **scope}
    for row in db.query("channel_effectiveness", db=demo_db, **period).itertuples():
        listed = db.query("channel_contacts", db=demo_db, channel=row.channel, **period)
        assert len(listed) == row.attempts, row.channel
        assert listed["cost"].sum() == pytest.approx(float(row.cost))
        for limit in (1, 37, 500):
            first = db.query("channel_contacts", db=demo_db, channel=row.channel, row_limit=limit, **period)
            assert first["contact_id"].tolist() == listed["contact_id"].head(limit).tolist(), (row.channel, limit)
    for by in ("agent", "agency"):
        card = db.query("collector_scorecard", db=demo_db, by=by, **period)
        for row in card.head(4).itertuples():
            listed = db.query("collector_contacts", db=demo_db, by=by, collector_id=row.collector_id, **period)
            assert len(listed) == row.attempts, (by, row.collector_id)
            first = db.query("collector_contacts", db=demo_db, by=by, collector_id=row.collector_id, row_limit=25,
                             **period)
            assert first["contact_id"].tolist() == listed["contact_id"].head(25).tolist(), (by, row.collector_id)


def test_a_picked_point_or_row_becomes_parameters():
    points = [{"curve_number": 1, "point_index": 0, "x": "2024-01-31", "customdata": ["2024-01-31", "M1"]}]
    picked = drill.point_pick(points, drill.BUCKET_FIELDS)
    assert picked == {"dq_as_of": JAN, "dq_bucket": "M1"}
    assert drill.bucket_params(picked) == {"as_of": pd.Timestamp(JAN).date(), "bucket": "M1"}
    assert drill.point_pick([{"customdata": "paid"}], ("fn_stage",)) == {"fn_stage": "paid"}
    assert drill.point_pick([], drill.BUCKET_FIELDS) is None
    assert drill.point_pick([{"x": 1}], drill.BUCKET_FIELDS) is None  # a point without customdata
    frame = pd.DataFrame({"as_of": pd.to_datetime([JAN, FEB]), "bucket": ["M0", "M1"]})
    columns = {"dq_as_of": "as_of", "dq_bucket": "bucket"}
    assert drill.row_pick(frame, 1, columns) == {"dq_as_of": FEB, "dq_bucket": "M1"}
    assert drill.row_pick(frame, None, columns) is None and drill.row_pick(frame, 7, columns) is None
    assert drill.row_of(frame, {"dq_as_of": FEB, "dq_bucket": "M1"}, columns) == 1
    assert drill.row_of(frame, {"dq_as_of": MAR, "dq_bucket": "M1"}, columns) is None


@pytest.mark.parametrize("values", [
    {"dq_as_of": "2024-13-01", "dq_bucket": "M1"}, {"dq_as_of": JAN, "dq_bucket": "M7"}, None, {},
])
def test_a_bad_url_selection_gives_no_parameters(values):
    assert drill.bucket_params(values) is None


def test_url_selections_are_validated():
    assert drill.roll_params({"dq_roll_as_of": JAN, "dq_roll_from": "M1", "dq_roll_to": "closed"})["to_bucket"] == "closed"
    assert drill.roll_params({"dq_roll_as_of": JAN, "dq_roll_from": "closed", "dq_roll_to": "M1"}) is None
    assert drill.stage_params({"fn_as_of": JAN, "fn_stage": "legal"}) == {"as_of": pd.Timestamp(JAN).date(),
                                                                          "stage": "legal"}
    assert drill.stage_params({"fn_as_of": JAN, "fn_stage": "drop table"}) is None
    assert drill.channel_param({"ch_channel": "visit"}) == "visit" and drill.channel_param({"ch_channel": "x"}) is None
    assert drill.collector_param(" A1 ") == "A1" and drill.collector_param("x" * 65) is None
    assert drill.stage_kind("phone") == "step" and drill.stage_kind("paid") == "stage"
    assert drill.file_stem("agent", "contacts", "A/1 ../x") == "agent_contacts_A_1_.._x"


def test_the_drill_down_benchmark_runs_on_a_small_book(tmp_path, capsys, monkeypatch):
    from bench import bench_drilldown

    monkeypatch.setenv("PORTAL_DB", str(tmp_path / "unused.duckdb"))
    out = tmp_path / "RESULTS_drilldown.md"
    assert bench_drilldown.main(["--loans", "2000", "--workdir", str(tmp_path), "--repeat", "1",
                                 "--out", str(out)]) == 0  # 0: every drill-down listed what its figure counts
    text = out.read_text(encoding="utf-8")
    for name in bench_drilldown.READS:
        assert f"| {name} |" in text
    assert "| NO |" not in text
