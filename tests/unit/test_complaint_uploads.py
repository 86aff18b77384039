"""What a complaints upload may change in an existing complaint (issue 14 point 8), through the real
`portal load` on hand-made CSV files: new complaints are added; a change to an existing one goes
through the lifecycle, one event per field with the upload as actor; what the lifecycle forbids,
and any change to a public-form ticket's own words, is a row error in quarantine with the row
verbatim; the audit trail verifies afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import cli, complaints, db

HEADER = "complaint_id,received_at,source,issue,narrative,status,resolution,extension_days,extension_reason\n"
FIRST = HEADER + (
    "Q1,2026-06-01 10:00:00,hotline,communication_tactics,calls at night,new,,0,\n"
    "Q2,2026-06-02 10:00:00,email,privacy,my data was shared,investigating,,0,\n"
    "Q3,2026-06-03 10:00:00,letter,other,a letter about fees,closed,explanation,0,\n"
)
FORM = {
    "name": "张三", "mobile": "13812345678", "loan_id": "", "issue": "communication_tactics",
    "channel": "phone", "description": "They called me eight times yesterday after 22:00.",
    "plan_type": "instalments", "plan_amount": "3000", "plan_months": 6, "contact_time": "morning",
    "consent": True, "website": "",
}


def csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def portal(db_path: Path, *args: str) -> subprocess.CompletedProcess:
    db.close(db_path)
    return subprocess.run([sys.executable, "-m", "portal", "--db", str(db_path), *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "USER": "analyst1"})


def load(db_path: Path, path: Path, *extra: str, capsys) -> int:
    """`portal load complaints FILE` in this process (the same command code), as user analyst1."""
    os.environ["USER"] = "analyst1"
    capsys.readouterr()
    return cli.main(["--db", str(db_path), "load", "complaints", str(path), *extra])


def events(db_path: Path, after: int = 0) -> list[list]:
    frame = db.read("select complaint_id, actor, action, field, from_value, to_value from complaint_events"
                    " where event_id > $n order by event_id", {"n": after}, db=db_path)
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def quarantine(db_path: Path, upload_id: int) -> list[dict]:
    frame = db.read("select row_number, column_name, reason_code, reason, raw_row from quarantine"
                    " where upload_id = $u order by row_number", {"u": upload_id}, db=db_path)
    return frame.to_dict("records")


def row(db_path: Path, complaint_id: str) -> dict:
    frame = db.read("select * from complaints where complaint_id = $id", {"id": complaint_id}, db=db_path)
    assert len(frame) == 1
    return frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()


@pytest.fixture(autouse=True)
def _user(monkeypatch):
    monkeypatch.setenv("USER", "analyst1")


def test_adds_and_changes_become_lifecycle_events_and_forbidden_steps_are_quarantined(tmp_db, tmp_path):
    first = portal(tmp_db, "load", "complaints", str(csv(tmp_path, "first.csv", FIRST)))
    assert first.returncode == 0, first.stdout + first.stderr
    assert events(tmp_db) == [[c, "analyst1", "imported", None, None, None] for c in ("Q1", "Q2", "Q3")]

    second = csv(tmp_path, "second.csv", HEADER + (
        # Q1: a new issue and narrative, an extension, and new -> investigating (two lifecycle steps)
        "Q1,2026-06-01 10:00:00,hotline,privacy,calls at night and a text,investigating,,15,records requested\n"
        # Q2: resolved with its resolution, then closed (two steps; resolved_at set by the lifecycle)
        "Q2,2026-06-02 10:00:00,email,privacy,my data was shared,closed,explanation,0,\n"
        # Q3: closed -> new: closed is final
        "Q3,2026-06-03 10:00:00,letter,other,a letter about fees,new,explanation,0,\n"
        # Q4: a new complaint
        "Q4,2026-06-04 10:00:00,hotline,other,a new complaint,new,,0,\n"
    ))
    proc = portal(tmp_db, "load", "complaints", str(second))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == "complaints: 3 rows accepted, 1 rejected (upload 2, partial)"
    actor = "upload:2:analyst1"
    got = events(tmp_db, after=3)
    per = {cid: [e[2:] for e in got if e[0] == cid] for cid in ("Q1", "Q2", "Q3", "Q4")}
    assert per["Q1"] == [
        ["update", "narrative", "calls at night", "calls at night and a text"],
        ["triage", "issue", "communication_tactics", "privacy"],
        ["extend", "extension_days", "0", "15"],
        ["extend", "extension_reason", None, "records requested"],
        ["transition", "status", "new", "triaged"],
        ["transition", "status", "triaged", "investigating"],
    ]
    assert [e[:3] for e in per["Q2"]] == [
        ["resolution", "resolution", None], ["transition", "status", "investigating"],
        ["transition", "resolved_at", None], ["transition", "status", "resolved"]]
    assert [e[3] for e in per["Q2"]] == ["explanation", "resolved", per["Q2"][2][3], "closed"]
    assert per["Q3"] == []
    assert per["Q4"] == [["imported", None, None, None]]
    assert {e[1] for e in got if e[0] != "Q4"} == {actor}
    assert row(tmp_db, "Q2")["resolved_at"] is not None and row(tmp_db, "Q2")["status"] == "closed"
    assert row(tmp_db, "Q3")["status"] == "closed" and row(tmp_db, "Q3")["upload_id"] == 1
    assert row(tmp_db, "Q1")["upload_id"] == 2

    [bad] = quarantine(tmp_db, 2)
    assert (bad["row_number"], bad["column_name"], bad["reason_code"]) == (4, "status", "complaint_closed")
    assert bad["reason"] == ("the complaint is closed, and closed is final: an upload cannot change it "
                             "(it would change status)")
    assert json.loads(bad["raw_row"]) == {
        "complaint_id": "Q3", "received_at": "2026-06-03 10:00:00", "source": "letter", "issue": "other",
        "narrative": "a letter about fees", "status": "new", "resolution": "explanation", "extension_days": "0",
        "extension_reason": None}

    verify = portal(tmp_db, "audit", "verify")
    assert (verify.returncode, verify.stdout.strip()) == (0, "audit chain intact: 14 events verified")


def test_the_same_file_again_changes_nothing(tmp_db, tmp_path, capsys):
    path = csv(tmp_path, "first.csv", FIRST)
    assert load(tmp_db, path, capsys=capsys) == 0
    assert load(tmp_db, path, capsys=capsys) == 0
    assert len(events(tmp_db)) == 3
    assert complaints.verify_chain(db=tmp_db).ok


def test_a_blank_cell_keeps_the_stored_value(tmp_db, tmp_path, capsys):
    assert load(tmp_db, csv(tmp_path, "first.csv", FIRST), capsys=capsys) == 0
    blank = csv(tmp_path, "blank.csv", "complaint_id,received_at,source,issue,narrative,status\n"
                "Q1,2026-06-01 10:00:00,hotline,communication_tactics,,new\n")
    assert load(tmp_db, blank, capsys=capsys) == 0
    assert row(tmp_db, "Q1")["narrative"] == "calls at night"
    assert len(events(tmp_db)) == 3


@pytest.mark.parametrize("line,code,reason", [
    ("Q2,2026-06-02 10:00:00,email,privacy,my data was shared,triaged,,0,", "complaint_transition",
     "status investigating → triaged: the complaint lifecycle does not allow this"),
    ("Q1,2026-06-01 10:00:00,hotline,communication_tactics,calls at night,resolved,,0,", "complaint_resolution_first",
     "status investigating → resolved: resolving needs a resolution"),
    ("Q1,2026-06-01 10:00:00,hotline,communication_tactics,calls at night,new,,15,", None, None),
])
def test_steps_the_lifecycle_refuses(tmp_db, tmp_path, capsys, line, code, reason):
    assert load(tmp_db, csv(tmp_path, "first.csv", FIRST), capsys=capsys) == 0
    if code is None:  # extension_days 15 without a reason: the upload's own rule refuses it already
        assert load(tmp_db, csv(tmp_path, "x.csv", HEADER + line + "\n"), capsys=capsys) == 2
        return
    assert load(tmp_db, csv(tmp_path, "x.csv", HEADER + line + "\n"), capsys=capsys) == 2  # its one row refused
    [bad] = quarantine(tmp_db, 2)
    assert bad["reason_code"] == code and bad["reason"].startswith(reason), bad["reason"]
    assert len(events(tmp_db)) == 3
    assert complaints.verify_chain(db=tmp_db).ok


def test_an_extension_is_never_shortened(tmp_db, tmp_path, capsys):
    assert load(tmp_db, csv(tmp_path, "first.csv", FIRST.replace(
        "Q2,2026-06-02 10:00:00,email,privacy,my data was shared,investigating,,0,",
        "Q2,2026-06-02 10:00:00,email,privacy,my data was shared,investigating,,45,complex case")), capsys=capsys) == 0
    shorter = csv(tmp_path, "shorter.csv", HEADER + "Q2,2026-06-02 10:00:00,email,privacy,my data was shared,"
                  "investigating,,15,complex case\n")
    assert load(tmp_db, shorter, capsys=capsys) == 2
    [bad] = quarantine(tmp_db, 2)
    assert bad["reason"] == ("extension_days 45 → 15: an extension only grows (0, then 15, then 45 days) and only "
                             "while the complaint is open")
    assert row(tmp_db, "Q2")["extension_days"] == 45


def test_strict_loads_nothing_when_the_lifecycle_refuses_a_row(tmp_db, tmp_path, capsys):
    assert load(tmp_db, csv(tmp_path, "first.csv", FIRST), capsys=capsys) == 0
    mixed = csv(tmp_path, "mixed.csv", HEADER + (
        "Q1,2026-06-01 10:00:00,hotline,privacy,calls at night,new,,0,\n"
        "Q3,2026-06-03 10:00:00,letter,other,a letter about fees,new,explanation,0,\n"))
    assert load(tmp_db, mixed, "--strict", capsys=capsys) == 2
    assert row(tmp_db, "Q1")["issue"] == "communication_tactics"
    assert len(events(tmp_db)) == 3 and [q["reason_code"] for q in quarantine(tmp_db, 2)] == ["complaint_closed"]


def test_a_form_ticket_keeps_the_customers_own_words(tmp_db, tmp_path, capsys):
    ticket = complaints.submit(FORM, "client-1", db=tmp_db).ticket
    before = row(tmp_db, ticket)
    received = before["received_at"].replace(microsecond=0).isoformat()  # an export drops the fraction
    header = "complaint_id,received_at,source,issue,narrative,status,resolution\n"
    rewrite = csv(tmp_path, "rewrite.csv", header + (
        f"{ticket},{received},form,communication_tactics,I have no complaint after all.,new,\n"))
    assert load(tmp_db, rewrite, capsys=capsys) == 2
    [bad] = quarantine(tmp_db, 1)
    assert (bad["column_name"], bad["reason_code"]) == ("narrative", "complaint_form_field")
    assert bad["reason"] == "narrative of a public-form ticket is the customer's own: an upload cannot replace it"
    assert json.loads(bad["raw_row"])["narrative"] == "I have no complaint after all."

    # the same ticket's status and issue may move through the lifecycle; its own words and contact stay
    moved = csv(tmp_path, "moved.csv", header + (
        f"{ticket},{received},form,privacy,{FORM['description']},triaged,\n"))
    assert load(tmp_db, moved, capsys=capsys) == 0
    after = row(tmp_db, ticket)
    assert (after["status"], after["issue"]) == ("triaged", "privacy")
    for column in ("narrative", "mobile", "complainant_name", "contact_time", "plan_type", "plan_amount",
                   "plan_months", "ticket", "received_at", "consent_at"):
        assert after[column] == before[column], column
    assert [e[2:4] for e in events(tmp_db)] == [["created", None], ["triage", "issue"], ["transition", "status"]]
    assert {e[1] for e in events(tmp_db)[1:]} == {"upload:2:analyst1"}

    for bad_line, column in ((f"{ticket},2026-01-01 00:00:00,form,privacy,{FORM['description']},triaged,",
                              "received_at"),
                             (f"{ticket},{received},hotline,privacy,{FORM['description']},triaged,", "source")):
        assert load(tmp_db, csv(tmp_path, "again.csv", header + bad_line + "\n"), capsys=capsys) == 2
        assert quarantine(tmp_db, int(db.scalar("select max(upload_id) from uploads", db=tmp_db)))[0][
            "column_name"] == column
    assert complaints.verify_chain(db=tmp_db).ok


def test_an_upload_cannot_make_a_complaint_a_form_ticket(tmp_db, tmp_path, capsys):
    assert load(tmp_db, csv(tmp_path, "first.csv", FIRST), capsys=capsys) == 0
    assert load(tmp_db, csv(tmp_path, "form.csv", HEADER + (
        "Q1,2026-06-01 10:00:00,form,communication_tactics,calls at night,new,,0,\n")), capsys=capsys) == 2
    assert quarantine(tmp_db, 2)[0]["reason"] == ("source form is given only by the public form: an upload "
                                                  "cannot set it")


def test_changes_run_in_bulk_and_the_trail_verifies(tmp_db, tmp_path, capsys):
    n = 400
    lines = "".join(f"B{i:04d},2026-05-01 10:00:00,hotline,other,complaint {i},new,,0,\n" for i in range(n))
    assert load(tmp_db, csv(tmp_path, "many.csv", HEADER + lines), capsys=capsys) == 0
    moved = "".join(f"B{i:04d},2026-05-01 10:00:00,hotline,privacy,complaint {i},"
                    f"{'investigating' if i % 2 else 'triaged'},,0,\n" for i in range(n))
    assert load(tmp_db, csv(tmp_path, "moved.csv", HEADER + moved), capsys=capsys) == 0
    counts = db.read("select action, field, count(*) as n from complaint_events where actor = 'upload:2:analyst1'"
                     " group by all order by all", db=tmp_db).values.tolist()
    assert counts == [["transition", "status", n + n // 2], ["triage", "issue", n]]
    assert complaints.verify_chain(db=tmp_db).ok
