"""Audit-trail hot paths: public-form submits (alone and 20 threads at once), a bulk import of N
complaints in one transaction (one "imported" event each, row hashes in bulk), `portal load` of N
new complaints and then of N changes to them (through the lifecycle, 3 events each), and
verify_chain over the resulting trail.

    python -m bench.bench_audit --complaints 20000          # quick
    python -m bench.bench_audit --complaints 100000 --submits 500 --threads 20 --per-thread 50   # full size

Prints one JSON object. Runs against whatever `portal` is importable (PYTHONPATH), so the same
script times the old and the new chain.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from portal import complaints, db

FORM = {
    "name": "张三", "mobile": "13812345678", "loan_id": "", "issue": "communication_tactics",
    "channel": "phone", "description": "They called me eight times yesterday after 22:00.",
    "plan_type": "none", "plan_amount": None, "plan_months": None, "contact_time": "morning",
    "consent": True, "website": "",
}


def _write(fn, path):
    writer = getattr(complaints, "write", None)  # the anchored write path, where it exists
    return writer(fn, db=path) if writer else db.write(fn, db=path)


def bulk_import(path: Path, n: int) -> float:
    """Insert n complaints and their "imported" events in one transaction; return the seconds."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "complaint_id": [f"B{i:08d}" for i in range(n)],
        "received_at": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400 * 300, n), "s"),
        "source": rng.choice(["hotline", "email", "regulator"], n),
        "issue": rng.choice(["privacy", "other", "communication_tactics"], n),
        "narrative": [f"Complaint number {i} about the calls." for i in range(n)],
        "status": "new",
    })

    def fn(cur):
        cur.register("_bulk", frame)
        cur.execute("insert into complaints (complaint_id, received_at, source, issue, narrative, status)"
                    " select complaint_id, received_at, source, issue, narrative, status from _bulk")
        cur.unregister("_bulk")
        complaints.record_import_events(cur, frame["complaint_id"].tolist(), "bench", note="upload 1")

    started = time.perf_counter()
    _write(fn, path)
    return time.perf_counter() - started


def uploads(path: Path, work: Path, n: int) -> dict:
    """`portal load complaints` of n new complaints, then of the same n with issue and status changed
    (new -> investigating: three events per complaint through the lifecycle), timed."""
    from portal import ingest

    header = "complaint_id,received_at,source,issue,narrative,status\n"
    first, second = work / "complaints_new.csv", work / "complaints_changed.csv"
    first.write_text(header + "".join(f"U{i:08d},2026-05-01 10:00:00,hotline,other,complaint {i},new\n"
                                      for i in range(n)), encoding="utf-8")
    second.write_text(header + "".join(f"U{i:08d},2026-05-01 10:00:00,hotline,privacy,complaint {i},investigating\n"
                                       for i in range(n)), encoding="utf-8")
    out = {}
    for name, file in (("upload_new_s", first), ("upload_changed_s", second)):
        started = time.perf_counter()
        result = ingest.load_file("complaints", file, db=path, uploaded_by="bench")
        out[name] = round(time.perf_counter() - started, 2)
        assert result.rejected == 0, result.message
    out["upload_events"] = int(db.scalar("select count(*) from complaint_events where complaint_id like 'U%'", db=path))
    return out


def submits(path: Path, n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        assert complaints.submit(FORM, f"seq-{i}", db=path).ok
        out.append(time.perf_counter() - started)
    return out


def concurrent(path: Path, threads: int, per_thread: int) -> dict:
    errors: list[str] = []
    stored = []

    def worker(t: int) -> None:
        for i in range(per_thread):
            try:
                if complaints.submit(FORM, f"thr-{t}-{i}", db=path).ok:
                    stored.append(1)
            except Exception as exc:  # counted: a lost complaint is the figure this measures
                errors.append(type(exc).__name__ + ": " + str(exc).splitlines()[0][:80])

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return {"seconds": round(time.perf_counter() - started, 2), "stored": len(stored),
            "expected": threads * per_thread, "errors": len(errors), "first_error": errors[0] if errors else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--complaints", type=int, default=20_000)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--per-thread", type=int, default=10)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_audit_"))
    path = work / "audit.duckdb"
    db.connect(path)
    out: dict = {"portal": complaints.__file__, "complaints": args.complaints}
    seq = submits(path, args.submits)
    out["submit_ms_p50"] = round(statistics.median(seq) * 1000, 2)
    out["submit_ms_p95"] = round(sorted(seq)[int(len(seq) * 0.95) - 1] * 1000, 2)
    out["bulk_import_s"] = round(bulk_import(path, args.complaints), 2)
    out["concurrent"] = concurrent(path, args.threads, args.per_thread)
    out.update(uploads(path, work, args.complaints))
    events = db.scalar("select count(*) from complaint_events", db=path)
    started = time.perf_counter()
    result = complaints.verify_chain(db=path)
    out["verify_s"] = round(time.perf_counter() - started, 2)
    out["verify_events"] = int(events)
    out["verify_ok"] = bool(result.ok)
    out["verify_message"] = result.message
    db.close(path)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
