"""Named queries of the uploads area, checked against a small hand-built history."""

from __future__ import annotations

import json

import pytest

from portal import db, ingest
from portal.schemas import RESULT_SCHEMAS
from tests.fixtures_uploads import CONTACT_HEADER, CONTACTS, load_book, write_csv


@pytest.fixture
def history(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)  # uploads 1 (customers, 2 rows) and 2 (loans, 2 rows)
    bad = ["K8", "L404", *CONTACTS[1][2:]]
    future = ["K9", "L1", "2999-01-01 10:00", *CONTACTS[1][3:]]
    first = ingest.load_file("contacts", write_csv(tmp_path / "k.csv", CONTACT_HEADER, [*CONTACTS, bad, future]),
                             db=tmp_db, uploaded_by="ana")  # upload 3: 5 rows, 3 loaded, 2 rejected
    fixed = ["K8", "L1", *CONTACTS[1][2:]]
    ingest.load_file("contacts", write_csv(tmp_path / "fix.csv", CONTACT_HEADER, [fixed]), db=tmp_db,
                     uploaded_by="ana", replaces_upload_id=first.upload_id)  # upload 4: 1 row loaded
    with pytest.raises(ingest.UploadError):
        ingest.load_file("payments", write_csv(tmp_path / "p.csv", ["amount"], [["1"]]), db=tmp_db)  # upload 5
    return tmp_db


def test_upload_history_lists_every_attempt_newest_first(history):
    frame = db.query("upload_history", db=history)
    RESULT_SCHEMAS["upload_history"].validate(frame)
    assert frame["upload_id"].tolist() == [5, 4, 3, 2, 1]
    assert frame["dataset"].tolist() == ["payments", "contacts", "contacts", "loans", "customers"]
    assert frame["status"].tolist() == ["failed", "loaded", "partial", "loaded", "loaded"]
    # Upload 3: 5 data rows -> K1, K2, K3 accepted; K8 (unknown loan) and K9 (future) rejected.
    assert frame[["rows_total", "rows_accepted", "rows_rejected"]].values.tolist() == [
        [0, 0, 0], [1, 1, 0], [5, 3, 2], [2, 2, 0], [2, 2, 0]]
    replaces = frame["replaces_upload_id"]
    assert replaces.iloc[1] == 3 and replaces.drop(index=1).isna().all()
    assert frame["uploaded_by"].tolist()[1:3] == ["ana", "ana"]
    assert frame["message"].iloc[0] == "missing key columns: payment_id"
    only = db.query("upload_history", db=history, dataset="contacts")
    assert only["upload_id"].tolist() == [4, 3]


def test_quarantine_rows_of_one_upload(history):
    frame = db.query("quarantine_rows", db=history, upload_id=3)
    RESULT_SCHEMAS["quarantine_rows"].validate(frame)
    # Lines: header 1, K1-K3 on 2-4, K8 on 5, K9 on 6.
    assert frame[["row_number", "column_name", "reason"]].values.tolist() == [
        [5, "loan_id", "loan_id L404 is not a known loan"],
        [6, "contact_at", "contact_at 2999-01-01 10:00 is in the future"],
    ]
    assert frame["reason_code"].tolist() == ["unknown_fk", "in_future"]
    assert json.loads(frame["raw_row"].iloc[0])["contact_id"] == "K8"
    assert db.query("quarantine_rows", db=history, upload_id=4).empty
