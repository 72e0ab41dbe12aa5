"""Call outcomes from result_url callbacks and status replies, parsed into one shape.

Insight documents the callback body only as "the format of call_details"; its encoding is not
documented, so form-urlencoded (PHP-style ``events[0][event]=…``), multipart and JSON are all
accepted. Numbers may arrive as strings; empty timestamps mean "unset".

Usage::

    details = parse_callback("application/json", body)       # CallDetails, or BadPayload
    if outranks(details.status, current_status): ...
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

FINAL = frozenset({"completed", "failed", "rejected", "canceled"})
IN_PROGRESS = frozenset({"queued", "dialing", "connected", "in_progress", "retrying", "scheduled"})
_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")


class BadPayload(ValueError):
    """A callback or status body that cannot be read as call details."""


@dataclass(frozen=True)
class CallDetails:
    """What Insight says about one call (``call_details``)."""

    status: str
    attempts: int | None = None
    max_attempts: int | None = None
    queued_at: int | None = None
    last_attempt_at: int | None = None
    start_at: int | None = None
    end_at: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.status in FINAL


def rank(status: str | None) -> int:
    """0 unknown, 1 in progress, 2 final."""
    if status in FINAL:
        return 2
    return 1 if status else 0


def outranks(new: str, current: str | None) -> bool:
    """Whether an outcome ``new`` replaces the stored ``current`` one.

    Never a step backwards, and never once the outcome is final: the first final outcome stands.
    """
    if current is None:
        return True
    if current in FINAL:
        return False
    return new != current and rank(new) >= rank(current)


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style keys to nesting: ``events[0][event]=queued`` → ``{"events": [{"event": "queued"}]}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = [a or b for a, b in _KEY.findall(key)]
        if not parts:
            continue
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
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def details_from(data: Any) -> CallDetails:
    """Call details from a decoded mapping (a callback body, or a status reply's call_details)."""
    if isinstance(data, dict) and isinstance(data.get("call_details"), dict):
        data = data["call_details"]
    if not isinstance(data, dict):
        raise BadPayload("expected an object with the call's details")
    status = str(data.get("status") or "").strip().lower()
    if not status or len(status) > 32:
        raise BadPayload("the payload has no usable 'status'")
    events = data.get("events") or []
    if isinstance(events, dict):
        events = list(events.values())
    if not isinstance(events, list):
        events = []
    return CallDetails(
        status=status,
        attempts=_int(data.get("attempts")),
        max_attempts=_int(data.get("max_attempts")),
        queued_at=_int(data.get("queued_timestamp")),
        last_attempt_at=_int(data.get("last_attempt_timestamp")),
        start_at=_int(data.get("start_timestamp")),
        end_at=_int(data.get("end_timestamp")),
        events=[e for e in events if isinstance(e, dict)],
        raw=data,
    )


def parse_callback(content_type: str, body: bytes) -> CallDetails:
    """Decode a result_url POST body in any of the accepted encodings."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/json" or (not kind and body.lstrip()[:1] in (b"{", b"[")):
            return details_from(json.loads(body))
        if kind == "multipart/form-data":
            return details_from(unflatten(_multipart_pairs(content_type, body)))
        if kind in ("application/x-www-form-urlencoded", "", "text/plain"):
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
            return details_from(unflatten(pairs))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(f"unreadable {kind or 'untyped'} body: {exc}") from None
    raise BadPayload(f"unsupported Content-Type {kind!r}")


def _multipart_pairs(content_type: str, body: bytes) -> list[tuple[str, str]]:
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
