"""The callback spool: accepted callbacks, appended and fsynced to a file beside the ledger.

A callback is acknowledged once it is durable here, not once the ledger holds it: a ledger that is
busy for minutes (a large SQLite import holds the write lock) or down must not cost an outcome,
because nothing documents that Insight sends a callback again. The ledger stores how far it has
applied each spool file in the same transaction as the outcomes, so every spooled callback is
applied exactly once across crashes of ``serve`` or of the ledger.

Layout: ``<folder>/spool-<id>.jsonl``; the first line is ``{"spool": "<id>"}``, then one JSON
record per line. Each ``serve`` process writes its own file and holds an ``flock`` on it; a file
nobody holds belongs to a ``serve`` that died, and the next one replays it.

Only whole, fsynced groups of lines count: a write cut short (a full disk) is cut off the file
before the callback is refused, and the file is cut back again before the next append if that
failed too, so a later record is never glued to a torn one. Whatever else is found that is not a
record (a line torn by a crash, bytes that are not JSON, the NUL run a power cut leaves) is
returned as :class:`Damaged` for the quarantine; a whole record glued after it is still read.

Usage::

    spool = SpoolFile.create(folder)
    ends = spool.append([SpoolFile.line({"row": 7, "token": "…", "details": {...}, "at": 1796133600.0})])
    batch = spool.read(position)        # batch.records, batch.damaged, batch.end
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from batchqueue.errors import EnvironmentFailure, UsageError
from batchqueue.whole_files import fsync_folder

_PREFIX, _SUFFIX = "spool-", ".jsonl"
#: The longest line a record can take: a 64 KiB body whose every character is escaped is ~400 KiB.
#: A longer line is damage; at most this much of it is kept.
MAX_LINE = 1 << 20
#: How every record line starts (``line`` writes the keys in this order, without spaces).
_RECORD_START = b'{"row":'
#: How many places a damaged line is tried from for a whole record glued to its end.
_SALVAGE_TRIES = 64
#: How many damaged bytes one read keeps at most before it returns (the rest wait for the next read).
_DAMAGE_PER_READ = 4 * MAX_LINE


@dataclass(frozen=True)
class Spooled:
    """One accepted callback as it was spooled, and the byte position just after it."""

    row_id: int
    token: str
    details: dict[str, Any]
    received_at: float
    end: int


@dataclass(frozen=True)
class Damaged:
    """Bytes of a spool file that are no record: ``length`` bytes at ``offset``, the first
    :data:`MAX_LINE` of them in ``data``, and why they cannot be read."""

    offset: int
    length: int
    data: bytes
    reason: str


@dataclass
class Batch:
    """What one read found after a position: records, damaged stretches, and where it stopped."""

    records: list[Spooled] = field(default_factory=list)
    damaged: list[Damaged] = field(default_factory=list)
    end: int = 0


def spool_folder_for(db_path: str | None) -> Path:
    """The default folder: beside an SQLite ledger (its real path), else ``./batchqueue-callbacks``."""
    if db_path:
        real = Path(os.path.realpath(db_path))
        return real.with_name(real.name + ".callbacks")
    return Path("batchqueue-callbacks").resolve()


def append_whole(fd: int, data: bytes, start: int) -> None:
    """Write ``data`` at ``start`` (the end of what is whole) and fsync; on any failure the file is
    cut back to ``start`` (OSError): a write cut short by a full disk never stays behind."""
    size = os.fstat(fd).st_size
    if size > start:  # an earlier failure could not cut it back: try again before appending
        os.ftruncate(fd, start)
        os.fsync(fd)
    elif size < start:
        raise OSError(errno.EIO, f"the file is {start - size} byte(s) shorter than what was written to it")
    try:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, start + len(data) - len(view))
            if written <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
        os.fsync(fd)
    except OSError:
        try:
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError:
            pass  # cut back before the next append (above), which refuses to go on until it is
        raise


def append_lines(path: Path, data: bytes) -> None:
    """Append whole lines to a file of JSON lines of this folder (created 0600), fsynced, after its
    last whole line: a line a crash or a full disk cut short there is cut off first."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        append_whole(fd, data, _whole_end(fd))
    finally:
        os.close(fd)


def _whole_end(fd: int) -> int:
    """Where the last whole line of a file ends."""
    position = os.fstat(fd).st_size
    while position > 0:
        start = max(0, position - 4096)
        newline = os.pread(fd, position - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def _record(line: bytes, end: int) -> Spooled:
    record = json.loads(line)
    details = record["details"]
    if not isinstance(details, dict):
        raise TypeError("details is not an object")
    return Spooled(int(record["row"]), str(record["token"]), details, float(record["at"]), end)


def _salvage(line: bytes, end: int, *, lowest: int) -> tuple[int, Spooled] | None:
    """A whole record at the end of a damaged line (a record appended after a torn one), if any:
    its start in ``line`` (not before ``lowest``), and the record."""
    at = len(line)
    for _ in range(_SALVAGE_TRIES):
        at = line.rfind(_RECORD_START, lowest, at)
        if at < 0:
            return None
        try:
            return at, _record(line[at:], end)
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
    return None


class SpoolFile:
    """One spool file, held (flock) by this process for as long as it is open."""

    def __init__(self, path: Path, spool_id: str, fd: int, header_end: int, end: int) -> None:
        self.path, self.id, self._fd, self.header_end = path, spool_id, fd, header_end
        #: Where what is whole ends: reads stop here, the next append starts here.
        self.end = end

    @classmethod
    def create(cls, folder: Path) -> SpoolFile:
        """A new, empty spool file with a fresh id, durable (file and folder entry) before it is used.

        UsageError if the folder cannot be made or written in; EnvironmentFailure if the disk fails.
        """
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the callback spool folder {folder}: {exc.strerror or exc}") from None
        spool_id = secrets.token_hex(8)
        path = folder / f"{_PREFIX}{spool_id}{_SUFFIX}"
        header = (json.dumps({"spool": spool_id}) + "\n").encode()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot write the callback spool in {folder}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            append_whole(fd, header, 0)
            fsync_folder(folder)
        except OSError as exc:  # the folder is there and ours: the disk failed (full)
            os.close(fd)
            path.unlink(missing_ok=True)
            raise EnvironmentFailure(f"cannot write the callback spool in {folder}: {exc.strerror or exc}") from None
        return cls(path, spool_id, fd, len(header), len(header))

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
            first = f.readline(MAX_LINE)
        try:
            spool_id = str(json.loads(first)["spool"])
        except (ValueError, KeyError, TypeError):
            spool_id = path.stem.removeprefix(_PREFIX)  # a header torn by a crash: the name carries the id
        header_end = len(first) if first.endswith(b"\n") else 0
        return cls(path, spool_id, fd, header_end, os.fstat(fd).st_size)

    @staticmethod
    def orphans(folder: Path, *, besides: str | None = None) -> list[Path]:
        """Spool files in ``folder`` other than ``besides`` (by id), oldest first."""
        if not folder.is_dir():
            return []
        found = [p for p in folder.glob(f"{_PREFIX}*{_SUFFIX}") if p.stem.removeprefix(_PREFIX) != besides]
        return sorted(found, key=lambda p: p.stat().st_mtime)

    @staticmethod
    def line(record: dict[str, Any]) -> bytes:
        """A record as one spool line (ValueError if it cannot be written as JSON)."""
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode()

    def append(self, lines: Sequence[bytes]) -> list[int]:
        """Append ``lines`` in one write and fsync (OSError, and nothing appended, if that fails);
        returns each one's end position."""
        start = self.end
        append_whole(self._fd, b"".join(lines), start)
        ends, position = [], start
        for line in lines:
            position += len(line)
            ends.append(position)
        self.end = position
        return ends

    def read(self, position: int, until: int | None = None, limit: int = 512) -> Batch:
        """Up to ``limit`` records after byte ``position``, up to ``until`` (default :attr:`end`), and
        whatever is damaged among them; the batch's ``end`` is where the next read starts."""
        position = max(position, self.header_end)
        until = self.end if until is None else min(until, self.end)
        batch, kept = Batch(end=position), 0
        with os.fdopen(os.dup(self._fd), "rb") as f:
            f.seek(position)
            for offset, head, tail, length, whole in _lines(f, position, until):
                batch.end = offset + length
                if whole and head is tail:
                    try:
                        batch.records.append(_record(head, batch.end))
                    except (ValueError, KeyError, TypeError, RecursionError):
                        pass
                    else:
                        if len(batch.records) >= limit:
                            break
                        continue
                salvaged = _salvage(tail, batch.end, lowest=1 if head is tail else 0) if whole else None
                damaged = length if salvaged is None else length - (len(tail) - salvaged[0])
                data = head[:damaged]
                batch.damaged.append(Damaged(offset, damaged, data, _why(data, whole, salvaged is not None)))
                kept += len(data)
                if salvaged is not None:
                    batch.records.append(salvaged[1])
                if len(batch.records) >= limit or kept >= _DAMAGE_PER_READ:
                    break
        return batch

    def remove(self) -> None:
        """Delete the file (fully applied) and let it go."""
        self.path.unlink(missing_ok=True)
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the flock
            self._fd = -1


def _why(data: bytes, whole: bool, glued: bool) -> str:
    """Why ``data`` (a damaged stretch, at most its first MiB) is no record, in words."""
    if data.strip(b"\x00\n") == b"":
        return "a run of NUL bytes (what a power cut leaves of data that was not on disk yet)"
    if not whole:
        return "cut short: the file ends inside this line (a crash or a full disk while it was written)"
    if glued:
        return "cut short, and a whole record written right after it (read on its own)"
    return "not a callback record (damaged or foreign bytes)"


def _lines(f: BinaryIO, position: int, end: int) -> Iterator[tuple[int, bytes, bytes, int, bool]]:
    """(offset, head, tail, length, ends with a newline) of each line from ``position`` to ``end``.

    Memory stays bounded: ``head`` and ``tail`` are a line's first and last :data:`MAX_LINE` bytes
    (the same object for a line no longer than that), kept for the quarantine and for a record
    glued to the end of damage.
    """
    while position < end:
        head = tail = f.readline(min(MAX_LINE, end - position))
        if not head:
            return
        length = len(head)
        while not tail.endswith(b"\n") and position + length < end:
            more = f.readline(min(MAX_LINE, end - position - length))
            if not more:
                break
            length += len(more)
            tail = (tail + more)[-MAX_LINE:]
        yield position, head, tail, length, tail.endswith(b"\n")
        position += length
