"""The per-run file a server writes beside its database, so that a `portal` command on the same machine
hands its work to the server instead of failing on DuckDB's one-writer lock.

`<database>.server.json` holds the server's PID, the loopback address and port to reach it, and a random
secret the bridge checks. It is written atomically with mode 0600 (the server's user only), removed on
a clean shutdown, and ignored when stale (its PID is gone), foreign (another user's) or readable by others.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

SUFFIX = ".server.json"
LOOPBACK = {"", "0.0.0.0", "localhost", "127.0.0.1"}  # noqa: S104 (the bind-all address maps to loopback)


@dataclass(frozen=True)
class Runfile:
    """What a running server publishes about itself."""

    db: str
    pid: int
    host: str
    port: int
    secret: str
    started_at: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def path_for(db_path: str | Path) -> Path:
    """Where the runfile of the database at db_path lives."""
    resolved = Path(db_path).resolve()
    return resolved.with_name(resolved.name + SUFFIX)


def connect_host(address: str | None) -> str:
    """The address a local client uses to reach a server bound to `address`."""
    if address is None or address in LOOPBACK:
        return "127.0.0.1"
    if address in ("::", "::1"):
        return "::1"
    return address


def write(db_path: str | Path, address: str | None, port: int) -> Runfile:
    """Publish this process as the server of db_path (atomically, mode 0600) and return what was written."""
    run = Runfile(db=str(Path(db_path).resolve()), pid=os.getpid(), host=connect_host(address), port=int(port),
                  secret=secrets.token_urlsafe(32), started_at=dt.datetime.now(dt.UTC).isoformat())
    target = path_for(db_path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(asdict(run), indent=1).encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return run


def remove(run: Runfile) -> None:
    """Delete the runfile if it is still this server's (a newer server may have replaced it)."""
    target = path_for(run.db)
    current = _load(target)
    if current is not None and current.secret == run.secret:
        target.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's: the ownership check below refuses it anyway
        return True
    return True


def _load(target: Path) -> Runfile | None:
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        return Runfile(db=str(data["db"]), pid=int(data["pid"]), host=str(data["host"]), port=int(data["port"]),
                       secret=str(data["secret"]), started_at=str(data.get("started_at", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find(db_path: str | Path) -> Runfile | None:
    """The live server of db_path, or None: no runfile, a stale one (PID gone), or one that is not safe
    to trust (not owned by this user, or readable or writable by group or others)."""
    target = path_for(db_path)
    try:
        info = target.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        return None
    run = _load(target)
    if run is None or run.db != str(Path(db_path).resolve()) or not _alive(run.pid):
        return None
    return run
