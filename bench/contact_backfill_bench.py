"""Migration 0018 at scale: a ledger whose rows were sent before the contact log existed, upgraded
by `batchqueue db upgrade` (a child process): seconds and peak RSS of the backfill of
`contact_log` and `contact_marks` (INSERT … SELECT: memory must not grow with the rows).

The job is imported, then marked as if every row had been queued (plain SQL: sending is
`submit_bench.py`'s subject), its contact history emptied and the ledger set back to 0017, as an
upgraded 0006 ledger is. Targets: peak RSS < 200 MiB whatever the rows; < 60 s per 1,000,000 rows.

Run: python bench/contact_backfill_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("batchqueue")
_MEASURE = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)"
)


def make_ledger(work: Path, rows: int) -> Path:
    src, db = work / "contacts.csv", work / "backfill.db"
    with src.open("w", encoding="utf-8") as f:
        f.write("phone\n")
        for i in range(rows):
            f.write(f"617{200 + i // 10000 % 800:03d}{i % 10000:04d}\n")
    subprocess.run(
        [str(BIN), "import", str(src), "--survey", "4242", "--instance", "1", "--db", str(db), "-q",
         "--allow-duplicates", "--max-attempts", "3", "--reattempt-wait", "600"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    with sqlite3.connect(db) as conn:
        sent = time.time() - 3600
        conn.execute("UPDATE rows SET state = 'queued', call_id = id, attempts = 1 WHERE state = 'pending'")
        conn.execute(
            "INSERT INTO attempts (row_id, job_id, started_at, finished_at, outcome, http_status, call_id) "
            "SELECT id, job_id, ?, ?, 'accepted', 200, id FROM rows WHERE state = 'queued'",
            (sent, sent + 0.2),
        )
        conn.execute("DELETE FROM contact_log")
        conn.execute("DELETE FROM contact_marks")
        conn.execute("UPDATE alembic_version SET version_num = '0017'")
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bq-backfill-") as folder:
        started = time.perf_counter()
        db = make_ledger(Path(folder), args.rows)
        print(f"ledger of {args.rows:,} sent rows ready in {time.perf_counter() - started:.0f} s")
        start = time.perf_counter()
        # A wrapper process, so that the peak RSS is the upgrade's alone (not the import's).
        measured = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(BIN), "db", "upgrade", "--db", str(db)], capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        if measured.returncode:
            raise SystemExit(f"db upgrade failed: {measured.stderr}")
        rss = int(measured.stdout.split()[-1]) / 1024
        with sqlite3.connect(db) as conn:
            logged = conn.execute("SELECT COUNT(*) FROM contact_log").fetchone()[0]
            marked = conn.execute("SELECT COUNT(*) FROM contact_marks").fetchone()[0]
        per_million = seconds * 1_000_000 / max(1, args.rows)
        print(f"db upgrade: {seconds:.1f} s ({per_million:.1f} s per 1M rows; target < 60 s), "
              f"peak RSS {rss:.0f} MiB (target < 200 MiB); logged {logged:,}, marked {marked:,}")  # fmt: skip
        print(json.dumps({"upgrade_s": round(seconds, 1), "rss_mib": round(rss), "logged": logged}))


if __name__ == "__main__":
    main()
