"""Re-contact limits across jobs (``import --recontact-after``): a number another job of the
ledger claimed within the period is suppressed — at import, and again inside each claim, so two
jobs sent at once (several PostgreSQL workers) never both call it."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows, ledger_rows_url, point_at

Run = Callable[..., CliResult]
WEEK = 7 * 86400


def test_last_weeks_list_imported_again_is_suppressed_row_by_row(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    first = contacts(tmp_path / "monday.csv", 6)
    assert run_cli("import", first, "--survey", "4242", "--instance", "1", "--db", db).code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--db", db).code == 0
    # The same six people and two new ones, in another file (an export, edited): rows 2-7 are
    # the numbers called in job 1, rows 8-9 are new.
    again = contacts(tmp_path / "friday.csv", 8)
    done = run_cli(
        "import", again, "--survey", "4242", "--instance", "1", "--db", db, "--recontact-after", "7d", "--json"
    )
    assert done.code == 0, done.err
    assert (done.json()["valid"], done.json()["suppressed"]) == (2, 6)
    rows = {r["row_number"]: r for r in ledger_rows(db, job_id=2)}
    reasons = json.loads(rows[4]["reasons"])
    assert reasons[0][0] == "phone"
    assert reasons[0][1].startswith("recontact: contacted by job 1 (row 4) on ")
    assert reasons[0][1].endswith("within 1w")
    assert [rows[n]["state"] for n in (8, 9)] == ["pending", "pending"]
    assert run_cli("status", "2", "--db", db, "--json").json()["suppressed_by"] == {"recontact: contacted by job 1": 6}
    # Without the option, the rule is off for that job (the operator's choice).
    plain = run_cli("import", again, "--survey", "4242", "--instance", "1", "--db", db, "--new-job", "--json")
    assert plain.json()["suppressed"] == 0
    bad = run_cli("import", again, "--survey", "4242", "--instance", "1", "--db", db, "--recontact-after", "soon")
    assert bad.code == 2
    assert "--recontact-after 'soon'" in bad.err


def test_the_limit_is_checked_again_in_each_claim_on_both_backends(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        one = import_file_to(ledger, contacts(tmp_path / "a.csv", 4), recontact_after=None)
        two = import_file_to(ledger, contacts(tmp_path / "b.csv", 6), recontact_after=WEEK)
        three = import_file_to(ledger, contacts(tmp_path / "c.csv", 6), recontact_after=None)
        # Imported before anyone was called: all pending. Job 1 claims its four numbers first.
        assert [c.row_number for c in ledger.settle(one, [], [], 10).claimed] == [2, 3, 4, 5]
        second = ledger.settle(two, [], [], 10)
        assert [c.row_number for c in second.claimed] == [6, 7]
        assert second.suppressed == 4
        # A job without the limit still calls them: the rule is the job's.
        assert len(ledger.settle(three, [], [], 10).claimed) == 6
        # And its claims are marks too: a later job with the limit sees them at import.
        four = import_file_to(ledger, contacts(tmp_path / "d.csv", 6), recontact_after=3600)
        assert ledger.counts(four)["suppressed"] == 6
    finally:
        ledger.close()
    reasons = {r["row_number"]: json.loads(r["reasons"]) for r in ledger_rows_url(ledger_url, two) if r["reasons"]}
    assert sorted(reasons) == [2, 3, 4, 5]
    assert reasons[2][0][1].startswith("recontact: contacted by job 1 (row 2)")


def import_file_to(
    ledger: object, path: Path, *, recontact_after: int | None = None, max_contacts: tuple[int, int] | None = None
) -> int:
    from batchqueue.intake.importer import import_file as import_into

    options: dict[str, object] = {}
    if recontact_after:
        options["recontact_after"] = recontact_after
    if max_contacts:
        options["max_contacts"] = list(max_contacts)
    result = import_into(
        ledger,  # type: ignore[arg-type]
        path,
        MappingSpec(),
        survey_id="4242",
        instance_id="1",
        new_job=True,
        options=options,
    )
    assert result.job_id is not None
    return result.job_id


@pytest.mark.parametrize(
    "limit", [{"recontact_after": WEEK}, {"max_contacts": (1, WEEK)}], ids=["recontact-after", "max-contacts"]
)
def test_two_jobs_sent_at_once_by_several_workers_never_both_call_a_number(
    postgres_url: str, tmp_path: Path, limit: dict[str, Any]
) -> None:
    # Two jobs of 60 rows share 40 numbers; four runs (two per job) send them at the same time.
    with Sandbox() as sb:
        settings = Settings.from_env(
            {"BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user, "BATCHQUEUE_API_KEY": sb.config.key},
            db=postgres_url,
        )
        jobs = []
        for name, first in (("a.csv", 0), ("b.csv", 20)):
            request = ImportRequest(contacts(tmp_path / name, 60, first=first), MappingSpec(), "4242", "1", **limit)
            result = import_file(settings, request)
            assert result.job_id is not None
            jobs.append(result.job_id)
        errors: list[BaseException] = []

        def send(job_id: int) -> None:
            try:
                run(settings, RunRequest(job_id, rate=0, concurrency=4))
            except BaseException as exc:  # reported by the test below
                errors.append(exc)

        runners = [threading.Thread(target=send, args=(job,)) for job in jobs + jobs]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(timeout=120)
        calls = Counter(c["phone_number"] for c in sb.app.store.dump())
    assert not errors
    assert len(calls) == 80  # numbers 0-79: 20 only in a, 40 shared, 20 only in b
    assert max(calls.values()) == 1, [n for n, k in calls.items() if k > 1]
    states = Counter(r["state"] for job in jobs for r in ledger_rows_url(postgres_url, job))
    assert states == {"queued": 80, "suppressed": 40}


def test_max_contacts_counts_every_jobs_calls_at_import_and_in_each_claim(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        # Imported before anyone called: its limit is checked again when it claims.
        limited = import_file_to(ledger, contacts(tmp_path / "l.csv", 4), max_contacts=(2, WEEK))
        for name in ("a.csv", "b.csv"):
            other = import_file_to(ledger, contacts(tmp_path / name, 3), recontact_after=None)
            assert len(ledger.settle(other, [], [], 10).claimed) == 3  # numbers 0-2, twice
        claimed = ledger.settle(limited, [], [], 10)
        assert [c.row_number for c in claimed.claimed] == [5]  # number 3: never called before
        assert claimed.suppressed == 3
        # A job imported now sees the count at import: numbers 0-3 were called 2, 2, 2 and 1 times.
        later = import_file_to(ledger, contacts(tmp_path / "c.csv", 5), max_contacts=(2, WEEK))
        assert ledger.counts(later)["suppressed"] == 3
        assert ledger.suppressed_by(later) == {"max-contacts: called 2 times within 1w (at most 2)": 3}
        # A larger limit lets them through.
        loose = import_file_to(ledger, contacts(tmp_path / "d.csv", 5), max_contacts=(3, WEEK))
        assert ledger.counts(loose)["suppressed"] == 0
    finally:
        ledger.close()


def test_max_contacts_option_is_checked(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    done = run_cli("import", contacts(tmp_path / "c.csv", 2), "--survey", "1", "--instance", "1", "--db", db,
                   "--max-contacts", "3")  # fmt: skip
    assert done.code == 2
    assert "--max-contacts '3': expected a count per period such as 3/7d" in done.err
