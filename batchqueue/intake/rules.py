"""The import-time row rule seam: per-row validation and derivation, beyond the mapping itself.

A rule is bound once per file (it looks up its columns by name), then called for every row that
the mapping found valid. It may refuse the row (reasons, with the column to blame), narrow its
request (``draft.request = draft.request._replace(...)``) or derive facts kept with the row
(``draft.facts["timezone"] = ...``), which send-time rules read back.

Adding a rule touches one new module and the list the importer is given; the importer, the
validator and the ledger do not change. A rule that needs per-row work turns the validator's
fast path for plain phone numbers off by itself (``per_row = True``).

Usage::

    class NoTollFree:
        name, per_row = "no-toll-free", True
        def bind(self, headers, mapping):
            return lambda draft: [(mapping.phone_column, "is toll-free")] if draft.request.e164[2:5] in ("800",) else []

    import_file(ledger, path, spec, survey_id="1", instance_id="1", rules=[NoTollFree()])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from batchqueue.intake.mapping.resolve import ResolvedMapping
    from batchqueue.intake.mapping.validate import Reason, Request


@dataclass
class RowDraft:
    """A valid row on its way to the ledger: rules may change its request and add facts."""

    number: int
    cells: list[str]
    request: Request
    facts: dict[str, Any] = field(default_factory=dict)


BoundRule = Callable[[RowDraft], "list[Reason]"]


class RowRule(Protocol):
    """An import-time rule (see the module docstring). Must be picklable (large imports run it in
    a helper process)."""

    @property
    def name(self) -> str:
        """The rule's name, as reasons and facts carry it."""
        ...

    @property
    def per_row(self) -> bool:
        """Whether the rule looks at each row (False: it only sees the file's columns)."""
        ...

    def bind(self, headers: list[str], mapping: ResolvedMapping) -> BoundRule:
        """The rule for one file's columns."""
        ...
