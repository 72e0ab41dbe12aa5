"""The console's JSON API: every action the pages can do, for scripts (described in
``/api/openapi.json``). Log in with ``POST /api/login``; send the returned ``csrf_token`` back as the
``X-CSRFToken`` header of every POST, with the session cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, g, request

from batchqueue.console import pages
from batchqueue.console.app import context, public_message
from batchqueue.console.forms import (
    RULE_FIELDS,
    RULES_KEY,
    RUN_KEYS,
    SPEC_KEYS,
    check_keys,
    rules_from,
    run_options,
    save_upload,
    spec_from,
    uploaded,
    whole_number,
)
from batchqueue.console.openapi import document
from batchqueue.console.pages import operator, problem_filter
from batchqueue.errors import UsageError
from batchqueue.service import audit, dnc, job_page, loading
from batchqueue.service.loading import LoadResult
from batchqueue.service.supervised import SupervisedRun
from batchqueue.service.values import parse_period

blueprint = Blueprint("api", __name__, url_prefix="/api")


#: The keys an import's body may hold: the survey, the mapping, the rules (by field, or as ``rules``).
IMPORT_KEYS = frozenset({"survey", "instance", *SPEC_KEYS, *RULE_FIELDS, RULES_KEY})


def _body(*known: str | frozenset[str]) -> dict[str, Any]:
    """The request's JSON object; a key none of ``known`` names is refused (a 400 naming it), never
    silently ignored: a misspelt rule would otherwise import, or run, with the defaults."""
    body = request.get_json(silent=True)
    if body is None and request.content_length:
        raise UsageError("send a JSON object (Content-Type: application/json)")
    if body is not None and not isinstance(body, dict):
        raise UsageError("send a JSON object")
    body = body or {}
    check_keys(body, {key for given in known for key in ([given] if isinstance(given, str) else given)})
    return body


def _activity(activity: job_page.Activity) -> dict[str, Any]:
    return {
        "running": activity.running,
        "rate": round(activity.rate, 2),
        "throttled_by": activity.slowed_by,
        "workers": [
            {"host": w.host, "pid": w.pid, "started_at": w.started_at, "heartbeat_at": w.heartbeat_at, "sent": w.sent}
            for w in activity.workers
        ],
        "stale_workers": len(activity.stale),
    }


def _run(run: SupervisedRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "started_by": run.user,
        "started_at": run.started_at,
        "running": run.running,
        "exit_code": run.exit_code,
        "message": run.message(),
    }


def _summary(s: job_page.JobSummary) -> dict[str, Any]:
    job = s.job
    return {
        "job_id": job.id,
        "file": job.source_name,
        "survey_id": job.survey_id,
        "instance_id": job.instance_id,
        "created_at": job.created_at,
        "rows": s.rows,
        "settled": s.settled,
        "counts": s.counts,
        "outcomes": s.outcomes,
        "activity": _activity(s.activity),
        "held": s.held,
        "progress": [{"segment": p.label, "rows": p.rows} for p in s.progress],
        "archived_at": job.archived_at,
    }


def _shown(result: LoadResult, path: Path) -> dict[str, Any]:
    """A check's or an import's result, naming the upload by its own name (never where it is kept)."""
    folders = context().folders()
    return result.as_dict() | {"file": path.name, "warnings": [public_message(w, folders) for w in result.warnings]}


@blueprint.route("/openapi.json")
def openapi() -> Any:
    return document()


@blueprint.route("/jobs")
def jobs() -> Any:
    listed = pages.jobs_listed()
    return {
        "jobs": [_summary(s) for s in listed.jobs],
        "show": listed.show,
        "page": listed.page,
        "pages": listed.pages,
        "total": listed.total,
        "sizes": listed.sizes,
    }


@blueprint.route("/jobs/<int:job_id>")
def job(job_id: int) -> Any:
    ctx = context()
    if request.args.get("summary"):  # the job page's live updates: counts and activity only
        found = job_page.summary(ctx.ledger, job_id, ctx.held)
        return _summary(found) | {"run": _run(ctx.supervisor.run_of(job_id))}
    view = job_page.job_view(ctx.ledger, job_id, ctx.held, problem_filter(), audit_rows=10)
    return _summary(view) | {
        "next_window_at": view.next_window_at,
        "holds": view.holds.as_json(),
        "holds_said": view.holds.describe(),
        "calling_rules": view.calling_rules,
        "rules": view.rules,
        "sent_per_minute": [{"minute": m, "sent": n} for m, n in view.per_minute],
        "failure_reasons": [{"reason": r, "rows": n} for r, n in view.failure_reasons],
        "problems": [
            {"row": p.row_number, "state": p.state, "phone": p.phone, "reason": p.reason, "http_status": p.http_status}
            for p in view.problems
        ],
        "audit": [{"at": e.at, "user": e.user, "action": e.action, "detail": e.detail} for e in view.audit],
        "run": _run(ctx.supervisor.run_of(job_id)),
        "answers": view.answers,
    }


@blueprint.route("/uploads", methods=["POST"])
def upload() -> Any:
    upload_id, path = save_upload(request.files.get("file"), context().upload_dir)
    audit.record(context().ledger, g.user, "upload", None, path.name)
    return {"upload_id": upload_id, "file": path.name}, 201


@blueprint.route("/uploads/<upload_id>/check", methods=["POST"])
def check(upload_id: str) -> Any:
    path = uploaded(context().upload_dir, upload_id)
    result = loading.check(loading.CheckRequest(path, spec_from(_body(SPEC_KEYS)), max_problems=50))
    return _shown(result, path)


@blueprint.route("/checks/<check_id>")
def check_progress(check_id: str) -> Any:
    """A background check's progress (what the check page polls while a large file is read)."""
    run = context().checks.get(check_id[:64])
    return {"finished": run.finished, "fraction": round(run.fraction, 4), "failed": run.error is not None}


@blueprint.route("/uploads/<upload_id>/import", methods=["POST"])
def import_upload(upload_id: str) -> Any:
    path = uploaded(context().upload_dir, upload_id)
    body = _body(IMPORT_KEYS)
    survey, instance = str(body.get("survey", "")).strip(), str(body.get("instance", "")).strip()
    if not survey or not instance:
        raise UsageError("give survey and instance (the survey's Outbound API Values)")
    result = operator().import_file(path, path.name, spec_from(body), survey, instance, rules=rules_from(body))
    return _shown(result, path), 201 if result.created else 200


@blueprint.route("/jobs/<int:job_id>/start", methods=["POST"])
def start(job_id: int) -> Any:
    return _run(operator().start(job_id, run_options(_body(RUN_KEYS), job_id, context().public_url))), 202


@blueprint.route("/jobs/<int:job_id>/dry-run")
def dry_run(job_id: int) -> Any:
    rows = whole_number(request.args.get("rows") or "10", "rows", low=1, high=100)
    found = operator().dry_run(job_id, rows, context().public_url)
    return found.as_json()


@blueprint.route("/jobs/<int:job_id>/edit", methods=["POST"])
def edit(job_id: int) -> Any:
    body = _body("survey", "instance", "force")
    done = operator().edit(
        job_id, str(body.get("survey") or ""), str(body.get("instance") or ""), force=body.get("force") is True
    )
    return {"job_id": job_id, "before": list(done.before), "after": list(done.after), "forced": done.sent_before}


@blueprint.route("/jobs/<int:job_id>/archive", methods=["POST"])
def archive(job_id: int) -> Any:
    undo = _body("undo").get("undo") is True
    operator().archive(job_id, undo=undo)
    return {"job_id": job_id, "archived": not undo}


@blueprint.route("/jobs/<int:job_id>/delete", methods=["POST"])
def delete(job_id: int) -> Any:
    done = operator().delete(job_id, confirmed=_body("confirm").get("confirm") is True)
    return {"job_id": job_id, "deleted_rows": done.rows, "open_calls": done.open_calls}


@blueprint.route("/jobs/<int:job_id>/pause", methods=["POST"])
def pause(job_id: int) -> Any:
    _body()
    return _run(operator().pause(job_id)), 202


@blueprint.route("/jobs/<int:job_id>/cancel", methods=["POST"])
def cancel(job_id: int) -> Any:
    if _body("confirm").get("confirm") is not True:
        raise UsageError('canceling stops every pending row of the job: send {"confirm": true} to do it')
    result = operator().cancel(job_id)
    return {"job_id": job_id, "canceled": result.canceled, "counts": result.counts}


@blueprint.route("/jobs/<int:job_id>/uncancel", methods=["POST"])
def uncancel(job_id: int) -> Any:
    _body()
    result = operator().uncancel(job_id)
    return {"job_id": job_id, "changed": result.changed, "counts": result.counts}


@blueprint.route("/jobs/<int:job_id>/retry", methods=["POST"])
def retry(job_id: int) -> Any:
    _body()
    result = operator().retry(job_id)
    return {"job_id": job_id, "changed": result.changed, "counts": result.counts}


@blueprint.route("/jobs/<int:job_id>/reconcile", methods=["POST"])
def reconcile(job_id: int) -> Any:
    _body()
    result = operator().reconcile(job_id)
    return {
        "job_id": job_id,
        "unproven": [{"row": u.row_number, "why": u.why} for u in result.unproven],
        "counts": result.counts,
    }


@blueprint.route("/jobs/<int:job_id>/recycle", methods=["POST"])
def recycle(job_id: int) -> Any:
    body = _body("outcomes", "after", "submit_token")
    outcomes = body.get("outcomes") or []
    if not isinstance(outcomes, list):
        raise UsageError('outcomes: a list, such as ["failed", "rejected"]')
    after = str(body.get("after") or "")
    token = body.get("submit_token")
    made = operator().recycle(
        job_id,
        frozenset(str(o) for o in outcomes),
        parse_period(after, "after") if after else None,
        submit_token=str(token) if token else None,
    )
    return {
        "parent_id": made.parent_id,
        "job_id": made.job_id,
        "created": made.created,
        "replayed": made.replayed,
        "wave": made.wave,
        "rows": made.rows,
        "already_in_waves": [{"job_id": wave, "rows": n} for wave, n in made.taken.items()],
    }


@blueprint.route("/jobs/<int:job_id>/answers", methods=["POST"])
def fetch_answers(job_id: int) -> Any:
    report = _body("report").get("report")
    return operator().fetch_answers(job_id, str(report) if report not in (None, "") else None).as_dict()


# Downloads: the pages' own views, under /api/ too (a script gets 401, not the login page).
blueprint.add_url_rule("/jobs/<int:job_id>/report.<fmt>", "report", pages.report)
blueprint.add_url_rule("/jobs/<int:job_id>/fix.csv", "fix_file", pages.fix_file)


@blueprint.route("/dnc", methods=["GET", "POST"])
def dnc_lists() -> Any:
    ctx = context()
    if request.method == "POST":
        body = _body("list", "numbers")
        name, numbers = str(body.get("list") or "default"), body.get("numbers") or []
        if not isinstance(numbers, list):
            raise UsageError("numbers: a list of phone numbers")
        changed = operator().add_to_dnc(name, [str(n) for n in numbers])
        return {"list": name, "added": changed.added, "already": changed.already}
    return {"lists": [{"list": n, "numbers": c, "last_added_at": at} for n, c, at in dnc.lists(ctx.app)]}
