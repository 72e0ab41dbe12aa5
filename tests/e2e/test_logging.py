"""Logs: on stderr, as text or JSON lines, never mixed with --json output, never carrying a secret."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from batchqueue.logs import configure, log_context, register_secret, scrub
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from tests.key_trap import KeyTrap
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
    # stdout: exactly the one --json object; stderr: one JSON object a line
    summary = json.loads(run_out)
    assert summary["job_id"] == 1
    # Every request was queued; the seeded faults answered some of them 500, so that the error paths
    # logged too. A callback may prove such a row queued before the run ends: the exit code is the
    # one its summary calls for.
    assert summary["queued"] + summary["uncertain"] == 20
    assert 'HTTP/1.1\\" 500' in run_err
    assert run.returncode == (1 if summary["uncertain"] or summary["failed"] else 0), run_err
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
    assert any(e["logger"].startswith("batchqueue.callbacks.") and "recorded" in e["message"] for e in served)


def _json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_an_import_a_run_and_a_poll_name_their_job_on_their_json_lines(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    cli = [sys.executable, "-m", "batchqueue", "--log-format", "json"]
    imported = subprocess.run(
        [*cli, "import", str(contacts(tmp_path / "c.csv", 5)), "--survey", "4242", "--instance", "1", "--db", str(db)],
        capture_output=True, text=True, env=dict(os.environ), check=True, timeout=120,
    )  # fmt: skip
    said = [e for e in _json_lines(imported.stderr) if e.get("event") == "import"]
    assert len(said) == 1, imported.stderr  # one line for the whole file, never one a row
    assert said[0]["job"] == 1
    assert "c.csv" in said[0]["message"]
    assert "5 row(s) read, 5 valid" in said[0]["message"]
    with Sandbox(SandboxConfig(key=KEY)) as sb:
        env = {**os.environ, "BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user}
        env["BATCHQUEUE_API_KEY"] = KEY
        ran = subprocess.run(
            [*cli, "run", "1", "--rate", "0", "--db", str(db)], capture_output=True, text=True, env=env, timeout=120
        )
        polled = subprocess.run(
            [*cli, "poll", "1", "--rate", "0", "--db", str(db)], capture_output=True, text=True, env=env, timeout=120
        )
    run_lines = [e for e in _json_lines(ran.stderr) if e["logger"].startswith("batchqueue.")]
    assert any("sending 5 pending row(s)" in e["message"] for e in run_lines), ran.stderr
    assert all(e.get("job") == 1 and e.get("event") == "run" for e in run_lines), ran.stderr
    poll_lines = [e for e in _json_lines(polled.stderr) if e["logger"].startswith("batchqueue.")]
    assert any(e["message"].startswith("poll round 1:") for e in poll_lines), polled.stderr
    assert all(e.get("job") == 1 and e.get("event") == "poll" for e in poll_lines), polled.stderr


def test_a_run_whose_rows_are_all_held_says_how_many_and_why(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    cli = [sys.executable, "-m", "batchqueue", "--log-level", "debug", "--log-format", "json"]
    subprocess.run(
        [*cli, "import", str(contacts(tmp_path / "c.csv", 3)), "--survey", "4242", "--instance", "1", "--db", str(db)],
        capture_output=True, text=True, env=dict(os.environ), check=True, timeout=120,
    )  # fmt: skip
    with Sandbox(SandboxConfig(key=KEY)) as sb:
        env = {**os.environ, "BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user}
        env["BATCHQUEUE_API_KEY"] = KEY
        ran = subprocess.run(
            [*cli, "run", "1", "--rate", "0", "--blackout", "2000-01-01..2199-12-31", "--db", str(db)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert sb.app.store.dump() == []  # nobody called on a blacked-out day
    held = [e for e in _json_lines(ran.stderr) if e.get("event") == "hold"]
    assert [(e["level"], e["job"]) for e in held] == [("debug", 1), ("info", 1)], ran.stderr
    assert held[0]["message"].startswith("this claim held 3 row(s): 3 no")  # counted by reason: no calling time
    assert "calling" in held[0]["message"]
    assert held[1]["message"].startswith("3 held: 3 with no allowed calling time")  # how many, and why
    assert held[1]["message"].endswith("; the first is released never")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_line_names_the_job_row_and_event_it_is_about(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    key = _secret()
    log = logging.getLogger("batchqueue.test")
    configure("info", fmt)
    try:
        register_secret(key)
        log.info("outside")
        with log_context(job=7, event="run"):
            log.info("in the run")
            with log_context(row=12):
                log.warning("about one row")
            log.info("its own event", extra={"event": "conflict"})
            log.info("a secret event", extra={"event": f"x{key}"})
        log.info("after")
    finally:
        configure()
    err = capsys.readouterr().err
    assert key not in err
    if fmt == "json":
        about = {e["message"]: {k: e[k] for k in ("job", "row", "event") if k in e} for e in _json_lines(err)}
        assert about["outside"] == {}
        assert about["after"] == {}
        assert about["in the run"] == {"job": 7, "event": "run"}
        assert about["about one row"] == {"job": 7, "row": 12, "event": "run"}
        assert about["its own event"] == {"job": 7, "event": "conflict"}
        assert about["a secret event"] == {"job": 7, "event": "x********"}
    else:
        lines = err.splitlines()
        assert any(line.endswith("batchqueue.test: outside") for line in lines)
        assert any(line.endswith("batchqueue.test: in the run [job=7 event=run]") for line in lines)
        assert any(line.endswith("about one row [job=7 row=12 event=run]") for line in lines)
        assert any(line.endswith("its own event [job=7 event=conflict]") for line in lines)


def test_a_log_context_refuses_a_field_no_line_shows() -> None:
    with pytest.raises(ValueError, match="jobb"), log_context(jobb=1):
        pass


def test_every_module_logs_under_its_own_name() -> None:
    """``logging.getLogger(__name__)``: a hand-typed name drifts from the module it names."""
    package = Path(__file__).resolve().parents[2] / "batchqueue"
    typed = [
        f"{path.relative_to(package.parent)}:{n}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "logs.py"  # which sets the level of the package's loggers, by the package's name
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"getLogger\(\s*[\"']batchqueue", line)
    ]
    assert typed == []


def test_the_scrubber_removes_what_it_must() -> None:
    from batchqueue.logs import register_secret

    register_secret("hunter2-key")
    assert "hunter2" not in scrub("failed with key hunter2-key in it")
    assert scrub("POST /cb/12/abcdef0123456789abcdef0123456789 200") == "POST /cb/12/******** 200"
    assert "dXNlcjpwYXNz" not in scrub("Authorization: Basic dXNlcjpwYXNz")


# --- the scrubbing itself: every way a secret can reach a record, and every place it comes from -----


def _secret() -> str:
    """A fresh key per test: the registry of secrets lives as long as the process."""
    return f"key-{uuid.uuid4().hex}"


def _logged_everything(key: str) -> None:
    log = logging.getLogger("batchqueue.test")
    log.info("%s", key)
    log.info("with %r in it", key)
    log.info("%(key)s by name", {"key": key})
    log.info(f"an f-string: {key}")
    log.info("an object: %s", Secretive(key))
    logging.getLogger("urllib3.connectionpool").warning("a library says %s", key)
    try:
        raise ValueError(f"the key {key} was refused")
    except ValueError:
        log.exception("failed")
    try:
        try:
            raise KeyError(key)
        except KeyError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError:
        log.error("chained", exc_info=True)
    log.info("stack", stack_info=True)


class Secretive:
    def __init__(self, key: str) -> None:
        self.key = key

    def __str__(self) -> str:
        return f"Secretive({self.key})"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_arguments_exceptions_and_tracebacks_are_scrubbed(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    key = _secret()
    configure("debug", fmt)
    try:
        register_secret(key)
        _logged_everything(key)
    finally:
        configure()
    err = capsys.readouterr().err
    assert key not in err
    assert err.count("********") >= 8, err  # every record is there, with the key masked
    assert "the key ******** was refused" in err
    assert "KeyError" in err
    assert "a library says ********" in err
    if fmt == "json":
        lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert any("exception" in line and "ValueError" in line["exception"] for line in lines)


def test_a_secret_inside_a_longer_secret_does_not_uncover_the_rest(capsys: pytest.CaptureFixture[str]) -> None:
    """Secrets that begin alike (a key and its rotated successor): whichever order the registry
    keeps them in, masking one must not leave the rest of a longer one behind."""
    longest = _secret() + "-LONGERTAIL"
    configure("info")
    try:
        for end in range(12, len(longest) + 1):
            register_secret(longest[:end])
        logging.getLogger("batchqueue.test").info("%s", longest)
    finally:
        configure()
    err = capsys.readouterr().err
    assert "LONGERTAIL" not in err
    assert "TAIL" not in err
    assert scrub(longest) == "********"


def _key_from(source: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Point the environment (or a profile) at a key; the arguments that choose it."""
    if source == "environment":
        monkeypatch.setenv("BATCHQUEUE_API_KEY", key)
        return []
    config = tmp_path / "batchqueue.toml"
    if source == "profile variable":
        monkeypatch.setenv("BATCHQUEUE_P_KEY", key)
        config.write_text('[profiles.p]\nuser = "u@example.org"\napi_key_env = "BATCHQUEUE_P_KEY"\n')
    else:
        key_file = tmp_path / "p.key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        config.write_text(f'[profiles.p]\nuser = "u@example.org"\napi_key_file = "{key_file}"\n')
    return ["--profile", "p"]


SOURCES = ["environment", "profile variable", "profile file"]


@pytest.mark.parametrize("source", SOURCES)
def test_a_key_is_scrubbed_from_the_moment_it_is_read_wherever_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    from batchqueue.settings import Settings

    key = _secret()
    monkeypatch.setenv("BATCHQUEUE_USER", "u@example.org")
    chosen = _key_from(source, key, tmp_path, monkeypatch)
    settings = Settings.from_env(profile=chosen[1] if chosen else None)
    assert settings.api_key.reveal() == key
    configure("info", "json")
    try:
        logging.getLogger("batchqueue.test").info("read %s", settings.api_key.reveal())
    finally:
        configure()
    assert key not in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("source", SOURCES)
def test_a_server_that_repeats_the_key_never_puts_it_on_screen_in_a_log_or_in_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, fmt: str
) -> None:
    """The reply's error text is shown (stopped: …), logged and kept with the row: a server that
    says the key back (a proxy, a debugging endpoint) must not make any of them carry it."""
    db = tmp_path / "l.db"
    key = _secret()
    with KeyTrap() as trap:
        monkeypatch.setenv("BATCHQUEUE_USER", "u@example.org")
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", trap.url)
        chosen = _key_from(source, key, tmp_path, monkeypatch)
        if chosen:
            config = tmp_path / "batchqueue.toml"
            config.write_text(config.read_text().replace("[profiles.p]\n", f'[profiles.p]\nbase_url = "{trap.url}"\n'))
        env = {**os.environ}
        subprocess.run(
            [sys.executable, "-m", "batchqueue", "import", str(contacts(tmp_path / "c.csv", 3)), "--survey", "4242",
             "--instance", "1", "--db", str(db)], capture_output=True, text=True, env=env, check=True, cwd=tmp_path,
        )  # fmt: skip
        outputs = []
        for extra in ([], ["--json"]):
            done = subprocess.run(
                [sys.executable, "-m", "batchqueue", "--log-level", "debug", "--log-format", fmt, "run", "1",
                 "--db", str(db), *chosen, *extra], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
            )  # fmt: skip
            assert done.returncode == 3, done.stderr
            outputs += [done.stdout, done.stderr]
        assert trap.passwords
        assert set(trap.passwords) == {key}
    everything = "".join(outputs)
    assert "Insight answered HTTP 401: the key ******** is not valid" in everything
    assert key not in everything
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("l.db*"))
    assert key.encode() not in stored


@pytest.mark.parametrize("source", SOURCES)
def test_an_error_shown_to_the_user_never_carries_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    """main() prints one line for any error, and the traceback only when asked (BATCHQUEUE_DEBUG);
    the command here stands for any bug that would put the key in an exception."""
    import click

    from batchqueue.cli import cli, main
    from batchqueue.errors import UsageError
    from batchqueue.settings import Settings

    key = _secret()
    chosen = _key_from(source, key, tmp_path, monkeypatch)

    @click.command("leaky")
    @click.argument("how")
    def leaky(how: str) -> None:
        settings = Settings.from_env(profile=chosen[1] if chosen else None)
        if how == "usage":
            raise UsageError(f"refused {settings.api_key.reveal()}")
        raise RuntimeError(f"bug near {settings.api_key.reveal()}")

    monkeypatch.setitem(cli.commands, "leaky", leaky)
    for how, debug, shown in [
        ("usage", "", "error: refused ********"),
        ("bug", "", "internal error (RuntimeError: bug near ********)"),
        ("bug", "1", "RuntimeError: bug near ********"),
    ]:
        monkeypatch.setenv("BATCHQUEUE_DEBUG", debug)
        with pytest.raises(SystemExit) as ended:
            main(["leaky", how])
        err = capsys.readouterr().err
        assert ended.value.code == (2 if how == "usage" else 70), err
        assert shown in err
        assert key not in err
