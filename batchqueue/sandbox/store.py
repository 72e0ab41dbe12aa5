"""The sandbox's own record of every call it accepted: the ground truth crash tests check against."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from batchqueue.sandbox.reports import VisitLog


@dataclass
class Call:
    """One accepted call, as the sandbox saw it."""

    call_id: int
    survey_id: str
    instance_id: str
    phone_number: str
    fields: dict[str, str]
    metadata: dict[str, str]
    result_url: str | None
    queued_timestamp: int
    status: str = "queued"
    attempts: int = 0
    last_attempt: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        """``call_details`` as Insight documents it (numbers as strings, as in its example)."""
        f = self.fields
        return {
            "status": self.status,
            "attempts": str(self.attempts),
            "max_attempts": f.get("max_attempts", "1"),
            "queued_timestamp": str(self.queued_timestamp),
            "last_attempt_timestamp": self.last_attempt,
            "start_timestamp": f.get("start_timestamp", ""),
            "end_timestamp": f.get("end_timestamp", ""),
            "reattempt_wait": f.get("reattempt_wait", ""),
            "events": self.events,
        }


class CallStore:
    """Thread-safe: accepted calls by id, and how often each phone number was requested."""

    def __init__(self, seed: int = 0) -> None:
        #: The survey visits of the calls completed (the survey report's rows).
        self.visits = VisitLog(seed)
        self._lock = threading.RLock()
        self.lock = self._lock  # callers that change a Call take it too
        self._calls: dict[int, Call] = {}
        self._next_id = 1000
        self._seen: dict[str, int] = {}
        self.requests = 0
        self.report_requests = 0
        self.arrivals: list[float] = []  # time.monotonic() of every queue request, for rate checks

    def arrive(self, phone: str) -> tuple[int, int]:
        """Count one queue request: (its 1-based number overall, how many times this phone came)."""
        with self._lock:
            self.requests += 1
            self.arrivals.append(time.monotonic())
            self._seen[phone] = self._seen.get(phone, 0) + 1
            return self.requests, self._seen[phone]

    def arrive_report(self) -> int:
        """Count one survey report request; its 1-based number (the fault dice are keyed by it)."""
        with self._lock:
            self.report_requests += 1
            return self.report_requests

    def add(self, survey_id: str, instance_id: str, form: dict[str, str]) -> Call:
        with self._lock:
            self._next_id += 1
            call = Call(
                call_id=self._next_id,
                survey_id=survey_id,
                instance_id=instance_id,
                phone_number=form.get("phone_number", ""),
                fields={k: v for k, v in form.items() if not k.startswith("metadata[")},
                metadata={k[9:-1]: v for k, v in form.items() if k.startswith("metadata[") and k.endswith("]")},
                result_url=form.get("result_url") or None,
                queued_timestamp=int(time.time()),
            )
            self._calls[call.call_id] = call
            return call

    def get(self, call_id: int) -> Call | None:
        with self._lock:
            return self._calls.get(call_id)

    def accepted(self) -> int:
        with self._lock:
            return len(self._calls)

    def cancel_pending(self, survey_id: str, instance_id: str) -> list[Call]:
        with self._lock:
            hit = [
                c
                for c in self._calls.values()
                if c.survey_id == survey_id and c.instance_id == instance_id and c.status == "queued"
            ]
            for call in hit:
                call.status = "canceled"
                call.events.append({"event": "canceled", "timestamp": str(int(time.time()))})
            return hit

    def dump(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(c) for c in self._calls.values()]
