"""The per-job run lock on an SQLite ledger: met by every name of the file, harmless to SQLite's own locks."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from batchqueue.errors import LedgerBusyError
from batchqueue.sending.locks import RunLock


def _ledger(tmp_path: Path) -> Path:
    db = tmp_path / "l.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    return db


def test_a_hard_link_in_another_folder_meets_the_same_lock_and_another_job_does_not(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    (tmp_path / "other").mkdir()
    alias = tmp_path / "other" / "alias.db"
    os.link(db, alias)
    with RunLock(db, 1):
        with pytest.raises(LedgerBusyError, match="job 1"):
            RunLock(alias, 1).__enter__()
        with RunLock(alias, 2):  # another job of the same ledger is free
            pass
    with RunLock(alias, 1):  # released: free again, by any name
        pass


def test_releasing_the_lock_keeps_sqlites_own_lock_on_the_ledger(tmp_path: Path) -> None:
    """close() of any descriptor of a file drops the process's POSIX locks, SQLite's included: the
    run lock must never do that to a ledger this process is writing."""
    db = _ledger(tmp_path)
    writer = sqlite3.connect(db, timeout=0, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    for _ in range(3):
        with RunLock(db, 1):
            pass
    script = "import sqlite3, sys; sqlite3.connect(sys.argv[1], timeout=0).execute('INSERT INTO t VALUES (1)')"
    other = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, text=True, check=False)
    writer.execute("ROLLBACK")
    writer.close()
    assert other.returncode != 0, "another process wrote while this one held the ledger"
    assert "database is locked" in other.stderr
