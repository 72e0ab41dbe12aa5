"""The callback spool: accepted callbacks, appended and fsynced to a file beside the ledger.

A callback is acknowledged once it is durable here, not once the ledger holds it: a ledger that is
busy for minutes (a large SQLite import holds the write lock) or down must not cost an outcome,
because nothing documents that Insight sends a callback again. The ledger stores how far it has
applied each spool file in the same transaction as the outcomes, so every spooled callback is
applied exactly once across crashes of ``serve`` or of the ledger.

Layout: ``<folder>/spool-<id>.jsonl``; the first line is ``{"spool": "<id>"}``, then one JSON
record per line. Each ``serve`` process writes its own file and holds an ``flock`` on it; a file
nobody holds belongs to a ``serve`` that died, and the next one replays it.

Usage::

    spool = SpoolFile.create(folder)
    end = spool.append([{"row": 7, "token": "…", "details": {...}, "at": 1796133600.0}])
    for record in spool.read_from(position): ...
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchqueue.errors import UsageError
from batchqueue.whole_files import fsync_folder

_PREFIX, _SUFFIX = "spool-", ".jsonl"


@dataclass(frozen=True)
class Spooled:
    """One accepted callback as it was spooled, and the byte position just after it."""

    row_id: int
    token: str
    details: dict[str, Any]
    received_at: float
    end: int


def spool_folder_for(db_path: str | None) -> Path:
    """The default folder: beside an SQLite ledger (its real path), else ``./batchqueue-callbacks``."""
    if db_path:
        real = Path(os.path.realpath(db_path))
        return real.with_name(real.name + ".callbacks")
    return Path("batchqueue-callbacks").resolve()


class SpoolFile:
    """One spool file, held (flock) by this process for as long as it is open."""

    def __init__(self, path: Path, spool_id: str, fd: int, header_end: int) -> None:
        self.path, self.id, self._fd, self.header_end = path, spool_id, fd, header_end

    @classmethod
    def create(cls, folder: Path) -> SpoolFile:
        """A new, empty spool file with a fresh id, durable (file and folder entry) before it is used."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the callback spool folder {folder}: {exc.strerror or exc}") from None
        spool_id = secrets.token_hex(8)
        path = folder / f"{_PREFIX}{spool_id}{_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot write the callback spool in {folder}: {exc.strerror or exc}") from None
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        header = (json.dumps({"spool": spool_id}) + "\n").encode()
        os.write(fd, header)
        os.fsync(fd)
        fsync_folder(folder)
        return cls(path, spool_id, fd, len(header))

    @classmethod
    def adopt(cls, path: Path) -> SpoolFile | None:
        """An orphaned spool file (its ``serve`` died), now held by this process; None if it is alive."""
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            first = f.readline()
        try:
            spool_id = str(json.loads(first)["spool"])
        except (ValueError, KeyError, TypeError):
            spool_id = path.stem.removeprefix(_PREFIX)  # a header torn by a crash: the name carries the id
        return cls(path, spool_id, fd, len(first) if first.endswith(b"\n") else 0)

    @staticmethod
    def orphans(folder: Path, *, besides: str | None = None) -> list[Path]:
        """Spool files in ``folder`` other than ``besides`` (by id), oldest first."""
        if not folder.is_dir():
            return []
        found = [p for p in folder.glob(f"{_PREFIX}*{_SUFFIX}") if p.stem.removeprefix(_PREFIX) != besides]
        return sorted(found, key=lambda p: p.stat().st_mtime)

    def append(self, records: Sequence[dict[str, Any]]) -> list[int]:
        """Append ``records`` in one write and fsync; returns each one's end position."""
        lines = [
            (json.dumps(r, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode() for r in records
        ]
        start = os.lseek(self._fd, 0, os.SEEK_END)
        data = b"".join(lines)
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)
        ends, position = [], start
        for line in lines:
            position += len(line)
            ends.append(position)
        return ends

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def read_from(self, position: int, limit: int = 512) -> Iterator[Spooled]:
        """Up to ``limit`` complete records after byte ``position`` (a line torn by a crash is never one)."""
        position = max(position, self.header_end)
        with os.fdopen(os.dup(self._fd), "rb") as f:
            f.seek(position)
            for _ in range(limit):
                line = f.readline()
                if not line.endswith(b"\n"):
                    return
                position += len(line)
                try:
                    record = json.loads(line)
                    yield Spooled(
                        int(record["row"]), str(record["token"]), record["details"], float(record["at"]), position
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # not ours to judge here: it cannot be applied, and it must not block the rest

    def remove(self) -> None:
        """Delete the file (fully applied) and let it go."""
        self.path.unlink(missing_ok=True)
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the flock
            self._fd = -1
