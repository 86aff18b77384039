"""`portal check-contacts FILE`: a dialer's planned list read as an upload is, checked in its order and
written back with allowed, rules, reasons, next_allowed_at and error (CONTRACT.md, Command line).

The log is tests/unit/test_prevention.py's (S1 in Shanghai with 3 connected calls on 03-11, ...).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portal import cli, db
from tests.unit.test_prevention import book  # noqa: F401 (the fixture)

HEADER = "loan_id,channel,party,planned_at,note\n"
PLAN = [
    "S1a,phone,debtor,2026-03-20T10:00:00,first",
    "S1a,phone,debtor,2026-03-20T23:00:00,at night",
    "S1b,phone,debtor,2026-03-20T11:00:00,second",
    "S1a,phone,debtor,2026-03-20T12:00:00,third",
    "S1b,phone,debtor,2026-03-20T13:00:00,=HYPERLINK(\"http://x\")",
    "NOPE,sms,debtor,2026-03-20T10:00:00,unknown loan",
    "S1a,fax,debtor,soon,two bad cells",
    "S1a,visit,debtor,2026-03-20T10:00:00,no collectors",
]
EXPECTED_ALLOWED = ["true", "false", "true", "true", "false", "", "", "false"]


def write(path, lines, header=HEADER, encoding="utf-8"):
    path.write_text(header + "\n".join(lines) + "\n", encoding=encoding)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_in_file_order_with_results_and_bad_rows_kept(book, tmp_path, capsys):  # noqa: F811
    plan = write(tmp_path / "plan.csv", PLAN)
    code, out, err = run(capsys, "--db", str(book), "check-contacts", str(plan))
    assert code == 3  # some rows could not be checked (as `portal load` says of quarantined rows)
    frame = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["loan_id", "channel", "party", "planned_at", "note", "allowed", "rules", "reasons",
                                   "next_allowed_at", "error"]
    assert list(frame["note"])[:4] == ["first", "at night", "second", "third"]  # the file's order
    assert list(frame["allowed"]) == EXPECTED_ALLOWED
    # row 5 is the 4th debtor call that may connect on 03-20 (row 2 is blocked, so it does not count)
    assert frame["rules"][4] == "connected_calls_per_day"
    assert frame["next_allowed_at"][4] == "2026-03-21T08:00:00+08:00"
    assert frame["note"][4] == "'=HYPERLINK(\"http://x\")"  # formula-safe
    assert frame["rules"][1] == "quiet_hours" and frame["reasons"][1].startswith("23:00 is inside quiet hours")
    assert frame["error"][5] == "loan_id NOPE is not a known loan"
    assert frame["error"][6] == ("channel fax is not one of: sms, app, phone, letter, social, visit, legal; "
                                 "planned_at soon is not an ISO 8601 timestamp")
    assert frame["rules"][7] == "visit_collectors" and frame["next_allowed_at"][7] == ""
    assert "8 planned contacts under pack cn: 3 allowed, 3 blocked, 2 not checked (bad rows)" in err


def test_chinese_headers_gbk_and_another_pack(book, tmp_path, capsys):  # noqa: F811
    plan = write(tmp_path / "plan_gbk.csv", ["N1a,phone,debtor,2026-03-12T09:00:00", "N1a,短信,debtor,2026-03-12T09:00"],
                 header="借据号,渠道,对象,计划时间\n", encoding="gbk")
    code, out, _ = run(capsys, "--db", str(book), "check-contacts", str(plan), "--pack", "us", "--lang", "zh")
    frame = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert code == 3
    assert frame["rules"][0] == "calls_7_in_7"
    assert frame["reasons"][0] == "截至 2026-03-12 09:00 的 7 天内已有 7 次电话（最多 7 次）"
    assert frame["next_allowed_at"][0] == "2026-03-12T11:00:00-04:00"
    assert frame["error"][1].startswith("channel 短信")


def test_json_and_parquet_with_offsets_and_collectors(book, tmp_path, capsys):  # noqa: F811
    table = pa.table({
        "loan_id": ["S1a", "S1a", "N1b"],
        "channel": ["visit", "visit", "sms"],
        "party": ["debtor", "debtor", "debtor"],
        "planned_at": pa.array([dt.datetime(2026, 3, 16, 2, 0), dt.datetime(2026, 3, 16, 2, 0),
                                dt.datetime(2026, 3, 17, 1, 30)], pa.timestamp("us", tz="UTC")),
        "collectors": [2, 1, None],
    })
    path = tmp_path / "plan.parquet"
    pq.write_table(table, path)
    code, out, _ = run(capsys, "--db", str(book), "check-contacts", str(path), "--format", "json", "--pack", "us")
    assert code == 0
    records = json.loads(out)
    # 02:00 UTC is 10:00 in Shanghai: visits are not checked by the us pack; 01:30 UTC is 21:30 EDT
    assert [r["allowed"] for r in records] == [True, True, False]
    assert records[2]["rules"] == ["quiet_hours"] and records[2]["next_allowed_at"] == "2026-03-17T08:00:00-04:00"
    assert records[0]["error"] is None and records[0]["next_allowed_at"] is None
    code, out, _ = run(capsys, "--db", str(book), "check-contacts", str(path), "--format", "json")
    assert [r["rules"] for r in json.loads(out)] == [[], ["visit_collectors"], []]


def test_xlsx_in_and_out_formula_safe(book, tmp_path, capsys):  # noqa: F811
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["loan_id", "channel", "party", "planned_at", "note"])
    ws.append(["S1a", "sms", "debtor", dt.datetime(2026, 3, 16, 22, 30), "=1+1"])  # a naive cell: local time
    ws.append(["S1a", "sms", "third_party", "2026-03-12T10:00:00", "@cmd"])
    ws["E2"].data_type = "s"  # text that looks like a formula, as a user may type it
    wb.save(tmp_path / "plan.xlsx")
    out = tmp_path / "checked.xlsx"
    code, _, err = run(capsys, "--db", str(book), "check-contacts", str(tmp_path / "plan.xlsx"), "--out", str(out))
    assert code == 0 and "written to" in err
    sheet = openpyxl.load_workbook(out).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["loan_id", "channel", "party", "planned_at", "note", "allowed", "rules", "reasons",
                       "next_allowed_at", "error"]
    assert rows[1][4] == "'=1+1" and rows[2][4] == "'@cmd"
    assert rows[1][5:7] == ["false", "quiet_hours"]
    assert rows[2][6] == "third_party_contact"
    assert all(c.data_type == "s" for c in sheet[2] if c.value is not None)


def test_a_file_that_cannot_be_read_exits_2_in_one_line(book, tmp_path, capsys):  # noqa: F811
    missing = write(tmp_path / "no_party.csv", ["S1a,sms,2026-03-16T10:00:00"], header="loan_id,channel,planned_at\n")
    code, out, err = run(capsys, "--db", str(book), "check-contacts", str(missing))
    assert code == 2 and out == ""
    assert err.strip() == ("portal: nothing checked: missing required columns: party (a planned list has loan_id, "
                           "channel, party, planned_at and optionally collectors)")
    pdf = tmp_path / "plan.csv"
    pdf.write_bytes(b"%PDF-1.4 not a table")
    code, _, err = run(capsys, "--db", str(book), "check-contacts", str(pdf))
    assert code == 2 and err.count("\n") == 1 and "binary PDF file" in err
    code, _, err = run(capsys, "--db", str(book), "check-contacts", str(tmp_path / "absent.csv"))
    assert code == 2 and "file not found" in err
    code, _, err = run(capsys, "--db", str(book), "check-contacts", str(write(tmp_path / "ok.csv", PLAN[:1])),
                       "--pack", "nope")
    assert code == 2 and "unknown rule pack 'nope'" in err and err.count("\n") == 1
    empty = write(tmp_path / "header_only.csv", [], header="loan_id,channel,party,planned_at")
    code, _, err = run(capsys, "--db", str(book), "check-contacts", str(empty))
    assert code == 2 and "no data rows" in err


def test_a_real_portal_check_contacts_process(book, tmp_path):  # noqa: F811
    plan = write(tmp_path / "plan.csv", PLAN[:5])
    out = tmp_path / "checked.csv"
    db.close(book)
    done = subprocess.run([sys.executable, "-m", "portal", "--db", str(book), "check-contacts", str(plan),
                           "--out", str(out)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip() == "5 planned contacts under pack cn: 3 allowed, 2 blocked, 0 not checked (bad rows); " \
        f"written to {out}"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    frame = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(frame["allowed"]) == EXPECTED_ALLOWED[:5]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_encodings_read_as_an_upload_is(book, tmp_path, capsys, encoding):  # noqa: F811
    plan = write(tmp_path / "plan.csv", ["S1a,sms,debtor,2026-03-16T10:00:00,备注"], encoding=encoding)
    code, out, _ = run(capsys, "--db", str(book), "check-contacts", str(plan))
    assert code == 0
    assert pd.read_csv(io.StringIO(out), dtype=str)["note"][0] == "备注"
