"""Hardening checks over the code and configuration: no HTML from the app, formula-safe exports,
secrets only from secrets.toml or the environment, and the Streamlit server settings."""

from __future__ import annotations

import ast
import csv
import io
import re
import subprocess
import tomllib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from portal import config, export

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "portal"
PAYLOADS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "\x00=1",
            '=HYPERLINK("http://evil.example","x")', "=cmd|' /C calc'!A0", "-", "@"]
# Calls that render their text as markdown or HTML: their text must come from the catalogue.
MARKDOWN_CALLS = {"markdown", "write", "caption", "html", "latex", "write_stream", "title", "header", "subheader",
                  "success", "info", "warning", "error", "toast"}
SAFE_TEXT_SOURCES = {"t", "label"}


def _python_files(base: Path = PORTAL) -> list[Path]:
    return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def _imports_streamlit(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "streamlit" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "streamlit":
            return True
    return False


def _is_catalogue_text(node: ast.AST) -> bool:
    """A string literal, t(...)/label(...) (also as i18n.t / i18n.label), or a concatenation of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_catalogue_text(node.left) and _is_catalogue_text(node.right)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in SAFE_TEXT_SOURCES
    return False


# Reviewed lines that pass a variable to a markdown call, by file and exact source text. Editing such a
# line makes the scan fail again until it is reviewed anew.
REVIEWED = {
    ("portal/app_pages/rights.py", 'st.markdown("- " + line)'): "line is catalogue text with rule-pack numbers",
    ("portal/app_pages/improvement.py", 'st.success(notice, icon=":material/check_circle:")'):
        "notice is t('improvement.actions.*') with a generated action id",
    ("portal/app_pages/complaint_detail.py", '(st.success if message[0] == "ok" else st.error)(message[1])'):
        "message is t(...) or ComplaintError.localized(): catalogue text with fixed field/status values",
    ("portal/app_pages/complaint_detail.py", '(st.success if level == "ok" else st.error)(notice)'):
        "notice joins t(key, ...) parts kept by the plan callback: catalogue text with plan ids and field names",
    ("portal/app_pages/complaint_detail.py", "st.caption(label)"):
        "label is t('complaints.detail.*'): the request block's catalogue labels",
    ("portal/app_pages/complaint_detail.py", 'st.markdown(f"**{value}**")'):
        "value is a code label (i18n.label), plans.format_amount or t('...months_value', n=int): never typed text",
}


def markdown_findings(source: str, filename: str = "<code>") -> list[str]:
    """Every place in source that could render user data as HTML or markdown."""
    tree = ast.parse(source, filename)
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
            findings.append(f"{filename}:{node.value.lineno}: unsafe_allow_html")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit.components"):
            findings.append(f"{filename}:{node.lineno}: streamlit.components (raw HTML/JS)")
    if not _imports_streamlit(tree):
        return findings
    containers = _streamlit_containers(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.IfExp):  # (st.success if ok else st.error)(message)
            func = next((f for f in (func.body, func.orelse)
                         if isinstance(f, ast.Attribute) and f.attr in MARKDOWN_CALLS), func.body)
        if not isinstance(func, ast.Attribute):
            continue
        method = func.attr
        if method.startswith("write") and _root_name(func.value) not in containers:
            continue  # file.write, buffer.write...: not UI output
        if method == "html":
            findings.append(f"{filename}:{node.lineno}: .html(...)")
        elif method in MARKDOWN_CALLS and not all(_is_catalogue_text(arg) for arg in node.args):
            if (filename, ast.get_source_segment(source, node)) in REVIEWED:
                continue
            findings.append(f"{filename}:{node.lineno}: .{method}(...) of a value that may hold user data")
    return findings


def _root_name(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _streamlit_containers(tree: ast.AST) -> set[str]:
    """`st` and every name bound from a streamlit call (columns, containers, tabs, popovers...)."""
    names = {"st"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _root_name(node.value) == "st":
            for target in node.targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.withitem) and node.optional_vars is not None and _root_name(node.context_expr) == "st":
            names |= {n.id for n in ast.walk(node.optional_vars) if isinstance(n, ast.Name)}
    return names


def test_scanner_catches_what_it_should():
    bad = (
        "import streamlit as st\n"
        "st.markdown('<b>x</b>', unsafe_allow_html=True)\n"
        "st.html('<p>x</p>')\n"
        "st.write(row['narrative'])\n"
        "left, right = st.columns(2)\n"
        "left.write(name)\n"
        "col.markdown(f'**{name}**')\n"
        "st.sidebar.caption(user.display_name)\n"
        "st.error(str(exc))\n"
        "(st.success if ok else st.error)(message)\n"
        "st.write(t('a.b'), narrative)\n"
        "st.markdown('- ' + narrative)\n"
        "from streamlit.components.v1 import html\n"
    )
    assert len(markdown_findings(bad)) == 11, markdown_findings(bad)
    good = (
        "import streamlit as st\n"
        "st.write(t('home.intro'))\n"
        "st.markdown('**static**')\n"
        "st.caption(i18n.label('channel', 'sms'))\n"
        "st.markdown('- ' + t('a.b'))\n"
        "st.text(narrative)\n"
        "buf.write(data)\n"
    )
    assert markdown_findings(good) == []
    # Domain modules do not import streamlit, so their file writes are not UI output.
    assert markdown_findings("fh.write(data)\n") == []


def test_no_html_or_markdown_from_user_data_in_portal():
    findings = []
    for path in _python_files():
        findings += markdown_findings(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert findings == [], "render user text with st.text / ui.plain_text / dataframes:\n" + "\n".join(findings)


def test_no_unsafe_allow_html_anywhere_in_the_code():
    hits = [str(p.relative_to(ROOT)) for p in _python_files() if "unsafe_allow_html" in p.read_text(encoding="utf-8")]
    assert hits == []
    hits = [str(p.relative_to(ROOT)) for p in _python_files() if re.search(r"\bst\.html\s*\(", p.read_text("utf-8"))]
    assert hits == []


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "payload": PAYLOADS,
        "=HEADER": ["safe"] * len(PAYLOADS),
        "amount": [-5.5] * len(PAYLOADS),
        "note": pd.array(["ok"] * (len(PAYLOADS) - 1) + [None], dtype="string"),
    })


def test_csv_export_neutralises_formula_payloads_in_cells_and_headers():
    raw = export.to_csv_bytes(_frame())
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["payload", "'=HEADER", "amount", "note"]
    assert [r[0] for r in rows[1:]] == ["'" + p for p in PAYLOADS]
    assert [r[2] for r in rows[1:]] == ["-5.5"] * len(PAYLOADS)  # numbers stay numbers
    assert rows[-1][3] == ""


def test_xlsx_export_neutralises_formula_payloads_and_stores_no_formulas():
    wb = openpyxl.load_workbook(io.BytesIO(export.to_xlsx_bytes(_frame())))
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    # headers are the columns' labels where the catalogue has one (`note` is a result column)
    assert rows[0] == ("payload", "'=HEADER", "amount", "Note")
    # XLSX cannot hold NUL (or other C0 controls but tab/CR/LF): they are dropped before the prefix is
    # added; XML reads a CR back as LF.
    assert [r[0] for r in rows[1:]] == ["'" + p.replace("\x00", "").replace("\r", "\n") for p in PAYLOADS]
    assert [r[2] for r in rows[1:]] == [-5.5] * len(PAYLOADS)
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate


def test_xlsx_control_characters_cannot_hide_a_formula():
    frame = pd.DataFrame({"\x01=H": ["\x01=1+1", "\x1f@x", "a\x00b"]})
    ws = openpyxl.load_workbook(io.BytesIO(export.to_xlsx_bytes(frame))).active
    assert list(ws.iter_rows(values_only=True)) == [("'=H",), ("'=1+1",), ("'@x",), ("ab",)]


def test_csv_cell_with_bare_cr_stays_in_its_row():
    raw = export.to_csv_bytes(pd.DataFrame({"a": ["x\ry", "z"], "b": [1, 2]}))
    back = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert back.shape == (2, 2) and back["b"].tolist() == [1, 2]


def test_every_formula_prefix_is_covered():
    for prefix in ("=", "+", "-", "@", "\t", "\r", "\x00"):
        assert export.safe_cell(prefix + "x") == "'" + prefix + "x"
    assert export.safe_cell("张三") == "张三"
    assert export.safe_cell(-1) == -1


def _streamlit_config() -> dict:
    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_upload_limit_in_streamlit_config_matches_the_portal_setting():
    assert _streamlit_config()["server"]["maxUploadSize"] == config.DEFAULTS["max_upload_mb"]


def test_streamlit_server_hardening():
    cfg = _streamlit_config()
    server = cfg["server"]
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    assert server["enableStaticServing"] is False
    assert server["enableAgentApi"] is False
    assert cfg["client"]["showErrorDetails"] in (False, "none")
    assert cfg["browser"]["gatherUsageStats"] is False


SECRET_PATTERNS = [
    re.compile(r"""(?i)\b\w*(password|passwd|pwd|secret|api_?key|token)\w*['"]?"""
               r"""\s*[:=]\s*['"][^'"\s{}]{6,}['"]"""),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bsk-[A-Za-z0-9]{20,}\b"),
]


def secret_findings(text: str) -> list[str]:
    """Lines that look like a hard-coded password or key (commented lines excepted)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        if any(p.search(line) for p in SECRET_PATTERNS):
            out.append(f"{number}: {line.strip()}")
    return out


def test_secret_scanner_catches_what_it_should():
    assert secret_findings('ADMIN_PASSWORD = "hunter2hunter2"\n')
    assert secret_findings("client_secret='abcdefgh1234'\n")
    assert secret_findings('{"api_key": "abcdef123456"}\n')
    assert secret_findings("-----BEGIN RSA PRIVATE KEY-----\n")
    assert secret_findings('# cookie_secret = "a-long-random-string"\n') == []
    assert secret_findings('password = st.text_input(t("auth.password"))\n') == []


def test_no_hard_coded_passwords_or_keys_in_shipped_files():
    # UI catalogues (portal/locales) hold labels such as password = "Password", not secrets.
    tomls = [p for p in PORTAL.rglob("*.toml") if "locales" not in p.parts]
    files = _python_files() + sorted((ROOT / "queries").rglob("*.sql")) + tomls
    files += [p for p in (ROOT / ".streamlit").glob("*") if p.is_file() and p.name != "secrets.toml"]
    files += sorted((ROOT / "scripts").glob("*")) if (ROOT / "scripts").is_dir() else []
    findings = []
    for path in files:
        if path.is_file():
            findings += [f"{path.relative_to(ROOT)}:{hit}" for hit in secret_findings(path.read_text("utf-8"))]
    assert findings == []


def test_real_secrets_file_is_never_committed():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".streamlit/secrets.toml" in ignored
    tracked = subprocess.run(["git", "ls-files", ".streamlit"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert ".streamlit/secrets.toml" not in tracked


@pytest.mark.parametrize("name", ["db", "timezone", "session_timeout_minutes", "max_upload_mb"])
def test_settings_come_from_the_environment_first(monkeypatch, name):
    value = "42" if isinstance(config.DEFAULTS[name], int) else "from-env"
    monkeypatch.setenv(f"PORTAL_{name.upper()}", value)
    assert str(config.setting(name)) == value


def documented_csp() -> str:
    """The Content-Security-Policy of the nginx snippet in docs/DEPLOYMENT.md."""
    text = (ROOT / "docs" / "DEPLOYMENT.md").read_text(encoding="utf-8")
    return re.search(r'add_header Content-Security-Policy "([^"]+)" always;', text).group(1)


def test_documented_csp_allows_exactly_streamlits_inline_scripts():
    import base64
    import hashlib

    import streamlit

    html = (Path(streamlit.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline}
    script_src = next(d for d in documented_csp().split(";") if d.strip().startswith("script-src")).split()[1:]
    assert set(script_src) - {"'self'"} == hashes, f"update the CSP in docs/DEPLOYMENT.md to: {sorted(hashes)}"
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in documented_csp()
