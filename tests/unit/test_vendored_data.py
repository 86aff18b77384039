"""The real public data the tests use lives in the repository, unchanged, so a fresh clone needs nothing beside it."""

from __future__ import annotations

import ast
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


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def outside_paths(source: str) -> list[str]:
    """Code (not docstrings or comments) that reaches for ../shared: a path string, or `/ "shared"`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if re.search(r"\.\./shared|shared/external", node.value):
                found.append(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value == "shared":
                    found.append(ast.unparse(node))
    return found


def test_the_outside_path_check_catches_what_it_should():
    assert outside_paths('EXTERNAL = ROOT.parent / "shared" / "external"\n')
    assert outside_paths('open("../shared/external/x.csv")\n')
    assert outside_paths('"""Copied from ../shared/external."""\nDATA = ROOT / "tests" / "data"\n') == []


def test_no_test_reads_data_from_outside_the_repository():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                 if p.name != Path(__file__).name and outside_paths(p.read_text(encoding="utf-8"))]
    assert offenders == []
