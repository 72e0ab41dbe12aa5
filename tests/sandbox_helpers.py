"""Helpers for tests that send: a sandbox-backed environment and the sandbox's ground truth."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from batchqueue.http_serving import HttpServer
from batchqueue.sandbox import Sandbox
from tests.conftest import write_csv

if TYPE_CHECKING:
    from batchqueue.ledger import Ledger


def contacts(path: Path, n: int, first: int = 0) -> Path:
    rows: list[list[object]] = [["phone", "name", "account"]]
    rows += [
        [f"(617) {200 + (first + i) // 10000:03d}-{(first + i) % 10000:04d}", f"Name {i}", f"A{i:05d}"]
        for i in range(n)
    ]
    return write_csv(path, rows)


def point_at(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, key: str | None = None) -> None:
    monkeypatch.setenv("BATCHQUEUE_BASE_URL", sandbox.api_url)
    monkeypatch.setenv("BATCHQUEUE_USER", sandbox.config.user)
    monkeypatch.setenv("BATCHQUEUE_API_KEY", key or sandbox.config.key)


def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    """This process's environment pointed at ``sandbox``, for a ``batchqueue`` child process."""
    return {
        **os.environ,
        "BATCHQUEUE_BASE_URL": sandbox.api_url,
        "BATCHQUEUE_USER": sandbox.config.user,
        "BATCHQUEUE_API_KEY": sandbox.config.key,
    }


def ledger_rows(db: Path, job_id: int = 1) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM rows WHERE job_id = ? ORDER BY id", (job_id,))]


def sandbox_phones(sandbox: Sandbox) -> Counter[str]:
    return Counter(c["phone_number"] for c in sandbox.app.store.dump())


def ledger_rows_url(url: str, job_id: int = 1) -> list[dict[str, Any]]:
    """Rows of a job in any ledger (SQLite or PostgreSQL URL)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(text("SELECT * FROM rows WHERE job_id = :j ORDER BY id"), {"j": job_id})
            ]
    finally:
        engine.dispose()


def assert_tallies_true(url: str, job_id: int = 1) -> None:
    """The ledger's tallies (what status and the console show) equal the rows counted one by one."""
    from batchqueue.ledger import open_ledger

    rows = ledger_rows_url(url, job_id)
    ledger = open_ledger(url)
    try:
        states = Counter(r["state"] for r in rows)
        assert {k: v for k, v in ledger.counts(job_id).items() if v} == dict(states)
        outcomes = Counter(r["outcome_status"] for r in rows if r["outcome_status"] is not None)
        assert ledger.outcome_counts(job_id) == dict(outcomes)
        from sqlalchemy import text

        with ledger.engine.connect() as conn:
            attempts = conn.execute(text("SELECT count(*) FROM attempts WHERE job_id = :j"), {"j": job_id}).scalar()
        assert sum(ledger.sent_per_minute(job_id, 0).values()) == attempts
    finally:
        ledger.close()


def check_against_sandbox(db: Path | str, calls: list[dict[str, Any]], job_id: int = 1) -> dict[str, int]:
    """The crash-test invariants; returns the figures. Raises AssertionError on any breach."""
    rows = ledger_rows(db, job_id) if isinstance(db, Path) else ledger_rows_url(db, job_id)
    accepted: dict[str, list[str]] = {}
    for call in calls:
        accepted.setdefault(call["phone_number"], []).append(str(call["call_id"]))
    duplicates = sum(len(ids) - 1 for ids in accepted.values() if len(ids) > 1)
    states = Counter(r["state"] for r in rows)
    assert states["sending"] == 0, "a row was left sending"
    for r in rows:
        if r["state"] == "queued":
            assert r["call_id"] in accepted.get(r["phone_number"], []), f"row {r['row_number']}: unknown call_id"
        if r["state"] == "failed":
            assert r["phone_number"] not in accepted, f"row {r['row_number']} failed but was accepted"
        if r["state"] == "pending":
            raise AssertionError(f"row {r['row_number']} still pending after a finished run")
    if isinstance(db, Path):
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert_tallies_true(f"sqlite:///{db}" if isinstance(db, Path) else db, job_id)
    return {
        "rows": len(rows),
        "queued": states["queued"],
        "failed": states["failed"],
        "uncertain": states["uncertain"],
        "duplicates": duplicates,
    }


def scripted_insight(body_for: Callable[[str], bytes]) -> HttpServer:
    """An 'Insight' that answers every request 200 with ``body_for(path)``: for replies the sandbox
    would never give (``{"success": 1}``, malformed status bodies). Use as a context manager."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        body = body_for(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return HttpServer(app, port=0)


def point_at_url(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    monkeypatch.setenv("BATCHQUEUE_BASE_URL", base_url)
    monkeypatch.setenv("BATCHQUEUE_USER", "u@example.com")
    monkeypatch.setenv("BATCHQUEUE_API_KEY", "k")


def run_process(db: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """``batchqueue run 1`` on ``db`` in a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "batchqueue", "run", "1", "--db", str(db), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(predicate: Callable[[], bool], proc: subprocess.Popen[str], seconds: float = 30) -> None:
    """Wait for ``predicate`` while ``proc`` is alive (its output shown if it died)."""
    deadline = time.monotonic() + seconds
    while not predicate() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()


def queued_job(url: str, folder: Path, rows: int) -> Ledger:
    """A ledger at ``url`` with one job of ``rows`` contacts, every row queued (call id 9)."""
    from batchqueue.intake.importer import import_file
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.ledger import Attempt, Settlement, open_ledger
    from batchqueue.lifecycle import Event

    ledger = open_ledger(url)
    import_file(ledger, contacts(folder / "c.csv", rows), MappingSpec(), survey_id="4242", instance_id="1")
    while claimed := ledger.claim(1, 500):
        ledger.record([Settlement(c.row_id, Event.ACCEPTED, [Attempt("queued", 200, "9")], "9") for c in claimed])
    return ledger


def serve_command(db: Path | str, port_file: Path, spool: Path) -> list[str]:
    """The command line of ``batchqueue serve`` on a free port (its port written to ``port_file``)."""
    return [
        sys.executable,
        "-m",
        "batchqueue",
        "serve",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--db",
        str(db),
        "--spool-dir",
        str(spool),
    ]


def serve_process(db: Path | str, port_file: Path, spool: Path) -> subprocess.Popen[str]:
    """``batchqueue serve`` on a free port in a child process (its port written to ``port_file``)."""
    return subprocess.Popen(
        serve_command(db, port_file, spool), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def served_port(port_file: Path, proc: subprocess.Popen[str]) -> int:
    """The port a ``serve_process`` listens on, once it does."""
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text() != "") and proc.poll() is None:
        assert time.monotonic() < deadline, "serve did not start in 30 s"
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    return int(port_file.read_text())


def wait_for(predicate: Callable[[], bool], seconds: float = 20) -> None:
    """Poll ``predicate`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
