"""The shapes that go into and come out of the ledger, by name (no positional tuples elsewhere).

Nothing here knows HTTP: a send attempt is described in the ledger's own words (:class:`Attempt`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from batchqueue.holds import Holds
from batchqueue.lifecycle import Conflict, Event


class NewRow(NamedTuple):
    """One input row as the import writes it (the field order is the INSERT's column order)."""

    row_number: int
    cells: str  # JSON list of the original cells
    phone_number: str | None
    e164: str | None
    start_ts: int | None
    end_ts: int | None
    max_attempts: int | None
    reattempt_wait: int | None
    result_url: str | None
    state: str
    reasons: str | None  # JSON list of [column, reason]
    duplicate_of: int | None
    token: str | None
    created_at: float
    facts: str | None  # JSON object of what import-time rules derived (time zone, country...)


IMPORT_COLUMNS: tuple[str, ...] = NewRow._fields
#: The columns of a *plain* import row: pending, with nothing per row but its phone and token. The
#: other columns take their defaults; state is ``pending``.
PLAIN_COLUMNS: tuple[str, ...] = ("row_number", "cells", "phone_number", "e164", "token", "created_at")
#: The request fields a *bare* run's rows share (job-wide values), after its rows' ``created_at``.
SHARED_COLUMNS: tuple[str, ...] = ("start_ts", "end_ts", "max_attempts", "reattempt_wait", "result_url")
#: At most this many rows in one :class:`RowRun`.
RUN_MAX = 5000
BARE, PLAIN, FULL = "bare", "plain", "full"


class RowRun(NamedTuple):
    """Consecutive import rows of one shape, in file order, ready for one ``executemany``.

    - ``full``: ``rows`` is a list of tuples of :data:`IMPORT_COLUMNS` values (a :class:`NewRow`'s fields);
    - ``plain``: a list of tuples of :data:`PLAIN_COLUMNS` values (pending rows whose request is the phone);
    - ``bare``: the most common row, kept in columns: ``rows`` is (row numbers, cells, E.164 numbers),
      each row's phone is ``tel:`` + its E.164, its token is minted by the ledger as it inserts, and
      ``shared`` holds what every row of the run has in common: (created_at, start_ts, end_ts,
      max_attempts, reattempt_wait, result_url).

    Binding fewer values per row is most of SQLite's insert time (4 instead of 15 halves it), and a
    run of one shape keeps the rows' ids in file order.
    """

    shape: str
    rows: Any
    shared: tuple[Any, ...] = ()


def mint_tokens(count: int) -> list[str]:
    """``count`` callback tokens: 128 bits each from the OS, as 32 hex characters (one system call)."""
    hexed = os.urandom(16 * count).hex()
    return [hexed[i : i + 32] for i in range(0, 32 * count, 32)]


@dataclass(frozen=True)
class Job:
    """A job as stored: where its rows came from and how they were mapped."""

    id: int
    survey_id: str
    instance_id: str
    source_name: str
    source_sha256: str
    source_kind: str
    sheet: str | None
    headers: list[str]
    mapping: dict[str, Any]
    options: dict[str, Any]
    blank_rows: int
    created_at: float
    #: What a re-import finds it by: its mapping and its rules, digested.
    fingerprint: str = ""
    archived_at: float | None = None  # set: archived (kept, out of the lists)


class Overlap(NamedTuple):
    """Another job made from the same file for the same survey and instance (a re-import)."""

    job_id: int
    #: Numbers both jobs hold.
    numbers: int
    #: Rows of this job suppressed because that job called their number.
    suppressed: int


class Claimed(NamedTuple):
    """A row now ``sending``, with what is needed to build its request (a tuple: a claim makes
    and narrows thousands a second)."""

    row_id: int
    row_number: int
    phone_number: str
    e164: str
    start_ts: int | None
    end_ts: int | None
    max_attempts: int | None
    reattempt_wait: int | None
    result_url: str | None
    token: str | None
    cells: list[str]
    attempts: int
    facts: dict[str, Any]


CLAIM_COLUMNS = (
    "id",
    "row_number",
    "phone_number",
    "e164",
    "start_ts",
    "end_ts",
    "max_attempts",
    "reattempt_wait",
    "result_url",
    "token",
    "cells",
    "attempts",
    "facts",
)


def claimed_from(record: Any) -> Claimed:
    """A :class:`Claimed` from a row selected with :data:`CLAIM_COLUMNS` (before its attempt was counted)."""
    (row_id, number, phone, e164, start, end, attempts_max, wait, url, token, cells, attempts, facts) = record
    return Claimed(
        row_id,
        number,
        phone,
        e164,
        start,
        end,
        attempts_max,
        wait,
        url,
        token,
        json.loads(cells),
        attempts + 1,
        json.loads(facts) if facts else {},
    )


@dataclass(frozen=True)
class Attempt:
    """One network attempt of one row, in the ledger's words: its reply class and what came back."""

    kind: str
    status: int | None = None
    call_id: str | None = None
    error: str | None = None
    started: float = 0.0
    finished: float = 0.0


@dataclass
class Settlement:
    """What became of one claimed row: the event, the call id or error, every attempt it took."""

    row_id: int
    event: Event
    attempts: list[Attempt] = field(default_factory=list)
    call_id: str | None = None
    error: str | None = None
    http_status: int | None = None


@dataclass
class Settled:
    """What one settle transaction did: the rows it claimed and any conflicts it found."""

    claimed: list[Claimed] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    held: int = 0
    holds: Holds = field(default_factory=Holds)  # the held rows by reason (``preview_claim`` only)
    suppressed: int = 0  # candidates a rule suppressed instead of claimed (all reasons)
    #: The same by reason: "dnc" (a do-not-call list), "recontact" (re-contact protection),
    #: "max-contacts" (the job's own cap).
    suppressed_by: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerInfo:
    """A worker of a job, as ``status`` shows it."""

    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    sent: int
    rate: float
    #: 429, 5xx or retry_after while its pace is down because of it (at its last heartbeat).
    slowed_by: str | None = None


@dataclass(frozen=True)
class Unproven:
    """An uncertain row that no callback has proven queued, with the reason it looks unqueued."""

    row_id: int
    row_number: int
    phone_number: str
    since: float
    why: str


class Listing(NamedTuple):
    """A number to put on a do-not-call list. ``added_at`` and ``source`` are kept from a file that
    carries them (a ``dnc export``); None: now, and the source the call names."""

    list_name: str
    e164: str
    added_at: float | None = None
    source: str | None = None


class ReportRow(NamedTuple):
    """One row of a job's report, as stored."""

    row_number: int
    cells: str
    state: str
    reasons: str | None
    error: str | None
    duplicate_of: int | None
    http_status: int | None
    attempts: int
    call_id: str | None
    outcome_status: str | None
    outcome_attempts: int | None
    outcome_last_attempt_at: int | None
    outcome_source: str | None
    outcome_at: float | None
    phone_number: str | None
    resolution: str | None
    sent_start_ts: int | None
    sent_end_ts: int | None
    sent_timezone: str | None
    timezone_source: str | None
    hold_reason: str | None
    hold_detail: str | None
    sent_states: str | None
    sent_places: str | None


REPORT_COLUMNS: tuple[str, ...] = ReportRow._fields


class KeptVisit(NamedTuple):
    """A visit of a saved survey report as the ledger keeps it (``survey_visits``, after its report)."""

    visit_key: str
    kind: str  # outbound, inbound, web, other, unreadable
    survey_id: str
    visit_type: str
    phone: str
    e164: str | None
    start_ts: float | None
    end_ts: float | None
    completed: str
    answers: str  # JSON object, question -> answer
    problem: str | None


@dataclass(frozen=True)
class Call:
    """A call a survey visit may answer: a row that was (or may have been) queued, and its window."""

    row_id: int
    job_id: int
    row_number: int
    sent_at: float  # when its request left (unix seconds)
    window_start: float  # the later of sent_at and the row's own start
    window_end: float | None  # the row's own end, if it had one


@dataclass(frozen=True)
class Seen:
    """A survey visit, as the join sees it: its id in the ledger and when it started (unix seconds)."""

    visit_id: int
    start: float
