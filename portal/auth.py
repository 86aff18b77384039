"""Local accounts and sessions: argon2 password hashes, lockout after repeated failures,
inactivity timeout, user administration, demo accounts, mapping OIDC groups to roles, API tokens,
and the server-side records behind the signed sign-in cookie.

No streamlit here: the app shell calls these functions on every run.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import os
import queue
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portal import config
from portal import db as store
from portal.auth_types import User

STAFF_ROLES = ("executive", "compliance", "analyst", "admin")
# When an identity-provider user is in several mapped groups, the most privileged role wins.
ROLE_PRECEDENCE = ("admin", "compliance", "analyst", "executive")
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.@-]{1,63}$")

_hasher = PasswordHasher()


class AuthError(Exception):
    """A refused sign-in or account change; `code` is what the user is told (invalid, disabled, ...).

    A sign-in refused because the account is locked says "invalid", like a wrong password or an
    unknown user name, so the answer never tells which user names exist; `reason` keeps the real
    cause (locked) for the sign-in log, and `locked_until` for administrators.
    """

    def __init__(self, code: str, locked_until: dt.datetime | None = None, reason: str | None = None):
        super().__init__(code)
        self.code = code
        self.locked_until = locked_until
        self.reason = reason or code


@dataclass(frozen=True)
class Account:
    """One row of the users table, without the password hash."""

    username: str
    display_name: str
    role: str
    is_active: bool
    failed_attempts: int
    locked_until: dt.datetime | None
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    def user(self) -> User:
        """The session user for this account."""
        return User(self.username, self.role, self.display_name or self.username)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def hash_password(password: str) -> str:
    """An argon2id hash of password (salted, with the library's current parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether password matches the argon2 hash (False for a malformed hash)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    # Verifying against a throwaway hash for unknown users keeps their timing like a known user's.
    return _hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password of 16 URL-safe characters from the OS's secure generator."""
    return secrets.token_urlsafe(12)


def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether an account locked until locked_until is still locked at now."""
    return locked_until is not None and now < locked_until


def after_failure(failed_attempts: int, locked_until: dt.datetime | None, now: dt.datetime,
                  max_attempts: int = MAX_FAILED_ATTEMPTS, lockout: dt.timedelta = LOCKOUT,
                  ) -> tuple[int, dt.datetime | None]:
    """The (failed_attempts, locked_until) state after one more wrong password at now.

    The count restarts once an earlier lock has expired; reaching max_attempts locks the account
    for `lockout` and restarts the count.
    """
    if locked_until is not None and now >= locked_until:
        failed_attempts, locked_until = 0, None
    failed_attempts += 1
    if failed_attempts >= max_attempts:
        return 0, now + lockout
    return failed_attempts, locked_until


def session_expired(last_seen: dt.datetime | None, now: dt.datetime, timeout_minutes: int | None = None) -> bool:
    """Whether a session last active at last_seen has been idle longer than the timeout at now."""
    if last_seen is None:
        return False
    minutes = int(config.setting("session_timeout_minutes") if timeout_minutes is None else timeout_minutes)
    return now - last_seen > dt.timedelta(minutes=minutes)


def check_password_policy(password: str) -> None:
    """Raise AuthError('weak_password') unless password is long enough."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError("weak_password")


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise AuthError("bad_role")


def normalise_username(username: str) -> str:
    """The canonical (lower-case, trimmed) username, or AuthError('bad_username')."""
    name = (username or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise AuthError("bad_username")
    return name


_ACCOUNT_COLUMNS = (
    "username, coalesce(display_name, '') as display_name, role, is_active, failed_attempts,"
    " locked_until, created_at, last_login_at"
)


def _to_utc(value) -> dt.datetime | None:
    if value is None or value != value:  # NaT / NaN
        return None
    stamp = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _account(row: Mapping) -> Account:
    return Account(
        username=row["username"], display_name=row["display_name"], role=row["role"],
        is_active=bool(row["is_active"]), failed_attempts=int(row["failed_attempts"]),
        locked_until=_to_utc(row["locked_until"]), created_at=_to_utc(row["created_at"]),
        last_login_at=_to_utc(row["last_login_at"]),
    )


def list_users(*, db: str | Path | None = None) -> list[Account]:
    """Every local account, by username."""
    frame = store.read(f"select {_ACCOUNT_COLUMNS} from users order by username", db=db)  # noqa: S608
    return [_account(row) for row in frame.to_dict("records")]


def get_user(username: str, *, db: str | Path | None = None) -> Account | None:
    """One local account, or None."""
    frame = store.read(
        f"select {_ACCOUNT_COLUMNS} from users where username = $u",  # noqa: S608 (fixed columns)
        {"u": (username or "").strip().lower()}, db=db,
    )
    return None if frame.empty else _account(frame.iloc[0].to_dict())


def user_count(*, db: str | Path | None = None) -> int:
    """How many local accounts exist."""
    return int(store.scalar("select count(*) from users", db=db))


def create_user(username: str, role: str, password: str, *, display_name: str = "",
                created_by: str | None = None, db: str | Path | None = None,
                now: dt.datetime | None = None) -> Account:
    """Create an active local account; AuthError('exists') when the name is taken."""
    name = normalise_username(username)
    _check_role(role)
    check_password_policy(password)
    stamp = now or utcnow()
    hashed = hash_password(password)

    def insert(cur) -> None:
        if cur.execute("select 1 from users where username = $u", {"u": name}).fetchone():
            raise AuthError("exists")
        cur.execute(
            "insert into users (username, display_name, role, password_hash, is_active, failed_attempts,"
            " password_changed_at, created_at, created_by) values ($u, $d, $r, $h, true, 0, $t, $t, $by)",
            {"u": name, "d": display_name.strip() or None, "r": role, "h": hashed, "t": stamp, "by": created_by},
        )

    store.write(insert, db=db)
    return get_user(name, db=db)


def _update(username: str, sql: str, params: dict, *, db) -> None:
    name = (username or "").strip().lower()

    def update(cur) -> None:
        if not cur.execute("select 1 from users where username = $u", {"u": name}).fetchone():
            raise AuthError("unknown_user")
        cur.execute(sql, {"u": name, **params})

    store.write(update, db=db)


def set_active(username: str, active: bool, *, db: str | Path | None = None) -> None:
    """Disable (or re-enable) an account; a disabled account cannot sign in, and its sessions end."""
    _update(username, "update users set is_active = $a where username = $u", {"a": active}, db=db)
    if not active:
        revoke_user_sessions(username, "disabled", db=db)


def reset_password(username: str, password: str, *, db: str | Path | None = None,
                   now: dt.datetime | None = None) -> None:
    """Set a new password and clear any lockout."""
    check_password_policy(password)
    _update(
        username,
        "update users set password_hash = $h, password_changed_at = $t, failed_attempts = 0,"
        " locked_until = null where username = $u",
        {"h": hash_password(password), "t": now or utcnow()}, db=db,
    )
    revoke_user_sessions(username, "password_reset", db=db)


def change_role(username: str, role: str, *, db: str | Path | None = None) -> None:
    """Give an account another staff role."""
    _check_role(role)
    _update(username, "update users set role = $r where username = $u", {"r": role}, db=db)


def authenticate(username: str, password: str, *, db: str | Path | None = None,
                 now: dt.datetime | None = None) -> User:
    """Check a sign-in and return the session user, or raise AuthError (invalid or disabled).

    Every attempt is logged, with its real reason (ok, invalid, locked, disabled). A locked account
    is refused whatever the password, so guessing cannot continue during the lock; it answers
    "invalid" after the same password-hash work as an unknown user name or a wrong password, so
    neither the message nor the time taken tells a real account from an unknown one.
    """
    stamp = now or utcnow()
    name = (username or "").strip().lower()[:64]

    def attempt(cur) -> tuple[User | None, AuthError | None]:
        row = cur.execute(
            "select password_hash, role, coalesce(display_name, ''), is_active, failed_attempts, locked_until"
            " from users where username = $u", {"u": name},
        ).fetchone()
        if row is None:
            verify_password(_dummy_hash(), password or "")
            return None, AuthError("invalid")
        pw_hash, role, display, active, failed, locked_until = row
        locked_until = _to_utc(locked_until)
        if is_locked(locked_until, stamp):
            verify_password(_dummy_hash(), password or "")  # the same work as any other refusal
            return None, AuthError("invalid", locked_until, reason="locked")
        if not verify_password(pw_hash, password or ""):
            failed, locked_until = after_failure(failed, locked_until, stamp)
            cur.execute(
                "update users set failed_attempts = $f, locked_until = $l where username = $u",
                {"f": failed, "l": locked_until, "u": name},
            )
            if is_locked(locked_until, stamp):
                return None, AuthError("invalid", locked_until, reason="locked")
            return None, AuthError("invalid")
        if not active:
            return None, AuthError("disabled")
        new_hash = hash_password(password) if _hasher.check_needs_rehash(pw_hash) else pw_hash
        cur.execute(
            "update users set failed_attempts = 0, locked_until = null, last_login_at = $t,"
            " password_hash = $h where username = $u", {"t": stamp, "h": new_hash, "u": name},
        )
        return User(name, role, display or name), None

    user, error = store.write(attempt, db=db)
    store.execute(
        "insert into login_attempts values ($u, $t, $ok, $why)",
        {"u": name, "t": stamp, "ok": user is not None, "why": "ok" if user else error.reason}, db=db,
    )
    if error is not None:
        raise error
    return user


def recent_attempts(limit: int = 200, *, db: str | Path | None = None):
    """The newest `limit` sign-in attempts (username, when, succeeded, reason) as a DataFrame."""
    return store.read(
        "select username, attempted_at, succeeded, reason from login_attempts"
        " order by attempted_at desc limit $n", {"n": int(limit)}, db=db,
    )


def refresh(user: User, *, db: str | Path | None = None) -> User | None:
    """The session user as the database sees it now: None once the account is disabled or gone."""
    account = get_user(user.username, db=db)
    if account is None or not account.is_active:
        return None
    return account.user()


def ensure_demo_accounts(db: str | Path | None = None) -> list[tuple[str, str, str]]:
    """Create one account per staff role with a random password, only when no users exist yet.

    Returns (username, role, password) for each account created, so the caller can print the
    passwords once; returns [] when accounts already exist. No password is ever fixed in code.
    """
    if user_count(db=db):
        return []
    created = []
    for role in STAFF_ROLES:
        password = generate_password()
        create_user(role, role, password, display_name=f"Demo {role}", created_by="demo", db=db)
        created.append((role, role, password))
    return created


def oidc_group_map() -> dict[str, str]:
    """The identity-provider group -> portal role map from secrets `[portal.oidc_groups]`."""
    mapping = config.setting("oidc_groups")
    if not isinstance(mapping, Mapping):
        return {}
    return {str(group): str(role) for group, role in mapping.items() if role in STAFF_ROLES}


def role_for_groups(groups: Iterable[str] | str | None, mapping: Mapping[str, str]) -> str | None:
    """The most privileged staff role that an identity provider's groups map to, or None."""
    if groups is None:
        return None
    if isinstance(groups, str):
        groups = [g for g in re.split(r"[,\s]+", groups) if g]
    roles = {mapping[g] for g in groups if g in mapping}
    return next((r for r in ROLE_PRECEDENCE if r in roles), None)


def oidc_user(claims: Mapping[str, object], mapping: Mapping[str, str] | None = None) -> User | None:
    """The session user for an OIDC identity (its `groups` claim mapped to a role), or None."""
    role = role_for_groups(claims.get("groups"), oidc_group_map() if mapping is None else mapping)
    ident = claims.get("email") or claims.get("preferred_username") or claims.get("sub")
    if role is None or not ident:
        return None
    return User(str(ident), role, str(claims.get("name") or ident))


# --- API tokens -------------------------------------------------------------------------------------
# A token is 32 random bytes; only its SHA-256 is stored (a fast hash is enough for a secret this long,
# and every API request checks one). Names are unique for ever, so the use log keeps its meaning.

TOKEN_PREFIX = "pt_"
TOKEN_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ApiToken:
    """One API token, without its secret: name, role, when it was created, revoked and last used."""

    name: str
    role: str
    token_prefix: str
    created_at: dt.datetime
    created_by: str | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None = None
    uses: int = 0

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _api_token(row: Mapping) -> ApiToken:
    return ApiToken(
        name=row["name"], role=row["role"], token_prefix=row["token_prefix"],
        created_at=_to_utc(row["created_at"]), created_by=row.get("created_by") or None,
        revoked_at=_to_utc(row["revoked_at"]), last_used_at=_to_utc(row.get("last_used_at")),
        uses=int(row.get("uses") or 0),
    )


def create_token(name: str, role: str, *, created_by: str | None = None, db: str | Path | None = None,
                 now: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Create an API token for a staff role; return it and its secret (shown once, stored only hashed)."""
    clean = (name or "").strip().lower()
    if not TOKEN_NAME_RE.match(clean):
        raise AuthError("bad_token_name")
    _check_role(role)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    stamp = now or utcnow()

    def insert(cur) -> None:
        if cur.execute("select 1 from api_tokens where name = $n", {"n": clean}).fetchone():
            raise AuthError("token_exists")
        cur.execute(
            "insert into api_tokens (name, role, token_hash, token_prefix, created_at, created_by)"
            " values ($n, $r, $h, $p, $t, $by)",
            {"n": clean, "r": role, "h": _token_hash(secret), "p": secret[:10], "t": stamp, "by": created_by},
        )

    store.write(insert, db=db)
    return ApiToken(clean, role, secret[:10], stamp, created_by, None), secret


def list_tokens(*, db: str | Path | None = None) -> list[ApiToken]:
    """Every API token (active and revoked), by name, with its last use and number of uses."""
    frame = store.read(
        "select t.name, t.role, t.token_prefix, t.created_at, t.created_by, t.revoked_at,"
        " u.last_used_at, coalesce(u.uses, 0) as uses from api_tokens t"
        " left join (select token_name, max(used_at) as last_used_at, count(*) as uses from api_token_uses"
        " group by token_name) u on u.token_name = t.name order by t.name", db=db,
    )
    return [_api_token(row) for row in frame.to_dict("records")]


def revoke_token(name: str, *, revoked_by: str | None = None, db: str | Path | None = None,
                 now: dt.datetime | None = None) -> None:
    """Revoke an API token: from now on it gets 401. AuthError('unknown_token') when there is none."""
    clean = (name or "").strip().lower()

    def update(cur) -> None:
        row = cur.execute("select revoked_at from api_tokens where name = $n", {"n": clean}).fetchone()
        if row is None:
            raise AuthError("unknown_token")
        if row[0] is None:
            cur.execute("update api_tokens set revoked_at = $t, revoked_by = $by where name = $n",
                        {"t": now or utcnow(), "by": revoked_by, "n": clean})

    store.write(update, db=db)


def token_identity(token: str | None, *, db: str | Path | None = None) -> ApiToken | None:
    """The active API token whose secret this is, or None (unknown, malformed or revoked)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    frame = store.read(
        "select name, role, token_prefix, created_at, created_by, revoked_at from api_tokens"
        " where token_hash = $h and revoked_at is null", {"h": _token_hash(token)}, db=db,
    )
    return None if frame.empty else _api_token(frame.iloc[0].to_dict())


def record_token_uses(rows: Iterable[Mapping], *, db: str | Path | None = None) -> int:
    """Append API requests to the token use log (used_at, token_name, role, method, path, status, client)."""
    batch = [dict(r) for r in rows]
    if not batch:
        return 0

    def insert(cur) -> None:
        for row in batch:
            cur.execute("insert into api_token_uses values ($used_at, $token_name, $role, $method, $path,"
                        " $status, $client)", row)

    store.write(insert, db=db)
    return len(batch)


def recent_token_uses(limit: int = 200, *, db: str | Path | None = None):
    """The newest `limit` API requests that presented a token, or needed one (a DataFrame)."""
    return store.read(
        "select used_at, token_name, role, method, path, status, client from api_token_uses"
        " order by used_at desc limit $n", {"n": int(limit)}, db=db,
    )


# --- Browser sessions behind the sign-in cookie -------------------------------------------------------
# The cookie holds a random session id and its HMAC under a key kept outside the database; the database
# holds only the id's SHA-256, who it belongs to and when it was last seen.

SESSION_COOKIE = "portal_session"
# Written while people read (a session seen, an API request logged): bookkeeping, not data, so it must
# not move the data version that keys the pages' cached results.
store.untracked("web_sessions", "api_token_uses")
SESSION_TOUCH = dt.timedelta(seconds=60)  # last_seen is written at most once a minute per session
SESSION_MAX_AGE = dt.timedelta(hours=12)  # a sign-in lasts at most this long, however active


def _key_file(db: str | Path | None) -> Path:
    path = config.db_path(db).resolve()
    return path.with_name(path.name + ".session-key")


def session_key(db: str | Path | None = None) -> bytes:
    """The cookie-signing key: setting `session_secret`, else a random key file beside the database (0600)."""
    configured = config.setting("session_secret")
    if configured:
        return str(configured).encode("utf-8")
    path = _key_file(db)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _mac(session_id: str, key: bytes) -> str:
    digest = hmac.new(key, session_id.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def sign_session(session_id: str, key: bytes) -> str:
    """The cookie value for a session id: `<id>.<HMAC-SHA256>`."""
    return f"{session_id}.{_mac(session_id, key)}"


def unsign_session(value: str | None, key: bytes) -> str | None:
    """The session id in a cookie value whose HMAC checks out, else None."""
    session_id, _, mac = (value or "").partition(".")
    if not session_id or not mac or len(value) > 200 or not session_id.isascii():
        return None
    return session_id if hmac.compare_digest(mac, _mac(session_id, key)) else None


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def open_session(username: str, *, db: str | Path | None = None, now: dt.datetime | None = None) -> str:
    """Record a new browser session for a signed-in local user; return its (secret) id."""
    session_id = secrets.token_urlsafe(32)
    stamp = now or utcnow()
    store.execute("insert into web_sessions (session_hash, username, created_at, last_seen_at)"
                  " values ($h, $u, $t, $t)", {"h": _session_hash(session_id), "u": username, "t": stamp}, db=db)
    return session_id


def resume_session(session_id: str | None, *, db: str | Path | None = None,
                   now: dt.datetime | None = None) -> tuple[User | None, str]:
    """The user of a browser session and "ok", or None and why not (unknown, revoked, expired, disabled).

    Checks the inactivity timeout against the record's last_seen_at (so every tab counts as activity),
    the absolute SESSION_MAX_AGE, and the account (gone or disabled ends the session). Marks the session
    seen (at most once per SESSION_TOUCH) and ends it for good when it has expired.
    """
    if not session_id:
        return None, "unknown"
    stamp = now or utcnow()
    key = _session_hash(session_id)
    # read before the row: a mark written meanwhile is then either still pending here or in the row
    pending = _pending_touch.get(key, _EPOCH)
    frame = store.read(
        "select s.username, s.created_at, s.last_seen_at, s.revoked_at, u.role, coalesce(u.display_name, '')"
        " as display_name, u.is_active from web_sessions s left join users u using (username)"
        " where s.session_hash = $h", {"h": key}, db=db,
    )
    if frame.empty:
        return None, "unknown"
    row = frame.iloc[0].to_dict()
    if _to_utc(row["revoked_at"]) is not None:
        return None, "revoked"
    if row["role"] is None or row["role"] != row["role"] or not bool(row["is_active"]):
        revoke_session(session_id, "disabled", db=db, now=stamp)
        return None, "disabled"
    last_seen = max(_to_utc(row["last_seen_at"]), pending)
    if session_expired(last_seen, stamp) or stamp - _to_utc(row["created_at"]) > SESSION_MAX_AGE:
        revoke_session(session_id, "expired", db=db, now=stamp)
        return None, "expired"
    if stamp - last_seen >= SESSION_TOUCH:
        _touch_later(key, stamp, db)
    name = row["username"]
    return User(name, row["role"], row["display_name"] or name), "ok"


# Marking a session seen is written by one background thread: a page run never waits for the write
# path (an upload may hold it for minutes). Until written, the pending time counts as last seen.
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_pending_touch: dict[str, dt.datetime] = {}
_touches: queue.Queue = queue.Queue()
_toucher: threading.Thread | None = None
_toucher_lock = threading.Lock()


def _touch_later(key: str, stamp: dt.datetime, db: str | Path | None) -> None:
    global _toucher
    _pending_touch[key] = max(stamp, _pending_touch.get(key, _EPOCH))
    _touches.put((key, stamp, db))
    with _toucher_lock:
        if _toucher is None or not _toucher.is_alive():
            _toucher = threading.Thread(target=_write_touches, name="portal-session-touch", daemon=True)
            _toucher.start()


def _write_touches() -> None:
    while True:
        key, stamp, db = _touches.get()
        try:
            store.execute("update web_sessions set last_seen_at = $t where session_hash = $h and last_seen_at < $t",
                          {"t": stamp, "h": key}, db=db)
        except Exception:  # a missed mark only shortens a session; never take a page down for it
            logging.getLogger(__name__).exception("could not mark a session as seen")
        finally:
            if _pending_touch.get(key) == stamp:
                _pending_touch.pop(key, None)
            _touches.task_done()


def flush_session_touches() -> None:
    """Wait until every queued 'session seen' mark is written (for shutdown and tests)."""
    _touches.join()


def revoke_session(session_id: str | None, reason: str, *, db: str | Path | None = None,
                   now: dt.datetime | None = None) -> None:
    """End one browser session (sign-out, timeout): its cookie no longer signs anyone in."""
    if not session_id:
        return
    store.execute("update web_sessions set revoked_at = $t, revoked_reason = $r"
                  " where session_hash = $h and revoked_at is null",
                  {"t": now or utcnow(), "r": reason, "h": _session_hash(session_id)}, db=db)


def revoke_user_sessions(username: str, reason: str, *, db: str | Path | None = None,
                         now: dt.datetime | None = None) -> None:
    """End every open browser session of one account (disabled, password reset)."""
    store.execute("update web_sessions set revoked_at = $t, revoked_reason = $r"
                  " where username = $u and revoked_at is null",
                  {"t": now or utcnow(), "r": reason, "u": (username or "").strip().lower()}, db=db)


def open_sessions(*, db: str | Path | None = None):
    """Browser sessions not ended yet (username, created_at, last_seen_at), newest activity first."""
    return store.read("select username, created_at, last_seen_at from web_sessions where revoked_at is null"
                      " order by last_seen_at desc", db=db)
