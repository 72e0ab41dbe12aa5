"""Printing: JSON for scripts, plain lines and rich tables for people, progress bars on stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from batchqueue.errors import UsageError
from batchqueue.http_serving import HttpServer


def emit_json(obj: Any) -> None:
    """One JSON object on stdout (the ``--json`` contract)."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def stdout_console() -> Console:
    # Piped output keeps whole lines instead of squeezing tables into 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def progress_bar(label: str, *, quiet: bool, unit: str = "rows") -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing on stderr, or None when quiet or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    counter = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        counter,
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


def check_writable(path: Path, option: str) -> None:
    """Refuse, before anything starts, a file this command could not write later."""
    folder = path.expanduser().resolve().parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: the folder {folder} is not writable")


def serve_until_interrupted(server: HttpServer, port_file: Path | None) -> None:
    """Write the port for scripts, serve until Ctrl-C or SIGTERM-free exit, then stop cleanly."""
    if port_file is not None:
        port_file.write_text(str(server.port), encoding="utf-8")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
