"""The contact-policy rule engine on a hand-built contact log (tests/fixtures_policy.py).

Every expected number is worked out by hand in the comments. Period: March 2026, portal time
Asia/Shanghai; `start` inclusive, `end` exclusive.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from portal import db, policy
from portal.schemas import RESULT_SCHEMAS
from tests import fixtures_policy

MARCH = {"start": "2026-03-01", "end": "2026-04-01"}


@pytest.fixture
def log_db(tmp_db):
    fixtures_policy.build(tmp_db)
    return tmp_db


def counts(frame):
    return {r.rule: (r.violations, r.loans_affected, r.agents_affected) for r in frame.itertuples()}


def run(name, path, **params):
    frame = db.query(name, db=path, **params)
    RESULT_SCHEMAS[name].validate(frame)
    return frame


def test_cn_pack_counts(log_db):
    frame = run("policy_violations", log_db, pack="cn", **MARCH)
    assert list(frame["rule"]) == ["quiet_hours", "connected_calls_per_day", "unanswered_calls_per_day",
                                   "third_party_contact", "visit_collectors"]
    assert counts(frame) == {
        # 22:00 (k02) and 07:59 (k03) in Shanghai; 21:59 (k01) and 08:00 (k04) are allowed; New York 07:30
        # after DST (k12) and before DST (k13); 21:00 New York (k11) is fine under cn; letter and legal
        # at midnight (k05, k06) are exempt -> 4 on loans L6, L3; agent A1 only (the SMS have no agent)
        "quiet_hours": (4, 2, 1),
        # 4 connected calls on 03-11 (k53 is the 4th, L1, A1); 03-12 two on L1 then two on L2: the debtor's
        # 4th is k57 (L2, A8), although no loan alone has more than 3
        "connected_calls_per_day": (2, 2, 2),
        # 7 unanswered calls on 03-13: the 7th (k66, L1, A9); 2 a day elsewhere
        "unanswered_calls_per_day": (1, 1, 1),
        # k41 6 days after the rpc k40 (A7); k42 8 days after is allowed
        "third_party_contact": (1, 1, 1),
        # k07 with 1 collector (A2); k08 with 2 is fine
        "visit_collectors": (1, 1, 1),
    }


def test_us_pack_counts(log_db):
    frame = run("policy_violations", log_db, pack="us", **MARCH)
    assert counts(frame) == {
        # quiet from 21:00: Shanghai k01 21:59, k02, k03 (k04 08:00 is fine); New York k11 21:00 EDT
        # (09:00 in Shanghai), k12 07:30 EDT, k13 07:30 EST; k10 20:59 is fine -> 6; loans L6, L3;
        # agents A1, A3
        "quiet_hours": (6, 2, 2),
        # L4: the 8th call (k27, A4) in 7 days; L1: 13 calls in 03-11..03-13, so calls 8..13 (k61..k66, A9)
        "calls_7_in_7": (7, 2, 2),
        # L1: every call after the 09:00 rpc on 03-11 (12: k51-k55 by A1, k60-k66 by A9); L2: k57 after
        # k56 (A8); L5: k41 6 days after k40 (A7); L8: k31 6 d 23 h after k30 (A5), k32 at 7 d 1 h is fine
        "call_after_conversation": (15, 4, 5),
    }


def test_caps_count_excess_contacts_and_per_debtor(log_db):
    details = run("policy_violation_details", log_db, pack="cn", rule="connected_calls_per_day", **MARCH)
    assert list(details["contact_id"]) == ["k53", "k57"]
    assert list(details["customer_id"]) == ["C1", "C1"]


def test_local_time_in_the_debtors_zone(log_db):
    details = run("policy_violation_details", log_db, pack="us", rule="quiet_hours", customer_id="C2", **MARCH)
    assert list(details["contact_id"]) == ["k13", "k11", "k12"]
    assert [str(t) for t in details["local_time"]] == [
        "2026-03-04 07:30:00", "2026-03-16 21:00:00", "2026-03-17 07:30:00"]


def test_detail_filters(log_db):
    by_agent = run("policy_violation_details", log_db, pack="cn", agent_id="A1", **MARCH)
    assert sorted(by_agent["contact_id"]) == ["k02", "k03", "k53"]
    by_agency = run("policy_violation_details", log_db, pack="cn", agency_id="G1", **MARCH)
    assert list(by_agency["contact_id"]) == ["k66"]
    by_channel = run("policy_violation_details", log_db, pack="cn", channel="visit", loan_id="L6", **MARCH)
    assert list(by_channel["rule"]) == ["visit_collectors"]


def test_period_is_start_inclusive_end_exclusive_with_lookback(log_db):
    # 03-12 only: the 4th connected call k57; earlier calls of that day count towards the cap
    day = counts(run("policy_violations", log_db, pack="cn", start="2026-03-12", end="2026-03-13"))
    assert day["connected_calls_per_day"] == (1, 1, 1)
    assert day["quiet_hours"] == (0, 0, 0)
    # from 03-05: k41 on 03-08 still follows the rpc k40 of 03-02 (before the period)
    later = counts(run("policy_violations", log_db, pack="cn", start="2026-03-05", end="2026-04-01"))
    assert later["third_party_contact"] == (1, 1, 1)
    # k02 22:00 on 03-02 is in [03-02, 03-03); k03 07:59 on 03-03 is not
    assert counts(run("policy_violations", log_db, pack="cn", start="2026-03-02",
                      end="2026-03-03"))["quiet_hours"] == (1, 1, 1)


def test_shipped_stricter_pack(log_db):
    frame = run("policy_violations", log_db, pack="cn_strict", **MARCH)
    assert {r.rule: r.violations for r in frame.itertuples()} == {
        "quiet_hours": 7,               # 21:00-09:00: k01, k02, k03, k04 (08:00), k11, k12, k13
        "connected_calls_per_day": 4,   # cap 2: 2 extra on 03-11, 2 extra on 03-12
        "unanswered_calls_per_day": 3,  # cap 4: 7 on 03-13
        "third_party_contact": 2,       # 14 days: k41 and k42
        "visit_collectors": 1,
    }


def test_custom_pack_from_an_extra_toml_file_without_code(log_db, tmp_path, monkeypatch):
    extra = tmp_path / "acme.toml"
    extra.write_text('[packs.acme]\nextends = "cn"\nlabel = "ACME"\nconnected_calls_per_day = 2\n'
                     'quiet_end = "09:00"\n', encoding="utf-8")
    monkeypatch.setenv("PORTAL_RULE_PACKS_FILE", str(extra))
    assert policy.pack("acme")["connected_calls_per_day"] == 2
    assert policy.sync(db_path=log_db) is True
    assert policy.sync(db_path=log_db) is False  # idempotent
    got = counts(run("policy_violations", log_db, pack="acme", **MARCH))
    assert got["connected_calls_per_day"][0] == 4
    # quiet 22:00-09:00: the cn four plus k04 at 08:00
    assert got["quiet_hours"][0] == 5
    assert got["third_party_contact"][0] == 1


def test_unknown_pack_is_an_error(log_db):
    with pytest.raises(db.PortalDBError, match="unknown rule pack"):
        db.query("policy_violations", db=log_db, pack="nope", **MARCH)
    with pytest.raises(policy.PolicyError):
        policy.pack("nope")


@pytest.mark.parametrize("table, message", [
    ('[packs.bad]\nrules = ["quiet_hours"]\nquiet_start = "22:00"\n', "needs quiet_end"),
    ('[packs.bad]\nextends = "cn"\nconected_calls_per_day = 2\n', "unknown key"),
    ('[packs.bad]\nextends = "cn"\nconnected_calls_per_day = -1\n', "whole number"),
    ('[packs.bad]\nextends = "cn"\nquiet_start = "25:00"\n', "HH:MM"),
    ('[packs.bad]\nextends = "cn"\nrules = ["quiet_hours", "nap_time"]\n', "unknown rule"),
    ('[packs.bad]\nextends = "us"\ncall_window_days = 45\n', "at most 30"),
    ('[packs.bad]\nextends = "nowhere"\n', "extends unknown"),
])
def test_bad_pack_files_are_rejected_with_a_reason(tmp_path, monkeypatch, table, message):
    extra = tmp_path / "bad.toml"
    extra.write_text(table, encoding="utf-8")
    monkeypatch.setenv("PORTAL_RULE_PACKS_FILE", str(extra))
    with pytest.raises(policy.PolicyError, match=message):
        policy.load_packs()


def test_pack_api_for_other_pages():
    cn = policy.pack("cn")
    assert (cn["quiet_start"], cn["quiet_end"], cn["connected_calls_per_day"]) == ("22:00", "08:00", 3)
    assert cn["rules"][0] == "quiet_hours" and cn["exempt_channels"] == ("letter", "legal")
    strict = policy.pack("cn_strict")
    assert (strict["quiet_start"], strict["connected_calls_per_day"], strict["visit_min_collectors"]) == \
        ("21:00", 2, 2)
    assert policy.pack("us")["calls_in_window"] == 7
    assert policy.pack_names()[:2] == ["cn", "us"]


def test_league_table(log_db):
    frame = run("policy_league", log_db, pack="cn", **MARCH)
    rows = {(r.level, r.id if isinstance(r.id, str) else None): (r.contacts, r.violations, r.violations_per_1000)
            for r in frame.itertuples()}
    # A1: k01-k04, k50-k53, k54, k55 = 10 contacts; k02, k03 (quiet), k53 (cap) = 3 -> 300 per 1,000
    assert rows[("agent", "A1")] == (10, 3, 300.0)
    # A9: 7 unanswered calls, 1 beyond the cap -> 142.86
    assert rows[("agent", "A9")] == (7, 1, 142.86)
    # no agent: k05, k06, k12, k13 (4); k12, k13 quiet -> 500
    assert rows[("agent", None)] == (4, 2, 500.0)
    # agency G1 = A9's calls; in-house: the other 34 of 41 contacts with the other 8 breaches
    assert rows[("agency", "G1")] == (7, 1, 142.86)
    assert rows[("agency", None)] == (34, 8, 235.29)
    assert list(frame["level"].unique()) == ["agent", "agency"]


def test_violations_by_month(log_db):
    frame = run("policy_violations_by_month", log_db, pack="cn", start="2026-02-01", end="2026-04-01")
    assert {r.rule: r.violations for r in frame.itertuples()} == {
        "quiet_hours": 4, "connected_calls_per_day": 2, "unanswered_calls_per_day": 1,
        "third_party_contact": 1, "visit_collectors": 1}
    assert {str(m)[:10] for m in frame["month"]} == {"2026-03-01"}


def test_complaint_breaches_and_support(log_db):
    # Q1 (C1, communication_tactics, 03-15): C1's breaches in the 30 days before: k53, k57 (connected),
    # k66 (unanswered), all evidence of communication tactics
    frame, supported = policy.complaint_evidence("Q1", "cn", db_path=log_db)
    RESULT_SCHEMAS["complaint_breaches"].validate(frame)
    assert list(frame["contact_id"]) == ["k53", "k57", "k66"] and supported
    assert frame["is_supported"].all()
    # Q2 (loan L5 only, third_party_disclosure, 03-12): k41 supports it
    frame, supported = policy.complaint_evidence("Q2", "cn", db_path=log_db)
    assert list(frame["rule"]) == ["third_party_contact"] and supported
    # Q3 (C4, threatened_action): the same breach does not bear out a threat
    frame, supported = policy.complaint_evidence("Q3", "cn", db_path=log_db)
    assert list(frame["matches_issue"]) == [False] and not supported
    # Q4 (C3, 03-01): nothing in the 30 days before
    frame, supported = policy.complaint_evidence("Q4", "cn", db_path=log_db)
    assert frame.empty and not supported
    # through the named query with the us pack: L1 calls after the conversation, 7-in-7, ...
    us = run("complaint_breaches", log_db, complaint_id="Q1", pack="us")
    assert len(us) == 13 + 6 and us["is_supported"].all()


def test_what_if_stricter_cap(log_db):
    frame = policy.what_if("cn", {"connected_calls_per_day": 2}, dt.date(2026, 3, 1), dt.date(2026, 4, 1),
                           db_path=log_db)
    RESULT_SCHEMAS["policy_what_if"].validate(frame)
    rows = {r.rule: r[2:] for r in frame.itertuples()}
    # cap 2: k52 (the PTP of 500 on 03-11) and k56 (L2, 03-12) are newly blocked; P1 (L2, 03-14, 300)
    # came within 7 days after k56; P2 (L1, 03-20) is 9 days after k52
    assert rows["connected_calls_per_day"] == (2, 4, 2, 1, 300.0, 1, 500.0)
    assert rows["quiet_hours"] == (4, 4, 0, 0, 0.0, 0, 0.0)
    # all rules: 9 breaching contacts under cn, 11 under the scenario
    assert rows["all"] == (9, 11, 2, 1, 300.0, 1, 500.0)


def test_what_if_wider_quiet_window(log_db):
    frame = policy.what_if("cn", {"quiet_start": "21:00"}, dt.date(2026, 3, 1), dt.date(2026, 4, 1),
                           db_path=log_db)
    rows = {r.rule: r[2:5] for r in frame.itertuples()}
    # quiet from 21:00: k01 (21:59 Shanghai) and k11 (21:00 New York) newly blocked
    assert rows["quiet_hours"] == (4, 6, 2)
    with pytest.raises(policy.PolicyError):
        policy.what_if("cn", {"rules": []}, dt.date(2026, 3, 1), dt.date(2026, 4, 1), db_path=log_db)


def test_named_what_if_between_shipped_packs(log_db):
    frame = run("policy_what_if", log_db, base_pack="cn", pack="cn_strict", **MARCH)
    assert {r.rule: r.newly_blocked for r in frame.itertuples()}["unanswered_calls_per_day"] == 2


def test_packs_are_synced_on_open(tmp_db):
    names = db.read("select pack from rule_packs where not is_scenario order by pack", db=tmp_db)
    assert list(names["pack"]) == ["cn", "cn_strict", "us"]
    assert db.scalar("select count(*) from policy_issue_rules where issue = 'third_party_disclosure'",
                     db=tmp_db) == 1


def test_a_loan_without_records_uses_the_packs_default_zone(log_db):
    # L99 has no loans/customers rows: Asia/Shanghai under cn, America/New_York under us.
    # 2026-03-20 23:00 +08 is 11:00 EDT: quiet under cn only.
    db.execute("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome)"
               " values ('k99', 'L99', timestamptz '2026-03-20 23:00:00+08', 'sms', 'debtor', 'sent')", db=log_db)
    assert counts(run("policy_violations", log_db, pack="cn", **MARCH))["quiet_hours"] == (5, 3, 1)
    assert counts(run("policy_violations", log_db, pack="us", **MARCH))["quiet_hours"] == (6, 2, 2)
    row = run("policy_violation_details", log_db, pack="cn", loan_id="L99", **MARCH).iloc[0]
    assert pd.isna(row["customer_id"])  # no debtor on record
    assert str(row["local_time"]) == "2026-03-20 23:00:00"


# --- Materialised facts (policy_breach_facts), maintained on load -----------------------------------

FACT_COLUMNS = "pack, rule, contact_id, loan_id, customer_id, contact_at, local_time, channel, outcome, agent_id, agency_id"
CONTACT_HEADER = ("contact_id,loan_id,contact_at,channel,party,outcome,agent_id,agency_id,strategy,ptp_amount,"
                  "ptp_due_on,cost,collectors,duration_s\n")


def stored_facts(path) -> pd.DataFrame:
    return db.read(f"select {FACT_COLUMNS} from policy_breach_facts order by all", db=path)  # noqa: S608 (fixed)


def facts_from_scratch(path) -> pd.DataFrame:
    """The engine run directly over the whole log for every stored non-scenario pack."""
    packs = db.read("select pack from rule_packs where not is_scenario order by pack", db=path)["pack"]
    lo, end = db.read("select min(contact_at) as lo, max(contact_at) + interval 1 day as e from contacts",
                      db=path).iloc[0]
    frames = [db.read(f"select $pack as pack, {FACT_COLUMNS.split(', ', 1)[1]} "  # noqa: S608 (fixed columns)
                      "from policy_breaches($pack, $lo::timestamptz, $end::timestamptz, null)",
                      {"pack": p, "lo": lo, "end": end}, db=path) for p in packs]
    return pd.concat(frames).sort_values(FACT_COLUMNS.split(", ")).reset_index(drop=True)


def assert_facts_fresh(path) -> None:
    from portal import derived

    pd.testing.assert_frame_equal(stored_facts(path), facts_from_scratch(path))
    cur = db.cursor(path)
    try:
        assert derived.stale(cur, [policy.FACTS_TABLE, policy.RULES_TABLE]) == []
    finally:
        cur.close()


def test_queries_read_the_materialised_facts(log_db):
    run("policy_violations", log_db, pack="cn", **MARCH)  # builds the facts (fixture rows were inserted directly)
    assert_facts_fresh(log_db)
    packs = db.read("select pack, count(*) as n from policy_breach_facts group by pack order by pack", db=log_db)
    # cn: 4 + 2 + 1 + 1 + 1; us: 6 + 7 + 15; cn_strict: 7 + 4 + 3 + 2 + 1; what-if scenarios never stored
    assert dict(zip(packs["pack"], packs["n"], strict=True)) == {"cn": 9, "cn_strict": 17, "us": 28}
    policy.what_if("cn", {"connected_calls_per_day": 1}, dt.date(2026, 3, 1), dt.date(2026, 4, 1), db_path=log_db)
    assert db.scalar("select count(distinct pack) from policy_breach_facts", db=log_db) == 3
    rules = db.read("select rule from policy_pack_rules where pack = 'us' order by rule_order", db=log_db)
    assert list(rules["rule"]) == ["quiet_hours", "calls_7_in_7", "call_after_conversation"]


def test_contacts_upload_refreshes_the_affected_range_only_and_matches_a_rebuild(log_db, tmp_path):
    from portal import ingest

    before_cn = counts(run("policy_violations", log_db, pack="cn", **MARCH))
    # A sentinel fact far outside any range the upload can touch: an incremental refresh leaves it.
    db.execute("insert into policy_breach_facts values ('cn', 'quiet_hours', 'SENTINEL', 'L6', 'C5', "
               "timestamptz '2025-06-01 23:00:00+08', timestamp '2025-06-01 23:00:00', 'phone', 'no_answer', "
               "'A1', null)", db=log_db)
    csv = tmp_path / "contacts.csv"
    csv.write_text(CONTACT_HEADER
                   # L2 (C1's other loan) at 08:30 on 03-11, before k50-k53 on L1: the debtor's connected
                   # calls that day are now new, k50, k51, k52, k53, so k52 (uploaded earlier) is the 4th
                   + "n1,L2,2026-03-11T08:30:00+08:00,phone,debtor,rpc,A8,,champion,,,1,,\n"
                   # L4 on 03-09 12:00: within 7 days before k26 (03-16 10:00), which becomes the 8th call
                   + "n2,L4,2026-03-09T12:00:00+08:00,phone,debtor,no_answer,A4,,champion,,,1,,\n",
                   encoding="utf-8")
    result = ingest.load_file("contacts", csv, db=log_db)
    assert result.accepted == 2, result.message
    assert db.scalar("select count(*) from policy_breach_facts where contact_id = 'SENTINEL'", db=log_db) == 1
    db.execute("delete from policy_breach_facts where contact_id = 'SENTINEL'", db=log_db)
    assert_facts_fresh(log_db)

    after_cn = counts(run("policy_violations", log_db, pack="cn", **MARCH))
    # k52 (L1, A1) joins k53 (L1, A1) and k57 (L2, A8)
    assert after_cn["connected_calls_per_day"] == (3, 2, 2)
    assert {r: v for r, v in after_cn.items() if r != "connected_calls_per_day"} == \
        {r: v for r, v in before_cn.items() if r != "connected_calls_per_day"}
    details = run("policy_violation_details", log_db, pack="cn", rule="connected_calls_per_day", **MARCH)
    assert list(details["contact_id"]) == ["k52", "k53", "k57"]
    assert counts(run("policy_violations", log_db, pack="us", **MARCH)) == {
        "quiet_hours": (6, 2, 2),
        # k26 (L4, A4) is now the 8th call in 7 days too: k26, k27 on L4 and k61..k66 on L1
        "calls_7_in_7": (8, 2, 2),
        # n1 is a conversation on L2: k56 (A8) follows it within 7 days, as k57 already did
        "call_after_conversation": (16, 4, 5),
    }


def test_customer_time_zone_upload_refreshes_that_debtors_breaches(log_db, tmp_path):
    from portal import ingest

    run("policy_violations", log_db, pack="cn", **MARCH)
    csv = tmp_path / "customers.csv"
    # C5 (loan L6) moves to New York (EST, UTC-5, before 03-08): the calls at 21:59 / 22:00 / 07:59 / 08:00
    # Shanghai are 08:59 / 09:00 / 18:59 / 19:00 local, the visits at 10:00 Shanghai 21:00 the day before
    csv.write_text("customer_id,name,mobile,id_number,province,timezone,opted_out_channels\n"
                   "C5,,13800138000,,Shanghai,America/New_York,\n", encoding="utf-8")
    result = ingest.load_file("customers", csv, db=log_db)
    assert result.accepted == 1, result.message
    assert_facts_fresh(log_db)
    # cn quiet hours: k02, k03 (L6) are gone; k12, k13 (New York, L3) stay
    assert counts(run("policy_violations", log_db, pack="cn", **MARCH))["quiet_hours"] == (2, 1, 0)


def test_an_edited_pack_changes_the_counts_after_reopening(log_db, tmp_path, monkeypatch):
    assert counts(run("policy_violations", log_db, pack="cn", **MARCH))["connected_calls_per_day"] == (2, 2, 2)
    extra = tmp_path / "org.toml"
    extra.write_text("[packs.cn]\nconnected_calls_per_day = 2\n", encoding="utf-8")
    monkeypatch.setenv("PORTAL_RULE_PACKS_FILE", str(extra))
    db.close(log_db)  # reopening syncs the packs; the facts were computed under the old cn
    # cap 2: 03-11 k52, k53 (L1, A1); 03-12 the debtor's 3rd and 4th, k56, k57 (L2, A8)
    assert counts(run("policy_violations", log_db, pack="cn", **MARCH))["connected_calls_per_day"] == (4, 2, 2)
    assert_facts_fresh(log_db)
    monkeypatch.delenv("PORTAL_RULE_PACKS_FILE")
    db.close(log_db)
    assert counts(run("policy_violations", log_db, pack="cn", **MARCH))["connected_calls_per_day"] == (2, 2, 2)


def test_demo_build_stores_fresh_facts(demo_db):
    assert db.scalar("select count(*) from policy_breach_facts", db=demo_db) > 0
    assert_facts_fresh(demo_db)


def test_violations_by_month_use_the_portal_time_zone(log_db):
    # both are 03-31 in UTC; in Shanghai (portal time) 23:30 is still March and 00:30 is April
    db.execute("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome) values "
               "('m1', 'L6', timestamptz '2026-03-31 23:30:00+08', 'sms', 'debtor', 'sent'), "
               "('m2', 'L6', timestamptz '2026-04-01 00:30:00+08', 'sms', 'debtor', 'sent')", db=log_db)
    frame = run("policy_violations_by_month", log_db, pack="cn", start="2026-02-01", end="2026-05-01")
    quiet = {str(r.month)[:10]: r.violations for r in frame.itertuples() if r.rule == "quiet_hours"}
    assert quiet == {"2026-03-01": 5, "2026-04-01": 1}


def test_the_full_build_in_chunks_equals_one_run_over_the_whole_log(demo_db, monkeypatch):
    # The full build runs the engine a few calendar months at a time (bounded memory); the windows that
    # straddle a chunk boundary must come out as in one run over the whole log.
    from portal import derived, policy

    total = db.scalar("select count(*) from contacts", db=demo_db)
    monkeypatch.setattr(policy, "FULL_BUILD_CONTACTS", total // 6)  # chunks of about two months
    cur = db.cursor(demo_db)
    try:
        assert len(policy._build_chunks(cur)) >= 5
    finally:
        cur.close()
    db.write(lambda c: derived.refresh_one(c, policy.FACTS_TABLE), db=demo_db)
    columns = "pack, rule, contact_id, loan_id, customer_id, contact_at, local_time"
    stored = db.read(f"select {columns} from policy_breach_facts order by all", db=demo_db)  # noqa: S608
    months = db.scalar("select count(distinct date_trunc('month', contact_at)) from contacts", db=demo_db)
    assert months >= 10
    whole = []
    for pack_name in db.read("select pack from rule_packs where not is_scenario order by pack", db=demo_db)["pack"]:
        whole.append(db.read(
            "select $p as pack, rule, contact_id, loan_id, customer_id, contact_at, local_time "
            "from policy_breaches($p, (select min(contact_at) from contacts), "
            "(select max(contact_at) + interval 1 day from contacts), null)", {"p": pack_name}, db=demo_db))
    expected = pd.concat(whole).sort_values(list(stored.columns)).reset_index(drop=True)
    assert len(stored) > 1000
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)
