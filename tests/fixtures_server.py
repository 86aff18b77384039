"""A real `portal serve` for tests: a subprocess on a free port over a database file, and the `portal`
command as a user runs it beside it. Nothing here is mocked: HTTP goes over loopback with urllib."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from portal import db
from portal.server import runfile

START_TIMEOUT_S = 120  # a loaded machine; the test never asserts on speed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def portal_cli(db_path: Path, *args: str, stdin: str | None = None, cwd: Path | None = None,
               env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `portal --db DB ARGS...` in a fresh process and capture its output as bytes-exact text."""
    return subprocess.run([sys.executable, "-m", "portal", "--db", str(db_path), *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class PortalServer:
    """`portal serve` over db_path on a free port (start, request, stop with a signal)."""

    def __init__(self, db_path: Path, log_path: Path, env: dict | None = None):
        self.db_path, self.log_path, self.env = Path(db_path), Path(log_path), dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> PortalServer:
        db.close(self.db_path)  # this test process must not hold the file
        self._log = self.log_path.open("w")
        env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", **self.env)
        env.pop("PORTAL_DB", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "--db", str(self.db_path), "serve", "--port", str(self.port),
             "--address", "127.0.0.1", "--headless"], stdout=self._log, stderr=subprocess.STDOUT, env=env,
            cwd=self.db_path.parent)
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"portal serve exited with {self.proc.returncode}: {self.log()}")
            try:
                if self.request("GET", "/api/v1/health").status == 200 and runfile.find(self.db_path):
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.proc.kill()
        raise RuntimeError(f"portal serve did not start within {START_TIMEOUT_S} s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def request(self, method: str, path: str, *, token: str | None = None, body: bytes | None = None,
                headers: dict | None = None, json_body=None) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 (loopback test server)
                return Answer(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, dict(exc.headers), exc.read())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[float | None, float | None]:
        """Send sig; return (seconds until the port closed, seconds until the process exited)."""
        if self.proc is None or self.proc.poll() is not None:
            return None, None
        started = time.monotonic()
        self.proc.send_signal(sig)
        closed = exited = None
        while time.monotonic() - started < timeout:
            if closed is None and not port_open(self.port):
                closed = time.monotonic() - started
            if self.proc.poll() is not None:
                exited = time.monotonic() - started
                if closed is None:
                    closed = exited
                break
            time.sleep(0.05)
        if exited is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._log.close()
        return closed, exited
