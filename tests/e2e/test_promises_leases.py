"""Leases and claims, as a user of several workers sees them (issue 20, "Tests that let defects through").

A worker holds the rows it claimed under a lease its heartbeat renews. Each test here is about one
promise a planted bug broke without any test noticing: whose leases a heartbeat renews, what a worker
paused past its lease does when it resumes, which rows a new worker may take over, and the call id of
a reply that comes back to a row something else already settled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from batchqueue.callbacks.call_details import CallDetails
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Attempt, Ledger, Settlement, open_ledger
from batchqueue.lifecycle import Event
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sending import submitter
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows_url, point_at, sandbox_phones

Run = Callable[..., CliResult]


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path) -> Iterator[Ledger]:
    ledger = open_ledger(ledger_url)
    result = import_file(ledger, contacts(tmp_path / "c.csv", 12), MappingSpec(), survey_id="7", instance_id="1")
    assert result.job_id == 1
    yield ledger
    ledger.engine.dispose()


def _states(ledger: Ledger) -> dict[int, str]:
    with ledger.engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(text("SELECT id, state FROM rows WHERE job_id = 1"))}


def _expire_every_lease(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE rows SET lease_expires = 1 WHERE state = 'sending'"))


def test_a_heartbeat_keeps_its_own_workers_rows_and_never_a_dead_workers(ledger: Ledger) -> None:
    """Worker A is alive (it beats), worker B died: once both leases ran out, A's beat renews A's
    rows only, so B's rows are found dead (uncertain) and A's stay with A."""
    alive = ledger.settle(1, [], [], 2, owner="A", lease_ttl=300).claimed
    dead = ledger.settle(1, [], [], 3, owner="B", lease_ttl=300).claimed
    _expire_every_lease(ledger)
    assert ledger.heartbeat("A", sent=0, rate=0.0, lease_ttl=300) == 2
    assert ledger.recover_sending(1, expired_only=True) == 3
    states = _states(ledger)
    assert [states[c.row_id] for c in dead] == ["uncertain"] * 3
    assert [states[c.row_id] for c in alive] == ["sending"] * 2


def test_a_new_worker_leaves_rows_whose_leases_are_live_alone(ledger: Ledger) -> None:
    """A worker starting next to a live one (a recovery of expired leases) takes over nothing of
    it: its rows stay sending, are neither uncertain nor claimed again."""
    live = ledger.settle(1, [], [], 4, owner="A", lease_ttl=300).claimed
    assert ledger.recover_sending(1, expired_only=True) == 0
    again = ledger.settle(1, [], [], 100, owner="C", lease_ttl=300).claimed
    assert {c.row_id for c in again}.isdisjoint({c.row_id for c in live})
    assert len(again) == 8
    states = _states(ledger)
    assert [states[c.row_id] for c in live] == ["sending"] * 4


def test_a_call_id_that_comes_back_to_a_row_settled_elsewhere_is_kept(ledger: Ledger) -> None:
    """A paused worker's row was found dead (uncertain), then a callback proved it queued (a callback
    carries no call id); then the paused worker's reply arrives: the settlement is a conflict (the
    row is already queued), but the call id Insight gave is the one proof of that call: it is kept."""
    (row,) = ledger.settle(1, [], [], 1, owner="paused", lease_ttl=300).claimed
    _expire_every_lease(ledger)
    assert ledger.recover_sending(1, expired_only=True) == 1
    ledger.apply_outcomes([(row.row_id, row.token, CallDetails("completed"))], source="callback")
    assert _states(ledger)[row.row_id] == "queued"
    conflicts = ledger.record(
        [Settlement(row.row_id, Event.ACCEPTED, [Attempt("queued", 200, "call-77")], call_id="call-77")]
    )
    assert [(c.row_id, c.found) for c in conflicts] == [(row.row_id, "queued")]
    with ledger.engine.connect() as conn:
        kept = conn.execute(text("SELECT state, call_id FROM rows WHERE id = :i"), {"i": row.row_id}).one()
    assert tuple(kept) == ("queued", "call-77")


class _ShiftedClock:
    """The submitter's ``time`` module with a monotonic clock that can jump ahead, as a process
    stopped (SIGSTOP) and continued sees it; everything else is the real module."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def test_a_worker_paused_past_its_lease_sends_nothing_more_when_it_resumes(
    postgres_url: str, tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While its first request is in flight the worker is 'paused' for longer than its lease (its
    clock jumps ahead; its heartbeat, due every lease/3, has not run): once it resumes, not one
    more request leaves, whatever it had claimed, and it says why it stopped."""
    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", 6), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    clock = _ShiftedClock()
    monkeypatch.setattr(submitter, "time", clock)
    sb = Sandbox(SandboxConfig(faults=Faults(latency_after=1.0))).start()
    done = threading.Event()

    def pause_once_the_first_request_arrives() -> None:
        while not done.is_set() and not sb.app.store.dump():
            time.sleep(0.01)
        clock.ahead = 120.0  # twice the lease: the heartbeat thread sleeps 20 s more before it looks

    pauser = threading.Thread(target=pause_once_the_first_request_arrives, daemon=True)
    try:
        point_at(monkeypatch, sb)
        pauser.start()
        result = run_cli(
            "run", "1", "--db", postgres_url, "--rate", "0", "--concurrency", "1", "--lease-ttl", "60", "--json"
        )
        phones = sandbox_phones(sb)
    finally:
        done.set()
        sb.stop()
    assert sum(phones.values()) == 1, result.err  # only the request that was already in flight
    assert result.code == 5
    assert "lease" in result.err
    summary: Any = SimpleNamespace(**result.json())
    assert summary.exit_reason == "ledger_lost"
    states = sorted(r["state"] for r in ledger_rows_url(postgres_url))
    assert states == ["pending"] * 5 + ["queued"]  # the reply it had was recorded; the rest never left
