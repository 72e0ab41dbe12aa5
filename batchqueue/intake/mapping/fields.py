"""The request fields besides the phone number: how each is read, and the rules between them.

One place for both sources of a field: a job-wide option (``--max-attempts 3``) and a row's cell
(``max_attempts`` column). The caller decides what a problem becomes: a usage error for an
option, a reason on the row for a cell.

``FIELDS`` (their names) is defined with the mapping spec, which the command line reads cheaply.

Usage::

    reader = FieldReader(PhoneParser("US"), TimeParser("UTC"))
    values = {"max_attempts": reader.parse("max_attempts", "3")}
    problems = reader.problems(values, now=now)          # [(field, message), ...]
"""

from __future__ import annotations

import re
from typing import Any

from batchqueue.intake.mapping.phones import PhoneError, PhoneParser
from batchqueue.intake.mapping.times import TimeParser

#: Insight's sibling API documents this range; values outside it are warned about, not refused.
REATTEMPT_WAIT_ADVISED = (60, 86400)
#: A start written like one of these (any letter case) means "no start: as soon as the calling hours allow".
NO_START = frozenset({"asap", "a.s.a.p.", "now", "immediately", "as soon as possible"})


def means_no_start(value: str) -> bool:
    """``ASAP``, ``now``…: a start cell that asks for no start time."""
    return " ".join(value.split()).casefold() in NO_START


def parse_int(value: str) -> int:
    """An integer cell: ``3`` or ``3.0`` (as Excel may store it), nothing fractional."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def check_url(value: str) -> str:
    """A result_url must be absolute http(s)."""
    if not re.match(r"https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class FieldReader:
    """Reads request fields with one phone parser and one time parser (one time zone)."""

    def __init__(self, phones: PhoneParser, times: TimeParser) -> None:
        self.phones, self.times = phones, times

    def parse(self, key: str, raw: str, times: TimeParser | None = None) -> Any:
        """The field's value from text; ValueError (or PhoneError) says why it cannot be.

        ``times``: the row's own time zone, for start and end (default the reader's).
        """
        if key == "ani":
            try:
                return self.phones.caller_id(raw)
            except PhoneError as exc:
                raise PhoneError(f"caller id {raw!r} {exc}") from None
        if key == "postd":
            return self.phones.dtmf(raw)
        if key == "start" and means_no_start(raw):
            return None
        if key in ("start", "end"):
            return (times or self.times).parse(raw)
        if key in ("max_attempts", "reattempt_wait"):
            return parse_int(raw)
        if key == "result_url":
            return check_url(raw)
        raise KeyError(key)

    @staticmethod
    def problems(values: dict[str, Any], *, now: int) -> list[tuple[str, str]]:
        """What is wrong with these values together: (the field to blame, why)."""
        found: list[tuple[str, str]] = []
        attempts = values.get("max_attempts")
        if attempts is not None and not 1 <= attempts <= 10:
            found.append(("max_attempts", f"max_attempts must be 1-10, got {attempts}"))
        wait = values.get("reattempt_wait")
        if attempts is not None and attempts > 1 and wait is None:
            found.append(("reattempt_wait", "reattempt_wait is required when max_attempts > 1"))
        if wait is not None and wait < 0:
            found.append(("reattempt_wait", f"reattempt_wait must be >= 0, got {wait}"))
        start, end = values.get("start"), values.get("end")
        if end is not None:
            if end <= now:
                found.append(("end", "end is already in the past"))
            elif start is not None and end <= start:
                found.append(("end", "end must be after start"))
        return found

    @staticmethod
    def advice(values: dict[str, Any]) -> list[str]:
        """Values allowed, but worth a warning."""
        wait = values.get("reattempt_wait")
        if wait is not None and wait >= 0 and not REATTEMPT_WAIT_ADVISED[0] <= wait <= REATTEMPT_WAIT_ADVISED[1]:
            return ["reattempt_wait outside 60-86400 s (Insight may refuse it)"]
        return []
