"""``answers``: Insight's saved survey report, read whole and joined to a job's calls; its answers
kept per row, and numbers whose answer opts them out put on a do-not-call list.

Every outbound visit is joined to the call of its number it answered (:mod:`batchqueue.answers.join`:
by number, then by time, the closest call of the survey's jobs); web and inbound visits, visits of
numbers the job never called, and visits another job's call was closer to are counted and set
aside; a visit that matches two calls equally, or a call with two visits, is reported (and noted
in the row's report), never joined. The visits are kept in the ledger, so running it again is
idempotent, and picks up visits that arrived, or changed, since.

Usage::

    result = fetch_answers(settings, AnswersRequest(job_id=1, report_id="77"))
    result.joined, result.not_this_job, result.ambiguous_total
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchqueue.answers.accounting import JoinAccount
from batchqueue.answers.opt_outs import OptedOut, OptOutRule, check_syntax, opt_out_listings, resolve_rules
from batchqueue.answers.pages import ReportPages
from batchqueue.answers.tally import AnswerTally
from batchqueue.answers.visits import Kind, VisitReader, is_completed
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.insight.pacing import Pacer
from batchqueue.intake.mapping.times import canonical_zone
from batchqueue.ledger import Job, Ledger
from batchqueue.ledger.dnc import list_name
from batchqueue.service.app import Face
from batchqueue.service.context import insight_client, ledger_for, target_of
from batchqueue.untrusted import printable

log = logging.getLogger(__name__)

#: The job option holding what ``answers`` was last told and found.
OPTION = "answers"
#: Questions charted (the console) and answers shown for each.
CHARTED, PER_QUESTION = 6, 8
_REPORT_URL = re.compile(r"/report/(\d{1,18})/?(?:[?#].*)?$")
#: By default the report is read from a day before the job was imported (no visit before it can
#: answer its calls) to 30 days from now (no visit is in the future; the sandbox dates a call made
#: outside its calling hours at the window's opening).
BEFORE, AFTER = 86_400, 30 * 86_400


@dataclass(frozen=True)
class AnswersRequest:
    """Read ``report_id`` (None: the report stored on the job) and join it to job ``job_id``.

    ``since``/``until``: date-times (or unix seconds) narrowing the visits read, in the report's time
    zone unless they say theirs; by default from a day before the job was imported on.
    ``None`` for ``report_timezone``, ``opt_out_when`` and ``opt_out_list``: what the job has stored
    (else UTC, none, ``survey-opt-outs``); what is given is stored for the next time.
    """

    job_id: int
    report_id: str | None = None
    since: str | None = None
    until: str | None = None
    report_timezone: str | None = None
    report_date_formats: tuple[str, ...] | None = None
    opt_out_when: tuple[str, ...] | None = None
    opt_out_list: str | None = None
    page_size: int = DEFAULTS.report_page_size
    rate: float = DEFAULTS.report_rate


@dataclass
class AnswersResult:
    """What ``answers`` did. The visits of the report known to the ledger (this fetch's and earlier
    ones) are each ``joined``, ``ambiguous`` (by why) or ``set_aside`` (by why); ``read`` counts the
    report rows read this time."""

    job_id: int
    report_id: str
    report_timezone: str
    since: int
    until: int
    pages: int = 0
    read: int = 0
    unreadable_lines: int = 0
    located: list[tuple[int, str]] = field(default_factory=list)  # (report row, why)
    visits: int = 0
    joined: int = 0
    completed: int = 0
    ambiguous: dict[str, int] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    ambiguous_visits: list[dict[str, Any]] = field(default_factory=list)
    unreadable_visits: list[dict[str, str]] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    opted_out: OptedOut | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def not_this_job(self) -> int:
        return sum(self.set_aside.values())

    @property
    def ambiguous_total(self) -> int:
        return sum(self.ambiguous.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "report_id": self.report_id,
            "report_timezone": self.report_timezone,
            "since": self.since,
            "until": self.until,
            "pages": self.pages,
            "read": self.read,
            "visits": self.visits,
            "joined": self.joined,
            "completed": self.completed,
            "not_this_job": self.not_this_job,
            "ambiguous": self.ambiguous_total,
            "set_aside": self.set_aside,
            "ambiguous_by": self.ambiguous,
            "ambiguous_visits": self.ambiguous_visits,
            "unreadable_lines": self.unreadable_lines,
            "unreadable": [{"report_row": row, "why": why} for row, why in self.located] + self.unreadable_visits,
            "questions": self.questions,
            "opted_out": None if self.opted_out is None else self.opted_out.__dict__,
            "warnings": self.warnings,
        }


def report_id_of(text: str) -> str:
    """A saved report's id: its number, or the Reporting API URL that ends with it."""
    value = text.strip()
    found = _REPORT_URL.search(value)
    if found is not None:
        value = found.group(1)
    if not value.isdigit() or len(value) > 18:
        raise UsageError(
            f"--report {printable(text, 80)!r}: give the report's number, the end of the Reporting API URL "
            "on the survey's View Survey Visits page (…/api/report/NUMBER)"
        )
    return value


def stored(job: Job) -> dict[str, Any]:
    """What ``answers`` stored on the job (empty when it never ran)."""
    found = job.options.get(OPTION)
    return found if isinstance(found, dict) else {}


def fetch_answers(
    app: Face,
    request: AnswersRequest,
    *,
    stop: threading.Event | None = None,
    on_page: Callable[[AnswersResult, int | None], None] | None = None,
) -> AnswersResult:
    """Read the report and join it to the job (see the module docstring)."""
    with ledger_for(app) as ledger:
        job = ledger.job(request.job_id)
        before = stored(job)
        given_report = request.report_id or before.get("report_id")
        if not given_report:
            raise UsageError(
                f"job {job.id} has no report yet: give --report REPORT_ID (the number ending the Reporting API "
                "URL on the survey's View Survey Visits page; the report must be saved)"
            )
        report_id = report_id_of(str(given_report))
        zone_name = request.report_timezone or before.get("report_timezone") or DEFAULTS.report_timezone
        try:
            zone_name = canonical_zone(zone_name)
        except ValueError as exc:
            raise UsageError(f"--report-timezone: {exc}") from None
        formats = request.report_date_formats
        formats = tuple(before.get("report_date_formats", ())) if formats is None else formats
        given_rules = request.opt_out_when
        rules_text = check_syntax(list(before.get("opt_out_when", [])) if given_rules is None else list(given_rules))
        opt_list = list_name(request.opt_out_list or before.get("opt_out_list") or DEFAULTS.opt_out_list)
        try:
            reader = VisitReader(region=str(job.mapping.get("region", "US")), timezone=zone_name, date_formats=formats)
        except ValueError as exc:
            raise UsageError(f"--report-date-format: {exc}") from None
        since = _moment(reader, request.since, "--since", int(job.created_at) - BEFORE)
        until = _moment(reader, request.until, "--until", int(time.time()) + AFTER)
        if until < since:
            raise UsageError("--until is before --since")
        result = AnswersResult(job.id, report_id, zone_name, since, until)
        started = time.monotonic()
        rules = _fetch(app, ledger, job, reader, request, result, rules_text, stop, on_page)
        read = time.monotonic()
        _join(ledger, job, result)
        log.info(
            "report %s: %d rows read in %d page(s) and kept in %.1f s; joined to job %d in %.1f s",
            report_id, result.read, result.pages, read - started, job.id, time.monotonic() - read,
        )  # fmt: skip
        if rules_text:
            result.opted_out = _opt_out(ledger, job, result, rules, opt_list)
        questions = list(dict.fromkeys([*before.get("questions", []), *result.questions]))
        result.questions = questions
        tally = AnswerTally()
        for answers, completed in ledger.joined_answers(job.id):
            tally.add(json.loads(answers))
            result.completed += is_completed(completed)
        ledger.set_job_option(
            job.id,
            OPTION,
            {
                "report_id": report_id,
                "report_timezone": zone_name,
                "report_date_formats": list(formats),
                "opt_out_when": rules_text,
                "opt_out_list": opt_list,
                "questions": questions,
                "fetched_at": time.time(),
                "counts": {
                    "visits": result.visits,
                    "joined": result.joined,
                    "completed": result.completed,
                    "ambiguous": result.ambiguous_total,
                    "not_this_job": result.not_this_job,
                },
                "tally": tally.top(questions[:CHARTED], PER_QUESTION),
            },
        )
    return result


def _moment(reader: VisitReader, text: str | None, option: str, default: int) -> int:
    if text is None or not text.strip():
        return default
    try:
        return int(reader.time(text))
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _fetch(
    app: Face,
    ledger: Ledger,
    job: Job,
    reader: VisitReader,
    request: AnswersRequest,
    result: AnswersResult,
    rules_text: list[str],
    stop: threading.Event | None,
    on_page: Callable[[AnswersResult, int | None], None] | None,
) -> list[OptOutRule]:
    """Every page read and its visits kept; the opt-out rules checked against the first page's
    questions (before anything is kept)."""
    client = insight_client(app)
    log.info("reading report %s for job %d from %s", result.report_id, job.id, target_of(app))
    rules: list[OptOutRule] = []
    other_types: Counter[str] = Counter()
    surveys: set[str] = set()
    try:
        pages = ReportPages(
            client,
            result.report_id,
            since=result.since,
            until=result.until,
            page_size=request.page_size,
            pacer=Pacer(request.rate),
            stop=stop,
        )
        for fetched in pages:
            page = fetched.page
            if result.pages == 0 and rules_text:
                rules = resolve_rules(rules_text, page.columns.questions)
            result.pages += 1
            result.read += page.lines
            result.questions = list(dict.fromkeys([*result.questions, *page.columns.questions]))
            result.unreadable_lines += page.unreadable
            for line, why in page.located:
                if len(result.located) < 20:
                    result.located.append((fetched.offset + line, why))
            kept = [reader.read(v) for v in page.visits]
            for k in kept:
                if k.kind == Kind.OTHER:
                    other_types[printable(k.visit_type, 40)] += 1
                if len(surveys) < 20:
                    surveys.add(k.survey_id)
            ledger.keep_visits(result.report_id, kept, fetched_at=time.time())
            if on_page is not None:
                on_page(result, fetched.total)
    finally:
        client.close()
    if not rules and rules_text:
        result.warnings.append("the report had no visits in that time: --opt-out-when could not be checked")
    if other_types:
        named = ", ".join(f"{t!r} ({n:,})" for t, n in other_types.most_common(5))
        result.warnings.append(
            f"visits of a type batchqueue does not know were set aside: {named}; only visits whose "
            "Visit Type names 'outbound' are joined to calls"
        )
    if len(surveys - {""}) > 1:
        result.warnings.append(
            f"the report holds visits of several surveys ({', '.join(sorted(surveys - {''})[:5])}); "
            "visits are joined by number and time, whatever their survey"
        )
    return rules


def _join(ledger: Ledger, job: Job, result: AnswersResult) -> None:
    """The report's known visits joined to the job's rows, the job's answers replaced whole."""
    known = ledger.visit_counts(result.report_id)
    account = JoinAccount(job.id, DEFAULTS.answer_slack)
    for group in ledger.number_groups(job, result.report_id):
        account.add(group)
    ledger.replace_answers(job.id, account.links())
    set_aside = Counter(account.set_aside)
    for kind in (Kind.WEB, Kind.INBOUND, Kind.OTHER, Kind.UNREADABLE):
        if known.get(kind.value):
            set_aside[kind.value if kind is not Kind.OTHER else "other_type"] += known[kind.value]
    set_aside["not_called"] += known.get(Kind.OUTBOUND.value, 0) - account.grouped
    result.visits = sum(known.values())
    result.joined = account.joined
    result.ambiguous = {k: v for k, v in account.ambiguous.items() if v}
    result.set_aside = {k: v for k, v in set_aside.items() if v}
    result.ambiguous_visits = account.listed
    result.unreadable_visits = [
        {"phone": phone or "", "visit_type": kind or "", "why": why or ""}
        for phone, kind, why in ledger.unreadable_visits(result.report_id, 20)
    ]
    outside = account.set_aside["before_call"] + account.set_aside["outside_window"]
    if outside and outside >= max(account.joined, 1):
        result.warnings.append(
            f"{outside:,} visits of numbers this job called fit no call's time (before it was queued, or outside "
            f"its window): if the report's times are not in {result.report_timezone}, say --report-timezone"
        )


def _opt_out(ledger: Ledger, job: Job, result: AnswersResult, rules: list[OptOutRule], name: str) -> OptedOut:
    """Every outbound visit of the report (joined or not: the person at that number said so) whose
    answer matches a rule puts its number on list ``name``, with where that was said."""
    done = OptedOut(name, [str(r) for r in rules])
    if rules:
        visits = ledger.outbound_answers(result.report_id)
        found = opt_out_listings(visits, rules, done, job_id=job.id, report_id=result.report_id, now=time.time())
        done.added, _ = ledger.add_to_dnc(found, source="survey answer")
    return done
