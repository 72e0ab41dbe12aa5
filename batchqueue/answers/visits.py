"""A report's visit made ready to keep: its kind, its number read as the job reads its numbers, its
times read in the report's time zone, and a key that finds it again on the next fetch.

Not documented, so decided here (and configurable where it matters):

- *Visit Type*: a type naming ``outbound`` is an outbound call; ``inbound`` an inbound one;
  ``web``, ``mobile``, ``online``, ``sms`` or ``email`` a web visit; anything else is kept as
  ``other`` and set aside (named in a warning, never joined).
- *Phone Number* of an outbound visit is the number called; it is read with the job's region, as
  ``import`` reads a cell (national, international, ``tel:`` forms, punctuation), so
  ``(617) 555-0100``, ``16175550100`` and ``tel:+16175550100`` are one number.
- *Start* and *End* are read as date-times as people write them (ISO, unix seconds, …) in the
  report's time zone (``--report-timezone``, UTC unless said), unless they carry an offset.
- A visit is the same visit on the next fetch when its survey, type, caller, number and start are:
  its end, completion and answers are then updated (a visit completed since).

Usage::

    reader = VisitReader(region="US", timezone="UTC")
    kept = reader.read(visit)     # KeptVisit(kind="outbound", e164="+16175550100", start_ts=…)
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum

from batchqueue.answers.report import Visit
from batchqueue.errors import PhoneError
from batchqueue.intake.mapping.dates import DateReader
from batchqueue.intake.mapping.numbers import read_cell
from batchqueue.intake.mapping.phones import PhoneParser
from batchqueue.intake.mapping.times import TimeParser
from batchqueue.ledger.records import KeptVisit
from batchqueue.untrusted import printable


class Kind(StrEnum):
    """What a visit is, as far as the join goes."""

    OUTBOUND = "outbound"
    INBOUND = "inbound"
    WEB = "web"
    OTHER = "other"  # a Visit Type batchqueue does not know
    UNREADABLE = "unreadable"  # an outbound visit whose number or start cannot be read


_WEB_WORDS = ("web", "mobile", "online", "sms", "email", "e-mail", "internet")
#: Completed cells that say the survey was completed (folded); anything else says it was not.
COMPLETED_WORDS = frozenset({"yes", "y", "true", "1", "completed", "complete", "x"})


def kind_of(visit_type: str) -> Kind:
    """The kind a Visit Type names (see the module docstring)."""
    folded = visit_type.casefold()
    if "outbound" in folded:
        return Kind.OUTBOUND
    if "inbound" in folded:
        return Kind.INBOUND
    if any(word in folded for word in _WEB_WORDS):
        return Kind.WEB
    return Kind.OTHER


def is_completed(cell: str | None) -> bool:
    """Whether a Completed cell says the visit completed the survey."""
    return bool(cell) and cell.strip().casefold() in COMPLETED_WORDS  # type: ignore[union-attr]


class VisitReader:
    """Reads visits with one job's region and one report's time zone (and date patterns)."""

    def __init__(self, *, region: str, timezone: str, date_formats: tuple[str, ...] = ()) -> None:
        self.parser = PhoneParser(region)
        self._plain = self.parser.plain_pattern()
        self.times = TimeParser(timezone, DateReader(date_formats))

    def time(self, text: str) -> float:
        """``text`` as unix seconds; ValueError says why it cannot be read (and names the option
        that says how: the import's own options are no use here)."""
        try:
            return float(self.times.parse(text))
        except ValueError as exc:
            why = str(exc).split(" Say --dayfirst", 1)[0].split(" (tried ", 1)[0].rstrip(":; ")
            then = " Give" if why.endswith("?") else ": give"
            pattern = "--report-date-format (such as '%m/%d/%Y %H:%M:%S')"
            raise ValueError(f"{why}{then} its pattern with {pattern}") from None

    def read(self, visit: Visit) -> KeptVisit:
        kind = kind_of(visit.visit_type)
        problem = e164 = start = end = None
        try:
            start = self.time(visit.start) if visit.start.strip() else None
        except ValueError as exc:
            problem = f"Start {printable(str(exc), 200)}"
        if visit.end.strip():
            try:
                end = self.time(visit.end)
            except ValueError:
                end = None  # only the start decides; an unreadable end is no reason to set it aside
        if kind is Kind.OUTBOUND:
            if not visit.phone.strip():
                problem = problem or "Phone Number is empty"
            else:
                try:
                    phone, _ = read_cell(visit.phone, self.parser, False, self._plain)
                    e164 = phone.e164
                except PhoneError as exc:
                    problem = f"Phone Number {printable(visit.phone, 60)!r} {exc}"
            if start is None and problem is None:
                problem = "Start is empty"
            if problem is not None:
                kind, e164 = Kind.UNREADABLE, None
        identity = "\x1f".join((visit.survey_id, visit.visit_type, visit.caller, visit.phone, visit.start))
        digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return KeptVisit(
            # The start first: a page's visits (newest first) are then neighbours in the ledger's
            # index of keys, which a random hash alone would scatter (a million visits: 5x slower).
            f"{visit.start[:24]}\x1f{digest}",
            kind.value,
            visit.survey_id,
            visit.visit_type,
            visit.phone,
            e164,
            start,
            end,
            visit.completed,
            json.dumps(visit.answers, ensure_ascii=False, separators=(",", ":")),
            problem,
        )
