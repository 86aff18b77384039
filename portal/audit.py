"""The audit trail's secrets and witnesses outside the database file: the HMAC keyring and the anchor.

Keyring. Every event of the complaint audit chain is signed with HMAC-SHA256 under a key that is
never stored in the database. The active key is the setting `audit_key` (env PORTAL_AUDIT_KEY or
`[portal] audit_key` in secrets.toml) when set, else the last key of the key file (setting
`audit_key_file`, default `<db file>.audit-key`), which is generated on first use with 0600
permissions. The key file is a keyring: one key per line, older keys kept so that events signed
before a rotation stay verifiable. A key's id is derived from the key itself (a sha256 prefix), so
an event's key_id names its key without revealing it.

Anchor. After each transaction that moves the chain head commits, the new head (event id and its
HMAC) is appended to the anchor file (setting `audit_anchor_file`, default `<db file>.anchor`), an
append-only log of heads that can live on write-once storage. Verification compares the chain with
every line of it: a database behind its anchor, a head the database no longer holds, or no anchor
after keyed events exist are breaks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal import config
from portal import db as dbmod

KEY_FILE_SUFFIX = ".audit-key"
ANCHOR_SUFFIX = ".anchor"
KEY_MIN_CHARS = 32
ANCHOR_VERSION = "v1"
_KEY_HEADER = ("# portal audit keyring: one key per line; the last line signs new events; keep old keys\n"
               "# so events signed before a rotation stay verifiable. Back this file up with the database.\n")

log = logging.getLogger(__name__)
_lock = threading.Lock()
_cache: dict[tuple, Keyring] = {}


class AuditError(dbmod.PortalDBError):
    """An audit-trail operation refused, in one line."""


class AuditKeyError(AuditError):
    """The audit key cannot be found, read or created: one line saying which file and what to do."""


def key_id(key: bytes) -> str:
    """The public id of a key: the first 16 hex digits of sha256 over a fixed prefix and the key."""
    return hashlib.sha256(b"portal-audit-key-id\x00" + key).hexdigest()[:16]


def _path_setting(name: str) -> Path | None:
    value = config.setting(name)
    return Path(value).expanduser() if value else None


def key_file(db_path: str | os.PathLike | None) -> Path | None:
    """Where the keyring lives: setting audit_key_file, else beside the database file."""
    explicit = _path_setting("audit_key_file")
    if explicit is not None:
        return explicit
    if not db_path or str(db_path) == ":memory:":
        return None
    return Path(f"{db_path}{KEY_FILE_SUFFIX}")


def anchor_file(db_path: str | os.PathLike | None) -> Path | None:
    """Where chain heads are anchored: setting audit_anchor_file, else `<db file>.anchor`."""
    explicit = _path_setting("audit_anchor_file")
    if explicit is not None:
        return explicit
    if not db_path or str(db_path) == ":memory:":
        return None
    return Path(f"{db_path}{ANCHOR_SUFFIX}")


def companion_files(db_path: str | os.PathLike) -> list[Path]:
    """The files that belong with a database file in a backup or a copy: its keyring and anchor."""
    return [p for p in (key_file(db_path), anchor_file(db_path)) if p is not None]


def copy_database(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy a closed database file together with its keyring and anchor (when they live beside it):
    a copy without them cannot be verified or written to."""
    shutil.copy2(src, dst)
    for a, b in zip(companion_files(src), companion_files(dst), strict=True):
        if a.exists() and a.resolve() != b.resolve():
            shutil.copy2(a, b)


@dataclass(frozen=True)
class Keyring:
    """The keys that verify events (by key id) and the one that signs new events."""

    keys: dict[str, bytes]
    active_id: str | None
    path: Path | None
    from_setting: bool  # the active key comes from PORTAL_AUDIT_KEY / secrets, not the key file

    def key(self, kid: str) -> bytes | None:
        return self.keys.get(kid)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "PORTAL_AUDIT_KEY"


def _check_key(text: str, where: str) -> bytes:
    if len(text) < KEY_MIN_CHARS:
        raise AuditKeyError(f"audit key in {where} is shorter than {KEY_MIN_CHARS} characters")
    return text.encode("utf-8")


def _read_key_file(path: Path) -> list[bytes]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError(f"cannot read the audit key file {path}: {exc}") from None
    return [_check_key(line.strip(), str(path)) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _setting_key() -> bytes | None:
    value = config.setting("audit_key")
    if value is None or str(value) == "":
        return None
    return _check_key(str(value), "PORTAL_AUDIT_KEY / secrets audit_key")


def _stamp(path: Path | None) -> tuple:
    if path is None:
        return (None,)
    try:
        st = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def keyring(db_path: str | os.PathLike | None, *, create: bool = False) -> Keyring:
    """The keyring for a database; with create, generate the key file when there is no key at all."""
    path = key_file(db_path)
    env_key = _setting_key()
    stamp = (_stamp(path), env_key)
    cached = _cache.get(stamp)
    if cached is not None and (cached.active_id or not create):
        return cached
    file_keys = _read_key_file(path) if path else []
    if env_key is None and not file_keys and create:
        if path is None:
            raise AuditKeyError("an in-memory database has no place for an audit key file: "
                                "set PORTAL_AUDIT_KEY or audit_key_file")
        file_keys = [_generate(path)]
        stamp = (_stamp(path), env_key)
    keys = {key_id(k): k for k in file_keys}
    active = env_key if env_key is not None else (file_keys[-1] if file_keys else None)
    if env_key is not None:
        keys[key_id(env_key)] = env_key
    ring = Keyring(keys, key_id(active) if active else None, path, env_key is not None)
    with _lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[stamp] = ring
    return ring


def _write_new(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _generate(path: Path) -> bytes:
    """Create the key file with one fresh key (0600); when another process won the race, read its key."""
    key = secrets.token_hex(32)
    try:
        _write_new(path, _KEY_HEADER + key + "\n")
    except FileExistsError:
        keys = _read_key_file(path)
        if keys:
            return keys[-1]
        raise AuditKeyError(f"the audit key file {path} exists but holds no key") from None
    except OSError as exc:
        raise AuditKeyError(f"cannot create the audit key file {path}: {exc.strerror or exc}") from None
    return key.encode("utf-8")


def add_key(db_path: str | os.PathLike | None) -> str:
    """Append a fresh key to the key file (it becomes the signing key); return its id."""
    ring = keyring(db_path)
    if ring.from_setting:
        raise AuditKeyError(
            "the signing key comes from PORTAL_AUDIT_KEY (or secrets audit_key): to rotate, add the current "
            f"key as a line of {ring.path or 'the key file (audit_key_file)'} and set the new one there; "
            "the next write records the rotation")
    path = ring.path
    if path is None:
        raise AuditKeyError("no audit key file: set audit_key_file")
    key = secrets.token_hex(32)
    try:
        if not path.exists():
            _write_new(path, _KEY_HEADER + key + "\n")
        else:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, (key + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        raise AuditKeyError(f"cannot write the audit key file {path}: {exc.strerror or exc}") from None
    _cache.clear()
    return key_id(key.encode("utf-8"))


def missing_key_message(ring: Keyring, kid: str, events: int) -> str:
    """The one line for a chain whose signing key is not available."""
    if ring.path is not None and not ring.path.exists() and not ring.from_setting:
        return (f"audit key file {ring.path} is missing: the chain's {events:,} events are signed with key {kid}; "
                "restore the key file from the backup taken with the database (or set PORTAL_AUDIT_KEY)")
    return (f"audit key {kid} that signs the chain is not in the keyring ({ring.where}); restore the key file "
            "from the backup taken with the database")


# The anchor.

@dataclass(frozen=True)
class AnchorEntry:
    """One anchored head: the file line it is on, the event id and that event's HMAC."""

    line: int
    event_id: int
    hash: str


@dataclass(frozen=True)
class Anchor:
    """The anchor file as read: whether it exists, its heads, and the first unreadable line (if any)."""

    path: Path | None
    exists: bool
    entries: tuple[AnchorEntry, ...]
    bad_line: int | None = None
    torn_tail: bool = False  # the last line was cut short (a crash while writing it); it is ignored

    @property
    def last_event_id(self) -> int:
        return max((e.event_id for e in self.entries), default=0)


def read_anchor(path: Path | None) -> Anchor:
    """Parse the anchor file: lines `v1 <event id> <hmac> <written at>`; blank lines are skipped."""
    if path is None:
        return Anchor(None, False, ())
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Anchor(path, False, ())
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit anchor {path}: {exc.strerror or exc}") from None
    *body, tail = data.split(b"\n")  # a file ending in a newline has an empty tail
    entries, bad = [], None
    for number, raw in enumerate(body, start=1):
        if not raw.strip() or raw.startswith(b"#"):
            continue
        entry = _parse_anchor_line(number, raw)
        if entry is None:
            if _TORN.fullmatch(raw.strip()):
                continue  # a record cut short by a crash, then followed by later records
            bad = number
            break
        entries.append(entry)
    torn = False
    if bad is None and tail.strip():
        entry = _parse_anchor_line(len(body) + 1, tail)
        if entry is None:
            torn = True  # a record cut short by a crash while it was written: ignored
        else:
            entries.append(entry)
    return Anchor(path, True, tuple(entries), bad, torn)


# What a record cut short looks like: any proper prefix of "v1 <event id> <64 hex digits>".
_TORN = re.compile(rb"v1?|v1 [0-9]*|v1 [0-9]+ [0-9a-f]{0,63}")


def _parse_anchor_line(number: int, raw: bytes) -> AnchorEntry | None:
    parts = raw.split()
    if len(parts) < 3 or parts[0] != ANCHOR_VERSION.encode() or not parts[1].isdigit() or len(parts[2]) != 64:
        return None
    try:
        return AnchorEntry(number, int(parts[1]), parts[2].decode("ascii"))
    except UnicodeDecodeError:
        return None


_ANCHOR_HEADER = ("# portal audit anchor: one line per committed chain head (v1 <event id> <hmac> <written at>);\n"
                  "# append-only: keep it on write-once storage, back it up with the database and its key file.\n")


def start_anchor(path: Path | None) -> None:
    """Create an empty anchor (a header only) when there is none: the chain's first keyed write."""
    if path is None:
        return
    try:
        _write_new(path, _ANCHOR_HEADER, mode=0o644)
    except FileExistsError:
        return
    except OSError as exc:
        raise AuditError(f"cannot create the audit anchor {path}: {exc.strerror or exc}") from None


_anchor_locks: dict[str, threading.Lock] = {}


def _anchor_lock(path: Path) -> threading.Lock:
    with _lock:
        return _anchor_locks.setdefault(str(path), threading.Lock())


def write_anchor(path: Path, event_id: int, digest: str, *, create: bool) -> bool:
    """Append one head to the anchor (fsync'd); False when the file is missing and create is False."""
    line = f"{ANCHOR_VERSION} {int(event_id)} {digest} {dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\n"
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0)
    with _anchor_lock(path):
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            return False
        try:
            size = os.fstat(fd).st_size
            if size:
                with path.open("rb") as fh:  # a record cut short by a crash must not swallow this one
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        line = "\n" + line
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
    return True


def retire_anchor(path: Path) -> Path | None:
    """Move an anchor aside (a demo rebuild restarts the chain); return where it went."""
    if not path.exists():
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.retired-{stamp}")
    os.replace(path, target)
    return target


def db_file_of(cur: Any) -> str | None:
    """The file of the database a cursor is on (None for an in-memory database)."""
    rows = cur.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()
    return rows[0][0] if rows and rows[0][0] else None
