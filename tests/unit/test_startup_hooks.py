"""The data layer reaches the domain only through hooks registered at start-up (portal.startup)."""

from __future__ import annotations

import ast
import subprocess
import sys

from portal import config, db, derived, policy, startup

DOMAIN_MODULES = {"policy", "derived", "complaints", "ingest", "auth", "improvement", "masking", "risk", "kpis",
                  "demo", "report", "ui", "cli", "server", "startup", "spark", "navigation"}


def test_db_imports_no_domain_module_anywhere_in_its_source():
    tree = ast.parse((config.PACKAGE_DIR / "db.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("portal"):
            imported |= {a.name for a in node.names} | {node.module.split(".")[-1]}
        elif isinstance(node, ast.Import):
            imported |= {a.name.split(".")[-1] for a in node.names if a.name.startswith("portal")}
    assert imported & DOMAIN_MODULES == set(), imported


def test_startup_registers_each_hook_once():
    startup.register()
    startup.register()
    assert db._open_hooks.count(policy.sync_on_open) == 1
    assert db._query_hooks.count(startup.refresh_derived_for) == 1


def test_a_query_rebuilds_the_stale_derived_tables_it_reads(demo_db):
    table = next(name for name in derived.tables() if name in db.get_query("channel_effectiveness").sql)
    db.execute("delete from derived_state where name = $n", {"n": table}, db=demo_db)
    cur = db.cursor(demo_db)
    try:
        assert table in derived.stale(cur, [table])
    finally:
        cur.close()
    db.query("channel_effectiveness", db=demo_db)
    cur = db.cursor(demo_db)
    try:
        assert derived.stale(cur, [table]) == []
    finally:
        cur.close()


def test_opening_a_database_syncs_the_rule_packs(tmp_path):
    path = tmp_path / "fresh.duckdb"
    db.connect(path)
    try:
        packs = set(db.read("select pack from rule_packs", db=path)["pack"])
        assert {"cn", "us"} <= packs
    finally:
        db.close(path)


def test_hooks_run_in_order_and_a_refusing_open_hook_leaves_nothing_open(tmp_path):
    seen = []

    def first(conn):
        seen.append("open")

    def query_hook(q, database):
        seen.append(q.name)

    def refuse(conn):
        raise db.PortalDBError("refused")

    db.on_open(first)
    db.before_query(query_hook)
    try:
        db.query("month_ends", db=tmp_path / "a.duckdb")
        assert seen == ["open", "month_ends"]
        db.on_open(refuse)
        path = tmp_path / "b.duckdb"
        try:
            db.connect(path)
        except db.PortalDBError:
            pass
        else:
            raise AssertionError("the refusing hook did not stop the open")
        db.remove_hook(refuse)
        db.connect(path)  # the refused open released the file: a new open works
    finally:
        for fn in (first, query_hook, refuse):
            db.remove_hook(fn)
        db.close()


def test_a_bare_process_without_startup_warns_and_the_cli_registers_the_hooks(tmp_path):
    path = tmp_path / "bare.duckdb"
    code = ("import logging, sys; logging.basicConfig(); from portal import db; "
            f"db.connect({str(path)!r}); print(len(db._open_hooks), len(db._query_hooks))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["0", "0"] and "no start-up hooks" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "portal", "--db", str(path), "query", "policy_violations",
                           "--param", "pack=cn", "--param", "start=2026-01-01",
                           "--param", "end=2026-02-01"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "quiet_hours" in proc.stdout and "no start-up hooks" not in proc.stderr
