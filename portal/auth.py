"""Local accounts and sessions: argon2 password hashes, lockout after repeated failures,
inactivity timeout, user administration, demo accounts, and mapping OIDC groups to roles.

No streamlit here: the app shell calls these functions on every run.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
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
    """Disable (or re-enable) an account; a disabled account cannot sign in."""
    _update(username, "update users set is_active = $a where username = $u", {"a": active}, db=db)


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
