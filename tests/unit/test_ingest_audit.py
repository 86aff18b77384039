"""Complaints that arrive by upload start their audit trail: one 'imported' event each, chain intact."""

from __future__ import annotations

from portal import complaints, db, ingest


def test_uploaded_complaints_get_one_import_event_each(tmp_db, external_dir):
    path = external_dir / "cfpb_complaints_sample_2023.csv"
    first = ingest.load_file("complaints", path, db=tmp_db, uploaded_by="analyst1")
    assert first.accepted > 0
    events = db.read("select complaint_id, actor, action, note from complaint_events", db=tmp_db)
    assert len(events) == first.accepted
    assert events["complaint_id"].is_unique
    assert set(events["action"]) == {"imported"} and set(events["actor"]) == {"analyst1"}
    assert set(events["note"]) == {f"upload {first.upload_id}"}

    again = ingest.load_file("complaints", path, db=tmp_db, uploaded_by="analyst2")
    assert again.rejected == first.rejected
    assert db.scalar("select count(*) from complaint_events", db=tmp_db) == first.accepted
    result = complaints.verify_chain(db=tmp_db)
    assert result.ok and result.checked == first.accepted


def test_reupload_of_a_changed_complaint_keeps_the_workbench_fields(tmp_db, tmp_path):
    header = "complaint_id,received_at,source,issue,narrative,status\n"
    first = tmp_path / "c1.csv"
    first.write_text(header + "Q1,2026-06-01 10:00:00,hotline,communication_tactics,calls at night,new\n"
                     "Q2,2026-06-02 10:00:00,email,privacy,my data was shared,new\n", encoding="utf-8")
    assert ingest.load_file("complaints", first, db=tmp_db).accepted == 2
    db.execute("update complaints set assignee = 'c.wang', public_resolution = 'We are looking into it', "
               "ticket = 'CP-AAAA-BBBB' where complaint_id = 'Q1'", db=tmp_db)

    fixed = tmp_path / "c2.csv"
    fixed.write_text(header + "Q1,2026-06-01 10:00:00,hotline,communication_tactics,calls at 23:00 twice,new\n",
                     encoding="utf-8")
    result = ingest.load_file("complaints", fixed, db=tmp_db)
    assert result.accepted == 1 and result.rejected == 0
    row = db.read("select narrative, assignee, public_resolution, ticket, upload_id from complaints "
                  "where complaint_id = 'Q1'", db=tmp_db).iloc[0]
    assert row["narrative"] == "calls at 23:00 twice"
    assert (row["assignee"], row["public_resolution"], row["ticket"]) == (
        "c.wang", "We are looking into it", "CP-AAAA-BBBB")
    assert row["upload_id"] == result.upload_id
    assert db.scalar("select count(*) from complaints", db=tmp_db) == 2
