"""Call outcomes from result_url callbacks and status replies, parsed into one shape.

Insight documents the callback body only as "the format of call_details"; its encoding is not
documented, so form-urlencoded (PHP-style ``events[0][event]=…``), multipart and JSON are all
accepted. Numbers may arrive as strings; empty timestamps mean "unset".

Usage::

    details = parse_callback("application/json", body)       # CallDetails, or BadPayload
"""

from __future__ import annotations

import json
import math
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from batchqueue.call_outcome import CallDetails
from batchqueue.errors import BadPayload

__all__ = ["MAX_STATUS", "BadPayload", "CallDetails", "details_from", "parse_callback", "unflatten"]
from batchqueue.untrusted import INT64_MAX, MAX_JSON_DEPTH, json_depth, printable, storable

_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")

#: Bounds of what a callback may hold: a real one is a dozen fields and a few events.
MAX_PAIRS = 1000
MAX_KEY_LENGTH = 200
MAX_KEY_DEPTH = 4
MAX_PARTS = 200
MAX_TEXT = 4096
MAX_STATUS = 64
MAX_COUNT = 100_000
MAX_TIMESTAMP = 10**11  # year 5138: anything later is not a time Insight means


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style keys to nesting: ``events[0][event]=queued`` → ``{"events": [{"event": "queued"}]}``.

    Bounded: more than :data:`MAX_PAIRS` pairs, a key longer than :data:`MAX_KEY_LENGTH` or
    nested deeper than :data:`MAX_KEY_DEPTH` is a :class:`BadPayload`.
    """
    if len(pairs) > MAX_PAIRS:
        raise BadPayload(f"more than {MAX_PAIRS} fields")
    root: dict[str, Any] = {}
    for key, value in pairs:
        if len(key) > MAX_KEY_LENGTH:
            raise BadPayload(f"a field name longer than {MAX_KEY_LENGTH} characters")
        parts = [a or b for a, b in _KEY.findall(key)]
        if not parts:
            continue
        if len(parts) > MAX_KEY_DEPTH:
            raise BadPayload(f"a field name nested deeper than {MAX_KEY_DEPTH} levels")
        node: dict[str, Any] = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    result: dict[str, Any] = _lists(root)
    return result


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _lists(v) for k, v in node.items()}
        if converted and all(k.isdigit() and len(k) < 7 for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy every ledger can store: text capped and without NUL or lone surrogates,
    integers within 64 bits, no infinities, nesting cut at :data:`MAX_KEY_DEPTH` + 2 levels."""
    if isinstance(value, str):
        return storable(value[:MAX_TEXT])
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -INT64_MAX <= value <= INT64_MAX else str(value)[:40]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_KEY_DEPTH + 2:
        return None
    if isinstance(value, dict):
        return {storable(str(k)[:MAX_KEY_LENGTH]): _clean(v, depth + 1) for k, v in list(value.items())[:MAX_PAIRS]}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value[:MAX_PAIRS]]
    return storable(str(value)[:MAX_TEXT])


def _int(value: Any, ceiling: int) -> int | None:
    """A whole number in ``0..ceiling`` from an int, a float or numeric text; None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        number: float = value
    else:
        try:
            number = float(str(value).strip()[:40])
        except ValueError:
            return None
    if not math.isfinite(number) or not 0 <= number <= ceiling:
        return None
    return int(number)


def details_from(data: Any) -> CallDetails:
    """Call details from a decoded mapping (a callback body, or a status reply's call_details).

    Only a missing or unusable ``status`` is refused (:class:`BadPayload`); out-of-range numbers
    become empty, and the raw payload kept with the outcome is cleaned so every ledger can store it.
    """
    if isinstance(data, dict) and isinstance(data.get("call_details"), dict):
        data = data["call_details"]
    if not isinstance(data, dict):
        raise BadPayload("expected an object with the call's details")
    raw = _clean(data)
    status = raw.get("status")
    status = status.strip().lower() if isinstance(status, str) else ""
    if not status or len(status) > MAX_STATUS or not status.isprintable():
        raise BadPayload(f"the payload has no usable 'status' (1-{MAX_STATUS} printable characters)")
    events = raw.get("events") or []
    if isinstance(events, dict):
        events = list(events.values())
    if not isinstance(events, list):
        events = []
    return CallDetails(
        status=status,
        attempts=_int(raw.get("attempts"), MAX_COUNT),
        max_attempts=_int(raw.get("max_attempts"), MAX_COUNT),
        queued_at=_int(raw.get("queued_timestamp"), MAX_TIMESTAMP),
        last_attempt_at=_int(raw.get("last_attempt_timestamp"), MAX_TIMESTAMP),
        start_at=_int(raw.get("start_timestamp"), MAX_TIMESTAMP),
        end_at=_int(raw.get("end_timestamp"), MAX_TIMESTAMP),
        events=[e for e in events if isinstance(e, dict)],
        raw=raw,
    )


def parse_callback(content_type: str, body: bytes) -> CallDetails:
    """Decode a result_url POST body in any of the accepted encodings; :class:`BadPayload` if unreadable."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/json" or (not kind and body.lstrip()[:1] in (b"{", b"[")):
            if json_depth(body) > MAX_JSON_DEPTH:
                raise BadPayload(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            return details_from(json.loads(body))
        if kind == "multipart/form-data":
            return details_from(unflatten(_multipart_pairs(content_type, body)))
        if kind in ("application/x-www-form-urlencoded", "", "text/plain"):
            text = body.decode("utf-8")
            if text.count("&") >= MAX_PAIRS:
                raise BadPayload(f"more than {MAX_PAIRS} fields")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(body), max_num_fields=MAX_PAIRS)
            return details_from(unflatten(pairs))
    except BadPayload:
        raise
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise BadPayload(f"unreadable {kind or 'untyped'} body: {printable(str(exc), 200)}") from None
    raise BadPayload(f"unsupported Content-Type {printable(kind, 100)!r}")


def _multipart_pairs(content_type: str, body: bytes) -> list[tuple[str, str]]:
    # The email parser recurses into nested multiparts and has no part limit: both are refused
    # before it sees the body (a callback's form fields are flat).
    boundary = re.search(r'boundary="?([^";]{1,200})"?', content_type, re.IGNORECASE)
    if boundary is None:
        raise BadPayload("multipart body without a boundary")
    if body.count(b"--" + boundary.group(1).encode("latin-1")) > MAX_PARTS + 1:
        raise BadPayload(f"more than {MAX_PARTS} parts")
    if re.search(rb"content-type:\s*multipart/", body, re.IGNORECASE):
        raise BadPayload("nested multipart bodies are not accepted")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        pairs.append((str(name), payload.decode("utf-8", errors="replace")))  # type: ignore[union-attr]
    return pairs
