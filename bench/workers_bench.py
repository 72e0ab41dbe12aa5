"""Many workers on one PostgreSQL ledger: throughput with 1, 2 and 4 worker processes, and whether
the job-wide --rate holds with 4 of them.

Needs PostgreSQL (BATCHQUEUE_TEST_POSTGRES, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
Run: python bench/workers_bench.py [--rows 20000 --rate 200 --rate-rows 3000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).with_name("batchqueue")
AREAS = ["201", "202", "212", "305", "312", "415", "503", "617", "646", "702", "713", "818"]
ADMIN = os.environ.get("BATCHQUEUE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def database() -> Iterator[str]:
    admin = make_url(ADMIN)
    name = f"bq_bench_{uuid.uuid4().hex[:8]}"
    params: dict[str, Any] = {
        "host": admin.host,
        "port": admin.port or 5432,
        "user": admin.username,
        "password": admin.password,
        "dbname": admin.database,
        "autocommit": True,
    }
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**params) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sandbox(work: Path) -> Iterator[str]:
    port_file = work / "port"
    proc = subprocess.Popen(
        [str(BIN), "sandbox", "--port", "0", "--port-file", str(port_file), "--threads", "64"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}/api"
    finally:
        proc.terminate()
        proc.wait()


def make_job(url: str, work: Path, rows: int, offset: int) -> None:
    src = work / f"c{offset}.csv"
    with src.open("w") as f:
        f.write("phone,name\n")
        for i in range(rows):
            n = offset + i
            area = AREAS[n // 10000 % len(AREAS)]
            f.write(f"{area}{200 + n // 10000 % 700:03d}{n % 10000:04d},Name {i}\n")
    subprocess.run(
        [str(BIN), "import", str(src), "--survey", "4242", "--instance", "1", "--db", url, "-q"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run_workers(url: str, api: str, workers: int, rate: float, concurrency: int) -> float:
    env = {
        **os.environ,
        "BATCHQUEUE_BASE_URL": api,
        "BATCHQUEUE_USER": "demo@example.com",
        "BATCHQUEUE_API_KEY": "sandbox-key",
    }
    cmd = [str(BIN), "run", "1", "--db", url, "--rate", str(rate), "--concurrency", str(concurrency), "--quiet"]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for p in procs:
        p.wait()
    return time.perf_counter() - start


def sent_window(url: str) -> tuple[int, float]:
    engine = create_engine(url)
    with engine.connect() as conn:
        n, first, last = conn.execute(
            text("SELECT count(*), min(finished_at), max(finished_at) FROM attempts WHERE outcome = 'queued'")
        ).one()
    engine.dispose()
    return int(n), float(last - first)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--rate-rows", type=int, default=3_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with sandbox(work) as api:
            for n_workers in (1, 2, 4):
                with database() as url:
                    make_job(url, work, args.rows, n_workers * 1_000_000)
                    seconds = run_workers(url, api, n_workers, 0, max(1, 16 // n_workers))
                    n, window = sent_window(url)
                    print(
                        f"{n_workers} worker(s): {n:,} rows queued in {seconds:.1f} s wall "
                        f"= {args.rows / seconds:,.0f} rows/s (send window {n / window:,.0f} rows/s)"
                    )
            with database() as url:
                make_job(url, work, args.rate_rows, 9_000_000)
                run_workers(url, api, 4, args.rate, 8)
                n, window = sent_window(url)
                achieved = (n - 1) / window
                print(
                    f"job-wide --rate {args.rate:.0f} with 4 workers: {achieved:.1f} requests/s "
                    f"({(achieved / args.rate - 1) * 100:+.1f}%, target within 5%)"
                )


if __name__ == "__main__":
    main()
