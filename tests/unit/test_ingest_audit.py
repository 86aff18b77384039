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
