"""The job report: every input row, in input order, with its state and outcome (CSV/xlsx/JSON).

Report columns are the file's own columns framed by batchqueue's, which carry a ``bq_`` prefix so
they never collide with the input's (a contact list may well have a "State" column).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import operator
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from batchqueue.cell_safety import safe_row
from batchqueue.errors import EnvironmentFailure, UsageError
from batchqueue.holds import hold_text
from batchqueue.ledger import Job, Ledger, ReportRow
from batchqueue.ledger.reports import VisitCells
from batchqueue.ledger.waves import family_of
from batchqueue.lifecycle import MAY_HAVE_CALLED, PROBLEM_STATES, RowState
from batchqueue.places.contacts import display_zone
from batchqueue.places.zone_names import zone as tzinfo_of
from batchqueue.reports.fix_file import FIX_COLUMNS, fix_row, format_reasons
from batchqueue.reports.words import in_words
from batchqueue.reports.xlsx_writer import XlsxWriter
from batchqueue.untrusted import printable
from batchqueue.whole_files import atomic_path

FORMATS = ("csv", "xlsx", "json")
#: ``--encoding`` of a CSV export: UTF-8 with a BOM (Excel's cue to read UTF-8) by default.
ENCODINGS = ("utf-8-sig", "utf-8", "cp1252")
#: ``-o -``: the report goes to standard output.
STDOUT = Path("-")
BQ_BEFORE = ["bq_row"]
BQ_AFTER = [
    "bq_state",
    "bq_detail",
    "bq_http_status",
    "bq_requests",
    "bq_call_id",
    "bq_call_outcome",
    "bq_call_attempts",
    "bq_last_call_attempt_utc",
    "bq_learned_by",
    "bq_learned_at_utc",
    "bq_phone_sent",
    "bq_resolution",
    "bq_timezone",
    "bq_timezone_source",
    "bq_states",
    "bq_places",
    "bq_window_start_local",
    "bq_window_end_local",
    "bq_hold_reason",
]
#: Added to the report of a job that has later waves.
BQ_WAVES = ["bq_latest_call_outcome", "bq_waves_called"]
#: Added to the JSON report only: the technical text behind ``bq_detail``.
BQ_TECHNICAL = "bq_detail_technical"
#: With survey answers (``batchqueue answers``): one column per question (CSV, xlsx) named
#: ``bq_answer: <question>`` (or one ``bq_answers`` object in JSON), then the visit's columns.
BQ_ANSWER_PREFIX = "bq_answer: "
BQ_ANSWERS = "bq_answers"
BQ_VISIT = ["bq_visit_start_utc", "bq_visit_completed", "bq_visit_note"]
_raw_decode = json.JSONDecoder().raw_decode  # the ledger wrote compact JSON: no whitespace to skip


@dataclass
class ExportResult:
    """What was written."""

    path: Path
    format: str
    rows: int
    seconds: float


@dataclass(frozen=True)
class ExportShape:
    """How the report is written: which columns, and for CSV the delimiter and encoding."""

    columns: tuple[str, ...] | None = None
    delimiter: str = ","
    encoding: str | None = None  # utf-8-sig for a file (Excel's cue), utf-8 on standard output

    def text_encoding(self, fmt: str, to_stdout: bool) -> str:
        if fmt != "csv":
            return "utf-8"
        return self.encoding or ("utf-8" if to_stdout else "utf-8-sig")


def _utc(ts: float | None) -> str:
    if ts is None:
        return ""
    return _utc_second(int(ts))


@lru_cache(maxsize=65536)
def _utc_second(ts: int) -> str:
    # Outcomes arrive in bursts, so many rows share a second: formatting each once saves ~1/4 of an export.
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@lru_cache(maxsize=65536)
def _local(ts: int | None, label: str | None, source: str | None) -> str:
    """A window's edge in the contact's zone (the first of several; UTC for a country's safe window)."""
    if ts is None or not label:
        return ""
    return dt.datetime.fromtimestamp(ts, tzinfo_of(display_zone(label, source))).isoformat()


def _detail(state: str, reasons: str | None, error: str | None, duplicate_of: int | None, status: int | None) -> str:
    if reasons:
        text = format_reasons([(c, w) for c, w in json.loads(reasons)])
        return f"{text} (see row {duplicate_of})" if duplicate_of and "row" not in text else text
    return in_words(state, error, status)


def answer_columns(questions: Sequence[str]) -> list[str]:
    """``bq_answer: <question>`` for each question, each name unique and on one line."""
    names: list[str] = []
    for question in questions:
        base = BQ_ANSWER_PREFIX + printable(question)
        name, n = base, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    return names


def pick_format(path: Path, given: str | None) -> str:
    """The export format: ``--format``, else the file's extension (CSV on standard output)."""
    if given is None and path == STDOUT:
        return "csv"
    fmt = (given or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise UsageError(f"cannot tell the export format of {path.name!r}: use .csv, .xlsx or .json, or --format")
    return fmt


class Report:
    """The rows of one job's report, filtered; streamed from the ledger in input order."""

    def __init__(
        self,
        ledger: Ledger,
        job: Job,
        *,
        states: set[str] | None,
        outcomes: set[str] | None,
        as_input: bool,
        technical: bool = False,
    ) -> None:
        self.ledger, self.job = ledger, job
        self.states, self.outcomes, self.as_input = states, outcomes, as_input
        width = len(job.headers)
        self.width = width
        #: The survey's questions, when ``answers`` joined the job's calls to a report (JSON: one
        #: ``bq_answers`` object per row instead of a column per question).
        answers = job.options.get("answers")
        found = answers.get("questions") if isinstance(answers, dict) and not as_input else None
        self.questions: list[str] = [str(q) for q in found] if isinstance(found, list) else []
        self.answers_object = technical
        shown: list[str] = []
        if self.questions:
            shown = [BQ_ANSWERS] if technical else answer_columns(self.questions)
            shown += BQ_VISIT
        self.header = [*FIX_COLUMNS, *job.headers] if as_input else [*BQ_BEFORE, *job.headers, *shown, *BQ_AFTER]
        #: With later waves (``recycle``): row number → (latest outcome, waves whose call was queued).
        self.waves: dict[int, tuple[str | None, int]] | None = None
        later = [w.id for w in ledger.waves(job) if w.id == job.id or job.id in family_of(w)]
        if len(later) > 1 and not as_input:
            self.waves = ledger.wave_summary(later)
            self.header += BQ_WAVES
        #: The JSON report carries the technical text behind ``bq_detail`` too.
        self.technical = technical and not as_input
        if self.technical:
            self.header.append(BQ_TECHNICAL)

    def cells(self, *, text: bool = False) -> Iterator[list[Any]]:
        """Rows as lists of cell values aligned with :attr:`header`: text, or int for counts.

        ``text`` (CSV): every value a string, empty for none, and already formula-safe: the
        input's cells and the free-text fields are neutralised here in the same pass.
        """
        width = self.width
        for r, visit in self._rows():
            cells = _raw_decode(r.cells)[0]
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            if visit is not None:
                cells += self._answer_cells(visit, text)
            (number, _, state, reasons, error, duplicate_of, status, attempts, call_id, outcome, o_attempts,
             last_at, source, learned_at, phone, resolution, w_start, w_end, zone, zone_source,
             hold, hold_detail, states, places) = r  # fmt: skip
            window: list[Any] = [
                zone or "",
                zone_source or "",
                states or "",
                places or "",
                _local(w_start, zone, zone_source),
                _local(w_end, zone, zone_source),
                hold_text(hold, hold_detail) if hold and state == RowState.PENDING else "",
            ]
            if self.waves is not None:
                latest, called = self.waves.get(number, (None, 0))
                window += [latest or "", str(called) if text else called]
            if self.technical:
                window.append(error or "")
            detail = _detail(state, reasons, error, duplicate_of, status) if reasons or error else ""
            if self.as_input:
                row = fix_row(number, detail or state, cells)
                yield safe_row(row) if text else row
                continue
            if text:
                # Every text cell, the input's and batchqueue's own (an outcome, a call id or an error
                # text came from outside too), is neutralised in this one pass.
                yield safe_row(
                    [
                        str(number),
                        *cells,
                        state,
                        detail,
                        "" if status is None else str(status),
                        str(attempts),
                        call_id or "",
                        outcome or "",
                        "" if o_attempts is None else str(o_attempts),
                        _utc(last_at),
                        source or "",
                        _utc(learned_at),
                        phone or "",
                        resolution or "",
                        *window,
                    ]
                )
                continue
            yield [
                number,
                *cells,
                state,
                detail,
                status,
                attempts,
                call_id or "",
                outcome or "",
                o_attempts,
                _utc(last_at),
                source or "",
                _utc(learned_at),
                phone or "",
                resolution or "",
                *window,
            ]

    def _rows(self) -> Iterator[tuple[ReportRow, VisitCells | None]]:
        """The rows, each with its call's survey visit when the job has answers (else None)."""
        job_id, states, outcomes = self.job.id, self.states, self.outcomes
        if self.questions:
            yield from self.ledger.answered_report_rows(job_id, states=states, outcomes=outcomes)
            return
        for row in self.ledger.report_rows(job_id, states=states, outcomes=outcomes):
            yield row, None

    def _answer_cells(self, visit: VisitCells, text: bool) -> list[Any]:
        """The answers (a column per question, or one object), the visit's start, completion, note."""
        answers: dict[str, str] | None = _raw_decode(visit.answers)[0] if visit.answers else None
        shown: list[Any]
        if self.answers_object:
            shown = [answers]
        else:
            shown = [answers.get(q, "") for q in self.questions] if answers else [""] * len(self.questions)
        start = "" if visit.start is None else _utc_minute(int(visit.start) // 60) + f"{int(visit.start) % 60:02d}"
        return [*shown, start, visit.completed or "", visit.note or ""]

    def summary(self, filters: str) -> list[list[Any]]:
        """The summary sheet: counts by state and outcome, the job's settings, timestamps."""
        job = self.job
        counts = self.ledger.counts(job.id)
        out: list[list[Any]] = [
            ["job", job.id],
            ["survey / instance", f"{job.survey_id} / {job.instance_id}"],
            ["source file", job.source_name],
            ["source sha256", job.source_sha256],
            ["sheet", job.sheet or ""],
            ["imported (UTC)", _utc(job.created_at)],
            ["exported (UTC)", _utc(time.time())],
            ["filters", filters or "none"],
            ["rows in the job", sum(counts.values())],
        ]
        out += [[f"state: {state}", n] for state, n in counts.items()]
        out += [[f"call outcome: {status}", n] for status, n in sorted(self.ledger.outcome_counts(job.id).items())]
        out += [[f"mapping: {key}", _said(value)] for key, value in job.mapping.items()]
        out += _rules_summary(job)
        return out + _answers_summary(job)


def _rules_summary(job: Job) -> list[list[Any]]:
    """The rules in force on the job, by name (the state rules with their version), and its calling rules."""
    from batchqueue.calling.registry import job_calling_rules, rules_in_force

    found: dict[str, list[str]] = {}
    for rule in rules_in_force(job.options):
        found.setdefault(rule.name, []).append(rule.value + (" (a run's)" if rule.given_by == "run" else ""))
    rows: list[list[Any]] = [[f"rule: {name}", ", ".join(values)] for name, values in found.items()]
    return [*rows, ["calling rules", job_calling_rules(job.options)[0].describe()]]


def _said(value: Any) -> str:
    """A mapping value as a person reads it in a summary: text as it is, lists joined, yes/no; only
    a table (columns, defaults) as JSON."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_said(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def export_job(
    ledger: Ledger,
    job_id: int,
    path: Path,
    *,
    fmt: str | None = None,
    states: set[str] | None = None,
    outcomes: set[str] | None = None,
    as_input: bool = False,
    shape: ExportShape = ExportShape(),
) -> ExportResult:
    """Write ``job_id``'s report to ``path`` (:data:`STDOUT`: standard output); CSV/xlsx cells are
    formula-safe."""
    started = time.perf_counter()
    fmt = pick_format(path, fmt)
    unknown = sorted((states or set()) - {s.value for s in RowState})
    if unknown:
        raise UsageError(
            f"--state: unknown state(s) {', '.join(unknown)}; known: {', '.join(s.value for s in RowState)}"
        )
    if shape.encoding is not None and shape.encoding not in ENCODINGS:
        raise UsageError(f"--encoding {shape.encoding!r}: use one of {', '.join(ENCODINGS)}")
    if fmt != "csv" and (shape.delimiter != "," or shape.encoding is not None):
        raise UsageError("--delimiter and --encoding apply to CSV exports only")
    job = ledger.job(job_id)
    if as_input and not states and not outcomes:
        # the problem rows no call was placed for (failed, invalid): safe to fix and import again
        states = {s.value for s in PROBLEM_STATES - MAY_HAVE_CALLED}
    report = Report(ledger, job, states=states, outcomes=outcomes, as_input=as_input, technical=fmt == "json")
    pick = _column_picker(report.header, shape.columns)
    filters = "; ".join(f"{k}={','.join(sorted(v))}" for k, v in (("state", states), ("outcome", outcomes)) if v)
    try:
        if path == STDOUT:
            count = _to_stdout(report, fmt, filters, shape, pick)
        else:
            with atomic_path(path) as partial:
                count = _write(report, partial, fmt, filters, shape, pick)
    except OSError as exc:
        raise EnvironmentFailure(f"cannot write {path}: {exc.strerror or exc}") from None
    return ExportResult(path, fmt, count, time.perf_counter() - started)


@lru_cache(maxsize=4096)
def _utc_minute(minute: int) -> str:
    """``2026-12-01 14:02:`` of a unix minute: a visit's start is its own second (so no second is
    formatted twice), but a minute holds many."""
    return dt.datetime.fromtimestamp(minute * 60, dt.UTC).strftime("%Y-%m-%d %H:%M:")


def _answers_summary(job: Job) -> list[list[Any]]:
    """The summary's lines about survey answers (``batchqueue answers``): none when it never ran."""
    found = job.options.get("answers")
    if not isinstance(found, dict) or "counts" not in found:
        return []
    counts = found["counts"]
    out: list[list[Any]] = [
        ["answers: report", str(found.get("report_id", ""))],
        ["answers: fetched (UTC)", _utc(found.get("fetched_at"))],
        ["answers: rows with answers", counts.get("joined", 0)],
        ["answers: completed surveys", counts.get("completed", 0)],
        ["answers: ambiguous visits (not joined)", counts.get("ambiguous", 0)],
        ["answers: visits not this job's", counts.get("not_this_job", 0)],
    ]
    for question, values in (found.get("tally") or {}).items():
        out += [[f"answer to {question}: {value}", n] for value, n in values]
    return out


Picker = Callable[[list[Any]], list[Any]]


def _column_picker(header: list[str], wanted: Sequence[str] | None) -> Picker | None:
    """A function keeping only the ``--columns`` asked for, in their order (None: all columns)."""
    if not wanted:
        return None
    index = {name: i for i, name in enumerate(header)}
    folded = {name.casefold(): i for i, name in enumerate(header)}
    positions = []
    for name in wanted:
        at = index.get(name, folded.get(name.strip().casefold()))
        if at is None:
            listed = ", ".join(repr(h) for h in header)
            raise UsageError(f"--columns: the report has no column {name!r}; its columns are {listed}")
        positions.append(at)
    if len(positions) == 1:
        only = positions[0]
        return lambda row: [row[only]]
    getter = operator.itemgetter(*positions)
    return lambda row: list(getter(row))


def _to_stdout(report: Report, fmt: str, filters: str, shape: ExportShape, pick: Picker | None) -> int:
    if fmt == "xlsx":
        # A workbook is a zip: it is built whole in a temporary file, then copied out.
        with tempfile.TemporaryDirectory(prefix="batchqueue-export-") as tmp:
            built = Path(tmp) / "report.xlsx"
            count = _write(report, built, fmt, filters, shape, pick)
            with built.open("rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return count
    encoding = shape.text_encoding(fmt, to_stdout=True)
    out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="", write_through=False)
    try:
        return _write_text(report, out, fmt, filters, shape, pick, encoding)
    finally:
        out.flush()
        out.detach()  # standard output stays open for whoever prints next


def _write(report: Report, path: Path, fmt: str, filters: str, shape: ExportShape, pick: Picker | None) -> int:
    if fmt == "xlsx":
        header = pick(report.header) if pick else report.header
        rows = map(pick, report.cells()) if pick else report.cells()
        with XlsxWriter(path) as book:
            count = book.add_sheet("Report", header, rows)
            book.add_sheet("Summary", ["item", "value"], report.summary(filters), autofilter=False)
        return count
    encoding = shape.text_encoding(fmt, to_stdout=False)
    with path.open("w", encoding=encoding, newline="") as f:
        return _write_text(report, f, fmt, filters, shape, pick, encoding)


def _write_text(
    report: Report, f: IO[str], fmt: str, filters: str, shape: ExportShape, pick: Picker | None, encoding: str
) -> int:
    if fmt == "csv":
        return _write_csv(report, f, shape.delimiter, encoding, pick)
    count = 0
    job = report.job
    header = pick(report.header) if pick else report.header
    f.write(
        '{"job": '
        + json.dumps(
            {"job_id": job.id, "survey_id": job.survey_id, "instance_id": job.instance_id, "source": job.source_name}
        )
    )
    f.write(', "summary": ' + json.dumps(dict(report.summary(filters)), ensure_ascii=False, default=str))
    f.write(', "rows": [\n')
    for cells in report.cells():
        if pick:
            cells = pick(cells)
        f.write((",\n" if count else "") + json.dumps(dict(zip(header, cells, strict=True)), ensure_ascii=False))
        count += 1
    f.write("\n]}\n")
    return count


def _write_csv(report: Report, f: IO[str], delimiter: str, encoding: str, pick: Picker | None) -> int:
    header = safe_row(pick(report.header) if pick else report.header)
    check = _encodable(encoding, header)
    writer = csv.writer(f, delimiter=delimiter)
    check([header])
    writer.writerow(header)
    count = 0
    batch: list[list[str]] = []
    for cells in report.cells(text=True):  # already formula-safe
        batch.append(pick(cells) if pick else cells)
        if len(batch) == 1000:
            check(batch)
            writer.writerows(batch)
            count += len(batch)
            batch.clear()
    check(batch)
    writer.writerows(batch)
    return count + len(batch)


def _encodable(encoding: str, header: list[str]) -> Callable[[list[list[str]]], None]:
    """A check that a batch of rows can be written in ``encoding``; UsageError names the first cell
    that cannot (nothing is silently replaced)."""
    if encoding.startswith("utf-8"):
        return lambda batch: None

    def check(batch: list[list[str]]) -> None:
        try:
            "\x1f".join("\x1e".join(row) for row in batch).encode(encoding)
        except UnicodeEncodeError:
            for row in batch:
                for at, cell in enumerate(row):
                    try:
                        cell.encode(encoding)
                    except UnicodeEncodeError as exc:
                        where = f"row {row[0]}, " if header and header[0] in ("bq_row",) and row is not header else ""
                        column = header[at] if at < len(header) else f"#{at + 1}"
                        raise UsageError(
                            f"{where}column {column!r}: {cell[exc.start : exc.end]!r} cannot be written in "
                            f"{encoding}; use --encoding utf-8-sig (Excel reads it) or utf-8"
                        ) from None

    return check
