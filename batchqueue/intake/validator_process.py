"""A large import on two cores: a helper process reads and validates, this one writes the ledger.

Validation is pure Python and the ledger write is SQLite; in one process they take turns, in two
they overlap. The helper is started as early as possible (before this process has even opened the
ledger), reads the file itself and sends runs of ready ledger rows through a pipe, with the sha256
of the bytes it read; the import compares that with the file the job was fingerprinted from before
it commits, and stays one transaction in this process, so a crash of either leaves no half job.

The helper never waits on the pipe while there is validating left to do: a thread of its own writes
it (see _Sender). The common row's cells travel joined by a separator, and this process makes their
JSON (see _packed_cells): the helper is the busier of the two, so the work is moved to this side.

Usage (from :func:`batchqueue.service.loading.import_file` and :func:`batchqueue.intake.importer.import_file`)::

    validation = Validation.start(path, spec, now=now, max_problems=20)     # as early as possible
    runs = validation.runs(sha256=info.sha256, result=result, progress=None)
    ...
    validation.cancel()         # when the rows are not wanted after all (the job already exists)
"""

from __future__ import annotations

import json
import marshal
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from batchqueue.errors import BatchqueueError, EnvironmentFailure, InputFileError, UsageError
from batchqueue.intake.loader import RowLoader, encode_cells, open_and_fit
from batchqueue.intake.rules import RowRule
from batchqueue.intake.sheets.ceiling import confine, too_big
from batchqueue.ledger.records import BARE, RowRun

#: Below this size the helper's start-up costs more than it saves. A workbook is a zip: its cells
#: take ~10 times its size to parse, so a smaller one is already worth it.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
PARALLEL_MIN_WORKBOOK_BYTES = 1024 * 1024
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
#: Rows per message: the runs of several rows' worth are sent together.
_BATCH = 5000
#: Messages the helper may have ready before the writer reads them (~40 MB at most).
_BACKLOG = 100
#: What the helper's load found, sent back whole when it is done.
TALLIES = (
    "rows", "valid", "invalid", "duplicate", "filtered", "blank", "header_row", "skipped_rows", "problems",
    "row_warnings", "warnings", "notes",
)  # fmt: skip
#: Bare rows' cells travel joined by this (see _packed_cells); _AS_JSON marks the rare row sent as JSON.
_SEP, _AS_JSON = "\x1f", "\x1e"
_SEP_ESCAPED = "\\u001f"
_quoted = json.encoder.encode_basestring  # C: a str as a JSON string, non-ASCII kept (as encode_cells)
_CHANGED = "the file changed while it was being imported; import it again"


#: How a confined workbook reader ends when it ran out of memory outside Python (an abort in Rust).
_OUT_OF_MEMORY = (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS, -signal.SIGKILL)


def is_workbook(path: Path) -> bool:
    """Whether ``path`` is named like a workbook (read under the memory ceiling)."""
    return path.suffix.lower() in _WORKBOOK_SUFFIXES


def worth_a_helper(path: Path) -> bool:
    """Whether ``path`` is large enough, and this machine has the cores, for a validating helper."""
    try:
        size = path.stat().st_size
    except OSError:
        return False  # the import itself will say what is wrong with the path
    workbook = is_workbook(path)
    least = PARALLEL_MIN_WORKBOOK_BYTES if workbook else PARALLEL_MIN_BYTES
    return size >= least and (os.cpu_count() or 1) > 1


def _packed_cells(cells: list[str], join: Callable[[Iterable[str]], str] = _SEP.join) -> str:
    """A bare row's cells as the helper sends them: joined by a separator (~3 times cheaper than
    their JSON, which the writer makes; :func:`_cells_json`), or their JSON after a mark, for the
    rare row whose cells hold the separator or start with the mark."""
    joined = join(cells)
    if joined.count(_SEP) == len(cells) - 1 and joined[:1] != _AS_JSON:
        return joined
    return _AS_JSON + encode_cells(cells)


def _cells_json(packed: str) -> str:
    """The JSON list of the cells :func:`_packed_cells` packed (what ``encode_cells`` gives)."""
    if packed[:1] == _AS_JSON:
        return packed[1:]
    if "\\" in packed:
        return encode_cells(packed.split(_SEP))
    # One C call quotes the whole line; the separator's escape then becomes the JSON's '","' (safe:
    # with no backslash in the cells, every \u001f in the quoted text is a separator's).
    return "[" + _quoted(packed).replace(_SEP_ESCAPED, '","') + "]"


def _start_method() -> str:
    """fork while this process has no other thread (the helper then starts without importing
    anything: ~0.3 s sooner), spawn otherwise: a fork copies locks other threads may hold."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


class _Sender:
    """The helper's pipe, written by a thread of its own: validation goes on while the writer is
    not yet reading (it is still opening the ledger: ~1 s of a 300k-row import, during which a
    helper writing the pipe itself sat blocked once 64 KiB were in it) or is busy inserting.

    At most ``_BACKLOG`` messages wait; ``put`` then blocks, so a slow writer bounds the memory used.
    """

    def __init__(self, out: Connection) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_BACKLOG)
        self.gone = False  # the writer closed its end: nothing more is wanted
        self._thread = threading.Thread(target=self._drain, name="batchqueue-validate-send", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if self.gone:
                continue
            try:
                self._out.send_bytes(data)
            except OSError:  # BrokenPipeError, ConnectionResetError: the writer is gone
                self.gone = True

    def put(self, data: bytes) -> None:
        """Queue ``data`` to be sent; dropped once the writer is gone."""
        if not self.gone:
            self._queue.put(data)

    def close(self) -> None:
        """Everything put is sent (or the writer is gone), then the pipe is closed."""
        self._queue.put(None)
        self._thread.join()
        self._out.close()


def _helper(
    out: Connection,
    path: str,
    spec: Any,
    now: int,
    max_problems: int,
    rules: Sequence[RowRule],
    inherited_reader: int | None = None,
) -> None:
    """``inherited_reader``: the pipe's read end a fork copied into this process. It is closed, or
    the pipe would never break when the writer closes its own end (the helper would wait forever).

    For a workbook, this process is the confined reader (:mod:`batchqueue.intake.sheets.ceiling`):
    it reads the workbook itself, under the memory ceiling, instead of starting another child."""
    if inherited_reader is not None:
        os.close(inherited_reader)
    if is_workbook(Path(path)):
        confine()
    sender = _Sender(out)

    def send(message: tuple[Any, ...]) -> None:
        sender.put(b"P" + pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def send_runs(runs: list[tuple[Any, ...]], progress: tuple[int, int]) -> None:
        # marshal, not pickle: tuples of str/int/float/None load ~3x faster, on the busy side.
        sender.put(b"M" + marshal.dumps((runs, progress)))

    try:
        # The sha256 sent at the end is of the bytes the rows came from: the writer compares it.
        table, result = open_and_fit(Path(path), spec, now, hash_as_read=True)
        batch: list[tuple[Any, ...]] = []
        size = 0
        for run in RowLoader(table, result, now, max_problems, None, None, rules, bare_cells=_packed_cells):
            batch.append(tuple(run))
            size += len(run.rows[0]) if run.shape == BARE else len(run.rows)
            if size >= _BATCH:
                send_runs(batch, table.progress())
                batch, size = [], 0
                if sender.gone:
                    return  # the writer is gone (killed, canceled, or stopped on an error)
        send_runs(batch, table.progress())
        tallies = {name: getattr(result, name) for name in TALLIES}
        send(("done", table.info.sha256, tallies))
    except InputFileError as exc:
        send(("input", exc.path, exc.message))
    except MemoryError:
        refused = too_big(path)
        send(("input", refused.path, refused.message))
    except OSError as exc:
        send(("environment", f"{path}: could not be read while importing ({exc.strerror or exc})"))
    except BatchqueueError as exc:
        send(("usage", str(exc)))
    except BaseException:
        send(("crash", traceback.format_exc()))
    finally:
        sender.close()


class Validation:
    """A helper process validating one file for one import (see the module docstring)."""

    def __init__(self, path: Path, now: int, process: Any, reader: Connection) -> None:
        self.path, self.now = path, now
        self._process, self._reader = process, reader

    @classmethod
    def start(cls, path: Path, spec: Any, *, now: int, max_problems: int, rules: Sequence[RowRule] = ()) -> Validation:
        method = _start_method()
        context: Any = multiprocessing.get_context(method)
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_helper,
            args=(
                writer,
                str(path),
                spec,
                now,
                max_problems,
                tuple(rules),
                reader.fileno() if method == "fork" else None,
            ),
            name="batchqueue-validate",
            daemon=True,
        )
        process.start()
        writer.close()
        return cls(path, now, process, reader)

    def runs(self, *, sha256: str, result: Any, progress: Callable[[int, int], None] | None = None) -> Iterator[RowRun]:
        """The helper's rows as they come; fills ``result``'s tallies at the end, and refuses a
        file whose bytes (as the helper read them) are not ``sha256``'s."""
        try:
            while True:
                try:
                    data = self._reader.recv_bytes()
                except EOFError:
                    self._process.join(timeout=5)
                    if is_workbook(self.path) and self._process.exitcode in _OUT_OF_MEMORY:
                        raise too_big(str(self.path)) from None  # calamine aborts when an allocation fails
                    raise InputFileError(str(self.path), "the validating helper process stopped unexpectedly") from None
                if data[:1] == b"M":
                    runs, done = marshal.loads(data[1:])  # noqa: S302 - our own helper, over a private pipe
                    for shape, rows, *shared in runs:
                        if shape == BARE:
                            numbers, packed, e164s = rows
                            rows = (numbers, [_cells_json(p) for p in packed], e164s)
                        yield RowRun(shape, rows, *shared)
                    if progress is not None:
                        progress(*done)
                    continue
                message = pickle.loads(data[1:])  # noqa: S301 - our own helper, over a private pipe
                kind = message[0]
                if kind == "done":
                    if message[1] != sha256:
                        raise InputFileError(str(self.path), _CHANGED)
                    tallies = message[2]
                    warnings = tallies.pop("warnings")
                    for name, value in tallies.items():
                        setattr(result, name, value)
                    result.warnings.extend(w for w in warnings if w not in result.warnings)
                    return
                if kind == "input":
                    raise InputFileError(message[1], message[2])
                if kind == "usage":
                    raise UsageError(message[1])
                if kind == "environment":
                    raise EnvironmentFailure(message[1])
                raise RuntimeError(f"the validating helper failed:\n{message[1]}")
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the helper (if it still runs) and let its pipe go."""
        self._reader.close()
        self._process.join(timeout=2)  # done, or stopping at its next send (the pipe is closed)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
