"""Reports and callbacks at scale.

1. Export a 1,000,000-row job to CSV and to xlsx (each `batchqueue export` a child process):
   rows/s and peak RSS. Targets: CSV >= 100,000 rows/s, xlsx >= 25,000 rows/s, RSS < 400 MiB.
2. A burst of 20,000 callbacks from 32 concurrent senders at `batchqueue serve`: callbacks/s,
   and whether every one is in the ledger.

Run: python bench/report_bench.py [--rows 1000000 --callbacks 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

BIN = Path(sys.executable).with_name("batchqueue")
META = ["first_name", "last_name", "account", "language", "segment", "city", "plan", "agent"]


def make_job(work: Path, rows: int) -> Path:
    src, db = work / "contacts.csv", work / f"job-{rows}.db"
    with src.open("w", encoding="utf-8") as f:
        f.write(",".join(["phone", *META]) + "\n")
        for i in range(rows):
            f.write(
                f"617{200 + i // 10000 % 800:03d}{i % 10000:04d},First{i},Lást{i},{i:08d},en,s{i % 7},Boston,"
                f"gold,=a{i % 3}\n"
            )
    subprocess.run(
        [str(BIN), "import", str(src), "--survey", "1", "--instance", "1", "--db", str(db), "-q", "--allow-duplicates"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with sqlite3.connect(db) as conn:  # pretend every row was queued and most have an outcome
        conn.execute(
            "UPDATE rows SET state='queued', call_id=id, http_status=200, attempts=1, "
            "outcome_status=CASE id % 10 WHEN 0 THEN 'failed' ELSE 'completed' END, outcome_attempts=1, "
            "outcome_source='callback', outcome_at=1796133600, outcome_last_attempt_at=1796133500 "
            "WHERE state='pending'"
        )
    return db


def timed(cmd: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def export_bench(work: Path, rows: int) -> None:
    db = make_job(work, rows)
    for fmt, target in (("csv", 100_000), ("xlsx", 25_000)):
        out = work / f"report.{fmt}"
        seconds, rss = timed([str(BIN), "export", "1", "-o", str(out), "--db", str(db)])
        print(
            f"export {fmt:<4} {rows:>9,} rows  {seconds:6.2f} s  {rows / seconds:>9,.0f} rows/s "
            f"(target >= {target:,})  peak RSS {rss:5.0f} MiB (target < 400)  file {out.stat().st_size / 1e6:.0f} MB"
        )


def callback_bench(work: Path, count: int, senders: int = 32) -> None:
    db = make_job(work, count)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rows SET outcome_status=NULL, outcome_source=NULL, outcome_at=NULL")
        urls = [f"/cb/{i}/{t}" for i, t in conn.execute("SELECT id, token FROM rows ORDER BY id")]
    port_file = work / "serve.port"
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", "0", "--port-file", str(port_file), "--db", str(db), "--threads", "32"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        body = {"status": "completed", "attempts": "1", "events": [{"event": "completed", "timestamp": "1"}]}
        local = threading.local()

        def send(path: str) -> int:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.trust_env = False
            code: int = local.session.post(base + path, json=body, timeout=60).status_code
            return code

        start = time.perf_counter()
        with ThreadPoolExecutor(senders) as pool:
            codes = list(pool.map(send, urls))
        seconds = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()
    with sqlite3.connect(db) as conn:
        recorded = conn.execute("SELECT count(*) FROM rows WHERE outcome_source = 'callback'").fetchone()[0]
    ok = sum(c == 200 for c in codes)
    print(
        f"callbacks {count:,} from {senders} senders: {seconds:.2f} s, {count / seconds:,.0f} callbacks/s; "
        f"answered 200: {ok:,}; in the ledger: {recorded:,}; lost: {count - recorded:,}"
    )
    print(json.dumps({"callbacks_per_s": round(count / seconds), "lost": count - recorded}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--callbacks", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export_bench(Path(tmp), args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        callback_bench(Path(tmp), args.callbacks)


if __name__ == "__main__":
    main()
