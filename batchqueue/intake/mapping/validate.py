"""One input row to one Insight queue request, or to the list of reasons it cannot be one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

import phonenumbers

from batchqueue.intake.mapping.dates import DateReader
from batchqueue.intake.mapping.fields import FieldReader
from batchqueue.intake.mapping.numbers import NumberReader, Reason, read_cell
from batchqueue.intake.mapping.phones import Phone, PhoneError, tel_uri
from batchqueue.intake.mapping.resolve import ResolvedMapping
from batchqueue.intake.mapping.times import TimeParser
from batchqueue.intake.rules import BoundRule, RowDraft, RowRule
from batchqueue.places.states import state_code
from batchqueue.places.zips import zip_places
from batchqueue.places.zone_names import canonical_zone, contact_zones

__all__ = ["Reason", "Request", "RowValidator"]


class Request(NamedTuple):
    """The normalized request fields of a valid row (metadata is read from its cells at send time)."""

    phone_number: str
    e164: str
    dedupe_key: int | str
    start: int | None
    end: int | None
    max_attempts: int | None
    reattempt_wait: int | None
    result_url: str | None


class RowValidator:
    """Validate rows against one effective mapping. Usage: ``RowValidator(resolved, headers, now).check(cells)``.

    A row may bring its own country (``region_column``) and time zone (``timezone_column``): its
    phone is read in its country and its start/end in its zone, and both are kept on the row
    (``facts``: ``region``, ``timezone``, and ``timezones`` when the cell names several clocks, e.g.
    ``MST``) for the send-time rules; a zone cell that cannot be read is a row warning
    (``timezone_unread``), not a reason: the row's ZIP and number still place it. A US ZIP code
    (``zip_column``) gives the row's zone and state (``zip_timezone``, ``state``) for its calling window;
    a state column (``state_column``) another state it may be in (``states``); a state cell that is
    not a US state or territory is a row warning (``state_unread``).
    """

    def __init__(self, mapping: ResolvedMapping, headers: list[str], now: int, rules: Sequence[RowRule] = ()) -> None:
        self.mapping = mapping
        self.now = now
        self.warnings: Counter[str] = Counter()
        self.numbers = NumberReader(mapping, headers, self.warnings)
        self.phones = self.numbers.default
        self._dates = mapping.date_reader()
        self.times = TimeParser(mapping.timezone, self._dates)
        self.fields = FieldReader(self.phones, self.times)
        index = {name: i for i, name in enumerate(headers)}
        self._phone_col = mapping.phone_column
        self._phone_at = index[mapping.phone_column]
        self._zone_at = index[mapping.timezone_column] if mapping.timezone_column else None
        self._zip_at = index[mapping.zip_column] if mapping.zip_column else None
        self._state_at = index[mapping.state_column] if mapping.state_column else None
        self._zones: dict[tuple[str, str | None], TimeParser] = {(mapping.timezone, None): self.times}
        #: The day/month order of each date column, when the column's values decided it.
        self._orders = {key: order for key, order in mapping.date_orders.items() if key in mapping.columns}
        self._fields = [(key, col, index[col]) for key, col in mapping.columns.items()]
        self._defaults = mapping.defaults
        # A rule whose bind gives None has nothing to do with this file (its column is absent).
        bound = [(rule, rule.bind(headers, mapping)) for rule in rules]
        self.rules: list[BoundRule] = [check for _, check in bound if check is not None]
        # The common case takes a fast path: one phone column read in the job's region, every other
        # field job-wide, and no rule that looks at each row, so only the phone varies.
        self._simple = (
            not self._fields
            and len(mapping.phone_columns) == 1
            and mapping.region_column is None
            and self._zone_at is None
            and self._zip_at is None
            and self._state_at is None
            and not any(rule.per_row for rule, check in bound if check is not None)
        )
        d = mapping.defaults
        self._job_ani, self._job_postd = d.get("ani"), d.get("postd")
        self._job_rest = (
            d.get("start"),
            d.get("end"),
            d.get("max_attempts"),
            d.get("reattempt_wait"),
            d.get("result_url"),
        )
        #: What every row's request shares: (start, end, max_attempts, reattempt_wait, result_url).
        self.job_fields = self._job_rest
        #: What is wrong with, and advised about, the job-wide values: a row without field columns has only those.
        self._job_findings = self._blamed(dict(self._defaults))
        #: The import's fastest path, for jobs whose every request is the phone and job-wide fields: the ten
        #: digits of a plain valid national number (see PhoneParser.plain_pattern), or None, when
        #: :meth:`check` decides. None here: this job has no such path.
        plain = self._simple and self._job_ani is None and self._job_postd is None
        self.plain_digits = self.phones.plain_pattern() if plain and self.phones.region_is_nanp else None

    def _simple_request(self, e164: str, postd: str | None) -> Request:
        ani = self._job_ani
        postd = postd or self._job_postd
        uri = "tel:" + e164
        if ani:
            uri += ";ani=" + ani
        if postd:
            uri += ";postd=" + postd
            return Request(uri, e164, f"{e164};postd={postd}", *self._job_rest)
        # An int key costs a third of a string's memory in the import's duplicate index.
        return Request(uri, e164, int(e164[1:]), *self._job_rest)

    def _times(self, zone_name: str, order: str | None = None) -> TimeParser:
        """Date-times read in ``zone_name``, day/month numbers in ``order`` (None: the options' order)."""
        times = self._zones.get((zone_name, order))
        if times is None:
            dates = self._dates if order is None else DateReader(self._dates.formats, order == "day", order == "month")
            times = self._zones[(zone_name, order)] = TimeParser(zone_name, dates)
        return times

    def check(
        self, cells: list[str], overflow: list[str], number: int = 0
    ) -> tuple[Request | None, list[Reason], dict[str, Any] | None]:
        """(the request, no reasons, facts) for a valid row; (None, every reason, None) otherwise."""
        reasons: list[Reason] = []
        if overflow:
            reasons.append((None, f"has {len(overflow)} non-empty cell(s) beyond the last named column"))
        if self._simple:
            raw_phone = cells[self._phone_at]
            phone = None
            if not raw_phone.strip():
                reasons.append((self._phone_col, "is empty"))
            else:
                try:
                    phone, international = read_cell(raw_phone, self.phones, False)
                except PhoneError as exc:
                    reasons.append((self._phone_col, f"{raw_phone!r} {exc}"))
                else:
                    if international:
                        return self._checked(cells, number, reasons)  # rare: the general path says why
            if phone is not None and phone.ani is None and not reasons:
                return self._simple_request(phone.e164, phone.postd), reasons, None
            if phone is None:
                return None, reasons, None
            return self._checked(cells, number, reasons, phone)  # a caller id to read: the general path
        return self._checked(cells, number, reasons)

    def _checked(
        self, cells: list[str], number: int, reasons: list[Reason], read: Phone | None = None
    ) -> tuple[Request | None, list[Reason], dict[str, Any] | None]:
        """The general path. ``read``: the row's number, already read in the job's region (a simple job's)."""
        facts: dict[str, Any] = {}
        times = self.times
        zone_name = self.mapping.timezone
        parser, own_region, unknown_country = self.numbers.parser_for(cells, facts)
        reasons += unknown_country
        if self._zone_at is not None:
            raw = cells[self._zone_at].strip()
            if raw:
                try:
                    own_zones = self._read_zone(raw, facts.get("region", self.mapping.region))
                except ValueError as exc:
                    # Not a reason to refuse the row: its ZIP and number still say where it may be.
                    self.warnings[
                        f"time zones not read (column {self.mapping.timezone_column!r}): the zones come from "
                        "the ZIP code and the phone number"
                    ] += 1
                    facts["timezone_unread"] = f"{exc}; its zones come from its ZIP code and phone number"
                else:
                    zone_name = own_zones[0]
                    times = self._times(zone_name)
                    facts["timezone"] = zone_name
                    if len(own_zones) > 1:
                        facts["timezones"] = list(own_zones)
        if self._zip_at is not None and facts.get("region", self.mapping.region) == "US":
            self._zip_facts(cells[self._zip_at].strip(), facts)
        if self._state_at is not None and facts.get("region", self.mapping.region) == "US":
            self._state_facts(cells[self._state_at].strip(), facts)
        phone: Phone | None = read
        if phone is None:
            phone, phone_reasons = self.numbers.first(cells, parser, own_region, facts)
            reasons += phone_reasons
        if self._fields:
            values: dict[str, Any] = dict(self._defaults)
            for key, column, at in self._fields:
                raw = cells[at].strip()
                if raw:
                    order = self._orders.get(key)
                    try:
                        values[key] = self.fields.parse(
                            key, raw, times if order is None else self._times(zone_name, order)
                        )
                    except (ValueError, PhoneError) as exc:
                        reasons.append((column, str(exc)))
            problems, advice = self._blamed(values)
        else:
            values, (problems, advice) = self._defaults, self._job_findings  # the same for every row
        ani = values.get("ani")
        if phone is not None and phone.ani:
            try:
                ani = parser.caller_id(phone.ani)
            except PhoneError as exc:
                reasons.append((self._phone_col, f"caller id {phone.ani!r} {exc}"))
        reasons += problems
        for said in advice:
            self.warnings[said] += 1
        if phone is None or reasons:
            return None, reasons, None
        request = self._request(phone.e164, phone.postd, ani, values.get("postd"), values)
        if not self.rules:
            return request, reasons, facts or None
        draft = RowDraft(number, cells, request, facts)
        for rule in self.rules:
            reasons += rule(draft)
        if reasons:
            return None, reasons, None
        return draft.request, reasons, draft.facts or None

    @staticmethod
    def _read_zone(raw: str, region: str | None) -> tuple[str, ...]:
        """The zone(s) of a contact's own zone cell: read as North American lists write them
        (``CST`` is Central US time) for a contact of the plan's countries, strictly otherwise."""
        if region is None or phonenumbers.country_code_for_region(region) == 1:
            return contact_zones(raw)
        return (canonical_zone(raw),)

    def _blamed(self, values: dict[str, Any]) -> tuple[list[Reason], list[str]]:
        """What is wrong with a row's request values (each blamed on its column), and the advice."""
        blame = self.mapping.columns.get
        problems = [(blame(key), why) for key, why in self.fields.problems(values, now=self.now)]
        return problems, self.fields.advice(values)

    def _zip_facts(self, raw: str, facts: dict[str, Any]) -> None:
        """The zone and state of the row's ZIP code, kept for its calling window."""
        if not raw:
            return
        places = zip_places(raw)
        if not places:
            self.warnings[
                f"ZIP codes the data does not know (column {self.mapping.zip_column!r}): their time zone "
                "comes from the phone number"
            ] += 1
            return
        zones = sorted({z for z, _ in places if z})
        states = sorted({s for _, s in places if s})
        if zones:
            facts["zip_timezone"] = zones[0]
            if len(zones) > 1:  # a ZIP's first three digits (325): every zone of the prefix's ZIPs
                facts["zip_timezones"] = zones
        if states:
            facts["state"] = states[0]
            if len(states) > 1:
                facts["zip_states"] = states

    def _state_facts(self, raw: str, facts: dict[str, Any]) -> None:
        """The US state the row's state cell names, kept as one more of its states."""
        if not raw:
            return
        code = state_code(raw)
        if code is None:
            self.warnings[
                f"states not read (column {self.mapping.state_column!r}): the states come from the ZIP code "
                "and the phone number"
            ] += 1
            shown = raw if len(raw) <= 40 else raw[:40] + "…"
            facts["state_unread"] = (
                f"{shown!r} is not a US state or territory (a USPS code such as FL, or a name such as Florida); "
                "its states come from its ZIP code and phone number"
            )
            return
        facts["states"] = [code]

    def _request(
        self, e164: str, own_postd: str | None, ani: str | None, postd: str | None, values: dict[str, Any]
    ) -> Request:
        postd = own_postd or postd
        key: int | str = int(e164[1:]) if not postd else f"{e164};postd={postd}"
        return Request(
            tel_uri(e164, ani, postd),
            e164,
            key,
            values.get("start"),
            values.get("end"),
            values.get("max_attempts"),
            values.get("reattempt_wait"),
            values.get("result_url"),
        )
