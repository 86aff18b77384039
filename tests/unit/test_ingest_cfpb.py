"""Real CFPB complaint exports load through the complaints upload, mapped to the taxonomy."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from portal import cfpb, db, ingest

FILES = ("cfpb_complaints_sample_2015_2020.csv", "cfpb_complaints_sample_2023.csv")


def _raw_rows(path):
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", FILES)
def test_cfpb_export_loads_with_correct_counts_per_issue(tmp_db, external_dir, name):
    path = external_dir / name
    raw = _raw_rows(path)
    # Rows whose narrative is over the contract's 5,000 characters are quarantined, not loaded.
    kept = [r for r in raw if len(r["Consumer complaint narrative"]) <= 5000]
    result = ingest.load_file("complaints", path, db=tmp_db)
    assert result.layout == "csv-utf8+cfpb"
    assert (result.rows_total, result.accepted, result.rejected) == (len(raw), len(kept), len(raw) - len(kept))
    assert set(result.rejects()["reason"].str.replace(r"\d+ characters", "N characters", regex=True)) <= {
        "narrative is N characters long, over 5000"}

    expected_issue = Counter(cfpb.map_issue(r["Issue"], r["Sub-issue"]) for r in kept)
    expected_verbatim = Counter(r["Issue"] for r in kept)
    expected_timely = Counter(r["Timely response?"] for r in kept)
    got = db.read("select issue, count(*) as n from complaints group by 1", db=tmp_db)
    assert dict(zip(got["issue"], got["n"], strict=True)) == expected_issue
    got = db.read("select issue_verbatim, count(*) as n from complaints group by 1", db=tmp_db)
    assert dict(zip(got["issue_verbatim"], got["n"], strict=True)) == expected_verbatim
    got = db.read("select timely_response, count(*) as n from complaints group by 1", db=tmp_db)
    assert dict(zip(got["timely_response"], got["n"], strict=True)) == expected_timely
    ids = db.read("select complaint_id from complaints", db=tmp_db)["complaint_id"]
    assert sorted(ids) == sorted(r["Complaint ID"] for r in kept)


def test_cfpb_2015_2020_known_totals(tmp_db, external_dir):
    ingest.load_file("complaints", external_dir / FILES[0], db=tmp_db)
    counts = dict(db.read("select issue, count(*) from complaints group by 1", db=tmp_db).values.tolist())
    # Counted by hand from the raw file (value counts of Issue / Sub-issue):
    # 6,623 rows; 25 narratives are over 5,000 characters -> 6,598 loaded.
    assert sum(counts.values()) == 6598
    # 121 "Communication tactics" + 1 "Improper contact..." / "Contacted me after I asked not to".
    assert counts["communication_tactics"] == 122
    # 17 "Threatened to contact someone or share information improperly" + 1 "Contacted employer after asked not to".
    assert counts["third_party_disclosure"] == 18
    assert counts["false_representation"] == 76  # 76 "False statements or representation"
    source = dict(db.read("select source, count(*) from complaints group by 1", db=tmp_db).values.tolist())
    # Submitted via: Web 5,143, Referral 627, Phone 482, Postal mail 267 + Fax 102, Email 2 (6,623 rows);
    # the 25 rejected rows come out of these, and neither Email row is among them.
    assert source["regulator"] + source["hotline"] + source["letter"] + source["email"] + source["form"] == 6598
    assert source["email"] == 2
    row = db.read("select * from complaints where complaint_id = '3384392'", db=tmp_db).iloc[0]
    assert (row["issue"], row["issue_verbatim"], row["sub_issue_verbatim"], row["sub_issue"]) == (
        "debt_not_owed", "Attempts to collect debt not owed", "Debt is not yours", "Debt is not yours")
    assert (row["source"], row["status"], row["resolution"], row["timely_response"]) == (
        "form", "closed", "explanation", "Yes")
    assert str(row["received_at"])[:10] == "2019-09-24"


def test_cfpb_2023_known_totals(tmp_db, external_dir):
    result = ingest.load_file("complaints", external_dir / FILES[1], db=tmp_db)
    assert (result.accepted, result.rejected) == (2067, 0)
    counts = dict(db.read("select issue, count(*) from complaints group by 1", db=tmp_db).values.tolist())
    assert counts["communication_tactics"] == 6  # 5 "Communication tactics" + 1 "Collection practices"
    assert counts["third_party_disclosure"] == 1
    assert counts["threatened_action"] == 14
    statuses = dict(db.read("select status, count(*) from complaints group by 1", db=tmp_db).values.tolist())
    assert statuses == {"investigating": 616, "closed": 1451}  # 616 "In progress" responses


def test_cfpb_reload_changes_nothing(tmp_db, external_dir):
    path = external_dir / FILES[1]
    ingest.load_file("complaints", path, db=tmp_db)
    before = db.read("select * from complaints order by complaint_id", db=tmp_db)
    again = ingest.load_file("complaints", path, db=tmp_db)
    after = db.read("select * from complaints order by complaint_id", db=tmp_db)
    assert again.status == "loaded"
    assert before.equals(after)


def test_cfpb_detection_needs_the_headers():
    assert cfpb.is_cfpb(["Date received", "Product", "Issue", "Sub-issue", "Submitted via",
                         "Company response to consumer", "Timely response?", "Complaint ID"])
    assert not cfpb.is_cfpb(["complaint_id", "received_at", "source", "issue"])
    assert cfpb.map_issue("Improper contact or sharing of info", "Contacted me after I asked not to") == \
        "communication_tactics"
    assert cfpb.map_issue("Something new", None) == "other"
