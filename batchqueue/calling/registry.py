"""The named rules a job keeps: one registry for ``--rule NAME=VALUE`` (``import`` and ``run``), the
mapping file's ``[rules]`` table and the console's import form.

Each rule has a name, a version (of how batchqueue applies it: raised when its meaning changes), the
form of its value, where it runs (``import``: as the job's rows are written; ``claim``: inside each
claim, at the last moment before a request), and its default. The options that came before the
registry (``--calling-hours``, ``--recontact-after``…) are the same rules by another spelling: giving
one rule both ways is refused. A job stores its rules in its options (:meth:`JobRules.options`),
and they are part of its fingerprint: the same file imported with other rules is another job.

A run may give claim-time rules too. They narrow the job's (an intersection of calling hours, a
longer re-contact period, one more cap, the state caps on) and are kept on the job, so the next run
applies them as well; a rule that would widen the job's is refused unless the run says
``--widen-rules`` (then it replaces the job's, and is kept too).

Usage::

    texts = given_rules({"recontact-after": "3d"}, ["max-contacts=3/7d"])
    rules = JobRules.from_texts(texts)
    rules.options()["recontact_after"]        # 259200
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batchqueue.calling.rules import (
    DAY_NAMES,
    CallingRules,
    check_federal,
    check_holidays,
    clock,
    parse_blackout,
    parse_days,
    parse_hours,
    run_rules,
)
from batchqueue.calling.state_caps import BUILT_IN, OFF, state_caps
from batchqueue.calling.state_rules import BUILT_IN as STATE_RULES_ON
from batchqueue.calling.state_rules import state_rules_option, stored_state_rules
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.periods import OFF as PERIOD_OFF
from batchqueue.periods import cap_period, parse_count_per_period, parse_period_or_off, period_text

IMPORT, CLAIM = "import", "claim"


@dataclass(frozen=True)
class NamedRule:
    """One rule of the registry."""

    name: str
    version: int
    runs_at: tuple[str, ...]
    value: str  # how its value is written
    help: str
    default: str | None = None  # what a job gets when nobody gives it (None: nothing)
    settable: bool = True  # False: always on, listed only


RULES: dict[str, NamedRule] = {
    r.name: r
    for r in (
        NamedRule(
            "calling-hours",
            1,
            (CLAIM,),
            "HH:MM-HH:MM",
            "hours calls may be made, in each contact's own local time",
            DEFAULTS.calling_hours,
        ),
        NamedRule("days", 1, (CLAIM,), "mon-fri, mon-sat, sat,sun, all", "days calls may be made", "all"),
        NamedRule("holidays", 1, (CLAIM,), "COUNTRY[-SUBDIV]", "no calls on this calendar's public holidays"),
        NamedRule("blackout", 1, (CLAIM,), "DATE[..DATE][,DATE…]", "no calls on these local dates"),
        NamedRule(
            "recontact-after",
            2,
            (IMPORT, CLAIM),
            "PERIOD (7d, 36h, 2w) or 0",
            "no call to a number any other job of the ledger called within PERIOD, nor to one a job of the "
            "same file called; 0 (or off) turns both off",
            period_text(DEFAULTS.recontact_after) if DEFAULTS.recontact_after else None,
        ),
        NamedRule(
            "max-contacts",
            2,
            (IMPORT, CLAIM),
            "N/PERIOD (3/7d)",
            "at most N calls to a number within PERIOD, by every job of the ledger; a request counts as its "
            "max_attempts calls; a number at the cap is suppressed",
        ),
        NamedRule(
            "state-caps",
            1,
            (CLAIM,),
            "us or none",
            "each state's own cap (Florida: 3 calls in 24 hours…) for contacts who may be there; a number at "
            "a state's cap is held until it frees",
            BUILT_IN,
        ),
        NamedRule(
            "state-rules",
            1,
            (CLAIM,),
            "us or none",
            "each state's own calling hours, Sunday and holiday bans (Florida 08:00-20:00, Alabama no Sunday, Rhode "
            "Island Saturday 10:00-17:00…; batchqueue/places/data/us_state_rules.toml, each with its statute) for "
            "every state a contact may be in, the strictest winning; the mapping file's [calling.states.XX] "
            "replaces a state's",
            STATE_RULES_ON,
        ),
        NamedRule(
            "outside-federal-hours",
            1,
            (CLAIM,),
            "yes or no",
            "yes: calling hours wider than the federal 08:00-21:00 local are accepted (refused otherwise); only if "
            "you know the law allows your calls outside it",
        ),
        NamedRule(
            "dnc",
            1,
            (IMPORT, CLAIM),
            "all",
            "no call to a number on any do-not-call list of the ledger (`batchqueue dnc`)",
            "all",
            settable=False,
        ),
    )
}
#: The rules a run may give (those that run in the claim).
RUN_RULES = tuple(name for name, rule in RULES.items() if CLAIM in rule.runs_at and rule.settable)


def known() -> str:
    """The settable rules' names, as a message lists them."""
    return ", ".join(name for name, rule in RULES.items() if rule.settable)


def check_rule(name: str, value: str, said: str) -> str:
    """``value`` of rule ``name`` checked (a :class:`UsageError` that starts with ``said`` otherwise);
    returns it as given, trimmed."""
    text = value.strip()
    if name == "calling-hours":
        parse_hours(text, said)
    elif name == "days":
        parse_days(text, said)
    elif name == "holidays":
        check_holidays(text, said)
    elif name == "blackout":
        parse_blackout(_blackout(text), said)
    elif name == "recontact-after":
        parse_period_or_off(text, said)
    elif name == "max-contacts":
        parse_count_per_period(text, said)
    elif name in ("state-caps", "state-rules") and text.lower() not in (BUILT_IN, OFF):
        raise UsageError(f"{said} {value!r}: expected {BUILT_IN} or {OFF}")
    elif name == "outside-federal-hours":
        return "yes" if _yes(text, said) else "no"
    return text


def _yes(text: str, said: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("no", "false", "0", "off"):
        return False
    raise UsageError(f"{said} {text!r}: expected yes or no")


def outside_federal(texts: Mapping[str, str]) -> bool:
    """Whether the rules given say ``outside-federal-hours`` (hours wider than 08:00-21:00 accepted)."""
    value = texts.get("outside-federal-hours")
    return value is not None and _yes(value, "outside-federal-hours")


def _blackout(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _named(name: str, where: str) -> NamedRule:
    """The settable rule called ``name``, or a :class:`UsageError` listing the known ones."""
    rule = RULES.get(name)
    if rule is None or not rule.settable:
        why = f"{name} is always on" if rule is not None else f"no rule named {name!r}"
        raise UsageError(f"{where}: {why}; known: {known()}")
    return rule


def parse_rule_args(items: Iterable[str], where: str = "--rule") -> dict[str, str]:
    """``--rule NAME=VALUE`` items (repeatable) as name → value; a rule given twice is refused."""
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lower().replace("_", "-")
        rule = _named(name, f"{where} {item!r}")
        if not sep or not value.strip():
            raise UsageError(f"{where} {item!r}: give its value ({name}={rule.value.split(' ', 1)[0]})")
        if name in found:
            raise UsageError(f"{name} is given twice ({where})")
        found[name] = check_rule(name, value, f"{where} {name}")
    return found


def given_rules(
    options: Mapping[str, str | None], rule_args: Iterable[str], below: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The rules given on the command line (its own options, by rule name, and ``--rule``) over
    those of the mapping file (``below``); a rule given both as an option and as ``--rule`` is refused."""
    named = parse_rule_args(rule_args)
    texts: dict[str, str] = dict(below or {})
    for name, value in options.items():
        if not value:
            continue
        if name in named:
            raise UsageError(f"{name} is given twice (--{name} and --rule {name}=…)")
        texts[name] = check_rule(name, value, f"--{name}")
    return texts | named


def rules_table(table: object, where: str) -> dict[str, str]:
    """The mapping file's ``[rules]`` table, checked (``where`` names the file)."""
    if not isinstance(table, dict):
        raise UsageError(f"{where}: expected a table of rule = value; known: {known()}")
    texts: dict[str, str] = {}
    for name, value in table.items():
        key = str(name).strip().lower().replace("_", "-")
        _named(key, where if key in RULES else f"{where} {name!r}")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        texts[key] = check_rule(key, str(value), f"{where} {key}")
    return texts


@dataclass(frozen=True)
class JobRules:
    """A job's rules, typed, as the import stores them."""

    calling: CallingRules
    recontact_after: int | None = DEFAULTS.recontact_after
    max_contacts: tuple[tuple[int, int], ...] = ()
    state_caps: str = BUILT_IN
    state_rules: str = STATE_RULES_ON
    #: Hours wider than the federal 08:00-21:00 were given knowingly (``--outside-federal-hours``).
    outside_federal_hours: bool = False

    @classmethod
    def from_texts(cls, texts: Mapping[str, str], *, overrides: dict[str, Any] | None = None) -> JobRules:
        """The rules given (by name), the defaults for the others; ``overrides``: the mapping file's
        ``[calling]`` per-state and per-country tables."""
        calling = CallingRules.parse(
            hours=texts.get("calling-hours"),
            days=texts.get("days"),
            holidays=texts.get("holidays"),
            blackout=_blackout(texts.get("blackout", "")),
            overrides=overrides,
        )
        recontact = (
            parse_period_or_off(texts["recontact-after"], "--recontact-after")
            if "recontact-after" in texts
            else DEFAULTS.recontact_after
        )
        cap = texts.get("max-contacts")
        caps = (parse_count_per_period(cap, "--max-contacts"),) if cap else ()
        knowingly = outside_federal(texts)
        if not knowingly:
            calling.check_federal()
        return cls(
            calling,
            recontact,
            caps,
            texts.get("state-caps", BUILT_IN).strip().lower(),
            texts.get("state-rules", STATE_RULES_ON).strip().lower(),
            knowingly,
        )

    def options(self) -> dict[str, Any]:
        """As stored on the job (the fingerprint's part of the rules)."""
        options: dict[str, Any] = {
            "calling": self.calling.as_json(),
            "state_caps": state_caps_option(self.state_caps),
            STATE_RULES: state_rules_option(self.state_rules),
            "dnc": "all",
        }
        if self.outside_federal_hours:
            options[OUTSIDE_FEDERAL] = True
        if self.recontact_after is not None:
            options["recontact_after"] = self.recontact_after
        if self.max_contacts:
            options["max_contacts"] = [list(c) for c in self.max_contacts]
        return options


#: The job options holding the state rules (:func:`state_rules_option`) and the federal-window flag.
STATE_RULES = "state_rules"
OUTSIDE_FEDERAL = "outside_federal_hours"


def job_calling_rules(options: Mapping[str, Any]) -> list[CallingRules]:
    """The calling rule sets a job's runs apply: its own with its state rules, and those runs kept on it."""
    stored = options.get(STATE_RULES) or {}
    job = CallingRules.from_json(options.get("calling")).with_state_laws(
        stored_state_rules(stored), stored.get("version")
    )
    return [job, *(CallingRules.from_json(narrowed) for narrowed in options.get(RUN_CALLING) or ())]


def state_caps_option(which: str) -> dict[str, Any]:
    """The state caps as a job stores them: the version of the built-in caps, and each cap."""
    if which == OFF:
        return {"rules": OFF}
    caps = state_caps()
    return {"rules": BUILT_IN, "version": caps.version, "caps": [c.as_json() for c in caps.caps.values()]}


def job_caps_of(options: Mapping[str, Any]) -> list[tuple[int, int]]:
    """The job's own caps (``max_contacts``: one pair, or a list of them)."""
    given = options.get("max_contacts")
    if not given:
        return []
    pairs = [given] if isinstance(given[0], int) else given
    return [(int(c), int(s)) for c, s in pairs]


@dataclass(frozen=True)
class RuleInForce:
    """A rule as a job holds it."""

    name: str
    version: int
    value: str
    runs_at: tuple[str, ...]
    given_by: str = "import"  # or "run": a run narrowed (or, told so, widened) the job's rules

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "value": self.value,
            "runs_at": list(self.runs_at),
            "given_by": self.given_by,
        }


def _calling_rules(data: Mapping[str, Any] | None, given_by: str) -> list[RuleInForce]:
    rules = CallingRules.from_json(dict(data) if data else None)
    b = rules.base
    found = [RuleInForce("calling-hours", 1, f"{clock(b.hours[0])}-{clock(b.hours[1])}", (CLAIM,), given_by)]
    if len(b.days) < 7:
        found.append(RuleInForce("days", 1, ",".join(DAY_NAMES[d] for d in sorted(b.days)), (CLAIM,), given_by))
    if b.holidays:
        found.append(RuleInForce("holidays", 1, b.holidays, (CLAIM,), given_by))
    if b.blackout:
        days = ",".join(a if a == z else f"{a}..{z}" for a, z in b.blackout)
        found.append(RuleInForce("blackout", 1, days, (CLAIM,), given_by))
    if given_by == "run" and (b.hours[0], b.hours[1]) == (0, 24 * 60):
        found.pop(0)  # a run that named no hours leaves them open
    return found


def rules_in_force(options: Mapping[str, Any]) -> list[RuleInForce]:
    """Every rule a job holds, by name (a job imported before a rule existed: that rule is absent)."""
    found = _calling_rules(options.get("calling"), "import")
    for narrowed in options.get(RUN_CALLING) or ():
        found += _calling_rules(narrowed, "run")
    period = options.get("recontact_after")
    if period is not None:
        value = period_text(int(period)) if int(period) != PERIOD_OFF else "0"
        found.append(RuleInForce("recontact-after", RULES["recontact-after"].version, value, (IMPORT, CLAIM)))
    for calls, seconds in job_caps_of(options):
        found.append(RuleInForce("max-contacts", RULES["max-contacts"].version, f"{calls}/{cap_period(seconds)}",
                                 (IMPORT, CLAIM)))  # fmt: skip
    stored = options.get("state_caps")
    if stored:
        value = stored.get("rules", OFF) + (f" ({stored['version']})" if stored.get("version") else "")
        found.append(RuleInForce("state-caps", RULES["state-caps"].version, value, (CLAIM,)))
    laws = options.get(STATE_RULES)
    if laws:
        value = laws.get("rules", OFF) + (f" ({laws['version']})" if laws.get("version") else "")
        found.append(RuleInForce("state-rules", RULES["state-rules"].version, value, (CLAIM,)))
    if options.get(OUTSIDE_FEDERAL):
        found.append(RuleInForce("outside-federal-hours", RULES["outside-federal-hours"].version, "yes", (CLAIM,)))
    if options.get("dnc"):
        found.append(RuleInForce("dnc", RULES["dnc"].version, str(options["dnc"]), (IMPORT, CLAIM)))
    return found


def rules_json(options: Mapping[str, Any]) -> dict[str, Any]:
    """The job's rules as ``--json`` (import, status) and the console's API show them."""
    stored = options.get("state_caps") or {}
    period = options.get("recontact_after")
    return {
        "recontact_after": int(period) if period is not None else None,
        "max_contacts": [list(c) for c in job_caps_of(options)],
        "state_caps": [
            {k: cap[k] for k in ("state", "calls", "seconds", "citation")} for cap in stored.get("caps") or ()
        ],
        "state_caps_version": stored.get("version"),
        "state_rules": (options.get(STATE_RULES) or {}).get("rules"),
        "state_rules_version": (options.get(STATE_RULES) or {}).get("version"),
        "named": [r.as_json() for r in rules_in_force(options)],
    }


def rules_line(rules: Mapping[str, Any]) -> str:
    """A job's rules (:func:`rules_json`) in one line, by name."""
    return ", ".join(
        f"{r['name']} {r['value']}" + (" (a run's)" if r["given_by"] == "run" else "") for r in rules.get("named", ())
    )


def describe_state_caps(rules: Mapping[str, Any]) -> str | None:
    """The state caps of a job's rules (:func:`rules_json`) in a line, None when it has none."""
    caps = rules.get("state_caps") or ()
    if not caps:
        return None
    listed = ", ".join(f"{c['state']} {c['calls']}/{cap_period(int(c['seconds']))}" for c in caps)
    return (
        f"state caps ({rules.get('state_caps_version')}): {listed} calls to one number, by every job, a request "
        "counting as its max attempts"
    )


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """How two jobs' rules differ, rule by rule (``recontact-after: 1w → 3d``)."""

    def by_name(options: Mapping[str, Any]) -> dict[str, str]:
        found: dict[str, list[str]] = {}
        for rule in rules_in_force(options):
            found.setdefault(rule.name, []).append(rule.value)
        return {k: ", ".join(v) for k, v in found.items()}

    a, b = by_name(old), by_name(new)
    said = [f"{name}: {a.get(name, 'none')} → {b.get(name, 'none')}" for name in RULES if a.get(name) != b.get(name)]
    if not said and json.dumps(old.get("calling"), sort_keys=True) != json.dumps(new.get("calling"), sort_keys=True):
        said.append("calling rules per state or country (the mapping file's [calling])")
    return said


#: The job option holding the calling rules runs added (each a :meth:`CallingRules.as_json`).
RUN_CALLING = "calling_runs"


@dataclass(frozen=True)
class RunRules:
    """What a run's rules do to the job's: the options to keep, and the changes in words."""

    options: dict[str, Any]
    changes: list[str]


def apply_run_rules(job_id: int, options: Mapping[str, Any], texts: Mapping[str, str], *, widen: bool) -> RunRules:
    """The job's options with a run's claim-time rules (name → value) applied: they narrow the
    job's, or with ``widen`` replace them. A rule that would widen without ``widen`` is refused."""
    out = dict(options)
    changes: list[str] = []
    refused: list[str] = []
    for name in texts:
        if name not in RUN_RULES:
            raise UsageError(f"--rule {name}: decided at import only; a run may give {', '.join(RUN_RULES)}")
    calling = {k: texts[k] for k in ("calling-hours", "days", "holidays", "blackout") if k in texts}
    if "calling-hours" in calling and not outside_federal(texts):
        check_federal(parse_hours(calling["calling-hours"]), "--calling-hours")
    if calling:
        sets = run_rules(
            CallingRules.from_json(out.get("calling")),
            hours=calling.get("calling-hours"),
            days=calling.get("days"),
            holidays=calling.get("holidays"),
            blackout=_blackout(calling.get("blackout", "")),
            widen=widen,
        )
        if widen:  # the run's parts replace the job's, and the narrowings of earlier runs go
            out["calling"], out[RUN_CALLING] = sets[0].as_json(), []
            changes += [f"{n} {v} (replacing the job's)" for n, v in calling.items()]
        else:
            out[RUN_CALLING] = [*(out.get(RUN_CALLING) or []), sets[-1].as_json()]
            changes += [f"{n} {v}" for n, v in calling.items()]
    if "recontact-after" in texts:
        period = parse_period_or_off(texts["recontact-after"], "--rule recontact-after")
        now = out.get("recontact_after")
        narrower = period != PERIOD_OFF and (now in (None, PERIOD_OFF) or period >= int(now))
        if narrower or widen:
            out["recontact_after"] = period
            changes.append(f"recontact-after {texts['recontact-after']}")
        else:
            refused.append(
                f"recontact-after {texts['recontact-after']} (the job's: {period_text(int(now)) if now else 'none'})"
            )
    if "max-contacts" in texts:
        cap = parse_count_per_period(texts["max-contacts"], "--rule max-contacts")
        caps = job_caps_of(out)
        out["max_contacts"] = [list(cap)] if widen else [list(c) for c in dict.fromkeys([*caps, cap])]
        changes.append(f"max-contacts {cap[0]}/{cap_period(cap[1])}")
    if "state-caps" in texts:
        which = texts["state-caps"].strip().lower()
        now_caps = (out.get("state_caps") or {}).get("rules", OFF)
        if which == OFF and now_caps != OFF and not widen:
            refused.append("state-caps none (the job's: us)")
        elif which != now_caps:
            out["state_caps"] = state_caps_option(which)
            changes.append(f"state-caps {which}")
    if "state-rules" in texts:
        which = texts["state-rules"].strip().lower()
        now_laws = (out.get(STATE_RULES) or {}).get("rules", OFF)
        if which == OFF and now_laws != OFF and not widen:
            refused.append("state-rules none (the job's: us)")
        elif which != now_laws:
            out[STATE_RULES] = state_rules_option(which)
            changes.append(f"state-rules {which}")
    if texts.get("outside-federal-hours") and outside_federal(texts) != bool(out.get(OUTSIDE_FEDERAL)):
        out[OUTSIDE_FEDERAL] = outside_federal(texts)
        changes.append(f"outside-federal-hours {texts['outside-federal-hours']}")
    if refused:
        raise UsageError(
            f"{'; '.join(refused)} would widen job {job_id}'s rules: a run may only narrow them "
            "(add --widen-rules to replace them, knowingly)"
        )
    return RunRules(out, changes)


def cap_lines(rules: Mapping[str, Any], attempts: int | None) -> list[str]:
    """What the state caps of a job's rules (:func:`rules_json`) do to requests of ``attempts`` attempts."""
    cut = [c for c in rules.get("state_caps") or () if attempts and attempts > int(c["calls"])]
    if not cut:
        return []
    listed = ", ".join(f"{c['state']} {c['calls']}/{cap_period(int(c['seconds']))}" for c in cut)
    return [
        f"--max-attempts {attempts}: a contact who may be in a capped state is sent with fewer ({listed}; "
        "--rule state-caps=none turns the state caps off)"
    ]


def check_attempts(attempts: int | None, caps: Sequence[tuple[int, int]]) -> None:
    """A job-wide ``max_attempts`` that is more calls than one of the job's own caps allows is refused."""
    for calls, seconds in caps:
        if attempts is not None and attempts > calls:
            raise UsageError(
                f"--max-attempts {attempts} is more than --max-contacts {calls}/{cap_period(seconds)} allows: Insight "
                f"may place {attempts} calls for one request (each attempt is a call, and every call counts toward "
                f"the cap); give --max-attempts {calls} or less, or a larger cap"
            )
