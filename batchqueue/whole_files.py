"""Files that appear whole or not at all: written beside their target, fsynced, then renamed.

A report that a ``kill -9``, a Ctrl-C or a full disk cut short must never sit under the name the
user asked for, looking complete.

Usage::

    with atomic_path(Path("report.csv")) as partial:
        write_report(partial)          # report.csv appears only if this returns
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from batchqueue.errors import UsageError


def fsync_folder(folder: Path) -> None:
    """Make a new or renamed file's name itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A fresh path beside ``target``; it replaces ``target`` on success and is removed on any failure."""
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: the folder {folder} does not exist")
    partial = folder / f".{target.name}.{secrets.token_hex(4)}.partial"
    try:
        # Created with the user's umask (0666 before it), like the file it becomes.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        yield partial
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, target)
        fsync_folder(folder)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
