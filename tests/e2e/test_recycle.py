"""Recycling unreached contacts: after the callbacks came in, ``recycle`` makes the next wave of
exactly the contacts whose call ended with the outcomes asked for; it is sent like any job, its
re-contact limit does not count its own parent's calls (but does count other jobs'), do-not-call
lists apply again, ``status`` shows the waves and the parent's report each contact's latest outcome."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from batchqueue.callbacks.app import CallbackApp
from batchqueue.http_serving import HttpServer
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.waves import RecycleRequest, recycle
from batchqueue.settings import Settings
from tests.conftest import CliResult
from tests.console_helpers import Running, api_session
from tests.sandbox_helpers import contacts, ledger_rows, ledger_rows_url, point_at, wait_for

Run = Callable[..., CliResult]


def test_recycle_after_callbacks_makes_the_next_wave(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    source = contacts(tmp_path / "c.csv", 30)
    imported = run_cli("import", source, "--survey", "4242", "--instance", "1", "--recontact-after", "7d")
    assert imported.code == 0, imported.err
    ledger = open_ledger(f"sqlite:///{db}")
    app = CallbackApp(ledger, tmp_path / "spool")
    receiver = HttpServer(app, port=0).start()
    weights = (("completed", 0.5), ("failed", 0.3), ("rejected", 0.2))
    sb = Sandbox(SandboxConfig(completion=Completion(after=0.05, weights=weights, seed=3))).start()
    try:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--public-url", receiver.url).code == 0
        wait_for(lambda: sum(ledger.outcome_counts(1).values()) == 30)
        first = {r["row_number"]: r["outcome_status"] for r in ledger_rows(db, 1)}
        unreached = {n for n, outcome in first.items() if outcome in ("failed", "rejected")}
        assert 0 < len(unreached) < 30
        # One unreached contact opted out since: the wave suppresses it.
        opted_out = min(unreached)
        phone = next(r["e164"] for r in ledger_rows(db, 1) if r["row_number"] == opted_out)
        assert run_cli("dnc", "add", phone).code == 0

        made = run_cli("recycle", "1", "--outcome", "failed,rejected", "--after", "4h", "--json")
        assert made.code == 0, made.err
        wave = made.json()
        assert (wave["parent_job_id"], wave["job_id"], wave["wave"], wave["rows"]) == (1, 2, 2, len(unreached))
        rows = ledger_rows(db, 2)
        assert {r["row_number"] for r in rows} == unreached
        assert {r["row_number"] for r in rows if r["state"] == "suppressed"} == {opted_out}
        # Its own parent's calls (within the 7-day re-contact limit) do not bar the wave.
        assert {r["state"] for r in rows if r["row_number"] != opted_out} == {"pending"}
        # --after 4h: never before four hours after the parent's last attempt.
        parent = {r["row_number"]: r for r in ledger_rows(db, 1)}
        for r in rows:
            last = parent[r["row_number"]]["outcome_last_attempt_at"] or parent[r["row_number"]]["outcome_at"]
            assert r["start_ts"] >= int(last) + 4 * 3600
            assert r["token"] != parent[r["row_number"]]["token"]  # a fresh callback secret

        before = len(sb.app.store.dump())
        sent = run_cli("run", "2", "--rate", "0", "--public-url", receiver.url, "--json")
        assert sent.code == 0, sent.err
        assert sent.json()["sent"] == len(unreached) - 1
        wait_for(lambda: sum(ledger.outcome_counts(2).values()) == len(unreached) - 1)
        calls = sb.app.store.dump()[before:]
        assert len(calls) == len(unreached) - 1
        assert all(int(c["fields"]["start_timestamp"]) >= int(time.time()) + 4 * 3600 - 60 for c in calls)
    finally:
        sb.stop()
        receiver.stop()
        app.close()

    status = run_cli("status", "1", "--json").json()
    assert [(w["job_id"], w["wave"]) for w in status["waves"]] == [(1, 1), (2, 2)]
    assert "wave 2: job 2" in run_cli("status", "2").out

    report = tmp_path / "r.csv"
    assert run_cli("export", "1", "-o", report).code == 0
    with report.open(encoding="utf-8-sig", newline="") as f:
        found = {int(r["bq_row"]): r for r in csv.DictReader(f)}
    second = {r["row_number"]: r["outcome_status"] for r in ledger_rows(db, 2) if r["state"] == "queued"}
    for number, outcome in first.items():
        latest = second.get(number, outcome)
        assert found[number]["bq_latest_call_outcome"] == latest
        assert found[number]["bq_waves_called"] == ("2" if number in second else "1")
        assert found[number]["bq_call_outcome"] == outcome  # the parent's own outcome is unchanged
    # Recycling a wave where no call ended that way makes nothing (exit 1: no wave to run).
    nothing = run_cli("recycle", "2", "--outcome", "canceled")
    assert nothing.code == 1
    assert "no wave created" in nothing.out


def test_another_jobs_recent_call_still_bars_a_wave(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    source = contacts(tmp_path / "c.csv", 6)
    assert run_cli("import", source, "--survey", "4242", "--instance", "1", "--recontact-after", "7d").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
    with open_ledger(f"sqlite:///{db}").engine.begin() as conn:
        conn.exec_driver_sql("UPDATE rows SET outcome_status = 'failed', outcome_at = 1 WHERE job_id = 1")
    # Another campaign (job 2) calls the first contact after job 1 did (its own protection off, knowingly).
    other = contacts(tmp_path / "other.csv", 1)
    assert (
        run_cli("import", other, "--survey", "4242", "--instance", "1", "--new-job", "--recontact-after", "0").code == 0
    )
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "2", "--rate", "0").code == 0
    made = run_cli("recycle", "1", "--outcome", "failed", "--json").json()
    rows = ledger_rows(db, made["job_id"])
    assert [r["state"] for r in rows] == ["suppressed"] + ["pending"] * 5
    assert "contacted by job 2" in rows[0]["reasons"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--outcome", "busy"], "give final outcomes among"), (["--outcome", "failed", "--after", "soon"], "--after")],
)
def test_recycle_refuses_bad_options(tmp_path: Path, run_cli: Run, args: list[str], message: str) -> None:
    db = tmp_path / "l.db"
    assert run_cli("import", contacts(tmp_path / "c.csv", 2), "--survey", "1", "--instance", "1", "--db", db).code == 0
    done = run_cli("recycle", "1", *args, "--db", db)
    assert done.code == 2
    assert message in done.err


# -- a row goes into one wave only ---------------------------------------------------------------

#: Row 2, 3, 4… of the test files: what each call ended with (every third failed, every third rejected).
ENDED = ("failed", "rejected", "completed")


def _called(url: str, job_id: int, rows: int) -> dict[int, str]:
    """Rows 2… of the job as queued calls whose outcome Insight reported; returns row number → outcome."""
    outcomes = {n: ENDED[(n - 2) % 3] for n in range(2, rows + 2)}
    _mark(url, job_id, outcomes)
    return outcomes


def _mark(url: str, job_id: int, outcomes: dict[int, str]) -> None:
    """The rows (by row number) as queued calls that ended with these outcomes an hour ago."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for number, outcome in outcomes.items():
                conn.execute(
                    text(
                        "UPDATE rows SET state = 'queued', attempts = 1, call_id = :c, outcome_status = :o, "
                        "outcome_at = :t WHERE job_id = :j AND row_number = :n"
                    ),
                    {"c": f"call-{job_id}-{number}", "o": outcome, "t": time.time() - 3600, "j": job_id, "n": number},
                )
    finally:
        engine.dispose()


def _job_ids(url: str) -> list[int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [i for (i,) in conn.execute(text("SELECT id FROM jobs ORDER BY id"))]
    finally:
        engine.dispose()


def _numbers(url: str, job_id: int) -> list[int]:
    return sorted(r["row_number"] for r in ledger_rows_url(url, job_id))


def test_a_second_recycle_takes_only_the_rows_no_wave_has_taken(ledger_url: str, tmp_path: Path) -> None:
    settings = Settings(db_url=ledger_url)
    imported = import_file(settings, ImportRequest(contacts(tmp_path / "c.csv", 12), MappingSpec(), "4242", "1"))
    assert imported.job_id == 1
    ended = _called(ledger_url, 1, 12)
    failed = sorted(n for n, o in ended.items() if o == "failed")
    rejected = sorted(n for n, o in ended.items() if o == "rejected")

    first = recycle(settings, RecycleRequest(1, frozenset({"failed"})))
    assert (first.job_id, first.rows) == (2, len(failed))
    assert _numbers(ledger_url, 2) == failed
    # The same recycle again (a second click, a script run twice): nothing left to take, no job made.
    again = recycle(settings, RecycleRequest(1, frozenset({"failed"})))
    assert (again.job_id, again.rows) == (None, 0)
    assert _job_ids(ledger_url) == [1, 2]
    assert (first.taken, again.taken) == ({}, {2: len(failed)})
    # Asking for more takes only what no wave has: the rejected rows, not the failed ones again.
    wider = recycle(settings, RecycleRequest(1, frozenset({"failed", "rejected"})))
    assert (wider.job_id, wider.rows, wider.taken) == (3, len(rejected), {2: len(failed)})
    assert _numbers(ledger_url, 3) == rejected

    # A wave recycled (a grandchild) follows the same rule.
    _mark(ledger_url, 2, {n: "failed" for n in failed})
    grandchild = recycle(settings, RecycleRequest(2, frozenset({"failed"})))
    assert (grandchild.job_id, grandchild.wave, grandchild.rows) == (4, 3, len(failed))
    twice = recycle(settings, RecycleRequest(2, frozenset({"failed"})))
    assert (twice.job_id, twice.taken) == (None, {4: len(failed)})
    assert _job_ids(ledger_url) == [1, 2, 3, 4]
    # Every parent row is in one wave at most.
    in_waves = Counter(n for job in (2, 3) for n in _numbers(ledger_url, job))
    assert set(in_waves.values()) == {1}


def test_recycle_run_twice_says_nothing_was_left_and_exits_1(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    assert run_cli("import", contacts(tmp_path / "c.csv", 9), "--survey", "1", "--instance", "1", "--db", db).code == 0
    ended = _called(f"sqlite:///{db}", 1, 9)
    failed = sum(1 for o in ended.values() if o == "failed")
    made = run_cli("recycle", "1", "--outcome", "failed", "--db", db)
    assert made.code == 0, made.err
    assert f"job 2 created: wave 2 of job 1, {failed} row(s) pending" in made.out
    again = run_cli("recycle", "1", "--outcome", "failed", "--db", db)
    assert again.code == 1
    assert "no wave created" in again.out
    assert f"{failed} row(s) whose call ended failed are already in a wave (job 2: {failed})" in again.out
    shown = run_cli("recycle", "1", "--outcome", "failed", "--db", db, "--json")
    assert shown.code == 1
    assert shown.json()["created"] is False
    assert shown.json()["job_id"] is None
    assert shown.json()["already_in_waves"] == [{"job_id": 2, "rows": failed}]
    # Nothing ended that way at all: also no wave, and the same exit code.
    none = run_cli("recycle", "1", "--outcome", "canceled", "--db", db, "--json")
    assert (none.code, none.json()["created"], none.json()["already_in_waves"]) == (1, False, [])
    assert _job_ids(f"sqlite:///{db}") == [1, 2]


@pytest.mark.parametrize("how", ["processes", "threads"])
def test_recycles_at_the_same_moment_make_one_wave_per_row(ledger_url: str, tmp_path: Path, how: str) -> None:
    settings = Settings(db_url=ledger_url)
    assert import_file(settings, ImportRequest(contacts(tmp_path / "c.csv", 60), MappingSpec(), "4242", "1")).job_id
    ended = _called(ledger_url, 1, 60)
    unreached = sorted(n for n, o in ended.items() if o in ("failed", "rejected"))
    racers = 4
    made: list[int | None] = []
    if how == "processes":
        command = [sys.executable, "-m", "batchqueue", "recycle", "1", "--outcome", "failed,rejected"]
        procs = [
            subprocess.Popen([*command, "--db", ledger_url, "--json"], stdout=subprocess.PIPE, text=True)
            for _ in range(racers)
        ]
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode in (0, 1), out
            made.append(json.loads(out)["job_id"])
    else:
        start = threading.Barrier(racers)

        def one() -> None:
            start.wait()
            made.append(recycle(settings, RecycleRequest(1, frozenset({"failed", "rejected"}))).job_id)

        threads = [threading.Thread(target=one) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    waves = [j for j in made if j is not None]
    assert len(made) == racers
    assert len(waves) == 1, made
    assert _job_ids(ledger_url) == [1, waves[0]]
    assert _numbers(ledger_url, waves[0]) == unreached


def _stored_waves(url: str) -> dict[int, int]:
    """Each job's wave number as the ledger holds it (its options), read with SQL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT id, options FROM jobs ORDER BY id"))
            return {int(i): int(json.loads(o or "{}").get("wave", 1)) for i, o in found}
    finally:
        engine.dispose()


def test_racing_recycles_report_the_wave_each_job_holds(ledger_url: str, tmp_path: Path) -> None:
    """Recycles of one job at the same moment, as separate processes: each reports the wave number
    its job holds in the ledger, and one that made no job reports no wave (JSON null), not the
    number a wave would have had."""
    settings = Settings(db_url=ledger_url)
    assert import_file(settings, ImportRequest(contacts(tmp_path / "c.csv", 30), MappingSpec(), "4242", "1")).job_id
    _called(ledger_url, 1, 30)
    command = [sys.executable, "-m", "batchqueue", "recycle", "1", "--db", ledger_url, "--json", "--outcome"]
    asked = ["failed", "rejected", "failed", "rejected"]
    procs = [subprocess.Popen([*command, outcome], stdout=subprocess.PIPE, text=True) for outcome in asked]
    replies = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), out
        replies.append(json.loads(out))
    made = [r for r in replies if r["created"]]
    assert sorted(r["job_id"] for r in made) == [2, 3]
    stored = _stored_waves(ledger_url)
    assert {r["job_id"]: r["wave"] for r in made} == {2: stored[2], 3: stored[3]}
    assert [r["wave"] for r in replies if not r["created"]] == [None, None]
    # And `status` lists the same numbers.
    shown = subprocess.run(
        [sys.executable, "-m", "batchqueue", "status", "1", "--db", ledger_url, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert {w["job_id"]: w["wave"] for w in json.loads(shown.stdout)["waves"]} == stored


def test_waves_made_before_the_upgrade_keep_their_rows(ledger_url: str, tmp_path: Path) -> None:
    from alembic import command

    from batchqueue.ledger.database import alembic_config, write

    settings = Settings(db_url=ledger_url)
    assert import_file(settings, ImportRequest(contacts(tmp_path / "c.csv", 9), MappingSpec(), "4242", "1")).job_id
    ended = _called(ledger_url, 1, 9)
    assert recycle(settings, RecycleRequest(1, frozenset({"failed"}))).job_id == 2
    # The ledger as the previous version left it: the wave exists, its parent's rows are unmarked.
    ledger = open_ledger(ledger_url)
    try:
        with write(ledger.engine) as conn:
            command.downgrade(alembic_config(ledger.engine, conn), "0009")
        with write(ledger.engine) as conn:
            command.upgrade(alembic_config(ledger.engine, conn), "head")
    finally:
        ledger.close()
    again = recycle(settings, RecycleRequest(1, frozenset({"failed"})))
    assert (again.job_id, again.taken) == (None, {2: sum(1 for o in ended.values() if o == "failed")})


def _form_fields(page: str, form_id: str) -> dict[str, str]:
    """The hidden fields of one form of a page, as a browser would send them."""
    from html.parser import HTMLParser

    fields: dict[str, str] = {}

    class Form(HTMLParser):
        inside = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if tag == "form":
                self.inside = found.get("id") == form_id
            elif tag == "input" and self.inside and found.get("type") == "hidden":
                fields[str(found["name"])] = str(found.get("value") or "")

        def handle_endtag(self, tag: str) -> None:
            if tag == "form":
                self.inside = False

    Form().feed(page)
    return fields


def test_the_consoles_recycle_form_sent_twice_makes_one_wave(running: Running, tmp_path: Path) -> None:
    imported = import_file(
        running.settings, ImportRequest(contacts(tmp_path / "c.csv", 12), MappingSpec(), "4242", "1")
    )
    assert imported.job_id == 1
    ended = _called(running.settings.db_url, 1, 12)
    unreached = sorted(n for n, o in ended.items() if o in ("failed", "rejected"))
    session, _ = api_session(running.url)
    form = _form_fields(session.get(running.url + "/jobs/1", timeout=10).text, "recycle-form")
    assert len(form.get("submit_token", "")) >= 16
    data = {**form, "outcome": ["failed", "rejected"]}
    # A double click: two submissions of the same form at the same moment, then the browser's
    # "resubmit the form?" later.
    replies: list[requests.Response] = []
    start = threading.Barrier(2)

    def submit() -> None:
        start.wait()
        replies.append(session.post(f"{running.url}/jobs/1/recycle", data=data, timeout=30, allow_redirects=False))

    clicks = [threading.Thread(target=submit) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(timeout=60)
    replies.append(session.post(f"{running.url}/jobs/1/recycle", data=data, timeout=30, allow_redirects=False))
    assert [r.status_code for r in replies] == [302, 302, 302]
    # Every submission lands on the one wave made.
    assert {r.headers["Location"].rstrip("/").rsplit("/", 1)[-1] for r in replies} == {"2"}
    assert _job_ids(running.settings.db_url) == [1, 2]
    assert _numbers(running.settings.db_url, 2) == unreached
    shown = session.get(running.url + "/jobs/2", timeout=10).text
    assert "no second wave was made" in shown or "Wave 2 is job 2" in shown
    # A fresh form (the page shown again) finds nothing left to take, and says so.
    fresh = {**_form_fields(session.get(running.url + "/jobs/1", timeout=10).text, "recycle-form")}
    assert fresh["submit_token"] != form["submit_token"]
    after = session.post(f"{running.url}/jobs/1/recycle", data={**fresh, "outcome": ["failed"]}, timeout=30)
    assert "already in a wave" in after.text
    assert _job_ids(running.settings.db_url) == [1, 2]


def test_the_api_recycle_with_a_submit_token_is_idempotent(running: Running, tmp_path: Path) -> None:
    assert import_file(
        running.settings, ImportRequest(contacts(tmp_path / "c.csv", 9), MappingSpec(), "4242", "1")
    ).job_id
    _called(running.settings.db_url, 1, 9)
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    body = {"outcomes": ["failed"], "submit_token": "script-run-0001-abcdef"}
    first = session.post(f"{running.url}/api/jobs/1/recycle", json=body, **post).json()
    again = session.post(f"{running.url}/api/jobs/1/recycle", json=body, **post).json()
    assert (first["job_id"], first["created"], first["replayed"]) == (2, True, False)
    assert (again["job_id"], again["created"], again["replayed"], again["rows"]) == (2, False, True, first["rows"])
    other = session.post(f"{running.url}/api/jobs/1/recycle", json={"outcomes": ["failed"]}, **post).json()
    assert (other["job_id"], other["created"]) == (None, False)
    assert other["already_in_waves"] == [{"job_id": 2, "rows": first["rows"]}]
    bad = session.post(f"{running.url}/api/jobs/1/recycle", json={**body, "submit_token": "x"}, **post)
    assert bad.status_code == 400
    assert "submit_token" in bad.json()["error"]
