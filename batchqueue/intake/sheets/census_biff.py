"""The binary workbooks counted record by record before anything loads them: xls and xlsb.

An xls (BIFF8, [MS-XLS]) is a stream of records in an OLE compound file (read with olefile); every
cell record starts with its row and column, a shared string (LABELSST) names its index in the SST.
An xlsb (BIFF12, [MS-XLSB]) is a zip of record streams: a BrtRowHdr gives the row, each cell record
starts with its column, a BrtCellIsst names its shared string. calamine reads every sheet of an xls
when it opens it, one sheet of an xlsb.

Usage::

    census = count_xls(opened_file)
    names, member = xlsb_sheets(zf)[0]
    census = count_xlsb_sheet(zf, member)
"""

from __future__ import annotations

import struct
import zipfile
from array import array
from collections.abc import Iterator
from typing import IO

import olefile

from batchqueue.intake.sheets.census import MAX_COLUMNS, MAX_ROWS, BeyondTheSheet, Census, beyond
from batchqueue.intake.sheets.xlsx_parts import XlsxPartError, relationships

# ---- xls (BIFF8 and the BIFF5 calamine also reads) ----------------------------------------------

_BOF, _EOF, _SST, _CONTINUE = 0x0809, 0x000A, 0x00FC, 0x003C
#: Records that are one cell and start with its row and column (BIFF8, and BIFF2-5's own numbers).
_XLS_CELLS = frozenset(
    {0x0203, 0x00FD, 0x027E, 0x0204, 0x0205, 0x0006, 0x0201, 0x00D6, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005}
)
_XLS_LABELSST = 0x00FD
#: Records that are several cells of one row: row, first column, …, last column (the final u16).
_XLS_MULTI = frozenset({0x00BD, 0x00BE})


class _Segments:
    """The SST's bytes across its CONTINUE records, read as one stream that knows its seams."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts, self.index, self.pos = parts, 0, 0

    def left(self) -> int:
        return len(self.parts[self.index]) - self.pos if self.index < len(self.parts) else 0

    def next_part(self) -> bool:
        self.index, self.pos = self.index + 1, 0
        return self.index < len(self.parts)

    def take(self, count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            if self.left() == 0 and not self.next_part():
                raise EOFError("the SST ends inside a string")
            piece = self.parts[self.index][self.pos : self.pos + count - len(out)]
            self.pos += len(piece)
            out += piece
        return bytes(out)

    def skip_characters(self, count: int, wide: bool) -> None:
        """Skip ``count`` characters; at a seam the next record restarts with a flags byte."""
        while count:
            if self.left() == 0:
                if not self.next_part():
                    raise EOFError("the SST ends inside a string")
                wide = bool(self.take(1)[0] & 0x01)
                continue
            here = min(count, self.left() // (2 if wide else 1))
            if here == 0:
                raise EOFError("a character split across records")
            self.pos += here * (2 if wide else 1)
            count -= here


def _sst_lengths(parts: list[bytes]) -> array[int]:
    """Each shared string's length in characters, from the SST record and its CONTINUE records."""
    lengths: array[int] = array("I")
    segments = _Segments(parts)
    try:
        _total, unique = struct.unpack("<II", segments.take(8))
        for _ in range(unique):
            count, flags = struct.unpack("<HB", segments.take(3))
            runs = struct.unpack("<H", segments.take(2))[0] if flags & 0x08 else 0
            extra = struct.unpack("<i", segments.take(4))[0] if flags & 0x04 else 0
            segments.skip_characters(count, bool(flags & 0x01))
            segments.take(4 * runs + max(extra, 0))
            lengths.append(count)
    except (EOFError, struct.error):
        pass  # a short SST: the strings read so far are all a reader can find
    return lengths


def _xls_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(data):
        kind, length = struct.unpack_from("<HH", data, pos)
        yield kind, data[pos + 4 : pos + 4 + length]
        pos += 4 + length


def count_xls(source: IO[bytes]) -> Census:
    """Every sheet of an xls (calamine reads them all when it opens the file), counted.

    Raises ``OSError`` (olefile's) for a file that is no compound file, ``ValueError`` for one
    without a workbook stream."""
    source.seek(0)
    with olefile.OleFileIO(source) as ole:
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        if name is None:
            raise ValueError("the compound file holds no workbook stream")
        data = ole.openstream(name).read()
    source.seek(0)
    total = Census(stored=len(data))
    sst: list[bytes] = []
    lengths: array[int] = array("I")
    sheet: Census | None = None
    rows = columns = 0
    in_sst = False
    for kind, body in _xls_records(data):
        if kind == _SST or (kind == _CONTINUE and in_sst):
            in_sst = True
            sst.append(body)
            continue
        if in_sst:
            lengths, in_sst = _sst_lengths(sst), False
        if kind == _BOF:
            sheet, rows, columns = Census(), 0, 0
        elif sheet is None:
            continue
        elif kind in _XLS_CELLS and len(body) >= 4:
            row, column = struct.unpack_from("<HH", body)
            rows, columns = max(rows, row + 1), max(columns, column + 1)
            sheet.cells += 1
            if kind == _XLS_LABELSST and len(body) >= 10:
                index = struct.unpack_from("<I", body, 6)[0]
                sheet.text += lengths[index] if index < len(lengths) else 0
        elif kind in _XLS_MULTI and len(body) >= 6:
            row, first = struct.unpack_from("<HH", body)
            last = struct.unpack_from("<H", body, len(body) - 2)[0]
            rows, columns = max(rows, row + 1), max(columns, last + 1, first + 1)
            sheet.cells += max(last - first + 1, 1)
        elif kind == _EOF:
            # calamine's sheet goes from A1 (python-calamine keeps the empty area above and left).
            sheet.rows, sheet.columns, sheet.area = rows, columns, rows * columns
            total.add(sheet)
            sheet = None
    return total


# ---- xlsb ---------------------------------------------------------------------------------------

_BRT_ROW, _BRT_DIM, _BRT_ISST, _BRT_SST_ITEM, _BRT_SHEET = 0x00, 0x94, 0x07, 0x13, 0x9C
_XLSB_CELLS = frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x3E})
_CHUNK = 1 << 20


def _varint(data: bytes | bytearray, pos: int, most: int) -> tuple[int, int] | None:
    value = shift = 0
    for i in range(most):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos + i + 1
    return value, pos + most


def _b12_records(zf: zipfile.ZipFile, member: str) -> Iterator[tuple[int, bytes]]:
    """(record type, payload) of a BIFF12 part, streamed (a record never waits for the whole part)."""
    buffer = bytearray()
    with zf.open(member) as f:
        ended = False
        while not ended:
            chunk = f.read(_CHUNK)
            ended = not chunk
            buffer += chunk
            pos = 0
            while True:
                kind = _varint(buffer, pos, 2)
                size = _varint(buffer, kind[1], 4) if kind else None
                if kind is None or size is None or size[1] + size[0] > len(buffer):
                    break
                yield kind[0], bytes(buffer[size[1] : size[1] + size[0]])
                pos = size[1] + size[0]
            del buffer[:pos]


def _wide_string(body: bytes, pos: int) -> tuple[str, int]:
    count = struct.unpack_from("<I", body, pos)[0]
    if count == 0xFFFFFFFF:
        return "", pos + 4
    end = pos + 4 + 2 * count
    return body[pos + 4 : end].decode("utf-16-le", "replace"), end


def xlsb_sheets(zf: zipfile.ZipFile, hidden: set[str] | None = None) -> list[tuple[str, str]]:
    """(sheet name, part) of each sheet, in workbook order (BrtBundleSh records and their rels);
    the names of the hidden ones (hsState not 0: hidden, very hidden) are added to ``hidden``."""
    book = "xl/workbook.bin"
    if book not in zf.NameToInfo:
        raise XlsxPartError("no workbook part in the package")
    rels = relationships(zf, book)
    sheets = []
    for kind, body in _b12_records(zf, book):
        if kind == _BRT_SHEET and len(body) >= 12:
            rel, pos = _wide_string(body, 8)
            name, _ = _wide_string(body, pos)
            if rel in rels:
                sheets.append((name, rels[rel]))
                if hidden is not None and struct.unpack_from("<I", body, 0)[0] != 0:
                    hidden.add(name)
    return sheets


def _xlsb_lengths(zf: zipfile.ZipFile) -> array[int]:
    lengths: array[int] = array("I")
    member = next((n for n in zf.namelist() if n.lower() == "xl/sharedstrings.bin"), None)
    if member is not None:
        for kind, body in _b12_records(zf, member):
            if kind == _BRT_SST_ITEM and len(body) >= 5:
                lengths.append(struct.unpack_from("<I", body, 1)[0])
    return lengths


def count_xlsb_sheet(zf: zipfile.ZipFile, member: str) -> Census:
    """One xlsb sheet counted: its cells, extent, declared dimension and shared text.

    Raises :class:`BeyondTheSheet` at the first cell past XFD1048576."""
    lengths = _xlsb_lengths(zf)
    census = Census(stored=zf.getinfo(member).file_size)
    row = 0
    for kind, body in _b12_records(zf, member):
        if kind in _XLSB_CELLS and len(body) >= 4:
            column = struct.unpack_from("<I", body)[0] + 1
            if column > MAX_COLUMNS or row > MAX_ROWS:
                raise BeyondTheSheet(str(beyond(row, column)))
            census.rows, census.columns = max(census.rows, row), max(census.columns, column)
            census.cells += 1
            if kind == _BRT_ISST and len(body) >= 12:
                index = struct.unpack_from("<I", body, 8)[0]
                census.text += lengths[index] if index < len(lengths) else 0
        elif kind == _BRT_ROW and len(body) >= 4:
            row = struct.unpack_from("<I", body)[0] + 1
        elif kind == _BRT_DIM and len(body) >= 16:
            first_row, last_row, first_col, last_col = struct.unpack_from("<IIII", body)
            census.claimed = (abs(last_row - first_row) + 1) * (abs(last_col - first_col) + 1)
    census.area = census.rows * census.columns
    return census
