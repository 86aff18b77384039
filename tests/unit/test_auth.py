"""Local accounts: argon2 hashing, lockout and session timeout on fixed clocks, administration,
demo accounts and OIDC group mapping."""

from __future__ import annotations

import datetime as dt

import pytest

from portal import auth, db
from portal.auth_types import User

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"


def test_argon2_hash_is_salted_and_verifies():
    first, second = auth.hash_password(PASSWORD), auth.hash_password(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert PASSWORD not in first
    assert auth.verify_password(first, PASSWORD)
    assert not auth.verify_password(first, PASSWORD + "!")
    assert not auth.verify_password("not-a-hash", PASSWORD)


def test_passwords_are_stored_only_as_hashes(tmp_db):
    auth.create_user("alice", "analyst", PASSWORD, db=tmp_db)
    stored = db.scalar("select password_hash from users where username = 'alice'", db=tmp_db)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(("username", "role", "password", "code"), [
    ("bob", "analyst", "short", "weak_password"),
    ("bob", "customer", PASSWORD, "bad_role"),
    ("bob", "root", PASSWORD, "bad_role"),
    ("b", "analyst", PASSWORD, "bad_username"),
    ("bob smith", "analyst", PASSWORD, "bad_username"),
    ("'; drop table users; --", "analyst", PASSWORD, "bad_username"),
])
def test_create_user_validates(tmp_db, username, role, password, code):
    with pytest.raises(auth.AuthError) as err:
        auth.create_user(username, role, password, db=tmp_db)
    assert err.value.code == code
    assert auth.user_count(db=tmp_db) == 0


def test_duplicate_username_is_refused_case_insensitively(tmp_db):
    auth.create_user("Alice", "analyst", PASSWORD, db=tmp_db)
    with pytest.raises(auth.AuthError) as err:
        auth.create_user("alice", "admin", PASSWORD, db=tmp_db)
    assert err.value.code == "exists"
    assert auth.get_user("ALICE", db=tmp_db).role == "analyst"


def test_authenticate_returns_user_and_logs_attempts(tmp_db):
    auth.create_user("alice", "compliance", PASSWORD, display_name="Alice Wu", db=tmp_db)
    user = auth.authenticate(" Alice ", PASSWORD, db=tmp_db, now=T0)
    assert user == User("alice", "compliance", "Alice Wu")
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate("alice", "wrong password", db=tmp_db, now=T0)
    assert err.value.code == "invalid"
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate("nobody", PASSWORD, db=tmp_db, now=T0)
    assert err.value.code == "invalid"  # unknown users look exactly like wrong passwords
    log = db.read("select username, succeeded, reason from login_attempts order by attempted_at, reason",
                  db=tmp_db)
    assert sorted(map(tuple, log.itertuples(index=False))) == [
        ("alice", False, "invalid"), ("alice", True, "ok"), ("nobody", False, "invalid")]
    assert auth.get_user("alice", db=tmp_db).last_login_at == T0


def test_after_failure_counts_then_locks_for_15_minutes():
    state = (0, None)
    for expected in (1, 2, 3, 4):
        state = auth.after_failure(*state, T0)
        assert state == (expected, None)
    assert auth.after_failure(*state, T0) == (0, T0 + dt.timedelta(minutes=15))
    # An expired lock restarts the count from zero.
    assert auth.after_failure(3, T0, T0 + dt.timedelta(seconds=1)) == (1, None)
    assert auth.is_locked(T0, T0 - dt.timedelta(seconds=1))
    assert not auth.is_locked(T0, T0)
    assert not auth.is_locked(None, T0)


def test_lockout_after_five_failures_then_unlock_after_15_minutes(tmp_db):
    auth.create_user("alice", "analyst", PASSWORD, db=tmp_db)
    for i in range(4):
        with pytest.raises(auth.AuthError) as err:
            auth.authenticate("alice", f"guess {i}", db=tmp_db, now=T0 + dt.timedelta(seconds=i))
        assert err.value.code == "invalid"
    fifth = T0 + dt.timedelta(seconds=4)
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate("alice", "guess 4", db=tmp_db, now=fifth)
    assert (err.value.code, err.value.reason) == ("invalid", "locked")  # the user is told no more than "wrong"
    assert err.value.locked_until == fifth + dt.timedelta(minutes=15)
    # Even the right password is refused during the lock, and does not extend it.
    almost = fifth + dt.timedelta(minutes=14, seconds=59)
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate("alice", PASSWORD, db=tmp_db, now=almost)
    assert (err.value.code, err.value.reason) == ("invalid", "locked")
    assert auth.get_user("alice", db=tmp_db).locked_until == fifth + dt.timedelta(minutes=15)
    user = auth.authenticate("alice", PASSWORD, db=tmp_db, now=fifth + dt.timedelta(minutes=15))
    assert user.username == "alice"
    account = auth.get_user("alice", db=tmp_db)
    assert (account.failed_attempts, account.locked_until) == (0, None)


def test_success_resets_the_failure_count(tmp_db):
    auth.create_user("alice", "analyst", PASSWORD, db=tmp_db)
    for i in range(4):
        with pytest.raises(auth.AuthError):
            auth.authenticate("alice", "nope nope", db=tmp_db, now=T0 + dt.timedelta(seconds=i))
    auth.authenticate("alice", PASSWORD, db=tmp_db, now=T0 + dt.timedelta(seconds=5))
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate("alice", "nope nope", db=tmp_db, now=T0 + dt.timedelta(seconds=6))
    assert err.value.code == "invalid"  # 1 failure, not 5


def test_reset_password_clears_lock_and_changes_password(tmp_db):
    auth.create_user("alice", "analyst", PASSWORD, db=tmp_db)
    for i in range(5):
        with pytest.raises(auth.AuthError):
            auth.authenticate("alice", "nope nope", db=tmp_db, now=T0 + dt.timedelta(seconds=i))
    auth.reset_password("alice", "a brand new secret", db=tmp_db)
    with pytest.raises(auth.AuthError):
        auth.authenticate("alice", PASSWORD, db=tmp_db, now=T0 + dt.timedelta(seconds=10))
    assert auth.authenticate("alice", "a brand new secret", db=tmp_db, now=T0 + dt.timedelta(seconds=11))
    with pytest.raises(auth.AuthError) as err:
        auth.reset_password("alice", "short", db=tmp_db)
    assert err.value.code == "weak_password"
    with pytest.raises(auth.AuthError) as err:
        auth.reset_password("ghost", "long enough pw", db=tmp_db)
    assert err.value.code == "unknown_user"


def test_disabled_account_cannot_sign_in_and_session_refresh_drops_it(tmp_db):
    auth.create_user("alice", "analyst", PASSWORD, db=tmp_db)
    user = auth.authenticate("alice", PASSWORD, db=tmp_db)
    auth.change_role("alice", "compliance", db=tmp_db)
    assert auth.refresh(user, db=tmp_db).role == "compliance"
    auth.set_active("alice", False, db=tmp_db)
    with pytest.raises(auth.AuthError) as err:
        auth.authenticate("alice", PASSWORD, db=tmp_db)
    assert err.value.code == "disabled"
    assert auth.refresh(user, db=tmp_db) is None
    auth.set_active("alice", True, db=tmp_db)
    assert auth.authenticate("alice", PASSWORD, db=tmp_db).role == "compliance"
    with pytest.raises(auth.AuthError) as err:
        auth.change_role("alice", "customer", db=tmp_db)
    assert err.value.code == "bad_role"


def test_session_timeout_on_a_fixed_clock(monkeypatch):
    assert not auth.session_expired(T0, T0 + dt.timedelta(minutes=30))  # default setting: 30 minutes
    assert auth.session_expired(T0, T0 + dt.timedelta(minutes=30, seconds=1))
    assert not auth.session_expired(None, T0)
    assert auth.session_expired(T0, T0 + dt.timedelta(minutes=6), timeout_minutes=5)
    monkeypatch.setenv("PORTAL_SESSION_TIMEOUT_MINUTES", "10")
    assert auth.session_expired(T0, T0 + dt.timedelta(minutes=11))
    assert not auth.session_expired(T0, T0 + dt.timedelta(minutes=9))


def test_demo_accounts_are_random_and_created_only_once(tmp_db):
    created = auth.ensure_demo_accounts(tmp_db)
    assert [(u, r) for u, r, _ in created] == [(r, r) for r in auth.STAFF_ROLES]
    passwords = [p for _, _, p in created]
    assert len(set(passwords)) == 4 and all(len(p) >= 16 for p in passwords)
    for username, role, password in created:
        assert auth.authenticate(username, password, db=tmp_db).role == role
    assert auth.ensure_demo_accounts(tmp_db) == []
    assert auth.user_count(db=tmp_db) == 4


def test_demo_accounts_not_created_when_a_user_exists(tmp_db):
    auth.create_user("alice", "admin", PASSWORD, db=tmp_db)
    assert auth.ensure_demo_accounts(tmp_db) == []
    assert [a.username for a in auth.list_users(db=tmp_db)] == ["alice"]


def test_oidc_groups_map_to_the_most_privileged_role():
    mapping = {"collections-exec": "executive", "compliance": "compliance", "portal-admins": "admin"}
    assert auth.role_for_groups(["collections-exec"], mapping) == "executive"
    assert auth.role_for_groups(["collections-exec", "compliance"], mapping) == "compliance"
    assert auth.role_for_groups("compliance portal-admins", mapping) == "admin"
    assert auth.role_for_groups(["staff"], mapping) is None
    assert auth.role_for_groups(None, mapping) is None
    claims = {"email": "li@example.com", "name": "Li Lei", "groups": ["compliance", "staff"]}
    assert auth.oidc_user(claims, mapping) == User("li@example.com", "compliance", "Li Lei")
    assert auth.oidc_user({"email": "x@example.com", "groups": ["staff"]}, mapping) is None


def test_oidc_group_map_comes_from_secrets(tmp_path, monkeypatch):
    from portal import config

    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[portal.oidc_groups]\n"risk-team" = "analyst"\n"bad" = "superuser"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config._secrets.cache_clear()
    try:
        assert auth.oidc_group_map() == {"risk-team": "analyst"}  # unknown roles are dropped
    finally:
        config._secrets.cache_clear()


def test_a_locked_account_and_an_unknown_name_get_the_same_answer_after_the_same_work(tmp_db, monkeypatch):
    auth.create_user("alice", "analyst", PASSWORD, db=tmp_db)
    calls: list[str] = []
    real_verify = auth.verify_password

    def counting(password_hash, password):  # the real argon2 check, counted
        calls.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    answers = {}
    for name in ("alice", "nobody"):
        for i in range(6):
            calls.clear()
            with pytest.raises(auth.AuthError) as err:
                auth.authenticate(name, PASSWORD if i == 5 else f"guess {i}", db=tmp_db,
                                  now=T0 + dt.timedelta(seconds=i))
            assert len(calls) == 1, (name, i)  # one password hash verified on every refusal
            answers.setdefault(name, []).append((err.value.code, str(err.value)))
    assert answers["alice"] == answers["nobody"] == [("invalid", "invalid")] * 6
    assert auth.get_user("alice", db=tmp_db).locked_until is not None  # the lockout itself is kept
    log = db.read("select username, reason from login_attempts order by attempted_at, username", db=tmp_db)
    assert log[log["username"] == "alice"]["reason"].tolist() == ["invalid"] * 4 + ["locked"] * 2
    assert log[log["username"] == "nobody"]["reason"].tolist() == ["invalid"] * 6
