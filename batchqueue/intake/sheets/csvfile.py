"""CSV/TSV reading: encoding detection, delimiter sniffing, streaming rows with their numbers."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from batchqueue.errors import InputFileError
from batchqueue.intake.sheets.headers import clean_headers
from batchqueue.intake.sheets.table import RawRow, SourceInfo

DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_SNIFF_RECORDS = 50
csv.field_size_limit(1 << 24)


class _HashingReader(io.RawIOBase):
    """The source file as read for parsing: counts the bytes (progress) and hashes them.

    The hash of what was parsed is compared with the hash taken when the file was opened, so a
    file changed while it was read is refused rather than imported as a mix of two files.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.count += n
            self.digest.update(buffer[:n])
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def _utf16_without_bom(first: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when the bytes look like mostly-ASCII UTF-16 text with no BOM."""
    pairs = len(first) // 2
    if pairs < 8:
        return None
    even_zero = sum(1 for b in first[0 : pairs * 2 : 2] if b == 0)
    odd_zero = sum(1 for b in first[1 : pairs * 2 : 2] if b == 0)
    if odd_zero >= 0.6 * pairs and even_zero <= 0.1 * pairs:
        return "utf-16-le"
    if even_zero >= 0.6 * pairs and odd_zero <= 0.1 * pairs:
        return "utf-16-be"
    return None


def scan(source: IO[bytes], first: bytes, name: str) -> tuple[str, str | None, str, int]:
    """One pass over the bytes: (encoding, note, sha256, size). UTF-8 is proven, not guessed."""
    if first.startswith(codecs.BOM_UTF8):
        encoding, note = "utf-8-sig", "UTF-8 with BOM"
    elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, note = "utf-16", "UTF-16 with BOM"
    elif b"\x00" in first:
        found = _utf16_without_bom(first)
        if found is None:
            raise InputFileError(name, "contains binary data (NUL bytes); not a CSV file")
        encoding, note = found, f"UTF-16 without a BOM ({'little' if found.endswith('le') else 'big'}-endian)"
    else:
        encoding, note = "utf-8", None
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if encoding == "utf-8" else None
    cp1252_ok = True
    size = 0
    source.seek(0)
    while chunk := source.read(_CHUNK):
        size += len(chunk)
        digest.update(chunk)
        if decoder is not None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                decoder = None
                encoding = "fallback"
        if encoding == "fallback" and cp1252_ok:
            try:
                chunk.decode("cp1252")
            except UnicodeDecodeError:
                cp1252_ok = False
    source.seek(0)
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "fallback"
    if encoding == "fallback":
        # Not valid UTF-8: Excel on Windows writes Windows-1252; bytes it leaves undefined mean Latin-1.
        encoding = "cp1252" if cp1252_ok else "latin-1"
        note = f"not valid UTF-8; read as {'Windows-1252' if cp1252_ok else 'Latin-1'}"
    return encoding, note, digest.hexdigest(), size


def sniff_delimiter(sample: str, prefer_tab: bool) -> str:
    """The delimiter among , ; TAB | that splits the first records into the most consistent columns."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may cut the last line short
    text = "".join(lines)
    best, best_score = ("\t" if prefer_tab else ","), (0.0, 1)
    for delim in DELIMITERS:
        reader = csv.reader(io.StringIO(text), delimiter=delim)
        widths = []
        try:
            for record in reader:
                if any(cell.strip() for cell in record):
                    widths.append(len(record))
                if len(widths) >= _SNIFF_RECORDS:
                    break
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for w in widths if w == widths[0]) / len(widths)
        score = (consistent, widths[0])
        if score > best_score:
            best, best_score = delim, score
    return best


class CsvTable:
    """A delimited text file read as a stream of rows. Usage: ``CsvTable.open(path, source, first_bytes)``."""

    def __init__(self, path: Path, source: IO[bytes], info: SourceInfo) -> None:
        self.path = path
        self.info = info
        self.blank_rows = 0
        self.warnings: list[str] = []
        self._reader_bytes = _HashingReader(source)
        buffered = io.BufferedReader(self._reader_bytes, buffer_size=_CHUNK)
        self._text = io.TextIOWrapper(buffered, encoding=info.encoding, newline="")
        self._reader = csv.reader(self._text, delimiter=info.delimiter or ",", strict=False)
        try:
            self.headers = self._read_header()
        except BaseException:
            self._text.close()
            raise

    @classmethod
    def open(cls, path: Path, source: IO[bytes], first: bytes, delimiter: str | None = None) -> CsvTable:
        encoding, note, sha256, size = scan(source, first, str(path))
        sample = first.decode(encoding, errors="replace")
        if delimiter is None:
            delimiter = sniff_delimiter(sample.lstrip("\ufeff"), path.suffix.lower() in {".tsv", ".tab"})
        info = SourceInfo(
            path=str(path),
            kind="csv",
            sha256=sha256,
            size=size,
            encoding=encoding,
            encoding_note=note,
            delimiter=delimiter,
        )
        return cls(path, source, info)

    def _read_header(self) -> list[str]:
        try:
            for record in self._reader:
                if any(cell.strip() for cell in record):
                    return clean_headers(record, self.info.path)
                self.blank_rows += 1
        except csv.Error as exc:
            raise InputFileError(self.info.path, f"line {self._reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputFileError(self.info.path, f"undecodable bytes in the header: {exc}") from None
        raise InputFileError(self.info.path, "has no header row (every line is blank)")

    def _swallowed(self, number: int, record: list[str]) -> None:
        """Warn when a quoted cell runs over lines that look like rows of their own (an unbalanced quote)."""
        delimiter = self.info.delimiter or ","
        need = max(1, len(self.headers) - 1)
        for at, cell in enumerate(record):
            if "\n" not in cell:
                continue
            lines = [line for line in cell.split("\n")[1:] if line.count(delimiter) >= need]
            if lines:
                column = self.headers[at] if at < len(self.headers) else f"#{at + 1}"
                self.warnings.append(
                    f"row {number}, column {column!r}: a quote opened in this cell runs over {len(lines)} line(s) "
                    'that look like rows of their own; check the row for an unbalanced " (those contacts are '
                    "inside this one cell)"
                )
                return

    def rows(self) -> Iterator[RawRow]:
        width = len(self.headers)
        # Records are numbered as a spreadsheet program numbers rows: header = 1 (after any blank
        # lines above it), a quoted field spanning lines still counts as one row.
        record_number = 1 + self.blank_rows
        reader = self._reader
        try:
            for record in reader:
                record_number += 1
                if len(record) == width:
                    if not any(record):
                        self.blank_rows += 1
                        continue
                    if any("\n" in c for c in record):
                        self._swallowed(record_number, record)
                    yield record_number, record, []
                    continue
                if not any(cell.strip() for cell in record):
                    self.blank_rows += 1
                    continue
                if any("\n" in c for c in record):
                    self._swallowed(record_number, record)
                if len(record) < width:
                    record.extend([""] * (width - len(record)))
                    yield record_number, record, []
                else:
                    extra = [cell for cell in record[width:] if cell.strip()]
                    yield record_number, record[:width], extra
            if self._reader_bytes.digest.hexdigest() != self.info.sha256:
                raise InputFileError(self.info.path, "the file changed while it was being read; import it again")
        except csv.Error as exc:
            raise InputFileError(self.info.path, f"line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputFileError(self.info.path, f"undecodable bytes near line {reader.line_num}: {exc}") from None
        finally:
            self._text.close()

    def progress(self) -> tuple[int, int]:
        return self._reader_bytes.count, self.info.size

    def __enter__(self) -> CsvTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._text.close()
