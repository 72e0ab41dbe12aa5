"""Logs: on stderr, as text or JSON lines, never mixed with --json output, never carrying a secret."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from batchqueue.logs import scrub
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from tests.sandbox_helpers import contacts, ledger_rows

KEY = "s3cret-Developer-Key-9f8e"


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "batchqueue", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_nothing_logged_anywhere_carries_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    base_env = {**os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "batchqueue", "import", str(contacts(tmp_path / "c.csv", 20)), "--survey", "4242",
         "--instance", "1", "--db", str(db)],
        capture_output=True, text=True, env=base_env, check=True,
    )  # fmt: skip
    assert "job 1 created" in done.stdout
    serve = _cli(
        "--log-level", "debug", "--log-format", "json", "serve", "--port", "0", "--port-file", str(tmp_path / "port"),
        "--db", str(db), env=base_env,
    )  # fmt: skip
    config = SandboxConfig(key=KEY, faults=Faults(p_500_after=0.2, seed=3), completion=Completion(after=0.1))
    with Sandbox(config) as sb:
        deadline = time.monotonic() + 30
        while not (tmp_path / "port").exists() or not (tmp_path / "port").read_text():
            assert time.monotonic() < deadline, "serve did not start"
            assert serve.poll() is None, serve.communicate()
            time.sleep(0.05)
        public = f"http://127.0.0.1:{(tmp_path / 'port').read_text()}"
        env = {
            **base_env,
            "BATCHQUEUE_BASE_URL": sb.api_url,
            "BATCHQUEUE_USER": sb.config.user,
            "BATCHQUEUE_API_KEY": KEY,
        }
        run = _cli(
            "--log-level", "debug", "--log-format", "json", "run", "1", "--rate", "0", "--json", "--breaker", "100",
            "--public-url", public, "--db", str(db), env=env,
        )  # fmt: skip
        run_out, run_err = run.communicate(timeout=120)
        deadline = time.monotonic() + 30
        while sum(1 for r in ledger_rows(db) if r["outcome_status"]) < len(sb.app.store.dump()):
            assert time.monotonic() < deadline, "callbacks did not arrive"
            time.sleep(0.1)
        poll = _cli(
            "--log-level", "debug", "--log-format", "json", "poll", "1", "--rate", "0", "--db", str(db), env=env
        )  # fmt: skip
        _, poll_err = poll.communicate(timeout=120)
    serve.send_signal(signal.SIGINT)
    _, serve_err = serve.communicate(timeout=30)
    tokens = [r["token"] for r in ledger_rows(db) if r["token"]]
    basic = base64.b64encode(f"{sb.config.user}:{KEY}".encode()).decode()
    everything = run_err + serve_err + poll_err
    assert run.returncode in (0, 1), run_err
    # stdout: exactly the one --json object; stderr: one JSON object a line
    assert json.loads(run_out)["job_id"] == 1
    for line in filter(None, (run_err + serve_err + poll_err).splitlines()):
        if line.startswith("{"):
            json.loads(line)
    assert KEY not in everything + run_out
    assert basic not in everything
    assert "Authorization" not in everything
    assert not any(token in everything for token in tokens)
    # and what the logs do say
    logged = [json.loads(line) for line in run_err.splitlines() if line.startswith("{")]
    assert any("job 1: sending" in e["message"] and sb.api_url in e["message"] for e in logged)
    served = [json.loads(line) for line in serve_err.splitlines() if line.startswith("{")]
    assert sum("callback for row" in e["message"] for e in served) >= len(tokens) // 2
    assert any(e["logger"] == "batchqueue.callbacks" and "recorded" in e["message"] for e in served)


def test_the_scrubber_removes_what_it_must() -> None:
    from batchqueue.logs import register_secret

    register_secret("hunter2-key")
    assert "hunter2" not in scrub("failed with key hunter2-key in it")
    assert scrub("POST /cb/12/abcdef0123456789abcdef0123456789 200") == "POST /cb/12/******** 200"
    assert "dXNlcjpwYXNz" not in scrub("Authorization: Basic dXNlcjpwYXNz")
