"""What kind of file this is, before anything parses it: magic numbers, encryption, zip bombs.

Everything here looks at bytes only, so a wrong file is refused before a parser sees it.
"""

from __future__ import annotations

import fcntl
import os
import stat
import zipfile
from pathlib import Path
from typing import IO, Literal

from batchqueue.errors import InputFileError

Kind = Literal["csv", "excel"]

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
TEXT_SUFFIXES = {".csv", ".tsv", ".tab", ".txt"}

#: An xlsx is a zip of XML; real sheets compress 5-20x. These bounds stop a bomb before parsing.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_COMPRESSION_RATIO = 150
RATIO_CHECK_FLOOR = 64 * 1024**2

_ZIP_MAGIC = b"PK\x03\x04"
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: .xls, or an encrypted xlsx
_BINARY_MAGICS = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"SQLite format 3": "an SQLite database",
}


def open_source(path: Path, size: int = 65536) -> tuple[IO[bytes], bytes]:
    """The file opened once for all reading, and its first ``size`` bytes.

    Everything is read through this one handle, so a file renamed or replaced on disk meanwhile
    cannot mix two files. Only regular files are accepted: a pipe or a device cannot be read twice.
    """
    name = str(path)
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer before it can be refused.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        f = os.fdopen(fd, "rb")
    except FileNotFoundError:
        raise InputFileError(name, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(name, "is a directory, not a spreadsheet") from None
    except PermissionError:
        raise InputFileError(name, "permission denied") from None
    except OSError as exc:
        raise InputFileError(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(f.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise InputFileError(name, "is a directory, not a spreadsheet")
        if not stat.S_ISREG(mode):
            what = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
            raise InputFileError(name, f"is {what}, not a file: save the data to a file and import that")
        first = f.read(size)
        f.seek(0)
    except OSError as exc:
        f.close()
        raise InputFileError(name, f"cannot be read ({exc.strerror or exc})") from None
    except BaseException:
        f.close()
        raise
    return f, first


def detect_kind(path: Path, first: bytes, source: IO[bytes]) -> Kind:
    """Decide between the CSV and Excel readers, refusing files that are neither."""
    name = str(path)
    if not first:
        raise InputFileError(name, "the file is empty")
    suffix = path.suffix.lower()
    if first.startswith(_CFB_MAGIC):
        if _looks_encrypted(source):
            raise InputFileError(name, "the workbook is password-protected; save an unprotected copy")
        return "excel"
    if first.startswith(_ZIP_MAGIC):
        check_zip(source, name)
        return "excel"
    for magic, what in _BINARY_MAGICS.items():
        if first.startswith(magic):
            raise InputFileError(name, f"is {what}, not a spreadsheet (expected CSV or Excel)")
    if suffix in EXCEL_SUFFIXES:
        raise InputFileError(name, f"has the extension {suffix} but is not an Excel workbook")
    return "csv"


def _looks_encrypted(source: IO[bytes]) -> bool:
    # Office encrypts xlsx by wrapping it in an OLE file holding an "EncryptedPackage" stream;
    # the stream's name sits in the OLE directory as UTF-16-LE.
    marker = "EncryptedPackage".encode("utf-16-le")
    try:
        source.seek(0)
        while chunk := source.read(1 << 20):
            if marker in chunk:
                return True
        return False
    finally:
        source.seek(0)


def check_zip(source: IO[bytes], name: str) -> None:
    """Refuse a zip whose declared contents are too large or too compressed (a zip bomb)."""
    try:
        source.seek(0)
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise InputFileError(name, f"is a damaged zip/xlsx file ({exc})") from None
    finally:
        source.seek(0)
    if any(info.flag_bits & 0x1 for info in infos):
        raise InputFileError(name, "the workbook is password-protected; save an unprotected copy")
    total = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    if total > MAX_UNCOMPRESSED_BYTES or (total > RATIO_CHECK_FLOOR and total / packed > MAX_COMPRESSION_RATIO):
        raise InputFileError(
            name,
            f"refused: it would unpack to {total / 1024**2:,.0f} MiB from "
            f"{packed / 1024**2:,.1f} MiB (a zip bomb, or far larger than any contact list)",
        )
