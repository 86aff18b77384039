"""KPI alerts: rules from TOML (shipped + the organisation's file), threshold and change rules firing and
clearing across month-ends with exact history rows, idempotent re-checks, the upload hook, one-line
errors for bad rule files, and `portal alerts check` exit codes through a real subprocess.

Book ALERTS: 10 loans of 1,000 each over eight month-ends (Jan..Aug 2024). At month m the first d(m) loans
are at DPD 10 (M1), the rest current, so the Overview's delinquency rate (count) is d(m) / 10:

    month   Jan  Feb  Mar  Apr  May  Jun  Jul  Aug
    d       1    2    1    3    3    1    2    6
    rate    .1   .2   .1   .3   .3   .1   .2   .6

threshold rule `high` (rate > 0.25): fires Apr, still May, clears Jun, fires again Aug.
change rule `jump` (more than 2 sd from the 3 month-ends before; window 3 so it is checkable by hand):
    Apr: before .1 .2 .1, mean .1333, sd .0577: |.3 - .1333| = .1667 > .1155 -> fires
    May: before .2 .1 .3, mean .2, sd .1: |.3 - .2| = .1, not > .2 -> clears
    Jun: before .1 .3 .3, mean .2333, sd .1155: .1333 < .2309; Jul: .0333 < .2309 -> quiet
    Aug: before .3 .1 .2, mean .2, sd .1: |.6 - .2| = .4 > .2 -> fires
Jan..Mar have too few month-ends before them for `jump`: not evaluated there.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from portal import alerts, db, ingest

MONTHS = [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 30),
          dt.date(2024, 5, 31), dt.date(2024, 6, 30), dt.date(2024, 7, 31), dt.date(2024, 8, 31)]
JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG = MONTHS
DELINQUENT = [1, 2, 1, 3, 3, 1, 2, 6]
SHIPPED_OFF = "\n".join(f"[rules.{name}]\nenabled = false\n" for name in
                        ("roll_m1_m2_high", "on_time_low", "delinquency_rate_shift", "complaints_surge"))
TEST_RULES = SHIPPED_OFF + """
[rules.high]
kpi = "delinquency_rate_count"
type = "threshold"
op = ">"
value = 0.25
severity = "critical"
label = "More than a quarter of loans are overdue"

[rules.jump]
kpi = "delinquency_rate_count"
type = "change"
sigmas = 2
window = 3
"""


def snapshot_csv(path: Path, months: list[dt.date]) -> Path:
    lines = ["loan_id,as_of,dpd,outstanding_principal,overdue_amount"]
    for m in months:
        d = DELINQUENT[MONTHS.index(m)]
        lines += [f"L{i},{m.isoformat()},{10 if i < d else 0},1000,{50 if i < d else 0}" for i in range(10)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_book(database: Path, folder: Path, months: list[dt.date]) -> None:
    (folder / "customers.csv").write_text(
        "customer_id,mobile,province\n" + "".join(f"U{i},1380013800{i},Beijing\n" for i in range(10)),
        encoding="utf-8")
    (folder / "loans.csv").write_text(
        "loan_id,customer_id,product,principal,annual_rate,term_months,disbursed_on\n"
        + "".join(f"L{i},U{i},cash_loan,1000,0.2,12,2023-10-01\n" for i in range(10)), encoding="utf-8")
    for dataset in ("customers", "loans"):
        assert ingest.load_file(dataset, folder / f"{dataset}.csv", db=database).status == "loaded"
    assert ingest.load_file("snapshots", snapshot_csv(folder / "snaps.csv", months), db=database).status == "loaded"


@pytest.fixture
def rules_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "org_alerts.toml"
    path.write_text(TEST_RULES, encoding="utf-8")
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(path))
    return path


def history(database) -> list[tuple]:
    frame = db.query("alert_history", db=database).sort_values("event_id")
    return [(r.alert_rule, r.alert_event, pd.Timestamp(r.as_of).date(), round(r.kpi_value, 4), r.recorded_by)
            for r in frame.itertuples()]


def test_threshold_and_change_rules_fire_and_clear_across_month_ends(tmp_db, tmp_path, rules_file):
    # the first five month-ends arrive in one upload: the upload hook records the history so far
    load_book(tmp_db, tmp_path, MONTHS[:5])
    assert history(tmp_db) == [
        ("high", "fired", APR, 0.3, "upload"),
        ("jump", "fired", APR, 0.3, "upload"),
        ("jump", "cleared", MAY, 0.3, "upload"),
    ]
    # a re-check of the same data writes nothing
    again = alerts.check(db=tmp_db, recorded_by="cli")
    assert again.events == () and len(history(tmp_db)) == 3
    assert [e.rule.name for e in again.firing] == ["high"]
    assert again.firing[0].since == APR
    # three more month-ends: the history moves on from May
    assert ingest.load_file("snapshots", snapshot_csv(tmp_path / "later.csv", MONTHS[5:]), db=tmp_db).accepted == 30
    assert history(tmp_db)[3:] == [
        ("high", "cleared", JUN, 0.1, "upload"),
        ("high", "fired", AUG, 0.6, "upload"),
        ("jump", "fired", AUG, 0.6, "upload"),
    ]
    state = db.read("select alert_rule, firing, as_of from alert_state order by alert_rule", db=tmp_db)
    assert state.to_dict("list") == {"alert_rule": ["high", "jump"], "firing": [True, True],
                                     "as_of": [pd.Timestamp(AUG)] * 2}
    firing = {e.rule.name: e for e in alerts.firing(db=tmp_db)}
    assert set(firing) == {"high", "jump"} and firing["high"].since == AUG
    jump = firing["jump"]
    assert (jump.mean, jump.sd) == (pytest.approx(0.2), pytest.approx(0.1))
    assert jump.message() == ("jump: Delinquency rate (count) is 60.00% at 2024-08-31, +4.0 standard deviations "
                              "from the mean of the 3 month-ends before (20.00% ± 10.00%); the limit is 2")
    assert alerts.check(db=tmp_db).events == ()


def test_evaluating_any_month_end_for_history(tmp_db, tmp_path, rules_file):
    load_book(tmp_db, tmp_path, MONTHS)
    by_month = {m: {e.rule.name: e for e in alerts.evaluate(m, db=tmp_db)} for m in MONTHS}
    assert [by_month[m]["high"].firing for m in MONTHS] == [False, False, False, True, True, False, False, True]
    assert [by_month[m]["jump"].evaluated for m in MONTHS] == [False, False, False, True, True, True, True, True]
    assert [by_month[m]["jump"].firing for m in MONTHS] == [False, False, False, True, False, False, False, True]
    apr = by_month[APR]["jump"]
    assert apr.mean == pytest.approx(0.4 / 3) and apr.sd == pytest.approx(0.057735, abs=1e-6)
    # checking an older month-end than the recorded state evaluates without writing
    before = history(tmp_db)
    old = alerts.check(MAY, db=tmp_db)
    assert old.events == () and history(tmp_db) == before
    assert [e.rule.name for e in old.firing] == ["high"]
    with pytest.raises(alerts.AlertError, match="not a month-end in the snapshots"):
        alerts.evaluate("2024-05-15", db=tmp_db)


def test_a_corrected_latest_month_is_recorded(tmp_db, tmp_path, rules_file):
    load_book(tmp_db, tmp_path, MONTHS)
    assert history(tmp_db)[-1][:3] == ("jump", "fired", AUG)
    # August re-uploaded with 2 delinquent loans instead of 6: both rules clear at August
    fixed = tmp_path / "aug.csv"
    fixed.write_text("loan_id,as_of,dpd,outstanding_principal,overdue_amount\n" + "".join(
        f"L{i},2024-08-31,{10 if i < 2 else 0},1000,{50 if i < 2 else 0}\n" for i in range(10)), encoding="utf-8")
    assert ingest.load_file("snapshots", fixed, db=tmp_db).accepted == 10
    assert history(tmp_db)[-2:] == [("high", "cleared", AUG, 0.2, "upload"), ("jump", "cleared", AUG, 0.2, "upload")]


def test_the_organisation_file_overrides_a_shipped_rule(tmp_path, monkeypatch):
    shipped = alerts.load_rules()
    assert set(shipped) == {"roll_m1_m2_high", "on_time_low", "delinquency_rate_shift", "complaints_surge"}
    base = shipped["roll_m1_m2_high"]
    assert (base.kpi, base.type, base.op, base.value, base.severity) == ("roll_m1_m2", "threshold", ">", 0.28,
                                                                        "critical")
    org = tmp_path / "org.toml"
    org.write_text('[rules.roll_m1_m2_high]\nvalue = 0.5\n\n[rules.on_time_low]\nenabled = false\n\n'
                   '[rules.cure_low]\nkpi = "cure_rate"\ntype = "threshold"\nop = "<"\nvalue = 0.2\n',
                   encoding="utf-8")
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(org))
    rules = alerts.load_rules()
    assert set(rules) == {"roll_m1_m2_high", "delinquency_rate_shift", "complaints_surge", "cure_low"}
    over = rules["roll_m1_m2_high"]
    assert (over.value, over.op, over.label, over.severity) == (0.5, ">", base.label, "critical")
    assert over.signature != base.signature
    assert "on_time_low" in alerts.load_rules(include_disabled=True)


def test_the_override_changes_what_fires(tmp_db, tmp_path, monkeypatch):
    from tests.fixtures_dashboards import build

    book = build(tmp_db)  # M1->M2 at 29 Feb 2024: of L2, L4, L6 in M1 on 31 Jan, only L4 is in M2: 1/3
    feb = dt.date(2024, 2, 29)
    shipped = {e.rule.name: e for e in alerts.evaluate(feb, db=book)}
    assert shipped["roll_m1_m2_high"].value == pytest.approx(1 / 3) and shipped["roll_m1_m2_high"].firing
    org = tmp_path / "org.toml"
    org.write_text("[rules.roll_m1_m2_high]\nvalue = 0.5\n", encoding="utf-8")
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(org))
    assert not {e.rule.name: e for e in alerts.evaluate(feb, db=book)}["roll_m1_m2_high"].firing


BAD_FILES = [
    ("[rules.x]\nkpi = 'roll_m1_m2'\ntype = 'threshold'\nop = '>'\nvalue = 0.3\nthreshhold = 1\n",
     "alert rule x (bad.toml): unknown field 'threshhold'"),
    ("[rules.x]\nkpi = 'roll_m1_m2'\ntype = 'threshold'\nop = '=>'\nvalue = 0.3\n",
     "alert rule x (bad.toml): op must be one of >, >=, <, <=, not '=>'"),
    ("[rules.x]\nkpi = 'roll_m1_m2'\ntype = 'threshold'\nop = '>'\nvalue = 28\n",
     "alert rule x (bad.toml): value must be a fraction from 0 to 1 for roll_m1_m2 (28% is 0.28), not 28"),
    ("[rules.x]\nkpi = 'roll_m1_m2'\ntype = 'threshold'\nop = '>'\n",
     "alert rule x (bad.toml): value is required for a threshold rule"),
    ("[rules.x]\nkpi = 'roll_rate'\ntype = 'change'\n", "alert rule x (bad.toml): kpi must be one of"),
    ("[rules.x]\nkpi = 'cure_rate'\ntype = 'trend'\n",
     "alert rule x (bad.toml): type must be threshold or change, not 'trend'"),
    ("[rules.x]\nkpi = 'cure_rate'\ntype = 'change'\nwindow = 1\n",
     "alert rule x (bad.toml): window must be a whole number of month-ends from 2 to 24, not 1"),
    ("[rules.x]\nkpi = 'cure_rate'\ntype = 'change'\nop = '>'\n",
     "alert rule x (bad.toml): op applies to threshold rules, not change rules"),
    ("[rules.x]\nkpi = 'cure_rate'\ntype = 'change'\nsigmas = 'two'\n",
     "alert rule x (bad.toml): sigmas must be a number, not 'two'"),
    ("[rules.Bad-Name]\nkpi = 'cure_rate'\ntype = 'change'\n", "alert rule name 'Bad-Name' (bad.toml) must be"),
    ("[rules.roll_m1_m2_high]\nop = '!='\n", "alert rule roll_m1_m2_high (bad.toml): op must be one of"),
    ("[alerts.x]\nkpi = 'cure_rate'\n", "unknown table 'alerts'"),
    ("[rules.x]\nkpi = \n", "is not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_a_bad_rules_file_gives_one_line_naming_rule_and_field(tmp_path, monkeypatch, text, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(bad))
    with pytest.raises(alerts.AlertError) as caught:
        alerts.load_rules()
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_rules_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(tmp_path / "nowhere.toml"))
    with pytest.raises(alerts.AlertError, match=r"alert rules file .*nowhere\.toml cannot be read"):
        alerts.load_rules()


def test_a_bad_rules_file_never_fails_an_upload(tmp_db, tmp_path, monkeypatch, caplog):
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules.x]\nkpi = 'nope'\ntype = 'change'\n", encoding="utf-8")
    monkeypatch.setenv("PORTAL_ALERT_RULES_FILE", str(bad))
    load_book(tmp_db, tmp_path, MONTHS[:2])
    assert db.table_counts(db=tmp_db)["snapshots"] == 20
    assert "KPI alerts not checked: alert rule x (bad.toml): kpi must be one of" in caplog.text


def portal_cli(database: Path, *args: str, env_file: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_file is not None:
        env["PORTAL_ALERT_RULES_FILE"] = str(env_file)
    db.close(database)  # another process opens the file: release this process's lock on it
    return subprocess.run([sys.executable, "-m", "portal", "--db", str(database), "alerts", "check", *args],
                          capture_output=True, text=True, timeout=180, env=env, check=False)


def test_portal_alerts_check_exit_codes(tmp_db, tmp_path, rules_file):
    load_book(tmp_db, tmp_path, MONTHS)
    fires = portal_cli(tmp_db, env_file=rules_file)
    assert fires.returncode == 1, fires.stderr
    assert fires.stdout.splitlines() == [
        "CRITICAL high: Delinquency rate (count) is 60.00% at 2024-08-31, > 25.00%; firing since 2024-08-31",
        "WARNING jump: Delinquency rate (count) is 60.00% at 2024-08-31, +4.0 standard deviations from the mean "
        "of the 3 month-ends before (20.00% ± 10.00%); the limit is 2; firing since 2024-08-31",
    ]
    quiet = portal_cli(tmp_db, "--as-of", "2024-07-31", "--format", "json", env_file=rules_file)
    assert quiet.returncode == 0, quiet.stderr
    body = json.loads(quiet.stdout)
    assert (body["as_of"], body["rules_checked"], body["firing"], body["events_recorded"]) == ("2024-07-31", 2, [], 0)
    as_json = json.loads(portal_cli(tmp_db, "--format", "json", env_file=rules_file).stdout)
    assert [(f["rule"], f["value"], f["since"]) for f in as_json["firing"]] == [("high", 0.6, "2024-08-31"),
                                                                                ("jump", 0.6, "2024-08-31")]
    not_month_end = portal_cli(tmp_db, "--as-of", "2024-08-15", env_file=rules_file)
    assert not_month_end.returncode == 2
    assert not_month_end.stderr.strip() == ("portal: 2024-08-15 is not a month-end in the snapshots "
                                            "(2024-01-31 to 2024-08-31)")
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules.roll_m1_m2_high]\nvalue = 'a lot'\n", encoding="utf-8")
    broken = portal_cli(tmp_db, env_file=bad)
    assert broken.returncode == 2
    assert broken.stderr.strip() == ("portal: alert rule roll_m1_m2_high (bad.toml): value must be a number, "
                                     "not 'a lot'")


def test_alerts_check_on_an_empty_database(tmp_db, capsys):
    from portal import cli

    assert cli.main(["--db", str(tmp_db), "alerts", "check"]) == 2
    assert capsys.readouterr().err.strip() == "portal: no month-end in the snapshots: load snapshots first"


def test_a_change_rule_on_a_window_without_variation():
    """Six months at 100% on time, then 95%: the window's sd is 0, so any change is beyond 2 sd."""
    months = MONTHS[:7]
    flat = pd.DataFrame({"on_time_share": [1.0] * 6 + [0.95]}, index=pd.Index(months))
    either = alerts.validate("flat", {"kpi": "on_time_share", "type": "change"})
    got = alerts._evaluate_one(either, JUL, months, flat)
    assert (got.firing, got.mean, got.sd) == (True, 1.0, 0.0)
    assert "is 95.00% at 2024-07-31, -∞ standard deviations" in got.message()
    up_only = alerts.validate("flat_up", {"kpi": "on_time_share", "type": "change", "direction": "up"})
    assert not alerts._evaluate_one(up_only, JUL, months, flat).firing
    unchanged = flat.assign(on_time_share=[1.0] * 7)
    quiet = alerts._evaluate_one(either, JUL, months, unchanged)
    assert not quiet.firing and "0.0 standard deviations" in quiet.message()
    # a gap in the window (a month without complaints due) leaves the rule unevaluated
    gap = flat.assign(on_time_share=[1.0, None, 1.0, 1.0, 1.0, 1.0, 0.95])
    assert not alerts._evaluate_one(either, JUL, months, gap).evaluated
