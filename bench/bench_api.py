"""The query API under load: concurrent clients on `overview_kpis` and `channel_effectiveness` through a
real `portal serve`, against the same queries run in-process on the same database.

    python -m bench.bench_api --db data/bench/bench_1000000.duckdb      # the lead's 1M book (bench/run.py)
    python -m bench.bench_api --loans 5000                               # a demo book built for the run

The database is copied into --workdir first (the run adds a token and its use log; --in-place skips the
copy). Phase 1, in-process: each query once to warm up, then --rounds sequential runs (one client) and
--clients threads doing --rounds runs each through `portal.db.query` (the figure the pages see). Phase 2:
`portal serve` on a free port, and --clients threads each making --rounds requests per query with an API
token (a new connection per request, as a BI tool's scheduler does). Every API answer is compared with
the in-process rows rendered the same way (a mismatch counts as an error). Writes p50/p95 per query and
phase, the errors and the server's shutdown time to --out (bench/RESULTS_api.md), newest run first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import portal.startup  # noqa: F401 (registers the data layer's hooks)
from bench.run import machine, sample_params
from portal import audit, auth, db, masking
from portal.server import render

HERE = Path(__file__).resolve().parent
QUERIES = ("overview_kpis", "channel_effectiveness")


def start_server(database: Path, log_path: Path, *, env: dict | None = None,
                 cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`portal serve` over database on a free loopback port; returns the process and its URL once healthy
    (also scripts/screenshots.py's server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "portal", "--db", str(database), "serve", "--port", str(port),
                             "--address", "127.0.0.1", "--headless"], stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=5) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"portal serve did not start; see {log_path}")


def stop_server(proc: subprocess.Popen, url: str) -> tuple[float | None, float | None]:
    """SIGTERM; seconds until the port closed and until the process exited."""
    port = int(url.rsplit(":", 1)[1])
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    closed = exited = None
    while time.monotonic() - started < 60 and exited is None:
        with socket.socket() as sock:
            if closed is None and sock.connect_ex(("127.0.0.1", port)) != 0:
                closed = time.monotonic() - started
        if proc.poll() is not None:
            exited = time.monotonic() - started
        time.sleep(0.05)
    if exited is None:
        proc.kill()
    return closed, exited


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)] if ordered else float("nan")


def _url_params(params: dict) -> dict[str, str]:
    out = {}
    for key, value in params.items():
        if isinstance(value, list | tuple):
            out[key] = ",".join(map(str, value))
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()[:10]
        else:
            out[key] = str(value)
    return out


def in_process(database: Path, params: dict[str, dict], clients: int, rounds: int) -> dict:
    """Latencies (seconds) of each query through portal.db.query: one client, then `clients` threads."""
    for name in QUERIES:
        db.query(name, db=database, **params[name])
    sequential: dict[str, list[float]] = {name: [] for name in QUERIES}
    for _ in range(rounds):
        for name in QUERIES:
            started = time.perf_counter()
            db.query(name, db=database, **params[name])
            sequential[name].append(time.perf_counter() - started)
    concurrent: dict[str, list[float]] = {name: [] for name in QUERIES}
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(rounds):
            for name in QUERIES:
                started = time.perf_counter()
                try:
                    db.query(name, db=database, **params[name])
                except Exception as exc:  # noqa: BLE001 (every failure is a finding)
                    with lock:
                        errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:150]}")
                    continue
                with lock:
                    concurrent[name].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"sequential": sequential, "concurrent": concurrent, "errors": errors,
            "wall": time.perf_counter() - started}


def through_api(url: str, token: str, params: dict[str, dict], expected: dict[str, str], clients: int,
                rounds: int, fmt: str) -> dict:
    """Latencies of each query through GET /api/v1/queries/NAME from `clients` threads; errors counted."""
    paths = {name: f"/api/v1/queries/{name}?" + urllib.parse.urlencode({**_url_params(params[name]), "format": fmt})
             for name in QUERIES}
    latencies: dict[str, list[float]] = {name: [] for name in QUERIES}
    errors: list[str] = []
    lock = threading.Lock()

    def call(name: str) -> None:
        request = urllib.request.Request(url + paths[name], headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 (loopback)
                body = response.read().decode("utf-8")
            took = time.perf_counter() - started
            problem = None if body == expected[name] else "answer differs from the in-process rows"
        except (urllib.error.URLError, OSError) as exc:
            took, problem = None, f"{type(exc).__name__}: {str(exc)[:150]}"
        with lock:
            if problem:
                errors.append(f"{name}: {problem}")
            else:
                latencies[name].append(took)

    for name in QUERIES:  # warm-up: the server's first request of each query
        call(name)
    for name in QUERIES:
        latencies[name].clear()

    def client() -> None:
        for _ in range(rounds):
            for name in QUERIES:
                call(name)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "errors": errors, "wall": time.perf_counter() - started}


def _row(label: str, values: list[float], base: float | None = None) -> str:
    if not values:
        return f"| {label} | - | - | 0 | - |"
    ratio = f"{p95(values) / base:.2f}" if base else "-"
    return f"| {label} | {statistics.median(values):.3f} | {p95(values):.3f} | {len(values)} | {ratio} |"


def report(source: str, book: dict, clients: int, rounds: int, fmt: str, local: dict, api: dict,
           shutdown: tuple[float | None, float | None], info: dict) -> str:
    """The markdown section of one run."""
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"## {stamp}: {clients} clients on {book['loans']:,} loans ({source})", "",
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['mem_gib']} GiB, Python {info['python']}, "
        f"DuckDB {info['duckdb']}. Load average (1 min) at the start {info['load_avg']:.1f}, at the end "
        f"{os.getloadavg()[0]:.1f}.",
        f"Book: {book['loans']:,} loans, {book['contacts']:,} contacts. Each client ran each query {rounds} times; "
        f"API answers as {fmt}, a new HTTP connection per request, one token.", "",
        "| query and path | p50 s | p95 s | runs | p95 / in-process concurrent p95 |", "|---|---:|---:|---:|---:|",
    ]
    for name in QUERIES:
        base = p95(local["concurrent"][name]) if local["concurrent"][name] else None
        lines += [_row(f"{name}: in-process, 1 client", local["sequential"][name]),
                  _row(f"{name}: in-process, {clients} threads", local["concurrent"][name], base),
                  _row(f"{name}: API, {clients} clients", api["latencies"][name], base)]
    everything = [v for name in QUERIES for v in api["latencies"][name]]
    local_all = [v for name in QUERIES for v in local["concurrent"][name]]
    errors = local["errors"] + api["errors"]
    lines += [
        "",
        f"Errors: {len(errors)} (in-process {len(local['errors'])}, API {len(api['errors'])})"
        + "".join(f"\n- {e}" for e in errors[:10]),
        f"Throughput: API {len(everything) / api['wall']:.1f} requests/s over {api['wall']:.1f} s; in-process "
        f"{len(local_all) / local['wall']:.1f} queries/s over {local['wall']:.1f} s.",
        f"Overall p95: API {p95(everything):.3f} s, in-process concurrent {p95(local_all):.3f} s "
        f"({p95(everything) / p95(local_all):.2f}x).",
        f"SIGTERM: port closed after {shutdown[0]:.2f} s, process exited after {shutdown[1]:.2f} s."
        if shutdown[0] is not None and shutdown[1] is not None else "SIGTERM: the server did not stop cleanly.",
        "",
    ]
    return "\n".join(lines)


def write(out: Path, section: str) -> None:
    """Put a run's section above the earlier runs, below the file's title and notes."""
    old = out.read_text(encoding="utf-8") if out.exists() else "# Query API benchmark (bench/bench_api.py)\n\n"
    cut = old.find("\n## ")
    head, runs = (old, "") if cut < 0 else (old[:cut + 1], old[cut + 1:])
    out.write_text(head.rstrip("\n") + "\n\n" + section + "\n" + runs, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run both phases, print the section and write it to --out."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_api", description=__doc__.splitlines()[0])
    source_group = parser.add_mutually_exclusive_group(required=True)
    source_group.add_argument("--db", help="a benchmark database (copied unless --in-place)")
    source_group.add_argument("--loans", type=int, help="build a demo book of this many loans for the run")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10, help="runs of each query per client")
    parser.add_argument("--format", choices=["json", "csv"], default="json")
    parser.add_argument("--workdir", default="bench/out")
    parser.add_argument("--in-place", action="store_true", help="use --db itself (adds a token and its use log)")
    parser.add_argument("--out", default=str(HERE / "RESULTS_api.md"))
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.loans:
        from portal import demo

        database = workdir / f"api_demo_{args.loans}.duckdb"
        database.unlink(missing_ok=True)
        demo.build(database, loans=args.loans, seed=7, end_month=demo.FIXED_END_MONTH)
        source = f"demo book, {args.loans:,} loans"
    elif args.in_place:
        database, source = Path(args.db), args.db
    else:
        database, source = workdir / "bench_api.duckdb", args.db
        db.close(Path(args.db))
        audit.copy_database(args.db, database)  # with its audit keyring and anchor
    info = machine()
    counts = db.table_counts(db=database)
    book = {"loans": counts["loans"], "contacts": counts["contacts"]}
    params = {name: sample_params(name, database) for name in QUERIES}
    print(f"in-process: {args.clients} threads x {args.rounds} rounds on {database}", file=sys.stderr, flush=True)
    local = in_process(database, params, args.clients, args.rounds)
    expected = {name: render.as_text(masking.mask_frame(db.query(name, db=database, **params[name]), "executive"),
                                     args.format) for name in QUERIES}
    name = f"bench_{int(time.time())}"
    token = auth.create_token(name, "executive", created_by="bench", db=database)[1]
    db.close(database)

    proc, url = start_server(database, workdir / "bench_api_server.log")
    try:
        print(f"API: {args.clients} clients x {args.rounds} rounds on {url}", file=sys.stderr, flush=True)
        api = through_api(url, token, params, expected, args.clients, args.rounds, args.format)
    finally:
        shutdown = stop_server(proc, url)
    section = report(source, book, args.clients, args.rounds, args.format, local, api, shutdown, info)
    print(section)
    write(Path(args.out), section)
    if not args.in_place:
        for path in [database, *audit.companion_files(database)]:
            path.unlink(missing_ok=True)
        for suffix in (".wal", ".session-key", ".server.json"):
            Path(str(database) + suffix).unlink(missing_ok=True)
    return 0 if not local["errors"] and not api["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
