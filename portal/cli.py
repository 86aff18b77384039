"""The `portal` command: demo, load, query, check-contacts, derive, audit (verify, seal, rotate-key,
re-anchor), alerts, users, tokens, backup, report, serve.

While `portal serve` holds a database, each command on it except demo and serve hands its work to the
server over loopback (portal/server/bridge.py): the same command function runs there, with its output
captured, so stdout, stderr and the exit code are the ones the command gives when it opens the file.

Adding a command: write `cmd_NAME(args) -> int` that prints with `file=args.io.out` (errors: raise
CliError, one line; never bare print or sys.stdout), reads input only from `args.io.stdin`
(`args.io.interactive` says whether that is a terminal), and add a subparser with
`set_defaults(func=cmd_NAME)`. Give file arguments `type=path_arg`, so they resolve against the caller's
directory when the server runs the command.
A command that must prompt on the caller's terminal sets `prepare=fn(args) -> stdin text` as well.
"""

from __future__ import annotations

import argparse
import contextvars
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from portal import config

EXIT_OK, EXIT_BROKEN, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
LOCAL_COMMANDS = frozenset({"demo", "serve"})  # never handed to a server: they create or run one
_caller_cwd: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller_cwd", default=None)


@dataclass
class Io:
    """Where a command's output goes and its input comes from: the terminal, or buffers in the server."""

    out: TextIO
    err: TextIO
    stdin: TextIO
    interactive: bool
    user: str

    @classmethod
    def terminal(cls) -> Io:
        """This process's own streams."""
        return cls(sys.stdout, sys.stderr, sys.stdin, sys.stdin.isatty(), os.environ.get("USER", "cli"))

    @classmethod
    def buffers(cls, stdin: str = "", user: str = "cli") -> Io:
        """In-memory streams, for a command run in the server on a caller's behalf."""
        return cls(io.StringIO(), io.StringIO(), io.StringIO(stdin), False, user)


class _Datasets:
    """The upload datasets as argparse choices, read from portal.ingest only when a command needs them
    (so a command handed to the server does not pay for importing the upload machinery)."""

    def _names(self) -> list[str]:
        from portal.ingest import DATASETS

        return list(DATASETS)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def path_arg(text: str) -> str:
    """argparse type for a file argument: an absolute path, resolved against the caller's directory."""
    base = _caller_cwd.get() or os.getcwd()
    return os.path.normpath(os.path.join(base, os.path.expanduser(text)))


class CliError(Exception):
    """A problem to report in one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _end_month(text: str):
    """--end-month YYYY-MM: the last day of that month, which must have ended already."""
    import datetime as dt

    from portal import demo

    try:
        year, month = (int(part) for part in text.strip().split("-"))
        if not 1 <= month <= 12:
            raise ValueError(text)
        first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from None
    end = first_next - dt.timedelta(days=1)
    if end > demo.current_end_month():
        raise argparse.ArgumentTypeError(f"{text} has not ended yet (the latest is {demo.current_end_month():%Y-%m})")
    return end


def _parse_params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--param expects key=value, got {pair!r}")
        out[key.strip()] = value
    return out


def cmd_query(args: argparse.Namespace) -> int:
    """Print a named query as CSV or JSON."""
    from portal import db
    from portal.server import render

    q = db.get_query(args.name)
    if args.engine == "spark":
        from portal import spark

        frame = spark.query(q.name, parquet=args.parquet, **_parse_params(args.param))
    else:
        frame = db.query(q.name, db=args.db, **_parse_params(args.param))
    args.io.out.write(render.as_text(frame, args.format))
    return EXIT_OK


def cmd_export_parquet(args: argparse.Namespace) -> int:
    """Export the tables as partitioned Parquet for Spark or another engine."""
    from portal import export_parquet

    summary = export_parquet.export(args.out_dir, database=args.db)
    rows = ", ".join(f"{k} {v:,}" for k, v in summary.rows.items())
    print(f"parquet export {summary.out_dir}: {rows}", file=args.io.out)
    return EXIT_OK


def cmd_derive(args: argparse.Namespace) -> int:
    """Rebuild the derived tables (queries/derived/*.sql and the policy facts) on DuckDB, or on Spark."""
    started = time.perf_counter()
    if args.engine == "spark":
        from portal import spark

        rows = spark.derive(args.parquet, names=args.table or None)
        done = ", ".join(f"{k} {v:,} rows" for k, v in rows.items())
        print(f"derived on Spark in {time.perf_counter() - started:.1f} s: {done}", file=args.io.out)
        return EXIT_OK
    from portal import db, derived

    known = derived.tables()
    unknown = [t for t in args.table if t not in known]
    if unknown:
        raise db.QueryError(f"no derived table {unknown[0]!r}; tables: {', '.join(known)}")
    names = args.table or list(known)
    if args.check:
        diffs = derived.check(names, db=args.db)
        for d in diffs:
            print(f"{d.name}: differs from a rebuild from scratch ({d.stored_rows:,} rows stored, "
                  f"{d.rebuilt_rows:,} rebuilt); run portal derive --table {d.name}", file=args.io.out)
        took = time.perf_counter() - started
        if diffs:
            return EXIT_BROKEN
        print(f"every derived table checked ({len(names)}) matches a rebuild from scratch ({took:.1f} s)",
              file=args.io.out)
        return EXIT_OK

    def work(cur) -> list[str]:
        chosen = names if args.all else derived.stale(cur, names)
        for name in chosen:
            derived.refresh_one(cur, name)
        return chosen

    rebuilt = db.write(work, db=args.db)
    took = time.perf_counter() - started
    print(f"rebuilt {', '.join(rebuilt)} in {took:.1f} s" if rebuilt else "every derived table is up to date",
          file=args.io.out)
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the database into a new file from one consistent snapshot (works while the server runs),
    with the audit keyring and anchor that live beside it (a copy without them cannot be verified)."""
    import shutil

    from portal import audit, db

    started = time.perf_counter()
    source, target = config.db_path(args.db).resolve(), Path(args.file)
    # The anchor before the snapshot (an anchor behind its database verifies, one ahead of it does not),
    # the keyring after it (keys are only ever added, so it holds every key the snapshot's events use).
    anchor = (audit.anchor_file(source), audit.anchor_file(target))
    keyring = (audit.key_file(source), audit.key_file(target))
    companions = [(a, b) for a, b in (anchor, keyring) if a is not None and b is not None and a.exists()
                  and a.resolve() != b.resolve()]
    if target.resolve() != source and target.exists():
        raise CliError(f"{target.resolve()} exists already: give a new file name")
    for _, copy in companions:
        if copy.exists():
            raise CliError(f"{copy} exists already: give a new file name")
    if target.resolve() != source and not target.exists() and anchor in companions:
        shutil.copy2(*anchor)
    try:
        out = db.backup(target, db=args.db)
    except db.PortalDBError:
        if anchor in companions and not target.exists():
            anchor[1].unlink(missing_ok=True)
        raise
    if keyring in companions:
        shutil.copy2(*keyring)
    size = out.stat().st_size / 2**20
    extra = " with its audit keyring and anchor" if companions else ""
    print(f"backup {out}{extra}: {size:.0f} MiB in {time.perf_counter() - started:.1f} s", file=args.io.out)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the demo database."""
    from portal import demo

    summary = demo.build(args.db, loans=args.loans, seed=args.seed, end_month=args.end_month,
                         contacts_scale=args.contacts_scale)
    size = Path(summary.path).stat().st_size / 2**20
    counts = ", ".join(f"{k} {v:,}" for k, v in summary.counts.items())
    print(f"demo database {summary.path}: {counts} ({summary.seconds:.1f} s, {size:.0f} MiB)", file=args.io.out)
    _print_new_accounts(args.db, args.io.out)
    return EXIT_OK


def _print_new_accounts(db_path: str | None, out: TextIO) -> None:
    """Create the demo staff accounts on first run and print their passwords once."""
    from portal import auth

    created = auth.ensure_demo_accounts(db_path)
    if created:
        print("demo accounts (passwords are shown only this once):", file=out)
        for username, role, password in created:
            print(f"  {role:<11} user {username:<12} password {password}", file=out)


def cmd_load(args: argparse.Namespace) -> int:
    """Validate and load one file into a dataset."""
    from portal import ingest

    try:
        result = ingest.load_file(args.dataset, args.file, strict=args.strict, db=args.db, uploaded_by=args.io.user)
    except ingest.UploadError as exc:
        raise CliError(f"nothing loaded: {exc}") from None
    print(f"{result.dataset}: {result.accepted:,} rows accepted, {result.rejected:,} rejected "
          f"(upload {result.upload_id}, {result.status})", file=args.io.out)
    if result.message:
        print(result.message, file=args.io.out)
    if result.accepted == 0 and result.rejected > 0 or result.status in ("rejected", "failed"):
        return EXIT_USAGE
    return EXIT_PARTIAL if result.rejected else EXIT_OK


def cmd_check_contacts(args: argparse.Namespace) -> int:
    """Check a planned contact list against the rule pack, the log and the rows before each."""
    from portal import export, prevention

    try:
        plan = prevention.check_file(args.file, args.pack, db=args.db, lang=args.lang)
    except prevention.CheckError as exc:
        raise CliError(f"nothing checked: {exc}") from None
    out = Path(args.out) if args.out else None
    suffix = out.suffix.lower() if out is not None else ""
    table = prevention.text_frame(plan.frame)
    if args.format == "json" or suffix == ".json":
        data: bytes | str = prevention.to_json(plan) + "\n"
    elif suffix in (".xlsx", ".xlsm"):
        data = prevention.to_xlsx(table)
    elif out is not None:
        data = export.to_csv_bytes(table)
    else:
        data = export.neutralise(table).to_csv(index=False)
    if out is None:
        args.io.out.write(data)
    else:
        data = data.encode("utf-8") if isinstance(data, str) else data
        partial = out.with_name(f".{out.name}.{os.getpid()}.part")
        try:
            partial.write_bytes(data)
            os.replace(partial, out)  # a dialer polling for the file never reads half of it
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    counts = plan.counts
    print(f"{counts['rows']:,} planned contacts under pack {plan.pack}: {counts['allowed']:,} allowed, "
          f"{counts['blocked']:,} blocked, {counts['invalid']:,} not checked (bad rows)"
          + (f"; written to {out}" if out is not None else ""), file=args.io.err)
    return EXIT_PARTIAL if counts["invalid"] else EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """Verify the complaint audit trail: chain, keys, anchor and complaint rows (0 intact, 1 broken)."""
    from portal import complaints

    result = complaints.verify_chain(db=args.db)
    print(result.message, file=args.io.out)
    return EXIT_OK if result.ok else EXIT_BROKEN


def _cli_actor(args: argparse.Namespace) -> str:
    return f"cli:{args.io.user}"  # the caller's user, also when the server runs the command


def cmd_audit_seal(args: argparse.Namespace) -> int:
    """Key a legacy (unkeyed sha256) audit chain now."""
    from portal import complaints

    added = complaints.seal(db=args.db, actor=_cli_actor(args))
    print(f"sealed: {added:,} events added" if added else "nothing to seal: the chain is already keyed",
          file=args.io.out)
    return EXIT_OK


def cmd_audit_rotate(args: argparse.Namespace) -> int:
    """Add a new audit key to the keyring and record the rotation on the chain."""
    from portal import audit, complaints

    new_id, event_id = complaints.rotate_key(db=args.db, actor=_cli_actor(args))
    where = audit.key_file(config.db_path(args.db).resolve())
    if event_id is None:
        print(f"new audit key {new_id} in {where}; it signs the first event", file=args.io.out)
    else:
        print(f"new audit key {new_id} in {where}; rotation recorded as event {event_id}", file=args.io.out)
    return EXIT_OK


def cmd_audit_reanchor(args: argparse.Namespace) -> int:
    """Start a new anchor after the old one was lost (only when the chain verifies otherwise)."""
    from portal import audit, complaints

    event_id = complaints.restart_anchor(db=args.db, actor=_cli_actor(args))
    print(f"new anchor {audit.anchor_file(config.db_path(args.db).resolve())} starts at event {event_id}",
          file=args.io.out)
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    """Evaluate the KPI alert rules at a month-end; print each that fires; exit 1 when any fires.

    The check also records each rule's fired / cleared transitions in the alert history (not with
    --no-record); a re-check of the same data records nothing.
    """
    from portal import alerts

    try:
        result = alerts.check(args.as_of, db=args.db, record=not args.no_record, recorded_by="cli")
    except alerts.AlertError as exc:
        raise CliError(str(exc)) from None
    fired = result.firing
    if args.format == "json":
        body = {"as_of": result.as_of.isoformat(), "rules_checked": len(result.evaluations),
                "firing": [e.as_dict() for e in fired], "events_recorded": len(result.events)}
        args.io.out.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
    else:
        from portal.i18n import t

        for e in fired:
            since = f"; {t('forecast.alerts.since', 'en', month=e.since.isoformat())}" if e.since else ""
            print(f"{e.rule.severity.upper()} {e.message('en')}{since}", file=args.io.out)
        if not fired:
            print(t("forecast.alerts.none_fire", "en", month=result.as_of.isoformat(),
                    rules=len(result.evaluations)), file=args.io.err)
    return EXIT_BROKEN if fired else EXIT_OK


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """A password from --generate, stdin (when piped) or a twice-typed prompt; never from argv."""
    import getpass

    from portal import auth

    if args.generate:
        return auth.generate_password(), True
    if not args.io.interactive:
        return args.io.stdin.readline().rstrip("\r\n"), False
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CliError("the two passwords differ")
    return first, False


def _users_prepare(args: argparse.Namespace) -> str:
    """Before a server runs `users add|reset`: take the password here (prompt or stdin) and pass it on."""
    if args.users_command not in ("add", "reset") or args.generate:
        return ""
    password, _ = _new_password(args)
    return password + "\n"


def cmd_users(args: argparse.Namespace) -> int:
    """Manage local accounts: add, list, disable, enable, reset, role."""
    from portal import auth
    from portal.i18n import t

    try:
        if args.users_command == "list":
            for a in auth.list_users(db=args.db):
                state = "active" if a.is_active else "disabled"
                print(f"{a.username}\t{a.role}\t{state}\t{a.display_name}", file=args.io.out)
            return EXIT_OK
        if args.users_command in ("add", "reset"):
            password, generated = _new_password(args)
            if args.users_command == "add":
                auth.create_user(args.username, args.role, password, display_name=args.name or "",
                                 created_by="cli", db=args.db)
            else:
                auth.reset_password(args.username, password, db=args.db)
            print(f"{args.users_command}: {args.username.strip().lower()}"
                  + (f" password {password} (shown only this once)" if generated else ""), file=args.io.out)
        elif args.users_command in ("disable", "enable"):
            auth.set_active(args.username, args.users_command == "enable", db=args.db)
            print(f"{args.users_command}d: {args.username}", file=args.io.out)
        elif args.users_command == "role":
            auth.change_role(args.username, args.role, db=args.db)
            print(f"role: {args.username} is {args.role}", file=args.io.out)
    except auth.AuthError as exc:
        raise CliError(t(f"auth.errors.{exc.code}", "en")) from None
    return EXIT_OK


def cmd_tokens(args: argparse.Namespace) -> int:
    """Manage API tokens: add (prints the token once, alone on the last line), list, revoke."""
    from portal import auth
    from portal.i18n import t

    try:
        if args.tokens_command == "add":
            token, secret = auth.create_token(args.name, args.role, created_by=f"cli:{args.io.user}", db=args.db)
            print(f"token {token.name} ({token.role}) created; it is shown only this once:", file=args.io.out)
            print(secret, file=args.io.out)
        elif args.tokens_command == "list":
            for tok in auth.list_tokens(db=args.db):
                state = "active" if tok.is_active else f"revoked {tok.revoked_at:%Y-%m-%d %H:%M}"
                used = f"{tok.last_used_at:%Y-%m-%d %H:%M}" if tok.last_used_at else "never"
                print(f"{tok.name}\t{tok.role}\t{state}\t{tok.token_prefix}...\tcreated "
                      f"{tok.created_at:%Y-%m-%d %H:%M}\tlast used {used}\t{tok.uses} uses", file=args.io.out)
        else:
            auth.revoke_token(args.name, revoked_by=f"cli:{args.io.user}", db=args.db)
            print(f"revoked: {args.name.strip().lower()}", file=args.io.out)
    except auth.AuthError as exc:
        raise CliError(t(f"auth.errors.{exc.code}", "en")) from None
    return EXIT_OK


def _values(raw: list[str] | None) -> list[str]:
    """Repeated and comma-separated option values as one list (--product a --product b,c)."""
    return [v.strip() for item in raw or [] for v in item.split(",") if v.strip()]


def cmd_report(args: argparse.Namespace) -> int:
    """Write the board pack (PDF or HTML) for a month-end, default the latest, to --out (for cron)."""
    from portal import report

    out = Path(args.out)
    fmt = args.format or ("html" if out.suffix.lower() in (".html", ".htm") else "pdf")
    dims = {"product": _values(args.product), "region": _values(args.region), "risk_grade": _values(args.risk_grade)}
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: no folder {out.parent}")
    try:
        ctx = report.context(args.as_of, dims, lang=args.lang, db_path=args.db)
        body = report.render(report.assemble(ctx), fmt)
    except report.ReportError as exc:
        raise CliError(str(exc)) from None
    partial = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        partial.write_bytes(body)
        os.replace(partial, out)  # cron never sees half a file
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"board pack for {ctx.as_of.isoformat()} ({fmt}, {ctx.lang}, {len(body):,} bytes) written to {out}", file=args.io.out)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the web portal and the HTTP API (building the demo database first if there is none)."""
    from portal import db, demo
    from portal.server import runfile

    path = config.db_path(args.db).resolve()
    running = runfile.find(path)
    if running is not None:
        raise CliError(f"a server (PID {running.pid}) already serves {path} at {running.url}; stop it first")
    if not path.exists():
        print(f"no database at {path}: building the demo ({args.loans:,} loans)...", file=args.io.out, flush=True)
        summary = demo.build(path, loans=args.loans, seed=args.seed)
        print(f"built in {summary.seconds:.1f} s", file=args.io.out, flush=True)
    else:
        db.connect(path)
    _print_new_accounts(str(path), args.io.out)
    db.close(path)
    from portal.server import app

    print(f"portal on http://{args.address}:{args.port}  (Ctrl+C or SIGTERM stops it)", file=args.io.out, flush=True)
    app.serve(path, address=args.address, port=args.port, headless=args.headless)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `portal` command."""
    parser = argparse.ArgumentParser(prog="portal", description="Collections Portal command line.")
    parser.add_argument("--db", default=None,
                        help="database file (default: $PORTAL_DB, else data/portal.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="build a realistic demo database")
    p.add_argument("--loans", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end-month", type=_end_month, default=None, metavar="YYYY-MM",
                   help="the last month of data (default: the last month that has ended)")
    p.add_argument("--contacts-scale", type=float, default=1.0,
                   help="multiply the contact volume (benchmarks use this)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("load", help="validate and load a file (CSV, XLSX or Parquet)")
    p.add_argument("dataset", choices=_Datasets(), metavar="DATASET",
                   help="an upload dataset (CONTRACT.md, Uploads); an unknown name lists them")
    p.add_argument("file", type=path_arg)
    p.add_argument("--strict", action="store_true", help="load nothing if any row is bad")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("query", help="print a named query (queries/NAME.sql)")
    p.add_argument("name")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                   help="spark runs the query transpiled over a Parquet export (see docs/SCALING.md)")
    p.add_argument("--parquet", default=None, type=path_arg,
                   help="export folder for --engine spark (default: $PORTAL_PARQUET_DIR, else data/parquet)")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("backup", help="copy the database into a new file (safe while portal serve runs)")
    p.add_argument("file", type=path_arg, help="the new database file (must not exist)")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("export-parquet", help="export the tables as partitioned Parquet (for Spark)")
    p.add_argument("out_dir", type=path_arg)
    p.set_defaults(func=cmd_export_parquet)

    p = sub.add_parser("derive", help="rebuild the derived tables (rollups and facts kept up to date on load)")
    p.add_argument("--all", action="store_true", help="rebuild every one, not only the stale ones (DuckDB)")
    p.add_argument("--check", action="store_true",
                   help="change nothing: compare each table's content hash with a rebuild from scratch "
                        "(exit 1 when any differs)")
    p.add_argument("--table", action="append", default=[], metavar="NAME", help="only this table (repeatable)")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                   help="spark computes them from a Parquet export and writes them into it")
    p.add_argument("--parquet", default=None, type=path_arg,
                   help="export folder for --engine spark (default: $PORTAL_PARQUET_DIR, else data/parquet)")
    p.set_defaults(func=cmd_derive)

    p = sub.add_parser("check-contacts", help="check a planned contact list against the rule pack before dialling")
    p.add_argument("file", type=path_arg,
                   help="CSV, XLSX or Parquet with loan_id, channel, party, planned_at (collectors for visits)")
    p.add_argument("--pack", default=None, help="rule pack (default: the active pack, setting rule_pack)")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--out", default=None, type=path_arg, metavar="PATH",
                   help="write here instead of stdout (.xlsx writes a workbook, .json JSON)")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the reasons")
    p.set_defaults(func=cmd_check_contacts)

    p = sub.add_parser("audit", help="complaint audit trail")
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    v = audit_sub.add_parser("verify", help="check the chain, its keys, its anchor and the complaint rows; "
                             "name the first broken entry")
    v.set_defaults(func=cmd_audit)
    v = audit_sub.add_parser("seal", help="key a legacy unkeyed chain now (the first change also seals it)")
    v.set_defaults(func=cmd_audit_seal)
    v = audit_sub.add_parser("rotate-key", help="add a new signing key; old keys stay in the keyring to verify")
    v.set_defaults(func=cmd_audit_rotate)
    v = audit_sub.add_parser("re-anchor", help="start a new anchor after the old one was lost "
                             "(refused unless the chain verifies otherwise)")
    v.set_defaults(func=cmd_audit_reanchor)

    p = sub.add_parser("alerts", help="KPI alerts (rules: portal/alert_rules.toml + setting alert_rules_file)")
    alerts_sub = p.add_subparsers(dest="alerts_command", required=True)
    a = alerts_sub.add_parser("check", help="evaluate the rules at the latest month-end; exit 1 when any fires")
    a.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="a month-end in the snapshots (default: latest)")
    a.add_argument("--format", choices=["text", "json"], default="text")
    a.add_argument("--no-record", action="store_true", help="evaluate only; do not write the alert history")
    a.set_defaults(func=cmd_alerts)

    roles = ["executive", "compliance", "analyst", "admin"]
    p = sub.add_parser("users", help="manage local accounts (passwords via prompt, stdin or --generate)")
    users_sub = p.add_subparsers(dest="users_command", required=True)
    u = users_sub.add_parser("add", help="create an account")
    u.add_argument("username")
    u.add_argument("--role", required=True, choices=roles)
    u.add_argument("--name", help="display name")
    u.add_argument("--generate", action="store_true", help="generate a random password and print it once")
    u = users_sub.add_parser("reset", help="set a new password and clear a lockout")
    u.add_argument("username")
    u.add_argument("--generate", action="store_true", help="generate a random password and print it once")
    for name in ("disable", "enable"):
        users_sub.add_parser(name, help=f"{name} an account").add_argument("username")
    u = users_sub.add_parser("role", help="change an account's role")
    u.add_argument("username")
    u.add_argument("role", choices=roles)
    users_sub.add_parser("list", help="list accounts")
    p.set_defaults(func=cmd_users, prepare=_users_prepare)

    p = sub.add_parser("report", help="reports to file (for cron)")
    report_sub = p.add_subparsers(dest="report_command", required=True)
    r = report_sub.add_parser("board-pack", help="the board pack for a month-end, as PDF or HTML")
    r.add_argument("--as-of", default=None, metavar="YYYY-MM-DD",
                   help="a month-end in the data (default: the latest)")
    r.add_argument("--format", choices=["pdf", "html"], default=None,
                   help="default: html when --out ends in .html, else pdf")
    r.add_argument("--lang", choices=["en", "zh"], default="en")
    r.add_argument("--product", action="append", metavar="P", help="loan filter (repeat or comma-separate)")
    r.add_argument("--region", action="append", metavar="R", help="loan filter (repeat or comma-separate)")
    r.add_argument("--risk-grade", action="append", metavar="G", help="loan filter (repeat or comma-separate)")
    r.add_argument("--out", required=True, type=path_arg, metavar="PATH", help="file to write (replaced whole)")
    r.set_defaults(func=cmd_report)

    p = sub.add_parser("tokens", help="API tokens (each belongs to a role; stored hashed; every use is logged)")
    tokens_sub = p.add_subparsers(dest="tokens_command", required=True)
    k = tokens_sub.add_parser("add", help="create a token and print it once, alone on the last line")
    k.add_argument("name")
    k.add_argument("--role", required=True, choices=roles)
    tokens_sub.add_parser("list", help="list tokens (never their secrets)")
    tokens_sub.add_parser("revoke", help="revoke a token: it gets 401 from then on").add_argument("name")
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("serve", help="start the web portal and the HTTP API (builds the demo database if none exists)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="localhost")
    p.add_argument("--loans", type=int, default=50_000, help="demo size when no database exists")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_serve)
    return parser


def run(args: argparse.Namespace, streams: Io) -> int:
    """Run one parsed command with its output on `streams`; return its exit code (errors as one line)."""
    from portal import db

    args.io = streams
    try:
        return args.func(args)
    except CliError as exc:
        print(f"portal: {exc}", file=streams.err)
        return exc.code
    except (db.QueryError, db.PortalDBError) as exc:
        print(f"portal: {exc}", file=streams.err)
        return EXIT_USAGE
    except Exception as exc:  # a bug, not the input: one line (writes are one transaction, so none is half done)
        if os.environ.get("PORTAL_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"portal: unexpected error ({type(exc).__name__}: {first}); a database write it made was rolled "
              "back. PORTAL_DEBUG=1 shows the traceback", file=streams.err)
        return EXIT_BROKEN


def run_for_caller(argv: list[str], *, cwd: str, stdin: str, user: str, db_path: str) -> tuple[int, str, str]:
    """Run a command on a caller's behalf in the server: its argv resolved against the caller's directory,
    on the server's database; return (exit code, stdout, stderr)."""
    streams = Io.buffers(stdin, user)
    token = _caller_cwd.set(cwd)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # the caller parsed the same argv first, so this is not expected
        return int(exc.code or EXIT_USAGE), "", "portal: the server could not read that command line\n"
    finally:
        _caller_cwd.reset(token)
    args.db = db_path
    code = run(args, streams)
    return code, streams.out.getvalue(), streams.err.getvalue()


def _runs_here(args: argparse.Namespace) -> bool:
    return args.command in LOCAL_COMMANDS or getattr(args, "engine", "duckdb") == "spark"


def main(argv: list[str] | None = None) -> int:
    """Run the `portal` command and return its exit code (through the server when one holds the database)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    streams = Io.terminal()
    try:
        code = None
        if not _runs_here(args):
            from portal.server import bridge

            code = bridge.forward(args, argv, streams)
        if code is None:
            import portal.startup  # noqa: F401 (registers the data layer's hooks)

            code = run(args, streams)
    except BrokenPipeError:
        return EXIT_OK
    if os.environ.get("PORTAL_TIMING"):
        print(f"({time.perf_counter() - started:.2f} s)", file=sys.stderr)
    return code
