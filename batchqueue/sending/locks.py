"""One submitter per job of an SQLite ledger: an exclusive lock per job on the ledger file itself,
so different jobs of one ledger are sent at the same time (their writes take turns in SQLite).

The lock is an open-file-description lock (``F_OFD_SETLK``) on one byte far past SQLite's own
lock bytes, at ``LOCK_BASE + job_id``. Being on the file itself, it is met by every name the
file has: the same path, a relative path, a symlink, or a hard link in another folder (a lock
file *beside* the name, keyed by ``realpath``, missed the hard link and 86 numbers were called
twice). The kernel releases it when the holder dies, even by ``kill -9``.

Why the descriptors are never closed: ``close()`` of *any* descriptor of a file drops every POSIX
lock the process holds on it, and SQLite's locks on the ledger are POSIX locks. A descriptor is
unlocked and kept in a pool for the next lock on the same file instead. A small file beside the
real name still says who holds the lock, for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
import time
from pathlib import Path
from types import TracebackType

from batchqueue.errors import LedgerBusyError

#: The first byte of the per-job locks: far beyond SQLite's lock bytes (at 1 GiB) and any real file.
LOCK_BASE = 1 << 48

_pool: dict[tuple[int, int], list[int]] = {}
_pool_guard = threading.Lock()


def _flock(kind: int, start: int) -> bytes:
    """A ``struct flock`` for one byte at ``start`` (l_pid must be 0 for an OFD lock)."""
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, start, 1, 0)


def _descriptor(path: Path) -> tuple[tuple[int, int], int]:
    """A descriptor of the file at ``path`` (an idle pooled one if there is), and its device+inode."""
    info = os.stat(path)
    key = (info.st_dev, info.st_ino)
    with _pool_guard:
        idle = _pool.get(key)
        if idle:
            return key, idle.pop()
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    info = os.fstat(fd)
    return (info.st_dev, info.st_ino), fd


def _give_back(key: tuple[int, int], fd: int) -> None:
    with _pool_guard:
        _pool.setdefault(key, []).append(fd)


class RunLock:
    """Usage: ``with RunLock(Path("batchqueue.db"), job_id): ...`` — LedgerBusyError if taken."""

    def __init__(self, database: Path, job_id: int) -> None:
        self.database = Path(database)
        real = Path(os.path.realpath(database))
        self.note = real.with_name(f"{real.name}.run-lock-{int(job_id)}")
        self.job_id = job_id
        self._held: tuple[tuple[int, int], int] | None = None

    def __enter__(self) -> RunLock:
        key, fd = _descriptor(self.database)
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, LOCK_BASE + int(self.job_id)))
        except OSError:
            _give_back(key, fd)
            raise LedgerBusyError(
                f"another `batchqueue run` is sending job {self.job_id} of this ledger ({self._holder()}); "
                "wait for it to finish or stop it (Ctrl-C), then run again"
            ) from None
        self._held = (key, fd)
        with contextlib.suppress(OSError):  # the note is a courtesy for the message; the lock is what counts
            self.note.write_text(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        return self

    def _holder(self) -> str:
        try:
            return self.note.read_text(errors="replace").strip()[:200] or "another process"
        except OSError:
            return "another process (reached by another name of the same file)"

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._held is not None:
            key, fd = self._held
            self._held = None
            with contextlib.suppress(OSError):
                self.note.unlink()
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_UNLCK, LOCK_BASE + int(self.job_id)))
            _give_back(key, fd)
