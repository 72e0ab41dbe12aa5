"""Frequency caps: how many calls a number may get within a period, counted as calls Insight may place.

A request with ``max_attempts N`` is N calls (Insight re-attempts it up to N times), placed at some
moment from its claim (or its own start) to its end (``end_timestamp``, or its last re-attempt).
Every claim logs its calls in ``contact_log`` (``calls``, ``last_call_at``), and a cap counts,
per number and across every job of the ledger, the calls of every logged claim that may fall within
the cap's period of the new request's calls (their spans within the period of each other: an
error on the side of counting too many). Two kinds:

- the job's own caps (``--max-contacts 3/7d``, several when a run added one): a number whose cap is
  used up is ``suppressed`` (the user's rule: this job leaves it);
- a state's cap (``max_calls`` of the state rules the job was imported with: Florida, 3 calls in
  24 hours), for a contact who may be in that state (its facts, or an area code of the state), or
  whose number a logged claim of any job, within the cap's period, was decided under that state
  (each entry keeps its ``states``: a Florida ZIP of one job's row caps the same number in a job
  whose row has no ZIP): a number whose cap is used up is held (``not_before``) until the calls it
  counted are a period old.

Whatever cap leaves fewer calls than the request's attempts sends it with what is left
(``max_attempts`` cut). The caps are applied in the claim, after the number's mark is taken
(:mod:`batchqueue.ledger.contacts`), so two claims of one number (two PostgreSQL workers, two jobs)
are serialised and the second counts the first's calls.

Usage::

    caps = CapRules.of(job.options)
    decided = apply_caps(conn, rows_of, stamp, caps, phone_column="phone")
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection

from batchqueue.holds import HoldReason
from batchqueue.ledger.batchsql import in_list, placeholder
from batchqueue.ledger.holding import hold_pending
from batchqueue.ledger.records import Claimed
from batchqueue.ledger.suppress import SUPPRESSIBLE, suppress_rows
from batchqueue.lifecycle import RowState
from batchqueue.periods import period_text

_PENDING = RowState.PENDING.value
#: The job option of ``--max-contacts``: [count, seconds], or a list of them.
MAX_OPTION = "max_contacts"
#: The job option of the state caps: {"rules": "us", "version": …, "caps": [{state, calls, seconds, citation,
#: area_codes}]}, or {"rules": "none"}.
STATES_OPTION = "state_caps"


class Cap(NamedTuple):
    """At most ``calls`` calls to a number within ``seconds``: the job's own (``state`` None) or a state's."""

    calls: int
    seconds: int
    state: str | None = None
    citation: str = ""

    @property
    def label(self) -> str:
        """The cap as a reason names it."""
        if self.state is None:
            return f"max-contacts {self.calls}/{period_text(self.seconds)}"
        return f"{self.state} {self.calls}/{period_text(self.seconds)}"


def job_caps(options: dict[str, Any]) -> tuple[Cap, ...]:
    """The job's own caps as stored (one ``[count, seconds]``, or a list of them)."""
    given = options.get(MAX_OPTION)
    if not given:
        return ()
    pairs = [given] if isinstance(given[0], int) else given
    return tuple(Cap(int(count), int(seconds)) for count, seconds in pairs)


@dataclass(frozen=True)
class CapRules:
    """A job's caps: its own, and each state's with the area codes that may put a contact there."""

    job: tuple[Cap, ...] = ()
    states: dict[str, Cap] = field(default_factory=dict)
    area_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, options: dict[str, Any]) -> CapRules:
        """The caps stored with a job."""
        stored = options.get(STATES_OPTION) or {}
        states: dict[str, Cap] = {}
        area_codes: dict[str, list[str]] = {}
        for cap in stored.get("caps") or ():
            state = str(cap["state"])
            states[state] = Cap(int(cap["calls"]), int(cap["seconds"]), state, str(cap.get("citation") or ""))
            for code in cap.get("area_codes") or ():
                area_codes.setdefault(str(code), []).append(state)
        return cls(job_caps(options), states, {k: tuple(v) for k, v in area_codes.items()})

    def __bool__(self) -> bool:
        return bool(self.job or self.states)

    def for_row(self, row: Claimed) -> list[Cap]:
        """The caps that hold for a row: the job's, and those of every state its contact may be in."""
        if not self.states:
            return list(self.job)
        return self.for_states(self.states_of(row))

    def for_states(self, states: Iterable[str]) -> list[Cap]:
        """The job's caps, and those of ``states`` that have one."""
        return list(self.job) + [self.states[s] for s in sorted(states) if s in self.states]

    def longest(self) -> int:
        """The longest period of any cap (a logged claim older than that counts toward none)."""
        return max([c.seconds for c in self.job] + [c.seconds for c in self.states.values()], default=0)

    def states_of(self, row: Claimed) -> set[str]:
        """Every state its facts name (``states``, ``state``), and every capped state of its area code."""
        facts = row.facts
        found = set(self.area_codes.get(row.e164[2:5], ())) if row.e164.startswith("+1") else set()
        if facts:
            found.update(str(s).removeprefix("US-") for s in facts.get("states") or ())
            if facts.get("state"):
                found.add(str(facts["state"]).removeprefix("US-"))
            found.update(str(s).removeprefix("US-") for s in facts.get("zip_states") or ())
        return found


def span(row: Claimed, stamp: float) -> tuple[float, float]:
    """(the first, the last moment) a row's calls may be placed if it is sent now: from its own
    start (or now) to its end, or else its last re-attempt."""
    first = max(stamp, float(row.start_ts or 0))
    if row.end_ts is not None:
        return first, max(first, float(row.end_ts))
    return first, first + max(0, (row.max_attempts or 1) - 1) * float(row.reattempt_wait or 0)


class _Logged(NamedTuple):
    first: float
    last: float
    calls: int
    job_id: int
    row_number: int | None
    states: frozenset[str] = frozenset()

    def within(self, cap: Cap, first: float, last: float) -> bool:
        """Whether its calls may fall within ``cap``'s period of calls placed from ``first`` to ``last``."""
        return self.last >= first - cap.seconds and self.first <= last + cap.seconds


def states_text(states: Iterable[str]) -> str | None:
    """States as a log entry keeps them: "FL NY" (None for none)."""
    return " ".join(sorted(set(states))) or None


def _states(text: str | None) -> frozenset[str]:
    return frozenset(text.split()) if text else frozenset()


@dataclass
class CapDecision:
    """What the caps decided for a claim's rows."""

    suppressed: dict[int, str] = field(default_factory=dict)  # row id → reasons JSON
    held: dict[int, tuple[float, str]] = field(default_factory=dict)  # row id → (until, reason)
    attempts: dict[int, int] = field(default_factory=dict)  # row id → the attempts it is sent with
    #: row id → the states it was decided under: its own, and the capped states of its number's
    #: logged claims whose caps held for it; its log entry keeps them, for later claims of the number.
    states: dict[int, frozenset[str]] = field(default_factory=dict)


def apply_caps(
    conn: Connection, rows_of: dict[str, list[Claimed]], stamp: float, caps: CapRules, phone_column: str
) -> CapDecision:
    """Inside a claim, once the numbers' marks are taken: each row's calls against its caps (rows
    of one number in order, each counting those before it). A row's caps are its own
    (:meth:`CapRules.for_row`) and those of every state of ``caps`` that a logged claim of its number
    within that state's period was decided under, whichever job made it."""
    decided = CapDecision()
    own_states = {r.row_id: caps.states_of(r) for rows in rows_of.values() for r in rows}
    held_by = {row_id: caps.for_states(states) for row_id, states in own_states.items()}
    since = stamp - caps.longest()
    capped = {e: rows for e, rows in rows_of.items() if any(held_by[r.row_id] for r in rows)}
    if caps.states and len(capped) < len(rows_of):  # the others may be capped by their logged claims' states
        named = _with_states(conn, sorted(set(rows_of) - set(capped)), sorted(caps.states), since)
        capped = {e: rows for e, rows in rows_of.items() if e in capped or e in named}
    if not capped:
        return decided
    logged = _logged(conn, sorted(capped), since)
    for e164, rows in capped.items():
        earlier = logged.get(e164, [])
        for row in rows:
            first, last = span(row, stamp)
            wanted = row.max_attempts or 1
            mine = held_by[row.row_id]
            known = _states_logged(caps, earlier, {c.state for c in mine}, first, last)
            decided.states[row.row_id] = under = frozenset(own_states[row.row_id].union(known))
            left: list[tuple[Cap, int, list[_Logged]]] = []
            for cap in [*mine, *(caps.states[s] for s in known)]:
                counted = [e for e in earlier if e.within(cap, first, last)]
                left.append((cap, cap.calls - sum(e.calls for e in counted), counted))
            used_up = [(cap, counted) for cap, n, counted in left if n <= 0]
            if used_up:
                own = [(cap, counted) for cap, counted in used_up if cap.state is None]
                if own:
                    cap, counted = own[0]
                    decided.suppressed[row.row_id] = limit_reason(phone_column, counted, cap)
                else:
                    decided.held[row.row_id] = _hold(used_up, stamp, known_by={s: _named(earlier, s) for s in known})
                continue
            give = min([wanted, *(n for _, n, _ in left)])
            if give < wanted:
                decided.attempts[row.row_id] = give
            earlier = [*earlier, _Logged(first, last, give, 0, row.row_number, under)]
    return decided


def _states_logged(
    caps: CapRules, earlier: Sequence[_Logged], own: set[str | None], first: float, last: float
) -> list[str]:
    """The capped states, not among the row's ``own``, that a logged claim of its number was decided
    under within that state's period of the row's calls (from ``first`` to ``last``)."""
    named = {s for e in earlier for s in e.states if s in caps.states and s not in own}
    return sorted(s for s in named if any(s in e.states and e.within(caps.states[s], first, last) for e in earlier))


def _with_states(conn: Connection, numbers: Sequence[str], states: Sequence[str], since: float) -> set[str]:
    """Those of ``numbers`` that a logged claim which may name one of ``states`` may have called since
    ``since``: a filter that may let through too many (``%FL%``), never too few; :func:`apply_caps`
    reads their entries and checks each state itself."""
    found: set[str] = set()
    mark = placeholder(conn)
    named = " OR ".join([f"states LIKE {mark}"] * len(states))
    for start in range(0, len(numbers), 500):
        batch = numbers[start : start + 500]
        found.update(
            e164
            for (e164,) in conn.exec_driver_sql(
                f"SELECT DISTINCT e164 FROM contact_log WHERE e164 IN {in_list(conn, len(batch))} "
                f"AND COALESCE(last_call_at, contacted_at) >= {mark} AND ({named})",
                (*batch, since, *(f"%{s}%" for s in states)),
            )
        )
    return found


def _logged(conn: Connection, numbers: Sequence[str], since: float) -> dict[str, list[_Logged]]:
    """Each number's logged claims whose calls may have been placed since ``since``."""
    found: dict[str, list[_Logged]] = {}
    for start in range(0, len(numbers), 500):
        batch = numbers[start : start + 500]
        rows = conn.exec_driver_sql(
            "SELECT e164, contacted_at, COALESCE(last_call_at, contacted_at), calls, job_id, row_number, states "
            f"FROM contact_log WHERE e164 IN {in_list(conn, len(batch))} "
            f"AND COALESCE(last_call_at, contacted_at) >= {placeholder(conn)}",
            (*batch, since),
        ).all()
        for e164, first, last, calls, job_id, row_number, states in rows:
            entry = _Logged(float(first), float(last), int(calls), int(job_id), row_number, _states(states))
            found.setdefault(e164, []).append(entry)
    return found


def _named(earlier: Iterable[_Logged], state: str) -> str:
    """Which claim made a state's cap hold for a row whose own facts do not name it (its latest)."""
    last = max((e for e in earlier if state in e.states), key=lambda e: (e.first, e.last))
    row = last.row_number if last.row_number is not None else "?"
    by = "this claim" if last.job_id == 0 else f"job {last.job_id}"
    return f" (this number's state by the claim of {by}, row {row})"


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _latest(counted: Iterable[_Logged]) -> str:
    """The latest counted claim (the one made last, not the one whose calls may run latest: a long
    window of an earlier claim is not its job's last call), as a reason names it."""
    last = max(counted, key=lambda e: (e.first, e.last), default=None)
    if last is None:
        return ""
    row = last.row_number if last.row_number is not None else "?"
    if last.job_id == 0:
        return f", the last by this claim (row {row})"
    return f", the last by job {last.job_id} (row {row})"


def _hold(
    used_up: list[tuple[Cap, list[_Logged]]], stamp: float, known_by: dict[str, str] | None = None
) -> tuple[float, str]:
    """Until when a row is held by the state caps it found used up (the latest of them), and why
    (``known_by``: the states a logged claim of the number named, not the row, and which claim)."""
    until, why = stamp, ""
    for cap, counted in used_up:
        # The earliest moment enough counted calls are a period old to leave room for one more.
        ordered = sorted(counted, key=lambda e: e.last)
        excess, free_at = sum(e.calls for e in ordered) - cap.calls + 1, stamp
        for entry in ordered:
            if excess <= 0:
                break
            excess -= entry.calls
            free_at = entry.last + cap.seconds + 1
        calls = sum(e.calls for e in counted)
        law = f" ({cap.citation})" if cap.citation else ""
        known = (known_by or {}).get(str(cap.state), "")
        text = (
            f"{cap.state}{known} allows {cap.calls} calls in {period_text(cap.seconds)}{law}; "
            f"{calls} may fall within {period_text(cap.seconds)} of this one{_latest(counted)}"
        )
        if free_at >= until:
            until, why = free_at, text
    return until, f"{why}; frees {_when(until)}"


def limit_reason(phone_column: str, counted: Sequence[_Logged], cap: Cap) -> str:
    """Why a row is suppressed by the job's own cap (reasons JSON)."""
    calls = sum(e.calls for e in counted)
    last = max((e.first for e in counted), default=0.0)
    why = (
        f"max-contacts: called {calls} times within {period_text(cap.seconds)} (at most {cap.calls}), "
        f"last on {_when(last)}"
    )
    return json.dumps([[phone_column, why]], ensure_ascii=False, separators=(",", ":"))


def claim_states(caps: CapRules, row: Claimed, decided: CapDecision, placed: str | None = None) -> str | None:
    """The states a row's claim is logged with (``contact_log.states``), for later claims of its number
    in any job: its own (:meth:`CapRules.states_of`), its calling window's (``placed``: ``rows.sent_states``)
    and those of earlier claims whose caps it was decided under."""
    under = decided.states.get(row.row_id)
    return states_text([*(caps.states_of(row) if under is None else under), *_states(placed)])


def hold_rows(conn: Connection, held: dict[int, tuple[float, str]]) -> None:
    """Pending rows held until a state's cap frees, with the particulars (released by each run, decided anew)."""
    hold_pending(conn, [(row_id, until, HoldReason.STATE_CAP, why) for row_id, (until, why) in held.items()])


def suppress_over_limit_at_import(conn: Connection, job_id: int, phone_column: str, cap: Cap, now: float) -> int:
    """Inside an import's transaction: pending rows whose number got ``cap.calls`` calls (or more)
    that may have been placed within ``cap.seconds`` become ``suppressed``; returns how many."""
    mark = placeholder(conn)
    found = conn.exec_driver_sql(
        "SELECT rows.id, SUM(l.calls), MAX(l.contacted_at) FROM rows JOIN contact_log l ON l.e164 = rows.e164 "
        f"WHERE rows.job_id = {mark} AND rows.state IN {SUPPRESSIBLE} "
        f"AND COALESCE(l.last_call_at, l.contacted_at) >= {mark} "
        f"GROUP BY rows.id HAVING SUM(l.calls) >= {mark}",
        (job_id, now - cap.seconds, cap.calls),
    ).all()
    reasons = [(rid, limit_reason(phone_column, [_Logged(last, last, int(n), 0, None)], cap)) for rid, n, last in found]
    return suppress_rows(conn, reasons, now)
