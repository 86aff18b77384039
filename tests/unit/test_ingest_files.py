"""Upload files: encodings, XLSX and Parquet round trips, unreadable files, and atomic loads."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from portal import db, ingest
from tests.fixtures_uploads import CONTACT_HEADER, CONTACTS, load_book, snapshot, write_csv

ZH_HEADER = ["客户号", "姓名", "手机号", "身份证号", "省份", "timezone", "opted_out_channels"]
# 㐀 (U+3400) is in GB18030 but not in GBK; the other names are plain GBK.
ROWS = [
    ["C1", "张三", "13812345678", "11010519491231002X", "北京", "", ""],
    ["C2", "欧阳娜娜", "13987654321", "", "广东", "Asia/Shanghai", "sms"],
]


def _customers(db_path):
    return db.read("select customer_id, name, mobile, id_number, province, timezone, opted_out_channels "
                   "from customers order by 1", db=db_path).astype(object).where(lambda f: f.notna(), None)


@pytest.mark.parametrize(("encoding", "layout"), [
    ("utf-8", "csv-utf8"), ("utf-8-sig", "csv-utf8"), ("gbk", "csv-gb18030"), ("gb18030", "csv-gb18030"),
])
def test_csv_encodings_round_trip(tmp_db, tmp_path, encoding, layout):
    rows = [list(r) for r in ROWS]
    if encoding == "gb18030":
        rows[1][1] = "欧阳㐀"
    path = write_csv(tmp_path / f"customers_{encoding}.csv", ZH_HEADER, rows, encoding=encoding)
    result = ingest.load_file("customers", path, db=tmp_db)
    assert (result.status, result.accepted, result.layout) == ("loaded", 2, layout)
    got = _customers(tmp_db)
    assert got.values.tolist() == [
        ["C1", "张三", "13812345678", "11010519491231002X", "北京", "Asia/Shanghai", None],
        ["C2", rows[1][1], "13987654321", None, "广东", "Asia/Shanghai", "sms"],
    ]


def test_xlsx_round_trip_with_typed_cells(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["借据号", "统计日", "逾期天数", "剩余本金", "逾期金额"])
    ws.append(["L1", dt.datetime(2025, 5, 31), 12, 4000, 420.5])  # Excel dates and numbers, not text
    ws.append(["L2", dt.date(2025, 5, 30), 0, 12000.5, 0])  # not a month-end: rejected at sheet row 3
    path = tmp_path / "snap.xlsx"
    wb.save(path)
    result = ingest.load_file("snapshots", path, db=tmp_db)
    assert (result.layout, result.accepted, result.rejected) == ("xlsx", 1, 1)
    assert result.rejects()[["row_number", "reason"]].values.tolist() == [[3, "as_of 2025-05-30 is not a month-end"]]
    got = db.read("select loan_id, as_of::varchar as d, dpd, outstanding_principal::double as o, "
                  "overdue_amount::double as a from snapshots", db=tmp_db)
    assert got.values.tolist() == [["L1", "2025-05-31", 12, 4000.0, 420.5]]


def test_parquet_round_trip_with_native_types(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    frame = pd.DataFrame({
        "payment_id": ["P1", "P2", "P3"],
        "loan_id": ["L1", "L2", "L2"],
        "paid_at": pd.to_datetime(["2025-06-05 12:00", "2025-06-05 12:00", "2025-06-06 08:00"]),  # naive
        "amount": [420.0, 99.99, -1.0],
    })
    path = tmp_path / "payments.parquet"
    frame.to_parquet(path)
    result = ingest.load_file("payments", path, db=tmp_db)
    assert (result.layout, result.accepted, result.rejected) == ("parquet", 2, 1)
    assert result.rejects()["reason"].tolist() == ["amount -1 must be greater than 0"]  # floats print without noise
    got = db.read("select payment_id, amount::double as a, strftime(timezone('UTC', paid_at), '%H:%M') as utc "
                  "from payments order by 1", db=tmp_db)
    # Naive times are the debtor's: C1 Shanghai (UTC+8) 12:00 -> 04:00 UTC; C2 New York (EDT) -> 16:00 UTC.
    assert got.values.tolist() == [["P1", 420.0, "04:00"], ["P2", 99.99, "16:00"]]


def test_aware_parquet_timestamps_keep_their_instant(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    frame = pd.DataFrame({"payment_id": ["P1"], "loan_id": ["L2"], "amount": [1.0],
                          "paid_at": pd.to_datetime(["2025-06-05 12:00"]).tz_localize("Asia/Tokyo")})
    frame.to_parquet(tmp_path / "p.parquet")
    assert ingest.load_file("payments", tmp_path / "p.parquet", db=tmp_db).status == "loaded"
    at = db.scalar("select strftime(timezone('UTC', paid_at), '%H:%M') from payments", db=tmp_db)
    assert at == "03:00"  # 12:00 Tokyo (UTC+9), whatever the debtor's zone


def _zip_bomb(path):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            block = b"\0" * (1 << 20)
            for _ in range(64):  # 64 MB of zeros compress to about 64 KB
                fh.write(block)
    return path


BAD_FILES = {
    "empty.csv": (lambda p: p.write_bytes(b""), "empty.csv is empty"),
    "header_only.csv": (lambda p: p.write_text("customer_id,mobile,province\n"), "has a header but no data rows"),
    "picture.csv": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100), "is a binary PNG file, not CSV text"),
    "book.csv": (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 100), "is a binary ZIP/XLSX file, not CSV text"),
    "prose.csv": (lambda p: p.write_text("Dear team, please find the numbers below.\nThanks\n"),
                  "this is not a customers table: none of its columns were found"),
    "nokey.csv": (lambda p: p.write_text("name,mobile,province\nA,13812345678,北京\n"),
                  "missing key columns: customer_id"),
    "noprovince.csv": (lambda p: p.write_text("customer_id,mobile\nC1,13812345678\n"),
                       "missing required columns: province"),
    # bytes that are no UTF-8, GB18030 or Windows-1252 text (0x81, 0x8D and 0x90 are unassigned in 1252)
    "latin.csv": (lambda p: p.write_bytes(b"customer_id,mobile,province\nC1,13812345678,\x81\x8d\x90\n"),
                  "its text is neither UTF-8 nor GBK/GB18030"),
    "bomb.xlsx": (_zip_bomb, "looks like a zip bomb"),
    "fake.xlsx": (lambda p: p.write_text("customer_id\nC1\n"), "fake.xlsx is not an XLSX workbook"),
    "fake.parquet": (lambda p: p.write_text("customer_id\nC1\n"), "fake.parquet is not a Parquet file"),
    "data.json": (lambda p: p.write_text("[]"), "unsupported file type .json"),
    "twice.csv": (lambda p: p.write_text("customer_id,客户号,mobile,province\nC1,C1,13812345678,北京\n"),
                  "two columns both mean customer_id: 'customer_id' and '客户号'"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_files_load_nothing_and_say_why_in_one_line(tmp_db, tmp_path, name):
    make, expected = BAD_FILES[name]
    path = tmp_path / name
    make(path)
    before = snapshot(tmp_db)
    with pytest.raises(ingest.UploadError) as caught:
        ingest.load_file("customers", path, db=tmp_db)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert snapshot(tmp_db) == before
    history = db.read("select status, message, file_name from uploads", db=tmp_db)
    assert history.values.tolist() == [["failed", message, name]]


def test_files_over_the_size_limit_are_refused(tmp_db, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_MAX_UPLOAD_MB", "1")
    path = write_csv(tmp_path / "big.csv", ["customer_id", "mobile", "province"],
                     [[f"C{i}", "13812345678", "北京"] for i in range(60_000)])
    with pytest.raises(ingest.UploadError, match=r"big.csv is 1\.\d MB, over the 1 MB upload limit"):
        ingest.load_file("customers", path, db=tmp_db)
    assert db.scalar("select count(*) from customers", db=tmp_db) == 0


def test_a_failure_mid_load_leaves_the_database_as_it_was(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    ingest.load_file("contacts", write_csv(tmp_path / "k.csv", CONTACT_HEADER, CONTACTS[:1]), db=tmp_db)
    before = snapshot(tmp_db)
    uploads_before = db.scalar("select count(*) from uploads", db=tmp_db)
    derived_before = db.read("select * from derived_state order by name", db=tmp_db)
    changed = [list(r) for r in CONTACTS] + [["K8", "L404", *CONTACTS[1][2:]]]
    changed[0][CONTACT_HEADER.index("cost")] = "2.00"
    stages = []

    def explode(fraction, stage):
        stages.append(stage)
        if stage == "recording":  # after the upsert and the quarantine insert, inside the transaction
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        ingest.load_file("contacts", write_csv(tmp_path / "k2.csv", CONTACT_HEADER, changed), db=tmp_db,
                         progress=explode)
    assert stages == ["reading", "validating", "loading", "deriving", "recording"]
    assert snapshot(tmp_db) == before
    # the derived facts were recomputed inside the transaction, so they rolled back with it
    assert db.read("select * from derived_state order by name", db=tmp_db).equals(derived_before)
    failed = db.read("select status, message from uploads order by upload_id desc limit 1", db=tmp_db).iloc[0]
    assert failed["status"] == "failed" and "rolled back: power cut" in failed["message"]
    assert db.scalar("select count(*) from uploads", db=tmp_db) == uploads_before + 1


def test_a_constraint_violation_at_the_end_rolls_everything_back(tmp_db, tmp_path):
    """A real primary-key clash on the uploads row, the last statement of the load, undoes the data."""
    load_book(tmp_path, tmp_db)
    before = snapshot(tmp_db)
    next_id = db.scalar("select max(upload_id) from uploads", db=tmp_db) + 1
    # Take the id the next load will draw from the sequence, so its final insert violates the key.
    db.execute("insert into uploads (upload_id, dataset, uploaded_at, status) values ($i, 'x', now(), 'loaded')",
               {"i": next_id}, db=tmp_db)
    with pytest.raises(db.Error, match="(?i)constraint|duplicate"):
        ingest.load_file("contacts", write_csv(tmp_path / "k.csv", CONTACT_HEADER, CONTACTS), db=tmp_db)
    assert snapshot(tmp_db) == before


def test_sample_files_load_in_order_with_their_planted_errors(tmp_db):
    samples = Path(__file__).resolve().parents[2] / "data" / "samples"
    # (dataset, file, layout, accepted, rejected): each sample plants a few bad rows on purpose.
    expected = [
        ("customers", "customers_gbk_zh.csv", "csv-gb18030", 3, 2),  # bad mobile, bad check digit
        ("loans", "loans_zh.xlsx", "xlsx", 3, 1),  # unknown customer, product, principal, rate, term, grade
        ("snapshots", "snapshots_bom.csv", "csv-utf8", 2, 2),  # overdue with dpd 0; not a month-end
        ("contacts", "contacts_with_errors.csv", "csv-utf8", 4, 3),  # unknown loan, ptp without amount, fax
        ("payments", "payments.parquet", "parquet", 2, 0),
        ("complaints", "complaints.csv", "csv-utf8", 1, 1),  # extension without a reason
    ]
    for dataset, name, layout, accepted, rejected in expected:
        result = ingest.load_file(dataset, samples / name, db=tmp_db)
        assert (result.layout, result.accepted, result.rejected) == (layout, accepted, rejected), result.rejects()


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_detected_from_the_header(tmp_db, tmp_path, delimiter):
    text = delimiter.join(["customer_id", "mobile", "province"]) + "\n" + delimiter.join(["C1", "13812345678", "北京"])
    path = tmp_path / "c.csv"
    path.write_text(text + "\n", encoding="utf-8")
    result = ingest.load_file("customers", path, db=tmp_db)
    assert (result.status, result.accepted) == ("loaded", 1)
    assert db.scalar("select province from customers", db=tmp_db) == "北京"
