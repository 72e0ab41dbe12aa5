"""Files that appear whole or not at all: written beside their target, fsynced, then renamed.

A report that a ``kill -9``, a Ctrl-C or a full disk cut short must never sit under the name the
user asked for, looking complete.

The hidden partial file (``.NAME.<8 hex>.partial``) is held under an ``flock`` while it is written.
A writer killed outright (SIGKILL, SIGTERM) leaves its partial file behind, but the kernel drops
its lock: the next write of the same NAME removes every such file whose lock it can take, and never
one that a live writer (another export of the same report, say) still holds.

Usage::

    with atomic_path(Path("report.csv")) as partial:
        write_report(partial)          # report.csv appears only if this returns
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from batchqueue.errors import UsageError

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"[0-9a-f]{8}")
_SUFFIX = ".partial"


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
    remove_abandoned(target)
    try:
        partial, held = _locked_partial(target)
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
    finally:
        os.close(held)  # the lock goes with it


def _locked_partial(target: Path) -> tuple[Path, int]:
    """A new partial file beside ``target``, and a descriptor holding its lock."""
    while True:
        partial = target.parent / f".{target.name}.{secrets.token_hex(4)}{_SUFFIX}"
        # Created with the user's umask (0666 before it), like the file it becomes.
        fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # another writer's cleanup has it open this very moment: take another name
        else:
            if _still_named(fd, partial):
                return partial, fd
            # Removed by another writer's cleanup between its creation and the lock: another name.
        os.close(fd)


def remove_abandoned(target: Path) -> int:
    """Remove the partial files of ``target`` whose writers are gone; returns how many."""
    prefix = f".{target.name}."
    try:
        names = [e.name for e in os.scandir(target.parent) if e.name.startswith(prefix) and e.name.endswith(_SUFFIX)]
    except OSError:
        return 0
    removed = 0
    for name in names:
        if not _TOKEN.fullmatch(name[len(prefix) : -len(_SUFFIX)]):
            continue  # not one of ours
        path = target.parent / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live writer: BlockingIOError
            if _still_named(fd, path):
                path.unlink()
                removed += 1
        except OSError:
            continue
        finally:
            os.close(fd)
    if removed:
        log.info("removed %d partial file(s) of %s left by writers that were killed", removed, target.name)
    return removed


def _still_named(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
