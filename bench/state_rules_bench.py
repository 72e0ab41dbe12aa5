"""State rules: what the built-in US state rules cost the calling-window decision of each row.

Decides the window of --rows contacts spread over 60 area codes and 20 states (every state with a
rule of its own, and some without), at one moment, with ``--state-rules none`` and with ``us`` (the
default), through the claim's own send-time rule (``CallingReview.verdict``). Target: the state
rules cost the window decision at most 20% more per row (the window rule's own budget: a run's
throughput falls at most 20% with calling rules, bench/calling_bench.py and bench/submit_bench.py).

Run: python bench/state_rules_bench.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batchqueue.calling.registry import JobRules, job_calling_rules
from batchqueue.calling.review import CallingReview
from batchqueue.ledger.records import Claimed

AREA_CODES = [
    "201", "202", "205", "206", "212", "213", "214", "215", "303", "305", "312", "313", "314", "404", "406",
    "407", "415", "502", "503", "504", "505", "512", "602", "605", "608", "612", "615", "617", "701", "702",
    "704", "713", "714", "716", "717", "718", "719", "720", "801", "802", "803", "804", "805", "808", "810",
    "813", "816", "817", "818", "901", "907", "909", "910", "912", "913", "915", "916", "917", "918", "919",
]  # fmt: skip
STATES = ["AL", "CA", "CT", "FL", "KY", "LA", "MA", "MD", "ME", "MS", "NE", "NM", "OK", "OR", "PA", "RI",
          "SD", "TX", "NY", "OH"]  # fmt: skip


def rows(n: int) -> list[Claimed]:
    rng = random.Random(7)
    found = []
    for i in range(n):
        e164 = f"+1{rng.choice(AREA_CODES)}{rng.randrange(200, 999)}{rng.randrange(10000):04d}"
        facts = {"state": rng.choice(STATES)} if i % 4 else {}
        found.append(Claimed(i, i, "tel:" + e164, e164, None, None, None, None, None, None, [], i, facts))
    return found


def timed(texts: dict[str, str], claimed: list[Claimed], now: float) -> float:
    review = CallingReview(job_calling_rules(JobRules.from_texts(texts).options()))
    started = time.perf_counter()
    for row in claimed:
        review.verdict(row, now)
    return (time.perf_counter() - started) / len(claimed) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    claimed = rows(args.rows)
    now = 1_789_000_000.0  # a fixed moment (2026-09-09 UTC): the figures do not depend on the hour
    timed({}, claimed[:2000], now)  # warm the caches of both
    off = min(timed({"state-rules": "none"}, claimed, now) for _ in range(3))
    on = min(timed({}, claimed, now) for _ in range(3))
    print(f"rows: {args.rows}")
    print(f"window decision, --state-rules none: {off:6.2f} µs/row")
    print(f"window decision, --state-rules us:   {on:6.2f} µs/row   ({(on / off - 1) * 100:+.0f}%; target ≤ +20%)")


if __name__ == "__main__":
    main()
