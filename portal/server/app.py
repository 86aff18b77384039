"""The portal's server: one Streamlit `st.App` serving the pages, the HTTP API, the sign-in cookie routes
and the CLI bridge on one port.

Its lifespan opens the process's one read-write DuckDB connection, writes the runfile the CLI finds, and
on SIGTERM or SIGINT (uvicorn stops accepting, then runs the lifespan's exit) writes the queued token
log, removes the runfile and closes the database, so the port closes at once and the file is free.

Run it with `portal serve`; `streamlit run portal/server/app.py` and `uvicorn portal.server.app:app`
work too. `streamlit run portal/streamlit_app.py` still runs the pages alone, for development.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import streamlit as st
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

import portal.startup  # noqa: F401 (registers the data layer's hooks)
from portal import auth, config, db
from portal.server import api, auth_routes, bridge, runfile, state, usage

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger("portal.server")
SCRIPT = config.PACKAGE_DIR / "streamlit_app.py"
JSON_PREFIXES = ("/api/",)


class JsonErrors:
    """ASGI middleware: an exception under /api becomes a one-line JSON 500, never a traceback."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(JSON_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("error answering %s %s", scope.get("method"), scope["path"])
            if started:
                raise
            response = api.error_response(500, "internal error; the server log has the details")
            await response(scope, receive, send)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's HTTP errors (404, 405, ...): JSON under /api, plain text elsewhere as before."""
    if request.url.path.startswith(JSON_PREFIXES):
        return api.error_response(exc.status_code, exc.detail, headers=exc.headers)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def _refuse_after_shutdown(conn: Any) -> None:
    """db.on_open hook in the server: once the lifespan has closed the database, nothing reopens it."""
    if state.closed():
        raise db.PortalDBError("the portal server is shutting down")


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[dict[str, str]]:
    """Open the database and publish the runfile; on shutdown, undo both, in order."""
    from streamlit import config as st_config

    path = config.db_path().resolve()
    await anyio.to_thread.run_sync(db.connect, path)
    run = runfile.write(path, st_config.get_option("server.address"), st_config.get_option("server.port"))
    state.start(path, run.secret)
    usage.start(path)
    log.log(logging.INFO, "portal serving %s on %s (runfile %s)", path, run.url, runfile.path_for(path))
    try:
        yield {"db": str(path)}
    finally:
        state.stop()
        runfile.remove(run)
        usage.stop()
        await anyio.to_thread.run_sync(auth.flush_session_touches)
        db.close(path)
        log.log(logging.INFO, "portal stopped: %s closed", path)


def routes() -> list[Route]:
    """The portal's own routes, before Streamlit's: the API, the CLI bridge, the cookie routes."""
    return [*api.ROUTES, Route(bridge.PATH, bridge.endpoint, methods=["POST"]), *auth_routes.routes(),
            *api.routes()[len(api.ROUTES):]]


def _log_to_stderr() -> None:
    """The portal's own log lines (start, stop, commands run for the CLI) go to stderr: the service's log."""
    portal_log = logging.getLogger("portal")
    if not portal_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        portal_log.addHandler(handler)
    portal_log.setLevel(logging.INFO)


def serve(db_path: Path, *, address: str, port: int, headless: bool) -> None:
    """Run the portal on address:port over db_path until SIGTERM or SIGINT (this call blocks)."""
    _log_to_stderr()
    os.environ["PORTAL_DB"] = str(db_path)
    # The shipped .streamlit/config.toml (hardening, upload limit) is read from the working directory.
    os.chdir(config.ROOT_DIR)
    # App.run anchors sys.path and Streamlit's script-level config on argv[0]: make that the pages'
    # script, as `streamlit run portal/streamlit_app.py` does, not the `portal` launcher.
    sys.argv = [str(SCRIPT)]
    app.run(config={"server.port": port, "server.address": address, "server.headless": headless,
                    "server.fileWatcherType": "none", "server.runOnSave": False})


db.on_open(_refuse_after_shutdown)
# A plain `app = st.App(...)` at module level: `streamlit run portal/server/app.py` finds it by reading the file.
app = st.App(SCRIPT, lifespan=lifespan, routes=routes(), middleware=[Middleware(JsonErrors)],
             exception_handlers={HTTPException: http_error})
