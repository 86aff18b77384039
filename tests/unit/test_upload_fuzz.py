"""Fuzzing uploads (issue 14): generated hostile files for every dataset, loaded with `portal load`.

Each example writes one file (CSV in UTF-8, GBK or Windows-1252, XLSX with formulas that have no cached
value, or Parquet) whose cells are drawn from nasty values: numbers too large for their column, out of
range, 24 digits, NaN and infinity, NUL, lone surrogates (in UTF-8 only), fields over the csv module's
131,072 characters and over DuckDB's line limit, quoted newlines and quotes, ragged rows, empty,
padded, upper-case and full-width headers. It runs `portal load` (portal.cli.main, in process, on a real
DuckDB file) and checks:

- the exit code is 0, 2 or 3 and nothing raised (a traceback would fail the test);
- loaded + quarantined = the rows in the file (a record of empty cells is no row);
- on exit 2 the data tables are unchanged;
- each quarantined row's raw_row holds the row verbatim: its cells under the cleaned headers, the cells
  past the header under "", an empty cell as null.

PORTAL_FUZZ_EXAMPLES sets the example count per test (default small, for CI); run a long profile with
e.g. `PORTAL_FUZZ_EXAMPLES=500 pytest tests/unit/test_upload_fuzz.py`. A few real subprocess runs check
the same from the outside.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from portal import cli, db, ingest, schemas
from portal.ingest.datasets import _header_key
from portal.ingest.sources import _cell_text, clean_header
from tests.fixtures_uploads import load_book

EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "12"))
ROOT = Path(__file__).resolve().parents[2]
DATA_TABLES = ("customers", "loans", "snapshots", "contacts", "payments", "complaints", "repayment_plans")
CSV_LIMIT = 131_072
DUCKDB_LINE = 2_097_152

# Nasty cells for any column, then plausible cells per kind so that some rows load.
NASTY = ["", " ", "  padded  ", "250", "3e17", "1" * 24, "-1", "0", "NaN", "inf", "-infinity", "1e400",
         "99999999999", "2147483648", "12.345", "1,000", "０１２", "a\x00b", "\x00", "two\nlines", 'say "hi"',
         "comma,inside", "=1+1", "null", "2025-02-30", "294247-01-10 04:00:54", "-290000-01-01", "Z",
         "<script>", "'; drop table loans;--"]
PLAUSIBLE = {
    "text": ["C1", "C2", "L1", "L2", "K1", "K2", "P1", "cash_loan", "phone", "debtor", "ptp", "delivered",
             "hotline", "communication_tactics", "new", "instalments", "active", "北京", "13812345678"],
    "int": ["0", "1", "12", "30", "45", "15"],
    "amount": ["0", "1.50", "300", "5000.00", "12000.5"],
    "rate": ["0", "0.18", "0.36", "0.5"],
    "date": ["2025-01-15", "2025-05-31", "2025-06-10"],
    "timestamp": ["2025-06-02 10:00:00", "2025-06-03T09:30:00+08:00", "2025-06-05 12:00:00Z"],
}
WORDS = {  # text each encoding carries, so its detection has something to read
    "utf-8": ["Renée Müller", "张三", "😀 emoji", "ｆｕｌｌ", "e\u0301", "\u3000", "\u200b"],
    "gbk": ["张三", "欧阳娜娜", "北京市朝阳区", "王五", "催收记录"],
    "cp1252": ["Renée Müller", "Zoë Brontë", "François Ångström", "Jürgen Groß", "naïve café €5"],
}


@dataclass
class Generated:
    """One generated upload and what the portal must make of it."""

    dataset: str
    path: Path
    headers: list[str]  # as written
    rows: dict[int, list[str | None]]  # the expected cells of each data row, by its line (or sheet row)
    total: int  # rows in the file
    text: str | None = None  # a CSV's text before encoding

    def __repr__(self) -> str:  # short: a failing example names its file, which stays on disk
        return f"Generated({self.dataset!r}, {str(self.path)!r}, headers={self.headers!r}, total={self.total})"


def _expected(cells: list[str | None], width: int) -> list[str | None]:
    """A row as raw_row must give it back: width cells (a short row padded with empties), then the
    cells past the header without the trailing empty ones; an empty cell is None."""
    out = [None if c in ("", None) else c for c in cells]
    head = (out + [None] * width)[:width]
    extra = out[width:]
    while extra and extra[-1] is None:
        extra.pop()
    return head + extra


def _blank(cells: list[str | None]) -> bool:
    return all(c is None or c == "" for c in cells)


def _rarely(draw, n: int) -> bool:
    """True about once in n draws (the middle value: Hypothesis favours the ends of a range)."""
    return draw(st.integers(0, n - 1)) == n // 2


@st.composite
def headers_for(draw, dataset: str, encoding: str) -> list[str]:
    cols = ingest.columns(dataset)
    keys = set(ingest.DATASETS[dataset].keys)
    chosen = [c for c in cols if c.required or c.name in keys or draw(st.booleans())]
    if _rarely(draw, 10) and len(chosen) > 1:  # sometimes a required column is missing
        chosen.pop(draw(st.integers(0, len(chosen) - 1)))
    out = []
    for col in chosen:
        style = draw(st.sampled_from(["plain", "upper", "padded", "fullwidth", "zh"]))
        name = col.name
        if style == "upper":
            name = name.upper()
        elif style == "padded":
            name = draw(st.sampled_from([" ", "\u3000", "\u00a0"]) if encoding == "utf-8" else st.just(" ")) + name + " "
        elif style == "fullwidth" and encoding != "cp1252":
            name = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in name)
        elif style == "zh" and col.zh and encoding != "cp1252":
            name = col.zh
        out.append(name)
    for _ in range(draw(st.integers(0, 2))):
        out.insert(draw(st.integers(0, len(out))), draw(st.sampled_from(["", "note", "备注" if encoding != "cp1252"
                                                                          else "remark"])))
    labels = [clean_header(h) or f"column {i + 1}" for i, h in enumerate(out)]
    if len(set(labels)) < len(labels):  # two columns under one header: refused; keep the rest unique
        seen: set[str] = set()
        out = [h for h, label in zip(out, labels, strict=True) if not (label in seen or seen.add(label))]
    return out


def _column(dataset: str, header: str) -> str:
    return ingest.header_aliases(dataset).get(_header_key(clean_header(header))) or "text"


BY_COLUMN = {"customer_id": ["C1", "C2"], "loan_id": ["L1", "L2"], "mobile": ["13812345678"],
             "as_of": ["2025-05-31", "2025-04-30"], "dpd": ["0", "12"], "overdue_amount": ["0"],
             "ptp_amount": [""], "ptp_due_on": [""], "collectors": [""], "duration_s": [""],
             "extension_days": ["0"], "instalments": ["1", "6"], "timezone": ["Asia/Shanghai"],
             "id_number": ["11010519491231002X"], "resolved_at": [""], "complaint_id": ["", "Q1"]}


def _plausible(dataset: str, column: str) -> list[str]:
    """Values a column accepts, from the model where it says (allowed values), else by kind."""
    if column in BY_COLUMN:
        return BY_COLUMN[column]
    kinds = {c.name: c.kind for c in ingest.columns(dataset)}
    if column not in kinds:
        return PLAUSIBLE["text"]
    for check in schemas.UPLOAD_SCHEMAS[dataset].to_schema().columns[column].checks:
        if check.name == "isin":
            return [str(v) for v in check.statistics["allowed_values"]]
    if column in ingest.DATASETS[dataset].keys:
        return [f"{column[:1].upper()}{i}" for i in range(1, 6)]
    return PLAUSIBLE[kinds[column]]


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding, "surrogatepass" if encoding == "utf-8" else "strict")
        return True
    except UnicodeEncodeError:
        return False


@st.composite
def cell(draw, plausible: list[str], encoding: str, layout: str, clean: bool = False) -> str:
    pool = "plausible" if clean else draw(st.sampled_from(["nasty", "nasty", "plausible", "plausible", "words"]))
    if _rarely(draw, 40):  # a lone surrogate: only UTF-8 can carry one (as invalid bytes), and is then refused
        return "\ud800" if _encodable("\ud800", encoding) and layout == "csv" else "?"
    if pool == "nasty":
        value = draw(st.sampled_from(NASTY))
    elif pool == "plausible":
        value = draw(st.sampled_from(plausible))
    else:
        value = draw(st.sampled_from(WORDS[encoding]))
    if _rarely(draw, 60):
        value = "x" * draw(st.sampled_from([CSV_LIMIT + 10, 5000]))  # over the csv module's field limit
    if layout == "xlsx":  # XML holds no control characters but tab and newline, and no surrogates
        value = "".join(ch for ch in value if (unicodedata.category(ch) not in ("Cc", "Cs") or ch in "\t\n"))
        value = value[:32767]  # Excel's (and openpyxl's) limit for one cell
    elif layout == "parquet":
        value = "".join(ch for ch in value if unicodedata.category(ch) != "Cs")
    return value if _encodable(value, encoding) else "?"


@st.composite
def uploads(draw, tmp: Path) -> Generated:
    dataset = draw(st.sampled_from(list(ingest.DATASETS)))
    layout = draw(st.sampled_from(["csv", "csv", "csv", "xlsx", "parquet"]))
    encoding = draw(st.sampled_from(["utf-8", "gbk", "cp1252"])) if layout == "csv" else "utf-8"
    headers = draw(headers_for(dataset, encoding))
    pools = [_plausible(dataset, _column(dataset, h)) for h in headers]
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        clean = draw(st.sampled_from([True, False, False]))  # a row that may well load
        cells = [draw(cell(pool, encoding, layout, clean)) for pool in pools]
        shape = draw(st.sampled_from(["ragged", "short", *["fits"] * 8]))
        if shape == "ragged" and layout != "parquet":  # too many cells (some may be empty)
            cells += [draw(st.sampled_from(["extra", "", "x,y", " "])) for _ in range(draw(st.integers(1, 3)))]
        elif shape == "short" and layout == "csv" and len(cells) > 1:  # too few
            cells = cells[: draw(st.integers(1, len(cells) - 1))]
        rows.append(cells)
    path = tmp / f"upload.{ {'csv': 'csv', 'xlsx': 'xlsx', 'parquet': 'parquet'}[layout]}"
    width = len(headers)
    expected: dict[int, list[str | None]] = {}
    if layout == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        line = 2
        for cells in rows:
            start = buf.tell()
            writer.writerow(cells)
            text = buf.getvalue()[start:]
            if not _blank(cells):
                expected[line] = _expected(cells, width)
            line += text.count("\n")
        if _rarely(draw, 40):  # one field over DuckDB's 2 MB line limit
            buf.write(f"{'y' * (DUCKDB_LINE + 10)}\n")
            expected[line] = _expected(["y" * (DUCKDB_LINE + 10)], width)
        path.write_bytes(buf.getvalue().encode(encoding, "surrogatepass" if encoding == "utf-8" else "strict"))
    elif layout == "xlsx":
        import openpyxl

        while headers and not clean_header(headers[-1]):
            headers.pop()  # a sheet's header row ends at its last named cell; cells past it are extras
        width = len(headers)
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(headers)
        for cells in rows:
            typed: list[object] = []
            for value in cells:
                # numbers as numbers, sometimes (Excel's own cells); text starting with "=" is a formula
                # that openpyxl writes without a cached value, as any script does
                try:
                    as_float = float(value)
                    typed.append(as_float if draw(st.booleans()) and abs(as_float) < 1e300 else value)
                except ValueError:
                    typed.append(value)
            ws.append([None if v == "" else v for v in typed])
        wb.save(path)
        # what the file holds (a float keeps the digits openpyxl wrote; a formula its text)
        saved = openpyxl.load_workbook(path).active
        for number, row in enumerate(saved.iter_rows(min_row=2, values_only=True), start=2):
            shown = [_cell_text(v) for v in row]
            if not _blank(shown):
                expected[number] = _expected(shown, width)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {}
        for i, header in enumerate(headers):
            columns[header or f"__empty_{i}"] = pa.array([None if c == "" else c for c in
                                                          (r[i] if i < len(r) else "" for r in rows)], pa.string())
        table = pa.table(columns)
        if any(not h for h in headers):
            table = table.rename_columns(headers)
        pq.write_table(table, path)
        for number, cells in enumerate(rows, start=2):
            expected[number] = _expected(cells, width)  # a Parquet row is a row, blank or not
    text = buf.getvalue() if layout == "csv" else None
    return Generated(dataset, path, headers, expected, len(expected), text)


def _data(db_path: Path) -> dict[str, list]:
    out = {}
    for table in DATA_TABLES:
        frame = db.read(f"select * from {table}", db=db_path)  # noqa: S608 (fixed table list)
        out[table] = sorted(map(repr, frame.astype(object).itertuples(index=False)))
    return out


def _run(db_path: Path, dataset: str, path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["--db", str(db_path), "load", dataset, str(path)])
    return code, out.getvalue(), err.getvalue()


def _check(db_path: Path, gen: Generated, code: int, out: str, err: str, before: dict[str, list]) -> None:
    assert code in (0, 2, 3), _short((code, out, err))
    assert "Traceback" not in out + err
    assert len((out + err).strip().splitlines()) <= 3, _short((out, err))  # a one-line message, and the counts
    last = db.read("select * from uploads order by upload_id desc limit 1", db=db_path).iloc[0]
    if last["status"] == "failed":
        assert code == 2 and err.startswith("portal: nothing loaded: "), _short((out, err))
        assert _data(db_path) == before
        return
    encoding = {"csv-utf8": "utf-8", "csv-gb18030": "gb18030", "csv-cp1252": "cp1252"}.get(last["file_layout"])
    if gen.text is not None and encoding:  # the file was read in an encoding that gives back its text
        assert gen.path.read_bytes().decode(encoding) == gen.text, last["file_layout"]
    assert int(last["rows_total"]) == gen.total, _short((last["message"], list(gen.rows)))
    assert int(last["rows_accepted"]) + int(last["rows_rejected"]) == gen.total
    quarantined = db.read("select row_number, raw_row from quarantine where upload_id = $u",
                          {"u": int(last["upload_id"])}, db=db_path)
    assert quarantined["row_number"].nunique() == int(last["rows_rejected"])
    if code == 2:
        assert int(last["rows_accepted"]) == 0
        assert _data(db_path) == before
    labels = [clean_header(h) or f"column {i + 1}" for i, h in enumerate(gen.headers)]
    for row_number, raw in zip(quarantined["row_number"], quarantined["raw_row"], strict=True):
        pairs = json.loads(raw, object_pairs_hook=list)
        keys = [k for k, _ in pairs]
        values = [v for k, v in pairs if k != ""]
        extra = next((v for k, v in pairs if k == ""), [])
        assert keys[: len(labels)] == labels, _short((keys, labels))
        got = [None if v in ("", None) else v for v in values + extra]
        assert got == gen.rows[int(row_number)], _short((row_number, got, gen.rows[int(row_number)]))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) < 600 else text[:300] + f" ...({len(text)} chars)... " + text[-300:]


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "fuzz.duckdb"
    db.connect(path)
    load_book(tmp, path)
    yield path
    db.close(path)


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not os.environ.get("PORTAL_FUZZ_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_generated_upload_keeps_the_invariants(fuzz_db, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("case")
    gen = data.draw(uploads(tmp))
    before = _data(fuzz_db)
    code, out, err = _run(fuzz_db, gen.dataset, gen.path)
    _check(fuzz_db, gen, code, out, err, before)
    layout = db.read("select file_layout, status from uploads order by upload_id desc limit 1", db=fuzz_db).iloc[0]
    event(f"exit {code}: {layout['status']}")
    event(f"read as {layout['file_layout']}")
    if code == 2 and layout["status"] == "failed":
        event("file error: " + err.split(": ", 2)[-1][:40])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_portal_load_in_a_real_process(fuzz_db, tmp_path, seed):
    """The same invariants through a real `python -m portal load` (its exit code and its stderr)."""
    gen = _seeded(tmp_path, seed)
    before = _data(fuzz_db)
    db.close(fuzz_db)  # the child process opens the file itself
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "portal", "--db", str(fuzz_db), "load", gen.dataset, str(gen.path)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    _check(fuzz_db, gen, proc.returncode, proc.stdout, proc.stderr, before)


def _seeded(tmp: Path, seed: int) -> Generated:
    """A fixed hostile file per seed: overflows and NUL (1), a ragged GBK file with a long field (2), an XLSX
    with a formula without a value (3)."""
    if seed == 1:
        header = ["loan_id", "customer_id", "product", "principal", "annual_rate", "term_months", "disbursed_on"]
        rows = [["L9", "C1", "cash_loan", "3e17", "250", "12", "2025-01-15"],
                ["L10", "C1", "cash_loan", "100", "0.1", "99999999999", "2025-01-15"],
                ["L1\x00", "C1", "cash_loan", "100", "0.1", "12", "2025-01-15"],
                ["L11", "C1", "cash_loan", "100", "0.1", "12", "2025-01-15"]]
        path = tmp / "loans.csv"
        path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
        return Generated("loans", path, header, {i + 2: r for i, r in enumerate(rows)}, 4)
    if seed == 2:
        header = ["客户号", "姓名", "手机号", "省份"]
        rows = [["C7", "张" * (CSV_LIMIT + 1), "13812345678", "北京"], ["C8", "王五", "13812345679", "广东", "多余"]]
        path = tmp / "customers.csv"
        path.write_bytes(("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode("gbk"))
        return Generated("customers", path, header, {2: rows[0], 3: rows[1]}, 2)
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    header = ["payment_id", "loan_id", "paid_at", "amount"]
    ws.append(header)
    ws.append(["P7", "L1", "2025-06-05 12:00:00", "=2*50"])
    ws.append(["P8", "L1", "2025-06-05 12:00:00", "1" * 24])
    path = tmp / "payments.xlsx"
    wb.save(path)
    return Generated("payments", path, header, {2: ["P7", "L1", "2025-06-05 12:00:00", "=2*50"],
                                                3: ["P8", "L1", "2025-06-05 12:00:00", "1" * 24]}, 2)
