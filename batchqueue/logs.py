"""Logging for the command line: stderr, as text or one JSON object a line, secrets scrubbed.

Every module logs through ``logging.getLogger(__name__)`` and never configures logging itself;
:func:`configure` is called once by the CLI. The scrubbing sits on the handler, so it covers every
record, third-party loggers' included: the API key and any other registered secret,
``Authorization`` headers, and the token part of callback URLs.

A line says what it is about: :func:`log_context` names the job (and the row, and the occasion:
``import``, ``run``, ``poll``…) for every line logged inside it, in this thread; a call may name its
own (``log.warning(..., extra={"row": 7, "event": "conflict"})``), which wins. JSON lines carry them
as ``job``, ``row`` and ``event``; text lines end in ``[job=1 row=7 event=conflict]``.

Usage::

    configure(level="info", fmt="json")
    register_secret(settings.api_key.reveal())
    with log_context(job=job.id, event="run"):
        log.info("sending %d row(s)", pending)
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_secrets: set[str] = set()
_CALLBACK_TOKEN = re.compile(r"(/cb/\d+/)[A-Za-z0-9_-]{8,}")
_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer)?\s*[A-Za-z0-9+/=._-]+")
LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
#: What a line may say it is about, in the order a text line shows them.
CONTEXT_FIELDS = ("job", "row", "event")
_context: ContextVar[dict[str, object]] = ContextVar("batchqueue_log_context", default={})  # noqa: B039 (never mutated: replaced)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Name the job, row or event (:data:`CONTEXT_FIELDS`) on every line logged inside, in this
    thread; nested contexts add to the outer one. A field given as None is left as it was."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"not a log context field: {', '.join(sorted(unknown))}")
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def context_of(record: logging.LogRecord) -> dict[str, object]:
    """The job, row and event a record names (its own ``extra`` first, then the log context)."""
    return {k: getattr(record, k) for k in CONTEXT_FIELDS if getattr(record, k, None) is not None}


def register_secret(value: str) -> None:
    """Never let ``value`` (an API key, a password) into a log line."""
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret, Authorization value and callback token replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):  # a secret inside a longer one goes last
        if secret in text:
            text = text.replace(secret, "********")
    text = _AUTHORIZATION.sub(r"\1********", text)
    return _CALLBACK_TOKEN.sub(r"\1********", text)


class _Scrubbed(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = scrub(message), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class _WithContext(logging.Filter):
    """Copies the log context onto the record, as emitted (a field the call gave itself stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def _shown(value: object) -> object:
    return value if isinstance(value, int) and not isinstance(value, bool) else scrub(str(value))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (tests swap it; threads outlive it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((key, _shown(value)) for key, value in context_of(record).items())
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class _TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        about = context_of(record)
        line = super().formatMessage(record)
        return line + " [" + " ".join(f"{k}={_shown(v)}" for k, v in about.items()) + "]" if about else line


def configure(level: str = "info", fmt: str = "text") -> None:
    """Send batchqueue's (and its libraries') log records to stderr, scrubbed."""
    handler = _Stderr(sys.stderr)
    handler.addFilter(_WithContext())
    handler.addFilter(_Scrubbed())
    handler.setFormatter(_JsonLines() if fmt == "json" else _TextLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_batchqueue", False):
            root.removeHandler(old)
    handler._batchqueue = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # other libraries: warnings only, unless debugging
    logging.getLogger("batchqueue").setLevel(level.upper())
    if level == "debug":
        root.setLevel(logging.DEBUG)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is not news
