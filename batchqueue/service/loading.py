"""``check`` and ``import``: a spreadsheet validated, and loaded into the ledger as a job."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchqueue.calling.registry import (
    JobRules,
    cap_lines,
    check_attempts,
    describe_state_caps,
    differences,
    job_calling_rules,
    rules_json,
    rules_line,
)
from batchqueue.calling.rules import CallingRules
from batchqueue.calling.state_caps import BUILT_IN
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.intake import row_rules
from batchqueue.intake.importer import LoadResult as LoadResult
from batchqueue.intake.importer import check_file
from batchqueue.intake.importer import import_file as _import_file
from batchqueue.intake.loader import Progress
from batchqueue.intake.mapping.resolve import Guess as Guess
from batchqueue.intake.mapping.resolve import ResolvedMapping, null_markers
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.rules import RowRule
from batchqueue.intake.validator_process import Validation, worth_a_helper
from batchqueue.logs import log_context
from batchqueue.periods import period_text
from batchqueue.service.app import Face
from batchqueue.service.context import ledger_for

if TYPE_CHECKING:
    from batchqueue.ledger import Job, Ledger  # the ledger's SQLAlchemy is imported once a ledger is opened
    from batchqueue.ledger import Overlap as Overlap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckRequest:
    """Validate ``file`` with ``spec``; nothing is written but the optional errors file."""

    file: Path
    spec: MappingSpec
    max_problems: int = DEFAULTS.max_problems
    errors_out: Path | None = None
    #: Row rules besides the ones every import applies (``intake/row_rules.IMPORT_RULES``).
    rules: Sequence[RowRule] = ()
    #: Named rules given besides the mapping file's (``--state-rules``…), for the preview.
    rule_texts: Mapping[str, str] = field(default_factory=dict)
    #: A contact's zone when neither its row, its ZIP nor its number says (for the preview).
    default_timezone: str | None = None


@dataclass(frozen=True)
class ImportRequest:
    """Import ``file`` as a job for ``survey_id``/``instance_id`` (or find the job it already is).

    Its rules (``calling``, ``recontact_after``, ``max_contacts``, ``state_caps``) are stored with the
    job and are part of its fingerprint; :meth:`with_rules` makes a request from named rules.
    """

    file: Path
    spec: MappingSpec
    survey_id: str
    instance_id: str
    new_job: bool = False
    max_problems: int = DEFAULTS.max_problems
    #: Row rules besides the ones every import applies (``intake/row_rules.IMPORT_RULES``).
    rules: Sequence[RowRule] = ()
    #: Refuse (suppress) a number another job of the ledger contacted within this many seconds
    #: (0, ``off``: not even one a job of the same file claimed; None: no such rule stored).
    recontact_after: int | None = DEFAULTS.recontact_after
    #: At most this many calls to a number within this many seconds (by any job); a request is its
    #: max_attempts calls.
    max_contacts: tuple[int, int] | None = None
    #: When calls may be made (the defaults when None); stored on the job.
    calling: CallingRules | None = None
    #: A contact's zone when neither its row, ZIP nor number says.
    default_timezone: str | None = None
    #: Each state's own cap on calls to a number (``us``: the built-in state rules'), or ``none``.
    state_caps: str = BUILT_IN
    #: Each state's own calling hours, Sunday and holiday bans (``us``: the built-in), or ``none``.
    state_rules: str = BUILT_IN
    #: Calling hours wider than the federal 08:00-21:00 were given knowingly.
    outside_federal_hours: bool = False

    @classmethod
    def with_rules(
        cls, file: Path, spec: MappingSpec, survey_id: str, instance_id: str, texts: Mapping[str, str], **more: Any
    ) -> ImportRequest:
        """A request with the named rules ``texts`` (name → value, as ``--rule`` and the mapping
        file's ``[rules]`` give them; the defaults for the others)."""
        rules = JobRules.from_texts(texts, overrides=spec.calling)
        return cls(
            file,
            spec,
            survey_id,
            instance_id,
            recontact_after=rules.recontact_after,
            max_contacts=rules.max_contacts[0] if rules.max_contacts else None,
            calling=rules.calling,
            state_caps=rules.state_caps,
            state_rules=rules.state_rules,
            outside_federal_hours=rules.outside_federal_hours,
            **more,
        )

    def job_options(self) -> dict[str, Any]:
        """The options stored with the job: its rules, checked against each other."""
        rules = JobRules(
            self.calling or CallingRules.parse(overrides=self.spec.calling),
            self.recontact_after,
            (self.max_contacts,) if self.max_contacts else (),
            self.state_caps,
            self.state_rules,
            self.outside_federal_hours,
        )
        check_attempts(job_attempts(self.spec), rules.max_contacts)
        if not self.outside_federal_hours:
            rules.calling.check_federal()
        options = rules.options()
        if self.default_timezone:
            from batchqueue.intake.mapping.times import canonical_zone

            try:
                options["default_timezone"] = canonical_zone(self.default_timezone)
            except ValueError as exc:
                raise UsageError(f"--default-timezone: {exc}") from None
        return options


def job_attempts(spec: MappingSpec) -> int | None:
    """The job-wide ``max_attempts`` (``--max-attempts``, the mapping file's ``[defaults]``), if one is given."""
    given = (spec.defaults.get("max_attempts") or "").strip()
    return int(given) if given.isascii() and given.isdigit() else None


def _row_rules(request: CheckRequest | ImportRequest) -> tuple[RowRule, ...]:
    """The row rules of ``request``: every import's (``intake/row_rules``), then its own."""
    return (*row_rules.IMPORT_RULES, *request.rules)


def check(request: CheckRequest, *, progress: Progress | None = None) -> LoadResult:
    """Every row of the file validated; see :class:`LoadResult` for what was found. Its ``preview``
    says where the valid contacts are and which state rules hold for them (under the mapping file's
    rules and the defaults: what an import of the file would get)."""
    from batchqueue.calling.preview import ContactPreview

    rules = JobRules.from_texts({**request.spec.rules, **request.rule_texts}, overrides=request.spec.calling)
    preview = ContactPreview(job_calling_rules(rules.options())[0], request.default_timezone)
    result = check_file(
        request.file,
        request.spec,
        max_problems=request.max_problems,
        errors_out=request.errors_out,
        progress=progress,
        rules=_row_rules(request),
        on_rows=preview.add_run,
    )
    result.preview = preview
    return result


def import_file(app: Face, request: ImportRequest, *, progress: Progress | None = None) -> LoadResult:
    """The file imported as a job in one transaction (``created`` False when it already was one).

    A large file's validating helper is started first, so that its start-up overlaps this
    process's opening (or creating) the ledger.
    """
    options = request.job_options()
    validation = None
    if worth_a_helper(request.file):
        validation = Validation.start(
            request.file,
            request.spec,
            now=int(time.time()),
            max_problems=request.max_problems,
            rules=_row_rules(request),
        )
    try:
        with ledger_for(app, create=True) as ledger:
            result = _import_file(
                ledger,
                request.file,
                request.spec,
                survey_id=request.survey_id,
                instance_id=request.instance_id,
                new_job=request.new_job,
                max_problems=request.max_problems,
                progress=progress,
                rules=_row_rules(request),
                validation=validation,
                options=options,
            )
            if result.job_id is not None:
                _say_rules(ledger, result, ledger.job(result.job_id))
                _log_import(request.file, result)
            return result
    finally:
        if validation is not None:
            validation.cancel()  # a no-op when the import used it up


def _log_import(file: Path, result: LoadResult) -> None:
    """One line an import: the file, the job and its counts (never a line per row)."""
    with log_context(job=result.job_id, event="import"):
        if not result.created:
            log.info("%s: already imported as job %s (%d row(s)); nothing added", file.name, result.job_id, result.rows)
            return
        log.info(
            "%s: imported as job %s in %.1f s: %d row(s) read, %d valid, %d invalid, %d duplicate, %d filtered, "
            "%d suppressed, %d blank",
            file.name,
            result.job_id,
            result.seconds,
            result.rows,
            result.valid,
            result.invalid,
            result.duplicate,
            result.filtered,
            result.suppressed,
            result.blank,
        )


def _say_rules(ledger: Ledger, result: LoadResult, job: Job) -> None:
    """The job's rules, the jobs of its file and mapping with other rules, and whose calls
    suppressed its rows, on the result (what ``import`` and the console say)."""
    from batchqueue.ledger.jobs import RECONTACTED

    result.rules = rules_json(job.options)
    result.other_rules = [
        (other.id, differences(other.options, job.options))
        for other in ledger.jobs_of_file(sha256=job.source_sha256, survey_id=job.survey_id, instance_id=job.instance_id)
        if other.id != job.id and other.mapping == job.mapping and other.fingerprint != job.fingerprint
    ]
    if result.suppressed:
        result.suppressed_by = suppression_kinds(ledger.suppressed_by(job.id))
    said = job.options.get(RECONTACTED) or {}
    found = {
        kind: sorted((int(j), int(n)) for j, n in (said.get(kind) or {}).items()) for kind in ("within", "same_file")
    }
    period = job.options.get("recontact_after")
    if said or period is not None:
        result.recontacted = {
            "period": period,
            "rows": sum(n for kind in found.values() for _, n in kind),
            "jobs": [{"job_id": j, "rows": n} for j, n in found["within"]],
            "same_file": [{"job_id": j, "rows": n} for j, n in found["same_file"]],
        }


#: The kind of a suppressed row's reason, by how the reason starts (``dnc:<list>``, ``recontact: …``,
#: ``max-contacts: …``).
_KINDS = (("dnc:", "dnc"), ("recontact:", "recontact"), ("max-contacts:", "max-contacts"))


def suppression_kinds(by_reason: dict[str, int]) -> dict[str, int]:
    """A job's suppressed rows by reason (:meth:`Ledger.suppressed_by`), counted by kind: "dnc",
    "recontact", "max-contacts" ("other" for a reason of none of them)."""
    kinds: dict[str, int] = {}
    for why, count in by_reason.items():
        kind = next((k for prefix, k in _KINDS if why.startswith(prefix)), "other")
        kinds[kind] = kinds.get(kind, 0) + count
    return kinds


def suppressed_text(result: LoadResult) -> str:
    """The import summary's words for its suppressed rows, by reason, naming the jobs whose calls
    suppressed them: ``suppressed 35 (35 by re-contact protection: job 1 called them)``."""
    if not result.suppressed:
        return ""
    said = result.recontacted or {}
    callers = [f"job {j['job_id']} ({j['rows']})" for j in said.get("jobs") or []]
    callers += [f"job {j['job_id']} of the same file ({j['rows']})" for j in said.get("same_file") or []]
    words = {
        "dnc": "{n} on a do-not-call list, `batchqueue dnc list`",
        "recontact": "{n} by re-contact protection"
        + (f": called by {', '.join(callers)}" if callers else ": another job called the number"),
        "max-contacts": "{n} by the job's contact cap (max-contacts)",
        "other": "{n} for another reason",
    }
    parts = [words[kind].format(n=n) for kind, n in sorted(result.suppressed_by.items()) if n]
    return f"suppressed {result.suppressed}" + (f" ({'; '.join(parts)})" if parts else "")


def import_notes(result: LoadResult, attempts: int | None) -> list[str]:
    """What an import says of its job's rules (the command line and the console alike): them, the state
    caps, whose calls suppressed rows, and the jobs of the same file and mapping with other rules."""
    rules = result.rules or {}
    notes = [f"rules: {rules_line(rules)}"]
    caps = describe_state_caps(rules)
    if caps:
        notes.append(caps)
    notes += cap_lines(rules, attempts)
    said = result.recontacted or {}
    within = said.get("jobs") or []
    if within:
        rows = sum(j["rows"] for j in within)
        period = period_text(int(said["period"]))
        if len(within) == 1:
            who = f"job {within[0]['job_id']} called them"
        else:
            who = "called by " + ", ".join(f"job {j['job_id']} ({j['rows']})" for j in within) + ","
        notes.append(f"{rows} suppressed: {who} within the last {period} (--recontact-after 0 calls them)")
    for job_id, changed in result.other_rules:
        notes.append(
            f"job {job_id} holds this file with the same mapping but other rules: {'; '.join(changed)} "
            f"(job {result.job_id} is another job of the same file)"
        )
    return notes


@dataclass(frozen=True)
class PreviewRow:
    """One of a file's first rows, and what an import would make of it."""

    number: int  # as the spreadsheet shows it
    cells: list[str]
    #: The number as it would be sent (``tel:+E164[;ani=…][;postd=…]``), for a row that would be sent.
    phone_number: str | None = None
    #: Its own start (unix seconds) and the zone it was read in, when it has one.
    start: int | None = None
    zone: str | None = None
    #: Why it would not be sent (invalid: each reason; a duplicate; left out by --where).
    refused: list[str] | None = None


@dataclass(frozen=True)
class FilePreview:
    """The first rows of a file as read with a mapping spec: what the console's check page shows."""

    headers: list[str]
    rows: list[PreviewRow]
    sheets: list[str]


def preview(file: Path, spec: MappingSpec, count: int = 10, mapping: ResolvedMapping | None = None) -> FilePreview:
    """The header and the first ``count`` data rows, as text (formulas are never evaluated); with
    ``mapping`` (a check's), each row also says what it would be sent as, or why it would not be."""
    from batchqueue.intake.sheets import open_table

    with open_table(
        file, sheet=spec.sheet, delimiter=spec.delimiter, header_row=spec.header_row, nulls=null_markers(spec)
    ) as table:
        found: list[tuple[int, list[str], list[str]]] = []
        for number, cells, overflow in table.rows():
            found.append((number, cells, overflow))
            if len(found) >= count:
                break
        headers = list(table.headers)
        sheets = list(table.info.sheets)
    if mapping is None:
        return FilePreview(headers, [PreviewRow(n, cells) for n, cells, _ in found], sheets)
    return FilePreview(headers, _judged(mapping, headers, found), sheets)


def _judged(
    mapping: ResolvedMapping, headers: list[str], found: list[tuple[int, list[str], list[str]]]
) -> list[PreviewRow]:
    """Each row as the import would take it: its request, or why it would not be sent."""
    from batchqueue.intake.mapping.validate import RowValidator
    from batchqueue.intake.mapping.where import RowFilter

    validator = RowValidator(mapping, headers, int(time.time()))
    left_out = RowFilter(mapping.where, headers) if mapping.where else None
    first: dict[int | str, int] = {}
    rows: list[PreviewRow] = []
    for number, cells, overflow in found:
        failed = left_out(cells) if left_out is not None else None
        if failed is not None:
            rows.append(PreviewRow(number, cells, refused=[f"filtered out by --where {failed.text}"]))
            continue
        request, reasons, facts = validator.check(cells, overflow, number)
        if request is None:
            said = [f"{column}: {why}" if column else why for column, why in reasons]
            rows.append(PreviewRow(number, cells, refused=said))
            continue
        earlier = first.setdefault(request.dedupe_key, number)
        if earlier != number and not mapping.allow_duplicates:
            rows.append(PreviewRow(number, cells, refused=[f"a duplicate: same number as row {earlier}"]))
            continue
        zone = (facts or {}).get("timezone", mapping.timezone)
        rows.append(PreviewRow(number, cells, request.phone_number, request.start, zone if request.start else None))
    return rows
