"""API tokens and the server-side sessions behind the sign-in cookie (portal/auth.py), on a real database."""

from __future__ import annotations

import datetime as dt
import hashlib
import stat

import pytest

from portal import auth, db
from portal.auth_types import User

PASSWORD = "correct horse battery"


def test_a_token_is_shown_once_stored_hashed_and_identifies_its_role(tmp_db):
    token, secret = auth.create_token("PowerBI ", "executive", created_by="ada", db=tmp_db)
    assert (token.name, token.role, token.is_active) == ("powerbi", "executive", True)
    assert secret.startswith("pt_") and len(secret) > 40 and token.token_prefix == secret[:10]
    stored = db.read("select * from api_tokens", db=tmp_db).iloc[0]
    assert stored["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in "".join(str(v) for v in stored.to_dict().values())  # never in clear
    assert auth.token_identity(secret, db=tmp_db).name == "powerbi"
    for wrong in (None, "", secret[:-1] + ("A" if secret[-1] != "A" else "B"), "pt_" + "x" * 300, secret[3:]):
        assert auth.token_identity(wrong, db=tmp_db) is None


def test_token_names_roles_and_duplicates_are_checked(tmp_db):
    auth.create_token("dialer", "compliance", db=tmp_db)
    for name, role, code in (("dialer", "analyst", "token_exists"), ("bad name!", "analyst", "bad_token_name"),
                             ("", "analyst", "bad_token_name"), ("ok", "customer", "bad_role"), ("ok", "root", "bad_role")):
        with pytest.raises(auth.AuthError) as err:
            auth.create_token(name, role, db=tmp_db)
        assert err.value.code == code


def test_a_revoked_token_is_refused_and_keeps_its_name(tmp_db):
    _, secret = auth.create_token("monitor", "analyst", db=tmp_db)
    auth.revoke_token("monitor", revoked_by="ada", db=tmp_db)
    auth.revoke_token("monitor", db=tmp_db)  # twice is harmless
    assert auth.token_identity(secret, db=tmp_db) is None
    (listed,) = auth.list_tokens(db=tmp_db)
    assert not listed.is_active and listed.revoked_at is not None
    with pytest.raises(auth.AuthError) as err:
        auth.create_token("monitor", "analyst", db=tmp_db)
    assert err.value.code == "token_exists"
    with pytest.raises(auth.AuthError) as err:
        auth.revoke_token("nobody", db=tmp_db)
    assert err.value.code == "unknown_token"


def test_the_use_log_gives_each_token_its_last_use_and_count(tmp_db):
    auth.create_token("a", "analyst", db=tmp_db)
    auth.create_token("b", "analyst", db=tmp_db)
    t0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    rows = [{"used_at": t0 + dt.timedelta(minutes=m), "token_name": name, "role": "analyst", "method": "GET",
             "path": "/api/v1/queries", "status": 200, "client": "127.0.0.1"} for m, name in ((0, "a"), (5, "a"))]
    rows.append({**rows[0], "token_name": None, "role": None, "status": 401})
    assert auth.record_token_uses(rows, db=tmp_db) == 3
    a, b = auth.list_tokens(db=tmp_db)
    assert (a.uses, a.last_used_at, b.uses, b.last_used_at) == (2, t0 + dt.timedelta(minutes=5), 0, None)
    log = auth.recent_token_uses(db=tmp_db)
    assert len(log) == 3 and log["status"].tolist().count(401) == 1


def test_cookie_values_are_signed_and_a_tampered_one_is_refused():
    key = b"k" * 32
    value = auth.sign_session("abc_DEF-123", key)
    assert auth.unsign_session(value, key) == "abc_DEF-123"
    session_id, _, mac = value.partition(".")
    for bad in (None, "", "abc", session_id + ".", "x" + value, session_id + "." + mac[:-1] + "A",
                value + "A" * 300):
        assert auth.unsign_session(bad, key) is None
    assert auth.unsign_session(value, b"another key") is None


def test_the_signing_key_lives_in_a_0600_file_beside_the_database_unless_configured(tmp_db, monkeypatch):
    key = auth.session_key(tmp_db)
    path = tmp_db.with_name(tmp_db.name + ".session-key")
    assert len(key) == 32 and path.read_bytes() == key and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.session_key(tmp_db) == key  # stable across calls and restarts
    monkeypatch.setenv("PORTAL_SESSION_SECRET", "from the environment")
    assert auth.session_key(tmp_db) == b"from the environment"


def test_a_session_resumes_until_signed_out_and_records_only_a_hash(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, display_name="Cora Li", db=tmp_db)
    sid = auth.open_session("cora", db=tmp_db)
    assert sid not in db.read("select session_hash from web_sessions", db=tmp_db)["session_hash"].tolist()
    assert auth.resume_session(sid, db=tmp_db) == (User("cora", "compliance", "Cora Li"), "ok")
    auth.change_role("cora", "analyst", db=tmp_db)
    assert auth.resume_session(sid, db=tmp_db)[0].role == "analyst"  # the account as it is now
    auth.revoke_session(sid, "signed_out", db=tmp_db)
    assert auth.resume_session(sid, db=tmp_db) == (None, "revoked")
    assert auth.resume_session("no such session", db=tmp_db) == (None, "unknown")
    assert auth.resume_session(None, db=tmp_db) == (None, "unknown")


def test_inactivity_ends_a_session_and_activity_keeps_it(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, db=tmp_db)
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    sid = auth.open_session("cora", db=tmp_db, now=start)
    # active every 20 minutes for two hours: never more than 30 minutes idle
    for minutes in range(20, 121, 20):
        assert auth.resume_session(sid, db=tmp_db, now=start + dt.timedelta(minutes=minutes))[1] == "ok"
    last = start + dt.timedelta(minutes=120)
    assert auth.resume_session(sid, db=tmp_db, now=last + dt.timedelta(minutes=31)) == (None, "expired")
    assert auth.resume_session(sid, db=tmp_db, now=last + dt.timedelta(minutes=32)) == (None, "revoked")


def test_activity_is_written_at_most_once_a_minute(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, db=tmp_db)
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    sid = auth.open_session("cora", db=tmp_db, now=start)

    def seen():
        return db.scalar("select last_seen_at from web_sessions", db=tmp_db).astimezone(dt.UTC)

    auth.resume_session(sid, db=tmp_db, now=start + dt.timedelta(seconds=59))
    auth.flush_session_touches()
    assert seen() == start
    auth.resume_session(sid, db=tmp_db, now=start + dt.timedelta(seconds=61))
    auth.flush_session_touches()  # written in the background, so that a page never waits on it
    assert seen() == start + dt.timedelta(seconds=61)


def test_a_sign_in_lasts_at_most_the_maximum_age_however_active(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, db=tmp_db)
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    sid = auth.open_session("cora", db=tmp_db, now=start)
    now = start
    while now - start < auth.SESSION_MAX_AGE - dt.timedelta(minutes=20):
        now += dt.timedelta(minutes=20)
        assert auth.resume_session(sid, db=tmp_db, now=now)[1] == "ok"
    assert auth.resume_session(sid, db=tmp_db, now=start + auth.SESSION_MAX_AGE + dt.timedelta(minutes=1))[1] == "expired"


def test_disabling_or_resetting_an_account_ends_its_sessions(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, db=tmp_db)
    auth.create_user("dan", "analyst", PASSWORD, db=tmp_db)
    cora_a, cora_b, dan = (auth.open_session(u, db=tmp_db) for u in ("cora", "cora", "dan"))
    auth.set_active("cora", False, db=tmp_db)
    auth.set_active("cora", True, db=tmp_db)  # re-enabling does not bring old sessions back
    assert [auth.resume_session(s, db=tmp_db)[1] for s in (cora_a, cora_b, dan)] == ["revoked", "revoked", "ok"]
    auth.reset_password("dan", "a brand new password", db=tmp_db)
    assert auth.resume_session(dan, db=tmp_db) == (None, "revoked")
    reasons = set(db.read("select revoked_reason from web_sessions", db=tmp_db)["revoked_reason"])
    assert reasons == {"disabled", "password_reset"}


def test_a_deleted_account_cannot_resume(tmp_db):
    auth.create_user("cora", "compliance", PASSWORD, db=tmp_db)
    sid = auth.open_session("cora", db=tmp_db)
    db.execute("delete from users where username = 'cora'", db=tmp_db)
    assert auth.resume_session(sid, db=tmp_db) == (None, "disabled")
    assert auth.open_sessions(db=tmp_db).empty
