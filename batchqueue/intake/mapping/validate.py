"""One input row to one Insight queue request, or to the list of reasons it cannot be one."""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from batchqueue.intake.mapping.phones import PhoneError, PhoneParser, tel_uri
from batchqueue.intake.mapping.resolve import REATTEMPT_WAIT_ADVISED, ResolvedMapping, check_url, parse_int
from batchqueue.intake.mapping.times import TimeParser

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

    def ledger_fields(self) -> tuple[object, ...]:
        """phone_number, e164, start, end, max_attempts, reattempt_wait, result_url (ledger order)."""
        return (
            self.phone_number,
            self.e164,
            self.start,
            self.end,
            self.max_attempts,
            self.reattempt_wait,
            self.result_url,
        )


class RowValidator:
    """Validate rows against one effective mapping. Usage: ``RowValidator(resolved, headers, now).check(cells)``."""

    def __init__(self, mapping: ResolvedMapping, headers: list[str], now: int) -> None:
        self.mapping = mapping
        self.now = now
        self.phones = PhoneParser(mapping.region)
        self.times = TimeParser(mapping.timezone)
        self.warnings: Counter[str] = Counter()
        index = {name: i for i, name in enumerate(headers)}
        self._phone_col = mapping.phone_column
        self._phone_at = index[mapping.phone_column]
        self._fields = [(key, col, index[col]) for key, col in mapping.columns.items()]
        self._defaults = mapping.defaults
        self._simple = not self._fields
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
        # The common case: every field but the phone is job-wide, so only the phone varies.
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

    def check(self, cells: list[str], overflow: list[str]) -> tuple[Request | None, list[Reason]]:
        """The request for ``cells`` and an empty list, or None and every reason it is invalid."""
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
            return self._simple_request(phone.e164, phone.postd), reasons
        values: dict[str, Any] = dict(self._defaults)
        for key, column, at in self._fields:
            raw = cells[at].strip()
            if raw:
                try:
                    values[key] = self._field(key, raw)
                except (ValueError, PhoneError) as exc:
                    reasons.append((column, str(exc)))
        ani = values.get("ani")
        if phone is not None and phone.ani:
            try:
                ani = self.phones.caller_id(phone.ani)
            except PhoneError as exc:
                reasons.append((self._phone_col, f"caller id {phone.ani!r} {exc}"))
        self._check_ranges(values, reasons)
        if phone is None or reasons:
            return None, reasons
        return self._request(phone.e164, phone.postd, ani, values.get("postd"), values), reasons

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

    def _field(self, key: str, raw: str) -> Any:
        if key == "ani":
            try:
                return self.phones.caller_id(raw)
            except PhoneError as exc:
                raise PhoneError(f"caller id {raw!r} {exc}") from None
        if key == "postd":
            return self.phones.dtmf(raw)
        if key in ("start", "end"):
            return self.times.parse(raw)
        if key in ("max_attempts", "reattempt_wait"):
            return parse_int(raw)
        return check_url(raw)

    def _check_ranges(self, values: dict[str, Any], reasons: list[Reason]) -> None:
        column = self.mapping.columns.get
        attempts = values.get("max_attempts")
        if attempts is not None and not 1 <= attempts <= 10:
            reasons.append((column("max_attempts"), f"max_attempts must be 1-10, got {attempts}"))
        wait = values.get("reattempt_wait")
        if attempts is not None and attempts > 1 and wait is None:
            reasons.append((column("reattempt_wait"), "reattempt_wait is required when max_attempts > 1"))
        if wait is not None:
            if wait < 0:
                reasons.append((column("reattempt_wait"), f"reattempt_wait must be >= 0, got {wait}"))
            elif not REATTEMPT_WAIT_ADVISED[0] <= wait <= REATTEMPT_WAIT_ADVISED[1]:
                self.warnings["reattempt_wait outside 60-86400 s (Insight may refuse it)"] += 1
        start, end = values.get("start"), values.get("end")
        if end is not None:
            if end <= self.now:
                reasons.append((column("end"), "end is already in the past"))
            elif start is not None and end <= start:
                reasons.append((column("end"), "end must be after start"))
