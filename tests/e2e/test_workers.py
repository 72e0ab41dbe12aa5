"""Many workers on one PostgreSQL ledger: kill -9 them at random, start new ones, check the record."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from tests.sandbox_helpers import check_against_sandbox, contacts, ledger_rows_url, sandbox_env

ROWS = 3000
LEASE = 3.0


def test_four_workers_killed_at_random_never_call_anyone_twice(postgres_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", ROWS), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    faults = Faults(latency=0.002, latency_after=0.03, p_400=0.03, p_500_after=0.02, p_drop_after=0.02, seed=5)
    sb = Sandbox(SandboxConfig(faults=faults)).start()
    env = sandbox_env(sb)
    cmd = [
        sys.executable,
        "-m",
        "batchqueue",
        "run",
        "1",
        "--db",
        postgres_url,
        "--rate",
        "0",
        "--concurrency",
        "4",
        "--breaker",
        "100000",
        "--lease-ttl",
        str(LEASE),
        "--quiet",
    ]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    rng = random.Random(11)
    kills = 0
    try:
        workers = [start() for _ in range(4)]
        deadline = time.monotonic() + 60
        while len(sb.app.store.dump()) < ROWS // 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(8):
            time.sleep(rng.uniform(0.3, 0.8))
            alive = [w for w in workers if w.poll() is None]
            if not alive:
                break
            victim = rng.choice(alive)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            kills += 1
            workers.append(start())
        for w in workers:
            w.wait(timeout=120)
        # Rows of killed workers stay 'sending' until their lease expires; then any worker makes them uncertain.
        for _ in range(5):
            states = {r["state"] for r in ledger_rows_url(postgres_url)}
            if not states & {"sending", "pending"}:
                break
            time.sleep(LEASE + 0.5)
            subprocess.run(cmd, env=env, capture_output=True, check=False, timeout=120)
        calls = sb.app.store.dump()
    finally:
        sb.stop()
    figures = check_against_sandbox(postgres_url, calls)
    rows = ledger_rows_url(postgres_url)
    expired = sum(1 for r in rows if r["state"] == "uncertain" and "no live sender" in (r["error"] or ""))
    print(
        f"multi-worker crash test kills={kills} expired_leases_uncertain={expired} "
        + " ".join(f"{k}={v}" for k, v in figures.items())
    )
    assert kills >= 4
    assert figures["duplicates"] == 0
    assert figures["rows"] == ROWS
    assert figures["queued"] + figures["failed"] + figures["uncertain"] == ROWS
    assert expired > 0  # killed workers' leases ran out and their rows were held as uncertain


def test_a_paused_worker_still_records_the_call_id_it_was_given(postgres_url: str, tmp_path: Path) -> None:
    """SIGSTOP a worker while its request is in flight, past its lease; another worker takes the
    row over (uncertain); SIGCONT: the reply that was waiting is recorded: queued, with its call id."""
    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", 4), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    sb = Sandbox(SandboxConfig(faults=Faults(latency_after=2.0))).start()
    env = sandbox_env(sb)
    cmd = [sys.executable, "-m", "batchqueue", "run", "1", "--db", postgres_url, "--rate", "0", "--lease-ttl", "3"]
    try:
        paused = subprocess.Popen(
            [*cmd, "--concurrency", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while not sb.app.store.dump():
            assert time.monotonic() < deadline, "no request arrived"
            assert paused.poll() is None, paused.communicate()
            time.sleep(0.01)
        paused.send_signal(signal.SIGSTOP)  # its request is recorded; its reply comes in 2 s, to a frozen process
        first = sb.app.store.dump()[0]
        time.sleep(LEASE + 2)
        other = subprocess.run(
            [*cmd, "--concurrency", "2", "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        rows = {r["phone_number"]: r for r in ledger_rows_url(postgres_url)}
        assert rows[first["phone_number"]]["state"] == "uncertain", other.stderr  # the other worker took it over
        paused.send_signal(signal.SIGCONT)
        _, err = paused.communicate(timeout=60)
        calls = sb.app.store.dump()
    finally:
        sb.stop()
    rows = {r["phone_number"]: r for r in ledger_rows_url(postgres_url)}
    mine = rows[first["phone_number"]]
    assert (mine["state"], mine["call_id"]) == ("queued", str(first["call_id"])), err
    phones = [c["phone_number"] for c in calls]
    assert len(phones) == len(set(phones)), "a number was called twice"
    assert "lease" in err  # it said why it stopped sending
    assert paused.returncode == 5


def test_a_worker_whose_heartbeat_fails_stops_and_records_what_is_in_flight(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", 200), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    sb = Sandbox(SandboxConfig(faults=Faults(latency_after=0.2))).start()
    cmd = [sys.executable, "-m", "batchqueue", "run", "1", "--db", postgres_url, "--rate", "0", "--lease-ttl", "3"]
    admin = create_engine(postgres_url)
    try:
        worker = subprocess.Popen(
            [*cmd, "--concurrency", "4", "--json"], env=sandbox_env(sb), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while len(sb.app.store.dump()) < 8:
            assert time.monotonic() < deadline, "the worker did not start sending"
            time.sleep(0.02)
        with admin.begin() as conn:  # the worker can no longer write its heartbeat
            conn.execute(text("ALTER TABLE workers RENAME TO workers_elsewhere"))
        out, err = worker.communicate(timeout=60)
        with admin.begin() as conn:
            conn.execute(text("ALTER TABLE workers_elsewhere RENAME TO workers"))
    finally:
        sb.stop()
        admin.dispose()
    assert worker.returncode == 5, err
    summary = json.loads(out)  # scripts still get the summary
    assert summary["exit_reason"] == "ledger_lost"
    assert "heartbeat" in err
    states = {r["state"] for r in ledger_rows_url(postgres_url)}
    assert "sending" not in states  # what was in flight was recorded, the rest released
    assert states <= {"queued", "pending"}
    queued = sum(r["state"] == "queued" for r in ledger_rows_url(postgres_url))
    assert queued == len(sb.app.store.dump())  # every call Insight took is recorded
    assert 0 < queued < 200
