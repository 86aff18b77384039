"""The CLI beside the server: a `portal` command on a database that a server holds is run by the server.

The caller finds the server through the runfile beside the database, and POSTs its argv, working
directory, stdin and user to /api/internal/cli with the runfile's secret. The server parses the argv
with the same parser and runs the same command function in a worker thread, its output going to
buffers (never the process's sys.stdout), and answers with the exit code, stdout and stderr, which the
caller prints as its own. When no server is found, or it does not answer, the caller opens the file.
"""

from __future__ import annotations

import argparse
import hmac
import http.client
import json
import logging
import os
import socket
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from portal.server import runfile, state

if TYPE_CHECKING:
    from portal.cli import Io

log = logging.getLogger(__name__)
PATH = "/api/internal/cli"
RUNFILE_HEADER = "X-Portal-Runfile-Secret"
MAX_BODY = 1 << 20  # argv, cwd and a piped password: small
_CONNECT_TIMEOUT_S = 3.0


def _reachable(run: runfile.Runfile) -> bool:
    try:
        with socket.create_connection((run.host, run.port), timeout=_CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def forward(args: argparse.Namespace, argv: list[str], streams: Io) -> int | None:
    """Hand a parsed command to the server of its database and print its answer; None when none runs."""
    from portal import cli, config

    path = config.db_path(args.db).resolve()
    run = runfile.find(path)
    if run is None or not _reachable(run):
        return None
    prepare = getattr(args, "prepare", None)
    stdin_text = ""
    if prepare is not None:
        args.io = streams
        try:
            stdin_text = prepare(args)
        except cli.CliError as exc:
            print(f"portal: {exc}", file=streams.err)
            return exc.code
    payload = {"argv": argv, "cwd": os.getcwd(), "stdin": stdin_text, "user": streams.user, "db": str(path)}
    request = urllib.request.Request(
        run.url + PATH, data=json.dumps(payload).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json", RUNFILE_HEADER: run.secret},
    )
    try:
        # No read timeout: a load of a large file takes as long as it takes.
        with urllib.request.urlopen(request) as response:  # noqa: S310 (a loopback http URL from our runfile)
            answer = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read().decode("utf-8")).get("error", "")
        except (ValueError, AttributeError):
            reason = ""
        print(f"portal: the server at {run.url} refused the command ({exc.code}{': ' + reason if reason else ''})",
              file=streams.err)
        return cli.EXIT_USAGE
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as exc:
        print(f"portal: lost the server at {run.url} while it ran the command ({exc}); "
              "check whether it finished before running it again", file=streams.err)
        return cli.EXIT_USAGE
    streams.out.write(answer["stdout"])
    streams.out.flush()
    streams.err.write(answer["stderr"])
    streams.err.flush()
    return int(answer["code"])


def _is_loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or (host or "").startswith("127.")


async def endpoint(request: Any) -> Any:
    """POST /api/internal/cli: run a `portal` command for a CLI on this machine (runfile secret required)."""
    import anyio
    from starlette.responses import JSONResponse

    from portal import cli

    secret = state.bridge_secret()
    presented = request.headers.get(RUNFILE_HEADER, "")
    client = request.client.host if request.client else None
    if secret is None or not _is_loopback(client) or not hmac.compare_digest(presented.encode(), secret.encode()):
        return JSONResponse({"error": "not found"}, status_code=404)
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "request too large"}, status_code=413)
    try:
        payload = json.loads(body)
        argv = [str(a) for a in payload["argv"]]
        cwd, stdin, user, db = str(payload["cwd"]), str(payload["stdin"]), str(payload["user"]), str(payload["db"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "malformed request"}, status_code=400)
    if db != str(state.db_path()):
        return JSONResponse({"error": f"this server serves {state.db_path()}, not {db}"}, status_code=409)
    log.info("running `portal %s` for %s", " ".join(argv[:3]), user)
    code, out, err = await anyio.to_thread.run_sync(
        lambda: cli.run_for_caller(argv, cwd=cwd, stdin=stdin, user=user, db_path=db), limiter=_limiter())
    return JSONResponse({"code": code, "stdout": out, "stderr": err})


_LIMITER = None


def _limiter():
    global _LIMITER
    if _LIMITER is None:
        import anyio

        _LIMITER = anyio.CapacityLimiter(4)
    return _LIMITER
