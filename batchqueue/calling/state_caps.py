"""The states' frequency caps (``max_calls`` of the US state rules file), as a job stores them.

A state such as Florida allows at most 3 calls to a person in 24 hours (Fla. Stat. 501.616(6)(b)).
:func:`state_caps` reads each capped state's cap, the law it comes from, and the area codes of the
state (any contact with one may be there: the claim applies the cap to it), from the versioned data
files in ``batchqueue/places/data`` (``us_state_rules.toml``, ``nanp_area_codes.csv``).

The places package is to expose the state rules; until it does, this is the one reader of the caps
(``places.state_caps()`` replaces the body of :func:`state_caps`, the job's stored form stays).

Usage::

    caps = state_caps()
    caps.version                 # "2026.12"
    caps.caps["FL"].calls        # 3, within caps.caps["FL"].seconds == 86400
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from batchqueue.periods import parse_count_per_period

_DATA = Path(__file__).resolve().parent.parent / "places" / "data"
#: The built-in state rules (``--rule state-caps=us``); ``none`` turns the caps off.
BUILT_IN = "us"
OFF = "none"


@dataclass(frozen=True)
class StateCap:
    """At most ``calls`` calls to one number within ``seconds``, for a contact who may be in ``state``."""

    state: str
    calls: int
    seconds: int
    citation: str
    area_codes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """As the job stores it."""
        return {
            "state": self.state,
            "calls": self.calls,
            "seconds": self.seconds,
            "citation": self.citation,
            "area_codes": list(self.area_codes),
        }


@dataclass(frozen=True)
class StateCaps:
    """Every capped state of one version of the state rules."""

    version: str
    caps: dict[str, StateCap]


@cache
def state_caps() -> StateCaps:
    """The caps of the state rules file this package carries (read once)."""
    rules = tomllib.loads((_DATA / "us_state_rules.toml").read_text(encoding="utf-8"))
    codes = _area_codes()
    caps: dict[str, StateCap] = {}
    for state, table in sorted(rules.get("states", {}).items()):
        if "max_calls" not in table:
            continue
        calls, seconds = parse_count_per_period(str(table["max_calls"]), f"us_state_rules.toml [states.{state}]")
        laws = [law["citation"] for law in table.get("law", []) if "max_calls" in law]
        caps[state] = StateCap(state, calls, seconds, "; ".join(laws), tuple(sorted(codes.get(state, ()))))
    return StateCaps(str(rules["version"]), caps)


@cache
def _area_codes() -> dict[str, set[str]]:
    """Each US state → the area codes that serve some of it (overlays included, as the file lists them)."""
    found: dict[str, set[str]] = {}
    text = (_DATA / "nanp_area_codes.csv").read_text(encoding="utf-8")
    for record in csv.DictReader(io.StringIO(text)):
        for place in (record.get("states") or "").split("|"):
            country, _, state = place.partition("-")
            if country == "US" and state:
                found.setdefault(state, set()).add(record["area_code"])
    return found
