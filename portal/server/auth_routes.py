"""The sign-in cookie: Streamlit cannot set a cookie from a script, so the sign-in page hands the new
session to /account/session with a single-use code, and this route sets `portal_session` (signed,
HttpOnly, SameSite=Lax, Secure over https) and sends the browser on to the page it came for.
/account/signout ends the session and clears the cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal import auth
from portal.server import state

SESSION_PATH = "/account/session"
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's per-browser XSRF cookie: binds a sign-in code to its browser
SIGNOUT_PATH = "/account/signout"
_RESERVED = ("/account/", "/api/", "/_stcore/", "/auth/", "/oauth2callback", "/static/", "/media/", "/component/")


def safe_next(value: str | None, default: str = "/") -> str:
    """value when it is a same-origin relative path to a page (no scheme, host, `//` or backslash), else default.

    This is what keeps `?next=` from being an open redirect.
    """
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return default
    if any(ord(c) < 32 or c in "\\\x7f" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(_RESERVED):
        return default
    return value


def _cookie_key() -> bytes:
    return auth.session_key(state.db_path())


async def start_session(request: Request) -> Response:
    """GET /account/session?code=C: trade a sign-in hand-off for the session cookie; go to its page."""
    taken = state.take_handoff(request.query_params.get("code"), state.browser_token(request.cookies.get(XSRF_COOKIE)))
    if taken is None:
        return RedirectResponse("/signin?notice=signin_link", status_code=303)
    session_id, next_path = taken
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(auth.SESSION_COOKIE, auth.sign_session(session_id, _cookie_key()), httponly=True,
                        samesite="lax", secure=request.url.scheme == "https", path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


async def end_session(request: Request) -> Response:
    """GET /account/signout: end the cookie's session (if any), clear the cookie, go to the sign-in page."""
    session_id = auth.unsign_session(request.cookies.get(auth.SESSION_COOKIE), _cookie_key())
    if session_id is not None and state.db_path() is not None:
        await anyio.to_thread.run_sync(lambda: auth.revoke_session(session_id, "signed_out", db=state.db_path()))
    response = RedirectResponse(safe_next(request.query_params.get("next"), "/signin?notice=signed_out"),
                                status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> list[Route]:
    """The cookie routes."""
    return [Route(SESSION_PATH, start_session, methods=["GET"]), Route(SIGNOUT_PATH, end_session, methods=["GET"])]
