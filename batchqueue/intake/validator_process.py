"""A large import on two cores: a helper process reads and validates, this one writes the ledger.

Validation is pure Python and the ledger write is SQLite; in one process they take turns, in two
they overlap. The helper re-reads the file (checking it is byte-for-byte the one the job was
fingerprinted from) and sends batches of ready ledger rows through a pipe; the import stays one
transaction in this process, so a crash of either leaves no half job.

Usage (from :func:`batchqueue.intake.importer.import_file`)::

    new_rows = validated_elsewhere(path, spec, now=now, max_problems=20, sha256=info.sha256, result=result)
"""

from __future__ import annotations

import multiprocessing
import pickle
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from batchqueue.errors import BatchqueueError, EnvironmentFailure, InputFileError, UsageError
from batchqueue.intake.rules import RowRule
from batchqueue.ledger.records import NewRow

#: Below this size the helper's start-up (~0.5 s) costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
_BATCH = 5000
#: What the helper's load found, sent back whole when it is done.
TALLIES = (
    "rows", "valid", "invalid", "duplicate", "filtered", "blank", "header_row", "skipped_rows", "problems",
    "row_warnings", "warnings",
)  # fmt: skip


def _helper(
    out: Connection, path: str, spec: Any, now: int, max_problems: int, sha256: str, rules: Sequence[RowRule]
) -> None:
    from batchqueue.intake.loader import RowLoader, open_and_fit

    def send(message: tuple[Any, ...]) -> None:
        out.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        table, result = open_and_fit(Path(path), spec, now)
        if table.info.sha256 != sha256:
            table.close()
            raise InputFileError(path, "the file changed while it was being imported; import it again")
        batch: list[tuple[Any, ...]] = []
        for row in RowLoader(table, result, now, max_problems, None, None, rules):
            batch.append(row)
            if len(batch) == _BATCH:
                send(("rows", batch, table.progress()))
                batch = []
        send(("rows", batch, table.progress()))
        send(("done", {name: getattr(result, name) for name in TALLIES}))
    except (BrokenPipeError, ConnectionResetError):
        return  # the writer is gone (killed, or stopped on an error): nothing left to do
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


def validated_elsewhere(
    path: Path,
    spec: Any,
    *,
    now: int,
    max_problems: int,
    sha256: str,
    result: Any,
    progress: Callable[[int, int], None] | None,
    rules: Sequence[RowRule] = (),
) -> Iterator[NewRow]:
    """Ledger rows of ``path``, validated by a helper process; fills ``result``'s counts at the end."""
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    reader, writer = context.Pipe(duplex=False)
    helper = context.Process(
        target=_helper,
        args=(writer, str(path), spec, now, max_problems, sha256, tuple(rules)),
        name="batchqueue-validate",
        daemon=True,
    )
    helper.start()
    writer.close()
    try:
        while True:
            try:
                message = pickle.loads(reader.recv_bytes())  # noqa: S301 - our own helper, over a private pipe
            except EOFError:
                raise InputFileError(str(path), "the validating helper process stopped unexpectedly") from None
            kind = message[0]
            if kind == "rows":
                yield from map(NewRow._make, message[1])
                if progress is not None:
                    progress(*message[2])
            elif kind == "done":
                tallies = message[1]
                warnings = tallies.pop("warnings")
                for name, value in tallies.items():
                    setattr(result, name, value)
                result.warnings.extend(w for w in warnings if w not in result.warnings)
                return
            elif kind == "input":
                raise InputFileError(message[1], message[2])
            elif kind == "usage":
                raise UsageError(message[1])
            elif kind == "environment":
                raise EnvironmentFailure(message[1])
            else:
                raise RuntimeError(f"the validating helper failed:\n{message[1]}")
    finally:
        reader.close()
        helper.join(timeout=10)
        if helper.is_alive():
            helper.kill()
            helper.join()
