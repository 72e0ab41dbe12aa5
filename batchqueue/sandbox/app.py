"""The sandbox's WSGI application: the documented Insight endpoints, with injected faults."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from batchqueue.sandbox.completer import Completer, Completion
from batchqueue.sandbox.faults import Dice, Faults
from batchqueue.sandbox.reports import Source, SyntheticReport, serve_report
from batchqueue.sandbox.store import CallStore

StartResponse = Callable[..., Any]
_QUEUE = re.compile(r"/api/surveys/([^/]+)/([^/]+)/queue")
_CANCEL = re.compile(r"/api/surveys/([^/]+)/([^/]+)/cancel")
_STATUS = re.compile(r"/api/outbound/(\d+)")
_REPORT = re.compile(r"/api/report/(\d+)")
_PHONE = re.compile(r"(?:tel:)?\+?(\d{10,15})((?:;(?:ani|postd)=[^;]*)*)")
_MAX_BODY = 1 << 20
REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


class DroppedConnection(Exception):
    """Raised mid-body so the server breaks the connection (the client sees it cut short)."""


@dataclass
class SandboxConfig:
    """Who may call, which surveys exist (survey id → its current instance id), and the faults."""

    user: str = "demo@example.com"
    key: str = "sandbox-key"
    surveys: dict[str, str] = field(default_factory=lambda: {"4242": "1"})
    faults: Faults = field(default_factory=Faults)
    completion: Completion = field(default_factory=Completion)
    #: The zone the survey report writes Start and End in (Insight does not document its own).
    report_timezone: str = "UTC"
    #: A report of any size computed row by row, served as report ``<its survey id>`` (benchmarks).
    synthetic: SyntheticReport | None = None


def _json(
    status: int, body: Any, extra: list[tuple[str, str]] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    return status, headers + (extra or []), data


def _fail(status: int, error: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return _json(status, {"success": False, "error": error})


def validate_form(form: dict[str, str]) -> str | None:
    """The documented field rules; the error text for a 400, or None."""
    phone = form.get("phone_number", "")
    if not phone:
        return "phone_number is required"
    if not _PHONE.fullmatch(phone.strip()):
        return f"phone_number {phone!r} is not a valid number"
    stamps = {}
    for key in ("start_timestamp", "end_timestamp"):
        if form.get(key):
            if not form[key].isdigit():
                return f"{key} must be a unix timestamp"
            stamps[key] = int(form[key])
    if (
        "start_timestamp" in stamps
        and "end_timestamp" in stamps
        and stamps["end_timestamp"] <= stamps["start_timestamp"]
    ):
        return "end_timestamp must be after start_timestamp"
    attempts = form.get("max_attempts", "1")
    if not attempts.isdigit() or not 1 <= int(attempts) <= 10:
        return "max_attempts must be an integer between 1 and 10"
    if int(attempts) > 1 and not form.get("reattempt_wait", "").isdigit():
        return "reattempt_wait is required when max_attempts is greater than 1"
    url = form.get("result_url")
    if url and not url.startswith(("http://", "https://")):
        return "result_url must be an http(s) URL"
    return None


class SandboxApp:
    """Usage: ``waitress.serve(SandboxApp(SandboxConfig()))``; ``app.store`` holds the calls."""

    def __init__(self, config: SandboxConfig, base_url: str = "") -> None:
        self.config = config
        self.store = CallStore(config.faults.seed)
        self.dice = Dice(config.faults)
        self.base_url = base_url
        self.completer = Completer(self.store, config.completion)

    def start_background(self) -> None:
        """Start completing accepted calls (and posting their callbacks)."""
        self.completer.start()

    def stop_background(self) -> None:
        self.completer.stop()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, headers, body = self.route(environ)
        except DroppedConnection:
            return self._broken(start_response)
        start_response(f"{status} {REASONS.get(status, 'Status')}", headers)
        return [body]

    @staticmethod
    def _broken(start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "64")])

        def body() -> Iterator[bytes]:
            yield b'{"success": tr'
            raise DroppedConnection("sandbox fault: connection dropped")

        return body()

    def _authorized(self, environ: dict[str, Any]) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.config.user and key == self.config.key

    def route(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_sandbox/"):
            return self._control(path, method, environ)
        if m := _QUEUE.fullmatch(path):
            if method != "POST":
                return _fail(405, "only POST is allowed")
            return self._queue(environ, m.group(1), m.group(2))
        if m := _STATUS.fullmatch(path):
            if method != "GET":
                return _fail(405, "only GET is allowed")
            if not self._authorized(environ):
                return _fail(401, "authentication failed")
            call = self.store.get(int(m.group(1)))
            if call is None:
                return _fail(404, "call not found")
            return _json(200, {"success": True, "call_details": call.details()})
        if m := _REPORT.fullmatch(path):
            if method != "GET":
                return _fail(405, "only GET is allowed")
            if not self._authorized(environ):
                return _fail(401, "authentication failed")
            return self._report(environ, m.group(1))
        if m := _CANCEL.fullmatch(path):
            if method != "DELETE":
                return _fail(405, "only DELETE is allowed")
            if not self._authorized(environ):
                return _fail(401, "authentication failed")
            if self.config.surveys.get(m.group(1)) is None:
                return _fail(404, "survey not found")
            for call in self.store.cancel_pending(m.group(1), m.group(2)):
                self.completer.finish(call, "canceled")
            return 202, [("Content-Length", "0")], b""
        return _fail(404, "not found")

    def _queue(
        self, environ: dict[str, Any], survey_id: str, instance_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        faults = self.config.faults
        if not self._authorized(environ):
            return _fail(401, "authentication failed")
        current = self.config.surveys.get(survey_id)
        if current is None:
            return _fail(404, f"survey {survey_id} not found")
        if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return _fail(415, "Content-Type must be application/x-www-form-urlencoded")
        if instance_id != current:
            return _fail(409, f"instance_id {instance_id} does not match the current deployment")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > _MAX_BODY:
            return _fail(400, "request body too large")
        form = dict(parse_qsl(environ["wsgi.input"].read(length).decode("utf-8", "replace"), keep_blank_values=True))
        number, nth = self.store.arrive(form.get("phone_number", ""))
        if faults.revoke_after is not None and number >= faults.revoke_after:
            return _fail(401, "authentication failed: the developer key was revoked")
        if faults.cap_after is not None and self.store.accepted() >= faults.cap_after:
            return _fail(409, "the number of survey responses has exceeded the max responses")
        dice = self.dice.for_request(form.get("phone_number", ""), nth)
        if faults.latency:
            time.sleep(faults.latency)
        if dice.random() < faults.p_429:
            extra = [("Retry-After", str(int(faults.retry_after)))] if faults.retry_after is not None else []
            return _json(429, {"success": False, "error": "too many requests"}, extra)
        if dice.random() < faults.p_500_before:
            return _fail(500, "database error")
        if dice.random() < faults.p_drop_before:
            raise DroppedConnection
        error = validate_form(form)
        if error is None and dice.random() < faults.p_400:
            error = "sandbox fault: data refused"
        if error is not None:
            return _fail(400, error)
        call = self.store.add(survey_id, instance_id, form)
        self.completer.schedule(call)
        if faults.latency_after:
            time.sleep(faults.latency_after)
        if dice.random() < faults.p_500_after:
            return _fail(500, "database error")
        if dice.random() < faults.p_drop_after:
            raise DroppedConnection
        if dice.random() < faults.p_timeout_after:
            time.sleep(faults.slow_reply)
        link = [("Link", f"<{self.base_url}/api/outbound/{call.call_id}>")]
        return _json(200, {"success": True, "call_id": call.call_id}, link)

    def _report(self, environ: dict[str, Any], report_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """A page of the survey report: report ``<survey id>`` holds that survey's visits."""
        synthetic = self.config.synthetic
        source: Source = self.store.visits
        if synthetic is not None and report_id == synthetic.survey_id:
            source = synthetic
        elif report_id not in self.config.surveys:
            return _fail(404, f"report {report_id} not found")
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if 0 < length <= _MAX_BODY and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            # The documentation lists the parameters as a form body too (of a GET): either is read.
            params |= dict(parse_qsl(environ["wsgi.input"].read(length).decode("utf-8", "replace")))
        faults = self.config.faults
        dice = self.dice.for_request(f"report|{params.get('offset', '0')}", self.store.arrive_report())
        if dice.random() < faults.p_report_429:
            extra = [("Retry-After", str(int(faults.retry_after)))] if faults.retry_after is not None else []
            return _json(429, {"success": False, "error": "too many requests"}, extra)
        if dice.random() < faults.p_report_500:
            return _fail(500, "database error")
        status, headers, body = serve_report(source, report_id, params, self.config.report_timezone)
        if isinstance(body, str):
            return _fail(status, body)
        return status, headers, body

    def _control(self, path: str, method: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        if path == "/_sandbox/calls" and method == "GET":
            return _json(200, {"calls": self.store.dump(), "requests": self.store.requests})
        if path == "/_sandbox/faults":
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    self.config.faults.update(json.loads(environ["wsgi.input"].read(length) or b"{}"))
                except (ValueError, TypeError) as exc:
                    return _fail(400, str(exc))
            return _json(200, self.config.faults.as_dict())
        if path == "/_sandbox/health":
            return _json(200, {"ok": True})
        return _fail(404, "not found")
