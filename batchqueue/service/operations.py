"""The console's actions on a job, each one the command line's service function plus an audit entry.

The console's pages and its JSON API both call these, so a script through the API and a person
clicking get the same checks, the same results and the same audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from batchqueue.errors import UsageError
from batchqueue.intake.importer import LoadResult
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Ledger
from batchqueue.reports.export import ExportResult
from batchqueue.service import answers, audit, dnc, job_admin, loading, outcomes, reports, rows, sending, waves
from batchqueue.service.app import Batchqueue
from batchqueue.service.supervised import SupervisedRun, Supervisor
from batchqueue.settings import Settings, check_target


@dataclass(frozen=True)
class Operator:
    """Who acts, and with what: the console's application (its one ledger) and its supervisor."""

    app: Batchqueue
    supervisor: Supervisor
    user: str

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def ledger(self) -> Ledger:
        return self.app.ledger

    def _audit(self, action: str, job_id: int | None, detail: str) -> None:
        audit.record(self.ledger, self.user, action, job_id, detail)

    def import_file(
        self,
        file: Path,
        shown_name: str,
        spec: MappingSpec,
        survey_id: str,
        instance_id: str,
        *,
        rules: Mapping[str, str] | None = None,
    ) -> LoadResult:
        """``rules``: named rules the form gave (name → value, checked), the defaults for the others."""
        request = loading.ImportRequest.with_rules(file, spec, survey_id, instance_id, rules or {})
        result = loading.import_file(self.app, request)
        if result.created:
            self._audit(
                "import",
                result.job_id,
                f"{shown_name}: {result.rows:,} rows ({result.valid:,} valid, {result.invalid:,} invalid) "
                f"for survey {survey_id} instance {instance_id}",
            )
        return result

    def start(self, job_id: int, options: sending.RunRequest) -> SupervisedRun:
        job = self.ledger.job(job_id)
        check_target(self.settings)
        if job.archived_at is not None:
            raise UsageError(f"job {job_id} is archived: unarchive it first if its rows are to be sent")
        run = self.supervisor.start(job_id, self.user, options)
        what = f"test send of {options.limit:,} row(s)" if options.limit else "run started"
        self._audit("start", job_id, f"{what} (concurrency {options.concurrency}) to {self.app.target_of(job)}")
        return run

    def dry_run(self, job_id: int, rows: int, public_url: str | None) -> sending.Preview:
        """The exact requests of the next ``rows`` rows, from a claim that is rolled back (nothing
        is sent, nothing changes; not audited)."""
        return sending.preview(self.app, sending.RunRequest(job_id, public_url=public_url), rows)

    def edit(self, job_id: int, survey_id: str, instance_id: str, *, force: bool) -> job_admin.EditResult:
        return job_admin.edit_target(
            self.app, job_admin.EditRequest(job_id, survey_id or None, instance_id or None, force), user=self.user
        )

    def archive(self, job_id: int, *, undo: bool = False) -> None:
        job_admin.archive(self.app, job_id, user=self.user, undo=undo)

    def delete(self, job_id: int, *, confirmed: bool) -> job_admin.Deleted:
        run = self.supervisor.run_of(job_id)
        if run is not None and run.running:
            raise UsageError(f"job {job_id} is being sent from this console: pause it first")
        return job_admin.delete_job(self.app, job_admin.DeleteRequest(job_id, confirmed), user=self.user)

    def pause(self, job_id: int) -> SupervisedRun:
        run = self.supervisor.pause(job_id)
        self._audit("pause", job_id, "run asked to stop after the requests in flight")
        return run

    def cancel(self, job_id: int) -> rows.CancelResult:
        result = rows.cancel(self.app, rows.CancelRequest(job_id))
        self._audit("cancel", job_id, f"{result.canceled:,} pending row(s) canceled")
        return result

    def uncancel(self, job_id: int) -> rows.RowsChanged:
        result = rows.uncancel(self.app, job_id)
        self._audit("uncancel", job_id, f"{result.changed:,} canceled row(s) back to pending")
        return result

    def retry(self, job_id: int) -> rows.RowsChanged:
        result = rows.retry(self.app, rows.RetryRequest(job_id))
        self._audit("retry", job_id, f"{result.changed:,} failed row(s) back to pending")
        return result

    def reconcile(self, job_id: int) -> outcomes.ReconcileResult:
        result = outcomes.reconcile(self.app, outcomes.ReconcileRequest(job_id))
        self._audit("reconcile", job_id, f"{len(result.unproven):,} uncertain row(s) not proven queued")
        return result

    def recycle(
        self, job_id: int, outcome_names: frozenset[str], after: int | None, *, submit_token: str | None = None
    ) -> waves.RecycleResult:
        result = waves.recycle(self.app, waves.RecycleRequest(job_id, outcome_names, after, submit_token))
        if result.replayed:
            made = f"the form was sent again: wave {result.wave} is job {result.job_id}, no second wave"
        elif result.job_id:
            made = f"wave {result.wave} as job {result.job_id}"
        else:
            made = "no wave (no row left with those outcomes)"
        self._audit("recycle", job_id, f"{', '.join(sorted(outcome_names))}: {made}, {result.rows:,} row(s)")
        return result

    def fetch_answers(self, job_id: int, report_id: str | None) -> answers.AnswersResult:
        """The survey report (``report_id``, else the one stored on the job) joined to the job's calls."""
        result = answers.fetch_answers(self.app, answers.AnswersRequest(job_id, report_id=report_id or None))
        self._audit(
            "answers",
            job_id,
            f"report {result.report_id}: {result.joined:,} row(s) with answers, {result.ambiguous_total:,} "
            f"ambiguous, {result.not_this_job:,} visit(s) not this job's",
        )
        return result

    def add_to_dnc(self, list_name: str, numbers: list[str]) -> dnc.DncChange:
        """The numbers that can be read put on the list; UsageError naming those that cannot (the
        others are added all the same: the message says so)."""
        changed = dnc.add(self.app, list_name, numbers)
        self._audit("dnc add", None, f"{changed.added:,} number(s) on list {list_name}")
        if changed.not_added:
            raise UsageError(
                f"{changed.added:,} number(s) added to list {list_name} ({changed.already:,} were on it already); "
                f"not added, not a phone number: {dnc.described(changed.not_added)}"
            )
        return changed

    def export(self, job_id: int, output: Path, fmt: str, *, as_input: bool = False) -> ExportResult:
        result = reports.export(self.app, reports.ExportRequest(job_id, output, fmt=fmt, as_input=as_input))
        what = "fix-and-reimport file" if as_input else f"{fmt} report"
        self._audit("export", job_id, f"{what}, {result.rows:,} row(s)")
        return result
