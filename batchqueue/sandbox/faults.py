"""Fault injection for the sandbox: what can go wrong, and seeded dice to decide when it does."""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Faults:
    """Probabilities are per queue request; counts are in queue requests (revoke) or accepted calls (cap)."""

    latency: float = 0.0  # seconds added to every API reply, before the call is recorded
    latency_after: float = 0.0  # seconds between recording a call and replying
    p_400: float = 0.0  # refuse the data (nothing recorded)
    p_500_before: float = 0.0  # 500 without recording the call
    p_500_after: float = 0.0  # record the call, then answer 500
    p_drop_before: float = 0.0  # break the connection without recording
    p_drop_after: float = 0.0  # record the call, then break the connection
    p_timeout_after: float = 0.0  # record the call, then answer only after `slow_reply` seconds
    slow_reply: float = 35.0
    p_429: float = 0.0  # 429 Too Many Requests
    retry_after: float | None = 1.0  # the Retry-After of a 429 (None: no header)
    p_report_500: float = 0.0  # a survey report page answered 500 (per page request)
    p_report_429: float = 0.0  # a survey report page answered 429
    revoke_after: int | None = None  # 401 from this queue request on (1-based): a key revoked mid-run
    cap_after: int | None = None  # 409 once this many calls were accepted: response cap reached
    seed: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply run-time changes (``POST /_sandbox/faults``); unknown names are a ValueError."""
        known = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(known))}")
            setattr(self, key, _coerce(key, value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Dice:
    """Seeded draws keyed by (phone, how many times this phone was seen), not by arrival order,
    so the same run reproduces the same faults however threads interleave."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def for_request(self, phone: str, nth: int) -> random.Random:
        digest = hashlib.sha256(f"{self.faults.seed}|{phone}|{nth}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))


def _coerce(key: str, value: Any) -> Any:
    if value is None and key in ("revoke_after", "cap_after", "retry_after"):
        return None
    if key in ("revoke_after", "cap_after", "seed"):
        return int(value)
    return float(value)
