"""A worker cut off from its PostgreSQL ledger while Insight answers everything: it keeps what became
of each row it claimed and writes it when the ledger is back, so no row that never reached Insight
is left ``uncertain``, and nobody is called twice. The sandbox's own record is the truth."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy.engine import make_url

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from tests.db_proxy import CuttableProxy
from tests.sandbox_helpers import contacts, ledger_rows_url, sandbox_env

ROWS = 300
LEASE = 3


def test_a_worker_cut_off_from_postgresql_leaves_no_never_sent_row_uncertain(postgres_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", ROWS), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    url = make_url(postgres_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    sb = Sandbox(SandboxConfig(faults=Faults(latency_after=0.05))).start()
    env = sandbox_env(sb)

    def run(db: str, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "batchqueue", "run", "1", "--db", db, "--lease-ttl", str(LEASE), "--json", *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    try:
        cut_off = run(through_proxy, "--rate", "20", "--concurrency", "4", "--ledger-wait", "120")
        deadline = time.monotonic() + 60
        while len(sb.app.store.dump()) < 40:
            assert time.monotonic() < deadline, "the worker did not start sending"
            assert cut_off.poll() is None, cut_off.communicate()
            time.sleep(0.02)
        proxy.cut()  # its ledger is gone; Insight still answers it
        time.sleep(LEASE + 2)
        # Another worker, on the ledger directly, takes over the cut-off worker's expired rows
        # (found sending: uncertain) and sends the rest of the job.
        other = run(postgres_url, "--rate", "0", "--concurrency", "4")
        _, other_err = other.communicate(timeout=120)
        proxy.restore()  # the ledger is back for the cut-off worker
        out, err = cut_off.communicate(timeout=180)
        # What the cut-off worker put back as never sent is sent now.
        last = run(postgres_url, "--rate", "0", "--concurrency", "4")
        last_out, last_err = last.communicate(timeout=120)
        calls = sb.app.store.dump()
    finally:
        sb.stop()
        proxy.stop()
    assert cut_off.returncode == 5, err  # it says the ledger was lost
    assert json.loads(out)["exit_reason"] == "ledger_lost"
    assert "ledger" in err
    rows = ledger_rows_url(postgres_url)
    reached = Counter(c["phone_number"] for c in calls)
    assert max(reached.values()) == 1, "a number was called twice"
    never_reached_but_uncertain = [
        r["row_number"] for r in rows if r["state"] == "uncertain" and r["phone_number"] not in reached
    ]
    assert never_reached_but_uncertain == [], (other_err, last_err)
    states = Counter(r["state"] for r in rows)
    assert states["queued"] == ROWS, (states, last_out)  # Insight took every request, and the ledger says so
    by_phone = {r["phone_number"]: r for r in rows}
    for phone, _ in reached.items():
        assert by_phone[phone]["state"] == "queued"


def test_a_worker_whose_ledger_never_comes_back_waits_ledger_wait_then_logs_each_unwritten_outcome(
    postgres_url: str, tmp_path: Path
) -> None:
    ledger = open_ledger(postgres_url)
    import_file(ledger, contacts(tmp_path / "c.csv", 100), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    url = make_url(postgres_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    sb = Sandbox(SandboxConfig(faults=Faults(latency_after=0.3))).start()
    cmd = [sys.executable, "-m", "batchqueue", "run", "1", "--db", through_proxy, "--rate", "0", "--concurrency", "4"]
    try:
        worker = subprocess.Popen(
            [*cmd, "--ledger-wait", "4"], env=sandbox_env(sb), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while len(sb.app.store.dump()) < 8:
            assert time.monotonic() < deadline, "the worker did not start sending"
            time.sleep(0.02)
        proxy.cut()  # for good, while requests are in flight
        cut_at = time.monotonic()
        _, err = worker.communicate(timeout=120)
        waited = time.monotonic() - cut_at
        calls = sb.app.store.dump()
    finally:
        sb.stop()
        proxy.stop()
    assert worker.returncode == 5, err
    assert waited >= 4  # it rode the outage out as long as it was told, and only then exited
    assert "--ledger-wait" in err
    # Each outcome the ledger never got is in the log (its call id with it), for an operator.
    in_flight = {str(c["call_id"]) for c in calls}
    logged = [line for line in err.splitlines() if "not written to the ledger" in line]
    assert logged
    assert all(line.split("(call id ")[1].split(")")[0] in in_flight for line in logged if "accepted" in line)
