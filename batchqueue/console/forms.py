"""What a console form (or an API call's JSON) says, turned into the service layer's requests.

Every number is read strictly (ASCII digits, within its range; anything else is a UsageError, a
400 naming the field), and an upload's name is kept as the user wrote it wherever a file name can
hold it safely.
"""

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.service.mapping import FIELDS, MappingSpec, parse_delimiter
from batchqueue.service.sending import RunRequest
from batchqueue.service.uploads import EXCEL_SUFFIXES, TEXT_SUFFIXES
from batchqueue.service.values import INT64_MAX, printable

_UPLOAD_ID_LENGTH = 22
#: What an upload may be: exactly what the command line reads.
KINDS = (*sorted(TEXT_SUFFIXES), *sorted(EXCEL_SUFFIXES))
#: The most runs a console run may send at once.
MAX_CONCURRENCY = 64
#: Bytes of an upload's name on disk (file systems allow 255).
MAX_NAME_BYTES = 200
#: Names Windows keeps for devices (a file so named cannot be opened there, whatever its extension).
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|CLOCK\$|COM[0-9¹²³]|LPT[0-9¹²³])", re.IGNORECASE)
#: Unicode categories a file name never keeps: controls, format characters (bidirectional overrides
#: that make "exe.csv" look like "csv.exe"), surrogates, private use, unassigned, line separators.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def whole_number(value: object, name: str, *, low: int = 0, high: int = INT64_MAX) -> int:
    """``value`` as a whole number from ``low`` to ``high`` (ASCII digits only), else a UsageError."""
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) <= len(str(high)) and low <= int(text) <= high:
        return int(text)
    raise UsageError(f"{name} {printable(str(value), 24)!r}: a whole number from {low} to {high}")


def positive_number(value: object, name: str) -> float:
    """``value`` as a finite number above 0 (such as 2.5), else a UsageError."""
    text = str(value).strip()
    try:
        number = float(text) if text.isascii() and len(text) <= 32 else math.nan
    except ValueError:
        number = math.nan
    if math.isfinite(number) and number > 0:
        return number
    raise UsageError(f"{name} {printable(str(value), 24)!r}: a number above 0, such as 2.5")


def _text(form: Mapping[str, Any], key: str) -> str | None:
    value = form.get(key)
    value = str(value).strip() if value is not None else ""
    return value or None


def _list(form: MultiDict[str, Any] | Mapping[str, Any], key: str) -> list[str]:
    if isinstance(form, MultiDict):
        values = form.getlist(key)
    else:
        found = form.get(key)
        values = found if isinstance(found, list) else ([found] if found else [])
    return [str(v).strip() for v in values if str(v).strip()]


def _table(form: MultiDict[str, Any] | Mapping[str, Any], key: str, prefix: str) -> dict[str, str]:
    """Request fields by name: a JSON body's ``{"columns": {"start": "Call After"}}``, or a form's
    ``column_start`` (``prefix`` + field) fields; empty values left out."""
    given = form.get(key)
    found: dict[str, str] = {}
    if isinstance(given, Mapping):
        found = {str(k): str(v).strip() for k, v in given.items() if str(v).strip()}
    elif given is not None:
        raise UsageError(f'{key}: an object of field → value, such as {{"start": "Call After"}}')
    for name in FIELDS:
        value = _text(form, prefix + name)
        if value is not None:
            found[name] = value
    unknown = sorted(set(found) - set(FIELDS))
    if unknown:
        raise UsageError(f"{key}: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    return found


def _flag(form: Mapping[str, Any], key: str) -> bool | None:
    value = form.get(key)
    if value is None or value == "" or value is False:
        return None
    return True


def _lines(form: MultiDict[str, Any] | Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    """A list in a JSON body, repeated fields, or one text of several lines: each non-empty line."""
    found = [line.strip() for value in _list(form, key) for line in value.splitlines()]
    return tuple(line for line in found if line) or None


#: The date order select: the options' names.
DATE_ORDERS = ("dayfirst", "monthfirst")

#: The keys :func:`spec_from` reads from an API body (each field's column and job-wide value too).
SPEC_KEYS = frozenset(
    {
        "phone_column",
        "region",
        "region_column",
        "timezone",
        "timezone_column",
        "zip_column",
        "state_column",
        "date_formats",
        "date_order",
        "dayfirst",
        "monthfirst",
        "nulls",
        "where",
        "header_row",
        "sheet",
        "delimiter",
        "metadata",
        "metadata_chosen",
        "allow_duplicates",
        "columns",
        "defaults",
        *FIELDS,
        *(f"column_{name}" for name in FIELDS),
    }
)
#: The most unknown keys a refusal names.
_NAMED_UNKNOWN = 10


def check_keys(body: Mapping[str, Any], known: frozenset[str] | set[str]) -> None:
    """A UsageError naming the keys of an API body that nothing reads (none is silently ignored)."""
    unknown = sorted(printable(str(key), 40) for key in body if key not in known)
    if not unknown:
        return
    more = f" (and {len(unknown) - _NAMED_UNKNOWN} more)" if len(unknown) > _NAMED_UNKNOWN else ""
    named = ", ".join(repr(key) for key in unknown[:_NAMED_UNKNOWN]) + more
    accepted = f"; known: {', '.join(sorted(known))}" if known else "; this call takes no body"
    raise UsageError(f"unknown key(s) {named}{accepted}")


def spec_from(form: MultiDict[str, Any] | Mapping[str, Any]) -> MappingSpec:
    """The mapping a check page's fields (or an API body) chose, with the command line's names
    (``phone_column``, ``region``, ``region_column``, ``timezone``, ``timezone_column``,
    ``zip_column``, ``state_column``, ``date_formats``, ``dayfirst``/``monthfirst`` (or ``date_order``), ``nulls``,
    ``where``, ``header_row``, ``sheet``, ``delimiter``, ``metadata``, ``allow_duplicates``, each
    field's column as ``columns`` or ``column_FIELD``, each job-wide value as ``defaults`` or by the
    field's name); unset fields are detected."""
    header_row = _text(form, "header_row")
    try:
        row = whole_number(header_row, "header row", low=1) if header_row is not None else None
    except UsageError:
        raise UsageError(
            f"header row {printable(str(header_row), 24)!r}: give the spreadsheet's row number, such as 3"
        ) from None
    columns = _table(form, "columns", "column_")
    # A column newly chosen for the phone or a field is no longer metadata.
    taken = {c.strip() for c in (_text(form, "phone_column") or "").split(",")} | set(columns.values())
    metadata = [c for c in _list(form, "metadata") if c not in taken]
    choose_metadata = _text(form, "metadata_chosen") is not None  # the form's metadata boxes were shown
    order = _text(form, "date_order")
    if order is not None and order not in DATE_ORDERS:
        raise UsageError(f"date_order {printable(order, 24)!r}: dayfirst or monthfirst (or nothing: from the column)")
    delimiter = _text(form, "delimiter")
    defaults = _table(form, "defaults", "")
    for key in ("max_attempts", "reattempt_wait"):  # whole numbers, refused here rather than row by row
        if key in defaults:
            defaults[key] = str(whole_number(defaults[key], key.replace("_", " "), low=1))
    return MappingSpec().overridden_by(
        phone_column=_text(form, "phone_column"),
        region=_text(form, "region"),
        region_column=_text(form, "region_column"),
        timezone=_text(form, "timezone"),
        timezone_column=_text(form, "timezone_column"),
        zip_column=_text(form, "zip_column"),
        state_column=_text(form, "state_column"),
        date_formats=_lines(form, "date_formats"),
        dayfirst=True if order == "dayfirst" else _flag(form, "dayfirst"),
        monthfirst=True if order == "monthfirst" else _flag(form, "monthfirst"),
        nulls=_lines(form, "nulls"),
        where=_lines(form, "where"),
        sheet=_text(form, "sheet"),
        delimiter=parse_delimiter(delimiter) if delimiter is not None else None,
        header_row=row,
        metadata=tuple(metadata) if metadata or choose_metadata else None,
        no_metadata=True if choose_metadata and not metadata else None,
        allow_duplicates=_flag(form, "allow_duplicates"),
        columns=columns or None,
        defaults=defaults or None,
    )


#: The most rows a console's test send may send (a test, not the campaign).
MAX_TEST_SEND = 1000


#: The import form's rule fields: each a named rule of the registry (``batchqueue.calling.registry``).
RULE_FIELDS = {
    "calling_hours": "calling-hours",
    "recontact_after": "recontact-after",
    "max_contacts": "max-contacts",
    "state_caps": "state-caps",
    "state_rules": "state-rules",
    "outside_federal_hours": "outside-federal-hours",
}


#: An API body's mapping of named rules (``{"rules": {"calling-hours": "09:00-20:00"}}``).
RULES_KEY = "rules"
#: The longest value of a rule in ``rules`` (longer is refused, not read).
_MAX_RULE_TEXT = 1000


def rules_from(form: Mapping[str, Any]) -> dict[str, str]:
    """The named rules an import form (or an API body) gives, checked; a field left empty: the
    default. An API body may also give ``rules``, a mapping of the registry's rules by name (as
    ``--rule NAME=VALUE`` and a mapping file's ``[rules]`` give them), checked the same way; a rule
    given both ways is refused."""
    from batchqueue.service.rules import check_rule, rules_table

    texts: dict[str, str] = {}
    for key, name in RULE_FIELDS.items():
        value = _text(form, key)
        if value is not None:
            texts[name] = check_rule(name, printable(value, 64), name)
    given = None if isinstance(form, MultiDict) else form.get(RULES_KEY)
    if given is None:
        return texts
    if isinstance(given, Mapping):
        given = {printable(str(name), 40): _rule_text(value) for name, value in given.items()}
    table = rules_table(given, RULES_KEY)
    twice = sorted(set(texts) & set(table))
    if twice:
        raise UsageError(f"{', '.join(twice)} given twice (as a field and in {RULES_KEY})")
    return texts | table


def _rule_text(value: object) -> str:
    """A rule's value in a JSON body as the mapping file's would read (a list: its items, by commas)."""
    text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return printable(text, _MAX_RULE_TEXT)


#: The keys :func:`run_options` reads from an API body.
RUN_KEYS = frozenset({"concurrency", "rate", "limit", "hold_until_window"})


def run_options(form: Mapping[str, Any], job_id: int, public_url: str | None) -> RunRequest:
    """The run a start form (or an API body) asks for: its fields, the others ``batchqueue run``'s defaults."""
    concurrency = _text(form, "concurrency")
    rate = _text(form, "rate")
    limit = _text(form, "limit")
    return RunRequest(
        job_id,
        limit=whole_number(limit, "rows of a test send", low=1, high=MAX_TEST_SEND) if limit is not None else None,
        concurrency=whole_number(concurrency, "concurrency", low=1, high=MAX_CONCURRENCY)
        if concurrency is not None
        else DEFAULTS.console_concurrency,
        rate=positive_number(rate, "rate") if rate is not None else DEFAULTS.rate,
        hold_until_window=_text(form, "hold_until_window") is not None,
        public_url=public_url,
    )


def disk_name(given: str) -> str:
    """An upload's name as it is kept on disk: the user's own name wherever it is safe (any script,
    spaces, punctuation), its folder part dropped, unsafe characters as ``_``, no leading dot, no
    device name, at most ``MAX_NAME_BYTES`` bytes with its extension kept; "" without a known kind."""
    name = unicodedata.normalize("NFC", given)
    name = re.split(r"[/\\]", name)[-1]  # a browser may send a whole path, such as C:\Users\ana\list.csv
    name = "".join("_" if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in name)
    stem, dot, extension = name.rpartition(".")
    if not dot or "." + extension.lower() not in KINDS:
        return ""
    stem = stem.strip(" .")
    if _RESERVED.fullmatch(stem.split(".")[0].strip()):
        stem = "_" + stem
    room = MAX_NAME_BYTES - len(extension.encode()) - 1
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .") or "upload"
    return f"{stem}.{extension}"


def save_upload(upload: FileStorage | None, folder: Path) -> tuple[str, Path]:
    """An uploaded spreadsheet stored under a fresh, unguessable id; (id, path)."""
    if upload is None or not upload.filename:
        raise UsageError("choose a CSV or Excel file to upload")
    name = disk_name(upload.filename)
    if not name:
        raise UsageError(
            f"{printable(upload.filename, 100)}: upload a CSV, TSV, Excel or OpenDocument spreadsheet "
            f"({', '.join(KINDS)})"
        )
    upload_id = secrets.token_urlsafe(16)[:_UPLOAD_ID_LENGTH]
    (folder / upload_id).mkdir(parents=True)
    path = folder / upload_id / name
    upload.save(path)
    return upload_id, path


def uploaded(folder: Path, upload_id: str) -> Path:
    """The file stored under ``upload_id`` (a UsageError for an id that names none)."""
    if len(upload_id) != _UPLOAD_ID_LENGTH or not all(c.isalnum() or c in "-_" for c in upload_id):
        raise UsageError("no such upload")
    found = sorted((folder / upload_id).glob("*")) if (folder / upload_id).is_dir() else []
    if not found:
        raise UsageError("no such upload (uploads are kept until the console's folder is cleaned)")
    return found[0]
