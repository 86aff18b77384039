"""The API's OpenAPI 3.1 description, built from the route list and the named queries, so that each
query appears with its own parameters (a BI tool can generate its client from it)."""

from __future__ import annotations

from typing import Any

import portal
from portal import complaints, db, ingest, taxonomy
from portal.server import render

_TYPES = {"date": {"type": "string", "format": "date"}, "timestamp": {"type": "string", "format": "date-time"},
          "int": {"type": "integer"}, "float": {"type": "number"}, "text": {"type": "string"},
          "text[]": {"type": "string", "description": "comma-separated values (or the parameter repeated)"}}
_ERROR = {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_TOKEN_ERRORS = {"401": {**_ERROR, "description": "no valid token"},
                 "403": {**_ERROR, "description": "the token's role may not see this"}}


def _param_schema(p: db.Param) -> dict[str, Any]:
    schema = dict(_TYPES[p.type])
    if p.choices:
        schema["enum"] = list(p.choices)
    if not p.required and p.default not in ("null", "none"):
        schema["default"] = p.default
    return schema


def _query_path(q: db.NamedQuery) -> dict[str, Any]:
    params = [{"name": p.name, "in": "query", "required": p.required, "schema": _param_schema(p)}
              for p in q.params.values()]
    params.append({"name": "format", "in": "query", "required": False,
                   "schema": {"type": "string", "enum": list(render.FORMATS), "default": "json"}})
    return {"get": {
        "summary": q.description or q.name, "operationId": f"query_{q.name}", "tags": ["queries"],
        "security": [{"bearer": []}], "parameters": params,
        "responses": {
            "200": {"description": "the rows `portal query` prints (masked personal data)", "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}},
            "400": {**_ERROR, "description": "a bad parameter"}, **_TOKEN_ERRORS},
    }}


def document() -> dict[str, Any]:
    """The OpenAPI document of /api/v1."""
    complaint_props: dict[str, Any] = {
        "name": {"type": "string", "maxLength": complaints.NAME_MAX},
        "mobile": {"type": "string", "description": "a mainland mobile number, e.g. 13812345678"},
        "loan_id": {"type": "string", "maxLength": 64},
        "issue": {"type": "string", "enum": list(taxonomy.COMPLAINT_ISSUES)},
        "channel": {"type": "string", "enum": list(taxonomy.CHANNELS)},
        "description": {"type": "string", "minLength": complaints.NARRATIVE_MIN, "maxLength": complaints.NARRATIVE_MAX},
        "plan_type": {"type": "string", "enum": list(complaints.PLAN_TYPES), "default": "none"},
        "plan_amount": {"type": "number", "description": "yuan, required with a plan"},
        "plan_months": {"type": "integer", "minimum": 1, "maximum": complaints.PLAN_MONTHS_MAX},
        "contact_time": {"type": "string", "enum": list(complaints.CONTACT_TIMES), "default": "any"},
        "consent": {"type": "boolean", "const": True},
    }
    paths: dict[str, Any] = {
        "/api/v1/health": {"get": {"summary": "server and database status", "operationId": "health", "tags": ["service"],
                                   "responses": {"200": {"description": "ok", "content": {"application/json": {
                                       "schema": {"$ref": "#/components/schemas/Health"}}}}}}},
        "/api/v1/openapi.json": {"get": {"summary": "this document", "operationId": "openapi", "tags": ["service"],
                                         "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/api/v1/queries": {"get": {"summary": "the named queries this token's role may run", "operationId": "queries",
                                    "tags": ["queries"], "security": [{"bearer": []}],
                                    "responses": {"200": {"description": "queries and their parameters"}, **_TOKEN_ERRORS}}},
        "/api/v1/uploads/{dataset}": {"post": {
            "summary": "validate and load a file, as `portal load`", "operationId": "upload", "tags": ["uploads"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "dataset", "in": "path", "required": True, "schema": {"type": "string", "enum": list(ingest.DATASETS)}},
                {"name": "filename", "in": "query", "required": True, "schema": {"type": "string"},
                 "description": "the file's name; its extension picks the reader (.csv, .xlsx, .parquet)"},
                {"name": "strict", "in": "query", "required": False, "schema": {"type": "boolean", "default": False}}],
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": {"description": "every row loaded"}, "207": {"description": "some rows quarantined"},
                          "413": _ERROR, "422": {**_ERROR, "description": "nothing loaded"}, **_TOKEN_ERRORS}}},
        "/api/v1/complaints": {"post": {
            "summary": "the public complaint form (rate limited)", "operationId": "submit_complaint", "tags": ["public"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": complaint_props, "required": ["mobile", "issue", "description", "consent"],
                "additionalProperties": False}}}},
            "responses": {"201": {"description": "the ticket", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"ticket": {"type": "string"}, "due_on": {"type": "string", "format": "date"}}}}}},
                "422": {**_ERROR, "description": "field errors, in `fields`"}, "429": {**_ERROR, "description": "rate limited"}}}},
        "/api/v1/tickets/{ticket}": {"get": {
            "summary": "a ticket's public status (rate limited)", "operationId": "ticket_status", "tags": ["public"],
            "parameters": [{"name": "ticket", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "last4", "in": "query", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]{4}$"}}],
            "responses": {"200": {"description": "status, due date, resolution"},
                          "404": {**_ERROR, "description": "unknown ticket or wrong digits (alike)"},
                          "429": {**_ERROR, "description": "rate limited"}}}},
        "/api/v1/contact-check": {"post": {
            "summary": "pre-contact check: would the rule pack allow this contact (or each of a planned list, in "
                       "order)? The contact_check rows of each (docs/PREVENTION.md)",
            "operationId": "contact_check", "tags": ["policy"], "security": [{"bearer": []}],
            "parameters": [{"name": "pack", "in": "query", "required": False, "schema": {"type": "string"},
                            "description": "rule pack (default: the active pack)"},
                           {"name": "lang", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["en", "zh"]}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"$ref": "#/components/schemas/PlannedContact"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/PlannedContact"}}]}}}},
            "responses": {"200": {"description": "one contact: its rows; a list: a list of each contact's rows",
                                  "content": {"application/json": {"schema": {"oneOf": [
                                      {"type": "array", "items": {"$ref": "#/components/schemas/ContactCheckRow"}},
                                      {"type": "array", "items": {"type": "array", "items": {
                                          "$ref": "#/components/schemas/ContactCheckRow"}}}]}}}},
                          "400": {**_ERROR, "description": "not JSON, or an unknown pack"},
                          "413": {**_ERROR, "description": "over 4 MB"},
                          "422": {**_ERROR, "description": "field errors, in `fields`"}, **_TOKEN_ERRORS}}},
    }
    for name, q in sorted(db.named_queries().items()):
        paths[f"/api/v1/queries/{name}"] = _query_path(q)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Collections Portal API", "version": portal.__version__,
                 "description": "Named queries, uploads, the public complaint form and ticket status. "
                                "Errors are JSON {\"error\": \"...\"}."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `portal tokens add NAME --role ROLE`"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
                "Health": {"type": "object", "properties": {
                    "status": {"type": "string"}, "version": {"type": "string"}, "database": {"type": "string"},
                    "last_upload_at": {"type": ["string", "null"], "format": "date-time"},
                    "stale_derived": {"type": "array", "items": {"type": "string"}}}},
                "PlannedContact": {"type": "object", "required": ["loan_id", "channel", "at"], "properties": {
                    "loan_id": {"type": "string"},
                    "channel": {"type": "string", "enum": ["sms", "app", "phone", "letter", "social", "visit", "legal"]},
                    "party": {"type": "string", "enum": ["debtor", "third_party"], "default": "debtor"},
                    "at": {"type": "string", "description": "ISO 8601; without an offset, the debtor's local time"},
                    "collectors": {"type": ["integer", "null"], "minimum": 1, "description": "visits only"}},
                    "additionalProperties": False},
                "ContactCheckRow": {"type": "object", "properties": {
                    "allowed": {"type": "boolean"}, "rule": {"type": ["string", "null"]},
                    "reason": {"type": ["string", "null"]},
                    "next_allowed_at": {"type": ["string", "null"], "format": "date-time",
                                        "description": "in the debtor's zone, with its offset"}}},
            },
        },
    }
