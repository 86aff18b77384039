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
_handoffs: dict[str, tuple[str, str, str | None, float]] = {}


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


def handoff(session_id: str, next_path: str, browser: str | None = None) -> str:
    """A single-use code, valid HANDOFF_SECONDS, that /account/session trades for the session's cookie.

    `browser` identifies the browser that signed in (its Streamlit XSRF token, see browser_token): only a
    request from that browser may trade the code, so a code cannot sign someone else's browser in.
    """
    code = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for stale in [k for k, (*_, at) in _handoffs.items() if now - at > HANDOFF_SECONDS]:
            del _handoffs[stale]
        _handoffs[code] = (session_id, next_path, browser, now)
    return code


def take_handoff(code: str | None, browser: str | None = None) -> tuple[str, str] | None:
    """The (session id, next path) of a hand-off code, once; None for an unknown, used or expired code,
    or one asked for by another browser than the one that signed in."""
    with _lock:
        entry = _handoffs.pop(code or "", None)
    if entry is None or time.monotonic() - entry[3] > HANDOFF_SECONDS:
        return None
    if entry[2] is not None and not secrets.compare_digest(entry[2], browser or ""):
        return None
    return entry[0], entry[1]


def browser_token(xsrf_cookie: str | None) -> str | None:
    """The token inside Streamlit's `_streamlit_xsrf` cookie (stable per browser; the cookie's masked form
    changes each time it is set), as hex; the raw value for other forms; None without the cookie."""
    value = (xsrf_cookie or "").strip("\"'")
    if not value:
        return None
    parts = value.split("|")
    if parts[0] == "2" and len(parts) == 4:
        try:
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            return value
        if mask:
            return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)).hex()
    return value
