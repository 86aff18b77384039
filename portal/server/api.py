"""The HTTP API under /api/v1 (docs/API.md): the same named queries, uploads, complaint form and ticket
lookup as the pages and the CLI, through the same functions. Every answer that is not data is JSON;
every error is `{"error": "<one line>"}`.

Token routes take `Authorization: Bearer <token>` (401 without a valid one, 403 when the token's role
may not see that query or page) and each request is written to the token use log.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import portal
from portal import auth, complaints, config, db, derived, i18n, ingest, masking, navigation, prevention
from portal.server import access, render, state, usage

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
COMPLAINT_FIELDS = ("name", "mobile", "loan_id", "issue", "channel", "description", "plan_type", "plan_amount",
                    "plan_months", "contact_time", "consent", "website")
MAX_JSON_BYTES = 64 * 1024
CONTACT_CHECK_MAX_BYTES = 4 * 2**20  # about 30,000 contacts in one request
RATE_LIMIT_RETRY_S = int(complaints.RATE_WINDOW.total_seconds())
_FILENAME_RE = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")
_limiter: anyio.CapacityLimiter | None = None


class ApiError(Exception):
    """An answer other than 2xx: its status, a one-line message, and any extra JSON fields or headers."""

    def __init__(self, status: int, message: str, *, extra: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.extra, self.headers = status, message, extra or {}, headers or {}


def error_response(status: int, message: str, extra: dict | None = None, headers: dict | None = None) -> JSONResponse:
    """The API's error shape: {"error": "<one line>"} (plus extra fields such as "fields")."""
    line = " ".join(str(message).split()) or "error"
    return JSONResponse({"error": line, **(extra or {})}, status_code=status, headers=headers)


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking work (DuckDB, file I/O) off the event loop, at most a few at a time."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(int(os.environ.get("PORTAL_API_THREADS", "8")))
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=_limiter)


def _db() -> Path:
    path = state.db_path()
    if path is None:
        raise ApiError(503, "the server is not serving a database (starting or stopping)")
    return path


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.headers.get("accept-language", "")
    return "zh" if wanted.lower().startswith("zh") else "en"


Handler = Callable[[Request, auth.ApiToken], Awaitable[Response]]


def token_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler that needs a token: 401 without a valid one; every request goes to the use log."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        token = None
        if scheme.lower() == "bearer" and presented.strip():
            token = await in_thread(auth.token_identity, presented.strip(), db=_db())
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if token is None:
            usage.record(None, None, request.method, path, 401, _client(request))
            return error_response(401, "a valid API token is required: Authorization: Bearer <token>",
                                  headers={"WWW-Authenticate": "Bearer"})
        try:
            response = await handler(request, token)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, exc.extra, exc.headers)
        except Exception:
            usage.record(token.name, token.role, request.method, path, 500, _client(request))
            raise
        usage.record(token.name, token.role, request.method, path, response.status_code, _client(request))
        return response

    return endpoint


def public_route(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a public handler so that an ApiError becomes its JSON answer."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.message, exc.extra, exc.headers)

    return endpoint


# --- health and description ----------------------------------------------------------------------------

def _health(path: Path) -> dict[str, Any]:
    cur = db.cursor(path)
    try:
        last = cur.execute("select max(uploaded_at) from uploads where status in ('loaded', 'partial')").fetchone()[0]
        stale = derived.stale(cur)
    finally:
        cur.close()
    return {"status": "ok", "version": portal.__version__, "database": path.name,
            "last_upload_at": last.astimezone(dt.UTC).isoformat() if last else None, "stale_derived": stale}


@public_route
async def health(request: Request) -> Response:
    """GET /api/v1/health: the server, its database, the last upload and any stale derived table."""
    return JSONResponse(await in_thread(_health, _db()))


@public_route
async def openapi(request: Request) -> Response:
    """GET /api/v1/openapi.json: this API's OpenAPI 3.1 description."""
    from portal.server import openapi as spec

    return JSONResponse(spec.document())


# --- named queries -----------------------------------------------------------------------------------------

def describe(q: db.NamedQuery) -> dict[str, Any]:
    """A named query as the API lists it: name, description, parameters and URL."""
    params = [{"name": p.name, "type": p.type, "required": p.required,
               "default": None if p.required or p.default in ("null", "none") else p.default,
               "choices": list(p.choices) or None} for p in q.params.values()]
    return {"name": q.name, "description": q.description, "parameters": params, "url": f"{PREFIX}/queries/{q.name}"}


@token_route
async def list_queries(request: Request, token: auth.ApiToken) -> Response:
    """GET /api/v1/queries: the named queries this token's role may run, with their parameters."""
    queries = [describe(q) for name, q in db.named_queries().items() if access.may_run(token.role, name)]
    return JSONResponse({"role": token.role, "queries": queries})


def query_params(request: Request, q: db.NamedQuery) -> tuple[dict[str, str], str]:
    """The query's parameters from the URL (a repeated list parameter joins with commas) and the format."""
    params: dict[str, str] = {}
    fmt = "json"
    for key in dict.fromkeys(request.query_params.keys()):
        values = request.query_params.getlist(key)
        if key == "format":
            fmt = values[-1]
            continue
        param = q.params.get(key)
        if len(values) > 1 and (param is None or param.type != "text[]"):
            raise ApiError(400, f"parameter {key} is given {len(values)} times")
        params[key] = ",".join(values)
    if fmt not in render.FORMATS:
        raise ApiError(400, f"format must be one of {', '.join(render.FORMATS)}, not {fmt!r}")
    return params, fmt


@token_route
async def run_query(request: Request, token: auth.ApiToken) -> Response:
    """GET /api/v1/queries/{name}: the rows `portal query` prints, masked as the pages mask them."""
    name = request.path_params["name"]
    try:
        q = db.get_query(name)
    except db.QueryError as exc:
        raise ApiError(404, str(exc)) from None
    if not access.may_run(token.role, name):
        raise ApiError(403, f"the {token.role} role may not run query {name}")
    params, fmt = query_params(request, q)
    try:
        frame = await in_thread(db.query, name, db=_db(), **params)
    except db.QueryError as exc:
        raise ApiError(400, str(exc)) from None
    frame = masking.mask_frame(frame, token.role)
    if fmt == "parquet":
        body: bytes | str = await in_thread(render.as_parquet, frame)
    else:
        body = render.as_text(frame, fmt)
    headers = {"Content-Disposition": f'inline; filename="{name}.{fmt}"'} if fmt != "json" else None
    return Response(body, media_type=render.MEDIA_TYPES[fmt], headers=headers)


# --- uploads ----------------------------------------------------------------------------------------------

def load_status(result: ingest.LoadResult) -> int:
    """200 all rows loaded, 207 some quarantined, 422 nothing loaded: `portal load`'s exit codes 0, 3, 2."""
    if result.accepted == 0 and result.rejected > 0 or result.status in ("rejected", "failed"):
        return 422
    return 207 if result.rejected else 200


async def _save_body(request: Request, folder: str, name: str) -> Path:
    limit = int(config.setting("max_upload_mb")) * ingest.MB
    target = Path(folder) / name
    size = 0
    with target.open("wb") as fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the file is over the {config.setting('max_upload_mb')} MB upload limit")
            await anyio.to_thread.run_sync(fh.write, chunk)
    return target


@token_route
async def upload(request: Request, token: auth.ApiToken) -> Response:
    """POST /api/v1/uploads/{dataset}?filename=F[&strict=true]: `portal load` with the body as the file."""
    dataset = request.path_params["dataset"]
    if not navigation.may_open(token.role, "uploads"):
        raise ApiError(403, f"the {token.role} role may not upload data")
    if dataset not in ingest.DATASETS:
        raise ApiError(404, f"unknown dataset {dataset!r}; choose one of {', '.join(ingest.DATASETS)}")
    name = Path(request.query_params.get("filename", "")).name
    if not _FILENAME_RE.match(name):
        raise ApiError(400, "give the file's name in ?filename= (its extension picks the reader: .csv, .xlsx, .parquet)")
    strict = request.query_params.get("strict", "false").lower() in ("1", "true", "yes")
    with tempfile.TemporaryDirectory(prefix="portal-upload-") as folder:
        path = await _save_body(request, folder, name)
        try:
            result = await in_thread(ingest.load_file, dataset, path, strict=strict, db=_db(),
                                     uploaded_by=f"api:{token.name}", file_name=name)
        except ingest.UploadError as exc:
            raise ApiError(422, f"nothing loaded: {exc}") from None
    body = {"dataset": result.dataset, "upload_id": result.upload_id, "status": result.status,
            "rows": result.rows_total, "accepted": result.accepted, "rejected": result.rejected,
            "message": result.message or None}
    if result.rejected and result.upload_id is not None:
        body["rejects_url"] = f"{PREFIX}/queries/quarantine_rows?upload_id={result.upload_id}&format=csv"
    return JSONResponse(body, status_code=load_status(result))


@token_route
async def contact_check(request: Request, token: auth.ApiToken) -> Response:
    """POST /api/v1/contact-check[?pack=P&lang=en|zh]: the contact_check rows of one contact (a JSON object
    with loan_id, channel, party, at, collectors) or, for a list, of each (a plan: checked in its order,
    as `portal check-contacts` checks a file). 422 names every bad field; 400 for an unknown pack."""
    if not access.may_run(token.role, "contact_check"):
        raise ApiError(403, f"the {token.role} role may not run contact checks")
    body = await request.body()
    if len(body) > CONTACT_CHECK_MAX_BYTES:
        raise ApiError(413, f"the request body is over {CONTACT_CHECK_MAX_BYTES // 2**20} MB: check a longer plan "
                            "with `portal check-contacts`")
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "the body is not valid JSON") from None
    status, answer = await in_thread(prevention.check_payload, payload, request.query_params.get("pack") or None,
                                     db=_db(), lang=_lang(request))
    if status != 200:
        raise ApiError(status, answer["error"], extra={k: v for k, v in answer.items() if k != "error"})
    return JSONResponse(answer)


# --- public: complaints and tickets ------------------------------------------------------------------------

async def _json_object(request: Request) -> dict[str, Any]:
    # Only JSON: a cross-site HTML form cannot send this content type, so no page elsewhere can post
    # complaints from a visitor's browser.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "send the form as JSON (Content-Type: application/json)")
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise ApiError(413, f"the request body is over {MAX_JSON_BYTES // 1024} KB")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object with the form's fields")
    return data


@public_route
async def submit_complaint(request: Request) -> Response:
    """POST /api/v1/complaints: the public form as JSON; 201 with the ticket, 422 with field errors."""
    data = await _json_object(request)
    lang = _lang(request)
    unknown = [k for k in data if k not in COMPLAINT_FIELDS]
    if unknown:  # nothing is stored; report these with the form's own checks of the other fields
        _, errors = complaints.validate_form({k: v for k, v in data.items() if k in COMPLAINT_FIELDS})
        fields = {name: i18n.t(key, lang) for name, key in errors.items()}
        raise ApiError(422, "some fields are not valid",
                       extra={"fields": {**fields, **{k: t_("unknown_field", lang) for k in unknown}}})
    client = complaints.client_key(_client(request), "api")
    result = await in_thread(complaints.submit, data, client, db=_db())
    if result.ok:
        return JSONResponse({"ticket": result.ticket, "due_on": result.due_on.isoformat()}, status_code=201)
    if result.errors.get("form") == "complaints.err.rate_limited":
        raise ApiError(429, i18n.t("complaints.err.rate_limited", lang), headers={"Retry-After": str(RATE_LIMIT_RETRY_S)})
    fields = {name: i18n.t(key, lang) for name, key in result.errors.items()}
    raise ApiError(422, "some fields are not valid", extra={"fields": fields})


def t_(key: str, lang: str) -> str:
    """A UI string of the API's own (locales/*/service.toml)."""
    return i18n.t(f"service.api.{key}", lang)


@public_route
async def ticket_status(request: Request) -> Response:
    """GET /api/v1/tickets/{ticket}?last4=NNNN: a ticket's public status; 404 alike for unknown or wrong pair."""
    last4 = request.query_params.get("last4", "").strip()
    if len(last4) != 4 or not last4.isascii() or not last4.isdigit():
        raise ApiError(400, "last4 must be the last 4 digits of the mobile number given with the complaint")
    client = complaints.client_key(_client(request), "api")
    found = await in_thread(complaints.lookup, request.path_params["ticket"], last4, client, db=_db())
    if found == "rate_limited":
        raise ApiError(429, i18n.t("complaints.err.rate_limited", _lang(request)),
                       headers={"Retry-After": str(RATE_LIMIT_RETRY_S)})
    if found is None:
        raise ApiError(404, "no ticket matches that number and those digits")
    return JSONResponse({"ticket": found.ticket, "status": found.status, "due_on": found.due_on.isoformat(),
                         "resolution": found.public_resolution})


# --- everything else under /api ---------------------------------------------------------------------------

ROUTES = [
    Route(f"{PREFIX}/health", health, methods=["GET"]),
    Route(f"{PREFIX}/openapi.json", openapi, methods=["GET"]),
    Route(f"{PREFIX}/queries", list_queries, methods=["GET"]),
    Route(f"{PREFIX}/queries/{{name}}", run_query, methods=["GET"]),
    Route(f"{PREFIX}/uploads/{{dataset}}", upload, methods=["POST"]),
    Route(f"{PREFIX}/complaints", submit_complaint, methods=["POST"]),
    Route(f"{PREFIX}/tickets/{{ticket}}", ticket_status, methods=["GET"]),
    Route(f"{PREFIX}/contact-check", contact_check, methods=["POST"]),
]


async def not_found(request: Request) -> Response:
    """Any other /api path: 405 when the path exists with another method, else 404 (JSON either way)."""
    from starlette.routing import Match

    allowed = set()
    for route in ROUTES:
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL:
            allowed |= set(route.methods or ())
    if allowed:
        return error_response(405, f"{request.method} is not allowed here", headers={"Allow": ", ".join(sorted(allowed))})
    return error_response(404, f"no API route {request.url.path}")


def routes() -> list[Route]:
    """The API's routes, and a catch-all that answers JSON for any other /api path."""
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return [*ROUTES, Route("/api/{rest:path}", not_found, methods=methods)]
