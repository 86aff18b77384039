"""The SQL function contact_check_rules behind queries/contact_check.sql: the same engine, called by DuckDB."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portal import config
from portal.prevention.rules import Contact, Debtor, Pack, evaluate, opted_out_channels, render


def _udf(pack_row: Mapping[str, Any], contact: Mapping[str, Any], debtor: Mapping[str, Any],
         log: Iterable[Mapping[str, Any]] | None, lang: str) -> list[dict[str, Any]]:
    pack = Pack.from_row(pack_row)
    entries = list(log or [])
    d = Debtor(debtor["customer_id"], debtor["tz"], opted_out_channels(debtor["opted_out_channels"]),
               [e["at_us"] for e in entries], [e["loan_id"] for e in entries], [e["kind"] for e in entries])
    c = Contact(contact["loan_id"], contact["channel"], contact["party"], contact["at_us"], contact["collectors"])
    v = evaluate(pack, d, c)
    if v.allowed:
        return [{"allowed": True, "rule": None, "reason": None, "next_allowed_us": None}]
    return [{"allowed": False, "rule": b.rule, "reason": render(b, lang or "en"), "next_allowed_us": v.next_allowed_us}
            for b in v.blocks]


def register_functions(conn: Any) -> None:
    """Install contact_check_rules (the engine) and contact_check_active_pack on a DuckDB connection."""
    import duckdb
    from duckdb import sqltypes as T

    pack_type = duckdb.struct_type({
        "pack": T.VARCHAR, "rules": duckdb.list_type(T.VARCHAR), "timezone_default": T.VARCHAR,
        "quiet_start_s": T.INTEGER, "quiet_end_s": T.INTEGER, "exempt_channels": duckdb.list_type(T.VARCHAR),
        "connected_calls_per_day": T.INTEGER, "unanswered_calls_per_day": T.INTEGER,
        "third_party_after_rpc_days": T.INTEGER, "visit_min_collectors": T.INTEGER, "calls_in_window": T.INTEGER,
        "call_window_days": T.INTEGER, "no_call_after_conversation_days": T.INTEGER})
    contact_type = duckdb.struct_type({"loan_id": T.VARCHAR, "channel": T.VARCHAR, "party": T.VARCHAR,
                                       "at_us": T.BIGINT, "collectors": T.BIGINT})
    debtor_type = duckdb.struct_type({"customer_id": T.VARCHAR, "tz": T.VARCHAR,
                                      "opted_out_channels": T.VARCHAR})
    log_type = duckdb.list_type(duckdb.struct_type({"at_us": T.BIGINT, "loan_id": T.VARCHAR, "kind": T.UTINYINT}))
    result_type = duckdb.list_type(duckdb.struct_type({"allowed": T.BOOLEAN, "rule": T.VARCHAR, "reason": T.VARCHAR,
                                                       "next_allowed_us": T.BIGINT}))
    existing = {r[0] for r in conn.execute(
        "select function_name from duckdb_functions() where function_name like 'contact_check_%'").fetchall()}
    if "contact_check_rules" not in existing:
        conn.create_function("contact_check_rules", _udf, [pack_type, contact_type, debtor_type, log_type, T.VARCHAR],
                             result_type, null_handling="special", side_effects=False)
    if "contact_check_active_pack" not in existing:
        conn.create_function("contact_check_active_pack", lambda: str(config.setting("rule_pack")), [], T.VARCHAR,
                             side_effects=True)
