"""The XML workbooks counted with expat before anything loads them: an xlsx sheet, an ods workbook.

A real XML parser reads the references, so every spelling of the same cell is the same cell:
``r="XFD1048576"``, ``r='XFD1048576'``, ``r = "XFD1048576"``, ``r="xfd1048576"``, ``r="&#88;FD1048576"``,
or the elements under a namespace prefix (``<x:c>``). expat refuses entity-expansion bombs on its
own, and a DOCTYPE (never in a real workbook) is refused outright (:func:`.xlsx_parts.new_parser`).

Usage::

    census = count_xlsx_sheet(zf, "xl/worksheets/sheet1.xml", stop_after=1_500_000)
    lengths = shared_string_lengths(zf)
    census.text = shared_text(zf, "xl/worksheets/sheet1.xml", lengths)
    census = count_ods(zf)                  # every table: calamine reads an ods whole
"""

from __future__ import annotations

import re
import zipfile
from array import array
from typing import Any

from batchqueue.intake.sheets.census import MAX_COLUMNS, MAX_ROWS, BeyondTheSheet, Census, beyond
from batchqueue.intake.sheets.xlsx_parts import column_number, new_parser

_CHUNK = 1 << 20
_REFERENCE = re.compile(r"\$?([A-Za-z]+)\$?([0-9]+)")


class _Enough(Exception):
    """Counting stopped: the sheet has more cells than the caller wanted counted."""


def _local(name: str) -> str:
    return name[name.rfind(":") + 1 :]


def _attr(attrs: dict[str, str], local: str) -> str | None:
    """An attribute by its local name, with or without a namespace prefix."""
    value = attrs.get(local)
    if value is None and attrs:
        suffix = ":" + local
        for key, found in attrs.items():
            if key.endswith(suffix):
                return found
    return value


def _listed(attrs: list[str], local: str) -> str | None:
    """An attribute from expat's ordered list (name, value, name, value…), with or without a prefix."""
    suffix = ":" + local
    for i in range(0, len(attrs) - 1, 2):
        if attrs[i] == local or attrs[i].endswith(suffix):
            return attrs[i + 1]
    return None


def position(reference: str) -> tuple[int, int] | None:
    """(row, column), 1-based, of an A1-style reference in any case; None when it is not one.

    Letters or digits beyond any sheet give a position beyond it (never an error): the caller
    refuses that."""
    match = _REFERENCE.fullmatch(reference.strip())
    if match is None:
        return None
    letters, digits = match.groups()
    column = column_number(letters.upper()) if len(letters) <= 3 else MAX_COLUMNS + 1
    return int(digits) if len(digits) <= 9 else MAX_ROWS + 1, column


def _area(reference: str) -> int:
    first, _, last = reference.partition(":")
    start = position(first)
    end = position(last) if last else start
    if start is None or end is None:
        return 0
    return (abs(end[0] - start[0]) + 1) * (abs(end[1] - start[1]) + 1)


def _parse(zf: zipfile.ZipFile, member: str, parser: Any) -> None:
    with zf.open(member) as f:
        while chunk := f.read(_CHUNK):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)


#: Elements inside a cell (values, inline strings, formulas, rich text): nothing to count there.
_INSIDE_CELLS = frozenset({"v", "is", "t", "f", "r", "rPr", "rPh", "phoneticPr"})


def count_xlsx_sheet(zf: zipfile.ZipFile, member: str, *, stop_after: int) -> tuple[Census, int]:
    """The sheet's cells, extent and declared dimension, and how many of its cells are shared
    strings; counting stops after ``stop_after`` cells (the census is then not ``complete``).

    Raises :class:`BeyondTheSheet` at the first cell or row past XFD1048576. Most cells are
    written ``r="<letters><the row's number>"``: those take a fast path (the letters looked up
    among the columns already seen); any other reference is parsed in full. This runs once per
    cell of every sheet imported, so it is written for speed (~0.6 s a million cells here, on top
    of expat's own ~0.8 s)."""
    census = Census(stored=zf.getinfo(member).file_size)
    row = column = farthest_row = farthest_column = cells = shared = 0
    row_number, row_digits = 0, "\x00"  # the row element's number, as written ("\x00" ends no reference)
    columns: dict[str, int] = {}  # letters already seen (as written) -> column number

    def far(ref: str | None) -> None:
        """The cell or row just read may lie farther than all before it (rare past the first row)."""
        nonlocal farthest_row, farthest_column
        farthest_row, farthest_column = max(farthest_row, row), max(farthest_column, column)
        if column > MAX_COLUMNS or row > MAX_ROWS:
            raise BeyondTheSheet(f"{beyond(row, column)} ({ref})")

    def parsed(ref: str | None) -> None:
        """A cell whose reference took no fast path: parsed in full (or placed after the last)."""
        nonlocal row, column
        found = position(ref) if ref is not None else None
        if found is None:
            column += 1
        else:
            row, column = found
            letters = ref.strip().lstrip("$").rstrip("0123456789").rstrip("$") if ref is not None else ""
            if letters.isalpha() and letters.isascii() and column <= MAX_COLUMNS:
                columns[letters] = column
        if column > farthest_column or row > farthest_row:
            far(ref)

    def start(name: str, attrs: list[str]) -> None:
        nonlocal row, column, cells, shared, row_number, row_digits
        if name == "c":
            cells += 1
            if attrs and attrs[0] == "r":
                ref = attrs[1]
                found = columns.get(ref[: len(ref) - len(row_digits)]) if ref.endswith(row_digits) else None
                if found is None:
                    parsed(ref)
                else:
                    row, column = row_number, found
                    if found > farthest_column:
                        far(ref)
            else:
                parsed(_listed(attrs, "r"))
            if "s" in attrs and _listed(attrs, "t") == "s":
                shared += 1
            if cells > stop_after:
                raise _Enough
        elif name in _INSIDE_CELLS:
            return
        elif name == "row":
            number = _listed(attrs, "r")
            digits = number.strip() if number else ""
            row = row_number = int(digits) if digits.isdigit() and len(digits) < 12 else row_number + 1
            row_digits = digits if digits == str(row) else "\x00"
            column = 0
            if row > farthest_row:
                far(number)
        elif ":" in name:
            start(_local(name), attrs)  # the same elements under a namespace prefix
        elif name == "dimension":
            census.claimed = _area(_listed(attrs, "ref") or "")

    parser = new_parser()
    parser.ordered_attributes = True
    parser.StartElementHandler = start
    try:
        _parse(zf, member, parser)
    except _Enough:
        census.complete = False
    census.rows, census.columns, census.cells = max(farthest_row, 1), max(farthest_column, 1), cells
    census.area = census.rows * census.columns
    return census, shared


def shared_string_lengths(zf: zipfile.ZipFile) -> array[int]:
    """The length (characters) of each of the workbook's shared strings, in order."""
    lengths: array[int] = array("I")
    member = next((n for n in zf.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
    if member is None:
        return lengths
    current = [0]

    def start(name: str, _attrs: dict[str, str]) -> None:
        if name == "si" or name.endswith(":si"):
            current[0] = 0

    def end(name: str) -> None:
        if name == "si" or name.endswith(":si"):
            lengths.append(min(current[0], 0xFFFFFFFF))

    def text(data: str) -> None:
        current[0] += len(data)

    parser = new_parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    _parse(zf, member, parser)
    return lengths


def shared_text(zf: zipfile.ZipFile, member: str, lengths: array[int]) -> int:
    """Characters the sheet's shared-string cells expand to: each cell's string counted at each use."""
    state = {"shared": False, "value": False}
    digits: list[str] = []
    total = [0]

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = name if ":" not in name else _local(name)
        if tag == "c":
            state["shared"] = attrs.get("t") == "s"
        elif tag == "v" and state["shared"]:
            state["value"] = True
            digits.clear()

    def end(name: str) -> None:
        if state["value"] and (name == "v" or name.endswith(":v")):
            state["value"] = False
            index = "".join(digits).strip()
            if index.isdigit() and int(index) < len(lengths):
                total[0] += lengths[int(index)]

    def text(data: str) -> None:
        if state["value"]:
            digits.append(data)

    parser = new_parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    _parse(zf, member, parser)
    return total[0]


#: The attributes whose presence makes an ods cell hold something (calamine's test, widened).
_VALUE_ATTRIBUTES = ("value", "string-value", "date-value", "time-value", "boolean-value", "value-type", "formula")


def _repeats(attrs: dict[str, str], name: str) -> int:
    value = _attr(attrs, name)
    if value is None:
        return 1
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 12 else 1


def count_ods(zf: zipfile.ZipFile) -> Census:
    """Every table of an ods, as calamine builds it: repeated rows and columns expanded, each
    repeated cell's text copied (calamine reads every table when it opens the file)."""
    total = Census(stored=zf.getinfo("content.xml").file_size)
    tables = [Census()]  # the table being read
    # Per table: rows spanned from the first row with content to the last, rows repeated after
    # the last one so far (counted only if content follows), widest row with content, the cells
    # calamine pushes before trimming.
    state: dict[str, Any] = {"span": 0, "pending": 0, "widest": 0, "pushed": 0, "seen": False}
    row: dict[str, Any] = {"repeat": 1, "width": 0, "filled": 0, "content": False}
    cell: dict[str, Any] = {"in": False, "repeat": 1, "text": 0, "content": False}

    def end_table() -> None:
        table = tables[0]
        table.area = state["span"] * state["widest"] + state["pushed"]
        table.rows, table.columns = state["span"], state["widest"]
        total.add(table)
        tables[0] = Census()
        state.update(span=0, pending=0, widest=0, pushed=0, seen=False)

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag in ("table-cell", "covered-table-cell"):
            content = any(_attr(attrs, a) is not None for a in _VALUE_ATTRIBUTES)
            value = _attr(attrs, "string-value") or _attr(attrs, "date-value") or _attr(attrs, "time-value") or ""
            formula = _attr(attrs, "formula") or ""
            cell.update({"in": True, "repeat": _repeats(attrs, "number-columns-repeated")})
            cell.update({"text": len(value) + len(formula), "content": content})
        elif tag == "s" and cell["in"]:
            cell["text"] += _repeats(attrs, "c")
        elif tag == "table-row":
            row.update({"repeat": _repeats(attrs, "number-rows-repeated"), "width": 0, "filled": 0, "content": False})

    def text(data: str) -> None:
        if cell["in"]:
            cell["text"] += len(data)

    def end(name: str) -> None:
        tag = _local(name)
        if tag in ("table-cell", "covered-table-cell"):
            cell["in"] = False
            row["width"] += cell["repeat"]
            if cell["content"]:
                row["filled"], row["content"] = row["width"], True
                tables[0].cells += 1
                tables[0].text += cell["text"] * cell["repeat"] * row["repeat"]
        elif tag == "table-row":
            state["pushed"] += row["filled"]
            if row["content"]:
                state["span"] += (state["pending"] if state["seen"] else 0) + row["repeat"]
                state["pending"], state["seen"] = 0, True
                state["widest"] = max(state["widest"], row["filled"])
            elif state["seen"]:
                state["pending"] += row["repeat"]
        elif tag == "table":
            end_table()

    parser = new_parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    _parse(zf, "content.xml", parser)
    return total
