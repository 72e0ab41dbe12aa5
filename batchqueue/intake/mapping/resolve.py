"""Fit a :class:`MappingSpec` to a file's header: which column is the phone, which are metadata.

The result, :class:`ResolvedMapping`, is the *effective* mapping: the ledger stores it with the
job, and it is part of what makes a re-import of the same file find the same job.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from batchqueue.errors import UsageError
from batchqueue.intake.mapping.fields import FieldReader
from batchqueue.intake.mapping.phones import PhoneError, PhoneParser
from batchqueue.intake.mapping.spec import FIELDS, MappingSpec
from batchqueue.intake.mapping.times import TimeParser

PHONE_HEADERS = {
    "phone",
    "phonenumber",
    "phoneno",
    "mobile",
    "mobilenumber",
    "mobilephone",
    "cell",
    "cellphone",
    "cellnumber",
    "telephone",
    "telephonenumber",
    "tel",
    "number",
    "destination",
    "contactnumber",
}
#: A column whose normalized name is one of these feeds that request field without being asked.
FIELD_HEADERS = {
    "ani": {"ani", "callerid"},
    "postd": {"postd"},
    "start": {"start", "starttimestamp", "starttime"},
    "end": {"end", "endtimestamp", "endtime"},
    "max_attempts": {"maxattempts"},
    "reattempt_wait": {"reattemptwait"},
    "result_url": {"resulturl"},
}


def header_key(name: str) -> str:
    """Case and punctuation insensitive form of a header: ``"Phone Number"`` → ``"phonenumber"``."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


@dataclass(frozen=True)
class ResolvedMapping:
    """The effective mapping of one file: columns by name, job-wide values already normalized."""

    phone_column: str
    columns: dict[str, str]
    defaults: dict[str, Any]
    metadata: tuple[str, ...]
    region: str
    timezone: str
    allow_duplicates: bool
    sheet: str | None = None
    delimiter: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with the job."""
        return {
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

    def fingerprint(self) -> str:
        """A stable digest of the mapping, for finding the job a re-import belongs to."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _require_column(name: str, headers: list[str], what: str) -> str:
    if name in headers:
        return name
    folded = {h.casefold(): h for h in headers}
    if name.strip().casefold() in folded:
        return folded[name.strip().casefold()]
    listed = ", ".join(repr(h) for h in headers)
    raise UsageError(f"{what}: no column named {name!r}; the file's columns are {listed}")


def _find_phone(headers: list[str]) -> str:
    found = [h for h in headers if header_key(h) in PHONE_HEADERS]
    if len(found) == 1:
        return found[0]
    listed = ", ".join(repr(h) for h in headers)
    if not found:
        raise UsageError(f"no phone column found among {listed}; name it with --phone-column")
    both = " and ".join(repr(h) for h in found)
    raise UsageError(f"more than one column could be the phone number ({both}); choose one with --phone-column")


def _normalize_defaults(spec: MappingSpec, now: int, columns: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    try:
        reader = FieldReader(PhoneParser(spec.region), TimeParser(spec.timezone))
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
    phone = _require_column(spec.phone_column, headers, "--phone-column") if spec.phone_column else _find_phone(headers)
    columns: dict[str, str] = {}
    for key in FIELDS:
        if key in spec.columns:
            columns[key] = _require_column(spec.columns[key], headers, f"the {key} column")
            continue
        auto = [h for h in headers if h != phone and header_key(h) in FIELD_HEADERS[key]]
        if len(auto) == 1:
            columns[key] = auto[0]
    used = {phone, *columns.values()}
    if spec.no_metadata:
        metadata: tuple[str, ...] = ()
    elif spec.metadata is not None:
        metadata = tuple(_require_column(name, headers, "--metadata") for name in spec.metadata)
        clash = sorted(set(metadata) & used)
        if clash:
            raise UsageError(f"--metadata: {', '.join(map(repr, clash))} already feed request fields")
    else:
        metadata = tuple(h for h in headers if h not in used)
    defaults, warnings = _normalize_defaults(spec, now, columns)
    return ResolvedMapping(
        phone_column=phone,
        columns=columns,
        defaults=defaults,
        metadata=metadata,
        region=spec.region.upper(),
        timezone=spec.timezone,
        allow_duplicates=spec.allow_duplicates,
        sheet=spec.sheet,
        delimiter=spec.delimiter,
        warnings=tuple(warnings),
    )
