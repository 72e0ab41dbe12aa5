"""A workbook read by a child process under a memory ceiling: the one way batchqueue reads one.

A hostile workbook (a far cell, rows repeated a million times, one long shared string used by every
cell) can make calamine ask for gigabytes, and calamine aborts the process that runs it when an
allocation fails. So the reading is done by a child process, capped (:mod:`.ceiling`): the file's
open handle is passed to it, it checks the workbook before loading it and reads it
(:class:`~batchqueue.intake.sheets.excel.ExcelSource`), and sends back the sheet's rows as text.
If it dies or runs out of memory, this process says so (:func:`.ceiling.too_big`) and goes on:
the console and its callback receiver never go down with a workbook.

A process that is itself a confined reader (the import's validating helper, :func:`.ceiling.confine`)
reads workbooks in-process instead: see :func:`batchqueue.intake.sheets.open_table`.

Usage::

    source = GuardedSource.open(path, opened_file, sheet="Contacts")
    for number, cells in source.raw_rows():
        ...
    source.close()
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle, send_handle
from pathlib import Path
from typing import IO, Any

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import InputFileError, SheetNotFoundError
from batchqueue.intake.sheets.ceiling import confine, too_big
from batchqueue.intake.sheets.table import SourceInfo

#: Rows per message: few at first (a caller that wants only the header gets it at once), then more;
#: and at most about this many characters, however long the cells.
_FIRST_BATCH, _BATCH, _BATCH_CHARS = 40, 2000, 4 * 1024 * 1024
_ERRORS: dict[str, type[InputFileError]] = {"input": InputFileError, "sheet": SheetNotFoundError}


def _start_method() -> str:
    """fork while this process has no other thread (~10 ms), spawn otherwise: a fork copies locks
    other threads may hold (the console's waitress threads)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _read(channel: Connection, path: str, sheet: str | None, header_only: bool, megabytes: int) -> None:
    """The child: capped, it reads the workbook through the handle it is sent and sends its rows."""
    from batchqueue.intake.sheets.excel import ExcelSource  # imported here: the parent never loads calamine

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this child
    with open(os.devnull, "wb") as null:  # all it has to say goes through the channel, never a backtrace
        os.dup2(null.fileno(), 2)
    confine(megabytes)
    try:
        opened = os.fdopen(recv_handle(channel), "rb")
        source = ExcelSource.open(Path(path), opened, sheet, header_only=header_only)
        channel.send_bytes(b"I" + pickle.dumps((source.info, source.progress()[1])))
        batch: list[tuple[int, list[str]]] = []
        size, chars = _FIRST_BATCH, 0
        for row in source.raw_rows():
            batch.append(row)
            chars += sum(map(len, row[1]))
            if len(batch) >= size or chars > _BATCH_CHARS:
                channel.send_bytes(b"R" + marshal.dumps((batch, source.progress())))
                batch, size, chars = [], _BATCH, 0
        channel.send_bytes(b"R" + marshal.dumps((batch, source.progress())))
        channel.send_bytes(b"D")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent has all it wanted (a header) and closed its end
    except InputFileError as exc:
        kind = "sheet" if isinstance(exc, SheetNotFoundError) else "input"
        channel.send_bytes(b"E" + pickle.dumps((kind, exc.message)))
    except MemoryError:
        channel.send_bytes(b"M")
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":  # pyo3's: calamine met something it cannot read
            channel.send_bytes(b"E" + pickle.dumps(("input", f"is damaged or not a workbook ({exc})")))
        else:
            channel.send_bytes(b"C" + pickle.dumps(traceback.format_exc()))


class GuardedSource:
    """One sheet of a workbook, read by a capped child process (see the module docstring)."""

    def __init__(self, path: str, process: Any, channel: Connection, megabytes: int) -> None:
        self._path, self._process, self._channel, self._megabytes = path, process, channel, megabytes
        self.warnings: list[str] = []
        self._done, self._total = 0, 0
        self._finished = False
        kind, payload = self._receive()
        if kind != b"I":
            self.close()
            raise InputFileError(path, "the workbook reader sent nothing readable")
        self.info: SourceInfo
        self.info, self._total = pickle.loads(payload)  # noqa: S301 - our own child, over a private pipe

    @classmethod
    def open(
        cls,
        path: Path,
        source: IO[bytes],
        sheet: str | None = None,
        *,
        header_only: bool = False,
        megabytes: int = DEFAULTS.workbook_memory_mb,
    ) -> GuardedSource:
        """Start the child on ``source`` (an open file of ``path``); wait until it has opened the sheet."""
        context: Any = multiprocessing.get_context(_start_method())
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=_read,
            args=(theirs, str(path), sheet, header_only, megabytes),
            name="batchqueue-workbook",
            daemon=True,
        )
        process.start()
        theirs.close()
        try:
            send_handle(ours, source.fileno(), process.pid)
        except OSError:
            pass  # the child is gone already: _receive says why
        finally:
            source.close()  # the child has its own copy of the handle
        return cls(str(path), process, ours, megabytes)

    def _receive(self) -> tuple[bytes, bytes]:
        """The child's next message; its refusal, or its death, raised as a refusal of the file."""
        try:
            data = self._channel.recv_bytes()
        except (EOFError, OSError):
            self._process.join(timeout=5)
            code = self._process.exitcode
            self.close()
            if (
                code is not None
                and code < 0
                and -code in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL)
            ):
                raise too_big(self._path, self._megabytes) from None
            raise InputFileError(self._path, f"the workbook reader stopped unexpectedly (exit {code})") from None
        kind, payload = data[:1], data[1:]
        if kind == b"E":
            self.close()
            error, message = pickle.loads(payload)  # noqa: S301 - our own child, over a private pipe
            raise _ERRORS[error](self._path, message)
        if kind == b"M":
            self.close()
            raise too_big(self._path, self._megabytes)
        if kind == b"C":
            self.close()
            raise RuntimeError(f"the workbook reader failed:\n{pickle.loads(payload)}")  # noqa: S301
        return kind, payload

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            while not self._finished:
                kind, payload = self._receive()
                if kind == b"D":
                    self._finished = True
                    break
                rows, (self._done, self._total) = marshal.loads(payload)  # noqa: S302 - our own child
                yield from rows
        finally:
            self.close()

    def progress(self) -> tuple[int, int]:
        return self._done, max(self._total, self._done)

    def name_columns(self, names: list[str]) -> None:
        """Nothing to name: a workbook's cells cannot swallow rows."""

    def close(self) -> None:
        """Let the child go: it stops at its next send once the pipe is closed (or is killed)."""
        self._channel.close()
        if self._process.is_alive():
            self._process.join(timeout=0 if not self._finished else 2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
