"""The CLI beside a running `portal serve`: the same commands, through the server, give byte for byte the
stdout, stderr and exit codes they give on a copy of the same database with no server; and a load made
through the server lands in the server's database."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import select
import signal
import stat
import subprocess
import sys
import termios
import time

import pytest

from portal import audit, auth, cli, db
from portal.server import bridge, runfile
from tests.fixtures_server import PortalServer, portal_cli

HEADER = "contact_id,loan_id,contact_at,channel,party,outcome,cost\n"
GOOD = HEADER + "K9001,L00000001,2026-10-05 10:00:00,sms,debtor,delivered,0.05\n" \
                "K9002,L00000002,2026-10-05 11:00:00,phone,debtor,no_answer,1.20\n"
MIXED = HEADER + "K9101,L00000003,2026-10-06 10:00:00,sms,debtor,delivered,0.05\n" \
                 "K9102,L00000003,2026-10-06 11:00:00,pigeon,debtor,delivered,0.05\n"
ALL_BAD = HEADER + "K9201,L00000004,not a time,sms,debtor,delivered,0.05\n"
PASSWORD = "a long enough password\n"


def _commands(folder) -> list[tuple[tuple[str, ...], str | None]]:
    """(argv, stdin) pairs covering every forwarded command, its errors and its exit codes."""
    return [
        (("query", "roll_rates", "--format", "csv"), None),
        (("query", "delinquency_buckets", "--param", "start=2026-10-01", "--param", "product=cash_loan,instalment",
          "--format", "json"), None),
        (("query", "roll_rates", "--param", "start=2026-02-30"), None),
        (("query", "no_such_query"), None),
        (("load", "contacts", "good.csv"), None),  # a path relative to the caller's directory
        (("load", "contacts", str(folder / "mixed.csv")), None),
        (("load", "contacts", "all_bad.csv"), None),
        (("load", "contacts", "mixed.csv", "--strict"), None),
        (("load", "contacts", "missing.csv"), None),
        (("query", "upload_history", "--format", "csv"), None),
        (("audit", "verify"), None),
        (("derive", "--table", "no_such_table"), None),
        (("users", "add", "zed", "--role", "analyst", "--name", "Zed Wu"), PASSWORD),
        (("users", "add", "zed", "--role", "analyst"), PASSWORD),
        (("users", "add", "yan", "--role", "analyst"), "short\n"),
        (("users", "disable", "zed"), None),
        (("users", "list"), None),
        (("tokens", "revoke", "nobody"), None),
    ]


def _times_out(text: str) -> str:
    # upload_history carries the time of each upload: the two runs are equal up to those
    return re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?)?", "<time>", text)


def _fresh_book(template, folder):
    """The demo database and the upload files, in the same place each time (paths appear in messages)."""
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    path = folder / "portal.duckdb"
    audit.copy_database(template, path)  # with its audit keyring and anchor
    for file, text in (("good.csv", GOOD), ("mixed.csv", MIXED), ("all_bad.csv", ALL_BAD)):
        (folder / file).write_text(text, encoding="utf-8")
    return path


def _in_process(book, argv, stdin, folder, monkeypatch, capsys) -> tuple[int, str, str]:
    """`portal ARGV` run by cli.main in this process, as a shell in `folder` would run it."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("USER", "cron")
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
    capsys.readouterr()
    code = cli.main(["--db", str(book), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_gives_the_same_output_and_exit_code_through_the_server(demo_db_template, tmp_path,
                                                                              monkeypatch, capsys):
    folder = tmp_path / "book"
    book = _fresh_book(demo_db_template, folder)
    auth.ensure_demo_accounts(book)  # what `portal serve` does on its first start
    commands = _commands(folder)
    direct = [_in_process(book, argv, stdin, folder, monkeypatch, capsys) for argv, stdin in commands]
    db.close(book)

    book = _fresh_book(demo_db_template, folder)
    server = PortalServer(book, tmp_path / "serve.log").start()
    try:
        with pytest.raises(db.DatabaseLocked):
            db.connect(book)  # the server holds the file: a command that succeeds went through it
        forwarded = [_in_process(book, argv, stdin, folder, monkeypatch, capsys) for argv, stdin in commands]
        # what each command is expected to do, so the comparison below cannot pass on two empty runs
        assert [c for c, _, _ in forwarded] == [0, 0, 2, 2, 0, 3, 2, 2, 2, 0, 0, 2, 0, 2, 2, 0, 0, 2], forwarded
        for (argv, _), a, b in zip(commands, direct, forwarded, strict=True):
            if argv[:2] == ("query", "upload_history"):
                assert (a[0], _times_out(a[1]), a[2]) == (b[0], _times_out(b[1]), b[2])
            else:
                assert a == b, argv
        assert forwarded[8][2] == f"portal: nothing loaded: file not found: {folder / 'missing.csv'}\n"
        assert forwarded[4][1].startswith("contacts: 2 rows accepted, 0 rejected")
        assert "cron" in forwarded[9][1] and "good.csv" in forwarded[9][1]  # uploaded by the caller's user
        # the same through a separate `portal` process, as cron runs it
        for index in (0, 3, 12):
            argv, stdin = commands[index]
            if index == 12:
                argv, stdin = ("users", "add", "xia", "--role", "executive"), PASSWORD
            proc = portal_cli(book, *argv, stdin=stdin, cwd=folder, env={"USER": "cron"})
            expected = direct[index] if index != 12 else (0, "add: xia\n", "")
            assert (proc.returncode, proc.stdout, proc.stderr) == expected, argv
        history = forwarded[9][1]
    finally:
        closed, exited = server.stop()
    assert exited is not None, server.log()
    # the loads committed in the server's database, which a command now opens directly again
    after = _in_process(book, ("query", "upload_history", "--format", "csv"), None, folder, monkeypatch, capsys)
    assert after == (0, history, "")
    assert not runfile.path_for(book).exists()
    db.close(book)


def _typed(db_path, argv: list[str], lines: list[str]) -> tuple[int, str]:
    """Run `portal ARGV` on a terminal of its own and type each line when a prompt appears."""
    master, slave = os.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "portal", "--db", str(db_path), *argv], stdin=slave,
                            stdout=slave, stderr=slave, preexec_fn=own_terminal, close_fds=True)
    os.close(slave)
    screen, pending, answered = b"", list(lines), 0
    deadline = time.time() + 120
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the command exited and closed its terminal
                break
            if not chunk:
                break
            screen += chunk
            if pending and screen[answered:].rstrip().endswith((b"password:", b"again:")):
                os.write(master, pending.pop(0).encode() + b"\n")
                answered = len(screen)  # answer each prompt once
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=60)  # before closing the terminal, which would hang the command up
    os.close(master)
    return code, screen.decode("utf-8", "replace")


def test_runfile_while_serving_a_second_server_is_refused_and_the_bridge_wants_the_secret(demo_db, tmp_path):
    server = PortalServer(demo_db, tmp_path / "serve.log").start()
    try:
        path = runfile.path_for(demo_db)
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == 0o600
        run = json.loads(path.read_text())
        assert (run["pid"], run["port"], run["db"]) == (server.proc.pid, server.port, str(demo_db.resolve()))
        assert len(run["secret"]) >= 40
        second = portal_cli(demo_db, "serve", "--port", "1", "--headless")
        assert second.returncode == 2 and f"already serves {demo_db.resolve()}" in second.stderr
        payload = {"argv": ["users", "list"], "cwd": str(tmp_path), "stdin": "", "user": "x", "db": str(demo_db)}
        for headers in ({}, {bridge.RUNFILE_HEADER: "wrong"}):
            answer = server.request("POST", bridge.PATH, json_body=payload, headers=headers)
            assert answer.status == 404 and answer.json() == {"error": "not found"}
        good = {bridge.RUNFILE_HEADER: run["secret"]}
        answer = server.request("POST", bridge.PATH, json_body={**payload, "db": "/elsewhere.duckdb"}, headers=good)
        assert answer.status == 409
        answer = server.request("POST", bridge.PATH, body=b"not json", headers=good)
        assert answer.status == 400 and set(answer.json()) == {"error"}
        answer = server.request("POST", bridge.PATH, json_body=payload, headers=good)
        assert answer.status == 200 and answer.json()["code"] == 0 and "admin\tadmin" in answer.json()["stdout"]
        # a password typed at the caller's terminal (prompted twice there) reaches the server's command
        code, screen = _typed(demo_db, ["users", "add", "tty.user", "--role", "analyst"],
                              ["a typed long password", "a typed long password"])
        assert code == 0 and "add: tty.user" in screen and "a typed long password" not in screen, screen
        code, screen = _typed(demo_db, ["users", "reset", "tty.user"], ["one long password", "another one"])
        assert code == 2 and "portal: the two passwords differ" in screen
        # an online backup while the server holds the file
        backup = portal_cli(demo_db, "backup", "nightly.duckdb", cwd=tmp_path)
        assert backup.returncode == 0, backup.stderr
        assert backup.stdout.startswith(f"backup {tmp_path / 'nightly.duckdb'} with its audit keyring and anchor: ")
        again = portal_cli(demo_db, "backup", "nightly.duckdb", cwd=tmp_path)
        assert again.returncode == 2 and again.stderr == f"portal: {tmp_path / 'nightly.duckdb'} exists already: give a new file name\n"
    finally:
        closed, exited = server.stop(signal.SIGINT)  # Ctrl+C stops it as cleanly as SIGTERM
    assert closed is not None and closed < 10 and exited is not None, server.log()
    assert not runfile.path_for(demo_db).exists() and "portal stopped" in server.log()
    restored = portal_cli(tmp_path / "nightly.duckdb", "users", "list")
    assert restored.returncode == 0 and "admin\tadmin" in restored.stdout
    verified = portal_cli(tmp_path / "nightly.duckdb", "audit", "verify")  # the copy's chain checks out
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert db.table_counts(db=tmp_path / "nightly.duckdb") == db.table_counts(db=demo_db)
    db.close()
