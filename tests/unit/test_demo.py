"""The demo generator: deterministic, complete, and with the dynamics the pages rely on."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from portal import db, demo, taxonomy
from tests.conftest import DEMO_LOANS


def _dump(path) -> dict[str, pd.DataFrame]:
    return {t: db.read(f"select * from {t} order by all", db=path)  # noqa: S608
            for t in ("customers", "loans", "snapshots", "contacts", "payments", "complaints")}


def test_same_seed_same_database(tmp_path):
    a, b, c = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb"
    for path, seed in ((a, 3), (b, 3), (c, 4)):
        demo.build(path, loans=800, seed=seed, end_month=demo.FIXED_END_MONTH)
    da, db_, dc = _dump(a), _dump(b), _dump(c)
    for table in da:
        pd.testing.assert_frame_equal(da[table], db_[table])
    assert not da["contacts"].equals(dc["contacts"])


def test_twelve_month_ends_and_all_channels(demo_db):
    months = db.query("month_ends", db=demo_db)["as_of"].dt.date.tolist()
    assert months == demo.month_ends(demo.FIXED_END_MONTH)
    assert len(months) == 12 and months[-1] == dt.date(2026, 10, 31)
    channels = set(db.read("select distinct channel from contacts", db=demo_db)["channel"])
    assert channels == set(taxonomy.CHANNELS)
    assert db.scalar("select count(*) from loans", db=demo_db) == DEMO_LOANS


def test_rows_obey_the_contract(demo_db):
    bad = db.scalar("""
        select count(*) from snapshots
        where as_of <> last_day(as_of) or dpd < 0 or overdue_amount < 0
           or (dpd = 0 and overdue_amount <> 0)""", db=demo_db)
    assert bad == 0
    assert db.scalar("select count(*) from contacts where outcome = 'ptp' and "
                     "(ptp_amount is null or ptp_due_on is null)", db=demo_db) == 0
    assert db.scalar("select count(*) from contacts where channel = 'visit' and collectors is null",
                     db=demo_db) == 0
    assert db.scalar("select count(*) - count(distinct contact_id) from contacts", db=demo_db) == 0
    assert db.scalar("select count(*) from contacts c anti join loans l using (loan_id)", db=demo_db) == 0
    ids = db.read("select id_number from customers", db=demo_db)["id_number"]
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for value in ids.head(200):
        total = sum(int(d) * w for d, w in zip(value[:17], weights, strict=True))
        assert "10X98765432"[total % 11] == value[17]


def test_realistic_dynamics(tmp_path):
    path = tmp_path / "d.duckdb"
    demo.build(path, loans=20_000, seed=7, end_month=demo.FIXED_END_MONTH)
    rolls = db.query("roll_rates", db=path)
    m1 = rolls[rolls["from_bucket"] == "M1"].groupby("to_bucket")["loans"].sum()
    m1_to_m2 = m1.get("M2", 0) / m1.sum()
    assert 0.2 <= m1_to_m2 <= 0.4, m1_to_m2
    by_strategy = db.read("""
        with cohort as (
            select s.loan_id, s.as_of, any_value(c.strategy) as strategy
            from snapshots s join contacts c on c.loan_id = s.loan_id
             and c.contact_at::date between s.as_of + 1 and last_day(s.as_of + interval 1 month)
            where s.dpd between 1 and 30 group by all)
        select strategy, avg(case when n.dpd = 0 then 1 else 0 end) as cure
        from cohort left join snapshots n on n.loan_id = cohort.loan_id
         and n.as_of = last_day(cohort.as_of + interval 1 month)
        group by strategy""", db=path).set_index("strategy")["cure"]
    assert by_strategy["challenger"] - by_strategy["champion"] > 0.03
    outcomes = set(db.read("select distinct outcome from contacts where outcome = 'ptp'", db=path)["outcome"])
    assert outcomes == {"ptp"}
    quiet = db.scalar("select count(*) from contacts where channel = 'phone' and "
                      "(hour(timezone('Asia/Shanghai', contact_at)) >= 22 "
                      "or hour(timezone('Asia/Shanghai', contact_at)) < 8)", db=path)
    assert quiet > 0


def test_the_default_end_is_the_last_month_end_before_today():
    assert demo.current_end_month(dt.date(2026, 12, 3)) == dt.date(2026, 11, 30)
    assert demo.current_end_month(dt.date(2026, 11, 30)) == dt.date(2026, 10, 31)  # November is not over yet
    assert demo.current_end_month(dt.date(2027, 1, 1)) == dt.date(2026, 12, 31)
    assert demo.current_end_month(dt.date(2024, 3, 15)) == dt.date(2024, 2, 29)


def test_the_planted_action_starts_five_months_before_the_end():
    assert demo.planted_action_start(dt.date(2026, 10, 31)) == dt.date(2026, 5, 1) == demo.PLANTED_ACTION_START
    assert demo.planted_action_start(dt.date(2027, 2, 28)) == dt.date(2026, 9, 1)


def test_an_unpinned_demo_ends_at_the_last_month_end_before_today(tmp_path):
    path = tmp_path / "now.duckdb"
    demo.build(path, loans=300, seed=2)
    months = db.query("month_ends", db=path)["as_of"].dt.date.tolist()
    end = demo.current_end_month()
    assert months == demo.month_ends(end)
    assert db.scalar("select max(received_at)::date from complaints", db=path) <= end
    start = db.scalar("select start_on from improvement_actions where action_id = 'IA-0001'", db=path)
    assert start == demo.planted_action_start(end)
    db.close(path)
