"""What the user asked for: mapping options from the command line and from a TOML mapping file.

A mapping file lets a team reuse one mapping; options given on the command line win over it::

    phone_column = "Mobile, Home Phone"   # the first valid of several columns
    region = "US"                         # for numbers without a country code
    region_column = "Country"             # each row's own country (found by name if not given)
    timezone = "America/New_York"
    timezone_column = "Time Zone"         # each row's own zone (found by name if not given)
    zip_column = "ZIP"                    # each row's US ZIP code: its zone and state (found by name)
    state_column = "State"                # each row's US state: another of its states (found by name)
    date_formats = ["%d.%m.%Y %H:%M"]     # tried before the built-in forms
    dayfirst = true                       # 12/03/2026 is 12 March (monthfirst = true: 3 December)
    nulls = ["n/a"]                       # read as empty, besides \\N and NULL
    where = ["Consent = Yes"]             # only these rows are imported; the others are filtered
    header_row = 4                        # the spreadsheet's row number of the header
    metadata = ["First Name", "Account"]   # or: metadata = false

    [columns]        # request fields read per row from a column ("none": not from any column)
    ani = "Caller ID"
    postd = "none"

    [defaults]       # job-wide values, used where a row's column is absent or empty
    max_attempts = 3
    reattempt_wait = 3600

    [calling.states.FL]       # calling hours and days that replace the job's for contacts there
    hours = "08:00-20:00"
    [calling.countries.GB]
    days = "mon-sat"

    [rules]          # named rules (batchqueue.calling.registry), as --rule NAME=VALUE gives them
    recontact-after = "14d"
    max-contacts = "3/7d"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError

#: Request fields besides the phone number, each from a column or a job-wide default.
FIELDS = ("ani", "postd", "start", "end", "max_attempts", "reattempt_wait", "result_url")
#: What each field is, in words (the check's output and the console's mapping say it).
FIELD_WORDS = {
    "ani": "the caller id the callee sees",
    "postd": "the extension dialled after the call connects",
    "start": "the earliest time to call",
    "end": "the latest time to call",
    "max_attempts": "attempts per contact, 1-10",
    "reattempt_wait": "seconds between attempts",
    "result_url": "the URL outcomes are posted to",
}
#: What ``--column FIELD=none`` (and ``--region-column none``…) takes to mean "from no column".
NO_COLUMN = "none"


@dataclass(frozen=True)
class MappingSpec:
    """The mapping as given; :func:`batchqueue.intake.mapping.resolve.resolve` fits it to a header."""

    phone_column: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    metadata: tuple[str, ...] | None = None
    no_metadata: bool = False
    region: str = DEFAULTS.region
    timezone: str = DEFAULTS.timezone
    allow_duplicates: bool = False
    sheet: str | None = None
    delimiter: str | None = None
    region_column: str | None = None
    timezone_column: str | None = None
    zip_column: str | None = None
    state_column: str | None = None
    date_formats: tuple[str, ...] = ()
    dayfirst: bool = False
    monthfirst: bool = False
    nulls: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    header_row: int | None = None
    #: The mapping file's ``[calling]`` table (per-state and per-country calling rules), as given.
    calling: dict[str, Any] = field(default_factory=dict)
    #: The mapping file's ``[rules]`` table: named rules (name → value), checked.
    rules: dict[str, str] = field(default_factory=dict)

    def overridden_by(self, **given: Any) -> MappingSpec:
        """This spec with every option the user gave explicitly (not None) put over it."""
        changes: dict[str, Any] = {}
        for key, value in given.items():
            if value is None:
                continue
            if key in ("columns", "defaults"):
                changes[key] = {**getattr(self, key), **value}
            else:
                changes[key] = value
        if changes.get("metadata") is not None:
            changes.setdefault("no_metadata", False)
        return replace(self, **changes)


def parse_delimiter(value: str | None) -> str | None:
    """``--delimiter``'s value: one character, or its name (tab, comma, semicolon, pipe)."""
    if value is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(value.lower(), value)
    if len(value) != 1:
        raise UsageError(f"--delimiter must be one character (or tab, comma, semicolon, pipe), got {value!r}")
    return value


def _fields_dict(table: object, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table of field = value")
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise UsageError(f"{where} has unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    return {k: str(v) for k, v in table.items()}


def load_mapping_file(path: Path) -> MappingSpec:
    """Read a TOML mapping file; every mistake is a UsageError naming the file and the key."""
    named = str(path)
    data = _read_toml(path, named)
    known = {f.name for f in fields(MappingSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"mapping file {named}: unknown key(s) {', '.join(unknown)}")
    spec: dict[str, Any] = {}
    for key, value in data.items():
        name, checked = _checked_entry(key, value, named)
        spec[name] = checked
    return MappingSpec(**spec)


def _read_toml(path: Path, named: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"mapping file {named}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"mapping file {named}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"mapping file {named}: not valid TOML ({exc})") from None


def _checked_entry(key: str, value: Any, named: str) -> tuple[str, Any]:
    """(the MappingSpec field, its value) for one key of the mapping file ``named``, checked."""
    if key in ("columns", "defaults"):
        return key, _fields_dict(value, f"mapping file {named}: [{key}]")
    if key == "metadata":
        if value is False:
            return "no_metadata", True
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return key, tuple(value)
        raise UsageError(f"mapping file {named}: metadata must be a list of column names or false")
    if key in ("date_formats", "nulls", "where"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"mapping file {named}: {key} must be a list of strings")
        return key, tuple(value)
    if key == "calling":
        if not isinstance(value, dict):
            raise UsageError(f"mapping file {named}: [calling] must be a table (see --help of import)")
        from batchqueue.calling.rules import CallingRules

        try:  # checked here, so that a mistake names the file
            CallingRules.parse(overrides=value)
        except UsageError as exc:
            raise UsageError(f"mapping file {named}: {exc}") from None
        return key, value
    if key == "rules":
        from batchqueue.calling.registry import rules_table

        return key, rules_table(value, f"mapping file {named}: [rules]")
    if key == "header_row":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"mapping file {named}: header_row must be a row number (1 or more)")
        return key, value
    if key in ("allow_duplicates", "no_metadata", "dayfirst", "monthfirst"):
        if not isinstance(value, bool):
            raise UsageError(f"mapping file {named}: {key} must be true or false")
        return key, value
    if not isinstance(value, (str, int)):
        raise UsageError(f"mapping file {named}: {key} must be a string")
    return key, str(value)
