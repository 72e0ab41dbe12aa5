"""One submitter per job of an SQLite ledger: an exclusive lock on a file beside it, one per job,
so different jobs of one ledger are sent at the same time (their writes take turns in SQLite).

``flock`` is released by the kernel when the holder dies, even by ``kill -9``, so a crash never
leaves a stale lock behind. (A PostgreSQL ledger allows many workers and needs no such lock.)
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from batchqueue.errors import LedgerBusyError


class RunLock:
    """Usage: ``with RunLock(Path("batchqueue.db"), job_id): ...`` — LedgerBusyError if taken."""

    def __init__(self, database: Path, job_id: int) -> None:
        # The real file, not the name it was reached by: a symlink or a relative path to the same
        # ledger must meet the same lock.
        real = Path(os.path.realpath(database))
        self.path = real.with_name(f"{real.name}.run-lock-{int(job_id)}")
        self.job_id = job_id
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LedgerBusyError(
                f"another `batchqueue run` is sending job {self.job_id} of this ledger ({holder}); "
                "wait for it to finish or stop it (Ctrl-C), then run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
