"""Survey answers at scale: a 1,000,000-row survey report read from the sandbox and joined to a
1,000,000-row job by `batchqueue answers` (a child process): seconds, rows/s and peak RSS; then the
CSV export of that job with its answers (rows/s, RSS), to compare with `report_bench.py`'s.

The job is imported, then marked as if every row had been queued an hour before its visit (plain
SQL: sending a million rows is `submit_bench.py`'s subject). The sandbox serves a computed report
(`SyntheticReport`: visit i is of the job's row i's number, one in 50 a web visit), so it holds no
visit in memory. Targets: peak RSS < 400 MiB, whatever the report's size.

Run: python bench/answers_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("batchqueue")


def make_job(work: Path, rows: int, first: int) -> Path:
    src, db = work / "contacts.csv", work / "answers.db"
    with src.open("w", encoding="utf-8") as f:
        f.write("phone,first_name,account\n")
        for i in range(rows):
            f.write(f"617{200 + i // 10000 % 800:03d}{i % 10000:04d},First{i},{i:08d}\n")
    subprocess.run(
        [str(BIN), "import", str(src), "--survey", "4242", "--instance", "1", "--db", str(db), "-q",
         "--allow-duplicates"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    with sqlite3.connect(db) as conn:  # every row queued, its request sent a minute before the report's first visit
        conn.execute("UPDATE rows SET state = 'queued', call_id = id, attempts = 1 WHERE state = 'pending'")
        conn.execute(
            "INSERT INTO attempts (row_id, job_id, started_at, finished_at, outcome, http_status, call_id) "
            "SELECT id, job_id, ?, ?, 'queued', 200, call_id FROM rows",
            (first - 60, first - 59),
        )
    return db


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``: (seconds, peak RSS in MiB, its stdout); its log lines saying where the time went
    are printed."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        err.seek(0)
        said = err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed: {said[-2000:]}")
    for line in said.splitlines():
        if " s; joined " in line:
            print("  " + line.split(" INFO ", 1)[-1])
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Keep the ledger here (for profiling).")
    args = parser.parse_args()
    from batchqueue.sandbox import Sandbox, SandboxConfig
    from batchqueue.sandbox.reports import SyntheticReport

    first = int(time.time()) - args.rows - 3600
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        db = make_job(work, args.rows, first)
        print(f"job of {args.rows:,} rows ready in {time.perf_counter() - started:.0f} s")
        config = SandboxConfig(synthetic=SyntheticReport("4242", args.rows, first))
        with Sandbox(config) as sb:
            env = {**os.environ, "BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user,
                   "BATCHQUEUE_API_KEY": sb.config.key}  # fmt: skip
            os.environ.update(env)
            seconds, rss, out = timed(
                [str(BIN), "answers", "1", "--report", "4242", "--since", str(first - 10), "--rate", "0",
                 "--db", str(db), "--json"]
            )  # fmt: skip
        found = json.loads(out)
        answers_s, answers_rss = seconds, rss
        print(
            f"answers: {found['read']:,} report rows in {found['pages']} pages, {seconds:.1f} s "
            f"({found['read'] / seconds:,.0f} rows/s); joined {found['joined']:,}, set aside "
            f"{found['not_this_job']:,}, ambiguous {found['ambiguous']:,}; peak RSS {rss:.0f} MiB (target < 400)"
        )
        out_file = work / "report.csv"
        seconds, rss, _ = timed([str(BIN), "export", "1", "-o", str(out_file), "--db", str(db)])
        print(
            f"export csv with answers: {args.rows:,} rows, {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s); "
            f"peak RSS {rss:.0f} MiB"
        )
        if args.keep:
            import shutil

            shutil.copy(db, args.keep)
        print(json.dumps({"answers_s": round(answers_s, 1), "answers_rss_mib": round(answers_rss)}))


if __name__ == "__main__":
    main()
