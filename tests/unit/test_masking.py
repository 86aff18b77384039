"""Personal-data masking (incl. Chinese names and short values) and the audited reveal."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from portal import db, masking
from portal.auth_types import User

COMPLIANCE = User("cora", "compliance", "Cora")
T0 = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("13812345678", "138****5678"),
    (" 138 1234 5678 ", "138****5678"),
    ("138-1234-5678", "138****5678"),
    (13812345678, "138****5678"),
    ("12345678", "123*5678"),
    ("1234567", "1******"),  # too short to keep 3 + 4: only the first character stays
    ("12", "**"),
    ("1", "*"),
    ("", ""),
    ("   ", ""),
    (None, None),
    (float("nan"), None),
])
def test_mask_mobile(value, expected):
    assert masking.mask_mobile(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("110101199003071234", "110***********1234"),
    ("11010119900307123X", "110***********123X"),
    ("110101900307123", "110********7123"),  # old 15-digit ID
    ("1234", "1***"),
    (None, None),
])
def test_mask_id_number(value, expected):
    assert masking.mask_id_number(value) == expected
    if value and len(value) == 18:
        assert len(masking.mask_id_number(value)) == 18


@pytest.mark.parametrize(("value", "expected"), [
    ("张三", "张*"),
    ("欧阳娜娜", "欧***"),
    ("王", "*"),
    (" 李四 ", "李*"),
    ("John Smith", "J*********"),
    ("Al", "A*"),
    ("", ""),
    ("  ", ""),
    (None, None),
])
def test_mask_name(value, expected):
    assert masking.mask_name(value) == expected


def test_mask_text_hides_numbers_inside_free_text():
    text = "我的手机13812345678，身份证11010119900307123X，+86 13912345678, loan L1234567890123456789"
    assert masking.mask_text(text) == (
        "我的手机138****5678，身份证110***********123X，+86 139****5678, loan L1234567890123456789")
    assert masking.mask_text(None) is None


def test_a_raw_uploaded_row_has_names_masked_by_their_header_like_mobiles():
    raw = ('{"客户号":"S-C002","姓名":"欧阳娜娜","手机号":"13987654321","身份证号":"440308199901010012",'
           '"complainant_name":"John Smith","note":"call 13812345678","n":3,"name":null}')
    assert masking.mask_text(raw) == (
        '{"客户号":"S-C002","姓名":"欧***","手机号":"139****4321","身份证号":"440***********0012",'
        '"complainant_name":"J*********","note":"call 138****5678","n":3,"name":null}')
    # text that only looks like the start of a row is still free text
    assert masking.mask_text("{not json 13812345678") == "{not json 138****5678"
    assert masking.mask_text('["13812345678"]') == '["138****5678"]'


def test_mask_frame_masks_known_columns_for_every_role():
    frame = pd.DataFrame({
        "customer_id": ["C1", "C2"],
        "name": ["张三", None],
        "mobile": ["13812345678", "13987654321"],
        "guarantor_mobile": ["15011112222", None],
        "id_number": ["110101199003071234", None],
        "raw_row": ["C9,王五,13700001111", "x"],
        "file_name": ["a.csv", "b.csv"],
        "loans": [3, 4],
    })
    expected = {
        "customer_id": ["C1", "C2"],
        "name": ["张*", None],
        "mobile": ["138****5678", "139****4321"],
        "guarantor_mobile": ["150****2222", None],
        "id_number": ["110***********1234", None],
        "raw_row": ["C9,王五,137****1111", "x"],
        "file_name": ["a.csv", "b.csv"],
        "loans": [3, 4],
    }
    for role in ("customer", "executive", "analyst", "compliance", "admin", None):
        out = masking.mask_frame(frame, role)
        for col in expected:
            assert [None if pd.isna(v) else v for v in out[col]] == expected[col], (role, col)
    assert frame.loc[0, "mobile"] == "13812345678"  # the input is not modified
    # Masking is idempotent, so a table masked twice (page + ui.table) shows the same.
    twice = masking.mask_frame(masking.mask_frame(frame))
    assert twice["mobile"].tolist() == ["138****5678", "139****4321"]


def test_mask_frame_masks_numbers_in_any_text_column():
    frame = pd.DataFrame({
        "原始行": ["C9,王五,13700001111,110101199003071234", "C10,,"],  # a translated raw_row header
        "reason": ["mobile 1370000111 is not valid", "mobile 13700001111 opted out"],
        "loan_id": ["L13812345678", "138123456789"],
        "amount": [13812345678, 1],
    })
    out = masking.mask_frame(frame, "analyst")
    assert out["原始行"].tolist() == ["C9,王五,137****1111,110***********1234", "C10,,"]
    assert out["reason"].tolist() == ["mobile 1370000111 is not valid", "mobile 137****1111 opted out"]
    # Privacy first: a mobile glued to letters is still masked; a longer digit run is not a mobile.
    assert out["loan_id"].tolist() == ["L138****5678", "138123456789"]
    assert out["amount"].tolist() == [13812345678, 1]  # numbers are not text


def test_mask_frame_reveal_needs_a_role_that_may_reveal():
    frame = pd.DataFrame({"mobile": ["13812345678"]})
    assert masking.mask_frame(frame, "compliance", reveal=True)["mobile"][0] == "13812345678"
    assert masking.mask_frame(frame, "executive", reveal=True)["mobile"][0] == "138****5678"


def _customer(path):
    db.execute(
        "insert into customers (customer_id, name, mobile, id_number, province) values"
        " ('C1', '欧阳娜娜', '13812345678', '110101199003071234', '北京')", db=path)


def test_reveal_returns_clear_value_and_writes_the_audit_row(tmp_db):
    _customer(tmp_db)
    value = masking.reveal(tmp_db, COMPLIANCE, "customers", "C1", "mobile", "  complaint CP-7 callback  ", now=T0)
    assert value == "13812345678"
    log = masking.reveals(db=tmp_db)
    assert len(log) == 1
    row = log.iloc[0]
    assert (row["revealed_by"], row["role"], row["table_name"], row["record_key"], row["field_name"],
            row["reason"]) == ("cora", "compliance", "customers", "C1", "mobile", "complaint CP-7 callback")
    assert pd.Timestamp(row["revealed_at"]).tz_convert("UTC") == pd.Timestamp(T0)
    assert masking.reveal(tmp_db, User("ada", "admin"), "customers", "C1", "name", "data request") == "欧阳娜娜"
    assert len(masking.reveals(db=tmp_db)) == 2


@pytest.mark.parametrize(("user", "table", "field", "reason", "code"), [
    (User("ed", "executive"), "customers", "mobile", "because I can", "role"),
    (User("an", "analyst"), "customers", "mobile", "because I can", "role"),
    (None, "customers", "mobile", "because I can", "role"),
    (COMPLIANCE, "customers", "mobile", "   ", "reason"),
    (COMPLIANCE, "customers", "mobile", "why", "reason"),
    (COMPLIANCE, "customers", "province", "complaint CP-7", "field"),
    (COMPLIANCE, "users", "password_hash", "complaint CP-7", "field"),
])
def test_refused_reveals_write_nothing(tmp_db, user, table, field, reason, code):
    _customer(tmp_db)
    with pytest.raises(masking.RevealError) as err:
        masking.reveal(tmp_db, user, table, "C1", field, reason)
    assert err.value.code == code
    assert masking.reveals(db=tmp_db).empty


def test_reveal_of_a_missing_record_is_refused_and_not_logged(tmp_db):
    with pytest.raises(masking.RevealError) as err:
        masking.reveal(tmp_db, COMPLIANCE, "customers", "C404", "mobile", "complaint CP-7")
    assert err.value.code == "not_found"
    assert masking.reveals(db=tmp_db).empty


def test_reveal_a_quarantined_row(tmp_db):
    db.execute(
        "insert into quarantine (upload_id, dataset, row_number, column_name, reason, raw_row, quarantined_at)"
        " values (7, 'customers', 12, 'mobile', 'bad mobile', 'C9,王五,1370000111', now())",
        db=tmp_db)
    assert masking.reveal(tmp_db, COMPLIANCE, "quarantine", "7:12", "raw_row", "fix upload 7") == "C9,王五,1370000111"
    with pytest.raises(masking.RevealError):
        masking.reveal(tmp_db, COMPLIANCE, "quarantine", "7:13", "raw_row", "fix upload 7")
    assert masking.reveals(db=tmp_db)["record_key"].tolist() == ["7:12"]
