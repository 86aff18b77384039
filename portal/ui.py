"""Streamlit helpers shared by every page: setup, the signed-in user, sidebar filters, cached
queries, tables with downloads, charts and empty states. Pages stay thin by calling these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pandas as pd
import streamlit as st

from portal import auth, config, db, export, i18n, masking, navigation
from portal.auth_types import User
from portal.i18n import t

APP_PAGES = Path(__file__).resolve().parent / "app_pages"
FILTER_DIMENSIONS = ("product", "region", "risk_grade")
CACHE_TTL_S = 600


def setup() -> None:
    """Configure the page and set this run's language from the URL or the session."""
    st.set_page_config(page_title="Collections Portal", page_icon=":material/account_balance:", layout="wide")
    if "lang" not in st.session_state:
        url_lang = st.query_params.get("lang")
        st.session_state.lang = url_lang if url_lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    i18n.set_language(st.session_state.lang)


def current_user() -> User | None:
    """The signed-in user of this session, or None for an anonymous customer."""
    user = st.session_state.get("user")
    return user if isinstance(user, User) else None


def current_role() -> str:
    """The role of this session: 'customer' when nobody is signed in."""
    user = current_user()
    return user.role if user else "customer"


def oidc_configured() -> bool:
    """Whether `[auth]` is configured in secrets, so that st.login can be offered."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises rather than returning empty
        return False


# Sign-in that lasts: under `portal serve` a local sign-in is also a server-side session record behind
# a signed, HttpOnly cookie that the server's /account/session route sets (a script cannot set cookies),
# so a reload or a new tab signs the user in again from st.context.cookies. Under a bare `streamlit run`
# (no custom routes) a sign-in lasts as long as the browser tab's session, as before.
URL_NOTICES = ("signed_out", "expired", "disabled", "signin_link")


def _redirect(url: str) -> None:
    """Send the browser to a same-origin URL (the message st.login and st.logout use to leave the app)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None:
        msg = ForwardMsg()
        msg.auth_redirect.url = url
        ctx.enqueue(msg)
        st.session_state["_redirecting"] = True


def redirecting() -> bool:
    """Whether this run has sent the browser elsewhere (the page should stop drawing)."""
    return bool(st.session_state.get("_redirecting"))


def lasting_sign_in() -> bool:
    """Whether sign-ins here are kept in a cookie (the portal server's routes are served)."""
    from portal.server import state

    return state.serving()


def _cookie_session() -> str | None:
    """The session id in this browser's sign-in cookie, when its signature checks out."""
    from portal.server import state

    value = st.context.cookies.get(auth.SESSION_COOKIE) if lasting_sign_in() else None
    if not value or value == st.session_state.get("_dead_cookie"):
        return None
    session_id = auth.unsign_session(value, auth.session_key(state.db_path()))
    if session_id is None:
        st.session_state["_dead_cookie"] = value
    return session_id


def _start_session(user: User, source: str, web_session: str | None = None) -> None:
    # A fresh session state on every sign-in: nothing of the previous user's state survives.
    for key in [k for k in st.session_state if k != "lang"]:
        del st.session_state[key]
    st.session_state.user = user
    st.session_state.auth_source = source
    st.session_state.last_seen = auth.utcnow()
    if web_session is not None:
        st.session_state.web_session = web_session


def safe_next(value: str | None) -> str | None:
    """A `next` target that is a same-origin page path, or None (no open redirect)."""
    from portal.server.auth_routes import safe_next as check

    return check(value, "") or None


def current_location() -> str | None:
    """This page's path and query string (e.g. /channels?product=cash_loan), for a sign-in's `next`."""
    url = st.context.url
    if not url:
        return None
    pairs = [(k, v) for k in st.query_params for v in st.query_params.get_all(k) if k != "notice"]
    return safe_next((urlsplit(url).path or "/") + (f"?{urlencode(pairs)}" if pairs else ""))


def sign_in(username: str, password: str, next_path: str | None = None) -> User:
    """Check a local account's password and start its session; raises auth.AuthError.

    Under the portal server the sign-in also gets a server-side session and the browser is sent to the
    cookie route, which sets the cookie and goes on to next_path (default: home); see redirecting().
    """
    user = auth.authenticate(username, password)
    web_session = auth.open_session(user.username) if lasting_sign_in() else None
    _start_session(user, "local", web_session)
    if web_session is not None:
        from portal.server import auth_routes, state

        browser = state.browser_token(st.context.cookies.get(auth_routes.XSRF_COOKIE))
        code = state.handoff(web_session, safe_next(next_path) or "/", browser)
        _redirect(f"{auth_routes.SESSION_PATH}?code={code}")
    return user


def go_to(next_path: str | None) -> None:
    """After a sign-in, open the page at a `next` path (with its query string), or home when it names no
    page the user may open. The pages of this run were registered for the anonymous visitor, so the
    switch happens on the next run, once the navigation knows the user's pages (follow_next)."""
    st.session_state["_go_to"] = next_path or "/"
    st.rerun()


def follow_next() -> None:
    """Called by the entry point after st.navigation: carry out a pending go_to."""
    next_path = st.session_state.pop("_go_to", None)
    if next_path is None:
        return
    parts = urlsplit(next_path)
    key = parts.path.strip("/") or next(p.key for p in navigation.PAGES if p.default)
    spec = next((p for p in navigation.PAGES if p.key == key), None)
    if spec is None or not navigation.may_open(current_role(), spec.key):
        spec, parts = next(p for p in navigation.PAGES if p.default), urlsplit("/")
    st.switch_page(APP_PAGES / spec.script, query_params=parse_qsl(parts.query) or None)


def sign_out(notice: str | None = "signed_out") -> None:
    """End the session: drop the user and every piece of session state but the language.

    A cookie-backed session is ended on the server too (every tab of it is signed out); signing out on
    purpose also sends the browser through /account/signout, which clears the cookie.
    """
    web_session = st.session_state.get("web_session")
    if web_session is not None:
        auth.revoke_session(web_session, notice or "signed_out")
    for key in [k for k in st.session_state if k != "lang"]:
        del st.session_state[key]
    if notice:
        st.session_state.auth_notice = notice
    if web_session is not None and notice == "signed_out" and lasting_sign_in():
        from portal.server import auth_routes

        _redirect(auth_routes.SIGNOUT_PATH)


def session_guard() -> None:
    """Each run: end an idle, disabled or revoked session with a message, resume one from the sign-in
    cookie or adopt an OIDC identity, and mark activity."""
    st.session_state.pop("_redirecting", None)
    now = auth.utcnow()
    user = current_user()
    source = st.session_state.get("auth_source")
    web_session = st.session_state.get("web_session")
    if user is not None and web_session is not None:
        fresh, why = auth.resume_session(web_session, now=now)
        if fresh is None:
            sign_out({"expired": "expired", "disabled": "disabled"}.get(why, "signed_out_elsewhere"))
        elif fresh != user:
            st.session_state.user = fresh
    elif user is not None and auth.session_expired(st.session_state.get("last_seen"), now):
        if source == "oidc":
            st.logout()
        sign_out("expired")
    elif user is not None and source == "local":
        fresh = auth.refresh(user)
        if fresh is None:
            sign_out("disabled")
        elif fresh != user:
            st.session_state.user = fresh
    if current_user() is None and (cookie := _cookie_session()) is not None:
        resumed, _ = auth.resume_session(cookie, now=now)
        if resumed is not None:
            notice = st.session_state.get("auth_notice")
            _start_session(resumed, "local", cookie)
            if notice:
                st.session_state.auth_notice = notice
        else:
            st.session_state["_dead_cookie"] = st.context.cookies.get(auth.SESSION_COOKIE)
    if current_user() is None and oidc_configured() and st.user.get("is_logged_in", False):
        oidc_user = auth.oidc_user(st.user.to_dict())
        if oidc_user is not None:
            _start_session(oidc_user, "oidc")
        elif "auth_notice" not in st.session_state:
            st.session_state.auth_notice = "oidc_no_role"
    if current_user() is not None:
        st.session_state.last_seen = now
    url_notice = st.query_params.get("notice")
    if url_notice is not None:
        del st.query_params["notice"]
        if url_notice in URL_NOTICES:
            st.session_state.setdefault("auth_notice", url_notice)
    notice = st.session_state.pop("auth_notice", None)
    if notice == "expired":
        st.warning(t("auth.expired", minutes=config.setting("session_timeout_minutes")), icon=":material/timer_off:")
    elif notice in ("signed_out", "disabled", "oidc_no_role"):
        st.info(t(f"auth.{notice}"), icon=":material/logout:")
    elif notice in ("signin_link", "signed_out_elsewhere"):
        st.info(t(f"service.auth.{notice}"), icon=":material/logout:")


def account_box() -> None:
    """The sidebar block naming the signed-in user, with a sign-out button."""
    user = current_user()
    if user is None:
        return
    with st.sidebar.container(border=True):
        # User-supplied names are shown with st.text, never as markdown.
        st.text(t("auth.signed_in_as", name=user.display_name or user.username, role=i18n.label("role", user.role)))
        if st.session_state.get("auth_source") == "oidc":
            if st.button(t("auth.signout"), key="shell_signout", icon=":material/logout:"):
                st.logout()
        else:
            st.button(t("auth.signout"), key="shell_signout", icon=":material/logout:", on_click=sign_out)


def language_switch() -> None:
    """A sidebar switch between English and Chinese that also updates the URL."""
    choice = st.sidebar.segmented_control(
        t("shell.language"),
        options=list(i18n.LANGUAGES),
        format_func=lambda code: t(f"shell.language_{code}"),
        default=st.session_state.lang,
        key="lang_switch",
    )
    if choice and choice != st.session_state.lang:
        st.session_state.lang = choice
        i18n.set_language(choice)
        st.query_params["lang"] = choice
        st.rerun()
    st.query_params["lang"] = st.session_state.lang


def data_version(db_path: str | None = None) -> str:
    """A cheap fingerprint of the data that changes after any write (an upload, a complaint edit...)."""
    return str(db.data_version(db=db_path))


@st.cache_data(ttl=CACHE_TTL_S, max_entries=512, show_spinner=False)
def _cached_query(name: str, db_path: str, version: str, role: str, params: tuple) -> pd.DataFrame:
    return db.query(name, db=db_path, **{k: list(v) if isinstance(v, tuple) else v for k, v in params})


def run_query(name: str, **params: Any) -> pd.DataFrame:
    """Run a named query through a bounded cache keyed by database, data version, role and params."""
    db_path = str(config.db_path().resolve())
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    return _cached_query(name, db_path, data_version(db_path), current_role(), frozen).copy()


def run_user_query(name: str, **params: Any) -> pd.DataFrame:
    """Like run_query, for results that depend on who is signed in: the cache is keyed by user too."""
    db_path = str(config.db_path().resolve())
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    user = current_user()
    who = f"{current_role()}:{user.username if user else ''}"
    return _cached_query(name, db_path, data_version(db_path), who, frozen).copy()


def clear_caches() -> None:
    """Drop every cached query result (after an upload, for example)."""
    _cached_query.clear()


def _url_list(key: str) -> list[str]:
    return [v for v in st.query_params.get_all(key) if v]


def _url_date(key: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(st.query_params.get(key, ""))
    except ValueError:
        return None


def sidebar_filters(dimensions: Iterable[str] = FILTER_DIMENSIONS, dates: bool = True) -> dict[str, Any]:
    """Draw the shared sidebar filters, keep them in the URL, and return them as query parameters.

    The date range selects month-ends: `start` is inclusive and `end` exclusive, as in the contract.
    """
    options = run_query("filter_options")
    months = run_query("month_ends")["as_of"]
    params: dict[str, Any] = {}
    st.sidebar.subheader(t("filters.title"))
    if dates and not months.empty:
        lo, hi = pd.Timestamp(months.min()).date(), pd.Timestamp(months.max()).date()
        if "flt_dates" in st.session_state:
            st.session_state.flt_dates = st.session_state.flt_dates
        else:
            # Streamlit drops widget state on a page switch: restore the kept copy, else the URL
            start, end = st.session_state.get("_kept_flt_dates") or (_url_date("from") or lo, _url_date("to") or hi)
            st.session_state.flt_dates = (max(lo, min(start, hi)), max(lo, min(end, hi)))
        picked = st.sidebar.date_input(t("filters.date_range"), min_value=lo, max_value=hi, key="flt_dates")
        if isinstance(picked, tuple | list) and len(picked) == 2:
            start, end = picked
        else:
            start = end = picked[0] if isinstance(picked, tuple | list) and picked else lo
        params["start"], params["end"] = start, end + dt.timedelta(days=1)
        st.session_state["_kept_flt_dates"] = (start, end)
        st.query_params["from"], st.query_params["to"] = start.isoformat(), end.isoformat()
    for dim in dimensions:
        values = sorted(options.loc[options["dimension"] == dim, "value"].dropna().tolist())
        key = f"flt_{dim}"
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]  # re-owning the value keeps it across a page switch
        else:
            kept = st.session_state.get(f"_kept_{key}")
            st.session_state[key] = [v for v in (kept if kept is not None else _url_list(dim)) if v in values]
        chosen = st.sidebar.multiselect(
            t(f"filters.{dim}"), values, key=key, placeholder=t("filters.all"),
            format_func=lambda v, d=dim: i18n.label(d, v),
        )
        params[dim] = chosen or None
        st.session_state[f"_kept_{key}"] = list(chosen)
        if chosen:
            st.query_params[dim] = chosen
        elif dim in st.query_params:
            del st.query_params[dim]
    return params


def month_picker(label_key: str, key: str, default_offset: int = 0) -> dt.date | None:
    """A select box of the month-ends in the data, newest first; None when there are none."""
    months = sorted((pd.Timestamp(m).date() for m in run_query("month_ends")["as_of"]), reverse=True)
    if not months:
        return None
    index = min(default_offset, len(months) - 1)
    return st.selectbox(t(label_key), months, index=index, key=key)


def empty_state(key: str = "common.empty") -> None:
    """Tell the user that nothing matches, and what to try."""
    st.info(t(key), icon=":material/filter_alt_off:")


TABLE_MAX_ROWS = 5_000  # rows sent to the browser; the downloads carry the whole result


def downloads(frame: pd.DataFrame, stem: str, key: str,
              full: Callable[[], pd.DataFrame] | None = None) -> None:
    """CSV and XLSX download buttons for what is on screen, safe from formula injection, PII masked.

    The files (and their masking) are built only when a button is clicked, so a large table does not
    slow every rerun. `full`, when given, fetches every row at click time (the screen shows a first part).
    """
    role = current_role()

    def masked() -> pd.DataFrame:
        return export.dates_as_text(masking.mask_frame(frame if full is None else full(), role))

    left, right, _ = st.columns([1, 1, 6])
    left.download_button(
        t("common.download_csv"), lambda: export.to_csv_bytes(masked()), file_name=f"{stem}.csv",
        mime="text/csv", key=f"{key}_csv", icon=":material/download:", on_click="ignore",
    )
    too_large = len(frame) > export.XLSX_MAX_ROWS  # unknown for `full` until clicked: to_xlsx_bytes checks
    right.download_button(
        t("common.download_xlsx"), lambda: export.to_xlsx_bytes(masked()), file_name=f"{stem}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx", icon=":material/download:", on_click="ignore", disabled=too_large,
        help=t("common.xlsx_too_large", rows=export.XLSX_MAX_ROWS) if too_large else None,
    )


def table(frame: pd.DataFrame, stem: str, key: str, column_config: dict | None = None,
          full: Callable[[], pd.DataFrame] | None = None) -> None:
    """A sortable table (cells are shown as text, never HTML) with CSV and XLSX downloads.

    Personal-data columns (name, mobile, id_number, *_mobile, raw_row, narrative...) are masked;
    show one clear value only through reveal_button(). At most TABLE_MAX_ROWS rows go to the browser
    (a caption says so); the downloads hold every row. A page whose query can return millions of rows
    fetches only the first TABLE_MAX_ROWS + 1 and passes `full`, which the downloads run on click.
    """
    if frame.empty:
        empty_state()
        return
    shown = export.dates_as_text(masking.mask_frame(frame.head(TABLE_MAX_ROWS), current_role()))
    st.dataframe(shown, hide_index=True, width="stretch", column_config=column_config, key=f"{key}_table")
    if len(frame) > TABLE_MAX_ROWS:
        if full is None:
            st.caption(t("common.table_truncated", shown=TABLE_MAX_ROWS, total=len(frame)))
        else:
            st.caption(t("common.table_limited", shown=TABLE_MAX_ROWS))
    downloads(frame, stem, key, full=full)


def chart(fig: Any, key: str) -> None:
    """A Plotly chart; its toolbar downloads it as PNG."""
    st.plotly_chart(
        fig, width="stretch", key=key,
        config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": key, "scale": 2}},
    )


def plain_text(value: object) -> None:
    """Show user-supplied text verbatim: never as HTML or markdown."""
    st.text("" if value is None else str(value))


def require_role(*roles: str) -> User:
    """Stop the page with a sign-in prompt unless the session's user has one of roles (or is admin)."""
    user = current_user()
    if user is None or (user.role not in roles and user.role != "admin"):
        signin_prompt()
        st.stop()
    return user


def signin_prompt(next_path: str | None = None) -> None:
    """The message shown instead of a page the session may not open, with a sign-in link that comes back
    here (this page and its filters) afterwards."""
    st.warning(t("shell.signin_required"), icon=":material/lock:")
    if any(p.key == "signin" for p in navigation.PAGES):
        target = safe_next(next_path) or current_location()
        st.page_link(str(APP_PAGES / "signin.py"), label=t("nav.signin"), icon=":material/login:",
                     query_params={"next": target} if target and target != "/" else None)


def reveal_button(table: str, record_key: str, field: str, value: object, key: str) -> None:
    """Show one personal-data value masked; compliance and admin may reveal it with a logged reason.

    Pattern for pages: `ui.reveal_button("customers", customer_id, "mobile", row["mobile"], key="m1")`.
    `value` may be clear or already masked (masking is idempotent); the clear value is read from the
    database at reveal time. Revealable (table, field) pairs are masking.REVEALABLE. The clear value
    is shown only in the run that revealed it; every reveal writes a pii_reveals row.
    """
    kind = masking.column_kind(field) or "text"
    masked = {"name": masking.mask_name, "mobile": masking.mask_mobile,
              "id_number": masking.mask_id_number}.get(kind, masking.mask_text)(value)
    user = current_user()
    left, right = st.columns([4, 1], vertical_alignment="center")
    with left:
        st.text("" if masked is None else masked)
    if not masking.may_reveal(user.role if user else None) or value is None:
        return
    with right.popover(t("auth.reveal.button"), icon=":material/visibility:", key=f"reveal_pop_{key}"):
        with st.form(f"reveal_form_{key}", clear_on_submit=True):
            reason = st.text_input(t("auth.reveal.reason"), key=f"reveal_reason_{key}")
            submitted = st.form_submit_button(t("auth.reveal.submit"))
        if submitted:
            try:
                clear = masking.reveal(None, user, table, record_key, field, reason)
            except masking.RevealError as exc:
                st.error(t({"reason": "auth.reveal.reason_required", "not_found": "auth.reveal.not_found"}
                           .get(exc.code, "auth.reveal.not_allowed")))
            else:
                st.text(t("auth.reveal.shown", value="" if clear is None else clear))
