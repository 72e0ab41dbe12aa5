"""The import-time row rule seam: per-row validation and derivation, beyond the mapping itself.

A rule is bound once per file (it looks up its columns by name in ``headers``, the header row's
texts in column order), then called for every row that the mapping found valid. It may refuse the
row (reasons: ``(column header or None, words)``, e.g. ``("Do Not Call", "is marked do-not-call")``,
shown as ``row N, column C: words``), narrow its request
(``draft.request = draft.request._replace(...)``; the fields of
:class:`~batchqueue.intake.mapping.validate.Request`: ``phone_number`` (the ``tel:`` URI), ``e164``,
``dedupe_key``, ``start``, ``end``, ``max_attempts``, ``reattempt_wait``, ``result_url``) or derive
facts kept with the row (``draft.facts["timezone"] = ...``; ``rows.facts``), which send-time rules
read back (``Claimed.facts``). ``draft.cells`` are the row's cells as text, in ``headers`` order.

``bind`` returns None when the file has nothing for the rule (its column is absent): the rule then
costs nothing, and the validator's fast path for plain phone numbers stays on. A rule that does
look at each row (``per_row = True``) turns that fast path off for its file only.

Every ``check`` and ``import`` (command line, console, service) applies the rules of
:data:`batchqueue.intake.row_rules.IMPORT_RULES`; adding a rule there touches one new module under
``intake/row_rules/``, that list, and its test; the importer, the validator and the ledger do not
change. Rules must be picklable (large imports run them in a helper process): a frozen dataclass is.

Usage::

    @dataclass(frozen=True)
    class NoTollFree:
        name: str = "no-toll-free"
        per_row: bool = True

        def bind(self, headers: list[str], mapping: ResolvedMapping) -> BoundRule | None:
            column = mapping.phone_column
            return lambda draft: [(column, "is toll-free")] if draft.request.e164[2:5] == "800" else []

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

    def bind(self, headers: list[str], mapping: ResolvedMapping) -> BoundRule | None:
        """The rule for one file's columns (None: nothing to do for this file)."""
        ...
