"""What a run says it did: rows suppressed as they were claimed, by reason, and "sent" only for
requests that left (the CLI's own words, as a user reads them)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.sandbox import Sandbox
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows, point_at, point_at_url, sandbox_phones

Run = Callable[..., CliResult]


def test_the_summary_names_each_reason_rows_were_suppressed_for(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    source = contacts(tmp_path / "c.csv", 30)
    assert run_cli("import", source, "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--limit", "10").code == 0
        # The same file as another job: it takes the 20 numbers job 1 has not called yet ...
        assert run_cli("import", source, "--survey", "4242", "--instance", "1", "--metadata", "name").code == 0
        opted_out = next(r["e164"] for r in ledger_rows(db, 2) if r["state"] == "pending")
        assert run_cli("dnc", "add", opted_out).code == 0  # ... but for one, who opted out meanwhile
        second = run_cli("run", "2", "--rate", "0")
        assert second.code == 0, second.err
        assert "sent 19 " in second.out
        assert "1 found on a do-not-call list and suppressed" in second.out
        # Job 1, resumed: the 19 job 2 called are re-contact protection's, the opt-out the list's.
        first = run_cli("run", "1", "--rate", "0")
        assert first.code == 0, first.err
        assert max(sandbox_phones(sb).values()) == 1
    assert "sent 0 " in first.out
    assert "1 found on a do-not-call list and suppressed" in first.out
    assert "19 suppressed by re-contact protection" in first.out
    assert "do-not-call list" not in first.out.replace("1 found on a do-not-call list", "")


def test_the_summary_never_says_sent_for_requests_that_never_left(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHQUEUE_DB", str(tmp_path / "l.db"))
    assert run_cli("import", contacts(tmp_path / "c.csv", 5), "--survey", "4242", "--instance", "1").code == 0
    with socket.socket() as closed:  # a port nothing listens on: every request is refused before it leaves
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    point_at_url(monkeypatch, f"http://127.0.0.1:{port}/api")
    done = run_cli("run", "1", "--rate", "0", "--retries", "1", "--json")
    assert done.code != 0
    assert done.json()["sent"] == 0
    assert done.json()["pending"] == 5
