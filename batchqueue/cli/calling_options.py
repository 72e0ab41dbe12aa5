"""The calling-rule options ``import`` stores on a job and ``run`` may narrow for one run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_CALLING_OPTIONS = [
    click.option(
        "--calling-hours",
        metavar="HH:MM-HH:MM",
        help="Hours calls may be made, in each contact's own local time (import default 08:00-21:00).",
    ),
    click.option("--days", "calling_days", metavar="DAYS", help="Days calls may be made: mon-fri, mon-sat, all…"),
    click.option(
        "--holidays",
        metavar="COUNTRY[-SUBDIV]",
        help="No calls on this calendar's public holidays (US, US-CA, GB, MX…; the holidays package).",
    ),
    click.option(
        "--blackout",
        multiple=True,
        metavar="DATE[..DATE]",
        help="No calls on these local dates (2026-12-24..2026-12-26; repeatable).",
    ),
    click.option(
        "--state-rules",
        type=click.Choice(["us", "none"], case_sensitive=False),
        help="us (the default): each state's own calling hours, Sunday and holiday bans for every state a "
        "contact may be in, the strictest winning (batchqueue/places/data/us_state_rules.toml, each with its "
        "statute); none: off. The mapping file's [calling.states.XX] replaces a state's.",
    ),
    click.option(
        "--outside-federal-hours",
        is_flag=True,
        help="Accept calling hours wider than the federal 08:00-21:00 local (47 CFR 64.1200(c)(1)); refused "
        "otherwise. Only if you know the law allows your calls outside it.",
    ),
]


def state_rule_texts(state_rules: str | None, outside_federal_hours: bool) -> dict[str, str | None]:
    """``--state-rules`` and ``--outside-federal-hours`` as named rules (None: not given)."""
    return {
        "state-rules": state_rules.lower() if state_rules else None,
        "outside-federal-hours": "yes" if outside_federal_hours else None,
    }


def calling_options(func: F) -> F:
    """Decorate a command with the calling-rule options."""
    for option in reversed(_CALLING_OPTIONS):
        func = option(func)
    return func


#: ``--rule NAME=VALUE``: any named rule of the registry (``batchqueue.calling.registry``).
rule_option = click.option(
    "--rule",
    "rule_args",
    multiple=True,
    metavar="NAME=VALUE",
    help="A named rule (repeatable): calling-hours, days, holidays, blackout, recontact-after, max-contacts, "
    "state-caps (us or none), state-rules (us or none), outside-federal-hours (yes or no); the same as its own "
    "option.",
)
