"""`portal load` as a user runs it: counts on stdout and the contract's exit codes."""

from __future__ import annotations

import subprocess
import sys

from portal import db
from tests.fixtures_uploads import CUSTOMER_HEADER, write_csv

GOOD = ["C1", "张三", "13812345678", "11010519491231002X", "北京", "", ""]
BAD = ["C2", "李四", "1381234567", "", "上海", "", ""]


def portal_load(db_path, *args: str) -> subprocess.CompletedProcess:
    db.close(db_path)
    return subprocess.run([sys.executable, "-m", "portal", "--db", str(db_path), "load", *args],
                          capture_output=True, text=True, timeout=120)


def test_exit_codes_all_loaded_some_quarantined_nothing_loaded(tmp_db, tmp_path):
    good = write_csv(tmp_path / "good.csv", CUSTOMER_HEADER, [GOOD])
    mixed = write_csv(tmp_path / "mixed.csv", CUSTOMER_HEADER, [GOOD, BAD])
    proc = portal_load(tmp_db, "customers", str(good))
    assert proc.returncode == 0, proc.stderr
    assert "1 rows accepted, 0 rejected" in proc.stdout
    proc = portal_load(tmp_db, "customers", str(mixed))
    assert proc.returncode == 3, proc.stderr
    assert "1 rows accepted, 1 rejected" in proc.stdout
    proc = portal_load(tmp_db, "customers", str(mixed), "--strict")
    assert proc.returncode == 2, proc.stderr
    assert "0 rows accepted, 1 rejected" in proc.stdout
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    proc = portal_load(tmp_db, "customers", str(empty))
    last = proc.stderr.strip().splitlines()[-1]  # (third-party import warnings may come first)
    assert proc.returncode == 2 and last == "portal: nothing loaded: empty.csv is empty"
    assert db.scalar("select count(*) from customers", db=tmp_db) == 1
    assert db.scalar("select count(*) from uploads", db=tmp_db) == 4
