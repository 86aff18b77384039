"""The real public data the tests use lives in the repository, unchanged, so a fresh clone needs nothing beside it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.conftest import EXTERNAL, ROOT


def _readme_hashes() -> dict[str, str]:
    text = (EXTERNAL / "README.md").read_text(encoding="utf-8")
    return {m[1]: m[2] for m in re.finditer(r"^\| (\S+\.csv) \|.*\| ([0-9a-f]{64}) \|$", text, re.M)}


def test_every_vendored_file_is_named_in_the_readme_with_its_hash():
    hashes = _readme_hashes()
    files = sorted(p.name for p in EXTERNAL.glob("*.csv"))
    assert files and sorted(hashes) == files
    for name, expected in hashes.items():
        assert hashlib.sha256((EXTERNAL / name).read_bytes()).hexdigest() == expected, name


def test_readme_names_a_source_and_a_licence_for_each_file():
    text = (EXTERNAL / "README.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.match(r"^\| \S+\.csv \|", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert len(cells) == 5 and "@" in cells[2] and cells[3], line


def test_no_test_reads_data_from_outside_the_repository():
    pattern = re.compile(r"""(\.\./|parent\s*/\s*["'])shared|["']shared["']\s*/\s*["']external""")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                 if p.name != Path(__file__).name and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
