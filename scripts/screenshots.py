"""Screenshots of every page, in English and Chinese, from a real `portal serve` over a demo database,
taken with Playwright and Debian's /usr/bin/chromium (never a downloaded browser).

    python scripts/screenshots.py                      # a fresh demo, every page, en and zh -> docs/screenshots
    python scripts/screenshots.py --db data/portal.duckdb --pages overview,channels --langs en --out /tmp/shots

Public pages are taken as an anonymous customer; staff pages as a throw-away admin account that this
script adds to the database (use a copy of a real database, never the live one). Tests never write
into docs/screenshots: only this script does, when someone runs it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}


def _serve(db_path: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    from bench.bench_api import start_server

    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", PYTHONPATH=str(ROOT))
    env.pop("PORTAL_DB", None)
    return start_server(db_path, log_path, env=env, cwd=db_path.parent)


def _settled(page) -> None:
    """Wait until Streamlit has run the page's script and its charts have drawn: no run in progress,
    no stale element and the same number of elements over three looks in a row."""
    page.wait_for_selector('[data-testid="stApp"]', state="attached")
    probe = """() => {
        const status = document.querySelector('[data-testid="stStatusWidget"]');
        const running = status && status.innerText.trim() !== '';
        const stale = document.querySelectorAll('[data-stale="true"], [data-testid="stSkeleton"]').length;
        const shown = (sel) => [...document.querySelectorAll(sel)].filter((e) => e.offsetParent !== null);
        const undrawn = shown('[data-testid="stPlotlyChart"]').filter((e) => !e.querySelector('.main-svg'));
        if (undrawn.length) { return [true, -2]; }
        return [running || stale > 0, document.querySelectorAll('[data-testid="stElementContainer"]').length];
    }"""
    calm, last, deadline = 0, -1, time.time() + 90
    state = (True, -1)
    while calm < 3 and time.time() < deadline:
        page.wait_for_timeout(700)
        state = page.evaluate(probe)
        busy, count = state
        calm = calm + 1 if not busy and count == last and count > 0 else 0
        last = count
    if calm < 3:
        print(f"  not settled after 90 s ({state}): {page.url}", file=sys.stderr)
    page.wait_for_timeout(800)  # Plotly draws after the element appears


def _full_height(page) -> None:
    """Grow the viewport to the main area's height: Streamlit scrolls inside it, not the document."""
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : 1000; }")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(int(height), 12000))})
    page.wait_for_timeout(800)


def _sign_in(page, url: str, username: str, password: str) -> None:
    from portal.i18n import t

    page.goto(f"{url}/signin?lang=en")
    _settled(page)
    page.get_by_label(t("auth.username", "en"), exact=True).fill(username)
    page.get_by_label(t("auth.password", "en"), exact=True).fill(password)
    page.get_by_role("button", name=t("auth.submit", "en"), exact=True).click()
    page.locator('[data-testid="stSidebar"]').get_by_text(t("auth.signout", "en"), exact=True).wait_for()
    _settled(page)


def take(db_path: Path, out: Path, pages: list[str] | None, langs: list[str]) -> list[Path]:
    """Serve db_path, then save one full-page PNG per (page, language) into out as KEY_LANG.png."""
    from playwright.sync_api import sync_playwright

    from portal import auth, db, navigation

    username, password = f"shots_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    auth.create_user(username=username, role="admin", password=password, db=db_path)
    # the complaint page shows one complaint: an open one that asks for a repayment plan, if any
    shown = db.read("select complaint_id from complaints order by (plan_type is not null and plan_type <> 'none')"
                    " desc, (status in ('new', 'triaged', 'investigating')) desc, received_at desc limit 1",
                    db=db_path)
    queries = {"complaint_detail": f"&id={shown['complaint_id'].iloc[0]}" if not shown.empty else ""}
    db.close(db_path)
    specs = [s for s in navigation.PAGES if s.key != "signin" and (not pages or s.key in pages)]
    out.mkdir(parents=True, exist_ok=True)
    proc, url = _serve(db_path, db_path.parent / "serve.log")
    saved: list[Path] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            anonymous = browser.new_context(viewport=VIEWPORT).new_page()
            staff = browser.new_context(viewport=VIEWPORT).new_page()
            for page in (anonymous, staff):
                page.set_default_timeout(120_000)
            _sign_in(staff, url, username, password)
            for lang in langs:
                for spec in specs:
                    page = anonymous if spec.section == "public" else staff
                    path = "" if spec.default else spec.key
                    page.goto(f"{url}/{path}?lang={lang}{queries.get(spec.key, '')}")
                    _settled(page)
                    target = out / f"{spec.key}_{lang}.png"
                    _full_height(page)
                    page.screenshot(path=str(target))
                    page.set_viewport_size(VIEWPORT)
                    saved.append(target)
                    print(target)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a database to copy and serve (default: a fresh demo)")
    parser.add_argument("--loans", type=int, default=50_000, help="loans in the fresh demo")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--pages", help="comma-separated page keys (default: every page)")
    parser.add_argument("--langs", default="en,zh")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print("Debian chromium is missing: apt-get install -y chromium fonts-wqy-microhei", file=sys.stderr)
        return 2
    import portal.startup  # noqa: F401 (registers the data layer's hooks, as every entry point does)
    from portal import audit, demo

    with tempfile.TemporaryDirectory(prefix="portal_shots_") as tmp:
        db_path = Path(tmp) / "portal.duckdb"
        if args.db:
            audit.copy_database(args.db, db_path)  # with its audit key; the original is never written
        else:
            demo.build(db_path, loans=args.loans)
        take(db_path, args.out.resolve(), args.pages.split(",") if args.pages else None, args.langs.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
