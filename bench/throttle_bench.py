"""How promptly a run recovers its pace after a burst of 429s.

Two whole-process runs of --rows rows at --rate 50 against the sandbox: one clean, one during which
the sandbox answers 20% of requests with 429 (Retry-After: 1 s) for 15 seconds, starting 20 s in.
Target: the second takes at most 30% longer than the first.

Run: python bench/throttle_bench.py [--rows 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import requests
from submit_bench import batchqueue_run, make_job, sandbox  # a sibling script: bench/ is on sys.path

BURST_START, BURST_SECONDS, BURST_SHARE = 20.0, 15.0, 0.2


def timed_run(api: str, db: Path, rate: float) -> float:
    """Wall seconds of a whole ``batchqueue run`` at ``rate``."""
    start = time.perf_counter()
    _, summary = batchqueue_run(api, db, 8, "--rate", str(rate), "--retries", "20")
    if summary["pending"]:
        raise RuntimeError(f"the run left {summary['pending']} rows pending")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clean_db = make_job(work, "clean", args.rows, 0)
        burst_db = make_job(work, "burst", args.rows, 100_000)
        with sandbox(0.0, work) as api:
            clean = timed_run(api, clean_db, args.rate)
            faults = api.removesuffix("/api") + "/_sandbox/faults"

            def burst() -> None:
                time.sleep(BURST_START)
                requests.post(faults, json={"p_429": BURST_SHARE, "retry_after": 1.0}, timeout=5)
                time.sleep(BURST_SECONDS)
                requests.post(faults, json={"p_429": 0.0}, timeout=5)

            flipper = threading.Thread(target=burst)
            flipper.start()
            hit = timed_run(api, burst_db, args.rate)
            flipper.join()
    cost = hit / clean - 1
    print(f"{args.rows:,} rows at --rate {args.rate:g}, whole processes:")
    print(f"   clean run                      {clean:6.1f} s")
    print(f"   with {BURST_SECONDS:.0f} s of {BURST_SHARE:.0%} 429s        {hit:6.1f} s")
    print(f"   cost of the burst: {cost:+.0%}   target <= +30% (177% before the pacer recovered by time)")


if __name__ == "__main__":
    main()
