"""The API token use log, written in the background: a request never waits on a write transaction (an
upload may hold the write path for minutes); entries reach `api_token_uses` within FLUSH_SECONDS, and
every entry still queued is written when the server stops."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from pathlib import Path

from portal import auth

log = logging.getLogger(__name__)
FLUSH_SECONDS = 1.0

_queue: queue.Queue[dict] = queue.Queue()
_stop = threading.Event()
_thread: threading.Thread | None = None
_db_path: Path | None = None


def record(token_name: str | None, role: str | None, method: str, path: str, status: int,
           client: str | None) -> None:
    """Queue one API request for the log (token_name None: no valid token was presented)."""
    _queue.put({"used_at": dt.datetime.now(dt.UTC), "token_name": token_name, "role": role, "method": method,
                "path": path[:500], "status": int(status), "client": client})


def flush() -> int:
    """Write every queued entry now; return how many."""
    rows = []
    while True:
        try:
            rows.append(_queue.get_nowait())
        except queue.Empty:
            break
    if rows and _db_path is not None:
        try:
            auth.record_token_uses(rows, db=_db_path)
        except Exception:  # the log must never take the server down; say so loudly instead
            log.exception("could not write %d API token use(s) to the log", len(rows))
    return len(rows)


def _run() -> None:
    while not _stop.wait(FLUSH_SECONDS):
        flush()


def start(db_path: Path) -> None:
    """Start the background writer for the server's database."""
    global _thread, _db_path
    _db_path = db_path
    _stop.clear()
    _thread = threading.Thread(target=_run, name="portal-token-log", daemon=True)
    _thread.start()


def stop() -> None:
    """Stop the writer and write what is still queued (call before the database closes)."""
    global _thread, _db_path
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=10)
        _thread = None
    flush()
    _db_path = None
