"""One ledger contract, run against SQLite and PostgreSQL (as huey runs one storage suite on all)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from batchqueue.callbacks.call_details import CallDetails
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Attempt, Ledger, Settlement, open_ledger
from batchqueue.ledger.database import SCHEMA_REVISION, alembic_config
from batchqueue.lifecycle import Event
from batchqueue.reports import export_job
from batchqueue.sandbox import Sandbox
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, point_at


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path) -> Iterator[Ledger]:
    ledger = open_ledger(ledger_url)
    result = import_file(ledger, contacts(tmp_path / "c.csv", 40), MappingSpec(), survey_id="7", instance_id="1")
    assert result.job_id == 1
    yield ledger
    ledger.engine.dispose()


def _rows(ledger: Ledger) -> list[dict[str, object]]:
    with ledger.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM rows WHERE job_id = 1 ORDER BY id"))]


def test_schema_is_at_head_without_drift(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_REVISION
        command.check(alembic_config(ledger.engine, conn))


def test_commits_are_durable(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        else:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_import_counts_and_idempotence(ledger: Ledger, tmp_path: Path) -> None:
    assert ledger.counts(1)["pending"] == 40
    again = import_file(ledger, tmp_path / "c.csv", MappingSpec(), survey_id="7", instance_id="1")
    assert (again.job_id, again.created) == (1, False)
    assert [r["row_number"] for r in _rows(ledger)] == list(range(2, 42))


def test_claim_record_release_and_the_attempts_log(ledger: Ledger) -> None:
    claimed = ledger.settle(1, [], [], 5, owner="w1", lease_ttl=30).claimed
    assert [c.row_number for c in claimed] == [2, 3, 4, 5, 6]
    rows = {r["id"]: r for r in _rows(ledger)}
    assert all(rows[c.row_id]["state"] == "sending" and rows[c.row_id]["lease_owner"] == "w1" for c in claimed)
    retried = Attempt("not_sent", error="refused")
    ledger.settle(
        1,
        [
            Settlement(claimed[0].row_id, Event.ACCEPTED, [retried, Attempt("queued", 200, "91")], "91", None, 200),
            Settlement(claimed[1].row_id, Event.REFUSED, [Attempt("rejected", 400, error="bad")], None, "bad", 400),
            Settlement(claimed[2].row_id, Event.AMBIGUOUS, [Attempt("ambiguous", 500)], None, "HTTP 500", 500),
        ],
        [claimed[3].row_id],
        0,
    )
    rows = {r["id"]: r for r in _rows(ledger)}
    assert (rows[claimed[0].row_id]["state"], rows[claimed[0].row_id]["call_id"]) == ("queued", "91")
    assert rows[claimed[0].row_id]["attempts"] == 2
    assert rows[claimed[1].row_id]["error"] == "bad"
    assert rows[claimed[2].row_id]["state"] == "uncertain"
    assert (rows[claimed[3].row_id]["state"], rows[claimed[3].row_id]["attempts"]) == ("pending", 0)
    with ledger.engine.connect() as conn:
        log = conn.execute(text("SELECT row_id, outcome FROM attempts ORDER BY id")).all()
    assert sorted(o or "(open)" for _, o in log) == ["(open)", "ambiguous", "not_sent", "queued", "rejected"]
    assert ledger.counts(1)["sending"] == 1


def test_recover_sending_all_or_only_expired_leases(ledger: Ledger) -> None:
    live = ledger.settle(1, [], [], 2, owner="alive", lease_ttl=300).claimed
    dead = ledger.settle(1, [], [], 3, owner="dead", lease_ttl=300).claimed
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE rows SET lease_expires = 1 WHERE lease_owner = 'dead'"))
    assert ledger.recover_sending(1, expired_only=True) == 3
    states = {r["id"]: r["state"] for r in _rows(ledger)}
    assert {states[c.row_id] for c in dead} == {"uncertain"}
    assert {states[c.row_id] for c in live} == {"sending"}
    assert ledger.recover_sending(1) == 2  # a single runner: every leftover is an orphan


def test_concurrent_claims_never_overlap(ledger: Ledger) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while claimed := ledger.settle(1, [], [], 3, owner=name).claimed:
            with lock:
                got.extend(c.row_id for c in claimed)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 40
    assert len(set(got)) == 40


def test_outcomes_tokens_and_precedence(ledger: Ledger) -> None:
    claimed = ledger.claim(1, 2)
    ledger.record([Settlement(claimed[0].row_id, Event.AMBIGUOUS, [Attempt("ambiguous")])])
    row = claimed[0]
    assert row.token is not None
    verdicts = ledger.apply_outcomes(
        [
            (row.row_id, "f" * 32, CallDetails("completed")),
            (row.row_id, row.token, CallDetails("dialing")),
            (row.row_id, row.token, CallDetails("completed", attempts=1)),
            (row.row_id, row.token, CallDetails("completed", attempts=1)),
            (row.row_id, row.token, CallDetails("dialing")),
        ],
        source="callback",
    )
    assert verdicts == ["unknown", "recorded", "recorded", "unchanged", "unchanged"]
    stored = next(r for r in _rows(ledger) if r["id"] == row.row_id)
    assert (stored["state"], stored["outcome_status"]) == ("queued", "completed")
    assert "resolved by callback" in str(stored["resolution"])
    # The first final outcome stands: later, different final ones are kept in the history and counted.
    later = [CallDetails(s, raw={"status": s}) for s in ("failed", "rejected", "canceled", "completed")]
    verdicts = ledger.apply_outcomes([(row.row_id, row.token, d) for d in later], source="callback")
    assert verdicts == ["conflict", "conflict", "conflict", "unchanged"]
    stored = next(r for r in _rows(ledger) if r["id"] == row.row_id)
    assert (stored["state"], stored["outcome_status"], stored["outcome_conflicts"]) == ("queued", "completed", 3)
    history = ledger.outcome_history(row.row_id)
    assert [(e["status"], e["verdict"]) for e in history] == [
        ("dialing", "recorded"),
        ("completed", "recorded"),
        ("failed", "conflict"),
        ("rejected", "conflict"),
        ("canceled", "conflict"),
    ]
    assert '"rejected"' in history[3]["payload"]
    # A status longer than the old 16-character column is stored whole on every backend.
    other = claimed[1]
    long_status = "completed_with_voicemail"
    assert ledger.apply_outcomes([(other.row_id, None, CallDetails(long_status))], source="poll") == ["recorded"]
    assert next(r for r in _rows(ledger) if r["id"] == other.row_id)["outcome_status"] == long_status


def test_retry_cancel_and_reconcile(ledger: Ledger) -> None:
    claimed = ledger.claim(1, 4)
    ledger.record(
        [Settlement(c.row_id, Event.REFUSED, [Attempt("rejected", 400)], None, "bad", 400) for c in claimed[:2]]
        + [Settlement(c.row_id, Event.AMBIGUOUS, [Attempt("ambiguous")]) for c in claimed[2:]]
    )
    assert ledger.retry_rows(1, status_code=500) == 0
    assert ledger.retry_rows(1, error_contains="bad") == 2
    unproven = ledger.unproven(1, grace=0, now=time.time() + 1)
    assert [u.row_id for u in unproven] == [c.row_id for c in claimed[2:]]
    assert ledger.resend_unproven(1, [u.row_id for u in unproven]) == 2
    assert ledger.cancel_pending(1) == 40
    assert ledger.counts(1)["canceled"] == 40


def test_shared_pace_hands_out_distinct_slots(ledger: Ledger) -> None:
    first = ledger.take_slots(1, 5, 10.0)
    second = ledger.take_slots(1, 5, 10.0)
    assert second == pytest.approx(first + 0.5, abs=0.05)


def test_export_reads_back_in_input_order(ledger: Ledger, tmp_path: Path) -> None:
    result = export_job(ledger, 1, tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()
    assert result.rows == 40
    assert [line.split(",")[0] for line in lines[1:4]] == ["2", "3", "4"]


def test_a_real_run_through_the_cli(ledger_url: str, ledger: Ledger, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with Sandbox() as sb:
        sb.config.surveys["7"] = "1"
        point_at(monkeypatch, sb)
        result: CliResult = run_cli("run", "1", "--db", ledger_url, "--rate", "0", "--concurrency", "4", "--json")
        calls = sb.app.store.dump()
    assert result.code == 0, result.err
    assert result.json()["queued"] == 40
    assert len({c["phone_number"] for c in calls}) == 40
    status = run_cli("status", "1", "--db", ledger_url, "--json").json()
    assert status["counts"]["queued"] == 40
    assert status["workers"] == []  # the run stopped: no live worker left


def test_a_long_call_id_is_kept_whole(ledger: Ledger) -> None:
    """PostgreSQL once cut call ids to 64 characters without a word."""
    row = ledger.claim(1, 1)[0]
    call_id = "call-" + "7" * 200
    ledger.record([Settlement(row.row_id, Event.ACCEPTED, [Attempt("queued", 200, call_id)], call_id)])
    stored = next(r for r in _rows(ledger) if r["id"] == row.row_id)
    assert (stored["state"], stored["call_id"]) == ("queued", call_id)


def test_a_shared_test_send_keeps_one_limit_while_its_workers_live(ledger: Ledger) -> None:
    """``run --limit N`` on many workers: N rows for the job. A worker that joins with another N is
    refused while one sharing the budget is live (resetting it would let the send pass either limit);
    once they are gone, a new test send starts afresh."""
    from batchqueue.errors import UsageError

    for worker in ("a", "b", "c"):
        ledger.register_worker(worker, 1, "host", 1)
    ledger.join_budget(1, "a", 5, live_within=60)
    assert len(ledger.settle(1, [], [], 3, owner="a", budget=True).claimed) == 3
    with pytest.raises(UsageError, match=r"--limit 7: 1 live worker\(s\) of job 1 share a test send of --limit 5"):
        ledger.join_budget(1, "b", 7, live_within=60)
    ledger.join_budget(1, "b", 5, live_within=60)  # the same limit: joins, and finds 2 rows left
    assert len(ledger.settle(1, [], [], 10, owner="b", budget=True).claimed) == 2
    assert ledger.settle(1, [], [], 10, owner="a", budget=True).claimed == []
    ledger.stop_worker("a", sent=3)
    ledger.stop_worker("b", sent=2)
    ledger.join_budget(1, "c", 7, live_within=60)  # nobody shares it now: a new test send of 7
    assert len(ledger.settle(1, [], [], 10, owner="c", budget=True).claimed) == 7
    assert ledger.counts(1)["sending"] == 12
