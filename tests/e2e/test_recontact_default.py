"""Re-contact protection is on by default: a number any job of the ledger contacted in the last 7 days
is suppressed in a new job, unless ``--recontact-after 0`` (or another period) says otherwise; a
``recycle`` wave is not barred by the calls of the rows it was made from; ``import`` (text and
``--json``) and the console say how many rows were suppressed and by which jobs.

"Re-importing last week's list calls nobody again": the clock is moved by writing the marks and
the log of the earlier calls into the past (6 days: nobody is called; 8 days: everyone is).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.waves import RecycleRequest, recycle
from batchqueue.settings import Settings
from tests.conftest import CliResult, write_csv
from tests.console_helpers import Running, api_session
from tests.sandbox_helpers import contacts, ledger_rows, point_at

Run = Callable[..., CliResult]
DAY = 86400


def _export_of(path: Path, n: int, *, label: str) -> Path:
    """The people of ``contacts(…, n)`` as another export of the CRM: other columns, other bytes."""
    rows: list[list[object]] = [["Mobile", "Contact", "Exported"]]
    rows += [[f"(617) 200-{i:04d}", f"Person {i}", label] for i in range(n)]
    return write_csv(path, rows)


def _move_clock(db: Path, seconds: float) -> None:
    """Every earlier call (its mark and its log entry) ``seconds`` further in the past."""
    with open_ledger(f"sqlite:///{db}").engine.begin() as conn:
        for table in ("contact_marks", "contact_log"):
            conn.exec_driver_sql(
                f"UPDATE {table} SET contacted_at = contacted_at - ?, last_call_at = last_call_at - ?",  # noqa: S608
                (seconds, seconds),
            )


def test_last_weeks_list_imported_again_calls_nobody_and_a_fortnight_later_everyone(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    assert run_cli("import", contacts(tmp_path / "monday.csv", 6), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
        assert len(sb.app.store.dump()) == 6
        _move_clock(db, 6 * DAY)
        # Six days later, the same list exported again, imported with no option at all.
        again = run_cli("import", _export_of(tmp_path / "sunday.csv", 6, label="sun"), "--survey", "4242",
                        "--instance", "1")  # fmt: skip
        assert again.code == 0, again.err
        assert "0 rows pending" in again.out
        assert "6 suppressed: job 1 called them within the last 1w (--recontact-after 0 calls them)" in again.out
        as_json = run_cli("import", _export_of(tmp_path / "sunday2.csv", 6, label="sun2"), "--survey", "4242",
                          "--instance", "1", "--json").json()  # fmt: skip
        assert (as_json["valid"], as_json["suppressed"]) == (0, 6)
        assert as_json["recontacted"] == {
            "period": 7 * DAY,
            "rows": 6,
            "jobs": [{"job_id": 1, "rows": 6}],
            "same_file": [],
        }
        for job in ("2", "3"):
            assert run_cli("run", job, "--rate", "0").code == 0
        assert len(sb.app.store.dump()) == 6  # nobody called again
        # Eight days after the calls, another export: every contact is called.
        _move_clock(db, 2 * DAY)
        later = run_cli("import", _export_of(tmp_path / "tuesday.csv", 6, label="tue"), "--survey", "4242",
                        "--instance", "1", "--json")  # fmt: skip
        assert (later.json()["valid"], later.json()["suppressed"]) == (6, 0)
        assert run_cli("run", str(later.json()["job_id"]), "--rate", "0").code == 0
        assert len(sb.app.store.dump()) == 12


@pytest.mark.parametrize("off", ["0", "off", "0d"])
def test_recontact_after_0_calls_them_again(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, off: str
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    assert run_cli("import", contacts(tmp_path / "a.csv", 3), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
        again = run_cli("import", _export_of(tmp_path / "b.csv", 3, label="b"), "--survey", "4242", "--instance",
                        "1", "--recontact-after", off, "--json")  # fmt: skip
        assert again.code == 0, again.err
        assert (again.json()["valid"], again.json()["suppressed"]) == (3, 0)
        assert run_cli("run", "2", "--rate", "0").code == 0
        assert len(sb.app.store.dump()) == 6


def test_another_period_is_the_jobs_own(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    assert run_cli("import", contacts(tmp_path / "a.csv", 3), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
    _move_clock(db, 3 * DAY)
    two_days = run_cli("import", _export_of(tmp_path / "b.csv", 3, label="b"), "--survey", "4242", "--instance", "1",
                       "--recontact-after", "2d", "--json").json()  # fmt: skip
    assert two_days["suppressed"] == 0
    four_days = run_cli("import", _export_of(tmp_path / "c.csv", 3, label="c"), "--survey", "4242", "--instance",
                        "1", "--recontact-after", "4d", "--json").json()  # fmt: skip
    assert four_days["recontacted"]["jobs"] == [{"job_id": 1, "rows": 3}]


def test_a_wave_calls_the_rows_it_was_made_from_but_not_another_jobs_recent_numbers(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    assert run_cli("import", contacts(tmp_path / "a.csv", 5), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
    with open_ledger(f"sqlite:///{db}").engine.begin() as conn:
        conn.exec_driver_sql("UPDATE rows SET outcome_status = 'failed', outcome_at = 1 WHERE job_id = 1")
    # Another campaign of the ledger calls the first contact, knowingly (its own period off).
    other = _export_of(tmp_path / "other.csv", 1, label="other")
    assert run_cli("import", other, "--survey", "4242", "--instance", "1", "--recontact-after", "0").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "2", "--rate", "0").code == 0
        assert len(sb.app.store.dump()) == 1
        made = run_cli("recycle", "1", "--outcome", "failed", "--json")
        assert made.code == 0, made.err
        wave = made.json()["job_id"]
        # The wave, with the default protection it inherited: its own rows' calls (job 1's) do not
        # bar it, job 2's call of the first contact does.
        assert [r["state"] for r in ledger_rows(db, wave)] == ["suppressed"] + ["pending"] * 4
        assert run_cli("run", str(wave), "--rate", "0").code == 0
        assert len(sb.app.store.dump()) == 1 + 4


def test_a_wave_made_in_the_service_is_exempt_for_its_own_rows(tmp_path: Path) -> None:
    settings = Settings.from_env({}, db=f"sqlite:///{tmp_path / 'l.db'}")
    job = import_file(settings, ImportRequest(contacts(tmp_path / "a.csv", 4), MappingSpec(), "4242", "1")).job_id
    assert job is not None
    ledger = open_ledger(settings.db_url)
    try:
        assert len(ledger.settle(job, [], [], 10).claimed) == 4
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE rows SET state = 'queued', outcome_status = 'failed', outcome_at = 1")
        wave = recycle(settings, RecycleRequest(job, frozenset({"failed"})))
        assert wave.job_id is not None
        assert ledger.counts(wave.job_id)["pending"] == 4
        assert len(ledger.settle(wave.job_id, [], [], 10).claimed) == 4
    finally:
        ledger.close()


def test_the_console_says_how_many_and_by_which_jobs_and_sets_the_rules(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}

    def upload(path: Path) -> str:
        with path.open("rb") as f:
            return str(session.post(running.url + "/api/uploads", files={"file": (path.name, f)}, **post).json()
                       ["upload_id"])  # fmt: skip

    first = upload(contacts(tmp_path / "a.csv", 4))
    made = session.post(f"{running.url}/api/uploads/{first}/import", json={"survey": "4242", "instance": "1"}, **post)
    assert made.status_code == 201
    assert made.json()["rules"]["recontact_after"] == 7 * DAY
    ledger = open_ledger(running.settings.db_url)
    try:
        assert len(ledger.settle(1, [], [], 10).claimed) == 4
    finally:
        ledger.close()
    # The form a person sends: the page says how many were suppressed and by which job.
    second = upload(_export_of(tmp_path / "b.csv", 4, label="b"))
    page = session.post(
        f"{running.url}/uploads/{second}/import",
        data={"csrf_token": token, "survey": "4242", "instance": "1"},
        timeout=30,
    )
    assert page.status_code == 200
    assert "4 suppressed: job 1 called them within the last 1w" in page.text
    # The check page offers the re-contact period and the caps...
    check = session.get(f"{running.url}/uploads/{second}/check", timeout=30).text
    for field in ('name="recontact_after"', 'name="max_contacts"', 'name="state_caps"'):
        assert field in check
    # ...and a form that sets them makes a job with those rules (another job: other rules).
    third = session.post(
        f"{running.url}/uploads/{second}/import",
        data={
            "csrf_token": token,
            "survey": "4242",
            "instance": "1",
            "recontact_after": "0",
            "max_contacts": "2/1d",
            "state_caps": "us",
        },
        timeout=30,
    )
    assert third.status_code == 200
    job = session.get(f"{running.url}/api/jobs/3", timeout=30).json()
    assert job["rules"]["recontact_after"] == 0
    assert job["rules"]["max_contacts"] == [[2, DAY]]
    # A cap the attempts would exceed is refused with the reason, as on the command line.
    refused = session.post(
        f"{running.url}/api/uploads/{second}/import",
        json={"survey": "4242", "instance": "1", "max_contacts": "1/1d", "max_attempts": "3", "reattempt_wait": "60"},
        **post,
    )
    assert refused.status_code == 400
    assert "max-contacts 1/24h" in refused.json()["error"]
