"""The last worker on a PostgreSQL ledger does not exit while a dead worker's rows are still
``sending``: it waits for their leases to run out and takes them over (found_sending → uncertain)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from tests.sandbox_helpers import contacts, ledger_rows_url, sandbox_env

LEASE = 6


def test_the_last_worker_takes_over_a_killed_workers_rows_before_it_exits(postgres_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", 20), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    slow = Sandbox(SandboxConfig(faults=Faults(latency_after=60.0))).start()  # the killed worker's requests hang
    fast = Sandbox(SandboxConfig()).start()
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
        "--lease-ttl",
        str(LEASE),
    ]
    try:
        doomed = subprocess.Popen(
            [*cmd, "--concurrency", "4"], env=sandbox_env(slow), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while slow.app.store.requests < 4:
            assert time.monotonic() < deadline, "the first worker did not start sending"
            assert doomed.poll() is None
            time.sleep(0.02)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        killed_at = time.monotonic()
        last = subprocess.run(
            [*cmd, "--concurrency", "2"], env=sandbox_env(fast), capture_output=True, text=True, timeout=120
        )
        waited = time.monotonic() - killed_at
    finally:
        slow.stop()
        fast.stop()
    states = Counter(r["state"] for r in ledger_rows_url(postgres_url))
    assert states["sending"] == 0, (states, last.stderr)  # no row left sending with no live worker
    assert states["uncertain"] >= 4  # the killed worker's requests reached Insight: held for an operator
    assert states["queued"] + states["uncertain"] == 20
    assert waited < 4 * LEASE  # it waited for the leases, not for ever
