"""A large import on two cores: a helper process reads and validates, this one writes the ledger.

Validation is pure Python and the ledger write is SQLite; in one process they take turns, in two
they overlap. The helper is started as early as possible (before this process has even opened the
ledger), reads the file itself and sends runs of ready ledger rows through a pipe, with the sha256
of the bytes it read; the import compares that with the file the job was fingerprinted from before
it commits, and stays one transaction in this process, so a crash of either leaves no half job.

Usage (from :func:`batchqueue.service.loading.import_file` and :func:`batchqueue.intake.importer.import_file`)::

    validation = Validation.start(path, spec, now=now, max_problems=20)     # as early as possible
    runs = validation.runs(sha256=info.sha256, result=result, progress=None)
    ...
    validation.cancel()         # when the rows are not wanted after all (the job already exists)
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
import pickle
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from batchqueue.errors import BatchqueueError, EnvironmentFailure, InputFileError, UsageError
from batchqueue.intake.rules import RowRule
from batchqueue.ledger.records import BARE, RowRun

#: Below this size the helper's start-up costs more than it saves. A workbook is a zip: its cells
#: take ~10 times its size to parse, so a smaller one is already worth it.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
PARALLEL_MIN_WORKBOOK_BYTES = 1024 * 1024
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
#: Rows per message: the runs of several rows' worth are sent together.
_BATCH = 5000
#: What the helper's load found, sent back whole when it is done.
TALLIES = (
    "rows", "valid", "invalid", "duplicate", "filtered", "blank", "header_row", "skipped_rows", "problems",
    "row_warnings", "warnings",
)  # fmt: skip
_CHANGED = "the file changed while it was being imported; import it again"


def worth_a_helper(path: Path) -> bool:
    """Whether ``path`` is large enough, and this machine has the cores, for a validating helper."""
    try:
        size = path.stat().st_size
    except OSError:
        return False  # the import itself will say what is wrong with the path
    workbook = path.suffix.lower() in _WORKBOOK_SUFFIXES
    least = PARALLEL_MIN_WORKBOOK_BYTES if workbook else PARALLEL_MIN_BYTES
    return size >= least and (os.cpu_count() or 1) > 1


def _start_method() -> str:
    """fork while this process has no other thread (the helper then starts without importing
    anything: ~0.3 s sooner), spawn otherwise: a fork copies locks other threads may hold."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _helper(out: Connection, path: str, spec: Any, now: int, max_problems: int, rules: Sequence[RowRule]) -> None:
    from batchqueue.intake.loader import RowLoader, open_and_fit

    def send(message: tuple[Any, ...]) -> None:
        out.send_bytes(b"P" + pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def send_runs(runs: list[tuple[Any, ...]], progress: tuple[int, int]) -> None:
        # marshal, not pickle: tuples of str/int/float/None load ~3x faster, on the busy side.
        out.send_bytes(b"M" + marshal.dumps((runs, progress)))

    try:
        table, result = open_and_fit(Path(path), spec, now)
        batch: list[tuple[Any, ...]] = []
        size = 0
        for run in RowLoader(table, result, now, max_problems, None, None, rules):
            batch.append(tuple(run))
            size += len(run.rows[0]) if run.shape == BARE else len(run.rows)
            if size >= _BATCH:
                send_runs(batch, table.progress())
                batch, size = [], 0
        send_runs(batch, table.progress())
        tallies = {name: getattr(result, name) for name in TALLIES}
        send(("done", table.info.sha256, tallies))
    except (BrokenPipeError, ConnectionResetError):
        return  # the writer is gone (killed, canceled, or stopped on an error): nothing left to do
    except InputFileError as exc:
        send(("input", exc.path, exc.message))
    except OSError as exc:
        send(("environment", f"{path}: could not be read while importing ({exc.strerror or exc})"))
    except BatchqueueError as exc:
        send(("usage", str(exc)))
    except BaseException:
        send(("crash", traceback.format_exc()))
    finally:
        out.close()


class Validation:
    """A helper process validating one file for one import (see the module docstring)."""

    def __init__(self, path: Path, now: int, process: Any, reader: Connection) -> None:
        self.path, self.now = path, now
        self._process, self._reader = process, reader

    @classmethod
    def start(cls, path: Path, spec: Any, *, now: int, max_problems: int, rules: Sequence[RowRule] = ()) -> Validation:
        context: Any = multiprocessing.get_context(_start_method())
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_helper,
            args=(writer, str(path), spec, now, max_problems, tuple(rules)),
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
                    raise InputFileError(str(self.path), "the validating helper process stopped unexpectedly") from None
                if data[:1] == b"M":
                    runs, done = marshal.loads(data[1:])  # noqa: S302 - our own helper, over a private pipe
                    yield from (RowRun(*run) for run in runs)
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
