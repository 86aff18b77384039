"""A demo as `portal serve` builds it on a first run (today's month, demo accounts added, then opened by
the server) has no stale derived table: the first page view rebuilds nothing and logs no notice."""

from __future__ import annotations

import logging

from portal import auth, db, demo, derived


def test_a_fresh_demo_as_serve_builds_it_has_no_stale_derived_table(tmp_path, caplog):
    path = tmp_path / "portal.duckdb"
    demo.build(path, loans=1500, seed=5)  # the current month, as `portal serve` builds it
    assert auth.ensure_demo_accounts(path)
    db.close(path)
    db.connect(path)  # opened again, as the server does (rule packs synced on open)
    cur = db.cursor(path)
    try:
        assert derived.stale(cur) == []
    finally:
        cur.close()
    with caplog.at_level(logging.WARNING, logger="portal.derived"):
        ran = 0
        for name, query in db.named_queries().items():
            if not any(spec.required for spec in query.params.values()):
                db.query(name, db=path)
                ran += 1
    assert ran > 10
    assert not [r for r in caplog.records if "stale" in r.getMessage()]
    db.close(path)
