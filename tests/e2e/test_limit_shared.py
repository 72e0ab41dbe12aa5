"""``run --limit N`` on PostgreSQL is a test send of N rows for the job, however many workers send it."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from tests.sandbox_helpers import contacts, ledger_rows_url, sandbox_env


def test_three_workers_with_limit_10_send_10_in_all(postgres_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", 100), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    sb = Sandbox(SandboxConfig(faults=Faults(latency_after=0.2))).start()
    cmd = [sys.executable, "-m", "batchqueue", "run", "1", "--db", postgres_url, "--rate", "0", "--limit", "10"]
    try:
        workers = [
            subprocess.Popen(cmd, env=sandbox_env(sb), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        outputs = [w.communicate(timeout=120) for w in workers]
        calls = sb.app.store.dump()
    finally:
        sb.stop()
    assert [w.returncode for w in workers] == [0, 0, 0], [err for _, err in outputs]
    assert len(calls) == 10
    assert Counter(r["state"] for r in ledger_rows_url(postgres_url)) == Counter({"queued": 10, "pending": 90})
