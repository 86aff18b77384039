"""Contract tests over registries: every named query has a result schema and a test, runs on the demo
database, and matches its schema; every UI string exists once in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal import db, i18n, navigation
from portal.schemas import RESULT_SCHEMAS

TESTS = Path(__file__).resolve().parents[1]
CONTRACT_COLUMNS = {
    "delinquency_buckets": ["as_of", "bucket", "loans", "outstanding", "overdue_amount"],
    "roll_rates": ["as_of", "from_bucket", "to_bucket", "loans", "share"],
    "delinquency_funnel": ["stage", "loans", "share_of_delinquent"],
    "escalation_funnel": ["step", "loans"],
    "channel_effectiveness": ["channel", "attempts", "reach_rate", "rpc_rate", "ptp_rate", "ptp_kept_rate",
                              "recovered_amount", "cost", "cost_per_yuan_recovered", "complaints",
                              "complaints_per_10k_attempts"],
    "complaint_sla": ["issue", "complaints", "resolved", "timely", "timely_rate", "median_days_to_resolve",
                      "open_overdue"],
    "policy_violations": ["rule", "violations", "loans_affected", "agents_affected"],
}
SAMPLE_PARAMS = {
    "date": "2026-06-30", "timestamp": "2026-06-30T12:00:00", "int": "1", "float": "1.0", "text[]": None,
}


def _test_sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in TESTS.rglob("test_*.py") if p.name != Path(__file__).name)


@pytest.mark.parametrize("name", sorted(db.named_queries()))
def test_every_query_has_schema_and_test(name):
    assert name in RESULT_SCHEMAS, f"queries/{name}.sql has no result schema in portal/schemas.py"
    assert re.search(rf"[\"']{name}[\"']", _test_sources()), f"queries/{name}.sql has no test"


@pytest.mark.parametrize("name", sorted(CONTRACT_COLUMNS))
def test_contract_queries_exist_with_contract_columns(name, tmp_db):
    if name not in db.named_queries():
        pytest.skip(f"{name} arrives with its issue")
    q = db.get_query(name)
    params = {}
    for p in q.params.values():
        if p.required:
            params[p.name] = p.choices[0] if p.choices else SAMPLE_PARAMS.get(p.type, "x")
    assert list(db.query(name, db=tmp_db, **params).columns) == CONTRACT_COLUMNS[name]


def test_every_query_runs_on_demo_and_matches_schema(demo_db):
    for name, q in db.named_queries().items():
        params = {}
        for p in q.params.values():
            if p.required:
                params[p.name] = p.choices[0] if p.choices else SAMPLE_PARAMS.get(p.type, "x")
        if any(v == "x" for v in params.values()):
            continue  # id-like params (one complaint, one loan) are exercised by their own tests
        frame = db.query(name, db=demo_db, **params)
        RESULT_SCHEMAS[name].validate(frame)


def test_catalogues_have_the_same_keys():
    en, zh = i18n.catalogue("en"), i18n.catalogue("zh")
    assert sorted(set(en) ^ set(zh)) == []


def test_every_page_has_a_title_in_both_languages():
    for spec in navigation.PAGES:
        for lang in i18n.LANGUAGES:
            assert i18n.t(f"nav.{spec.key}", lang)
            assert i18n.t(f"nav.section.{spec.section}", lang)


def test_pages_hold_no_sql_and_no_literal_ui_text():
    pages = Path(navigation.__file__).parent / "app_pages"
    literal_call = re.compile(
        r"st\.(title|header|subheader|caption|write|markdown|button|info|warning|error|success|"
        r"text_input|selectbox|checkbox|radio|metric|tabs|expander|form_submit_button)\(\s*[\"'][^\"']*[A-Za-z\u4e00-\u9fff]")
    for path in pages.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import duckdb" not in text and "db.read(" not in text and "db.write(" not in text, path.name
        assert not literal_call.search(text), f"{path.name} has literal UI text: {literal_call.search(text)[0]}"


def test_result_schemas_pin_columns_and_order():
    for name, model in RESULT_SCHEMAS.items():
        schema = model.to_schema()
        assert schema.strict is True and schema.ordered and schema.coerce, name
