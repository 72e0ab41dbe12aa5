"""A write PostgreSQL aborts to break a deadlock with another writer is run again, not taken for a
lost ledger (which would stop the worker). The deadlock here is a real one, between two sessions."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from batchqueue.ledger.database import aborted_for_a_conflict, again_after_a_conflict


def _real_deadlock(url: str) -> DBAPIError:
    """Two sessions each hold one row and ask for the other's: PostgreSQL aborts one of them."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INT PRIMARY KEY, n INT)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    errors: list[DBAPIError] = []
    holding = threading.Barrier(2)

    def crosswise(first: int, second: int) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": first})
                holding.wait(10)
                conn.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": second})
        except DBAPIError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=crosswise, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert len(errors) == 1, errors  # one was the victim; the other committed
    return errors[0]


def test_a_write_aborted_for_a_deadlock_is_run_again(postgres_url: str) -> None:
    deadlock = _real_deadlock(postgres_url)
    assert aborted_for_a_conflict(deadlock)
    runs: list[int] = []

    @again_after_a_conflict
    def settle() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise deadlock
        return "settled"

    assert settle() == "settled"
    assert len(runs) == 2


def test_other_database_errors_are_not_run_again(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with pytest.raises(DBAPIError) as refused, engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        engine.dispose()
    assert not aborted_for_a_conflict(refused.value)
    runs: list[int] = []

    @again_after_a_conflict
    def settle() -> None:
        runs.append(1)
        raise refused.value

    with pytest.raises(DBAPIError):
        settle()
    assert len(runs) == 1  # the caller decides (a lost ledger keeps its fates): not retried blindly
