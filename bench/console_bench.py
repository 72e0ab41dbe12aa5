"""The web console's speed: a job page of a 1M-row job, and what 20 open browser sessions cost a run.

1. A job of 1,000,000 rows, shaped like one half sent (queued with outcomes, failed with reasons,
   uncertain, invalid, pending, a held slice, 60,000 requests in the last half hour), served by
   ``batchqueue console`` in its own process. Each page is fetched over HTTP, logged in, many
   times; the median and 95th percentile are printed beside the target (200 ms).
2. ``batchqueue run`` of 20,000 rows against the sandbox, alone, then with 20 sessions watching
   the job's page in the console on the same ledger (each polls the live counts every 2 s as the
   page's script does, and reloads the whole page every 10 s). Runs alternate, twice each.
   Target: at most 10% slower.

Usage: ``python bench/console_bench.py [--rows 1000000] [--run-rows 20000]``
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests
from submit_bench import BIN, batchqueue_run, make_job, sandbox  # a sibling script: bench/ is on sys.path

from batchqueue.service.users import add_user
from batchqueue.settings import Settings

USER, PASSWORD = "bench", "bench password 1"
PAGE_TARGET_MS = 200.0
SLOWDOWN_TARGET = 0.10


def shape_half_sent(db: Path, rows: int) -> None:
    """Half the rows sent: the ledger's triggers keep the tallies as the states change."""
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE rows SET state = 'queued', call_id = 'c' || id, "
            "outcome_status = CASE id % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'rejected' ELSE 'completed' END "
            "WHERE id % 2 = 0"
        )
        conn.execute(
            "UPDATE rows SET state = 'failed', http_status = 400, "
            "error = CASE id % 3 WHEN 0 THEN 'invalid phone number' WHEN 1 THEN 'survey closed' "
            "ELSE 'number not allowed' END WHERE id % 20 = 1"
        )
        conn.execute("UPDATE rows SET state = 'uncertain', error = 'read timeout' WHERE id % 200 = 3")
        conn.execute(
            "UPDATE rows SET state = 'invalid', reasons = '[[\"phone\", \"wrong number of digits\"]]' "
            "WHERE id % 500 = 5"
        )
        conn.execute("UPDATE rows SET not_before = ? WHERE id % 50 = 7 AND state = 'pending'", (now + 3600,))
        conn.execute(
            "INSERT INTO attempts (row_id, job_id, started_at, finished_at, outcome) "
            "SELECT id, 1, ? - (id % 1800), ? - (id % 1800), 'queued' FROM rows WHERE id <= 60000",
            (now, now),
        )
    print(f"  shaped {rows:,} rows as half sent", flush=True)


def start_console(db: Path, workdir: Path, api: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    add_user(Settings(db_url=f"sqlite:///{db}"), USER, PASSWORD)
    port_file = workdir / f"console-{db.stem}.port"
    env = {**os.environ, "BATCHQUEUE_BASE_URL": api or "http://127.0.0.1:9/api"}
    proc = subprocess.Popen(
        [str(BIN), "--log-level", "warning", "console", "--db", str(db), "--port", "0", "--port-file", str(port_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


def logged_in(url: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    token = session.get(url + "/api/session", timeout=10).json()["csrf_token"]
    reply = session.post(
        url + "/api/login", json={"user": USER, "password": PASSWORD}, headers={"X-CSRFToken": token}, timeout=10
    )
    reply.raise_for_status()
    return session


def timed(session: requests.Session, url: str, times: int) -> list[float]:
    found = []
    for _ in range(times):
        start = time.perf_counter()
        reply = session.get(url, timeout=30)
        reply.raise_for_status()
        found.append((time.perf_counter() - start) * 1000)
    return found


def page_timings(workdir: Path, rows: int) -> None:
    print(f"1. pages of a {rows:,}-row job", flush=True)
    db = make_job(workdir, "big", rows, 0)
    shape_half_sent(db, rows)
    proc, url = start_console(db, workdir)
    try:
        session = logged_in(url)
        first = timed(session, url + "/jobs/1", 1)[0]
        print(f"  first view of the job page (held rows counted): {first:.0f} ms   (target < {PAGE_TARGET_MS:.0f})")
        for name, path in [
            ("job page", "/jobs/1"),
            ("job page, problems filtered", "/jobs/1?state=failed&contains=survey"),
            ("jobs page", "/jobs"),
            ("live update (what an open page polls)", "/api/jobs/1?summary=1"),
            ("job as JSON", "/api/jobs/1"),
        ]:
            found = timed(session, url + path, 40)
            p95 = statistics.quantiles(found, n=20)[-1]
            print(
                f"  {name:<40} median {statistics.median(found):6.1f} ms  p95 {p95:6.1f} ms   "
                f"(target < {PAGE_TARGET_MS:.0f} ms)",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait()


def watchers(url: str, sessions: int, stop: threading.Event) -> list[threading.Thread]:
    """``sessions`` open job pages: live counts every 2 s, the whole page every 10 s."""

    def watch(i: int) -> None:
        session = logged_in(url)
        tick = 0
        stop.wait(i * 2.0 / sessions)  # pages opened at different moments
        while not stop.is_set():
            path = "/jobs/1" if tick % 5 == 0 else "/api/jobs/1?summary=1"
            session.get(url + path, timeout=30)
            tick += 1
            stop.wait(2.0)

    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(sessions)]
    for t in threads:
        t.start()
    return threads


def slowdown(workdir: Path, rows: int, sessions: int = 20) -> None:
    print(f"2. `batchqueue run` of {rows:,} rows, alone and with {sessions} sessions watching", flush=True)
    alone: list[float] = []
    watched: list[float] = []
    with sandbox(0.0, workdir) as api:
        for round_ in range(2):
            for with_sessions in (False, True):
                db = make_job(workdir, f"run-{round_}-{int(with_sessions)}", rows, (round_ * 2 + with_sessions) * rows)
                proc, url = start_console(db, workdir, api)
                stop = threading.Event()
                try:
                    threads = watchers(url, sessions, stop) if with_sessions else []
                    time.sleep(2.5 if with_sessions else 0)  # every page open before the run starts
                    rate, _ = batchqueue_run(api, db, 16)
                finally:
                    stop.set()
                    for t in threads:
                        t.join(timeout=10)
                    proc.terminate()
                    proc.wait()
                (watched if with_sessions else alone).append(rate)
                print(
                    f"  {'watched by ' + str(sessions) if with_sessions else 'alone':<14} {rate:8.1f} rows/s",
                    flush=True,
                )
    loss = 1 - statistics.mean(watched) / statistics.mean(alone)
    print(
        f"  alone {statistics.mean(alone):.1f} rows/s, watched {statistics.mean(watched):.1f} rows/s: "
        f"{loss * 100:+.1f}% slower   (target <= {SLOWDOWN_TARGET * 100:.0f}%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--run-rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        page_timings(workdir, args.rows)
        slowdown(workdir, args.run_rows)


if __name__ == "__main__":
    main()
