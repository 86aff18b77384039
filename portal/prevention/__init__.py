"""The pre-contact check: would a rule pack allow a planned contact, given the contact log? (DOMAIN.md)

One engine answers every caller: the named query `contact_check` (queries/contact_check.sql calls
`evaluate` through the SQL function contact_check_rules, registered on each connection the portal
opens), `portal check-contacts`, the Plan check section of the Conduct page and POST
/api/v1/contact-check (`check`, `check_file`, `check_payload`).

A planned contact is allowed when appending it to the log would create no new breach of any rule of
the pack, as the audit engine (queries/macros/policy_breaches.sql) counts breaches; tests/unit/
test_prevention_property.py holds the two to each other on random logs. The outcome of a planned
contact is unknown, so it is appended as the outcome that is worst for each rule: an unanswered
attempt for the caps on attempts and for 7-in-7 (every call counts), a connected call for the cap on
connected calls, and never a right-party contact for the rules that a right-party contact starts
(third party after reaching the debtor, no call after a conversation): if a call does connect, the
log that records it blocks what follows. A planned visit with no collectors named counts as one
collector. The customer's opted-out channels always block (rule `opted_out_channel`, outside the
packs: the audit has no such rule).

A list is checked in its order: each row against the log plus the earlier rows that were allowed. A
blocked or invalid row will not be made, so it does not count for the rows after it.

`next_allowed_at` is the earliest instant, not before the planned one, at which the same contact
would be allowed given the same log (and earlier rows): found by jumping to the latest of the blocking
rules' own release instants until no rule blocks (each release is exact: the end of quiet hours in the
debtor's zone, DST days included; the next local day of a daily cap; the first microsecond a window
has room). None when no such instant comes within HORIZON_DAYS (an opted-out channel, a visit with too
few collectors, a cap of 0).

Reading the log: a check reads only its debtor's contacts from [at - LOOKBACK_DAYS, at + HORIZON_DAYS +
LOOKBACK_DAYS), from the derived table contact_check_log (phone calls and right-party contacts, in
debtor-hash order so that the zone maps find them); the loan's debtor comes from contact_check_debtors.
"""

from portal.prevention.plan import (
    DERIVED_TABLES,
    CheckedPlan,
    CheckedRow,
    FieldError,
    RequestError,
    check,
    check_file,
    check_payload,
    check_staged,
    text_frame,
    to_json,
    to_xlsx,
)
from portal.prevention.rules import (
    CHECK_RULES,
    DAY_US,
    HORIZON_DAYS,
    LOOKBACK_DAYS,
    OPTED_OUT,
    Block,
    CheckError,
    Contact,
    Debtor,
    Pack,
    Verdict,
    epoch_us,
    evaluate,
    load_pack,
    local_us,
    next_allowed,
    render,
    to_datetime,
    zone,
)
from portal.prevention.sql_function import register_functions

__all__ = [
    "CHECK_RULES", "DAY_US", "DERIVED_TABLES", "HORIZON_DAYS", "LOOKBACK_DAYS", "OPTED_OUT", "Block", "CheckError",
    "CheckedPlan", "CheckedRow", "Contact", "Debtor", "FieldError", "Pack", "RequestError", "Verdict", "check",
    "check_file", "check_payload", "check_staged", "epoch_us", "evaluate", "load_pack", "local_us", "next_allowed",
    "register_functions", "render", "text_frame", "to_datetime", "to_json", "to_xlsx", "zone",
]
