"""Looking after jobs from the command line: ``job edit`` (refused once anything was sent, unless
``--force`` with a confirmation; in the audit trail), ``job archive``/``unarchive``, ``job delete``
(the report first if asked; asks when calls may still ring; the contact history kept) and ``jobs
prune --older-than``. Real ledgers, real runs against the sandbox."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from batchqueue.sandbox import Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, point_at

Run = Callable[..., CliResult]
IMPORT = ("--survey", "4242", "--instance", "1")


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    found = Sandbox(SandboxConfig(surveys={"4242": "1", "4243": "1"}, completion=Completion(after=None))).start()
    point_at(monkeypatch, found)
    try:
        yield found
    finally:
        found.stop()


def _audit(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return [tuple(r) for r in conn.execute("SELECT user_name, action, detail FROM audit_events ORDER BY id")]


def test_edit_changes_the_survey_until_something_is_sent_then_needs_force(
    tmp_path: Path, run_cli: Run, sandbox: Sandbox
) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 6), *IMPORT).code == 0
    edited = run_cli("job", "edit", "1", "--survey", "4243")
    assert edited.code == 0, edited.err
    assert edited.out.strip() == "job 1: survey 4242 instance 1 → survey 4243 instance 1"
    assert run_cli("run", "1", "--limit", "2", "--rate", "0").code == 0
    assert {c["survey_id"] for c in sandbox.app.store.dump()} == {"4243"}  # sent where the edit said

    refused = run_cli("job", "edit", "1", "--survey", "4242")
    assert refused.code == 2
    assert refused.err.strip() == (
        "error: job 1 has sent requests to survey 4243 instance 1 already: the calls they queued stay there "
        "(and their outcomes still reach this job); only its rows not sent yet will go to the new survey. Add "
        "--force to change it anyway"
    )
    unconfirmed = run_cli("job", "edit", "1", "--survey", "4242", "--force")  # no terminal to ask: --yes
    assert unconfirmed.code == 2
    assert unconfirmed.err.strip().endswith("Add --yes to confirm.")
    forced = run_cli("job", "edit", "1", "--survey", "4242", "--force", "--yes", "--json")
    assert forced.code == 0
    assert forced.json() == {"job_id": 1, "before": ["4243", "1"], "after": ["4242", "1"], "forced": True}
    assert run_cli("run", "1", "--rate", "0").code == 0
    surveys = sorted(c["survey_id"] for c in sandbox.app.store.dump())
    assert surveys == ["4242"] * 4 + ["4243"] * 2
    user = _audit(tmp_path / "batchqueue.db")[-1][0]
    assert user.startswith("cli")
    assert [(a, d) for _, a, d in _audit(tmp_path / "batchqueue.db") if a == "edit"] == [
        ("edit", "survey/instance 4242/1 → 4243/1"),
        ("edit", "survey/instance 4243/1 → 4242/1 (forced: requests had been sent)"),
    ]


def test_an_archived_job_is_kept_out_of_the_lists_and_not_sent(tmp_path: Path, run_cli: Run, sandbox: Sandbox) -> None:
    assert run_cli("import", contacts(tmp_path / "a.csv", 3), *IMPORT).code == 0
    assert run_cli("import", contacts(tmp_path / "b.csv", 4, first=10), *IMPORT).code == 0
    assert run_cli("job", "archive", "1").code == 0
    listed = run_cli("status", "--json").json()["jobs"]
    assert [j["job_id"] for j in listed] == [2]
    kept = run_cli("status", "1", "--json").json()
    assert kept["counts"]["pending"] == 3  # kept whole
    assert kept["archived_at"] is not None
    assert "(`batchqueue job unarchive 1` brings it back)" in run_cli("status", "1").out
    refused = run_cli("run", "1")
    assert refused.code == 2
    assert refused.err.strip() == (
        "error: job 1 is archived; `batchqueue job unarchive 1` first if its rows are to be sent"
    )
    assert sandbox.app.store.dump() == []
    assert run_cli("job", "unarchive", "1").code == 0
    assert [j["job_id"] for j in run_cli("status", "--json").json()["jobs"]] == [1, 2]
    assert run_cli("run", "1", "--rate", "0").code == 0
    assert len(sandbox.app.store.dump()) == 3


def test_delete_asks_when_calls_may_still_ring_and_keeps_the_contact_history(
    tmp_path: Path, run_cli: Run, sandbox: Sandbox
) -> None:
    db = tmp_path / "batchqueue.db"
    assert run_cli("import", contacts(tmp_path / "c.csv", 5), *IMPORT).code == 0
    assert run_cli("run", "1", "--rate", "0").code == 0  # 5 calls queued, no outcome yet
    refused = run_cli("job", "delete", "1")
    assert refused.code == 2
    assert refused.err.strip() == (
        "error: job 1 has 5 call(s) queued in Insight without a final outcome: they may still ring, and their "
        "outcomes could no longer be recorded. Export its report first (batchqueue export 1 -o report.xlsx). "
        "Add --yes to confirm."
    )
    report = tmp_path / "kept.csv"
    done = run_cli("job", "delete", "1", "--export", report, "--yes", "--json")
    assert done.code == 0, done.err
    assert done.json() == {"job_id": 1, "deleted_rows": 5, "open_calls": 5}
    assert report.read_text(encoding="utf-8-sig").count("queued") == 5  # the report written first
    with sqlite3.connect(db) as conn:
        for table in ("rows", "attempts", "row_tallies", "workers"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table  # noqa: S608
        assert conn.execute("SELECT count(*) FROM contact_marks").fetchone() == (5,)  # the law's history kept
        # The job's own line stays, marked deleted: its id is never another job's.
        assert conn.execute("SELECT count(*) FROM jobs WHERE deleted_at IS NOT NULL").fetchone() == (1,)
    assert run_cli("status", "--json").json()["jobs"] == []
    gone = run_cli("status", "1")
    assert gone.code == 2
    assert gone.err.startswith("error: job 1 (c.csv) was deleted on ")
    assert [(a, d) for _, a, d in _audit(db)][-1] == ("delete", "c.csv: 5 row(s), 5 call(s) still open")
    # A new job of the same numbers with a re-contact limit still sees those calls.
    again = run_cli("import", contacts(tmp_path / "c.csv", 5), *IMPORT, "--recontact-after", "7d", "--json")
    assert (again.json()["job_id"], again.json()["created"], again.json()["suppressed"]) == (2, True, 5)


def test_prune_deletes_old_jobs_keeps_those_with_rows_to_send_and_says_so(
    tmp_path: Path, run_cli: Run, sandbox: Sandbox
) -> None:
    db = tmp_path / "batchqueue.db"
    for i, name in enumerate(("old-sent.csv", "old-pending.csv", "new.csv")):
        assert run_cli("import", contacts(tmp_path / name, 3, first=10 * i), *IMPORT).code == 0
    assert run_cli("run", "1", "--rate", "0").code == 0
    long_ago = time.time() - 40 * 86400
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET created_at = ? WHERE id IN (1, 2)", (long_ago,))
        conn.execute("UPDATE attempts SET started_at = ?", (long_ago,))
    listed = run_cli("jobs", "prune", "--older-than", "30d", "--dry-run")
    assert listed.code == 0
    assert listed.out.splitlines() == [
        "would delete job 1 (old-sent.csv, 3 rows)",
        "kept job 2: 3 row(s) still to send: delete it with `batchqueue job delete`",
    ]
    assert [j["job_id"] for j in run_cli("status", "--json").json()["jobs"]] == [1, 2, 3]  # nothing deleted
    assert run_cli("jobs", "prune", "--older-than", "30d").code == 2  # a script must say --yes
    pruned = run_cli("jobs", "prune", "--older-than", "30d", "--yes", "--json")
    assert pruned.json()["deleted"] == [{"job_id": 1, "file": "old-sent.csv", "rows": 3}]
    assert [j["job_id"] for j in run_cli("status", "--json").json()["jobs"]] == [2, 3]
    bad = run_cli("jobs", "prune", "--older-than", "soon")
    assert bad.code == 2
    assert "--older-than 'soon': expected a period such as 7d, 36h, 2w or 90m" in bad.err


def test_a_job_being_sent_is_not_edited_or_deleted(tmp_path: Path, run_cli: Run, sandbox: Sandbox) -> None:
    from batchqueue.sending.locks import RunLock

    assert run_cli("import", contacts(tmp_path / "c.csv", 3), *IMPORT).code == 0
    with RunLock(tmp_path / "batchqueue.db", 1):  # what a live `run` of the job holds
        for command in (
            ("job", "edit", "1", "--survey", "9"),
            ("job", "delete", "1", "--yes"),
            ("job", "archive", "1"),
        ):
            refused = run_cli(*command)
            assert refused.code == 2, command
            assert "job 1 is being sent right now: pause it (Ctrl-C), then" in refused.err
    assert os.path.exists(tmp_path / "batchqueue.db")
    assert run_cli("status", "1", "--json").json()["survey_id"] == "4242"


def test_delete_and_archive_on_every_backend(ledger_url: str, tmp_path: Path) -> None:
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.ledger import open_ledger
    from batchqueue.service import job_admin
    from batchqueue.service.loading import ImportRequest, import_file
    from batchqueue.settings import Settings

    settings = Settings(db_url=ledger_url)
    first = import_file(settings, ImportRequest(contacts(tmp_path / "a.csv", 4), MappingSpec(), "4242", "1"))
    job_admin.archive(settings, 1, user="test")
    ledger = open_ledger(ledger_url)
    try:
        assert ledger.job(1).archived_at is not None
        assert ledger.job_list()[0][1] is not None
    finally:
        ledger.close()
    done = job_admin.delete_job(settings, job_admin.DeleteRequest(1), user="test")
    assert (done.rows, done.open_calls) == (4, 0)
    second = import_file(settings, ImportRequest(contacts(tmp_path / "a.csv", 4), MappingSpec(), "4242", "1"))
    assert (first.job_id, second.job_id, second.created) == (1, 2, True)  # a deleted job's id is not reused
    ledger = open_ledger(ledger_url)
    try:
        assert ledger.job_list() == [(2, None)]
        assert ledger.counts(2)["pending"] == 4
        assert [e.action for e in ledger.audit_trail(1, 10)] == ["delete", "archive"]
    finally:
        ledger.close()


def test_a_deleted_job_is_not_named_as_holding_its_file(tmp_path: Path, run_cli: Run) -> None:
    """An import names the jobs of the same file and mapping with other rules; a deleted one holds
    nothing any more (its rows are gone), so it is not among them."""
    source = contacts(tmp_path / "c.csv", 4)
    assert run_cli("import", source, *IMPORT).code == 0
    other = run_cli("import", source, *IMPORT, "--calling-hours", "09:00-20:00", "--json").json()
    assert (other["job_id"], [j["job_id"] for j in other["other_rules"]]) == (2, [1])
    assert run_cli("job", "delete", "1", "--yes").code == 0
    third = run_cli("import", source, *IMPORT, "--calling-hours", "10:00-19:00")
    assert third.code == 0, third.err
    named = [line for line in third.out.splitlines() if "holds this file" in line]
    assert [line.split(" holds")[0] for line in named] == ["job 2"]
