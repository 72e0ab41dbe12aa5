"""CSV/TSV reading: encoding detection, delimiter sniffing, streaming rows with their numbers."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from batchqueue.errors import InputFileError
from batchqueue.intake.sheets.headers import column_letter
from batchqueue.intake.sheets.table import SourceInfo

DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_SNIFF_RECORDS = 50
#: The longest cell, and the longest line (bytes between line breaks), a file may have: no contact
#: list has a 16 MiB line, and a parser holds a whole record (several times its size) in memory.
MAX_LINE = 1 << 24
csv.field_size_limit(MAX_LINE)


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


def scan(source: IO[bytes], first: bytes, name: str, *, hashed: bool = True) -> tuple[str, str | None, str, int, bytes]:
    """One pass over the bytes: (encoding, note, sha256, size, ``b'"'`` when a ``"`` occurs at all).

    UTF-8 is proven, not guessed. A file without a single ``"`` has no cell that spans lines, so
    its rows need not be looked at for that.
    ``hashed=False``: no sha256 (returned as ""; ~0.1 s of a 20 MB file), for a caller that hashes
    the bytes as it parses them."""
    if first.startswith(codecs.BOM_UTF8):
        encoding, note = "utf-8-sig", "UTF-8 with BOM"
    elif first.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        encoding, note = "utf-32", "UTF-32 with BOM"
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
    # UTF-16 and UTF-32 text is decoded here too: the NUL check above saw only their code units.
    wide = codecs.getincrementaldecoder(encoding)() if encoding.startswith("utf-16") or encoding == "utf-32" else None
    cp1252_ok = True
    size = 0
    line = 0  # bytes since the last line break
    marks = {b'"': False}
    source.seek(0)
    while chunk := source.read(_CHUNK):
        line = _line_after(chunk, line, source, size, name)
        size += len(chunk)
        if hashed:
            digest.update(chunk)
        for mark, seen in marks.items():
            if not seen and mark in chunk:
                marks[mark] = True
        if decoder is not None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                decoder = None
                encoding = "fallback"
        if wide is not None:
            _wide_text(wide, chunk, name, note or encoding)
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
    if wide is not None:
        _wide_text(wide, b"", name, note or encoding, final=True)
    if encoding == "fallback":
        # Not valid UTF-8: Excel on Windows writes Windows-1252; bytes it leaves undefined mean Latin-1.
        encoding = "cp1252" if cp1252_ok else "latin-1"
        note = f"not valid UTF-8; read as {'Windows-1252' if cp1252_ok else 'Latin-1'}"
    sha256 = digest.hexdigest() if hashed else ""
    return encoding, note, sha256, size, b"".join(mark for mark, seen in marks.items() if seen)


def _line_after(chunk: bytes, line: int, source: IO[bytes], offset: int, name: str) -> int:
    """The bytes since the last line break once ``chunk`` (at ``offset``) is read, ``line`` before
    it; InputFileError when a line grows past :data:`MAX_LINE` (two searches a megabyte: no cost)."""
    last = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
    if last < 0:
        line += len(chunk)
    else:
        first = min(at for at in (chunk.find(b"\n"), chunk.find(b"\r")) if at >= 0)
        if line + first <= MAX_LINE:  # a chunk is far shorter than a line may be: only its ends count
            return len(chunk) - last - 1
        line += first
    if line > MAX_LINE:
        source.seek(0)
        number = source.read(offset + len(chunk) - line).count(b"\n") + 1
        raise InputFileError(
            name,
            f"line {number} is longer than {MAX_LINE >> 20} MiB: no contact list has such a line (is it a CSV "
            "file? a cell holding a whole document?); save the sheet again as CSV, or remove that line",
        )
    return line


def _wide_text(decoder: codecs.IncrementalDecoder, chunk: bytes, name: str, what: str, *, final: bool = False) -> None:
    """Decode a chunk of UTF-16/32 text: InputFileError when it is not that, or holds NUL characters."""
    try:
        text = decoder.decode(chunk, final=final)
    except UnicodeDecodeError as exc:
        raise InputFileError(name, f"is not valid text in its encoding ({what}): {exc.reason}") from None
    if "\x00" in text:
        raise InputFileError(name, f"contains binary data (NUL characters, read as {what}); not a CSV file")


def sniff_delimiter(sample: str, prefer_tab: bool) -> str:
    """The delimiter among , ; TAB | under which most records share one width of 2 or more columns.

    The most common width counts, not the first record's: a title line above the header (one
    cell under any delimiter) must not decide.
    """
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may cut the last line short
    text = "".join(lines)
    best, best_score = ("\t" if prefer_tab else ","), (0.0, 1)
    for delim in DELIMITERS:
        reader = csv.reader(io.StringIO(text), delimiter=delim)
        widths: list[int] = []
        try:
            for record in reader:
                if any(cell.strip() for cell in record):
                    widths.append(len(record))
                if len(widths) >= _SNIFF_RECORDS:
                    break
        except csv.Error:
            continue
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        if width < 2:
            continue
        score = (count / len(widths), width)
        if score > best_score:
            best, best_score = delim, score
    return best


_SEP_LINE = re.compile(r'\A\ufeff?"?sep=(.)"?\r?\n')


class CsvSource:
    """A delimited text file read as a stream of numbered records. Usage: ``CsvSource.open(path, source, first)``."""

    def __init__(
        self,
        path: Path,
        source: IO[bytes],
        info: SourceInfo,
        skip_first_line: bool,
        marks: bytes = b'"',
        *,
        hash_as_read: bool = False,
    ) -> None:
        self.path = path
        self.info = info
        self._hash_as_read = hash_as_read
        self._marks = marks  # b'"' when the file holds a " (see scan)
        self.warnings: list[str] = []
        self.column_names: list[str] = []  # told by the framing once the header is known
        self._unnamed: list[tuple[int, int, int, int]] = []  # (warning index, row, column, lines)
        self._reader_bytes = _HashingReader(source)
        buffered = io.BufferedReader(self._reader_bytes, buffer_size=_CHUNK)
        self._text = io.TextIOWrapper(buffered, encoding=info.encoding, newline="")
        if skip_first_line:
            self._text.readline()
        self._reader = csv.reader(self._text, delimiter=info.delimiter or ",", strict=False)

    @classmethod
    def open(
        cls, path: Path, source: IO[bytes], first: bytes, delimiter: str | None = None, *, hash_as_read: bool = False
    ) -> CsvSource:
        """``hash_as_read``: ``info.sha256`` is the hash of the bytes the rows were parsed from, known
        once they are all read (not before), for a reader whose caller compares it with its own."""
        encoding, note, sha256, size, marks = scan(source, first, str(path), hashed=not hash_as_read)
        sample = first.decode(encoding, errors="replace")
        sep = _SEP_LINE.match(sample)  # Excel's "sep=;" first line names the delimiter
        if delimiter is None:
            if sep is not None:
                delimiter = sep.group(1)
            else:
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
        return cls(path, source, info, skip_first_line=sep is not None, marks=marks, hash_as_read=hash_as_read)

    def _swallowed(self, number: int, record: list[str]) -> None:
        """Warn when a quoted cell runs over lines that look like rows of their own (an unbalanced quote)."""
        delimiter = self.info.delimiter or ","
        need = max(1, len(record) - 1)
        for at, cell in enumerate(record):
            if "\n" not in cell:
                continue
            lines = [line for line in cell.split("\n")[1:] if line.count(delimiter) >= need]
            if lines:
                if not self.column_names:
                    self._unnamed.append((len(self.warnings), number, at, len(lines)))
                self.warnings.append(self._swallow_warning(number, at, len(lines)))
                return

    def _swallow_warning(self, number: int, at: int, lines: int) -> str:
        column = repr(self.column_names[at]) if at < len(self.column_names) else column_letter(at)
        return (
            f"row {number}, column {column}: a quote opened in this cell runs over {lines} line(s) that look "
            'like rows of their own; check the row for an unbalanced " (those contacts are inside this one cell)'
        )

    def name_columns(self, names: list[str]) -> None:
        """The header is known: warnings about rows read before it name their column."""
        self.column_names = names
        for index, number, at, lines in self._unnamed:
            self.warnings[index] = self._swallow_warning(number, at, lines)
        self._unnamed.clear()

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        # Records are numbered as a spreadsheet program numbers rows: a quoted field spanning lines
        # still counts as one row. Cells are given as written: the quote an export adds for formula
        # safety is taken off only in batchqueue's own files (intake/sheets/own_columns).
        number = 0  # Excel hides a "sep=" line and numbers the rows after it from 1, so do we
        reader = self._reader
        try:
            if b'"' in self._marks:
                # Only a record that spans lines needs a look (the reader's line count jumps).
                lines = 0
                for record in reader:
                    number += 1
                    if reader.line_num - lines > 1 and any("\n" in cell for cell in record):
                        self._swallowed(number, record)
                    lines = reader.line_num
                    yield number, record
            else:
                # No ": no record can span lines; nothing to look at.
                yield from enumerate(reader, 1)
            parsed = self._reader_bytes.digest.hexdigest()
            if self._hash_as_read:
                self.info.sha256 = parsed
            elif parsed != self.info.sha256:
                raise InputFileError(self.info.path, "the file changed while it was being read; import it again")
        except csv.Error as exc:
            raise InputFileError(self.info.path, f"line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputFileError(self.info.path, f"undecodable bytes near line {reader.line_num}: {exc}") from None

    def progress(self) -> tuple[int, int]:
        return self._reader_bytes.count, self.info.size

    def close(self) -> None:
        self._text.close()
