"""What counting a job's held rows by reason costs (``Ledger.holds``: run, status, the console's
job page), on SQLite and PostgreSQL.

A job of ``--rows`` pending rows (1,000,000 by default) of which one in ``--every`` is held (the
console bench holds one in 50), spread over four reasons, each with its own times and particulars.
Each count is taken 20 times; the median and the 95th percentile are printed beside the target: the
console's first view of a job page counts the held rows, and the page's target is 200 ms.

Usage: ``python bench/holds_bench.py [--rows 1000000] [--every 50] [--backend sqlite|postgresql|both]``
Needs PostgreSQL for ``postgresql`` (BATCHQUEUE_TEST_POSTGRES, as ``bench/workers_bench.py``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from workers_bench import database, make_job  # a sibling script: bench/ is on sys.path

from batchqueue.ledger import open_ledger
from batchqueue.ledger.database import write

TARGET_MS = 200.0
REASONS = ("calling_window", "state_cap", "holiday", "own_start")


def shape_holds(url: str, every: int) -> int:
    """One row in ``every`` held, the reasons in turn, each row its own time; returns how many."""
    now = time.time()
    ledger = open_ledger(url)
    try:
        with write(ledger.engine) as conn:
            held = conn.execute(
                text(
                    "UPDATE rows SET not_before = :now + 60 + (id % 7200), hold_reason = CASE (id / :every) % 4 "
                    "WHEN 0 THEN :r0 WHEN 1 THEN :r1 WHEN 2 THEN :r2 ELSE :r3 END, "
                    "hold_detail = 'opens ' || CAST(id AS TEXT) WHERE id % :every = 7 AND state = 'pending'"
                ),
                {"now": now, "every": every} | {f"r{n}": r for n, r in enumerate(REASONS)},
            ).rowcount
    finally:
        ledger.close()
    return int(held or 0)


def timed(count: Callable[[], Any], times: int = 20) -> tuple[float, float, Any]:
    found, result = [], None
    for _ in range(times):
        start = time.perf_counter()
        result = count()
        found.append((time.perf_counter() - start) * 1000)
    return statistics.median(found), statistics.quantiles(found, n=20)[-1], result


def bench(url: str, name: str, work: Path, rows: int, every: int) -> None:
    start = time.perf_counter()
    make_job(url, work, rows, 0)
    held = shape_holds(url, every)
    print(f"{name}: {rows:,} rows imported, {held:,} held ({time.perf_counter() - start:.0f} s)", flush=True)
    ledger = open_ledger(url)
    try:
        now = time.time()
        median, p95, holds = timed(lambda: ledger.holds(1, now))
        assert holds.rows == held, (holds.rows, held)
        print(f"  holds by reason ({len(holds.groups)} reasons): median {median:6.1f} ms  p95 {p95:6.1f} ms   "
              f"(target < {TARGET_MS:.0f} ms)")  # fmt: skip
        with ledger.engine.connect() as conn:  # what the count was before reasons: rows and the first time
            plain = text(
                "SELECT COUNT(*), MIN(not_before) FROM rows WHERE job_id = 1 AND state = 'pending' "
                "AND not_before IS NOT NULL AND not_before > :now"
            )
            median, p95, _ = timed(lambda: conn.execute(plain, {"now": now}).one())
        print(f"  the plain count before reasons:  median {median:6.1f} ms  p95 {p95:6.1f} ms   (for comparison)")
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if args.backend in ("sqlite", "both"):
            bench(f"sqlite:///{work / 'holds.db'}", "SQLite", work, args.rows, args.every)
        if args.backend in ("postgresql", "both"):
            with database() as url:
                bench(url, "PostgreSQL", work, args.rows, args.every)


if __name__ == "__main__":
    main()
