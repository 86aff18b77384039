"""Streamlit helpers shared by every page: setup, the signed-in user, sidebar filters, cached
queries, tables with downloads, charts and empty states. Pages stay thin by calling these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pandas as pd
import pandera.pandas as pa
import streamlit as st

from portal import auth, columns, config, db, export, i18n, masking, navigation, schemas
from portal.auth_types import User
from portal.i18n import t

APP_PAGES = Path(__file__).resolve().parent / "app_pages"
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"
FILTER_DIMENSIONS = ("product", "region", "risk_grade")
CACHE_TTL_S = 600


def setup() -> None:
    """Configure the page and set this run's language from the URL or the session."""
    # A file of the portal's own, served from its origin (a Material icon as page_icon makes every
    # browser fetch the favicon from an outside font host, customers' pages included).
    st.set_page_config(page_title="Collections Portal", page_icon=str(FAVICON), layout="wide")
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
    return _tagged(_cached_query(name, db_path, data_version(db_path), current_role(), frozen).copy(), name)


def run_user_query(name: str, **params: Any) -> pd.DataFrame:
    """Like run_query, for results that depend on who is signed in: the cache is keyed by user too."""
    db_path = str(config.db_path().resolve())
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    user = current_user()
    who = f"{current_role()}:{user.username if user else ''}"
    return _tagged(_cached_query(name, db_path, data_version(db_path), who, frozen).copy(), name)


def _tagged(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    # the query's name rides along (pandas keeps attrs through copies, filters and renames), so that
    # ui.table finds the result model that says how each column reads
    frame.attrs["query"] = name
    return frame


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


# The deadline clock's look per level: a Material icon (served by the portal, no emoji font needed)
# and a colour; the words come from the catalogue, so exports carry plain words only.
CLOCK_LOOKS = {
    "ok": (":material/schedule:", "green", "#e8f5e9"),
    "amber": (":material/hourglass_bottom:", "orange", "#fff3e0"),
    "red": (":material/alarm:", "red", "#ffebee"),
    "timely": (":material/check_circle:", "green", "#e8f5e9"),
    "late": (":material/warning:", "red", "#ffebee"),
}


def clock_words(level: str, days: object) -> str:
    """A deadline clock in plain words: "3 days left", "Overdue by 1 day", "Resolved on time"."""
    value = 0 if days is None or pd.isna(days) else abs(int(days))
    return t(f"complaints.queue.clock_{level}", days=value)


def clock_badge(level: str, days: object) -> None:
    """The deadline clock as a coloured badge with its icon."""
    icon, colour, _ = CLOCK_LOOKS[level]
    st.badge(clock_words(level, days), icon=icon, color=colour)


def clock_cells(levels: list[str]) -> Callable[[pd.Series], list[str]]:
    """A Styler column function that tints each clock cell by its level (rows in `levels` order)."""
    return lambda column: [f"background-color: {CLOCK_LOOKS[lv][2]}" for lv in levels[: len(column)]]


def empty_state(key: str = "common.empty") -> None:
    """Tell the user that nothing matches, and what to try."""
    st.info(t(key), icon=":material/filter_alt_off:")


TABLE_MAX_ROWS = 5_000  # rows sent to the browser; the downloads carry the whole result
Model = type[pa.DataFrameModel]


def _model_of(frame: pd.DataFrame, model: Model | None) -> Model | None:
    return model if model is not None else schemas.RESULT_SCHEMAS.get(frame.attrs.get("query", ""))


def table_config(frame: pd.DataFrame, model: Model | None = None,
                  codes: dict[str, str] | None = None) -> dict[str, Any]:
    """st.column_config for every column of frame, in the current language, from the result model's
    declared kinds and labels (columns.specs_for): counts with thousands separators, rates as percents,
    amounts in ¥ with 2 decimals, dates and times in the portal's time zone, codes as their labels."""
    zone = config.setting("timezone")
    out: dict[str, Any] = {}
    for name, spec in columns.specs_for(frame, _model_of(frame, model), codes).items():
        label, series = spec.label(), frame[name]
        kind = spec.kind
        text_values = series.dtype == object or pd.api.types.is_string_dtype(series)
        if kind in ("date", "timestamp") and text_values or kind in ("count", "rate", "amount", "number") and (
                text_values or pd.api.types.is_bool_dtype(series)):
            kind = "text"  # a page put text in the column (a label, a placeholder): show it as it is
        if kind == "count":
            out[name] = st.column_config.NumberColumn(label, format="%,d")
        elif kind == "rate":
            out[name] = st.column_config.NumberColumn(label, format="percent")
        elif kind == "amount":
            out[name] = st.column_config.NumberColumn(label, format=f"¥%,.{spec.places}f")
        elif kind == "number":
            out[name] = st.column_config.NumberColumn(label, format=f"%,.{spec.places}f")
        elif kind == "date":
            out[name] = st.column_config.DateColumn(label, format="YYYY-MM-DD")
        elif kind == "timestamp":
            aware = isinstance(series.dtype, pd.DatetimeTZDtype)
            out[name] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm",
                                                        timezone=zone if aware else None)
        elif kind == "code" and pd.api.types.is_bool_dtype(series):
            out[name] = st.column_config.CheckboxColumn(label)
        elif kind == "code":
            pairs = dict(columns.labelled_codes(spec, series.dropna().unique()))
            out[name] = st.column_config.SelectboxColumn(label, options=list(pairs), format_func=pairs.get)
        else:
            out[name] = st.column_config.TextColumn(label)
    return out


def download_bytes(frame: pd.DataFrame, fmt: str, role: str, specs: dict[str, columns.ColumnSpec] | None = None,
                   lang: str | None = None) -> bytes:
    """What a table's download holds, personal data masked for role: `csv` keeps the contract's column
    names and raw values (byte-equal to `portal query --format csv` but for its BOM and CRLF rows);
    `xlsx` has the labels of lang as headers, codes as labels and typed cells (see export)."""
    masked = masking.mask_frame(frame, role)
    if fmt == "csv":
        return export.to_csv_bytes(export.dates_as_text(masked))
    return export.to_xlsx_bytes(masked, specs=specs, lang=lang)


def downloads(frame: pd.DataFrame, stem: str, key: str,
              full: Callable[[], pd.DataFrame] | None = None, model: Model | None = None,
              codes: dict[str, str] | None = None) -> None:
    """CSV and XLSX download buttons for what is on screen, safe from formula injection, PII masked
    (download_bytes). The files are built only when a button is clicked, so a large table does not
    slow every rerun. `full`, when given, fetches every row at click time (the screen shows a first part).
    """
    role, lang = current_role(), i18n.language()
    specs = columns.specs_for(frame, _model_of(frame, model), codes)

    def rows() -> pd.DataFrame:
        return frame if full is None else full()

    # A row that wraps, each button as wide as its label: fixed columns squeezed them to their icon
    # in half-width layouts.
    too_large = len(frame) > export.XLSX_MAX_ROWS  # unknown for `full` until clicked
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            t("common.download_csv"), lambda: download_bytes(rows(), "csv", role), file_name=f"{stem}.csv",
            mime="text/csv", key=f"{key}_csv", icon=":material/download:", on_click="ignore", width="content",
        )
        st.download_button(
            t("common.download_xlsx"), lambda: download_bytes(rows(), "xlsx", role, specs, lang),
            file_name=f"{stem}.xlsx", mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx", icon=":material/download:", on_click="ignore", disabled=too_large, width="content",
            help=t("common.xlsx_too_large", rows=export.XLSX_MAX_ROWS) if too_large else None,
        )


def table(frame: pd.DataFrame, stem: str, key: str, column_config: dict | None = None,
          full: Callable[[], pd.DataFrame] | None = None, *, model: Model | None = None,
          codes: dict[str, str] | None = None, total: int | None = None, select: bool = False,
          selected: int | None = None, styler: Callable[[pd.DataFrame], Any] | None = None) -> int | None:
    """A sortable table (cells are shown as text, never HTML) with CSV and XLSX downloads.

    Each column reads as its result model declares (`model`, else the named query the frame came from,
    else the column's name across all result models): labelled headers in the current language, counts,
    percents, ¥ amounts, dates and code labels; an empty cell shows "–". Personal-data columns (name,
    mobile, id_number, *_mobile, raw_row, narrative...) are masked; show one clear value only through
    reveal_button(). At most TABLE_MAX_ROWS rows go to the browser (a caption says so, with `total` when
    the page knows it); the downloads hold every row. A page whose query can return millions of rows
    fetches only the first TABLE_MAX_ROWS + 1 and passes `full`, which the downloads run on click.

    With `select`, one row can be picked (`selected` is the row picked when the page opens, from the
    URL); the picked row's position in frame is returned (None when no row is picked). `styler` maps the
    shown frame to a pandas Styler (row colours).
    """
    if frame.empty:
        empty_state()
        return None
    shown = masking.mask_frame(frame.head(TABLE_MAX_ROWS), current_role())
    config_ = {**table_config(shown, _model_of(frame, model), codes), **(column_config or {})}
    data = styler(shown) if styler is not None else shown
    options: dict[str, Any] = {}
    if select:
        _note_fresh(key, f"{key}_table")
        options = {"on_select": "rerun", "selection_mode": "single-row"}
        if selected is not None and 0 <= selected < len(shown):
            options["selection_default"] = {"selection": {"rows": [selected], "columns": [], "cells": []}}
    event = st.dataframe(data, hide_index=True, width="stretch", column_config=config_, key=f"{key}_table",
                         placeholder=columns.EMPTY, **options)
    if len(frame) > TABLE_MAX_ROWS:
        if full is None or total is not None:
            st.caption(t("common.table_truncated", shown=TABLE_MAX_ROWS, total=total or len(frame)))
        else:
            st.caption(t("common.table_limited", shown=TABLE_MAX_ROWS))
    downloads(frame, stem, key, full=full, model=model, codes=codes)
    rows = list(event.selection.rows) if select and event is not None else []
    return int(rows[0]) if rows else None


def chart(fig: Any, key: str, select: bool = False) -> list[dict]:
    """A Plotly chart; its toolbar downloads it as PNG. With `select`, a click on a bar, cell or stage
    picks it: the picked points are returned (an empty list when none is picked)."""
    options: dict[str, Any] = {"on_select": "rerun", "selection_mode": "points"} if select else {}
    if select:
        _note_fresh(key, key)
    event = st.plotly_chart(
        fig, width="stretch", key=key,
        config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": key, "scale": 2}},
        **options,
    )
    return list(event.selection.points) if select and event is not None else []


def _note_fresh(source: str, widget_key: str) -> None:
    # a widget drawn for the first time (a link just opened, or the page just switched to) holds no
    # pick of the user's yet: its empty selection must not clear what the URL says
    st.session_state[f"_drill_fresh_{source}"] = widget_key not in st.session_state


def _picked_anew(source: str, current: Any) -> bool:
    """Whether the user changed the pick on `source` (a selectable chart or table key) since its last run."""
    seen = f"_drill_seen_{source}"
    fresh = st.session_state.get(f"_drill_fresh_{source}", True)
    changed = not fresh and st.session_state.get(seen) != current
    st.session_state[seen] = current
    return changed


def url_selection(source: str, current: dict[str, str] | None, fields: Iterable[str]) -> None:
    """Keep a figure's selection in the URL, so that a shared link reopens the same drill-down.

    When the user picked something new on `source` (a chart or table key) since the last run, the URL
    keys `fields` get its values; when they cleared it, the keys go. A figure drawn for the first time
    (a link just opened, a page switched to) has no pick yet: the URL is left as it is.
    """
    fields = tuple(fields)
    changed = _picked_anew(source, current)
    if changed:
        st.session_state.pop(_kept_key(fields), None)
        for field in fields:
            value = (current or {}).get(field)
            if value is None:
                if field in st.query_params:
                    del st.query_params[field]
            else:
                st.query_params[field] = str(value)


def pick_into(source: str, current: Any, state_key: str, options: Iterable[Any]) -> None:
    """When the user picked something new on `source` (a chart or table key) since the last run, make it
    the value of the widget `state_key` (drawn later in the run); a cleared pick resets the widget. A
    value the widget does not offer is ignored."""
    if _picked_anew(source, current) and current in list(options):
        st.session_state[state_key] = current


def keep_in_url(values: dict[str, Any]) -> None:
    """Write the given widget values into the URL (an empty one removes its key), as the sidebar
    filters do, so that a shared link reopens the same view."""
    for key, value in values.items():
        if value is None or value == "":
            if key in st.query_params:
                del st.query_params[key]
        else:
            st.query_params[key] = str(value)


def _kept_key(fields: tuple[str, ...]) -> str:
    return "_kept_drill_" + "|".join(fields)


def url_values(fields: Iterable[str]) -> dict[str, str] | None:
    """The drill-down selection the URL holds under `fields`, or None unless every one is there.

    Streamlit drops the URL's keys on a page switch: a selection seen in this session (and not
    cleared since) is put back, as the sidebar filters are.
    """
    fields = tuple(fields)
    values = {f: st.query_params.get(f) for f in fields}
    if all(values.values()):
        st.session_state[_kept_key(fields)] = values
        return values
    kept = st.session_state.get(_kept_key(fields))
    if kept and not any(values.values()):
        for field, value in kept.items():
            st.query_params[field] = value
        return dict(kept)
    return None


def clear_url(fields: Iterable[str], tables: Iterable[str] = ()) -> None:
    """Drop a drill-down's URL keys and the row picked in its tables (a button's on_click)."""
    st.session_state.pop(_kept_key(tuple(fields)), None)
    for field in fields:
        if field in st.query_params:
            del st.query_params[field]
    for key in tables:
        st.session_state[f"{key}_table"] = {"selection": {"rows": [], "columns": [], "cells": []}}


def drill_down(name: str, params: dict[str, Any], title: str, stem: str, key: str, fields: Iterable[str],
               total: int | None = None, tables: Iterable[str] = (), title_values: dict[str, str] | None = None,
               subject: str | None = None) -> pd.DataFrame:
    """The rows behind a picked figure: the named drill-down query `name` run with `params`, at most
    TABLE_MAX_ROWS of them on screen (all in the downloads), masked like every table, with a button that
    clears the selection (`fields` in the URL, the picked row of `tables`).

    `title` is a catalogue key filled with `title_values` (labels and validated dates only: a heading
    renders markdown); `subject` (an agent ID, which is user data) is shown as plain text under it.
    """
    with st.container(border=True, key=f"{key}_drill"):
        head, button = st.columns([5, 1], vertical_alignment="center")
        head.subheader(t(title, **(title_values or {})))
        button.button(t("drill.clear"), key=f"{key}_clear", icon=":material/close:", on_click=clear_url,
                      args=(tuple(fields), tuple(tables)))
        if subject is not None:
            plain_text(subject)
        rows = run_query(name, row_limit=TABLE_MAX_ROWS + 1, **params)
        count = total if total is not None else (len(rows) if len(rows) <= TABLE_MAX_ROWS else None)
        if count is not None:
            st.caption(t("drill.one" if count == 1 else "drill.count", n=count))
        table(rows, stem, key, full=lambda: db.query(name, **params), total=total)
    return rows


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
