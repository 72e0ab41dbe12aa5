"""The job report: every input row, in input order, with its state and outcome (CSV/xlsx/JSON).

Report columns are the file's own columns framed by batchqueue's, which carry a ``bq_`` prefix so
they never collide with the input's (a contact list may well have a "State" column).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from batchqueue.errors import EnvironmentFailure, UsageError
from batchqueue.ledger import Job, Ledger
from batchqueue.lifecycle import RowState
from batchqueue.reports.cells import safe_row
from batchqueue.reports.fix_file import format_reasons
from batchqueue.reports.xlsx_writer import XlsxWriter
from batchqueue.whole_files import atomic_path

FORMATS = ("csv", "xlsx", "json")
BQ_BEFORE = ["bq_row"]
BQ_AFTER = [
    "bq_state",
    "bq_detail",
    "bq_http_status",
    "bq_attempts",
    "bq_call_id",
    "bq_outcome",
    "bq_outcome_attempts",
    "bq_last_attempt_utc",
    "bq_learned_by",
    "bq_learned_at_utc",
    "bq_phone_sent",
    "bq_resolution",
]
_raw_decode = json.JSONDecoder().raw_decode  # the ledger wrote compact JSON: no whitespace to skip


@dataclass
class ExportResult:
    """What was written."""

    path: Path
    format: str
    rows: int
    seconds: float


def _utc(ts: float | None) -> str:
    if ts is None:
        return ""
    return _utc_second(int(ts))


@lru_cache(maxsize=65536)
def _utc_second(ts: int) -> str:
    # Outcomes arrive in bursts, so many rows share a second: formatting each once saves ~1/4 of an export.
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _detail(state: str, reasons: str | None, error: str | None, duplicate_of: int | None) -> str:
    if reasons:
        text = format_reasons([(c, w) for c, w in json.loads(reasons)])
        return f"{text} (see row {duplicate_of})" if duplicate_of and "row" not in text else text
    return error or ""


def _learned_by(source: str | None, resolution: str | None) -> str:
    if resolution and resolution.startswith("reconcile"):
        return "reconcile"
    return source or ""


def pick_format(path: Path, given: str | None) -> str:
    """The export format: ``--format``, else the file's extension."""
    fmt = (given or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise UsageError(f"cannot tell the export format of {path.name!r}: use .csv, .xlsx or .json, or --format")
    return fmt


class Report:
    """The rows of one job's report, filtered; streamed from the ledger in input order."""

    def __init__(
        self, ledger: Ledger, job: Job, *, states: set[str] | None, outcomes: set[str] | None, as_input: bool
    ) -> None:
        self.ledger, self.job = ledger, job
        self.states, self.outcomes, self.as_input = states, outcomes, as_input
        width = len(job.headers)
        self.width = width
        self.header = list(job.headers) if as_input else [*BQ_BEFORE, *job.headers, *BQ_AFTER]

    def cells(self, *, text: bool = False) -> Iterator[list[Any]]:
        """Rows as lists of cell values aligned with :attr:`header`: text, or int for counts.

        ``text`` (CSV): every value a string, empty for none, and already formula-safe: the
        input's cells and the free-text fields are neutralised here in the same pass.
        """
        width = self.width
        for r in self.ledger.report_rows(self.job.id, states=self.states, outcomes=self.outcomes):
            cells = _raw_decode(r.cells)[0]
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            if self.as_input:
                yield safe_row(cells) if text else cells
                continue
            (number, _, state, reasons, error, duplicate_of, status, attempts, call_id, outcome, o_attempts,
             last_at, source, learned_at, phone, resolution) = r  # fmt: skip
            detail = _detail(state, reasons, error, duplicate_of) if reasons or error else ""
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
                        _learned_by(source, resolution),
                        _utc(learned_at),
                        phone or "",
                        resolution or "",
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
                _learned_by(source, resolution),
                _utc(learned_at),
                phone or "",
                resolution or "",
            ]

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
        out += [[f"outcome: {status}", n] for status, n in sorted(self.ledger.outcome_counts(job.id).items())]
        out += [[f"mapping: {key}", json.dumps(value, ensure_ascii=False)] for key, value in job.mapping.items()]
        return out


def export_job(
    ledger: Ledger,
    job_id: int,
    path: Path,
    *,
    fmt: str | None = None,
    states: set[str] | None = None,
    outcomes: set[str] | None = None,
    as_input: bool = False,
) -> ExportResult:
    """Write ``job_id``'s report to ``path``; CSV/xlsx cells are formula-safe."""
    started = time.perf_counter()
    fmt = pick_format(path, fmt)
    unknown = sorted((states or set()) - {s.value for s in RowState})
    if unknown:
        raise UsageError(
            f"--state: unknown state(s) {', '.join(unknown)}; known: {', '.join(s.value for s in RowState)}"
        )
    job = ledger.job(job_id)
    if as_input and not states and not outcomes:
        states = {RowState.FAILED.value, RowState.INVALID.value}
    report = Report(ledger, job, states=states, outcomes=outcomes, as_input=as_input)
    filters = "; ".join(f"{k}={','.join(sorted(v))}" for k, v in (("state", states), ("outcome", outcomes)) if v)
    try:
        with atomic_path(path) as partial:
            count = _write(report, partial, fmt, filters)
    except OSError as exc:
        raise EnvironmentFailure(f"cannot write {path}: {exc.strerror or exc}") from None
    return ExportResult(path, fmt, count, time.perf_counter() - started)


def _write(report: Report, path: Path, fmt: str, filters: str) -> int:
    count = 0
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(safe_row(report.header))
            batch: list[list[str]] = []
            for cells in report.cells(text=True):  # already formula-safe
                batch.append(cells)
                if len(batch) == 1000:
                    writer.writerows(batch)
                    count += len(batch)
                    batch.clear()
            writer.writerows(batch)
            count += len(batch)
        return count
    if fmt == "xlsx":
        with XlsxWriter(path) as book:
            count = book.add_sheet("Report", report.header, report.cells())
            book.add_sheet("Summary", ["item", "value"], report.summary(filters), autofilter=False)
        return count
    with path.open("w", encoding="utf-8") as f:
        job = report.job
        f.write(
            '{"job": '
            + json.dumps(
                {
                    "job_id": job.id,
                    "survey_id": job.survey_id,
                    "instance_id": job.instance_id,
                    "source": job.source_name,
                }
            )
        )
        f.write(', "summary": ' + json.dumps(dict(report.summary(filters)), ensure_ascii=False, default=str))
        f.write(', "rows": [\n')
        for cells in report.cells():
            f.write(
                (",\n" if count else "") + json.dumps(dict(zip(report.header, cells, strict=True)), ensure_ascii=False)
            )
            count += 1
        f.write("\n]}\n")
    return count
