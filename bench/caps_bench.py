"""Caps count calls: what the caps cost a claim.

A job of --rows Oregon numbers (503: a state with a cap of 3 calls in 24 hours), imported with the
state caps on (the default) and again with them off (``--rule state-caps=none``), re-contact off in
both; the call log holds 1,000,000 earlier claims of other numbers and one earlier claim (2 calls,
an hour ago) of every number of the job, so that every claim with the caps on counts calls. Claims
of 64 rows (the submitter's step), 200 a round, the best of 3 alternating rounds. Target: at most
20% slower with the caps.

Run: python bench/caps_bench.py [--rows 64000]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "caps"


def write_contacts(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name"])
        for i in range(count):
            w.writerow([f"503-{200 + i // 10000 % 800}-{i % 10000:04d}", f"N{i}"])


def add_earlier_calls(db: Path, others: int) -> None:
    """``others`` claims of numbers outside the job a day ago, and one of each job number an hour ago."""
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO contact_log (e164, job_id, row_number, contacted_at, calls, last_call_at) "
            "SELECT printf('+1999%07d', i), 999, i + 2, ?, 1, ? FROM n",
            (others - 1, now - 86400, now - 86400),
        )
        conn.execute(
            "INSERT INTO contact_log (e164, job_id, row_number, contacted_at, calls, last_call_at) "
            "SELECT e164, 998, row_number, ?, 2, ? FROM rows WHERE job_id = 1",
            (now - 3600, now - 3000),
        )


def claim_seconds(db: Path, rounds: int = 200) -> float:
    from batchqueue.ledger import open_ledger

    ledger = open_ledger(f"sqlite:///{db}")
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            ledger.settle(1, [], [], 64)
        return (time.perf_counter() - start) / rounds
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=64_000)
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    exe = str(Path(sys.executable).with_name("batchqueue"))
    people = OUT / "contacts.csv"
    write_contacts(people, args.rows)
    runs = {"state caps on": (OUT / "on.db", "us"), "state caps off": (OUT / "off.db", "none")}
    for db, caps in runs.values():
        subprocess.run(
            [
                exe,
                "import",
                str(people),
                "--survey",
                "1",
                "--instance",
                "1",
                "--db",
                str(db),
                "-q",
                "--recontact-after",
                "0",
                "--max-attempts",
                "2",
                "--reattempt-wait",
                "600",
                "--rule",
                f"state-caps={caps}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        add_earlier_calls(db, 1_000_000)
    claims = {label: float("inf") for label in runs}
    for _ in range(3):  # alternating, best of 3 (each round claims 12,800 rows of each job)
        for label, (db, _) in runs.items():
            claims[label] = min(claims[label], claim_seconds(db))
    for label, each in claims.items():
        print(f"claim of 64 rows, {label:<15} {each * 1000:6.2f} ms")
    cost = claims["state caps on"] / claims["state caps off"] - 1
    print(f"claim cost of the state caps (every number counted): {cost:+.0%}   target <= +20%")


if __name__ == "__main__":
    main()
