"""The README's `portal load` examples, run as written on a fresh demo: every sample file, in the
README's order, exits with the code the README states (only the planted rows are quarantined)."""

from __future__ import annotations

import re
import subprocess
import sys

from portal import audit, db
from tests.conftest import ROOT

EXAMPLE = re.compile(r"^portal load (\w+) (data/samples/\S+)\s+# exit (\d)", re.M)


def readme_loads() -> list[tuple[str, str, int]]:
    return [(m[1], m[2], int(m[3])) for m in EXAMPLE.finditer((ROOT / "README.md").read_text(encoding="utf-8"))]


def test_the_readme_names_every_sample_file_with_its_exit_code():
    named = [path for _, path, _ in readme_loads()]
    assert named[0] == "data/samples/contacts_with_errors.csv"
    assert sorted(named) == sorted(f"data/samples/{p.name}" for p in (ROOT / "data" / "samples").iterdir())


def test_each_readme_sample_exits_as_the_readme_says_on_a_fresh_demo(demo_db_template, tmp_path):
    path = tmp_path / "portal.duckdb"
    audit.copy_database(demo_db_template, path)  # a fresh demo, with its audit key
    for dataset, sample, code in readme_loads():
        proc = subprocess.run([sys.executable, "-m", "portal", "--db", str(path), "load", dataset, sample],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == code, (sample, proc.stdout, proc.stderr)
    # the planted rows, and no others, are in quarantine: 3 contacts, 2 customers, 1 loan, 2 snapshots,
    # 1 complaint (as tests/unit/test_ingest_files.py plants them on an empty database)
    counts = db.read("select dataset, count(distinct row_number) as n from quarantine group by dataset order by 1",
                     db=path)
    assert dict(zip(counts["dataset"], counts["n"], strict=True)) == {
        "complaints": 1, "contacts": 3, "customers": 2, "loans": 1, "snapshots": 2}
    db.close(path)
