"""The pace of requests: a thread-safe token bucket that slows down on trouble and recovers promptly.

Insight warns that looping the queue endpoint too fast "can cause DDoS, which will result in all
calls failing", so the default pace is polite and every sign of overload lowers it: at most once
per :data:`COOLDOWN` (a burst of bad replies is one signal), never below a tenth of the configured
rate. Clean replies then bring it back in time, not in replies: the configured rate is regained
within :data:`RAMP_SECONDS` of trouble-free sending, so a short burst of 429s costs seconds, not the
minutes a per-reply creep from a crawl would take. Retry-After pauses every request meanwhile.

Usage::

    pacer = Pacer(rate=5.0)      # requests per second; 0 = no limit
    pacer.acquire()              # blocks until this request may leave
    pacer.slow_down(0.5)         # on 429 or a burst of 5xx
    pacer.recovered()            # on each clean reply: creep back towards the configured rate
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable

MIN_RATE = 0.5
#: Never slowed below this share of the configured rate.
FLOOR_SHARE = 0.1
#: Seconds of clean replies to climb from the floor back to the configured rate (linearly).
RAMP_SECONDS = 10.0
RECOVERY = 1.02  # without a configured rate: per clean reply, about 35 clean replies to double
COOLDOWN = 1.0  # seconds: replies to requests already in flight must not cut the rate again


class Pacer:
    """Token bucket with burst 1 (requests are spread evenly, never bunched)."""

    def __init__(
        self, rate: float, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.limit = rate if rate > 0 else None
        self.rate = self.limit
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = clock()
        self._paused_until = 0.0
        self._last_cut = float("-inf")
        self._last_rise = clock()
        #: What slowed the pace last (``429``, ``5xx``, ``retry_after``), and when (clock time).
        self.last_cause: tuple[str, float] | None = None
        self.shared: SharedPace | None = None
        #: Slow-downs by cause (``429``, ``5xx``, ``retry_after``), for the metrics.
        self.slowdowns: Counter[str] = Counter()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for this request's turn; False if ``stop`` was set while waiting."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next, self._paused_until)
            if self.rate is not None:
                self._next = start + 1.0 / self.rate
            wait = start - now
        if wait > 0:
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                self._sleep(wait)
        if stop is not None and stop.is_set():
            return False
        return self.shared.acquire(stop) if self.shared is not None else True

    def slow_down(self, factor: float, observed: float | None = None, *, cause: str = "429") -> bool:
        """Lower the rate by ``factor`` (from the configured, or when unlimited the observed, rate).

        At most once per :data:`COOLDOWN`: a burst of bad replies to requests that were all in
        flight together is one signal, not many (as TCP halves its window once per round trip).
        """
        with self._lock:
            now = self._clock()
            if now - self._last_cut < COOLDOWN:
                return False
            self._last_cut = self._last_rise = now
            base = self.rate if self.rate is not None else (observed or 50.0)
            floor = max(MIN_RATE, FLOOR_SHARE * self.limit) if self.limit is not None else MIN_RATE
            self.rate = max(floor, base * factor)
            self.slowdowns[cause] += 1
            self.last_cause = (cause, now)
            return True

    def pause(self, seconds: float) -> None:
        """No request leaves for ``seconds`` (a Retry-After)."""
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + seconds)
            self.slowdowns["retry_after"] += 1
            self.last_cause = ("retry_after", now)

    def recovered(self) -> None:
        """A clean reply: move the rate back towards the configured limit, by the time since the
        last step (the whole way in :data:`RAMP_SECONDS`)."""
        with self._lock:
            if self.rate is None:
                return
            now = self._clock()
            if self.limit is None:
                self.rate *= RECOVERY
                if self.rate > 1000:
                    self.rate = None  # fully recovered to "no limit"
            elif self.rate < self.limit:
                step = self.limit * (1 - FLOOR_SHARE) * (now - self._last_rise) / RAMP_SECONDS
                self.rate = min(self.limit, self.rate + step)
            self._last_rise = now

    def slowed_by(self, within: float = 10.0) -> str | None:
        """The cause of a slow-down within the last ``within`` seconds, if the pace is still below
        the configured rate (for the progress line)."""
        with self._lock:
            if self.last_cause is None or self._clock() - self.last_cause[1] > within:
                return None
            if self.limit is not None and self.rate is not None and self.rate >= self.limit:
                return None
            return self.last_cause[0]


class SharedPace:
    """Request slots from a job-wide token bucket kept elsewhere (the ledger), a few at a time.

    ``take(n)`` reserves ``n`` slots spaced ``1 / rate`` apart and returns the first one's unix time.
    """

    def __init__(self, take: Callable[[int], float], rate: float, chunk: int) -> None:
        self._take, self.rate, self.chunk = take, rate, max(1, chunk)
        self._slots: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        with self._lock:
            if not self._slots:
                first = self._take(self.chunk)
                self._slots.extend(first + i / self.rate for i in range(self.chunk))
            slot = self._slots.popleft()
        wait = slot - time.time()
        if wait > 0:
            if stop is not None:
                return not stop.wait(wait)
            time.sleep(wait)
        return not (stop is not None and stop.is_set())
