"""Contact history and the caps across an upgrade and a stopped run (red-team defects).

- A ledger from before the re-contact log (schema 0006) keeps its calls once upgraded: a re-import of
  the same file is suppressed, and a Florida number's earlier calls count toward Florida's cap.
- A claim whose request never left, or that Insight refused, leaves no calls behind: a run stopped by
  a fatal reply (the sandbox's instance 9 answers 409) does not hold Florida's contacts at the cap.

Truth: Florida's cap is the statute's (``tests/truth/statutes.py``) and Pensacola's area codes the
hand-checked geography (``tests/truth/geography.py``); what Insight queued is the sandbox's record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox, SandboxConfig
from batchqueue.sandbox.faults import Faults
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.conftest import CliResult, write_csv
from tests.console_helpers import Running, api_session
from tests.sandbox_helpers import contacts, ledger_rows, ledger_rows_url, point_at
from tests.truth.geography import PLACES
from tests.truth.statutes import CAP_BY_STATE

FLORIDA = PLACES["Pensacola, FL"]
FL_CALLS, _ = CAP_BY_STATE["FL"]
Run = Callable[..., CliResult]


def _settings(url: str, sandbox: Sandbox) -> Settings:
    env = {
        "BATCHQUEUE_BASE_URL": sandbox.api_url,
        "BATCHQUEUE_USER": sandbox.config.user,
        "BATCHQUEUE_API_KEY": sandbox.config.key,
    }
    return Settings.from_env(env, db=url)


def _import(settings: Settings, path: Path, *, attempts: int, wait: int = 600, **given: object) -> int:
    spec = MappingSpec(defaults={"max_attempts": str(attempts), "reattempt_wait": str(wait)})
    request = ImportRequest(path, spec, "4242", "1", new_job=True, **given)  # type: ignore[arg-type]
    result = import_file(settings, request)
    assert result.job_id is not None
    return result.job_id


def _back_to(url: str, revision: str) -> None:
    """The ledger as an older version left it (its rows kept), then upgraded to this version's schema."""
    from alembic import command

    from batchqueue.ledger.database import alembic_config, write

    ledger = open_ledger(url)
    try:
        with write(ledger.engine) as conn:
            command.downgrade(alembic_config(ledger.engine, conn), revision)
        with write(ledger.engine) as conn:
            command.upgrade(alembic_config(ledger.engine, conn), "head")
    finally:
        ledger.close()


def test_calls_made_before_the_upgrade_still_protect_and_count(ledger_url: str, tmp_path: Path) -> None:
    florida = f"({FLORIDA.area_codes[0]}) 201-0001"
    numbers = [florida, "(617) 201-0002", "(212) 201-0003"]
    path = write_csv(tmp_path / "list.csv", [["phone"], *[[n] for n in numbers]])
    with Sandbox() as sb:
        settings = _settings(ledger_url, sb)
        first = _import(settings, path, attempts=2)
        run(settings, RunRequest(first, rate=0))
        assert {r["state"] for r in ledger_rows_url(ledger_url, first)} == {"queued"}
        assert len(sb.app.store.dump()) == len(numbers)
    # Those calls were made by a version whose ledger had no contact log (schema 0006).
    _back_to(ledger_url, "0006")
    again = import_file(settings, ImportRequest(path, MappingSpec(), "4242", "1", new_job=True))
    assert again.job_id is not None
    assert again.job_id != first
    assert again.suppressed == len(numbers)
    states = {r["state"] for r in ledger_rows_url(ledger_url, again.job_id)}
    assert states == {"suppressed"}
    # Another file with the Florida number, re-contact protection off: only Florida's cap stands, and
    # the 2 calls made before the upgrade leave it one.
    other = write_csv(tmp_path / "other.csv", [["phone"], [florida]])
    later = _import(settings, other, attempts=2, recontact_after=0)
    ledger = open_ledger(ledger_url)
    try:
        assert [c.max_attempts for c in ledger.settle(later, [], [], 10).claimed] == [FL_CALLS - 2]
    finally:
        ledger.close()
    # Upgrading again (the backfill run twice) adds nothing.
    _back_to(ledger_url, "0017")
    ledger = open_ledger(ledger_url)
    try:
        with ledger.engine.connect() as conn:
            logged = conn.exec_driver_sql("SELECT COUNT(*) FROM contact_log").scalar_one()
    finally:
        ledger.close()
    assert logged == len(numbers) + 1


def _florida_file(tmp_path: Path) -> Path:
    """Three contacts in Florida (two by their area codes, one by its ZIP) and one in New York."""
    rows: list[list[object]] = [["Phone", "ZIP"]]
    rows.append([f"({FLORIDA.area_codes[0]}) 545-1200", ""])
    rows.append(["(212) 555-0300", FLORIDA.zip_code])
    rows.append([f"({FLORIDA.area_codes[1]}) 200-1299", ""])
    rows.append(["(212) 555-0301", ""])
    return write_csv(tmp_path / "fl.csv", rows)


def test_a_run_stopped_by_a_fatal_reply_leaves_no_calls_behind(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "f.db"
    imported = run_cli("import", _florida_file(tmp_path), "--survey", "4242", "--instance", "9", "--max-attempts",
                       str(FL_CALLS), "--reattempt-wait", "600", "--db", db)  # fmt: skip
    assert imported.code == 0, imported.err
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        stopped = run_cli("run", "1", "--rate", "0", "--db", db)  # the sandbox's survey 4242 is instance 1: 409
        assert stopped.code != 0
        assert sb.app.store.dump() == []
        assert {r["state"] for r in ledger_rows(db)} == {"pending"}
        assert _contacts(db) == (0, 0)  # no call was placed: nothing logged, no number marked
        edited = run_cli("job", "edit", "1", "--survey", "4242", "--instance", "1", "--force", "--yes", "--db", db)
        assert edited.code == 0, edited.err
        sent = run_cli("run", "1", "--rate", "0", "--db", db)
        assert sent.code == 0, sent.err
        calls = sb.app.store.dump()
    # Nobody was called before: every contact is queued, with every attempt Florida's cap allows.
    assert {r["state"] for r in ledger_rows(db)} == {"queued"}
    assert sorted(int(c["fields"]["max_attempts"]) for c in calls) == [FL_CALLS] * 4


def test_a_refused_request_counts_no_call_toward_the_caps(tmp_path: Path, run_cli: Run,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    db = tmp_path / "r.db"
    imported = run_cli("import", _florida_file(tmp_path), "--survey", "4242", "--instance", "1", "--max-attempts",
                       "2", "--reattempt-wait", "600", "--rule", "max-contacts=2/1d", "--db", db)  # fmt: skip
    assert imported.code == 0, imported.err
    with Sandbox(SandboxConfig(faults=Faults(p_400=1.0))) as refusing:
        point_at(monkeypatch, refusing)
        refused = run_cli("run", "1", "--rate", "0", "--db", db)
        assert refusing.app.store.dump() == []
    assert {r["state"] for r in ledger_rows(db)} == {"failed"}
    assert refused.code != 0
    assert run_cli("retry", "1", "--db", db).code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        sent = run_cli("run", "1", "--rate", "0", "--db", db)
        assert sent.code == 0, sent.err
        calls = sb.app.store.dump()
    # Insight queued no call the first time: the job's cap (2 a day) and Florida's leave both attempts.
    assert {r["state"] for r in ledger_rows(db)} == {"queued"}
    assert sorted(int(c["fields"]["max_attempts"]) for c in calls) == [2] * 4


def _contacts(db: Path) -> tuple[int, int]:
    """(entries in the contact log, numbers marked) of an SQLite ledger."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        logged = conn.execute("SELECT COUNT(*) FROM contact_log").fetchone()[0]
        marked = conn.execute("SELECT COUNT(*) FROM contact_marks").fetchone()[0]
    return int(logged), int(marked)


def test_a_released_claim_gives_the_number_back_its_earlier_mark(ledger_url: str, tmp_path: Path) -> None:
    from batchqueue.ledger.records import Settlement
    from batchqueue.lifecycle import Event

    settings = Settings.from_env({}, db=ledger_url)
    number = "(617) 201-0004"
    files = [write_csv(tmp_path / f"{n}.csv", [["phone"], [number]]) for n in "abc"]
    called = _import(settings, files[0], attempts=1)
    ledger = open_ledger(ledger_url)
    try:
        (sent,) = ledger.settle(called, [], [], 10).claimed
        assert ledger.record([Settlement(sent.row_id, Event.ACCEPTED, call_id="c-1")]) == []
        # Job 2 (re-contact protection off) claims the number, then its request never leaves.
        unsent_job = _import(settings, files[1], attempts=1, recontact_after=0)
        (unsent,) = ledger.settle(unsent_job, [], [], 10).claimed
        assert ledger.release([unsent.row_id]) == []
    finally:
        ledger.close()
    # The number's mark is job 1's again: a third job (protection on) is suppressed because of job 1.
    third = import_file(settings, ImportRequest(files[2], MappingSpec(), "4242", "1", new_job=True))
    assert third.suppressed == 1
    assert third.recontacted is not None
    assert third.recontacted["jobs"] == [{"job_id": called, "rows": 1}]


def test_a_state_cap_hold_names_the_claim_made_last(ledger_url: str, tmp_path: Path) -> None:
    settings = Settings.from_env({}, db=ledger_url)
    number = f"({FLORIDA.area_codes[0]}) 201-0009"
    # Job 1 (row 3) asks for 2 calls, ten hours apart; job 2 (row 2), made later, for one call now.
    # Florida's cap is then used up, and the last claim is job 2's, though job 1's calls run later.
    first = write_csv(tmp_path / "a.csv", [["phone"], ["(617) 201-0001"], [number]])
    second = write_csv(tmp_path / "b.csv", [["phone"], [number]])
    third = write_csv(tmp_path / "c.csv", [["phone"], [number]])
    jobs = [_import(settings, first, attempts=2, wait=10 * 3600, recontact_after=0)]
    jobs += [_import(settings, f, attempts=1, recontact_after=0) for f in (second, third)]
    ledger = open_ledger(ledger_url)
    try:
        assert len(ledger.settle(jobs[0], [], [], 10).claimed) == 2
        assert [c.max_attempts for c in ledger.settle(jobs[1], [], [], 10).claimed] == [FL_CALLS - 2]
        assert ledger.settle(jobs[2], [], [], 10).held == 1
    finally:
        ledger.close()
    detail = ledger_rows_url(ledger_url, jobs[2])[0]["hold_detail"]
    assert f"the last by job {jobs[1]} (row 2)" in detail, detail


def test_the_import_says_why_its_rows_were_suppressed(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    numbers = ["(617) 201-0001", "(617) 201-0002", "(617) 201-0003"]
    path = write_csv(tmp_path / "list.csv", [["phone"], *[[n] for n in numbers]])
    assert run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", db).code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--db", db).code == 0
    assert run_cli("dnc", "add", "(617) 201-0009", "--db", db).code == 0
    again = write_csv(tmp_path / "again.csv", [["phone"], *[[n] for n in numbers], ["(617) 201-0009"]])
    shown = run_cli("import", again, "--survey", "4242", "--instance", "1", "--db", db)
    assert shown.code == 0, shown.err
    assert "suppressed 4 (1 on a do-not-call list, `batchqueue dnc list`; 3 by re-contact protection: " in shown.out
    assert "called by job 1 (3)" in shown.out
    said = run_cli("import", again, "--survey", "4242", "--instance", "1", "--db", db, "--new-job", "--json").json()
    assert said["suppressed_by"] == {"dnc": 1, "recontact": 3}


def test_the_console_says_why_imported_rows_were_suppressed(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    ledger = open_ledger(running.settings.db_url)
    try:
        ledger.add_to_dnc([("optouts", "+16172000003")], source="test")
    finally:
        ledger.close()
    with contacts(tmp_path / "c.csv", 6).open("rb") as f:
        upload = session.post(running.url + "/api/uploads", files={"file": ("c.csv", f)}, **post).json()["upload_id"]
    page = session.post(
        f"{running.url}/uploads/{upload}/import",
        data={"csrf_token": token, "survey": "4242", "instance": "1"},
        timeout=30,
    )
    assert page.status_code == 200
    assert "Suppressed 1 (1 on a do-not-call list" in page.text


def test_a_call_proven_after_its_request_looked_refused_counts_again(ledger_url: str, tmp_path: Path) -> None:
    """Insight refused the request (its history given back), then a report proved the call was
    queued after all: the call counts again, so a later job does not call the number inside the
    protection period."""
    from batchqueue.callbacks.call_details import CallDetails
    from batchqueue.ledger.records import Settlement
    from batchqueue.lifecycle import Event

    settings = Settings.from_env({}, db=ledger_url)
    number = "(617) 201-0006"
    files = [write_csv(tmp_path / f"{n}.csv", [["phone"], [number]]) for n in "ab"]
    called = _import(settings, files[0], attempts=1)
    ledger = open_ledger(ledger_url)
    try:
        (sent,) = ledger.settle(called, [], [], 10).claimed
        assert ledger.record([Settlement(sent.row_id, Event.REFUSED, error="HTTP 400")]) == []
        report = (sent.row_id, sent.token, CallDetails("completed"))
        assert ledger.apply_outcomes([report], source="callback") == ["recorded"]
        assert ledger.counts(called)["queued"] == 1  # the report proved the call (lifecycle: failed -> queued)
    finally:
        ledger.close()
    second = import_file(settings, ImportRequest(files[1], MappingSpec(), "4242", "1", new_job=True))
    assert second.suppressed == 1
    assert second.recontacted is not None
    assert second.recontacted["jobs"] == [{"job_id": called, "rows": 1}]


def _two_days_ahead() -> str:
    """A start two days ahead at 16:00 UTC (08:00-12:00 in every mainland US zone): each request's
    calling window is set from its contact's places (``rows.sent_states``), whatever the hour now."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    return dt.datetime(day.year, day.month, day.day, 16, tzinfo=dt.UTC).isoformat()


def _in_pensacola(settings: Settings, tmp_path: Path, number: str) -> int:
    """A job of one New York number whose ZIP is Pensacola's (Florida's cap holds), 2 attempts."""
    path = write_csv(tmp_path / "fl.csv", [["phone", "zip"], [number, FLORIDA.zip_code]])
    spec = MappingSpec(defaults={"max_attempts": "2", "reattempt_wait": "600", "start": _two_days_ahead()})
    job = import_file(settings, ImportRequest(path, spec, "4242", "1", new_job=True, recontact_after=0)).job_id
    assert job is not None
    return job


def _attempts_left(settings: Settings, tmp_path: Path, number: str) -> list[int | None]:
    """The attempts a job of the same number without a ZIP (2 asked) is sent with now."""
    later = _import(settings, write_csv(tmp_path / "later.csv", [["phone"], [number]]), attempts=2, recontact_after=0)
    ledger = open_ledger(settings.db_url)
    try:
        return [c.max_attempts for c in ledger.settle(later, [], [], 10).claimed]
    finally:
        ledger.close()


def test_calls_logged_before_the_states_were_kept_get_their_rows_states(ledger_url: str, tmp_path: Path) -> None:
    number = "(212) 201-0007"
    with Sandbox() as sb:
        settings = _settings(ledger_url, sb)
        first = _in_pensacola(settings, tmp_path, number)
        run(settings, RunRequest(first, rate=0))
        assert [int(c["fields"]["max_attempts"]) for c in sb.app.store.dump()] == [2]
    (row,) = ledger_rows_url(ledger_url, first)
    assert "FL" in row["sent_states"].split()
    # The call was logged by a version that kept no states with it (schema 0018): the upgrade gives
    # the entry its row's, so Florida's cap (3 a day) leaves a job of the number without a ZIP 1 call.
    _back_to(ledger_url, "0018")
    assert _attempts_left(settings, tmp_path, number) == [FL_CALLS - 2]


def test_a_call_proven_after_its_request_looked_refused_keeps_its_states(ledger_url: str, tmp_path: Path) -> None:
    from batchqueue.callbacks.call_details import CallDetails

    number = "(212) 201-0008"
    with Sandbox(SandboxConfig(faults=Faults(p_400=1.0))) as refusing:
        settings = _settings(ledger_url, refusing)
        first = _in_pensacola(settings, tmp_path, number)
        run(settings, RunRequest(first, rate=0))
        assert refusing.app.store.dump() == []
    (row,) = ledger_rows_url(ledger_url, first)
    assert row["state"] == "failed"
    ledger = open_ledger(ledger_url)
    try:
        # A report proves the call was queued after all: logged again, with the states of its window.
        report = (row["id"], row["token"], CallDetails("completed"))
        assert ledger.apply_outcomes([report], source="callback") == ["recorded"]
        assert ledger.counts(first)["queued"] == 1
    finally:
        ledger.close()
    assert _attempts_left(settings, tmp_path, number) == [FL_CALLS - 2]
