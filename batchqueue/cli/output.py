"""Printing: JSON for scripts, plain lines and rich tables for people, progress bars on stderr.

rich is imported only when something is drawn, so a command that prints one line starts fast.
Under ``--json`` a command prints exactly one object on stdout: its result, or, when it fails
before it has one, ``{"error": {"exit_code", "reason", "message"}}`` (:func:`emit_json_error`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from batchqueue.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console


class _JsonState:
    """This command's ``--json``: asked for, and whether its one object is printed yet."""

    asked = False
    printed = False


def start_command() -> None:
    """A command begins: nothing asked, nothing printed (the entry point may run several in-process)."""
    _JsonState.asked = _JsonState.printed = False


def remember_json(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """The ``--json`` option's callback (an eager option: known before any other value is checked)."""
    if value:
        _JsonState.asked = True
    return value


def emit_json(obj: Any) -> None:
    """One JSON object on stdout (the ``--json`` contract)."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))
    _JsonState.printed = True


def emit_json_error(code: int, message: str, args: list[str]) -> None:
    """Under ``--json``, a command that failed before printing its object prints the error as one.

    ``args``: the command line, for a mistake found before the options were read (``--json``
    named there counts).
    """
    from batchqueue.exits import failure_reason

    if _JsonState.printed or not (_JsonState.asked or "--json" in args):
        return
    emit_json({"error": {"exit_code": code, "reason": failure_reason(code), "message": message}})


def stdout_console() -> Console:
    from rich.console import Console

    # Piped output keeps whole lines instead of squeezing tables into 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@contextmanager
def progress_bar(label: str, *, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing on stderr, or None when quiet or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    # Started at the first update, not before: until then this process has no thread of its own,
    # so an import's validating helper can be forked (see intake/validator_process.py).
    bar: Progress | None = None
    task: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=stderr_console(),
                transient=True,
            )
            bar.start()
            task = bar.add_task(label, total=None)
        bar.update(task, completed=done, total=total or None)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def check_writable(path: Path, option: str) -> None:
    """Refuse, before anything starts, a file this command could not write later."""
    folder = path.expanduser().resolve().parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: the folder {folder} is not writable")


def write_port_file(path: Path | None, port: int) -> None:
    """Tell scripts which port was taken (``--port 0``)."""
    if path is not None:
        path.write_text(str(port), encoding="utf-8")
