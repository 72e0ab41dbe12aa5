"""The console's pages: jobs, upload → check → import, a job (with its actions and downloads), and
do-not-call lists. Each view parses the form, calls the service layer, and renders the result."""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for

from batchqueue.console import charts
from batchqueue.console.app import context, public_message
from batchqueue.console.forms import rules_from, run_options, save_upload, spec_from, uploaded, whole_number
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import BatchqueueError
from batchqueue.service import audit, checks, dnc, job_admin, job_page, loading, rows
from batchqueue.service.app import no_target_message
from batchqueue.service.context import target_of
from batchqueue.service.job_page import FAILURE_SAMPLE, FINAL, PROBLEM_STATES
from batchqueue.service.loading import Guess
from batchqueue.service.mapping import FIELD_WORDS, FIELDS, NO_COLUMN
from batchqueue.service.operations import Operator
from batchqueue.service.values import parse_period

blueprint = Blueprint("pages", __name__)

REPORT_FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
REPORT_FORMATS["json"] = "application/json"
#: Questions whose answers the job page charts.
CHARTED_QUESTIONS = 4


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else ""


def _num(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else ""


def _local(stamp: float | None, zone_name: str | None) -> str:
    """A unix time as a clock in ``zone_name`` (``2026-12-16 17:00 EST``); the console's own clock without one."""
    if stamp is None:
        return ""
    if not zone_name:
        return _when(stamp)
    from batchqueue.service.zones import zone

    try:
        return dt.datetime.fromtimestamp(stamp, zone(zone_name)).strftime("%Y-%m-%d %H:%M %Z")
    except ValueError:
        return _when(stamp)


FILTERS = {"when": _when, "num": _num, "local": _local}


def operator() -> Operator:
    ctx = context()
    return Operator(ctx.app, ctx.supervisor, g.user)


@blueprint.route("/")
def home() -> Any:
    return redirect(url_for("pages.jobs"))


def jobs_listed() -> job_page.JobsPage:
    """The jobs page asked for (``show``: a filter, ``page``: from 0)."""
    page = whole_number(request.args.get("page") or "0", "page", high=MAX_PAGE)
    return job_page.jobs_page(context().ledger, request.args.get("show") or "current", page)


@blueprint.route("/jobs")
def jobs() -> Any:
    return render_template(
        "jobs.html", user=g.user, listed=jobs_listed(), filters=job_page.JOB_FILTERS, progress=charts.progress
    )


@blueprint.route("/upload", methods=["GET", "POST"])
def upload() -> Any:
    if request.method == "POST":
        try:
            upload_id, path = save_upload(request.files.get("file"), context().upload_dir)
        except BatchqueueError as exc:
            flash(str(exc), "error")
            return redirect(url_for("pages.upload"))
        audit.record(context().ledger, g.user, "upload", None, path.name)
        return redirect(url_for("pages.check", upload_id=upload_id))
    return render_template("upload.html", user=g.user, max_mb=context().max_upload // (1024 * 1024))


def _chosen_key(upload_id: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What names one check: the upload and every mapping field the page chose."""
    return upload_id, tuple(sorted((k, v) for k, v in request.args.items(multi=True) if k != "check"))


def _undo_url(guess: Guess) -> str:
    """This check page's URL with ``guess`` undone: the one click (its field set to "none")."""
    key = f"column_{guess.field}" if guess.field in FIELDS else f"{guess.field}_column"
    query = [(k, v) for k, v in request.args.items(multi=True) if k != key] + [(key, NO_COLUMN)]
    return f"{request.path}?{urlencode(query)}"


@blueprint.route("/uploads/<upload_id>/check")
def check(upload_id: str) -> Any:
    ctx = context()
    path = uploaded(ctx.upload_dir, upload_id)
    spec = spec_from(request.args)
    if path.stat().st_size >= ctx.check_in_background_from:
        run = ctx.checks.start(_chosen_key(upload_id), path, spec)
    else:
        run = checks.run_check(checks.CheckRun("", path, spec))
    shown = run.preview
    if run.finished and shown is None:
        shown = loading.preview(path, spec)  # the check stopped: the page still shows the file and its mapping
    result = run.result
    mapping = result.mapping if result is not None else None
    guesses = mapping.guesses if mapping is not None else ()
    return render_template(
        "check.html",
        user=g.user,
        upload_id=upload_id,
        name=path.name,
        run=run,
        result=result,
        error=public_message(run.error, ctx.folders()) if run.error else None,
        preview=shown,
        mapping=mapping,
        chosen=request.args,
        fields=[(f, FIELD_WORDS[f]) for f in FIELDS],
        guessed={g.field: g.column for g in guesses},
        undo={g.field: _undo_url(g) for g in guesses},
    )


@blueprint.route("/uploads/<upload_id>/import", methods=["POST"])
def import_upload(upload_id: str) -> Any:
    path = uploaded(context().upload_dir, upload_id)
    spec = spec_from(request.form)
    survey, instance = request.form.get("survey", "").strip(), request.form.get("instance", "").strip()
    if not survey or not instance:
        flash("Give the survey and instance ids (the survey's Outbound API Values).", "error")
        return redirect(url_for("pages.check", upload_id=upload_id))
    result = operator().import_file(path, path.name, spec, survey, instance, rules=rules_from(request.form))
    if result.created:
        flash(f"Imported {result.rows:,} rows as job {result.job_id}: {result.valid:,} ready to send.", "ok")
    else:
        flash(f"Job {result.job_id} already holds this file with this mapping and rules; nothing was imported.", "ok")
    if result.suppressed:
        said = loading.suppressed_text(result)
        flash(said[0].upper() + said[1:] + ".", "warn")
    for note in loading.import_notes(result, loading.job_attempts(spec)):
        flash(note[0].upper() + note[1:], "warn" if "suppressed" in note or "other rules" in note else "ok")
    for o in result.overlaps:
        flash(
            f"Job {result.job_id} overlaps job {o.job_id} (the same file): {o.numbers:,} number(s) in both, "
            f"{o.suppressed:,} suppressed here because job {o.job_id} called them. Neither job calls a number "
            "the other called.",
            "warn",
        )
    return redirect(url_for("pages.job", job_id=result.job_id))


#: The last page of problem rows one may ask for (50 rows a page: 50 million rows).
MAX_PAGE = 1_000_000


def problem_filter() -> job_page.ProblemFilter:
    state = request.args.get("state") or None
    page = request.args.get("page") or "0"
    return job_page.ProblemFilter(
        state if state in PROBLEM_STATES else None,
        (request.args.get("contains") or "").strip()[:200] or None,
        whole_number(page, "page", high=MAX_PAGE),
    )


@blueprint.route("/jobs/<int:job_id>")
def job(job_id: int) -> Any:
    ctx = context()
    view = job_page.job_view(ctx.ledger, job_id, ctx.held, problem_filter())
    run = ctx.supervisor.run_of(job_id)
    minute_bars = charts.columns(view.per_minute, width=340, height=105)
    return render_template(
        "job.html",
        user=g.user,
        view=view,
        run=run,
        target=target_of(ctx.settings, view.job) if ctx.settings.base_url else None,
        no_target=no_target_message(),
        test_rows=DEFAULTS.console_test_send_rows,
        never_sent={s: view.counts.get(s, 0) for s in job_page.NEVER_SENT if view.counts.get(s, 0)},
        progress=charts.progress(view.progress),
        outcome_bars=charts.horizontal(sorted(view.outcomes.items(), key=lambda kv: -kv[1]), width=200),
        minute_bars=minute_bars,
        minute_ticks=charts.ticks(minute_bars),
        reason_bars=charts.horizontal(view.failure_reasons, width=200),
        answer_charts=charts.answers(view.answers.get("tally") or {}, CHARTED_QUESTIONS),
        problem_states=PROBLEM_STATES,
        failure_sample=FAILURE_SAMPLE,
        final_outcomes=sorted(FINAL),
        recycle_token=secrets.token_urlsafe(24),  # one per form shown: sent twice, it makes one wave
        formats=list(REPORT_FORMATS),
    )


def _back(job_id: int) -> Any:
    return redirect(url_for("pages.job", job_id=job_id))


@blueprint.route("/jobs/<int:job_id>/start", methods=["POST"])
def start(job_id: int) -> Any:
    options = run_options(request.form, job_id, context().public_url)
    operator().start(job_id, options)
    if options.limit:
        flash(
            f"Test send of job {job_id}: at most {options.limit:,} row(s), then it stops; the rest stay pending.", "ok"
        )
    else:
        flash(f"Sending job {job_id}; this page follows it live (closing the browser does not stop it).", "ok")
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/dry-run")
def dry_run(job_id: int) -> Any:
    ctx = context()
    rows_asked = whole_number(request.args.get("rows") or str(DEFAULTS.console_test_send_rows), "rows", low=1, high=100)
    found = operator().dry_run(job_id, rows_asked, ctx.public_url)
    return render_template(
        "dry_run.html",
        user=g.user,
        job=ctx.ledger.job(job_id),
        found=found,
        asked=rows_asked,
        target=target_of(ctx.settings, ctx.ledger.job(job_id)) if ctx.settings.base_url else None,
        no_target=no_target_message(),
    )


@blueprint.route("/jobs/<int:job_id>/edit", methods=["POST"])
def edit(job_id: int) -> Any:
    form = request.form
    done = operator().edit(
        job_id, form.get("survey", "").strip(), form.get("instance", "").strip(), force=bool(form.get("force"))
    )
    flash(
        f"Job {job_id} now sends to survey {done.after[0]} instance {done.after[1]} "
        f"(was {done.before[0]} / {done.before[1]}).",
        "ok",
    )
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/archive", methods=["POST"])
def archive(job_id: int) -> Any:
    undo = bool(request.form.get("undo"))
    operator().archive(job_id, undo=undo)
    flash(
        f"Job {job_id} is no longer archived." if undo else f"Job {job_id} archived: kept whole, out of the list.", "ok"
    )
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/delete", methods=["GET", "POST"])
def delete(job_id: int) -> Any:
    ctx = context()
    if request.method == "GET":
        question = job_admin.delete_question(ctx.app, job_id)
        return render_template(
            "delete.html", user=g.user, job=ctx.ledger.job(job_id), question=question, formats=list(REPORT_FORMATS)
        )
    done = operator().delete(job_id, confirmed=bool(request.form.get("confirm")))
    flash(f"Job {job_id} ({done.source_name}, {done.rows:,} rows) deleted; its numbers' contact history is kept.", "ok")
    return redirect(url_for("pages.jobs"))


@blueprint.route("/jobs/<int:job_id>/pause", methods=["POST"])
def pause(job_id: int) -> Any:
    operator().pause(job_id)
    flash("Pausing: the requests in flight are finished and recorded first. Resume sends the rest.", "ok")
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/cancel", methods=["GET", "POST"])
def cancel(job_id: int) -> Any:
    if request.method == "GET":
        question = rows.cancel_question(context().app, job_id)
        return render_template("confirm.html", user=g.user, job_id=job_id, question=question)
    result = operator().cancel(job_id)
    flash(f"Canceled {result.canceled:,} pending row(s); they will not be sent (Uncancel puts them back).", "ok")
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/uncancel", methods=["POST"])
def uncancel(job_id: int) -> Any:
    flash(f"{operator().uncancel(job_id).changed:,} canceled row(s) are pending again.", "ok")
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/retry", methods=["POST"])
def retry(job_id: int) -> Any:
    flash(f"{operator().retry(job_id).changed:,} failed row(s) are pending again; start a run to send them.", "ok")
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/reconcile", methods=["POST"])
def reconcile(job_id: int) -> Any:
    found = operator().reconcile(job_id)
    flash(
        f"{len(found.unproven):,} uncertain row(s) have had no callback past their calling window; "
        "they were left as they are (the command line's reconcile --resend-unproven resends them).",
        "ok",
    )
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/answers", methods=["POST"])
def fetch_answers(job_id: int) -> Any:
    found = operator().fetch_answers(job_id, request.form.get("report", "").strip() or None)
    flash(
        f"Report {found.report_id}: {found.joined:,} row(s) now have answers ({found.completed:,} completed); "
        f"{found.ambiguous_total:,} ambiguous visit(s) were not joined; {found.not_this_job:,} visit(s) were "
        "not this job's (web, inbound, other numbers or calls). The downloads carry the answers.",
        "ok",
    )
    for warning in found.warnings:
        flash(warning, "warn")
    return _back(job_id)


@blueprint.route("/jobs/<int:job_id>/recycle", methods=["POST"])
def recycle(job_id: int) -> Any:
    outcomes = frozenset(request.form.getlist("outcome"))
    after = request.form.get("after", "").strip()
    made = operator().recycle(
        job_id,
        outcomes,
        parse_period(after, "after") if after else None,
        submit_token=request.form.get("submit_token") or None,
    )
    if made.job_id is None:
        if made.taken:
            waves = ", ".join(f"job {wave}: {n:,}" for wave, n in made.taken.items())
            flash(f"Every row whose call ended that way is already in a wave ({waves}); no wave was made.", "ok")
        else:
            flash("No row's call ended that way; no wave was made.", "ok")
        return _back(job_id)
    if made.replayed:
        flash(f"This form was sent already: wave {made.wave} is job {made.job_id}; no second wave was made.", "ok")
    else:
        flash(f"Wave {made.wave} is job {made.job_id} with {made.rows:,} row(s).", "ok")
    return _back(made.job_id)


def _download(job_id: int, fmt: str, *, as_input: bool) -> Any:
    if fmt not in REPORT_FORMATS:
        abort(404)
    folder = Path(tempfile.mkdtemp(prefix="batchqueue-export-"))
    name = f"job-{job_id}-{'fix' if as_input else 'report'}.{fmt}"
    try:
        operator().export(job_id, folder / name, fmt, as_input=as_input)
        response = send_file(folder / name, mimetype=REPORT_FORMATS[fmt], as_attachment=True, download_name=name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    return response


@blueprint.route("/jobs/<int:job_id>/report.<fmt>")
def report(job_id: int, fmt: str) -> Any:
    return _download(job_id, fmt, as_input=False)


@blueprint.route("/jobs/<int:job_id>/fix.csv")
def fix_file(job_id: int) -> Any:
    return _download(job_id, "csv", as_input=True)


@blueprint.route("/dnc", methods=["GET", "POST"])
def dnc_lists() -> Any:
    ctx = context()
    if request.method == "POST":
        name = request.form.get("list", "").strip() or "default"
        numbers = [n for n in request.form.get("numbers", "").replace(",", "\n").splitlines() if n.strip()]
        changed = operator().add_to_dnc(name, numbers)
        flash(f"{changed.added:,} number(s) added to {name} ({changed.already:,} were on it already).", "ok")
        return redirect(url_for("pages.dnc_lists"))
    return render_template("dnc.html", user=g.user, lists=dnc.lists(ctx.app))
