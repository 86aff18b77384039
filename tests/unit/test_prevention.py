"""The pre-contact check on a hand-built log: every expected answer is worked out in the comments.

Debtors: S1 in Asia/Shanghai (UTC+8, no DST; loans S1a, S1b), N1 in America/New_York (loans N1a, N1b;
DST starts 2026-03-08 02:00 EST -> 03:00 EDT and ends 2026-11-01 02:00 EDT -> 01:00 EST), O1 in
Shanghai who opted out of SMS and visits (loan O1a), and loan X1 whose customer XC has no record (the
pack's default zone applies, as in the audit). Packs as shipped: cn quiet 22:00-08:00, 3 connected
and 6 unanswered calls a day, no third party within 7 days of reaching the debtor, 2 collectors a
visit; us quiet 21:00-08:00, 7 calls in 7 days, no call within 7 days of a conversation; cn_strict
quiet 21:00-09:00, 2 connected and 4 unanswered, 14 days.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from portal import db, derived, policy, prevention
from portal.schemas import RESULT_SCHEMAS

SH = dt.timezone(dt.timedelta(hours=8))
EST = dt.timezone(dt.timedelta(hours=-5))
EDT = dt.timezone(dt.timedelta(hours=-4))
US = dt.timedelta(microseconds=1)

CUSTOMERS = [("S1", "Asia/Shanghai", None), ("N1", "America/New_York", None), ("O1", "Asia/Shanghai", "sms, Visit")]
LOANS = [("S1a", "S1"), ("S1b", "S1"), ("N1a", "N1"), ("N1b", "N1"), ("O1a", "O1"), ("X1", "XC")]
CONTACTS = [
    # S1 on 03-11: three connected calls across both loans (the 09:00 rpc also reaches the debtor on S1a)
    ("s1", "S1a", "2026-03-11 09:00:00+08", "phone", "debtor", "rpc"),
    ("s2", "S1a", "2026-03-11 10:00:00+08", "phone", "debtor", "ptp"),
    ("s3", "S1b", "2026-03-11 11:00:00+08", "phone", "debtor", "refused"),
    # S1 on 03-12: three unanswered calls
    ("s4", "S1a", "2026-03-12 09:00:00+08", "phone", "debtor", "no_answer"),
    ("s5", "S1a", "2026-03-12 10:00:00+08", "phone", "debtor", "no_answer"),
    ("s6", "S1b", "2026-03-12 11:00:00+08", "phone", "third_party", "no_answer"),
    # S1 on 03-13: two connected calls
    ("s7", "S1b", "2026-03-13 09:00:00+08", "phone", "debtor", "rpc"),
    ("s8", "S1b", "2026-03-13 10:00:00+08", "phone", "debtor", "rpc"),
    # N1a: a call a day at 10:00 local from 03-05 (EST) to 03-11 (EDT), none answered
    *[(f"n{d}", "N1a", f"2026-03-{d:02d} 10:00:00{'-05' if d < 8 else '-04'}", "phone", "debtor", "no_answer")
      for d in range(5, 12)],
    # N1b: a conversation on 03-20 10:00 EDT
    ("m1", "N1b", "2026-03-20 10:00:00-04", "phone", "debtor", "rpc"),
]


@pytest.fixture
def book(tmp_db):
    def load(cur):
        cur.executemany("insert into customers (customer_id, timezone, opted_out_channels) values (?, ?, ?)", CUSTOMERS)
        cur.executemany("insert into loans (loan_id, customer_id, product, principal, annual_rate, term_months, "
                        "disbursed_on) values (?, ?, 'cash_loan', 1000, 0.2, 12, date '2025-06-01')", LOANS)
        cur.executemany("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome) "
                        "values (?, ?, ?::timestamptz, ?, ?, ?)", CONTACTS)
        for name in prevention.DERIVED_TABLES:  # as a load does, in the same transaction
            derived.refresh_one(cur, name)

    db.write(load, db=tmp_db)
    return tmp_db


def check(book, loan, at, channel="phone", party="debtor", pack="cn", collectors=None, lang="en"):
    """The contact_check rows of one contact, through the named query (validated against its schema)."""
    frame = db.query("contact_check", db=book, loan_id=loan, channel=channel, party=party, at=at, pack=pack,
                     collectors=collectors, lang=lang)
    RESULT_SCHEMAS["contact_check"].validate(frame)
    return frame


def rules(frame) -> list[str]:
    return [r for r in frame["rule"] if isinstance(r, str)]


def next_at(frame):
    value = frame["next_allowed_at"].iloc[0]
    return None if pd.isna(value) else value.to_pydatetime()


def allowed(frame) -> bool:
    return bool(frame["allowed"].iloc[0])


# --- Quiet hours ----------------------------------------------------------------------------------------

def test_quiet_hours_boundary_minutes_in_shanghai(book):
    # 22:00-08:00 local: 21:59:59.999999 and 08:00 are allowed, 22:00 and 07:59:59.999999 are not
    assert allowed(check(book, "S1a", "2026-03-16T21:59:59.999999", channel="sms"))
    late = check(book, "S1a", "2026-03-16T22:00:00", channel="sms")
    assert rules(late) == ["quiet_hours"]
    assert late["reason"].iloc[0] == "22:00 is inside quiet hours 22:00–08:00 in Asia/Shanghai"
    assert next_at(late) == dt.datetime(2026, 3, 17, 8, 0, tzinfo=SH)
    early = check(book, "S1a", "2026-03-17T07:59:59.999999", channel="sms")
    assert next_at(early) == dt.datetime(2026, 3, 17, 8, 0, tzinfo=SH)
    assert allowed(check(book, "S1a", "2026-03-17T08:00:00", channel="sms"))
    # the same instant given with an offset; letters and legal filings are exempt
    assert rules(check(book, "S1a", "2026-03-16T14:30:00+00:00", channel="sms")) == ["quiet_hours"]
    assert allowed(check(book, "S1a", "2026-03-16T23:00:00", channel="letter"))
    assert allowed(check(book, "S1a", "2026-03-16T23:00:00", channel="legal"))


def test_quiet_hours_on_new_yorks_spring_forward_day(book):
    # 2026-03-08: 01:30 EST is quiet (21:00-08:00); the night ends at 08:00 EDT = 12:00 UTC, only 9.5
    # hours of real time later (the clocks skip 02:00-03:00)
    frame = check(book, "N1b", "2026-03-08T01:30:00", channel="sms", pack="us")
    assert rules(frame) == ["quiet_hours"]
    assert frame["reason"].iloc[0] == "01:30 is inside quiet hours 21:00–08:00 in America/New_York"
    assert next_at(frame) == dt.datetime(2026, 3, 8, 8, 0, tzinfo=EDT)
    # 02:30 does not exist that day: read as an upload reads it (the standard offset, = 03:30 EDT)
    gap = check(book, "N1b", "2026-03-08T02:30:00", channel="sms", pack="us")
    assert gap["reason"].iloc[0] == "03:30 is inside quiet hours 21:00–08:00 in America/New_York"
    assert not allowed(check(book, "N1b", "2026-03-08T07:59:59.999999", channel="sms", pack="us"))
    assert allowed(check(book, "N1b", "2026-03-08T08:00:00", channel="sms", pack="us"))
    # the evening before, in EST: 20:59 is fine, 21:00 is not
    assert allowed(check(book, "N1b", "2026-03-07T20:59:00", channel="sms", pack="us"))
    assert not allowed(check(book, "N1b", "2026-03-07T21:00:00", channel="sms", pack="us"))


def test_quiet_hours_on_new_yorks_fall_back_day(book):
    # 22:00 EDT on 10-31 (02:00 UTC 11-01): quiet until 08:00 EST on 11-01 = 13:00 UTC, 15 hours later
    frame = check(book, "N1b", "2026-10-31T22:00:00", channel="sms", pack="us")
    assert next_at(frame) == dt.datetime(2026, 11, 1, 8, 0, tzinfo=EST)
    # 07:30 EST is still quiet although 12:30 UTC would be 08:30 EDT; one microsecond before 08:00 too
    assert not allowed(check(book, "N1b", "2026-11-01T12:30:00+00:00", channel="sms", pack="us"))
    assert not allowed(check(book, "N1b", "2026-11-01T12:59:59.999999+00:00", channel="sms", pack="us"))
    assert allowed(check(book, "N1b", "2026-11-01T13:00:00+00:00", channel="sms", pack="us"))
    # 01:30 happens twice that night; a time without an offset is read as an upload reads it (EST)
    twice = check(book, "N1b", "2026-11-01T01:30:00", channel="sms", pack="us")
    assert next_at(twice) == dt.datetime(2026, 11, 1, 8, 0, tzinfo=EST)


# --- Daily caps ------------------------------------------------------------------------------------------

def test_connected_call_cap_per_debtor_and_local_day(book):
    # S1 has 3 connected calls on 03-11 (two on S1a, one on S1b): a 4th debtor call on either loan is
    # blocked; the next local day starts at 00:00, but quiet hours hold it until 08:00
    frame = check(book, "S1b", "2026-03-11T15:00:00")
    assert rules(frame) == ["connected_calls_per_day"]
    assert frame["reason"].iloc[0] == "3 connected calls already on 2026-03-11 (at most 3 a day)"
    assert next_at(frame) == dt.datetime(2026, 3, 12, 8, 0, tzinfo=SH)
    # a call to a third party is no connected call with the debtor: it comes within 7 days of reaching
    # the debtor on S1b (s3, 11:00) and that rule alone blocks it
    assert rules(check(book, "S1b", "2026-03-11T15:00:00", party="third_party")) == ["third_party_contact"]
    # cn_strict allows 2: 03-13 (2 connected) is full there, not under cn
    assert allowed(check(book, "S1a", "2026-03-13T15:00:00"))
    strict = check(book, "S1a", "2026-03-13T15:00:00", pack="cn_strict")
    assert rules(strict) == ["connected_calls_per_day"]
    assert next_at(strict) == dt.datetime(2026, 3, 14, 9, 0, tzinfo=SH)  # cn_strict's quiet hours end at 09:00


def test_unanswered_cap_counts_every_party(book):
    # 03-12: three unanswered calls (one to a third party); cn_strict allows 4 a day, so one more
    assert allowed(check(book, "S1a", "2026-03-12T15:00:00", pack="cn_strict"))
    plan = prevention.check([
        {"loan_id": "S1a", "channel": "phone", "at": "2026-03-12T15:00:00"},
        {"loan_id": "S1b", "channel": "phone", "party": "third_party", "at": "2026-03-12T16:00:00"},
    ], "cn_strict", db=book)
    # the first planned call may go unanswered: with it the day holds 4, so the second is blocked
    assert plan[0][0]["allowed"]
    assert plan[1][0]["rule"] == "unanswered_calls_per_day"
    assert plan[1][0]["reason"] == ("4 unanswered calls already on 2026-03-12, counting 1 planned calls that may go "
                                    "unanswered (at most 4 a day)")


def test_daily_cap_reached_by_planned_rows(book):
    # 03-20: no call in the log. Rows 1, 3, 4 are debtor calls at 10:00, 11:00, 12:00 and may all
    # connect; row 2 (23:00) is blocked by quiet hours, will not be made, so it does not count; row 5
    # at 13:00 is the 4th possible connection: blocked until the next local day's 08:00. Row 6, to a
    # third party, is no connected call with the debtor.
    plan = prevention.check([
        {"loan_id": "S1a", "channel": "phone", "at": "2026-03-20T10:00:00"},
        {"loan_id": "S1a", "channel": "phone", "at": "2026-03-20T23:00:00"},
        {"loan_id": "S1b", "channel": "phone", "at": "2026-03-20T11:00:00"},
        {"loan_id": "S1a", "channel": "phone", "at": "2026-03-20T12:00:00"},
        {"loan_id": "S1b", "channel": "phone", "at": "2026-03-20T13:00:00"},
        {"loan_id": "S1b", "channel": "phone", "party": "third_party", "at": "2026-03-20T14:00:00"},
    ], "cn", db=book)
    assert [rows[0]["allowed"] for rows in plan] == [True, False, True, True, False, True]
    assert plan[1][0]["rule"] == "quiet_hours"
    assert plan[4][0]["rule"] == "connected_calls_per_day"
    assert plan[4][0]["reason"] == ("3 connected calls already on 2026-03-20, counting 3 planned calls that may "
                                    "connect (at most 3 a day)")
    assert plan[4][0]["next_allowed_at"] == dt.datetime(2026, 3, 21, 8, 0, tzinfo=SH)
    # the list's order, not the clock's: a row planned earlier in the day, listed last, is the 4th
    late_in_list = prevention.check([
        {"loan_id": "S1a", "channel": "phone", "at": "2026-03-25T15:00:00"},
        {"loan_id": "S1a", "channel": "phone", "at": "2026-03-25T12:00:00"},
        {"loan_id": "S1b", "channel": "phone", "at": "2026-03-25T11:00:00"},
        {"loan_id": "S1a", "channel": "phone", "at": "2026-03-25T09:00:00"},
    ], db=book)
    assert [rows[0]["allowed"] for rows in late_in_list] == [True, True, True, False]
    # a bad first row of a debtor does not lose the debtor's log: 03-11 still holds 3 connected calls
    with pytest.raises(prevention.RequestError):
        prevention.check([{"loan_id": "S1a", "channel": "fax", "at": "2026-03-11T15:00:00"},
                          {"loan_id": "S1a", "channel": "phone", "at": "2026-03-11T15:00:00"}], db=book)
    frame = prevention.text_frame(prevention.check_file(_plan_file(book.parent, [
        "S1a,fax,debtor,2026-03-11T15:00:00", "S1a,phone,debtor,2026-03-11T15:00:00"]), db=book).frame)
    assert list(frame["allowed"]) == ["", "false"] and frame["rules"][1] == "connected_calls_per_day"


def _plan_file(folder, lines):
    path = folder / "plan.csv"
    path.write_text("loan_id,channel,party,planned_at\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- Windows after reaching the debtor ----------------------------------------------------------------

def test_third_party_after_reaching_the_debtor_and_the_7_day_edge(book):
    # S1a reached the debtor at 03-11 09:00 (s1, rpc) and 10:00 (s2, ptp): no third party until 7 days
    # after the later one, that instant included
    edge = check(book, "S1a", "2026-03-18T10:00:00", channel="sms", party="third_party")
    assert rules(edge) == ["third_party_contact"]
    assert edge["reason"].iloc[0] == ("third party contacted within 7 days of reaching the debtor "
                                      "(reached 2026-03-11 10:00)")
    assert next_at(edge) == dt.datetime(2026, 3, 18, 10, 0, tzinfo=SH) + US
    assert next_at(check(book, "S1a", "2026-03-18T09:30:00", channel="sms", party="third_party")) == \
        dt.datetime(2026, 3, 18, 10, 0, tzinfo=SH) + US
    assert allowed(check(book, "S1a", "2026-03-18T10:00:00.000001", channel="sms", party="third_party"))
    # the debtor may be contacted; S1b was reached on its own (s3 at 11:00, then s7, s8 on 03-13)
    assert allowed(check(book, "S1a", "2026-03-12T12:00:00", channel="sms"))
    assert next_at(check(book, "S1b", "2026-03-12T12:00:00", channel="sms", party="third_party")) == \
        dt.datetime(2026, 3, 20, 10, 0, tzinfo=SH) + US
    # cn_strict waits 14 days
    strict = check(book, "S1a", "2026-03-18T10:00:00.000001", channel="sms", party="third_party", pack="cn_strict")
    assert next_at(strict) == dt.datetime(2026, 3, 25, 10, 0, tzinfo=SH) + US


def test_call_after_a_conversation(book):
    # us: the conversation m1 on N1b at 03-20 10:00 EDT; no call until 7 days later (that instant included)
    frame = check(book, "N1b", "2026-03-27T09:59:00", pack="us")
    assert rules(frame) == ["call_after_conversation"]
    assert frame["reason"].iloc[0] == ("no call within 7 days of a conversation with the debtor "
                                       "(talked 2026-03-20 10:00)")
    assert next_at(frame) == dt.datetime(2026, 3, 27, 10, 0, tzinfo=EDT) + US
    assert allowed(check(book, "N1b", "2026-03-27T10:00:00.000001", pack="us"))
    # a text message is no call; the other loan N1a had no conversation
    assert allowed(check(book, "N1b", "2026-03-21T10:00:00", channel="sms", pack="us"))


# --- 7 calls in 7 days (us) ------------------------------------------------------------------------------

def test_seven_in_seven_window_edge_across_dst(book):
    # N1a: calls at 10:00 local on 03-05..03-11 (7). A call on 03-12 at 09:00 EDT would be the 8th in
    # (03-05 09:00 EDT = 08:00 EST, 03-12 09:00]. Room comes when the 03-05 call (10:00 EST = 15:00 UTC)
    # leaves the window: 7 x 24 hours later, 03-12 15:00 UTC = 11:00 EDT (the clocks moved an hour).
    frame = check(book, "N1a", "2026-03-12T09:00:00", pack="us")
    assert rules(frame) == ["calls_7_in_7"]
    assert frame["reason"].iloc[0] == "7 calls already in the 7 days up to 2026-03-12 09:00 (at most 7)"
    assert next_at(frame) == dt.datetime(2026, 3, 12, 11, 0, tzinfo=EDT)
    assert not allowed(check(book, "N1a", "2026-03-12T10:59:59.999999", pack="us"))
    assert allowed(check(book, "N1a", "2026-03-12T11:00:00", pack="us"))


def test_seven_in_seven_a_call_before_the_log_makes_a_later_call_the_eighth(book):
    # 03-04 12:00 EST (17:00 UTC) is in the window (03-04 14:00 UTC, 03-11 14:00 UTC] of the 03-11 call,
    # which would then be the 8th: blocked, although the planned call itself has no call before it
    frame = check(book, "N1a", "2026-03-04T12:00:00", pack="us")
    assert rules(frame) == ["calls_7_in_7"]
    assert frame["reason"].iloc[0] == "the call at 2026-03-11 10:00 would then be over 7 calls in 7 days"
    # from then on each instant is blocked by one window or another, until 03-12 11:00 EDT (above)
    assert next_at(frame) == dt.datetime(2026, 3, 12, 11, 0, tzinfo=EDT)
    # at or before 03-04 14:00 UTC it falls outside that window and is allowed
    assert allowed(check(book, "N1a", "2026-03-04T09:00:00", pack="us"))


# --- Opt-out, visits, debtors without a record -------------------------------------------------------------

def test_opted_out_channels_block_whatever_the_pack(book):
    # O1 opted out of "sms, Visit": both block under every pack, for good (no next_allowed_at)
    for pack in ("cn", "us"):
        frame = check(book, "O1a", "2026-03-16T10:00:00", channel="sms", pack=pack)
        assert rules(frame) == ["opted_out_channel"]
        assert frame["reason"].iloc[0] == "the customer opted out of SMS"
        assert next_at(frame) is None
    assert rules(check(book, "O1a", "2026-03-16T10:00:00", channel="visit", collectors=2)) == ["opted_out_channel"]
    assert allowed(check(book, "O1a", "2026-03-16T10:00:00", channel="phone"))
    zh = check(book, "O1a", "2026-03-16T10:00:00", channel="sms", lang="zh")
    assert zh["reason"].iloc[0] == "客户已拒绝通过短信联系"


def test_a_planned_visit_needs_its_collectors(book):
    # cn: at least 2 collectors. A visit planned without a number counts as 1 (a visit has at least one)
    one = check(book, "S1a", "2026-03-16T10:00:00", channel="visit", collectors=1)
    assert rules(one) == ["visit_collectors"]
    assert one["reason"].iloc[0] == "a home visit needs at least 2 collectors, this one has 1"
    assert next_at(one) is None  # waiting does not add a collector
    none = check(book, "S1a", "2026-03-16T10:00:00", channel="visit")
    assert none["reason"].iloc[0] == "a home visit needs at least 2 collectors and the plan names none"
    assert allowed(check(book, "S1a", "2026-03-16T10:00:00", channel="visit", collectors=2))
    assert allowed(check(book, "S1a", "2026-03-16T10:00:00", channel="visit", collectors=1, pack="us"))
    # a visit at night: both rules, and still no time at which it would be allowed
    night = check(book, "S1a", "2026-03-16T23:00:00", channel="visit", collectors=1)
    assert rules(night) == ["quiet_hours", "visit_collectors"] and next_at(night) is None


def test_a_loan_whose_customer_has_no_record_uses_the_packs_zone(book):
    # X1's customer XC has no record: cn reads it in Shanghai, us in New York (as the audit does)
    instant = "2026-03-20T23:00:00+08:00"  # 11:00 EDT
    assert rules(check(book, "X1", instant, channel="sms")) == ["quiet_hours"]
    assert allowed(check(book, "X1", instant, channel="sms", pack="us"))
    assert rules(check(book, "X1", "2026-03-20T07:30:00", channel="sms", pack="us")) == ["quiet_hours"]


def test_several_rules_at_once_and_the_latest_release_wins(book):
    # S1a at 03-11 23:00: quiet (until 03-12 08:00) and the day's 3 connected calls; the next day
    # starts inside quiet hours too, so the first instant neither blocks is 03-12 08:00
    frame = check(book, "S1a", "2026-03-11T23:00:00")
    assert rules(frame) == ["quiet_hours", "connected_calls_per_day"]
    assert list(frame["allowed"]) == [False, False]
    assert next_at(frame) == dt.datetime(2026, 3, 12, 8, 0, tzinfo=SH)
    assert frame["next_allowed_at"].nunique() == 1  # the same instant on every row


# --- The named query and the function agree; errors ---------------------------------------------------------

def test_named_query_rows_and_check_rows_agree(book):
    cases = [("S1a", "2026-03-11T23:00:00", "phone", "debtor", "cn"), ("N1a", "2026-03-12T09:00:00", "phone",
             "debtor", "us"), ("O1a", "2026-03-16T10:00:00", "sms", "debtor", "cn"),
             ("S1b", "2026-03-16T10:00:00", "app", "debtor", "cn_strict")]
    for loan, at, channel, party, pack in cases:
        named = check(book, loan, at, channel=channel, party=party, pack=pack)
        rows = prevention.check({"loan_id": loan, "channel": channel, "party": party, "at": at}, pack, db=book)[0]
        assert [None if pd.isna(r) else r for r in named["rule"]] == [r["rule"] for r in rows]
        assert [None if pd.isna(r) else r for r in named["reason"]] == [r["reason"] for r in rows]
        assert [None if pd.isna(n) else n.to_pydatetime() for n in named["next_allowed_at"]] == \
            [r["next_allowed_at"] for r in rows]
    assert list(check(book, "S1b", "2026-03-16T10:00:00", channel="app").columns) == \
        ["allowed", "rule", "reason", "next_allowed_at"]


def test_allowed_row_and_default_pack(book, monkeypatch):
    frame = check(book, "N1b", "2026-03-16T21:30:00", channel="sms", pack=None)
    # the active pack is cn (the setting rule_pack): 21:30 is fine in New York under cn
    assert frame.to_dict("records")[0]["allowed"] and len(frame) == 1 and pd.isna(frame["rule"].iloc[0])
    monkeypatch.setenv("PORTAL_RULE_PACK", "us")
    assert rules(check(book, "N1b", "2026-03-16T21:30:00", channel="sms", pack=None)) == ["quiet_hours"]
    got = prevention.check({"loan_id": "N1b", "channel": "sms", "at": "2026-03-16T21:30:00"}, db=book)[0]
    assert [r["rule"] for r in got] == ["quiet_hours"]


def test_errors_are_one_line(book):
    with pytest.raises(db.PortalDBError, match="unknown loan_id NOPE"):
        check(book, "NOPE", "2026-03-16T10:00:00")
    with pytest.raises(db.PortalDBError, match="unknown rule pack nope"):
        check(book, "S1a", "2026-03-16T10:00:00", pack="nope")
    with pytest.raises(db.QueryError, match="must be one of"):
        check(book, "S1a", "2026-03-16T10:00:00", channel="fax")
    with pytest.raises(db.QueryError, match="not a valid timestamp"):
        check(book, "S1a", "tomorrow")
    with pytest.raises(db.PortalDBError, match="collectors is only for visits"):
        check(book, "S1a", "2026-03-16T10:00:00", collectors=2)
    with pytest.raises(prevention.RequestError) as exc:
        prevention.check([{"loan_id": "NOPE", "channel": "fax", "at": "soon"}], db=book)
    assert {(e.index, e.field) for e in exc.value.errors} == {(0, "loan_id"), (0, "channel"), (0, "at")}
    with pytest.raises(prevention.CheckError, match="unknown rule pack"):
        prevention.check({"loan_id": "S1a", "channel": "sms", "at": "2026-03-16T10:00:00"}, "nope", db=book)


def test_api_payload_statuses(book):
    status, body = prevention.check_payload({"loan_id": "S1a", "channel": "sms", "at": "2026-03-16T22:30:00"},
                                            db=book)
    assert status == 200
    assert body == [{"allowed": False, "rule": "quiet_hours",
                     "reason": "22:30 is inside quiet hours 22:00–08:00 in Asia/Shanghai",
                     "next_allowed_at": "2026-03-17T08:00:00+08:00"}]
    status, body = prevention.check_payload([{"loan_id": "S1a", "channel": "sms", "at": "2026-03-16T10:00:00"},
                                             {"loan_id": "S1a", "channel": "sms", "at": "2026-03-16T10:00:00"}],
                                            db=book)
    assert status == 200 and [b[0]["allowed"] for b in body] == [True, True]
    status, body = prevention.check_payload([{"loan_id": "S1a", "channel": "sms", "at": "x", "extra": 1}], db=book)
    assert status == 422 and {f["field"] for f in body["fields"]} == {"extra"}
    status, body = prevention.check_payload([{"loan_id": "S1a", "channel": "sms", "at": "x"}], db=book)
    assert status == 422 and body["fields"] == [{"index": 0, "field": "at", "reason": "at x is not an ISO 8601 timestamp"}]
    assert prevention.check_payload([], db=book)[0] == 422
    assert prevention.check_payload("nope", db=book)[0] == 422
    assert prevention.check_payload({"loan_id": "S1a", "channel": "sms", "at": "2026-03-16T10:00:00"}, "nope",
                                    db=book)[0] == 400


def test_an_organisation_pack_extending_cn(book, tmp_path, monkeypatch):
    extra = tmp_path / "acme.toml"
    extra.write_text('[packs.acme]\nextends = "cn"\nlabel = "ACME"\nconnected_calls_per_day = 2\n'
                     'quiet_end = "09:00"\n', encoding="utf-8")
    monkeypatch.setenv("PORTAL_RULE_PACKS_FILE", str(extra))
    policy.sync(db_path=book)
    # 03-13 holds 2 connected calls: full under acme, not under cn; and 08:30 is still quiet under acme
    frame = check(book, "S1a", "2026-03-13T08:30:00", pack="acme")
    assert rules(frame) == ["quiet_hours", "connected_calls_per_day"]
    assert next_at(frame) == dt.datetime(2026, 3, 14, 9, 0, tzinfo=SH)
    assert allowed(check(book, "S1a", "2026-03-13T15:00:00", pack="cn"))


def test_the_query_reads_only_the_debtors_rows(book):
    # the derived log holds phone calls and right-party contacts only, in debtor-hash order
    log = db.read("select customer_id, loan_id, kind from contact_check_log order by customer_hash, contact_at",
                  db=book)
    assert len(log) == len(CONTACTS)  # every fixture contact is a phone call
    assert db.scalar("select kind from contact_check_log where loan_id = 'N1b'", db=book) == 1 + 2 + 8
    assert db.scalar("select kind from contact_check_log where contact_at = timestamptz '2026-03-12 11:00:00+08'",
                     db=book) == 1 + 4
    plan = db.read("explain analyze " + db.get_query("contact_check").sql,
                   {"loan_id": "S1a", "channel": "sms", "party": "debtor", "at": dt.datetime(2026, 3, 16, 10),
                    "pack": "cn", "collectors": None, "lang": "en"}, db=book)
    text = "\n".join(plan.iloc[:, 1])
    assert "Dynamic Filters" in text  # the debtor's hash reaches the scan of contact_check_log
    # the query reads the same stretch of the log as the engine's list checks
    sql = db.get_query("contact_check").sql
    assert f"interval {prevention.LOOKBACK_DAYS} days" in sql
    assert f"interval {prevention.HORIZON_DAYS + prevention.LOOKBACK_DAYS} days" in sql


def test_edge_numbers_agree_with_the_audit(book, tmp_path, monkeypatch):
    # Packs with numbers at their edges: a cap of 0 (every call is over it), a third-party window of 0
    # days (never), a conversation window of 0 days (the engine still waits one day: its window is at least
    # a day wide), 0 calls in a window (every call), quiet hours that do not wrap midnight (01:00-06:00) and
    # quiet hours that start and end together (none). For each contact, the rules the check names are
    # exactly those whose breach count grows when the audit engine sees the contact appended.
    extra = tmp_path / "edges.toml"
    extra.write_text('[packs.edge_cn]\nextends = "cn"\nconnected_calls_per_day = 0\nthird_party_after_rpc_days = 0\n'
                     'quiet_start = "01:00"\nquiet_end = "06:00"\n'
                     '[packs.edge_us]\nextends = "us"\ncalls_in_window = 0\nno_call_after_conversation_days = 0\n'
                     'quiet_start = "08:00"\nquiet_end = "08:00"\n', encoding="utf-8")
    monkeypatch.setenv("PORTAL_RULE_PACKS_FILE", str(extra))
    policy.sync(db_path=book)
    cases = [
        ("S1a", "2026-03-16T10:00:00+08:00", "phone", "debtor"),       # edge_cn: cap 0
        ("S1a", "2026-03-12T10:00:00+08:00", "sms", "third_party"),    # edge_cn: 0-day window: allowed
        ("S1a", "2026-03-16T03:00:00+08:00", "sms", "debtor"),         # edge_cn: inside 01:00-06:00
        ("S1a", "2026-03-16T07:00:00+08:00", "sms", "debtor"),         # edge_cn: after 06:00, before 08:00
        ("N1b", "2026-03-20T20:00:00-04:00", "phone", "debtor"),       # edge_us: 10 h after m1: within a day
        ("N1b", "2026-03-21T11:00:00-04:00", "sms", "debtor"),         # edge_us: no quiet hours at all
    ]
    for loan, at, channel, party in cases:
        for pack in ("edge_cn", "edge_us"):
            got = set(rules(check(book, loan, at, channel=channel, party=party, pack=pack)))
            assert got == _audit_growth(book, pack, loan, at, channel, party), (pack, loan, at, channel, party)
    assert rules(check(book, "S1a", "2026-03-16T10:00:00+08:00", pack="edge_cn")) == ["connected_calls_per_day"]
    assert next_at(check(book, "S1a", "2026-03-16T10:00:00+08:00", pack="edge_cn")) is None  # never room
    assert rules(check(book, "S1a", "2026-03-16T03:00:00+08:00", channel="sms", pack="edge_cn")) == ["quiet_hours"]
    assert next_at(check(book, "S1a", "2026-03-16T03:00:00+08:00", channel="sms", pack="edge_cn")) == \
        dt.datetime(2026, 3, 16, 6, 0, tzinfo=SH)
    assert rules(check(book, "N1b", "2026-03-20T20:00:00-04:00", pack="edge_us")) == \
        ["calls_7_in_7", "call_after_conversation"]


def _audit_growth(book, pack, loan, at, channel, party) -> set[str]:
    """The rules whose breach count grows when the contact is appended (as an attempt, and as a connected
    call for the cap on connected calls), per the audit engine."""
    sql = "select rule, count(*) as n from policy_breaches($pack, timestamptz '2026-01-01', timestamptz '2027-01-01', " \
          "null) group by rule"

    def counts(outcome):
        cur = db.cursor(book)
        try:
            cur.execute("begin transaction")
            if outcome is not None:
                cur.execute("insert into contacts (contact_id, loan_id, contact_at, channel, party, outcome, "
                            "collectors) values ('zz', $l, $at::timestamptz, $c, $p, $o, $k)",
                            {"l": loan, "at": at, "c": channel, "p": party, "o": outcome,
                             "k": 1 if channel == "visit" else None})
            return dict(cur.execute(sql, {"pack": pack}).fetchall())
        finally:
            cur.execute("rollback")
            cur.close()

    before = counts(None)
    attempt = counts(prevention.rules.ATTEMPT_OUTCOMES.get(channel, "sent"))
    grew = {r for r, n in attempt.items() if n > before.get(r, 0)} - {"connected_calls_per_day"}
    if channel == "phone" and party == "debtor":
        connected = counts("rpc")
        if connected.get("connected_calls_per_day", 0) > before.get("connected_calls_per_day", 0):
            grew.add("connected_calls_per_day")
    return grew
