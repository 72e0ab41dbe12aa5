"""Text and JSON that come from outside batchqueue (Insight's replies, callbacks), made safe to keep.

Usage::

    body = parse_json(reply_text)          # None for anything unreadable, too deep or too large
    line = printable(server_error, 300)    # no terminal escapes, no control characters

Nothing here raises for bad input: a hostile peer must not be able to crash a run or a server.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deeper JSON than this is refused before it is parsed (a callback or status is two levels deep).
MAX_JSON_DEPTH = 32
#: Integers beyond SQL's 64-bit range cannot be stored; nothing Insight sends is near it.
INT64_MAX = 2**63 - 1

# ESC-introduced sequences (CSI "ESC [ … final", OSC "ESC ] … BEL/ST", and two-byte ones), then
# every other C0/C1 control character and lone surrogates.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def printable(text: str, limit: int | None = None) -> str:
    """``text`` without terminal escape sequences or control characters (tab and newline become spaces)."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def storable(text: str) -> str:
    """``text`` that every ledger can store: no NUL (PostgreSQL refuses it), no lone surrogate (UTF-8 does)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of ``[`` / ``{`` in a JSON text, counted without parsing it."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json(text: str | bytes) -> Any:
    """The decoded JSON value, or None when it is unreadable or nested deeper than MAX_JSON_DEPTH."""
    if not text or json_depth(text) > MAX_JSON_DEPTH:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
