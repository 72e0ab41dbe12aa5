"""What kind of file this is, before anything parses it: magic numbers, encryption, zip bombs.

Everything here looks at bytes only, so a wrong file is refused before a parser sees it.
:func:`detect_kind` runs in the process that was asked to read the file and parses nothing;
:func:`check_zip` runs in the confined workbook reader (:mod:`.guarded`), before the zip is opened.
"""

from __future__ import annotations

import fcntl
import os
import stat
import struct
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
#: A workbook is a few dozen parts (a few hundred with many sheets and pictures).
MAX_ZIP_ENTRIES = 10_000
#: Files a zip may hold that make it an archive of other files rather than a workbook.
_ARCHIVED = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".csv", ".tsv", ".txt", ".zip")

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
        return "excel"  # checked (check_zip) and read by the confined reader
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


def _declared_entries(source: IO[bytes]) -> int:
    """How many entries the zip's end record declares (zip64 too), read before any zip parser
    builds one object per entry; 0 when no end record is found (the zip parser then says why)."""
    source.seek(0, os.SEEK_END)
    size = source.tell()
    tail_size = min(size, 65_535 + 22 + 20)
    source.seek(size - tail_size)
    tail = source.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return 0
    entries = struct.unpack_from("<H", tail, at + 10)[0]
    locator = at - 20
    if entries == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        source.seek(struct.unpack_from("<Q", tail, locator + 8)[0])
        record = source.read(56)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            entries = struct.unpack_from("<Q", record, 32)[0]
    return int(entries)


def check_zip(source: IO[bytes], name: str) -> None:
    """Refuse a zip that is no workbook: too many entries, contents declared too large or too
    compressed (a zip bomb), encrypted, or an archive holding other files (a zip of a workbook)."""
    try:
        entries = _declared_entries(source)
    finally:
        source.seek(0)
    if entries > MAX_ZIP_ENTRIES:
        raise InputFileError(
            name,
            f"refused: the zip holds {entries:,} files (a workbook holds a few dozen; at most {MAX_ZIP_ENTRIES:,})",
        )
    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
        raise InputFileError(name, f"is a damaged zip/xlsx file ({exc})") from None
    finally:
        source.seek(0)
    if len(infos) > MAX_ZIP_ENTRIES:
        raise InputFileError(name, f"refused: the zip holds {len(infos):,} files (at most {MAX_ZIP_ENTRIES:,})")
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
    names = {info.filename for info in infos}
    if not names & {"[Content_Types].xml", "mimetype", "content.xml"}:
        inner = next((n for n in sorted(names) if n.lower().endswith(_ARCHIVED)), None)
        if inner is not None:
            raise InputFileError(
                name, f"is a zip archive holding {inner!r}, not a workbook: unzip it and import that file"
            )
