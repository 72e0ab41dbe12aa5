"""What the same-file rule costs: a re-import under another mapping, and the claims of such a job.

1. ``batchqueue import`` of a --rows contacts file (the first job), then of the same file with
   another mapping (``--no-metadata``: the second job, of the same file) after the first job has
   claimed every number (``contact_log`` and ``contact_marks`` filled as its claims would), so the
   re-import suppresses every row and counts the numbers both hold. The baseline is the same
   import into a ledger whose do-not-call list holds every number (it suppresses every row too:
   most of either is the row tallies' triggers on 300,000 changes of state). Target: at most
   1.5 times that.
2. Claims of 64 rows (the submitter's step) in a ledger with --log earlier claims of other numbers:
   a job with no job of its file, and a job that has one (which claimed nothing yet), measured in
   turn. Target: at most 20% slower.

Best of --repeat runs for each figure (this machine's neighbours make single runs noisy).
Run: python bench/reimport_bench.py [--rows 300000] [--log 1000000] [--repeat 3]
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

OUT = Path(__file__).resolve().parent / "out" / "reimport"


def write_contacts(path: Path, count: int, area: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name", "account"])
        for i in range(count):
            w.writerow([f"{area}-{200 + i // 10000 % 800}-{i % 10000:04d}", f"N{i}", f"A{i:07d}"])


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def claimed_everything(db: Path, job_id: int) -> None:
    """Every number of the job as its claims would have left it: marked and logged an hour ago."""
    at = time.time() - 3600
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO contact_marks (e164, job_id, row_number, contacted_at) "
            "SELECT e164, job_id, row_number, ? FROM rows WHERE job_id = ? AND e164 IS NOT NULL",
            (at, job_id),
        )
        conn.execute(
            "INSERT INTO contact_log (e164, job_id, row_number, contacted_at) "
            "SELECT e164, job_id, row_number, ? FROM rows WHERE job_id = ? AND e164 IS NOT NULL",
            (at, job_id),
        )


def other_claims(db: Path, count: int) -> None:
    """``count`` claims of numbers no job here holds, by a job 999, a day ago."""
    numbers = (
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "SELECT printf('+1999%07d', i), 999, i + 2, ? FROM n"
    )
    with sqlite3.connect(db) as conn:
        at = (count - 1, time.time() - 86400)
        conn.execute("INSERT INTO contact_marks (e164, job_id, row_number, contacted_at) " + numbers, at)
        conn.execute("INSERT INTO contact_log (e164, job_id, row_number, contacted_at) " + numbers, at)


def claim_seconds(db: Path, job_id: int, rounds: int = 200) -> float:
    from batchqueue.ledger import open_ledger

    ledger = open_ledger(f"sqlite:///{db}")
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            ledger.settle(job_id, [], [], 64)
        return (time.perf_counter() - start) / rounds
    finally:
        ledger.close()


def reset(db: Path) -> None:
    for extra in ("", "-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--log", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    exe = str(Path(sys.executable).with_name("batchqueue"))
    people, others = OUT / "contacts.csv", OUT / "others.csv"
    write_contacts(people, args.rows, "617")
    write_contacts(others, args.rows, "503")
    db = OUT / "ledger.db"
    imports = ["import", "--survey", "1", "--instance", "1", "--db", str(db), "-q"]

    first, again, listed = [], [], []
    for _ in range(args.repeat):
        reset(db)
        first.append(timed([exe, imports[0], str(people), *imports[1:]]))
        claimed_everything(db, 1)
        again.append(timed([exe, imports[0], str(people), *imports[1:], "--no-metadata"]))
        reset(db)
        timed([exe, "dnc", "import", str(people), "--db", str(db)])
        listed.append(timed([exe, imports[0], str(people), *imports[1:]]))
    print(f"first import        {args.rows:>9,} rows  {min(first):6.2f} s (best of {args.repeat})")
    print(f"on a do-not-call list {args.rows:>7,} rows  {min(listed):6.2f} s, every row suppressed")
    print(f"re-import           {args.rows:>9,} rows  {min(again):6.2f} s, every row suppressed (job 1 called it)")
    print(f"re-import / do-not-call import: {min(again) / min(listed):.2f}   target <= 1.5")

    reset(db)
    timed([exe, imports[0], str(others), *imports[1:]])  # job 1: no job of its file
    timed([exe, imports[0], str(people), *imports[1:]])  # job 2 and, of the same file, job 3
    timed([exe, imports[0], str(people), *imports[1:], "--no-metadata"])
    other_claims(db, args.log)
    alone, with_relative = [], []
    for _ in range(args.repeat):  # in turn, so that a slow spell slows both
        alone.append(claim_seconds(db, 1))
        with_relative.append(claim_seconds(db, 3))
    alone_best, relative_best = min(alone), min(with_relative)
    print(f"claim of 64 rows, no job of its file  {alone_best * 1000:6.2f} ms")
    print(f"claim of 64 rows, a job of its file   {relative_best * 1000:6.2f} ms")
    print(f"claim cost of the same-file checks: {relative_best / alone_best - 1:+.0%}   target <= +20%")


if __name__ == "__main__":
    main()
