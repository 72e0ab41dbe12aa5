"""A run's command line, derived from its request: the request type is the schema.

The console starts its runs as ``batchqueue run JOB …`` processes (:mod:`batchqueue.service.supervised`);
their arguments are not listed by hand but derived here from :class:`batchqueue.service.sending.RunRequest`,
field by field: a field's flag is its name in kebab case (``--hold-until-window``) unless
:data:`FLAGS` says otherwise. ``tests/e2e/test_run_line.py`` parses the derived line with ``run``'s own
options, so a field of the request without an option of ``run`` (or an option renamed) is a failure.

Usage::

    args = arguments(RunRequest(7, concurrency=4, limit=10))   # ["--concurrency", "4", "--limit", "10"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchqueue.service.sending import RunRequest

#: Fields of the request that are not options of ``run``: JOB is its argument; a claim review is
#: built in the process that claims.
NOT_OPTIONS = frozenset({"job_id", "review"})
#: The flags that are not the field's name in kebab case.
FLAGS = {"calling_days": "--days", "widen_calling": "--widen-rules", "rules": "--rule"}


def flag_of(field_name: str) -> str:
    """The option of ``run`` that sets the request's field ``field_name``."""
    return FLAGS.get(field_name, "--" + field_name.replace("_", "-"))


def arguments(request: RunRequest) -> list[str]:
    """The options of ``batchqueue run`` that make ``request`` (those left at their default omitted)."""
    from batchqueue.service.sending import RunRequest

    default = RunRequest(request.job_id)
    found: list[str] = []
    for field in fields(request):
        value = getattr(request, field.name)
        if field.name in NOT_OPTIONS or value == getattr(default, field.name):
            continue
        flag = flag_of(field.name)
        if isinstance(value, bool):
            if not value:
                raise ValueError(f"{flag}: a flag cannot be turned off on the command line")
            found.append(flag)
        elif isinstance(value, Mapping):
            for name, text in value.items():
                found += [flag, f"{name}={text}"]
        elif isinstance(value, tuple):
            for item in value:
                found += [flag, str(item)]
        elif isinstance(value, float):
            found += [flag, repr(value)]  # exact: read back as the same float
        else:
            found += [flag, str(value)]
    return found
