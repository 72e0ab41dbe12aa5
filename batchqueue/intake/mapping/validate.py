"""One input row to one Insight queue request, or to the list of reasons it cannot be one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from batchqueue.intake.mapping.fields import FieldReader
from batchqueue.intake.mapping.phones import PhoneError, PhoneParser, tel_uri
from batchqueue.intake.mapping.resolve import ResolvedMapping
from batchqueue.intake.mapping.times import TimeParser
from batchqueue.intake.rules import BoundRule, RowDraft, RowRule

#: (column name or None for the whole row, what is wrong)
Reason = tuple[str | None, str]


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
    """Validate rows against one effective mapping. Usage: ``RowValidator(resolved, headers, now).check(cells)``."""

    def __init__(self, mapping: ResolvedMapping, headers: list[str], now: int, rules: Sequence[RowRule] = ()) -> None:
        self.mapping = mapping
        self.now = now
        self.phones = PhoneParser(mapping.region)
        self.fields = FieldReader(self.phones, TimeParser(mapping.timezone))
        self.warnings: Counter[str] = Counter()
        index = {name: i for i, name in enumerate(headers)}
        self._phone_col = mapping.phone_column
        self._phone_at = index[mapping.phone_column]
        self._fields = [(key, col, index[col]) for key, col in mapping.columns.items()]
        self._defaults = mapping.defaults
        self.rules: list[BoundRule] = [rule.bind(headers, mapping) for rule in rules]
        # The common case takes a fast path: every field but the phone is job-wide, and no rule
        # needs to look at each row, so only the phone varies.
        self._simple = not self._fields and not any(rule.per_row for rule in rules)
        d = mapping.defaults
        self._job_ani, self._job_postd = d.get("ani"), d.get("postd")
        self._job_rest = (
            d.get("start"),
            d.get("end"),
            d.get("max_attempts"),
            d.get("reattempt_wait"),
            d.get("result_url"),
        )

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

    def check(
        self, cells: list[str], overflow: list[str], number: int = 0
    ) -> tuple[Request | None, list[Reason], dict[str, Any] | None]:
        """(the request, no reasons, facts) for a valid row; (None, every reason, None) otherwise."""
        reasons: list[Reason] = []
        if overflow:
            reasons.append((None, f"has {len(overflow)} non-empty cell(s) beyond the last named column"))
        raw_phone = cells[self._phone_at]
        phone = None
        if not raw_phone.strip():
            reasons.append((self._phone_col, "is empty"))
        else:
            try:
                phone = self.phones.parse(raw_phone)
            except PhoneError as exc:
                reasons.append((self._phone_col, f"{raw_phone!r} {exc}"))
        if self._simple and phone is not None and phone.ani is None and not reasons:
            return self._simple_request(phone.e164, phone.postd), reasons, None
        values: dict[str, Any] = dict(self._defaults)
        for key, column, at in self._fields:
            raw = cells[at].strip()
            if raw:
                try:
                    values[key] = self.fields.parse(key, raw)
                except (ValueError, PhoneError) as exc:
                    reasons.append((column, str(exc)))
        ani = values.get("ani")
        if phone is not None and phone.ani:
            try:
                ani = self.phones.caller_id(phone.ani)
            except PhoneError as exc:
                reasons.append((self._phone_col, f"caller id {phone.ani!r} {exc}"))
        blame = self.mapping.columns.get
        reasons += [(blame(key), why) for key, why in self.fields.problems(values, now=self.now)]
        for advice in self.fields.advice(values):
            self.warnings[advice] += 1
        if phone is None or reasons:
            return None, reasons, None
        request = self._request(phone.e164, phone.postd, ani, values.get("postd"), values)
        if not self.rules:
            return request, reasons, None
        draft = RowDraft(number, cells, request)
        for rule in self.rules:
            reasons += rule(draft)
        if reasons:
            return None, reasons, None
        return draft.request, reasons, draft.facts or None

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
