"""`portal users ...`: accounts from the command line; passwords never come from argv."""

from __future__ import annotations

import io
import sys

from portal import auth, cli


def test_users_commands(tmp_db, monkeypatch, capsys):
    base = ["--db", str(tmp_db), "users"]
    assert cli.main(base + ["add", "Alice", "--role", "analyst", "--name", "Alice Wu", "--generate"]) == 0
    out = capsys.readouterr().out
    password = out.split(" password ")[1].split()[0]
    assert auth.authenticate("alice", password, db=tmp_db).role == "analyst"

    monkeypatch.setattr(sys, "stdin", io.StringIO("piped password 1\n"))
    assert cli.main(base + ["add", "bob", "--role", "admin"]) == 0
    assert "password" not in capsys.readouterr().out  # a typed password is never echoed
    assert auth.authenticate("bob", "piped password 1", db=tmp_db).role == "admin"

    assert cli.main(base + ["role", "bob", "executive"]) == 0
    assert cli.main(base + ["disable", "bob"]) == 0
    capsys.readouterr()
    assert cli.main(base + ["list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "alice\tanalyst\tactive\tAlice Wu", "bob\texecutive\tdisabled\t"]

    assert cli.main(base + ["add", "bob", "--role", "admin", "--generate"]) == 2
    assert "taken" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(base + ["reset", "alice"]) == 2
    assert "10 characters" in capsys.readouterr().err
    assert cli.main(base + ["enable", "nobody"]) == 2
    assert cli.main(base + ["reset", "alice", "--generate"]) == 0
    new = capsys.readouterr().out.split(" password ")[1].split()[0]
    assert auth.authenticate("alice", new, db=tmp_db) and new != password
