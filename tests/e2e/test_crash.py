"""kill -9 at random moments, rerun until done, then check against the sandbox's own record.

The negative control runs the same loop with the hidden ``--unsafe-resend-sending`` (rows found
``sending`` are resent instead of held as uncertain) and must produce duplicates: proof that the
check can fail.
"""

from __future__ import annotations

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
from tests.sandbox_helpers import check_against_sandbox, contacts, sandbox_env

ROWS = 600
KILLS = 12


def crash_loop(tmp_path: Path, *, seed: int, unsafe: bool) -> dict[str, int]:
    faults = Faults(
        latency=0.002,
        latency_after=0.05,
        p_400=0.05,
        p_500_before=0.02,
        p_500_after=0.02,
        p_drop_before=0.02,
        p_drop_after=0.02,
        seed=seed,
    )
    db = tmp_path / "crash.db"
    ledger = open_ledger(f"sqlite:///{db}")
    import_file(ledger, contacts(tmp_path / "c.csv", ROWS), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    rng = random.Random(seed)
    sb = Sandbox(SandboxConfig(faults=faults)).start()
    env = sandbox_env(sb)
    cmd = [
        sys.executable,
        "-m",
        "batchqueue",
        "run",
        "1",
        "--db",
        str(db),
        "--rate",
        "0",
        "--concurrency",
        "8",
        "--breaker",
        "100000",
        "--quiet",
    ] + (["--unsafe-resend-sending"] if unsafe else [])
    kills = 0
    try:
        for _ in range(KILLS):
            before = sb.app.store.requests
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while sb.app.store.requests == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))
            if proc.poll() is not None:
                break  # it finished before the kill
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        for _ in range(5):
            code = subprocess.run(cmd, env=env, capture_output=True, check=False).returncode
            if code in (0, 1):  # finished (1: some rows failed or are uncertain, as the faults make them)
                break
        else:
            raise AssertionError(f"the final run did not finish (exit {code})")
        calls = sb.app.store.dump()
    finally:
        sb.stop()
    figures = check_against_sandbox(db, calls) if not unsafe else _duplicates_only(calls, db)
    figures["kills"] = kills
    print(("negative control " if unsafe else "crash test ") + " ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


def _duplicates_only(calls: list[dict[str, object]], db: Path) -> dict[str, int]:
    from collections import Counter

    seen = Counter(str(c["phone_number"]) for c in calls)
    return {"rows": ROWS, "duplicates": sum(n - 1 for n in seen.values() if n > 1)}


def test_kill_9_at_random_moments_never_calls_anyone_twice(tmp_path: Path) -> None:
    figures = crash_loop(tmp_path, seed=20261127, unsafe=False)
    assert figures["kills"] >= KILLS // 2, "too few kills landed mid-run to prove anything"
    assert figures["duplicates"] == 0
    assert figures["rows"] == ROWS
    assert figures["queued"] + figures["failed"] + figures["uncertain"] == ROWS
    assert figures["uncertain"] > 0  # the kills and faults did leave rows whose fate was unknown


def test_negative_control_resending_sending_rows_calls_people_twice(tmp_path: Path) -> None:
    figures = crash_loop(tmp_path, seed=20261127, unsafe=True)
    assert figures["duplicates"] > 0
