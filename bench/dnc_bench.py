"""Do-not-call lists: how fast a list is imported, and what a large list costs an import and a claim.

1. ``batchqueue dnc import`` of a CSV of --numbers numbers (mixed US formats), as a whole process.
   Target: >= 100,000 numbers/s.
2. ``batchqueue import`` of a --rows contacts file into a ledger without a list and into one whose
   list holds every number above (a tenth of the contacts are on it). Target: at most 20% slower.
3. Claims of 64 rows (the submitter's step) with and without that list and 1,000,000 earlier
   contacts (re-contact marks of another job). Target: at most 20% slower.

Run: python bench/dnc_bench.py [--numbers 1000000] [--rows 300000]
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "dnc"


def write_numbers(path: Path, count: int) -> None:
    rng = random.Random(11)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "opted_out_on"])
        for i in range(count):
            a, b = rng.choice(["212", "415", "617", "702", "818"]), 200 + i // 10000 % 800
            text = [f"({a}) {b}-{i % 10000:04d}", f"{a}-{b}-{i % 10000:04d}", f"+1{a}{b}{i % 10000:04d}"][i % 3]
            w.writerow([text, "2026-11-01"])


def write_contacts(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name", "account"])
        for i in range(count):
            # every tenth contact is 617-2xx-…, the range the list covers for 617
            a = "617" if i % 10 == 0 else "503"
            w.writerow([f"{a}-{200 + i // 10000 % 800}-{i % 10000:04d}", f"N{i}", f"A{i:07d}"])


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def add_earlier_contacts(db: Path, count: int) -> None:
    """``count`` numbers another job (999) contacted a day ago, none of them in the contacts file."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO contact_marks (e164, job_id, row_number, contacted_at) "
            "SELECT printf('+1999%07d', i), 999, i + 2, ? FROM n",
            (count - 1, time.time() - 86400),
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
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    exe = str(Path(sys.executable).with_name("batchqueue"))
    numbers, people = OUT / "numbers.csv", OUT / "contacts.csv"
    write_numbers(numbers, args.numbers)
    write_contacts(people, args.rows)

    listed, plain = OUT / "listed.db", OUT / "plain.db"
    seconds = timed([exe, "dnc", "import", str(numbers), "--list", "optouts", "--db", str(listed)])
    rate = args.numbers / seconds
    print(f"dnc import  {args.numbers:>9,} numbers  {seconds:6.2f} s  {rate:>9,.0f} numbers/s   target >= 100,000")

    runs = {"without a list": plain, "with the list": listed}  # (and, for the claims, 1M earlier contacts)
    best = {}
    for label, db in runs.items():
        best[label] = min(
            timed([exe, "import", str(people), "--survey", "1", "--instance", "1", "--db", str(db), "-q", "--new-job"])
            for _ in range(3)  # the first run also creates the ledger without a list: best of 3
        )
        print(f"import {label:<15} {args.rows:>9,} rows     {best[label]:6.2f} s (best of 3)")
    slower = best["with the list"] / best["without a list"] - 1
    print(f"import cost of a {args.numbers:,}-number list: {slower:+.0%}   target <= +20%")

    for db in runs.values():  # one job to claim from in each
        db.unlink()
        for extra in ("-wal", "-shm"):
            Path(f"{db}{extra}").unlink(missing_ok=True)
    timed([exe, "dnc", "import", str(numbers), "--list", "optouts", "--db", str(listed)])
    for db in runs.values():
        timed([exe, "import", str(people), "--survey", "1", "--instance", "1", "--db", str(db), "-q"])
    add_earlier_contacts(listed, args.numbers)
    claims = {label: claim_seconds(db) for label, db in runs.items()}
    for label, each in claims.items():
        print(f"claim of 64 rows {label:<15} {each * 1000:6.2f} ms")
    cost = claims["with the list"] / claims["without a list"] - 1
    print(f"claim cost of the list and the earlier contacts: {cost:+.0%}   target <= +20%")


if __name__ == "__main__":
    main()
