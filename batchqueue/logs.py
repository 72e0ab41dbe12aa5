"""Logging for the command line: stderr, as text or one JSON object a line, secrets scrubbed.

The library logs through named loggers (``batchqueue.sending``, ``batchqueue.callbacks``…) and
never configures logging itself; :func:`configure` is called once by the CLI. The scrubbing sits
on the handler, so it covers every record, third-party loggers' included: the API key and any
other registered secret, ``Authorization`` headers, and the token part of callback URLs.

Usage::

    configure(level="info", fmt="json")
    register_secret(settings.api_key.reveal())
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_secrets: set[str] = set()
_CALLBACK_TOKEN = re.compile(r"(/cb/\d+/)[A-Za-z0-9_-]{8,}")
_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer)?\s*[A-Za-z0-9+/=._-]+")
LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")


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
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Send batchqueue's (and its libraries') log records to stderr, scrubbed."""
    handler = _Stderr(sys.stderr)
    handler.addFilter(_Scrubbed())
    if fmt == "json":
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
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
