"""What the Streamlit script and the routes share in one server process: whether the custom routes
are served, which database the server owns, and one-time sign-in hand-offs (script -> cookie route)."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

HANDOFF_SECONDS = 60

_lock = threading.Lock()
_db_path: Path | None = None
_bridge_secret: str | None = None
_closed = False
_handoffs: dict[str, tuple[str, str, float]] = {}


def start(db_path: Path, bridge_secret: str) -> None:
    """Mark the server as serving db_path (its lifespan has opened the database and written the runfile)."""
    global _db_path, _bridge_secret, _closed
    with _lock:
        _db_path, _bridge_secret, _closed = db_path, bridge_secret, False


def stop() -> None:
    """Mark the server as stopping: the database is closed and must not be reopened by this process."""
    global _db_path, _bridge_secret, _closed
    with _lock:
        _db_path, _bridge_secret, _closed = None, None, True
        _handoffs.clear()


def bridge_secret() -> str | None:
    """The secret a CLI must present to the bridge (the one in the runfile), or None when not serving."""
    return _bridge_secret


def serving() -> bool:
    """Whether this process is a `portal serve` server with its routes (not a bare `streamlit run`)."""
    return _db_path is not None


def db_path() -> Path | None:
    """The database this server owns, or None when not serving."""
    return _db_path


def closed() -> bool:
    """Whether this server has shut down (its lifespan has closed the database)."""
    return _closed


def handoff(session_id: str, next_path: str) -> str:
    """A single-use code, valid HANDOFF_SECONDS, that /account/session trades for the session's cookie."""
    code = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for stale in [k for k, (_, _, at) in _handoffs.items() if now - at > HANDOFF_SECONDS]:
            del _handoffs[stale]
        _handoffs[code] = (session_id, next_path, now)
    return code


def take_handoff(code: str | None) -> tuple[str, str] | None:
    """The (session id, next path) of a hand-off code, once; None for an unknown, used or expired code."""
    with _lock:
        entry = _handoffs.pop(code or "", None)
    if entry is None or time.monotonic() - entry[2] > HANDOFF_SECONDS:
        return None
    return entry[0], entry[1]
