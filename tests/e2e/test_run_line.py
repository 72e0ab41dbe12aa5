"""The request type is the schema of a run: the command line the console's supervised runs are
started with is derived from :class:`RunRequest`, and ``batchqueue run``'s own options read it back
as the same request. A field added to the request without an option of ``run`` (or an option
renamed) fails here, not in a console run that silently ignores it."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from batchqueue.cli.run_cmds import run
from batchqueue.console.forms import run_options
from batchqueue.service.rules import parse_rule_args
from batchqueue.service.run_line import NOT_OPTIONS, arguments, flag_of
from batchqueue.service.sending import RunRequest

#: A value other than the default for every field of the request that is an option of ``run``.
EVERY_OPTION = RunRequest(
    7,
    concurrency=5,
    rate=0.25,
    on_ambiguous="resend",
    public_url="https://callbacks.example.org",
    breaker=9,
    connect_timeout=2.5,
    read_timeout=12.0,
    retries=4,
    lease_ttl=45.0,
    ledger_wait=120.0,
    limit=3,
    unsafe_resend_sending=True,
    calling_hours="09:00-17:00",
    calling_days="mon-fri",
    holidays="US-MA",
    blackout=("2026-12-24", "2026-12-31"),
    widen_calling=True,
    rules={"recontact-after": "2w", "state-caps": "none"},
    hold_until_window=True,
    wait_for_window=True,
    metrics_port=9101,
    metrics_host="0.0.0.0",  # noqa: S104 - a value to parse, nothing listens
)
#: A field's name among ``run``'s parameters, where it is not the field's own.
PARAMETER = {"widen_calling": "widen_calling_rules", "rules": "rule_args"}


def _parsed(args: list[str]) -> dict[str, Any]:
    context = run.make_context("run", ["7", *args])
    with context:
        return dict(context.params)


def test_every_field_is_set_to_something_else_than_its_default() -> None:
    default = RunRequest(7)
    same = [f.name for f in fields(RunRequest) if f.name not in NOT_OPTIONS]
    assert [n for n in same if getattr(EVERY_OPTION, n) == getattr(default, n)] == []


def test_runs_own_options_read_the_derived_line_back_as_the_same_request() -> None:
    params = _parsed(arguments(EVERY_OPTION))
    for field in fields(RunRequest):
        if field.name in NOT_OPTIONS:
            continue
        value = params[PARAMETER.get(field.name, field.name)]
        if field.name == "rules":
            value = parse_rule_args(value)
        assert value == getattr(EVERY_OPTION, field.name), flag_of(field.name)


def test_defaults_are_left_off_the_line() -> None:
    assert arguments(RunRequest(7)) == []
    assert arguments(RunRequest(7, limit=10)) == ["--limit", "10"]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"concurrency": "3"}, {"concurrency": 3}),
        ({"concurrency": "1", "rate": "0.5", "limit": "4"}, {"concurrency": 1, "rate": 0.5, "limit": 4}),
        ({"hold_until_window": "on"}, {"hold_until_window": True, "public_url": "https://cb.example.org"}),
    ],
)
def test_a_console_run_starts_with_the_options_its_form_gave(form: dict[str, str], expected: dict[str, Any]) -> None:
    request = run_options(form, 7, "https://cb.example.org")
    assert request.job_id == 7
    params = _parsed(arguments(request))
    assert {name: params[name] for name in expected} == expected
