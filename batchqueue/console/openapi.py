"""The OpenAPI 3.1 description of the console's JSON API (Flask does not write one; this is it)."""

from __future__ import annotations

from typing import Any

from batchqueue import __version__
from batchqueue.service.values import INT64_MAX

_JOB = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": INT64_MAX},
}
_UPLOAD = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJECT = {"type": "object"}
_MAPPING = {
    "phone_column": {"type": "string", "description": "the phone column (a,b: the first valid of several)"},
    "metadata": {"type": "array", "items": {"type": "string"}, "description": "columns sent as metadata"},
    "region_column": {"type": "string"},
    "timezone_column": {"type": "string"},
    "region": {"type": "string", "description": "default country, ISO 3166 alpha-2 (US)"},
    "sheet": {"type": "string"},
    "header_row": {"type": "integer", "minimum": 1},
    "timezone": {"type": "string", "description": "the zone of dates without one (default UTC)"},
    "zip_column": {"type": "string"},
    "state_column": {"type": "string", "description": "each row's US state (USPS code or name)"},
    "columns": {
        "type": "object",
        "description": "request fields (ani, postd, start, end, max_attempts, reattempt_wait, result_url) read "
        'from a column, as import --column FIELD=COLUMN; "none": from no column (a guess undone)',
    },
    "defaults": {"type": "object", "description": "request fields for every row, as import --start, --ani…"},
    "date_order": {"type": "string", "enum": ["dayfirst", "monthfirst"], "description": "as --dayfirst/--monthfirst"},
    "date_formats": {"type": "array", "items": {"type": "string"}},
    "nulls": {"type": "array", "items": {"type": "string"}},
    "where": {"type": "array", "items": {"type": "string"}},
    "delimiter": {"type": "string"},
    "allow_duplicates": {"type": "boolean"},
}
_CHECK = {"name": "check_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(summary: str, *, params: list[Any] | None = None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": "JSON", "content": {}}}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"content": {"application/json": {"schema": {"type": "object", "properties": body}}}}
    op["responses"] |= {
        "400": {"description": "refused, with {error}"},
        "401": {"description": "not logged in"},
        "404": {"description": "no such job or upload"},
    }
    return op


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "batchqueue console API",
            "version": __version__,
            "description": "Log in with POST /api/login; send the returned csrf_token as the X-CSRFToken header "
            "of every POST, with the session cookie. A body's key that the call does not read is refused (400 naming "
            "it), never ignored. Rows are never sent twice: the API runs the "
            "same service functions as the command line.",
        },
        "paths": {
            "/api/session": {"get": _op("who is logged in, and a CSRF token")},
            "/api/login": {"post": _op("log in", body={"user": {"type": "string"}, "password": {"type": "string"}})},
            "/api/logout": {"post": _op("log out: ends every session of the user, on every browser")},
            "/api/jobs": {
                "get": _op(
                    "jobs, newest first, a page at a time (?show=current|active|finished|archived|all&page=N): counts "
                    "by state, progress, outcomes, live activity"
                )
            },
            "/api/jobs/{job_id}": {
                "get": _op(
                    "one job: counts, outcomes, activity, held rows and why they wait (holds: reason, rows, "
                    "next_at, detail each; holds_said), sent per minute, failure reasons, "
                    "problems (?state=&contains=&page=, page a whole number from 0), audit trail, the console's run",
                    params=[_JOB],
                )
            },
            "/api/uploads": {
                "post": {
                    **_op("upload a spreadsheet (multipart/form-data, field file)"),
                    "requestBody": {
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                }
                            }
                        }
                    },
                }
            },
            "/api/uploads/{upload_id}/check": {
                "post": _op("check an upload (the check --json object)", params=[_UPLOAD], body=_MAPPING)
            },
            "/api/checks/{check_id}": {
                "get": _op("a background check's progress (finished, fraction, failed)", params=[_CHECK])
            },
            "/api/uploads/{upload_id}/import": {
                "post": _op(
                    "import an upload as a job (the import --json object)",
                    params=[_UPLOAD],
                    body=_MAPPING
                    | {
                        "survey": {"type": "string"},
                        "instance": {"type": "string"},
                        "calling_hours": {"type": "string", "description": "HH:MM-HH:MM (08:00-21:00)"},
                        "recontact_after": {"type": "string", "description": "PERIOD (7d) or 0"},
                        "max_contacts": {"type": "string", "description": "N/PERIOD (3/7d)"},
                        "state_caps": {"type": "string", "enum": ["us", "none"]},
                        "state_rules": {"type": "string", "enum": ["us", "none"]},
                        "outside_federal_hours": {"type": "string", "description": "yes or no"},
                        "rules": {
                            "type": "object",
                            "description": "named rules, as import --rule NAME=VALUE "
                            '({"calling-hours": "09:00-20:00", "days": "mon-fri"}); checked the same way',
                        },
                    },
                )
            },
            "/api/jobs/{job_id}/start": {
                "post": _op(
                    "start sending (a supervised batchqueue run)",
                    params=[_JOB],
                    body={
                        "concurrency": {"type": "integer", "minimum": 1, "maximum": 64},
                        "rate": {"type": "number", "exclusiveMinimum": 0, "description": "requests per second"},
                        "hold_until_window": {"type": "boolean"},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "a test send"},
                    },
                )
            },
            "/api/jobs/{job_id}/dry-run": {
                "get": _op(
                    "the exact requests of the next rows (?rows=N, 1-100), from a claim rolled back: nothing sent",
                    params=[_JOB],
                )
            },
            "/api/jobs/{job_id}/edit": {
                "post": _op(
                    "send the job's rows to another survey/instance (refused once anything was sent, unless force)",
                    params=[_JOB],
                    body={"survey": {"type": "string"}, "instance": {"type": "string"}, "force": {"type": "boolean"}},
                )
            },
            "/api/jobs/{job_id}/archive": {
                "post": _op(
                    "archive the job (undo: true brings it back)", params=[_JOB], body={"undo": {"type": "boolean"}}
                )
            },
            "/api/jobs/{job_id}/delete": {
                "post": _op(
                    "delete the job and its rows (contact history kept); confirm: true when calls may still ring",
                    params=[_JOB],
                    body={"confirm": {"type": "boolean"}},
                )
            },
            "/api/jobs/{job_id}/pause": {
                "post": _op("stop the console's run after the requests in flight", params=[_JOB])
            },
            "/api/jobs/{job_id}/cancel": {
                "post": _op(
                    "cancel every pending row (needs confirm: true)",
                    params=[_JOB],
                    body={"confirm": {"type": "boolean"}},
                )
            },
            "/api/jobs/{job_id}/uncancel": {"post": _op("canceled rows back to pending", params=[_JOB])},
            "/api/jobs/{job_id}/retry": {"post": _op("failed rows back to pending", params=[_JOB])},
            "/api/jobs/{job_id}/reconcile": {
                "post": _op("uncertain rows no callback proved queued (listed, not changed)", params=[_JOB])
            },
            "/api/jobs/{job_id}/recycle": {
                "post": _op(
                    "the next wave: rows whose call ended with these outcomes and no wave took yet "
                    "(the same submit_token again returns the wave it made)",
                    params=[_JOB],
                    body={
                        "outcomes": {"type": "array", "items": {"type": "string"}},
                        "after": {"type": "string"},
                        "submit_token": {"type": "string"},
                    },
                )
            },
            "/api/jobs/{job_id}/answers": {
                "post": _op(
                    "read the survey's saved report from Insight and join its answers to the job's calls "
                    "(the answers --json object; report: its number, default the one stored on the job)",
                    params=[_JOB],
                    body={"report": {"type": "string"}},
                )
            },
            "/api/jobs/{job_id}/report.{fmt}": {
                "get": _op(
                    "the report (csv, xlsx or json)",
                    params=[_JOB, {"name": "fmt", "in": "path", "required": True, "schema": {"type": "string"}}],
                )
            },
            "/api/jobs/{job_id}/fix.csv": {"get": _op("the fix-and-reimport file", params=[_JOB])},
            "/api/dnc": {
                "get": _op("do-not-call lists and their sizes"),
                "post": _op(
                    "put numbers on a do-not-call list",
                    body={"list": {"type": "string"}, "numbers": {"type": "array", "items": {"type": "string"}}},
                ),
            },
        },
        "components": {"schemas": {"Error": _OBJECT | {"properties": {"error": {"type": "string"}}}}},
    }
