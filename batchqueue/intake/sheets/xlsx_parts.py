"""The parts of an xlsx package that a streaming read needs: sheets, date styles, shared strings.

Everything is read with expat, which refuses entity expansion bombs on its own; a DOCTYPE (never
present in a real workbook) is refused outright.

Usage::

    with zipfile.ZipFile(f) as zf:
        sheets = sheet_members(zf)                  # [("Contacts", "xl/worksheets/sheet1.xml"), ...]
        styles = date_styles(zf)                    # xf index -> DATE or DURATION
        strings = SharedStrings.load(zf)            # strings[7] -> "Maria"
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.parsers import expat

DATE, DURATION = "date", "duration"
_CHUNK = 1 << 20
#: Built-in number formats that show dates or times (ECMA-376 18.8.30), and the one duration.
_BUILTIN_DATES = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47})
_BUILTIN_DURATION = 46


class XlsxPartError(ValueError):
    """A part of the workbook is missing or malformed."""


#: What reading a damaged package can raise: each becomes one clear refusal of the file.
UNREADABLE = (XlsxPartError, expat.ExpatError, ValueError, KeyError, zipfile.BadZipFile, EOFError, OSError)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _refuse_doctype(*_: Any) -> None:
    raise XlsxPartError("the workbook's XML declares a DOCTYPE, which no spreadsheet program writes")


_XSTRING_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescaped(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code <= 0xFF else match.group(0)


def unescape_xstring(text: str) -> str:
    """Excel's escapes in cell text (``_x000D_`` → CR, ``_x005F_x0001_`` → ``_x0001_``), decoded as
    python-calamine decodes them: codes up to 0xFF (the ones Excel writes), others left as text."""
    return _XSTRING_ESCAPE.sub(_unescaped, text) if "_x" in text else text


def new_parser() -> Any:
    """An expat parser with namespaces folded to local names and DOCTYPEs refused."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    return parser


def parse_member(
    zf: zipfile.ZipFile,
    member: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
) -> None:
    """Stream ``member`` through expat, calling ``start(local_name, attrs)`` (and ``end``)."""
    parser = new_parser()
    parser.StartElementHandler = lambda name, attrs: start(_local(name), attrs)
    if end is not None:
        parser.EndElementHandler = lambda name: end(_local(name))
    with zf.open(member) as f:
        while chunk := f.read(_CHUNK):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _attr(attrs: dict[str, str], name: str) -> str | None:
    for key, value in attrs.items():
        if key == name or key.endswith(":" + name) or key.endswith("}" + name):
            return value
    return None


def relationships(zf: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship id → target member of ``part`` (e.g. the workbook's sheets)."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    found: dict[str, str] = {}
    if rels not in zf.NameToInfo:
        return found

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "Relationship" and "Id" in attrs and "Target" in attrs:
            target = attrs["Target"]
            found[attrs["Id"]] = (
                target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            )

    parse_member(zf, rels, start)
    return found


def workbook_member(zf: zipfile.ZipFile) -> str:
    """The workbook part (``xl/workbook.xml`` in every writer seen, but the package says where)."""
    for target in relationships(zf, ".rels").values() if "_rels/.rels" in zf.NameToInfo else []:
        if target.endswith(".xml") and "workbook" in posixpath.basename(target).lower():
            return target
    if "xl/workbook.xml" in zf.NameToInfo:
        return "xl/workbook.xml"
    raise XlsxPartError("no workbook part in the package")


@dataclass(frozen=True)
class Workbook:
    """Sheet names with their parts, in workbook order, the date system, and the hidden sheets."""

    sheets: list[tuple[str, str]]
    date1904: bool
    hidden: frozenset[str] = frozenset()


def read_workbook(zf: zipfile.ZipFile) -> Workbook:
    member = workbook_member(zf)
    rels = relationships(zf, member)
    sheets: list[tuple[str, str]] = []
    hidden: set[str] = set()
    flags = {"date1904": False}

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "sheet":
            rid = _attr(attrs, "id")
            target = rels.get(rid or "")
            if target and "name" in attrs:
                sheets.append((attrs["name"], target))
                if attrs.get("state", "visible") != "visible":  # hidden, veryHidden
                    hidden.add(attrs["name"])
        elif tag == "workbookPr":
            flags["date1904"] = attrs.get("date1904", "0").lower() in ("1", "true")

    parse_member(zf, member, start)
    return Workbook(sheets, flags["date1904"], frozenset(hidden))


def classify_format(code: str) -> str | None:
    """DATE, DURATION or None for an Excel number format code (the first section decides).

    Quoted text, escaped characters (``\\x``, ``_x``, ``*x``) and bracketed parts (colours, locales,
    conditions) are not date tokens; ``[h]``, ``[m]``, ``[s]`` make a duration.
    """
    section = []
    i = 0
    while i < len(code):
        ch = code[i]
        if ch == ";":
            break
        if ch in "\\_*":
            i += 2
            continue
        if ch == '"':
            close = code.find('"', i + 1)
            i = len(code) if close < 0 else close + 1
            continue
        if ch == "[":
            close = code.find("]", i + 1)
            inner = code[i + 1 : close if close >= 0 else len(code)]
            if inner and re.fullmatch(r"(?:h+|m+|s+)", inner, re.IGNORECASE):
                return DURATION
            i = len(code) if close < 0 else close + 1
            continue
        section.append(ch)
        i += 1
    text = "".join(section)
    if re.search(r"[dmhysDMHYS]", text) or re.search(r"(?i)a(?:m/pm|/p)", text):
        return DATE
    return None


def date_styles(zf: zipfile.ZipFile) -> dict[int, str]:
    """Cell style (xf) index → DATE or DURATION, for the styles whose number format shows one."""
    member = next((n for n in ("xl/styles.xml",) if n in zf.NameToInfo), None)
    if member is None:
        return {}
    custom: dict[int, str] = {}
    xfs: list[int] = []
    where = {"cellXfs": False}

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "numFmt" and attrs.get("numFmtId", "").isdigit():
            kind = classify_format(attrs.get("formatCode", ""))
            if kind:
                custom[int(attrs["numFmtId"])] = kind
        elif tag == "cellXfs":
            where["cellXfs"] = True
        elif tag == "xf" and where["cellXfs"]:
            fmt = attrs.get("numFmtId", "0")
            xfs.append(int(fmt) if fmt.isdigit() else 0)

    def end(tag: str) -> None:
        if tag == "cellXfs":
            where["cellXfs"] = False

    parse_member(zf, member, start, end)
    found: dict[int, str] = {}
    for index, fmt in enumerate(xfs):
        if fmt in custom:
            found[index] = custom[fmt]
        elif fmt in _BUILTIN_DATES:
            found[index] = DATE
        elif fmt == _BUILTIN_DURATION:
            found[index] = DURATION
    return found


class SharedStrings:
    """The workbook's shared strings, packed: one UTF-8 buffer and an offset per string.

    A million distinct strings cost their bytes plus 8 bytes each, not a Python object each.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")

    def __len__(self) -> int:
        return len(self._ends)

    @property
    def size(self) -> int:
        """Bytes of text all the strings hold (each once)."""
        return len(self._data)

    def __getitem__(self, index: int) -> str:
        start = self._ends[index - 1] if index else 0
        return self._data[start : self._ends[index]].decode("utf-8")

    @classmethod
    def load(cls, zf: zipfile.ZipFile) -> SharedStrings:
        strings = cls()
        member = next((n for n in zf.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
        if member is None:
            return strings
        parser = new_parser()
        state = {"in_t": False, "phonetic": 0}
        parts: list[str] = []

        def start(name: str, _attrs: dict[str, str]) -> None:
            tag = _local(name)
            if tag == "t" and not state["phonetic"]:
                state["in_t"] = True
            elif tag == "rPh":
                state["phonetic"] += 1
            elif tag == "si":
                parts.clear()

        def end(name: str) -> None:
            tag = _local(name)
            if tag == "t":
                state["in_t"] = False
            elif tag == "rPh":
                state["phonetic"] -= 1
            elif tag == "si":
                strings._data += unescape_xstring("".join(parts)).encode("utf-8")
                strings._ends.append(len(strings._data))

        def text(data: str) -> None:
            if state["in_t"]:
                parts.append(data)

        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
        with zf.open(member) as f:
            while chunk := f.read(_CHUNK):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
        return strings


def column_number(letters: bytes | str) -> int:
    """A1-style column letters → 1-based number: A → 1, Z → 26, AA → 27."""
    n = 0
    for ch in letters if isinstance(letters, str) else letters.decode("ascii"):
        n = n * 26 + ord(ch.upper()) - 64
    return n
