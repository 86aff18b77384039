"""Hostile uploads (issue 14, points 1-7): each class is a row error or a one-line file error, never a crash."""

from __future__ import annotations

import json

import pytest

from portal import db, ingest
from portal.ingest.rules import STORAGE
from tests.fixtures_uploads import LOAN_HEADER, load_book, snapshot, write_csv

PAY_HEADER = ["payment_id", "loan_id", "paid_at", "amount"]
SNAP_HEADER = ["loan_id", "as_of", "dpd", "outstanding_principal", "overdue_amount"]


def _quarantine(db_path, upload_id):
    return db.read("select row_number, column_name, reason_code, reason, raw_row from quarantine "
                   "where upload_id = $u order by row_number, reason_code", {"u": upload_id}, db=db_path)


def test_storage_types_are_the_tables_types(tmp_db):
    """The kinds' stored types in rules.STORAGE are the data tables' real column types."""
    expected = {"int": "INTEGER", "amount": "DECIMAL(18,2)", "rate": "DECIMAL(8,6)"}
    assert {k: v[0].replace(" ", "").upper() for k, v in STORAGE.items()} == expected
    for dataset in ingest.DATASETS:
        types = dict(db.read("select column_name, data_type from information_schema.columns where table_name = $t",
                             {"t": dataset}, db=tmp_db).values.tolist())
        for col in ingest.columns(dataset):
            if col.kind in STORAGE:
                assert types[col.name] == expected[col.kind], (dataset, col.name)


def test_values_that_do_not_fit_are_row_errors(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    rows = [
        ["L9", "C1", "cash_loan", "5000", "250", "12", "2025-01-15", "", ""],  # rate over decimal(8, 6)
        ["L10", "C1", "cash_loan", "3e17", "0.1", "12", "2025-01-15", "", ""],  # principal over decimal(18, 2)
        ["L11", "C1", "cash_loan", "100", "0.1", "99999999999", "2025-01-15", "", ""],  # over INTEGER
        ["L12", "C1", "cash_loan", "100", "0.1", "12", "infinity", "", ""],  # not a date a reader can hold
        ["L13", "C1", "cash_loan", "100.5", "0.1", "12", "2025-01-15", "", ""],  # fine
    ]
    result = ingest.load_file("loans", write_csv(tmp_path / "l.csv", LOAN_HEADER, rows), db=tmp_db)
    assert (result.status, result.accepted, result.rejected) == ("partial", 1, 4)
    q = _quarantine(tmp_db, result.upload_id)
    assert q[["row_number", "column_name", "reason"]].values.tolist() == [
        [2, "annual_rate", "annual_rate 250 must be between 0 and 0.36"],
        [2, "annual_rate", "annual_rate 250 is too large to store (at most 99.999999)"],
        [3, "principal", "principal 3e17 is too large to store (at most 9999999999999999.99)"],
        [4, "term_months", "term_months 99999999999 must be between 1 and 60"],
        [4, "term_months", "term_months 99999999999 is too large to store (at most 2147483647)"],
        [5, "disbursed_on", "disbursed_on infinity is not a date (YYYY-MM-DD)"],
    ]
    assert db.read("select loan_id from loans where loan_id like 'L1_' or loan_id = 'L9'",
                   db=tmp_db)["loan_id"].tolist() == ["L13"]


def test_a_24_digit_amount_and_a_huge_dpd(tmp_db, tmp_path):
    load_book(tmp_path, tmp_db)
    pay = write_csv(tmp_path / "p.csv", PAY_HEADER, [["P1", "L1", "2025-06-01 10:00:00", "1" * 24],
                                                     ["P2", "L1", "-290000-01-01 10:00:00", "5"],
                                                     ["P3", "L1", "2025-06-01 10:00:00", "5"]])
    result = ingest.load_file("payments", pay, db=tmp_db)
    assert (result.accepted, result.rejected) == (1, 2)
    assert _quarantine(tmp_db, result.upload_id)["reason_code"].tolist() == ["too_large", "not_timestamp"]
    snap = write_csv(tmp_path / "s.csv", SNAP_HEADER, [["L1", "2025-05-31", "3000000000", "1", "1"]])
    result = ingest.load_file("snapshots", snap, db=tmp_db)
    assert (result.status, result.rejected) == ("rejected", 1)
    assert _quarantine(tmp_db, result.upload_id)["reason"].tolist() == [
        "dpd 3000000000 is too large to store (at most 2147483647)"]


def _customers_csv(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_field_over_the_csv_module_limit_with_a_ragged_row(tmp_db, tmp_path):
    """A 200,000-character field (over csv's 131,072) with a ragged row; and one over DuckDB's 2 MB line."""
    for size in (200_000, 2_500_000):
        body = (f"customer_id,name,mobile,province\nC7,{'x' * size},13812345678,北京\n"
                "C8,a,13812345679,北京,extra1,,extra2,,\n\"C9\",\"two\nlines\",13812345670,北京\n")
        result = ingest.load_file("customers", _customers_csv(tmp_path, f"long{size}.csv", body), db=tmp_db)
        assert (result.accepted, result.rejected) == (2, 1)
        q = _quarantine(tmp_db, result.upload_id)
        assert q[["row_number", "reason_code"]].values.tolist() == [[3, "bad_field_count"]]
        # the row verbatim: its cells under their headers, the cells past the header under "" (trailing
        # empty cells are no data, as a short row's missing cells are empty)
        assert json.loads(q["raw_row"].iloc[0]) == {"customer_id": "C8", "name": "a", "mobile": "13812345679",
                                                    "province": "北京", "": ["extra1", None, "extra2"]}
        got = db.read("select customer_id, length(name) as n from customers where customer_id in ('C7', 'C9') "
                      "order by 1", db=tmp_db).values.tolist()
        assert got == [["C7", size], ["C9", 9]]


def test_cells_stay_verbatim_in_quarantine(tmp_db, tmp_path):
    body = "customer_id,name,mobile,province\nC1,  padded  ,1381234567,北京\n"
    result = ingest.load_file("customers", _customers_csv(tmp_path, "pad.csv", body), db=tmp_db)
    assert json.loads(_quarantine(tmp_db, result.upload_id)["raw_row"].iloc[0])["name"] == "  padded  "


def test_xlsx_formula_without_a_cached_value_is_a_row_error(tmp_db, tmp_path):
    import openpyxl

    load_book(tmp_path, tmp_db)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([*LOAN_HEADER[:7], "note"])
    ws.append(["LX1", "C1", "cash_loan", "=100*2", 0.1, 12, "2025-01-15", None])  # written by a script
    ws.append(["LX2", "C1", "cash_loan", 100, 0.1, 12, "2025-01-15", "=A3"])  # in an ignored column: no loss
    ws.append(["LX3", "C1", "cash_loan", 100, 0.1, 12, "2025-01-15", None])
    wb.save(tmp_path / "f.xlsx")
    result = ingest.load_file("loans", tmp_path / "f.xlsx", db=tmp_db)
    assert (result.status, result.accepted, result.rejected) == ("partial", 2, 1)
    q = _quarantine(tmp_db, result.upload_id)
    assert q.loc[q["reason_code"] == "formula_no_value", ["row_number", "column_name"]].values.tolist() == [
        [2, "principal"]]
    assert json.loads(q["raw_row"].iloc[0])["principal"] == "=100*2"  # the cell as written
    assert "formula without a value" in q.loc[q["reason_code"] == "formula_no_value", "reason"].iloc[0]
    assert ingest.reason_text("formula_no_value", {"column": "principal", "value": "=1"}, "zh").startswith(
        "principal =1 是没有计算结果的公式")
    assert db.read("select loan_id from loans where loan_id like 'LX%' order by 1",
                   db=tmp_db)["loan_id"].tolist() == ["LX2", "LX3"]


@pytest.mark.parametrize(("text", "encoding", "layout"), [
    ("Renée Müller,Zürich", "cp1252", "csv-cp1252"),
    ("Zoë Brontë André,Ünal Çelik", "cp1252", "csv-cp1252"),
    ("张三,北京", "gbk", "csv-gb18030"),
    ("王五,广东", "gbk", "csv-gb18030"),
    ("欧阳㐀,广东", "gb18030", "csv-gb18030"),
])
def test_encodings_are_detected_not_guessed(tmp_db, tmp_path, text, encoding, layout):
    name, province = text.split(",")
    body = f"customer_id,name,mobile,province\nC7,{name},13812345678,{province}\n"
    result = ingest.load_file("customers", _customers_csv(tmp_path, "enc.csv", body, encoding), db=tmp_db)
    assert (result.layout, result.accepted) == (layout, 1)
    assert db.read("select name, province from customers", db=tmp_db).values.tolist() == [[name, province]]


def test_text_in_no_known_encoding_is_refused_in_one_line(tmp_db, tmp_path):
    body = "customer_id,name,mobile,province\nC7,山田太郎,13812345678,東京\n".encode("shift_jis") + b"\x81\x00\xff\n"
    path = tmp_path / "sjis.csv"
    path.write_bytes(body)
    before = snapshot(tmp_db)
    with pytest.raises(ingest.UploadError, match=r"neither UTF-8 nor GBK/GB18030.*save it as UTF-8") as exc:
        ingest.load_file("customers", path, db=tmp_db)
    assert "\n" not in str(exc.value)
    assert snapshot(tmp_db) == before


def test_headers_are_nfkc_and_data_under_an_empty_header_is_reported(tmp_db, tmp_path):
    body = ("ｃｕｓｔｏｍｅｒ＿ｉｄ,\u3000Name\u200b ,,mobile,province,\n"
            "C7,Renee,lost,13812345678,x,\nC8,Li,,13812345679,y,\n")
    result = ingest.load_file("customers", _customers_csv(tmp_path, "h.csv", body), db=tmp_db)
    assert (result.accepted, result.rejected) == (1, 1)
    q = _quarantine(tmp_db, result.upload_id)
    assert q[["row_number", "column_name", "reason"]].values.tolist() == [
        [2, "column 3", "column 3 has a value but no header: name the column or empty it"]]
    assert json.loads(q["raw_row"].iloc[0]) == {"customer_id": "C7", "Name": "Renee", "column 3": "lost",
                                                "mobile": "13812345678", "province": "x", "column 6": None}
    assert db.read("select customer_id, name from customers", db=tmp_db).values.tolist() == [["C8", "Li"]]


def test_two_columns_under_one_header_are_refused(tmp_db, tmp_path):
    body = "customer_id,name,mobile,province,note,note\nC7,a,13812345678,x,1,2\n"
    with pytest.raises(ingest.UploadError, match="two columns are both headed 'note'"):
        ingest.load_file("customers", _customers_csv(tmp_path, "d.csv", body), db=tmp_db)


def test_nul_after_the_first_8_kb_is_a_row_error(tmp_db, tmp_path):
    rows = "".join(f"C{i},n{i},13812345678,p\n" for i in range(1000, 1400))
    body = f"customer_id,name,mobile,province\n{rows}C99,a\x00b,13812345679,p\nC98,ok,1381234567\x00,p\n"
    assert len(body) > 8192
    result = ingest.load_file("customers", _customers_csv(tmp_path, "nul.csv", body), db=tmp_db)
    assert (result.accepted, result.rejected) == (400, 2)
    q = _quarantine(tmp_db, result.upload_id)
    assert q[["row_number", "column_name", "reason_code"]].values.tolist() == [
        [402, "name", "nul_byte"], [403, "mobile", "bad_mobile"], [403, "mobile", "nul_byte"]]
    assert json.loads(q["raw_row"].iloc[0])["name"] == "a\x00b"  # verbatim, as a JSON escape
    stored = db.read("select count(*) as n from quarantine where strpos(reason, chr(0)) > 0 "
                     "or strpos(reason_args, chr(0)) > 0 or strpos(raw_row, chr(0)) > 0", db=tmp_db)
    assert stored["n"].iloc[0] == 0  # no NUL character reaches any table
    assert db.read("select count(*) as n from customers where strpos(name, chr(0)) > 0 or "
                   "strpos(mobile, chr(0)) > 0", db=tmp_db)["n"].iloc[0] == 0


def test_a_binary_file_renamed_to_csv_is_refused(tmp_db, tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("customer_id,name,mobile,province\nC7,a,13812345678,x\n".encode("utf-16-le"))
    with pytest.raises(ingest.UploadError, match="binary file"):
        ingest.load_file("customers", path, db=tmp_db)


def test_a_control_character_in_a_header_is_refused(tmp_db, tmp_path):
    body = "customer_id,na\x01me,mobile,province\nC7,a,13812345678,x\n"
    with pytest.raises(ingest.UploadError, match="header of column 2 holds a control character"):
        ingest.load_file("customers", _customers_csv(tmp_path, "c.csv", body), db=tmp_db)


def test_nul_in_parquet_text_is_a_row_error(tmp_db, tmp_path):
    import pandas as pd

    load_book(tmp_path, tmp_db)
    frame = pd.DataFrame({"payment_id": ["P1", "P\x002"], "loan_id": ["L1", "L1"],
                          "paid_at": ["2025-06-05 12:00:00", "2025-06-05 12:00:00"], "amount": ["1", "2"]})
    frame.to_parquet(tmp_path / "p.parquet")
    result = ingest.load_file("payments", tmp_path / "p.parquet", db=tmp_db)
    assert (result.accepted, result.rejected) == (1, 1)
    assert _quarantine(tmp_db, result.upload_id)["reason_code"].tolist() == ["nul_byte"]


# The public complaint form: text that cannot be stored is a field error, never a failed submit.

def _form(**overrides):
    form = {"name": "张三", "mobile": "13812345678", "loan_id": "", "issue": "communication_tactics",
            "channel": "phone", "description": "They called me eight times yesterday after 22:00.",
            "plan_type": "none", "plan_amount": None, "plan_months": None, "contact_time": "morning",
            "consent": True, "website": ""}
    form.update(overrides)
    return form


@pytest.mark.parametrize(("field", "value", "key"), [
    ("name", "Zh\x00ang", "complaints.err.name_invalid"),
    ("name", "Zh\ud800ang", "complaints.err.name_invalid"),
    ("name", "two\nlines", "complaints.err.name_invalid"),
    ("description", "They called me at night\x00 many times.", "complaints.err.description_invalid"),
    ("description", "They called me at night \udfff many times.", "complaints.err.description_invalid"),
    ("description", "They called me at night \x1b[31m many times.", "complaints.err.description_invalid"),
])
def test_form_rejects_unstorable_text(tmp_db, field, value, key):
    from portal import complaints

    assert complaints.validate_form(_form(**{field: value}))[1] == {field: key}
    result = complaints.submit(_form(**{field: value}), "client-nul", db=tmp_db)
    assert result.errors == {field: key}
    assert db.read("select count(*) as n from complaints", db=tmp_db)["n"].iloc[0] == 0


def test_form_keeps_newlines_and_tabs(tmp_db):
    from portal import complaints

    text = "Line one of what happened.\r\n\tLine two, indented."
    result = complaints.submit(_form(description=text), "client-nl", db=tmp_db)
    assert result.ok
    stored = db.read("select narrative from complaints", db=tmp_db)["narrative"].iloc[0]
    assert stored == "Line one of what happened.\n\tLine two, indented."
    assert complaints.lookup("CP-\ud800", "5678", "client-nl", db=tmp_db) is None
    assert complaints.lookup(result.ticket, "56\x0078", "client-nl", db=tmp_db) is None


def test_form_never_raises_on_any_text(tmp_db):
    """Hypothesis: any name and description either validate with field errors or are stored whole."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from portal import complaints

    texts = st.text(st.characters(codec=None, exclude_categories=()), min_size=0, max_size=60)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(name=texts, description=texts.map(lambda t: "A long enough start: " + t))
    def check(name, description):
        result = complaints.submit(_form(name=name, description=description), f"c{len(name)}", db=tmp_db)
        if result.ok:
            row = db.read("select complainant_name, narrative from complaints where ticket = $t",
                          {"t": result.ticket}, db=tmp_db).iloc[0]
            assert row["narrative"] == description.replace("\r\n", "\n")
        else:
            assert set(result.errors) <= {"name", "description", "form"}

    check()


def test_a_naive_time_at_the_end_of_the_range_in_a_western_zone(tmp_db, tmp_path):
    """Found by the fuzz suite: 294247-01-10 04:00:54 in New York overflowed the time zone conversion."""
    load_book(tmp_path, tmp_db)  # L2 belongs to C2, whose time zone is America/New_York
    pay = write_csv(tmp_path / "p.csv", PAY_HEADER, [["P1", "L2", "294247-01-10 04:00:54", "5"],
                                                     ["P2", "L2", "2025-06-01 10:00:00", "5"]])
    result = ingest.load_file("payments", pay, db=tmp_db)
    assert (result.accepted, result.rejected) == (1, 1)
    assert _quarantine(tmp_db, result.upload_id)["reason"].tolist() == [
        "paid_at 294247-01-10 04:00:54 is not an ISO 8601 timestamp"]


def test_invalid_utf8_is_not_read_as_windows_1252(tmp_db, tmp_path):
    """Found by the fuzz suite: a lone surrogate written as UTF-8 bytes (ED A0 80) read as 'í €'."""
    path = tmp_path / "sur.csv"
    path.write_bytes("customer_id,name,mobile,province\nC7,\ud800,13812345678,x\n".encode("utf-8", "surrogatepass"))
    with pytest.raises(ingest.UploadError, match="neither UTF-8 nor GBK/GB18030"):
        ingest.load_file("customers", path, db=tmp_db)
