"""Folders and files only this user may read: the console's uploads and run logs, its session key.

Nothing here changes the permissions of anything the user gave: a private folder is one batchqueue
makes (0700) or finds already made by this user; a secret file is created once, whole (written
beside its name, then linked into place, so a second process never reads half a key nor replaces
one in use), and refused when it is not a regular file of this user that only this user can read.

Usage::

    folder = private_folder(Path("ledger.db.console"))
    key = secret_key(folder / "session.key")        # the same bytes on every start
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from batchqueue.errors import UsageError
from batchqueue.whole_files import fsync_folder

#: Bytes of a new secret key (written as hex).
KEY_BYTES = 32


def private_folder(path: Path) -> Path:
    """``path`` as a folder of this user's that nobody else can enter, created (0700) when missing.

    An existing one must be a real folder (not a link) owned by this user; its group and others
    lose any access (it is batchqueue's own folder, never one the user named)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UsageError(f"cannot make the folder {path}: {exc.strerror or exc}") from None
    found = os.lstat(path)
    if stat.S_ISLNK(found.st_mode) or not stat.S_ISDIR(found.st_mode):
        raise UsageError(f"{path} is not a folder (a link or a file is in its place): remove it, or choose another")
    if found.st_uid != os.geteuid():
        raise UsageError(f"{path} belongs to another user: remove it, or choose another folder")
    if stat.S_IMODE(found.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def secret_key(path: Path) -> bytes:
    """The secret kept in ``path`` (made on first use); never printed, never logged."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.write(fd, secrets.token_hex(KEY_BYTES).encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs is used
            os.link(partial, path)  # never replaces a key another process has just made
        fsync_folder(path.parent)
    finally:
        partial.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    # O_NONBLOCK: a FIFO planted in its place is refused at once instead of waited on.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:  # a link in its place (ELOOP), a folder, no permission
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}; remove it (a new key is made)") from None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise UsageError(f"{path} is not a regular file: remove it (a new key is made)")
        if found.st_uid != os.geteuid():
            raise UsageError(f"{path} belongs to another user: remove it (a new key is made)")
        if stat.S_IMODE(found.st_mode) & 0o077:
            raise UsageError(
                f"{path} can be read by other users: chmod 600 {path} (or remove it, which logs everyone out)"
            )
        text = os.read(fd, 4 * KEY_BYTES).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise UsageError(f"{path} does not hold a key batchqueue made: remove it (a new key is made)")
    return key
