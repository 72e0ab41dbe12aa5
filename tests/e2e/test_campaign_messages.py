"""Messages that misled a campaign, each checked word for word: a deliberate Ctrl-C is a pause, not a
cause to fix; rows left ``sending`` are for ``reconcile``; ``check -`` reads standard input; a report's
summary says its mapping once, not as JSON inside JSON; nothing is sent when no Insight address was
chosen (never production by default)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import contacts, sandbox_env

Run = Callable[..., CliResult]
IMPORT = ("--survey", "4242", "--instance", "1")

NO_TARGET = (
    "error: no Insight address chosen: nothing is sent until you say where. Choose one: the built-in sandbox "
    "(run `batchqueue sandbox` and set BATCHQUEUE_BASE_URL to the URL it prints, such as "
    "http://127.0.0.1:8099/api), a profile (--profile NAME, or BATCHQUEUE_PROFILE), or Insight itself, written "
    "out once: export BATCHQUEUE_BASE_URL=https://insight.plumvoice.com/api"
)


def test_ctrl_c_is_a_pause_and_says_how_to_resume_not_to_fix_a_cause(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(faults=Faults(latency=0.2))).start()
    try:
        env = sandbox_env(sandbox) | {"BATCHQUEUE_DB": str(tmp_path / "l.db")}
        cli = [sys.executable, "-m", "batchqueue"]
        subprocess.run([*cli, "import", str(contacts(tmp_path / "c.csv", 300)), *IMPORT], env=env, check=True)
        run = subprocess.Popen(
            [*cli, "run", "1", "--rate", "20", "--concurrency", "2", "--quiet"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 30
        while not sandbox.app.store.dump() and time.time() < deadline:
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        _out, err = run.communicate(timeout=60)
    finally:
        sandbox.stop()
    assert run.returncode == 130
    assert "fix the cause" not in err
    assert "paused (Ctrl-C): the requests in flight were finished and recorded; run `batchqueue run 1` again to " \
        "send the rest" in err  # fmt: skip


def test_rows_left_sending_are_pointed_to_reconcile_not_retry(tmp_path: Path, run_cli: Run) -> None:
    sandbox = Sandbox(SandboxConfig()).start()
    try:
        for key, value in sandbox_env(sandbox).items():
            if key.startswith("BATCHQUEUE_"):
                os.environ[key] = value
        assert run_cli("import", contacts(tmp_path / "c.csv", 5), *IMPORT).code == 0
        with sqlite3.connect(tmp_path / "batchqueue.db") as conn:  # a run that died with two rows in flight
            conn.execute("UPDATE rows SET state = 'sending' WHERE row_number IN (2, 3)")
            conn.execute("UPDATE row_tallies SET n = n - 2 WHERE kind = 'state' AND value = 'pending'")
            conn.execute("INSERT INTO row_tallies (job_id, kind, value, n) VALUES (1, 'state', 'sending', 2)")
        result = run_cli("run", "1", "--rate", "0")
    finally:
        sandbox.stop()
        for key in ("BATCHQUEUE_BASE_URL", "BATCHQUEUE_USER", "BATCHQUEUE_API_KEY"):
            os.environ.pop(key, None)
    assert (
        "2 row(s) were left 'sending' by an earlier run and are now uncertain (it may or may not have sent them): "
        "`batchqueue reconcile 1` lists those no callback proved queued, and resends them only when asked"
    ) in result.err
    assert "retry --help" not in result.err


def test_check_reads_standard_input(tmp_path: Path) -> None:
    rows = [["phone", "name"], ["617-555-0101", "Ana"], ["12345", "Bo"]]
    data = write_csv(tmp_path / "c.csv", rows).read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "batchqueue", "check", "-", "--json"], input=data, capture_output=True, cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr  # one invalid row
    found = json.loads(done.stdout)
    assert (found["file"], found["valid"], found["invalid"]) == ("-", 1, 1)
    shown = subprocess.run([sys.executable, "-m", "batchqueue", "check", "-"], input=data, capture_output=True)
    assert shown.stdout.decode().startswith("standard input: CSV, encoding utf-8, delimiter ',', header row 1\n")


def test_the_report_summary_says_the_mapping_once_not_as_json_in_json(tmp_path: Path, run_cli: Run) -> None:
    path = write_csv(tmp_path / "c.csv", [["Mobile Phone", "Name"], ["617-555-0101", "Ana"]])
    assert run_cli("import", path, *IMPORT, "--where", "Name = Ana").code == 0
    assert run_cli("export", "1", "-o", tmp_path / "r.json").code == 0
    summary = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["summary"]
    assert summary["mapping: phone_column"] == "Mobile Phone"
    assert summary["mapping: metadata"] == "Name"
    assert summary["mapping: where"] == "Name = Ana"
    assert run_cli("export", "1", "-o", tmp_path / "r.xlsx").code == 0
    book = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    lines = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True)}
    book.close()
    assert lines["mapping: phone_column"] == "Mobile Phone"
    assert lines["mapping: allow_duplicates"] == "no"


@pytest.mark.parametrize("command", [("run", "1"), ("poll", "1"), ("cancel", "1", "--remote", "--yes")])
def test_nothing_is_sent_without_a_chosen_address(tmp_path: Path, run_cli: Run, command: tuple[str, ...]) -> None:
    os.environ["BATCHQUEUE_USER"], os.environ["BATCHQUEUE_API_KEY"] = "ops@example.com", "a-key"
    try:
        assert run_cli("import", contacts(tmp_path / "c.csv", 3), *IMPORT).code == 0
        result = run_cli(*command)
    finally:
        os.environ.pop("BATCHQUEUE_USER")
        os.environ.pop("BATCHQUEUE_API_KEY")
    assert result.code == 2
    assert result.err.strip().splitlines()[-1] == NO_TARGET
    with sqlite3.connect(tmp_path / "batchqueue.db") as conn:
        assert conn.execute("SELECT count(*) FROM attempts").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM rows WHERE state = 'pending'").fetchone() == (3,)
