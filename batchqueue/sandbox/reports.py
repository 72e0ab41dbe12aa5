"""The sandbox's survey report (``GET /api/report/{report_id}``): the visits its calls gave.

Each call the sandbox completes is answered by a visit (seeded answers to :data:`QUESTIONS`); a
few web visits and an inbound one mix in, as in a real survey's report. The sandbox serves, as
report ``<survey id>``, every visit of that survey, newest first, paged as documented (``limit``
1–10,000, 500 by default; ``offset``; ``start_timestamp`` with ``end_timestamp``) with the
``X-Plum-*`` headers, and refuses what the documentation refuses (400). Start and End are written
in the report's time zone (UTC unless configured), which Insight does not document.

For benchmarks, :class:`SyntheticReport` serves a report of any size computed row by row (no
visit is held in memory).

Usage::

    log = VisitLog()
    log.add(Visit("4242", "Outbound", "6175550100", "6175550100", start, start + 60, "Yes", answers))
    status, headers, body = serve_report(log, "4242", {"limit": "500"}, zone="UTC")
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

HEADER = ["Survey ID", "Survey Name", "Visit Type", "Caller ID/IP Address", "Phone Number", "Start", "End", "Completed"]
SURVEY_NAME = "Customer satisfaction (sandbox)"
QUESTIONS = [
    "How satisfied were you with your visit? (1-5)",
    "Would you recommend us to a friend?",
    "Anything else you would like to tell us?",
    "Press 9 if you do not want to receive these calls",
]
_COMMENTS = ["", "", "Great service, thanks!", 'Too long; "hold" music', "=1+1 is two", "Très bien, merci", "-"]
#: Every this many completed calls, a web visit joins the report (and one inbound visit, once).
WEB_EVERY = 3


@dataclass(frozen=True)
class Visit:
    """One visit as the report shows it (times in unix seconds; the phone as the report writes it)."""

    survey_id: str
    visit_type: str
    caller: str
    phone: str
    start: float
    end: float | None
    completed: str
    answers: tuple[str, ...]


class Source(Protocol):
    """What a report is read from: its rows newest first, within a time range."""

    def count(self, survey_id: str, since: int | None, until: int | None) -> int: ...

    def rows(self, survey_id: str, since: int | None, until: int | None, offset: int, limit: int) -> list[Visit]: ...


def answers_for(phone: str, seed: int) -> tuple[str, ...]:
    """The seeded answers a called number gives (the same for the same number and seed)."""
    rng = random.Random(f"{seed}|answers|{phone}")
    return (
        str(rng.randint(1, 5)),
        rng.choice(["Yes", "No"]),
        rng.choice(_COMMENTS),
        "9" if rng.random() < 0.35 else "",
    )


def written(phone: str) -> str:
    """A number as the report writes an outbound visit's: national digits for +1 numbers, else
    the digits with their country code (``tel:+16175550100`` → ``6175550100``)."""
    digits = "".join(ch for ch in phone.split(";")[0] if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


@dataclass
class VisitLog:
    """The visits of the sandbox's calls (and any a test adds), thread-safe."""

    seed: int = 0
    visits: list[Visit] = field(default_factory=list)
    completed_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, visit: Visit) -> None:
        with self._lock:
            self.visits.append(visit)

    def call_completed(self, survey_id: str, phone: str, start: float) -> None:
        """The visit a completed call gives; every few, a web visit (and once an inbound one) too."""
        rng = random.Random(f"{self.seed}|visit|{phone}")
        answers = answers_for(phone, self.seed)
        visit = Visit(survey_id, "Outbound", "6175550000", written(phone), start, start + rng.randint(40, 180),
                      "Yes" if rng.random() < 0.9 else "No", answers)  # fmt: skip
        with self._lock:
            self.visits.append(visit)
            self.completed_calls += 1
            n = self.completed_calls
            if n % WEB_EVERY == 0:
                web = Visit(survey_id, "Web", f"203.0.113.{n % 250}", "", start + 1, start + 90, "Yes",
                            answers_for(f"web{n}", self.seed))  # fmt: skip
                self.visits.append(web)
            if n == 2:  # someone the survey called calls back in: an inbound visit of a called number
                inbound = Visit(survey_id, "Inbound", written(phone), written(phone), start + 2, start + 60, "No",
                                answers_for(f"in{phone}", self.seed))  # fmt: skip
                self.visits.append(inbound)

    def _matching(self, survey_id: str, since: int | None, until: int | None) -> list[Visit]:
        with self._lock:
            found = [
                v
                for v in self.visits
                if v.survey_id == survey_id and (since is None or since <= v.start <= (until or since))
            ]
        return sorted(found, key=lambda v: -v.start)

    def count(self, survey_id: str, since: int | None, until: int | None) -> int:
        return len(self._matching(survey_id, since, until))

    def rows(self, survey_id: str, since: int | None, until: int | None, offset: int, limit: int) -> list[Visit]:
        return self._matching(survey_id, since, until)[offset : offset + limit]


@dataclass(frozen=True)
class SyntheticReport:
    """A report of ``size`` outbound visits computed on demand: visit ``i`` (0 oldest) is of the
    number ``617 2xx xxxx`` made from ``i`` (as ``bench/`` builds its contacts), starting at
    ``first + i`` seconds; one visit in ``web_every`` is a web visit instead."""

    survey_id: str
    size: int
    first: int
    web_every: int = 50
    seed: int = 0

    def _index_range(self, since: int | None, until: int | None) -> tuple[int, int]:
        low, high = 0, self.size
        if since is not None:
            low = max(low, since - self.first)
            high = min(high, (until if until is not None else since) - self.first + 1)
        return low, max(low, high)

    def count(self, survey_id: str, since: int | None, until: int | None) -> int:
        if survey_id != self.survey_id:
            return 0
        low, high = self._index_range(since, until)
        return high - low

    def visit(self, i: int) -> Visit:
        start = float(self.first + i)
        if i % self.web_every == self.web_every - 1:
            return Visit(self.survey_id, "Web", "198.51.100.7", "", start, start + 60, "Yes", ("3", "No", "", ""))
        phone = f"617{200 + i // 10000 % 800:03d}{i % 10000:04d}"
        return Visit(self.survey_id, "Outbound", "6175550000", phone, start, start + 60, "Yes",
                     answers_for(phone, self.seed))  # fmt: skip

    def rows(self, survey_id: str, since: int | None, until: int | None, offset: int, limit: int) -> list[Visit]:
        if survey_id != self.survey_id:
            return []
        low, high = self._index_range(since, until)
        top = high - 1 - offset  # newest first
        return [self.visit(i) for i in range(top, max(low - 1, top - limit), -1)]


def _when(ts: float | None, zone: dt.tzinfo) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S")


def render(visits: Sequence[Visit], zone: dt.tzinfo) -> bytes:
    """The CSV Insight documents: its header (quoted as in its example), then one line a visit."""
    out = io.StringIO()
    out.write(",".join(f'"{h}"' if " " in h else h for h in HEADER) + "," + ",".join(f'"{q}"' for q in QUESTIONS))
    out.write("\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    for v in visits:
        writer.writerow(
            [v.survey_id, SURVEY_NAME, v.visit_type, v.caller, v.phone, _when(v.start, zone), _when(v.end, zone),
             v.completed, *v.answers]
        )  # fmt: skip
    return out.getvalue().encode("utf-8")


def _integer(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 12:
        raise ValueError(f"{name} must be a non-negative integer")
    return int(value)


def serve_report(
    source: Source, survey_id: str, params: Mapping[str, str], zone_name: str
) -> tuple[int, list[tuple[str, str]], bytes | str]:
    """The reply to one report request: (status, headers, CSV body) or (400, [], why)."""
    try:
        limit, offset = _integer(params, "limit"), _integer(params, "offset") or 0
        since, until = _integer(params, "start_timestamp"), _integer(params, "end_timestamp")
    except ValueError as exc:
        return 400, [], str(exc)
    limit = 500 if limit is None else limit
    if not 1 <= limit <= 10_000:
        return 400, [], "limit must be between 1 and 10,000"
    if (since is None) != (until is None):
        return 400, [], "start_timestamp and end_timestamp must be supplied together"
    zone = dt.UTC if zone_name == "UTC" else ZoneInfo(zone_name)
    total = source.count(survey_id, since, until)
    visits = source.rows(survey_id, since, until, offset, limit)
    body = render(visits, zone)
    headers = [
        ("Content-Type", "text/csv; charset=utf-8"),
        ("Content-Disposition", "attachment; filename=report.csv"),
        ("X-Plum-Total-Rows", str(total)),
        ("X-Plum-Returned-Rows", str(len(visits))),
        ("X-Plum-Row-Offset", str(offset)),
        ("X-Plum-Row-Limit", str(limit)),
        ("Content-Length", str(len(body))),
    ]
    return 200, headers, body
