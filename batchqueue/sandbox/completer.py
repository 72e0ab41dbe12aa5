"""The sandbox "places" each accepted call after a delay and posts its result_url callback."""

from __future__ import annotations

import contextlib
import heapq
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from batchqueue.sandbox.store import Call, CallStore


@dataclass
class Completion:
    """When and how calls end, and how their callbacks are sent."""

    after: float | None = None  # seconds after acceptance; None: calls stay queued
    weights: tuple[tuple[str, float], ...] = (("completed", 0.8), ("failed", 0.1), ("rejected", 0.1))
    encoding: str = "form"  # form, multipart or json
    retries: int = 3
    seed: int = 0


def encode(details: dict[str, Any], encoding: str) -> dict[str, Any]:
    """requests keyword arguments carrying ``details`` in one of the encodings Insight might use."""
    if encoding == "json":
        return {"json": details}
    pairs: list[tuple[str, str]] = []
    for key, value in details.items():
        if key == "events":
            for n, event in enumerate(value):
                for k, v in event.items():
                    pairs.append((f"events[{n}][{k}]", str(v)))
        else:
            pairs.append((key, "" if value is None else str(value)))
    if encoding == "multipart":
        return {"files": [(k, (None, v)) for k, v in pairs]}
    return {"data": pairs}


class Completer:
    """A timer heap of accepted calls; due calls are completed and their callbacks posted."""

    def __init__(self, store: CallStore, completion: Completion) -> None:
        self.store, self.completion = store, completion
        self._heap: list[tuple[float, int]] = []
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._posters = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-callback")
        self.delivered = 0
        self.undelivered = 0

    def schedule(self, call: Call) -> None:
        if self.completion.after is None:
            return
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + self.completion.after, call.call_id))
            self._lock.notify()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sandbox-completer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._posters.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while not self._stop.is_set() and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._lock.wait(wait)
                if self._stop.is_set():
                    return
                _, call_id = heapq.heappop(self._heap)
            call = self.store.get(call_id)
            if call is not None and call.status == "queued":
                self.finish(call, self._draw(call))

    def _draw(self, call: Call) -> str:
        rng = random.Random(f"{self.completion.seed}|{call.phone_number}")
        roll, total = rng.random(), 0.0
        for status, weight in self.completion.weights:
            total += weight
            if roll < total:
                return status
        return self.completion.weights[-1][0]

    def finish(self, call: Call, status: str) -> None:
        """End ``call`` with ``status`` and post its callback in the background."""
        now = str(int(time.time()))
        with self.store.lock:
            if call.status != "queued" and status != "canceled":
                return
            call.status = status
            if status != "canceled":
                call.attempts = 1
                call.last_attempt = now
                call.events += [{"event": "dialing", "timestamp": now}, {"event": status, "timestamp": now}]
            details = call.details()
        if status == "completed":
            # Someone answered: the survey report gets their visit, which starts when Insight could
            # first place the call (its start_timestamp, when that is later than now).
            start = call.fields.get("start_timestamp", "")
            at = float(now)
            if start.isdigit() and int(start) > at:  # dialled a little after its window opened
                at = int(start) + random.Random(f"{self.completion.seed}|{call.call_id}").randint(5, 300)
            self.store.visits.call_completed(call.survey_id, call.phone_number, at)
        if call.result_url and not self._stop.is_set():
            with contextlib.suppress(RuntimeError):  # the pool is shutting down
                self._posters.submit(self._post, call.result_url, details)

    def _post(self, url: str, details: dict[str, Any]) -> None:
        for attempt in range(self.completion.retries + 1):
            try:
                reply = requests.post(url, timeout=10, **encode(details, self.completion.encoding))
                if reply.status_code < 500:
                    self.delivered += reply.status_code == 200
                    return
            except requests.RequestException:
                pass
            if self._stop.wait(0.2 * 2**attempt):
                return
        self.undelivered += 1
