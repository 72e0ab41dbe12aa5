"""Fit a :class:`MappingSpec` to a file's header: which column is the phone, which are metadata.

The result, :class:`ResolvedMapping`, is the *effective* mapping: the ledger stores it with the
job, and it is part of what makes a re-import of the same file find the same job.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

from batchqueue.errors import UsageError
from batchqueue.intake.mapping.dates import DateReader, check_pattern
from batchqueue.intake.mapping.fields import FieldReader
from batchqueue.intake.mapping.phones import PhoneError, PhoneParser
from batchqueue.intake.mapping.regions import region_named
from batchqueue.intake.mapping.spec import FIELD_WORDS, FIELDS, NO_COLUMN, MappingSpec
from batchqueue.intake.mapping.times import TimeParser, canonical_zone, zone
from batchqueue.intake.mapping.where import Condition, parse_condition

#: Header names (see :func:`header_key`) that mean "the phone number", in the languages of the lists.
PHONE_HEADERS = frozenset(
    {
        "phone", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobilephone", "cell", "cellphone",
        "cellnumber", "telephone", "telephonenumber", "tel", "number", "destination", "contactnumber",
        "primaryphone", "mainphone",
        # es, pt, it, fr, de, nl, pl, sv, da
        "telefono", "numerodetelefono", "telefonomovil", "movil", "celular", "numerocelular",
        "telefone", "numerodetelefone", "telemovel", "cellulare", "numeroditelefono", "numerotelephone",
        "portable", "telephoneportable", "numerodetelephone", "telefon", "telefonnummer", "handy",
        "handynummer", "mobilnummer", "mobiltelefon", "telefoonnummer", "mobiel", "mobielnummer",
        "numertelefonu", "komorka", "mobilnr", "telefonnr",
    }
)  # fmt: skip
#: A column named like one of these holds each row's country.
REGION_HEADERS = frozenset(
    {
        "country", "countrycode", "countryregion", "countryiso", "countryname", "isocountry", "nation",
        "pais", "paese", "pays", "land", "landcode", "kraj", "region", "regioncode",
    }
)  # fmt: skip
#: A column named like one of these holds each row's time zone.
TIMEZONE_PLAIN_HEADERS = frozenset(
    {
        "timezone", "tz", "timezonename", "localtimezone", "zone", "zonahoraria", "husohorario",
        "fusohorario", "fuseauhoraire", "zeitzone", "fusoorario", "tijdzone", "strefaczasowa",
    }
)  # fmt: skip
#: ... and the names CRM and dialer exports give it (Salesforce's ``TimeZoneSidKey``, "Contact Time
#: Zone", "Time Zone (IANA)"; VICIdial's ``gmt_offset_now``, "GMT Offset", "UTC Offset"), taken when
#: no column has a plain name.
TIMEZONE_HEADERS = TIMEZONE_PLAIN_HEADERS | frozenset(
    {
        "timezonesidkey", "timezoneid", "timezonekey", "tzname", "tzid", "ianatimezone", "timezoneiana",
        "olsontimezone", "timezoneolson", "gmtoffset", "gmtoffsetnow", "utcoffset", "timezoneoffset",
        *(
            prefix + name
            for prefix in ("contact", "customer", "client", "lead", "account", "mailing", "home", "recipient",
                           "respondent", "member", "patient", "user")
            for name in ("timezone", "tz", "timezonename", "localtimezone")
        ),
    }
)  # fmt: skip
#: A column named like one of these holds each row's US ZIP code (its time zone and state).
ZIP_PLAIN_HEADERS = frozenset(
    {
        "zip", "zipcode", "zip5", "postalcode", "postcode", "postal", "zippostalcode", "postalzipcode",
        "zippostal", "postalzip", "zippostcode", "postcodezip", "codigopostal", "codepostal", "plz", "postleitzahl",
    }
)  # fmt: skip
#: ... and the names CRM exports give an address's ZIP (Salesforce "Mailing Zip/Postal Code",
#: "Billing Zip/Postal Code"; "Home ZIP", "Zip+4"), taken when no column has a plain name.
ZIP_HEADERS = ZIP_PLAIN_HEADERS | frozenset(
    {
        "zip4", "zipplus4", "zipcodeplus4", "zipcode4",
        *(
            prefix + name
            for prefix in ("mailing", "billing", "shipping", "home", "residential", "physical", "primary",
                           "contact", "street", "address", "mailingaddress", "homeaddress")
            for name in ("zip", "zipcode", "zip4", "postalcode", "zippostalcode", "postcode")
        ),
    }
)  # fmt: skip
#: A column named like one of these holds each row's US state (USPS code or name): another source of
#: the states a contact may be in (Dynamics "State/Province").
STATE_PLAIN_HEADERS = frozenset(
    {"state", "st", "statecode", "stateprovince", "provincestate", "stateorprovince", "stateprovincecode", "usstate",
     "stateregion", "stateus", "stateabbreviation", "stateabbr"}
)  # fmt: skip
#: ... and an address's state as CRM exports name it (Salesforce "Mailing State/Province"), taken
#: when no column has a plain name.
STATE_HEADERS = STATE_PLAIN_HEADERS | frozenset(
    {
        prefix + name
        for prefix in ("mailing", "billing", "shipping", "home", "residential", "physical", "primary", "contact",
                       "address", "mailingaddress", "homeaddress")
        for name in ("state", "st", "statecode", "stateprovince", "provincestate", "stateorprovince")
    }
)  # fmt: skip
#: A column whose normalized name is one of these feeds that request field without being asked (a
#: *guess*, shown with its header and undone by ``--column FIELD=none``). The names are the ones CRM
#: and dialer exports give those columns: a phone's extension in a column of its own (Salesforce and
#: HubSpot ``Ext``/``Phone Ext.``/``Extension``, Dynamics ``Extension No.``, ``x`` of a split
#: address-book number), when to call (Five9's ``time2call``/"Time To Call", lead forms' "Best Time to
#: Call", CRM reports' "Call After", "Callback Date/Time", "Start Date/Time"), until when ("Call
#: Before", "End Date/Time"), attempts and caller id (Genesys and Five9 lists' "Max Attempts",
#: "Caller ID"). Names that only resemble them are left alone: "Attempts" (attempts made), "Do Not
#: Call" (a flag).
FIELD_HEADERS = {
    "ani": {"ani", "callerid", "calleridnumber", "outboundcallerid", "outboundani", "callerani"},
    "postd": {
        "postd", "ext", "extn", "extension", "x", "phoneext", "phoneextension", "extensionno", "extensionnumber",
        "extno", "telephoneextension", "mobileext", "workext", "businessext", "officeext", "homeext",
    },
    "start": {
        "start", "starttimestamp", "starttime", "startdatetime", "startdate", "callafter", "callafterdate",
        "callafterdatetime", "callaftertime", "besttimetocall", "timetocall", "time2call", "calltime",
        "calldatetime", "callbackdatetime", "callbacktime", "callbackdate", "callback", "scheduledcalltime",
        "scheduledcall", "scheduledtime", "earliestcalltime", "dialafter", "notbefore", "callstart",
    },
    "end": {
        "end", "endtimestamp", "endtime", "enddatetime", "enddate", "callbefore", "callby", "callbeforedate",
        "latestcalltime", "dialbefore", "notafter", "callend", "donotcallafter",
    },
    "max_attempts": {"maxattempts", "maxtries", "maxcallattempts", "maxdialattempts", "attemptlimit"},
    "reattempt_wait": {"reattemptwait", "retrywait", "reattemptwaitseconds", "secondsbetweenattempts"},
    "result_url": {"resulturl", "callbackurl"},
}  # fmt: skip
#: Cells read as empty whatever the options (database dumps write NULL as \N or NULL).
NULL_MARKERS = ("\\N", "NULL", "null")


def header_key(name: str) -> str:
    """Case, accent and punctuation insensitive form of a header: ``"Teléfono Móvil"`` → ``"telefonomovil"``."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    return re.sub(r"[^0-9a-z]", "", folded)


@dataclass(frozen=True)
class Guess:
    """A column taken for a field because of its name (not because the user named it)."""

    field: str  # a request field, or "region", "timezone", "zip", "state"
    column: str

    @property
    def undo(self) -> str:
        """The one option that undoes it."""
        if self.field in FIELD_WORDS:
            return f"--column {self.field}={NO_COLUMN}"
        return f"--{self.field}-column {NO_COLUMN}"

    @property
    def what(self) -> str:
        """The field, in words: ``postd (the extension dialled after the call connects)``."""
        if self.field in FIELD_WORDS:
            return f"{self.field} ({FIELD_WORDS[self.field]})"
        return {
            "region": "each row's country",
            "timezone": "each row's time zone",
            "zip": "each row's ZIP code",
            "state": "each row's US state",
        }[self.field]

    def __str__(self) -> str:
        return f"guessed from its name: column {self.column!r} → {self.what}; undo: {self.undo}"


@dataclass(frozen=True)
class ResolvedMapping:
    """The effective mapping of one file: columns by name, job-wide values already normalized."""

    phone_columns: tuple[str, ...]
    columns: dict[str, str]
    defaults: dict[str, Any]
    metadata: tuple[str, ...]
    region: str
    timezone: str
    allow_duplicates: bool
    sheet: str | None = None
    delimiter: str | None = None
    region_column: str | None = None
    timezone_column: str | None = None
    zip_column: str | None = None
    state_column: str | None = None
    date_formats: tuple[str, ...] = ()
    dayfirst: bool = False
    monthfirst: bool = False
    nulls: tuple[str, ...] = NULL_MARKERS
    where: tuple[Condition, ...] = ()
    header_row: int | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)
    #: Columns taken because of their names, in the order of the fields.
    guesses: tuple[Guess, ...] = field(default=(), compare=False)
    #: The day/month order each date field's column was found to use (``"day"``/``"month"``), read
    #: from its values (intake/mapping/survey.py); not part of the fingerprint: the file and the
    #: options decide it.
    date_orders: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def phone_column(self) -> str:
        """The (first) phone column: the one a row's phone problems are reported against."""
        return self.phone_columns[0]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with the job. Options left at their defaults are not written, so a
        job imported before they existed keeps its fingerprint."""
        out: dict[str, Any] = {
            "phone_column": self.phone_column,
            "columns": dict(sorted(self.columns.items())),
            "defaults": dict(sorted(self.defaults.items())),
            "metadata": list(self.metadata),
            "region": self.region,
            "timezone": self.timezone,
            "allow_duplicates": self.allow_duplicates,
            "sheet": self.sheet,
            "delimiter": self.delimiter,
        }
        optional: dict[str, Any] = {
            "phone_columns": list(self.phone_columns) if len(self.phone_columns) > 1 else None,
            "region_column": self.region_column,
            "timezone_column": self.timezone_column,
            "zip_column": self.zip_column,
            "state_column": self.state_column,
            "date_formats": list(self.date_formats) or None,
            "dayfirst": self.dayfirst or None,
            "monthfirst": self.monthfirst or None,
            "nulls": list(self.nulls) if self.nulls != NULL_MARKERS else None,
            "where": [c.text for c in self.where] or None,
            "header_row": self.header_row,
        }
        out |= {key: value for key, value in optional.items() if value is not None}
        return out

    def fingerprint(self) -> str:
        """A stable digest of the mapping, for finding the job a re-import belongs to."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def date_reader(self, field_name: str | None = None) -> DateReader:
        """How dates are read: the options' order, else the one ``field_name``'s column was found to use."""
        order = self.date_orders.get(field_name or "")
        if self.dayfirst or self.monthfirst or order is None:
            return DateReader(self.date_formats, self.dayfirst, self.monthfirst)
        return DateReader(self.date_formats, order == "day", order == "month")


def null_markers(spec: MappingSpec) -> tuple[str, ...]:
    """The cells read as empty: \\N, NULL and each ``--null``, in that order."""
    return tuple(dict.fromkeys((*NULL_MARKERS, *(n for n in spec.nulls if n))))


def find_column(name: str, headers: list[str], what: str) -> str:
    """The header ``name`` means (exactly, else ignoring case); UsageError listing the columns."""
    if name in headers:
        return name
    folded = {h.casefold(): h for h in headers}
    if name.strip().casefold() in folded:
        return folded[name.strip().casefold()]
    listed = ", ".join(repr(h) for h in headers)
    raise UsageError(f"{what}: no column named {name!r}; the file's columns are {listed}")


def phone_columns(given: str | None, headers: list[str]) -> tuple[str, ...]:
    if given:
        if given in headers or given.strip().casefold() in {h.casefold() for h in headers}:
            return (find_column(given, headers, "--phone-column"),)
        names = [n.strip() for n in given.split(",") if n.strip()]
        chosen = tuple(dict.fromkeys(find_column(n, headers, "--phone-column") for n in names))
        if not chosen:
            raise UsageError("--phone-column: give a column name (or several as A,B)")
        return chosen
    found = [h for h in headers if header_key(h) in PHONE_HEADERS]
    if not found:  # "Mobile Phone", "Business Phone", "Teléfono Casa"
        found = [h for h in headers if header_key(h).endswith(("phone", "telefono", "telefon", "telephone", "mobile"))]
    if len(found) == 1:
        return (found[0],)
    listed = ", ".join(repr(h) for h in headers)
    if not found:
        raise UsageError(f"no phone column found among {listed}; name it with --phone-column")
    both = " and ".join(repr(h) for h in found)
    raise UsageError(
        f"more than one column could be the phone number ({both}); choose one with --phone-column, "
        f"or several in order of preference: --phone-column {','.join(found)!r}"
    )


def _optional_column(
    given: str | None,
    names: frozenset[str],
    headers: list[str],
    used: set[str],
    what: str,
    guesses: list[Guess],
    warnings: list[str] | None = None,
    plain: frozenset[str] = frozenset(),
) -> str | None:
    """A column named by an option, else the one header named like ``names`` (a guess); ``none`` opts out.
    Of several, the one with a ``plain`` name (``ZIP`` rather than ``Zip+4``); else none is taken, and
    ``warnings`` says so."""
    if given is not None:
        if given.strip().casefold() == NO_COLUMN:
            return None
        return find_column(given, headers, what)
    found = [h for h in headers if h not in used and header_key(h) in names]
    if len(found) > 1 and len(first := [h for h in found if header_key(h) in plain]) == 1:
        found = first
    if len(found) > 1 and warnings is not None:
        listed = ", ".join(repr(h) for h in found)
        warnings.append(f"columns {listed} could each be the {what} column; none was taken: choose one with {what}")
    if len(found) != 1:
        return None
    guesses.append(Guess(what.removeprefix("--").removesuffix("-column"), found[0]))
    return found[0]


def _field_columns(
    spec: MappingSpec, headers: list[str], phones: tuple[str, ...]
) -> tuple[dict[str, str], list[Guess], list[str]]:
    """Each request field's column: named (``none``: no column), else found by its name; and the
    guesses made, and a warning for each field more than one column could be."""
    columns: dict[str, str] = {}
    guesses: list[Guess] = []
    warnings: list[str] = []
    named = {
        key: find_column(spec.columns[key], headers, f"the {key} column")
        for key in FIELDS
        if key in spec.columns and spec.columns[key].strip().casefold() != NO_COLUMN
    }
    for key in FIELDS:
        if key in named:
            columns[key] = named[key]
            continue
        if key in spec.columns:
            continue  # --column KEY=none
        # A column the user named (as a field or as metadata) is theirs: never guessed for another field.
        taken = {*phones, *named.values(), *columns.values(), *(spec.metadata or ())}
        auto = [h for h in headers if h not in taken and header_key(h) in FIELD_HEADERS[key]]
        if len(auto) == 1:
            columns[key] = auto[0]
            guesses.append(Guess(key, auto[0]))
        elif auto:
            listed = ", ".join(repr(h) for h in auto[:-1]) + f" and {auto[-1]!r}"
            warnings.append(
                f"columns {listed} could each be {key} ({FIELD_WORDS[key]}); "
                f"{'neither' if len(auto) == 2 else 'none'} was taken: choose one with --column {key}=COLUMN"
            )
    return columns, guesses, warnings


def _normalize_defaults(spec: MappingSpec, now: int, columns: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    try:
        reader = FieldReader(
            PhoneParser(spec.region),
            TimeParser(spec.timezone, DateReader(spec.date_formats, spec.dayfirst, spec.monthfirst)),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out: dict[str, Any] = {}
    for key, raw in spec.defaults.items():
        value = str(raw).strip()
        if value:
            try:
                out[key] = reader.parse(key, value)
            except (ValueError, PhoneError) as exc:
                raise UsageError(f"--{key.replace('_', '-')} {value!r}: {exc}") from None
    for key, why in reader.problems(out, now=now):
        if key == "reattempt_wait" and "reattempt_wait" in columns and "reattempt_wait" not in out:
            continue  # each row brings its own
        raise UsageError(f"--{key.replace('_', '-')}: {why}")
    return out, reader.advice(out)


def resolve(spec: MappingSpec, headers: list[str], *, now: int) -> ResolvedMapping:
    """The effective mapping of ``spec`` over ``headers``; UsageError for any mismatch."""
    try:  # spelled as a country column may spell it: MX, MEX, Mexico, México, +52
        spec = replace(spec, region=region_named(spec.region))
    except ValueError as exc:
        raise UsageError(f"--region: {exc}") from None
    phones = phone_columns(spec.phone_column, headers)
    columns, guesses, column_warnings = _field_columns(spec, headers, phones)
    used = {*phones, *columns.values()}
    region_column = _optional_column(spec.region_column, REGION_HEADERS, headers, used, "--region-column", guesses)
    timezone_column = _optional_column(
        spec.timezone_column,
        TIMEZONE_HEADERS,
        headers,
        used,
        "--timezone-column",
        guesses,
        column_warnings,
        TIMEZONE_PLAIN_HEADERS,
    )
    zip_column = _optional_column(
        spec.zip_column, ZIP_HEADERS, headers, used, "--zip-column", guesses, column_warnings, ZIP_PLAIN_HEADERS
    )
    state_column = _optional_column(
        spec.state_column, STATE_HEADERS, headers, used, "--state-column", guesses, column_warnings, STATE_PLAIN_HEADERS
    )
    clash = used & {region_column, timezone_column, zip_column, state_column}
    if clash:
        raise UsageError(
            f"column {clash.pop()!r} cannot be both a request field and a country, time zone, ZIP or state"
        )
    if spec.no_metadata:
        metadata: tuple[str, ...] = ()
    elif spec.metadata is not None:
        metadata = tuple(find_column(name, headers, "--metadata") for name in spec.metadata)
        overlap = sorted(set(metadata) & used)
        if overlap:
            raise UsageError(f"--metadata: {', '.join(map(repr, overlap))} already feed request fields")
    else:
        metadata = tuple(h for h in headers if h not in used)
    for pattern in spec.date_formats:
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    defaults, warnings = _normalize_defaults(spec, now, columns)
    try:
        zone(spec.timezone)
    except ValueError as exc:
        raise UsageError(f"--timezone: {exc}") from None
    where = tuple(parse_condition(text, headers, find_column) for text in spec.where)
    nulls = null_markers(spec)
    return ResolvedMapping(
        phone_columns=phones,
        columns=columns,
        defaults=defaults,
        metadata=metadata,
        region=spec.region.upper(),
        timezone=canonical_zone(spec.timezone),
        allow_duplicates=spec.allow_duplicates,
        sheet=spec.sheet,
        delimiter=spec.delimiter,
        region_column=region_column,
        timezone_column=timezone_column,
        zip_column=zip_column,
        state_column=state_column,
        date_formats=spec.date_formats,
        dayfirst=spec.dayfirst,
        monthfirst=spec.monthfirst,
        nulls=nulls,
        where=where,
        header_row=spec.header_row,
        warnings=(*column_warnings, *warnings),
        guesses=tuple(guesses),
    )
