"""A list-level preview of where a file's contacts are and which rules will hold for them, before
anything is sent (``check``, the console's check page): contacts by zone, by the source that named
it, those with several zones (their window is the intersection), those with none (held until a
default zone is given), and by US state with the rule that applies there (the built-in state rule
with its statute, the mapping file's override, or the job's hours alone).

The zones and states are found exactly as the claim finds them (:class:`ZoneFinder`), from the rows
a check validated (:class:`~batchqueue.ledger.records.RowRun`).

Usage::

    preview = ContactPreview(JobRules.from_texts(spec.rules, overrides=spec.calling).options())
    check_file(path, spec, on_rows=preview.add_run)
    preview.as_dict()["by_zone"]        # {"America/New_York": 1200, ...}
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from batchqueue.calling.rules import CallingRules, clock
from batchqueue.ledger.records import BARE, FULL, PLAIN, RowRun
from batchqueue.lifecycle import RowState
from batchqueue.places.contacts import LONGEST_PREFIX, ZoneFinder

#: The ledger state of a valid row in a ``full`` run (its other rows are invalid, duplicate, filtered).
_PENDING_STATE = RowState.PENDING.value
#: What of a number decides its place: "+" and as many digits as phonenumbers' zone data reads (for
#: the North American plan "1" + area code + exchange; up to 9 digits elsewhere); the facts the
#: zone finder reads.
_NANP_PREFIX = len("+1NPANXX")
_PREFIX = 1 + LONGEST_PREFIX
_FACTS = ("timezone", "timezones", "zip_timezone", "zip_timezones", "state", "zip_states", "states", "region")
#: The fields of a ``full`` run's tuples this reads (see ``RowLoader``).
_FULL_E164, _FULL_STATE, _FULL_FACTS = 3, 9, 14


def _hashable(value: Any) -> Any:
    """A fact as part of a group's key (a row's several zone cells come as a list)."""
    return tuple(value) if isinstance(value, list) else value


class ContactPreview:
    """Tallies contacts by zone, source, several zones, no zone and state (see the module docstring)."""

    def __init__(self, rules: CallingRules, default_zone: str | None = None) -> None:
        self.rules = rules
        self._finder = ZoneFinder(default_zone)
        self.by_zone: Counter[str] = Counter()
        self.by_source: Counter[str] = Counter()
        self.by_state: Counter[str] = Counter()
        self.several_zones = 0
        self.several_states = 0
        self.no_zone = 0
        self.no_state = 0
        self.contacts = 0
        #: Rows not yet looked up: (number prefix, facts…) → [a number, its facts, rows].
        self._groups: dict[tuple[Any, ...], list[Any]] = {}

    def add(self, e164: str, facts: Mapping[str, Any]) -> None:
        """One valid row. Rows are grouped by what decides their place (the number's first digits,
        as far as phonenumbers' zone data reaches, and the facts the zone finder reads): a list of
        a million rows is looked up once per group."""
        self.contacts += 1
        prefix = e164[:_NANP_PREFIX] if e164.startswith("+1") else e164[:_PREFIX]
        key = (prefix, *(_hashable(facts.get(k)) for k in _FACTS)) if facts else (prefix,)
        found = self._groups.get(key)
        if found is None:
            self._groups[key] = [e164, dict(facts), 1]
        else:
            found[2] += 1

    def _settle(self) -> None:
        """The groups counted so far, looked up and tallied."""
        for e164, facts, n in self._groups.values():
            contact = self._finder.find(e164, facts)
            if contact is None:
                self.no_zone += n
                continue
            self.by_zone[contact.label] += n
            for source in contact.source.split("+"):  # every source that named a zone counts
                self.by_source[source] += n
            self.several_zones += n if len(contact.zones) > 1 else 0
            self.several_states += n if len(contact.states) > 1 else 0
            if not contact.states:
                self.no_state += n
            for state in contact.states:
                self.by_state[state] += n
        self._groups.clear()

    def add_run(self, run: RowRun) -> None:
        """The valid rows of one run a check read."""
        if run.shape == BARE:
            for e164 in run.rows[2]:
                self.add(e164, {})
        elif run.shape == PLAIN:
            for row in run.rows:
                self.add(row[3], {})
        elif run.shape == FULL:
            for row in run.rows:
                if row[_FULL_STATE] == _PENDING_STATE and row[_FULL_E164]:
                    self.add(row[_FULL_E164], json.loads(row[_FULL_FACTS]) if row[_FULL_FACTS] else {})

    def state_rule(self, state: str) -> str:
        """The rule that holds for a contact in ``state`` (besides the job's hours and days)."""
        if state in self.rules.states:
            hours, days = self.rules.states[state]
            said = [f"{clock(hours[0])}-{clock(hours[1])}" if hours else "", "some days" if days is not None else ""]
            return "the mapping file's [calling.states." + state + "]: " + ", ".join(s for s in said if s)
        law = self.rules.state_laws.get(state)
        if law is None:
            return "no state rule: the job's hours"
        return f"{law.describe()} ({law.citation})"

    def as_dict(self) -> dict[str, Any]:
        """The preview as ``check --json`` and the console show it."""
        self._settle()
        return {
            "contacts": self.contacts,
            "by_zone": dict(self.by_zone.most_common()),
            "by_source": dict(self.by_source.most_common()),
            "several_zones": self.several_zones,
            "no_zone_held": self.no_zone,
            "several_states": self.several_states,
            "no_state": self.no_state,
            "state_rules_version": self.rules.state_laws_version,
            "by_state": [
                {"state": state, "contacts": n, "rule": self.state_rule(state)}
                for state, n in sorted(self.by_state.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }

    def lines(self, most: int = 12) -> list[str]:
        """The preview in words, for ``check``'s text output."""
        self._settle()
        out = [f"where the {self.contacts} valid contacts are (the claim finds them the same way):"]
        zones = self.by_zone.most_common()
        shown = ", ".join(f"{zone} {n}" for zone, n in zones[:most])
        more = f", and {len(zones) - most} more zones" if len(zones) > most else ""
        out.append(f"  by zone: {shown or 'none'}{more}")
        out.append("  by source: " + (", ".join(f"{s} {n}" for s, n in self.by_source.most_common()) or "none"))
        out.append(f"  several zones (the window is their intersection): {self.several_zones}")
        out.append(f"  no zone (held until a --default-timezone is given): {self.no_zone}")
        version = f" ({self.rules.state_laws_version})" if self.rules.state_laws_version else " (none)"
        out.append(f"  by state, with the rule that applies (state rules{version}; no state known: {self.no_state}):")
        for state, n in sorted(self.by_state.items(), key=lambda kv: (-kv[1], kv[0]))[: most * 2]:
            out.append(f"    {state} {n}: {self.state_rule(state)}")
        return out
