"""Workbooks written byte by byte, so that a test can say exactly what a hostile file holds.

Every format the readers accept, from the formats' own specifications, without a spreadsheet
program: xlsx/xlsm (ECMA-376 SpreadsheetML, a zip of XML), ods (OpenDocument 1.2, a zip of XML),
xls (BIFF8 records [MS-XLS] in an OLE compound file [MS-CFB]) and xlsb (BIFF12 records [MS-XLSB] in
a zip). Each writer takes cells as the format stores them, so a far cell, a repeated row or a shared
string used a million times is one argument away.

Usage::

    xlsx_file(path, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=["phone"])
    ods_file(path, ods_row(["phone"]) + ods_row(["6175550101"], repeat=1_000_000))
    xls_file(path, [(0, 0, "phone"), (1, 0, 6175550101.0)])
    xlsb_file(path, [(0, 0, "phone"), (1, 0, 6175550101.0)])
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

# ---- xlsx ---------------------------------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def _content_types(sheet_type: str, extension: str) -> str:
    return (
        f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="{extension}" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.{extension}" ContentType="{sheet_type}"/></Types>'
    )


def _package_rels(workbook: str) -> str:
    return (
        f'{_XML_HEAD}<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC_RELS}/officeDocument" Target="{workbook}"/></Relationships>'
    )


def _book_rels(sheet: str, shared: str | None) -> str:
    strings = f'<Relationship Id="rId9" Type="{_DOC_RELS}/sharedStrings" Target="{shared}"/>' if shared else ""
    return (
        f'{_XML_HEAD}<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC_RELS}/worksheet" Target="{sheet}"/>{strings}</Relationships>'
    )


def shared_strings_xml(strings: Sequence[str], *, uses: int | None = None) -> str:
    """The sharedStrings part; ``uses`` is the count it declares (Excel's ``count``)."""
    items = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    count = len(strings) if uses is None else uses
    return f'{_XML_HEAD}<sst xmlns="{_MAIN}" count="{count}" uniqueCount="{len(strings)}">{items}</sst>'


def worksheet_xml(sheet_data: str, *, dimension: str | None = None, prefix: str = "") -> str:
    """A worksheet part around ``sheet_data``; ``prefix`` writes every element as ``prefix:name``."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{_MAIN}"' if prefix else f'xmlns="{_MAIN}"'
    dim = f'<{p}dimension ref="{dimension}"/>' if dimension else ""
    return f"{_XML_HEAD}<{p}worksheet {xmlns}>{dim}<{p}sheetData>{sheet_data}</{p}sheetData></{p}worksheet>"


def xlsx_file(
    path: Path,
    sheet_data: str,
    *,
    shared: Sequence[str] | None = None,
    dimension: str | None = None,
    sheet_xml: str | None = None,
    extra: Iterable[tuple[str, bytes]] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A minimal valid xlsx whose one sheet ("Contacts") holds ``sheet_data`` (``<row>`` elements),
    or exactly ``sheet_xml``; ``shared``: its shared strings; ``extra``: more members, as given."""
    book = (
        f'{_XML_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}"><sheets>'
        '<sheet name="Contacts" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    main_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("[Content_Types].xml", _content_types(main_type, "xml"))
        zf.writestr("_rels/.rels", _package_rels("xl/workbook.xml"))
        zf.writestr("xl/workbook.xml", book)
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            _book_rels("worksheets/sheet1.xml", "sharedStrings.xml" if shared is not None else None),
        )
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml or worksheet_xml(sheet_data, dimension=dimension))
        if shared is not None:
            zf.writestr("xl/sharedStrings.xml", shared_strings_xml(shared))
        for name, data in extra:
            zf.writestr(name, data)
    return path


def inline_row(number: int, cells: Sequence[str]) -> str:
    """One ``<row>`` of inline-string cells from column A."""
    from batchqueue.intake.sheets.headers import column_letter

    body = "".join(
        f'<c r="{column_letter(i)}{number}" t="inlineStr"><is><t>{escape(v)}</t></is></c>' for i, v in enumerate(cells)
    )
    return f'<row r="{number}">{body}</row>'


#: A header and one valid contact: what every hostile sheet below carries besides its attack.
CONTACT_ROWS = inline_row(1, ["phone", "name"]) + inline_row(2, ["6175550101", "Ann"])

# ---- ods ----------------------------------------------------------------------------------------

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def ods_cell(value: str | float | None, *, repeat: int = 1) -> str:
    """A ``table:table-cell`` (a string, a float, or empty) repeated ``repeat`` times across."""
    rep = f' table:number-columns-repeated="{repeat}"' if repeat != 1 else ""
    if value is None:
        return f"<table:table-cell{rep}/>"
    if isinstance(value, float):
        kind = f'office:value-type="float" office:value="{value!r}"'
        return f"<table:table-cell {kind}{rep}><text:p>{value!r}</text:p></table:table-cell>"
    return f'<table:table-cell office:value-type="string"{rep}><text:p>{escape(value)}</text:p></table:table-cell>'


def ods_row(cells: Sequence[str | float | None] | str, *, repeat: int = 1) -> str:
    """A ``table:table-row`` of cells (or of the cell XML given) repeated ``repeat`` times down."""
    rep = f' table:number-rows-repeated="{repeat}"' if repeat != 1 else ""
    body = cells if isinstance(cells, str) else "".join(ods_cell(c) for c in cells)
    return f"<table:table-row{rep}>{body}</table:table-row>"


def ods_content(tables: Sequence[tuple[str, str]]) -> str:
    """content.xml of an ods holding ``tables`` as (name, rows XML)."""
    body = "".join(f'<table:table table:name="{escape(name)}">{rows}</table:table>' for name, rows in tables)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} office:version="1.2">'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body></office:document-content>"
    )


def ods_file(path: Path, rows: str, *, content: str | None = None, name: str = "Contacts") -> Path:
    """A minimal valid ods whose one table holds ``rows`` (or whose content.xml is ``content``)."""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content or ods_content([(name, rows)]))
        zf.writestr("META-INF/manifest.xml", manifest)
    return path


ODS_CONTACT_ROWS = ods_row(["phone", "name"]) + ods_row(["6175550101", "Ann"])

# ---- xls: BIFF8 records in an OLE compound file -------------------------------------------------

Cell = tuple[int, int, "str | float | int | None"]  # (row, column, value): 0-based; an int is a shared-string index


def _record(kind: int, payload: bytes) -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def _sst_records(strings: Sequence[str]) -> bytes:
    """SST and its CONTINUE records: a string split across records restarts with its flags byte."""
    limit = 8224
    records: list[bytes] = []
    current = bytearray(struct.pack("<II", len(strings), len(strings)))
    for text in strings:
        data = text.encode("latin-1")
        header = struct.pack("<HB", len(data), 0)  # compressed (one byte a character)
        if len(current) + len(header) + 1 > limit:
            records.append(bytes(current))
            current = bytearray()
        current += header
        while data:
            room = limit - len(current)
            current += data[:room]
            data = data[room:]
            if data:
                records.append(bytes(current))
                current = bytearray(b"\x00")  # the continued characters' flags: still compressed
    records.append(bytes(current))
    return _record(0x00FC, records[0]) + b"".join(_record(0x003C, r) for r in records[1:])


def biff8_stream(
    sheets: Sequence[tuple[str, Sequence[Cell]]],
    strings: Sequence[str] = (),
    *,
    dimensions: dict[int, tuple[int, int, int, int]] | None = None,
    repeat_cells: int = 1,
) -> bytes:
    """The Workbook stream: globals (BOF, BOUNDSHEET8 per sheet, SST, EOF), then each sheet's
    substream (BOF, DIMENSIONS, its cells, EOF). An int value is a LABELSST index into ``strings``;
    ``dimensions``: a sheet's declared (first row, last row + 1, first col, last col + 1)."""
    bof_globals = _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06))
    codepage = _record(0x0042, struct.pack("<H", 1200))
    sst = _sst_records(strings) if strings else b""
    eof = _record(0x000A, b"")

    def boundsheet(name: str, offset: int) -> bytes:
        raw = name.encode("latin-1")
        return _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(raw), 0) + raw)

    bodies: list[bytes] = []
    for index, (_, cells) in enumerate(sheets):
        body = bytearray(_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 0x06)))
        if cells:
            rows = [r for r, _, _ in cells]
            cols = [c for _, c, _ in cells]
            declared = (min(rows), max(rows) + 1, min(cols), max(cols) + 1)
        else:
            declared = (0, 0, 0, 0)
        declared = (dimensions or {}).get(index, declared)
        body += _record(0x0200, struct.pack("<IIHHH", *declared, 0))
        for row, col, value in cells:
            if isinstance(value, str):
                raw = value.encode("latin-1")
                record = _record(0x0204, struct.pack("<HHHHB", row, col, 15, len(raw), 0) + raw)
            elif isinstance(value, int):
                record = _record(0x00FD, struct.pack("<HHHI", row, col, 15, value))
            elif value is None:
                record = _record(0x0201, struct.pack("<HHH", row, col, 15))
            else:
                record = _record(0x0203, struct.pack("<HHHd", row, col, 15, value))
            body += record * repeat_cells
        body += eof
        bodies.append(bytes(body))
    globals_size = len(bof_globals) + len(codepage) + len(sst) + len(eof)
    globals_size += sum(len(boundsheet(name, 0)) for name, _ in sheets)
    offsets, at = [], globals_size
    for made in bodies:
        offsets.append(at)
        at += len(made)
    boundsheets = b"".join(boundsheet(name, offsets[i]) for i, (name, _) in enumerate(sheets))
    return bof_globals + codepage + boundsheets + sst + eof + b"".join(bodies)


def cfb_file(path: Path, streams: Sequence[tuple[str, bytes]]) -> Path:
    """An OLE compound file (version 3, 512-byte sectors) holding ``streams`` in its root storage.

    Each stream is padded to 4,096 bytes at least, so that none goes to the mini stream."""
    sector = 512
    end, free, fat_mark = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    padded = [(name, data + b"\x00" * max(0, 4096 - len(data))) for name, data in streams]
    counts = [-(-len(data) // sector) for _, data in padded]
    directory_sectors = -(-(len(streams) + 1) // 4)
    fat_sectors = 1
    while fat_sectors * (sector // 4) < fat_sectors + directory_sectors + sum(counts):
        fat_sectors += 1
    assert fat_sectors <= 109, "too large for a header-only DIFAT"
    fat = [fat_mark] * fat_sectors
    first_directory = len(fat)
    fat += [first_directory + i + 1 for i in range(directory_sectors - 1)] + [end]
    starts = []
    for count in counts:
        starts.append(len(fat))
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [end]
    fat += [free] * (fat_sectors * (sector // 4) - len(fat))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        return (
            raw.ljust(64, b"\x00")
            + struct.pack("<HBBIII", len(raw), kind, 1, free, right, child)
            + b"\x00" * 16
            + struct.pack("<IQQIQ", 0, 0, 0, start, size)
        )

    entries = [entry("Root Entry", 5, 1 if streams else free, free, end, 0)]
    for i, (name, data) in enumerate(padded):
        # A degenerate tree: each stream the right sibling of the one before (valid, if unbalanced).
        entries.append(entry(name, 2, free, i + 2 if i + 1 < len(padded) else free, starts[i], len(data)))
    empty = (
        b"\x00" * 64
        + struct.pack("<HBBIII", 0, 0, 0, free, free, free)
        + b"\x00" * 16
        + struct.pack("<IQQIQ", 0, 0, 0, 0, 0)
    )
    entries += [empty] * (directory_sectors * 4 - len(entries))
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, fat_sectors, first_directory, 0, 4096, end, 0, end, 0)
        + b"".join(struct.pack("<I", i) for i in range(fat_sectors))
        + struct.pack("<I", free) * (109 - fat_sectors)
    )
    assert len(header) == 512
    body = b"".join(struct.pack("<I", v) for v in fat) + b"".join(entries)
    for _, data in padded:
        body += data + b"\x00" * (-len(data) % sector)
    path.write_bytes(header + body)
    return path


def xls_file(
    path: Path,
    cells: Sequence[Cell],
    *,
    strings: Sequence[str] = (),
    more_sheets: Sequence[tuple[str, Sequence[Cell]]] = (),
    dimensions: dict[int, tuple[int, int, int, int]] | None = None,
    repeat_cells: int = 1,
) -> Path:
    """A BIFF8 .xls whose first sheet ("Contacts") holds ``cells``."""
    stream = biff8_stream(
        [("Contacts", cells), *more_sheets], strings, dimensions=dimensions, repeat_cells=repeat_cells
    )
    return cfb_file(path, [("Workbook", stream)])


XLS_CONTACT_CELLS: list[Cell] = [(0, 0, "phone"), (0, 1, "name"), (1, 0, "6175550101"), (1, 1, "Ann")]

# ---- xlsb: BIFF12 records in a zip --------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def b12(kind: int, payload: bytes = b"") -> bytes:
    """One BIFF12 record: its type and size as 7-bit varints, then its payload."""
    return _varint(kind) + _varint(len(payload)) + payload


def _wide(text: str) -> bytes:
    raw = text.encode("utf-16-le")
    return struct.pack("<I", len(raw) // 2) + raw


def xlsb_sheet(cells: Sequence[Cell], *, dimension: tuple[int, int, int, int] | None = None) -> bytes:
    """A worksheet part: BrtBeginSheet, BrtWsDim (first row, last row, first col, last col),
    BrtBeginSheetData, a BrtRowHdr before each row's cells, BrtEndSheetData, BrtEndSheet."""
    if dimension is None:
        rows = [r for r, _, _ in cells] or [0]
        cols = [c for _, c, _ in cells] or [0]
        dimension = (min(rows), max(rows), min(cols), max(cols))
    out = bytearray(b12(0x81) + b12(0x94, struct.pack("<IIII", *dimension)) + b12(0x91))
    current = None
    for row, col, value in sorted(cells, key=lambda c: (c[0], c[1])):
        if row != current:
            out += b12(0x00, struct.pack("<IIHHBI", row, 0, 300, 0, 0, 0))
            current = row
        head = struct.pack("<II", col, 0)
        if isinstance(value, str):
            out += b12(0x06, head + _wide(value))  # BrtCellSt
        elif isinstance(value, int):
            out += b12(0x07, head + struct.pack("<I", value))  # BrtCellIsst
        elif value is None:
            out += b12(0x01, head)  # BrtCellBlank
        else:
            out += b12(0x05, head + struct.pack("<d", value))  # BrtCellReal
    out += b12(0x92) + b12(0x82)
    return bytes(out)


def xlsb_file(
    path: Path,
    cells: Sequence[Cell],
    *,
    strings: Sequence[str] | None = None,
    dimension: tuple[int, int, int, int] | None = None,
    sheet_part: bytes | None = None,
    hidden_first: Sequence[Cell] | None = None,
) -> Path:
    """A minimal xlsb whose one sheet ("Contacts") holds ``cells`` (or is exactly ``sheet_part``);
    ``hidden_first``: the cells of a hidden sheet ("Old", hsState 1) before it."""
    hidden = b""
    if hidden_first is not None:
        hidden = b12(0x9C, struct.pack("<II", 1, 2) + _wide("rId2") + _wide("Old"))
    book = (
        b12(0x83)
        + b12(0x8F)
        + hidden
        + b12(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("Contacts"))
        + b12(0x90)
        + b12(0x84)
    )
    main_type = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _content_types(main_type, "bin"))
        zf.writestr("_rels/.rels", _package_rels("xl/workbook.bin"))
        zf.writestr("xl/workbook.bin", book)
        rels = _book_rels("worksheets/sheet1.bin", "sharedStrings.bin" if strings is not None else None)
        if hidden_first is not None:
            rels = rels.replace(
                "</Relationships>",
                f'<Relationship Id="rId2" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet2.bin"/>'
                "</Relationships>",
            )
            zf.writestr("xl/worksheets/sheet2.bin", xlsb_sheet(hidden_first))
        zf.writestr("xl/_rels/workbook.bin.rels", rels)
        zf.writestr(
            "xl/worksheets/sheet1.bin", sheet_part if sheet_part is not None else xlsb_sheet(cells, dimension=dimension)
        )
        if strings is not None:
            sst = b12(0x9F, struct.pack("<II", len(strings), len(strings)))
            sst += b"".join(b12(0x13, b"\x00" + _wide(s)) for s in strings)
            zf.writestr("xl/sharedStrings.bin", sst + b12(0xA0))
    return path
