"""``--on-ambiguous resend`` stops at its cap however the attempts ended: ambiguous replies and
crashes alike (kill -9 of a real run while its request is at the sandbox)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from batchqueue.defaults import DEFAULTS
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from tests.sandbox_helpers import contacts, ledger_rows, sandbox_env

CYCLES = 5


def test_crash_and_recover_cycles_never_resend_a_row_past_the_cap(tmp_path: Path) -> None:
    db = tmp_path / "cap.db"
    ledger = open_ledger(f"sqlite:///{db}")
    import_file(ledger, contacts(tmp_path / "c.csv", 1), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    # Insight takes every request and answers after 30 s: each run dies with its request out.
    sb = Sandbox(SandboxConfig(faults=Faults(latency_after=30.0))).start()
    cmd = [sys.executable, "-m", "batchqueue", "run", "1", "--db", str(db), "--rate", "0", "--on-ambiguous", "resend"]
    try:
        for _ in range(CYCLES):
            before = sb.app.store.requests
            proc = subprocess.Popen(cmd, env=sandbox_env(sb), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while sb.app.store.requests == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if proc.poll() is not None:  # it sent nothing: the row is held, as it must be after the cap
                continue
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        requests = sb.app.store.requests
    finally:
        sb.stop()
    (row,) = ledger_rows(db)
    assert requests == DEFAULTS.resend_limit, f"{requests} requests for one row; the cap is {DEFAULTS.resend_limit}"
    assert row["attempts"] == DEFAULTS.resend_limit
    assert row["state"] == "uncertain"  # held for an operator, not pending for a fourth try
