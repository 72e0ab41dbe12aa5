"""Files that decide where the API key goes (profile files, key files), read only if they are yours.

A profile file names the base URL a key is sent to; a key file is the key. Either one written by
somebody else captures the key, so before a byte is read the file must be a regular file (not a
FIFO that blocks forever, not a device that never ends), owned by the user running batchqueue, no
larger than a file of its kind can be, and: a profile file writable by nobody else, in folders
nobody else can write to up to the root (a sticky folder such as /tmp is fine: nobody may replace
what is yours there), as OpenSSH's StrictModes and git's safe.directory ask; a key file readable
and writable by its owner only (0600 or 0400). Both the path as given and the file a symbolic link
leads to are checked. The file is then opened without blocking and read up to its limit, so a file
swapped after the check still cannot hang or flood the process.

Usage::

    raw = read_own_file(path, f"api_key_file {path}", limit=DEFAULTS.key_file_max_bytes, private=True)
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from batchqueue.errors import UsageError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)
#: Permission bits only the owner may hold on a key file, and what each lets somebody else do.
_PRIVATE_BITS = (
    (stat.S_IRGRP, "its group can read it"),
    (stat.S_IROTH, "others can read it"),
    (stat.S_IWGRP, "its group can write it"),
    (stat.S_IWOTH, "others can write it"),
    (stat.S_IXGRP, "its group can run it"),
    (stat.S_IXOTH, "others can run it"),
)


def read_own_file(path: Path, label: str, *, limit: int, private: bool = False, folders: bool = False) -> bytes:
    """The bytes of ``path`` if it passes the checks above; else a UsageError ``"{label} {problem}"``.

    ``private``: nobody but the owner may read it (a key); otherwise nobody else may write it.
    ``folders``: every folder above it must be yours (or root's) and closed to others' writes.
    """
    found = _status(path, label)
    problem = _file_problem(found, path, private)
    if problem is None and found.st_size > limit:
        problem = f"is larger than {limit:,} bytes"
    if problem is None and folders:
        problem = next(filter(None, (_folder_problem(folder) for folder in _folders_of(path))), None)
    if problem is not None:
        link = f" ({path} is a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise UsageError(f"{label} {problem}{link}")
    return _read(path, label, found, limit)


def _status(path: Path, label: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{label} {'is a link to nothing' if path.is_symlink() else 'does not exist'}") from None
    except OSError as exc:
        raise UsageError(f"{label} cannot be read ({exc.strerror})") from None


def _file_problem(found: os.stat_result, path: Path, private: bool) -> str | None:
    for test, kind in _KINDS:
        if test(found.st_mode):
            return f"is {kind}, not a regular file"
    if not stat.S_ISREG(found.st_mode):
        return "is not a regular file"
    me = os.geteuid()
    if found.st_uid != me:
        return f"is owned by {_who(found.st_uid)}, not by you ({_who(me)})"
    mode = stat.S_IMODE(found.st_mode)
    if private:
        granted = [words for bit, words in _PRIVATE_BITS if mode & bit]
        if granted:
            return f"has mode {mode:04o} ({granted[0]}); make it 0600 (chmod 600 {path})"
        return None
    writers = _writers(mode)
    if writers:
        return f"is writable by {writers} (mode {mode:04o}), who could send your key elsewhere; chmod go-w {path}"
    return None


def _folders_of(path: Path) -> list[Path]:
    """Every folder above the path as given and above the file it leads to, each once."""
    seen: dict[Path, None] = {}
    for start in (Path(os.path.abspath(path)).parent, Path(os.path.realpath(path)).parent):
        for folder in (start, *start.parents):
            seen.setdefault(folder)
    return list(seen)


def _folder_problem(folder: Path) -> str | None:
    try:
        found = os.stat(folder)
    except OSError as exc:
        return f"cannot be checked: its folder {folder} cannot be read ({exc.strerror})"
    if found.st_uid not in (os.geteuid(), 0):
        return f"cannot be trusted: its folder {folder} is owned by {_who(found.st_uid)}, who could replace it"
    mode = stat.S_IMODE(found.st_mode)
    writers = _writers(mode)
    if writers and not mode & stat.S_ISVTX:  # in a sticky folder nobody may replace what is yours
        return (
            f"cannot be trusted: its folder {folder} is writable by {writers} (mode {mode:04o}), who could put "
            f"another file in its place; chmod go-w {folder}"
        )
    return None


def _writers(mode: int) -> str:
    group, others = bool(mode & stat.S_IWGRP), bool(mode & stat.S_IWOTH)
    return " and ".join(w for w, on in (("its group", group), ("others", others)) if on)


def _who(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _read(path: Path, label: str, checked: os.stat_result, limit: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"{label} cannot be read ({exc.strerror})") from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino) or not stat.S_ISREG(opened.st_mode):
            raise UsageError(f"{label} was replaced while it was being read; try again")
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UsageError(f"{label} cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise UsageError(f"{label} is larger than {limit:,} bytes")
    return b"".join(chunks)
