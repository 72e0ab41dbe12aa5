"""The workers of one job, as ``status`` and a test send on many workers see them (issue 20).

Several ``batchqueue run`` processes may send one job: each registers, beats, and signs off; a
test send (``run --limit N``) is N rows for the job whoever claims them; and a worker starting
next to others sees which rows they hold. Run against SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from batchqueue.errors import UsageError
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Attempt, Ledger, Settlement, open_ledger
from batchqueue.lifecycle import Event
from tests.sandbox_helpers import contacts


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path) -> Iterator[Ledger]:
    ledger = open_ledger(ledger_url)
    result = import_file(ledger, contacts(tmp_path / "c.csv", 12), MappingSpec(), survey_id="7", instance_id="1")
    assert result.job_id == 1
    yield ledger
    ledger.engine.dispose()


def _silence(ledger: Ledger, worker_id: str) -> None:
    """The worker's last heartbeat long ago (1970): it died without signing off."""
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE workers SET heartbeat_at = 1 WHERE id = :w"), {"w": worker_id})


def _claim(ledger: Ledger, worker_id: str, want: int) -> int:
    """How many rows a worker of a test send got when it asked for ``want``."""
    return len(ledger.settle(1, [], [], want, owner=worker_id, budget=True).claimed)


def test_status_shows_each_running_workers_host_pid_progress_and_pace(ledger: Ledger) -> None:
    ledger.register_worker("B", 1, "host-b", 202)
    ledger.register_worker("A", 1, "host-a", 101)
    ledger.register_worker("C", 1, "host-c", 303)
    with ledger.engine.begin() as conn:  # A started first, then B (whatever order they registered in)
        conn.execute(text("UPDATE workers SET started_at = 10 WHERE id = 'A'"))
        conn.execute(text("UPDATE workers SET started_at = 20 WHERE id = 'B'"))
    ledger.heartbeat("A", sent=7, rate=2.5, lease_ttl=60, slowed_by="429")
    ledger.stop_worker("C", sent=3)
    shown = ledger.live_workers(1)
    assert [(w.id, w.host, w.pid, w.sent, w.rate, w.slowed_by) for w in shown] == [
        ("A", "host-a", 101, 7, 2.5, "429"),
        ("B", "host-b", 202, 0, 0.0, None),
    ]
    assert [w.started_at for w in shown] == [10, 20]
    assert all(w.heartbeat_at > 1 for w in shown)
    _silence(ledger, "B")
    assert [w.id for w in ledger.live_workers(1)] == ["A"]
    assert ledger.live_workers(2) == []


def test_a_silent_worker_that_beats_again_is_live_again(ledger: Ledger) -> None:
    ledger.register_worker("A", 1, "h", 1)
    _silence(ledger, "A")
    assert ledger.live_workers(1) == []
    ledger.heartbeat("A", sent=1, rate=1.0, lease_ttl=60)
    assert [w.id for w in ledger.live_workers(1)] == ["A"]


def test_a_worker_that_signs_off_keeps_what_it_sent_and_leaves_status(ledger: Ledger) -> None:
    ledger.register_worker("A", 1, "host-a", 101)
    ledger.heartbeat("A", sent=4, rate=3.0, lease_ttl=60, slowed_by="5xx")
    ledger.register_worker("B", 1, "host-b", 202)
    ledger.stop_worker("A", sent=9)
    assert [w.id for w in ledger.live_workers(1)] == ["B"]
    with ledger.engine.connect() as conn:
        a = conn.execute(
            text("SELECT sent, rate, slowed_by, stopped_at, heartbeat_at FROM workers WHERE id = 'A'")
        ).one()
    assert (a.sent, a.rate, a.slowed_by) == (9, 0.0, None)
    assert a.stopped_at is not None
    assert a.stopped_at == a.heartbeat_at


def test_a_test_send_on_many_workers_claims_its_limit_for_the_job(ledger: Ledger) -> None:
    """``run --limit 5`` on workers A and B: 5 rows in all, however the claims fall."""
    ledger.join_budget(1, "A", 5, live_within=60)
    ledger.register_worker("A", 1, "h", 1)
    ledger.join_budget(1, "B", 5, live_within=60)
    ledger.register_worker("B", 1, "h", 2)
    assert _claim(ledger, "A", 4) == 4
    assert _claim(ledger, "B", 4) == 1
    assert _claim(ledger, "A", 4) == 0
    assert ledger.counts(1)["sending"] == 5
    # A third worker joining late shares what is left (nothing), it does not start 5 more.
    ledger.join_budget(1, "C", 5, live_within=60)
    ledger.register_worker("C", 1, "h", 3)
    assert _claim(ledger, "C", 4) == 0


def test_a_different_limit_next_to_live_workers_is_refused(ledger: Ledger) -> None:
    ledger.join_budget(1, "A", 5, live_within=60)
    ledger.register_worker("A", 1, "h", 1)
    assert _claim(ledger, "A", 2) == 2
    with pytest.raises(UsageError, match=r"--limit 3: 1 live worker\(s\) of job 1 share a test send of --limit 5"):
        ledger.join_budget(1, "B", 3, live_within=60)
    assert _claim(ledger, "A", 10) == 3  # the refused worker changed nothing


@pytest.mark.parametrize("gone", ["signed off", "silent"])
def test_once_its_workers_are_gone_a_test_send_starts_afresh(ledger: Ledger, gone: str) -> None:
    """The next ``run --limit 2`` after a finished (or dead) test send of 5 is a new send of 2, even
    while a worker of the job that is no part of the test send (a plain ``run``) is live."""
    ledger.register_worker("plain", 1, "h", 9)
    ledger.join_budget(1, "A", 5, live_within=60)
    ledger.register_worker("A", 1, "h", 1)
    assert _claim(ledger, "A", 5) == 5
    if gone == "signed off":
        ledger.stop_worker("A", sent=5)
    else:
        _silence(ledger, "A")
    ledger.join_budget(1, "B", 2, live_within=60)
    ledger.register_worker("B", 1, "h", 2)
    assert _claim(ledger, "B", 10) == 2
    assert ledger.counts(1)["sending"] == 7


def test_a_test_send_lives_while_any_of_its_workers_does(ledger: Ledger, tmp_path: Path) -> None:
    """A and B share job 1's ``--limit 5``; Z alone sends job 2's ``--limit 1``. Once A stops, B still
    holds job 1's test send; and job 2's is still Z's alone."""
    second = import_file(ledger, contacts(tmp_path / "d.csv", 3), MappingSpec(), survey_id="8", instance_id="1")
    assert second.job_id == 2
    ledger.join_budget(2, "Z", 1, live_within=60)
    ledger.register_worker("Z", 2, "h", 26)
    ledger.join_budget(1, "A", 5, live_within=60)
    ledger.register_worker("A", 1, "h", 1)
    ledger.join_budget(1, "B", 5, live_within=60)
    ledger.register_worker("B", 1, "h", 2)
    ledger.stop_worker("A", sent=0)
    with pytest.raises(UsageError, match=r"--limit 3: 1 live worker\(s\) of job 1 share a test send of --limit 5"):
        ledger.join_budget(1, "C", 3, live_within=60)
    with pytest.raises(UsageError, match=r"--limit 2: 1 live worker\(s\) of job 2 share a test send of --limit 1"):
        ledger.join_budget(2, "Y", 2, live_within=60)


def test_a_worker_rejoining_its_own_test_send_gets_no_second_budget(ledger: Ledger) -> None:
    """A worker id already among the members (a restart that reuses it) is no live partner of itself."""
    ledger.join_budget(1, "A", 5, live_within=60)
    ledger.register_worker("A", 1, "h", 1)
    assert _claim(ledger, "A", 3) == 3
    ledger.join_budget(1, "A", 2, live_within=60)  # only itself: a new test send of 2
    assert _claim(ledger, "A", 10) == 2


def test_a_starting_worker_sees_the_rows_other_workers_hold_and_their_leases(ledger: Ledger) -> None:
    mine = ledger.settle(1, [], [], 2, owner="A", lease_ttl=300).claimed
    theirs = ledger.settle(1, [], [], 3, owner="B", lease_ttl=300).claimed
    unowned = ledger.settle(1, [], [], 1).claimed  # a single runner's claim names no owner
    seen = ledger.others_sending(1, "A")
    assert sorted(seen) == sorted(c.row_id for c in theirs + unowned)
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE rows SET lease_expires = 1234 WHERE lease_owner = 'B'"))
    assert {ledger.others_sending(1, "A")[c.row_id] for c in theirs} == {1234}
    assert ledger.others_sending(2, "A") == {}
    assert {c.row_id for c in mine}.isdisjoint(ledger.others_sending(1, "A"))


def test_a_heartbeat_counts_the_leases_it_renewed_and_only_rows_still_sending(ledger: Ledger) -> None:
    ledger.register_worker("A", 1, "h", 1)
    assert ledger.heartbeat("A", sent=0, rate=0.0, lease_ttl=60) == 0  # holds nothing yet
    held = ledger.settle(1, [], [], 3, owner="A", lease_ttl=60).claimed
    ledger.record([Settlement(held[0].row_id, Event.ACCEPTED, [Attempt("queued", 200, "c-1")], call_id="c-1")])
    assert ledger.heartbeat("A", sent=1, rate=1.0, lease_ttl=60) == 2
    with ledger.engine.connect() as conn:
        settled = conn.execute(text("SELECT lease_expires FROM rows WHERE id = :i"), {"i": held[0].row_id}).scalar()
        renewed = conn.execute(text("SELECT MIN(lease_expires) FROM rows WHERE state = 'sending'")).scalar()
    assert settled is None or settled < renewed


def test_the_shared_pace_hands_out_its_first_slot_now(ledger: Ledger) -> None:
    """The first worker's first request may leave at once; the next batch waits count / rate."""
    before = time.time()
    first = ledger.take_slots(1, 5, 1.0)
    after = time.time()
    assert before <= first <= after
    assert ledger.take_slots(1, 5, 1.0) == pytest.approx(first + 5.0, abs=0.5)
