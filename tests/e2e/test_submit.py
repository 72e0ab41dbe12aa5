"""`batchqueue run` against the sandbox: each reply class of the design, stops, retry, cancel."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from batchqueue.insight.pacing import RAMP_SECONDS, Pacer
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows, point_at, run_process, sandbox_env, sandbox_phones, wait_until

Run = Callable[..., CliResult]
FAST = ["--rate", "0", "--concurrency", "8", "--retries", "2", "--json"]


def _sandbox(**faults: float | int | None) -> Sandbox:
    return Sandbox(SandboxConfig(faults=Faults(**faults))).start()  # type: ignore[arg-type]


@pytest.fixture
def job(tmp_path: Path, run_cli: Run) -> Path:
    """A 30-row job (id 1) in ./batchqueue.db."""
    assert run_cli("import", contacts(tmp_path / "c.csv", 30), "--survey", "4242", "--instance", "1").code == 0
    return tmp_path / "batchqueue.db"


def test_a_clean_run_queues_every_row_once(job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _sandbox()
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST)
        calls = sb.app.store.dump()
    finally:
        sb.stop()
    assert result.code == 0, result.err
    summary = result.json()
    assert {"job_id", "queued", "failed", "uncertain", "pending", "exit_reason"} <= set(summary)
    assert (summary["queued"], summary["failed"], summary["uncertain"], summary["pending"]) == (30, 0, 0, 0)
    assert summary["exit_reason"] == "done"
    rows = ledger_rows(job)
    by_phone = {c["phone_number"]: c for c in calls}
    assert len(calls) == 30
    assert len(by_phone) == 30
    for row in rows:
        call = by_phone[row["phone_number"]]
        assert row["call_id"] == str(call["call_id"])
        assert call["metadata"] == {"name": json.loads(row["cells"])[1], "account": json.loads(row["cells"])[2]}
    # the attempts log: one finished attempt per row
    import sqlite3

    with sqlite3.connect(job) as conn:
        assert conn.execute(
            "SELECT count(*), count(DISTINCT row_id) FROM attempts WHERE outcome = 'queued'"
        ).fetchone() == (30, 30)
        assert conn.execute("SELECT count(*) FROM attempts WHERE outcome IS NULL").fetchone()[0] == 0
    again = run_cli("run", "1", *FAST).json()
    assert again["sent"] == 0  # nothing pending: nothing is sent twice
    for path in job.parent.glob("batchqueue.db*"):
        assert b"sandbox-key" not in path.read_bytes(), f"the API key reached {path.name}"
    assert "sandbox-key" not in result.out + result.err


def test_400_fails_rows_with_the_api_error_and_goes_on(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox(p_400=1.0)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST)
        assert sb.app.store.dump() == []
    finally:
        sb.stop()
    assert result.code == 1
    assert (result.json()["failed"], result.json()["exit_reason"]) == (30, "done")
    assert {r["error"] for r in ledger_rows(job)} == {"sandbox fault: data refused"}
    assert {r["http_status"] for r in ledger_rows(job)} == {400}


@pytest.mark.parametrize(
    ("faults", "recorded"),
    [
        ({"p_500_before": 1.0}, False),
        ({"p_500_after": 1.0}, True),
        ({"p_drop_after": 1.0}, True),
        ({"p_drop_before": 1.0}, False),
    ],
)
def test_ambiguous_replies_hold_rows_as_uncertain(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, faults: dict[str, float], recorded: bool
) -> None:
    sb = _sandbox(**faults)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST, "--breaker", "1000")
        n_calls = len(sb.app.store.dump())
    finally:
        sb.stop()
    assert result.code == 1
    assert result.json()["uncertain"] == 30
    assert n_calls == (30 if recorded else 0)  # the client cannot tell these apart: hence 'uncertain'
    assert {r["state"] for r in ledger_rows(job)} == {"uncertain"}


def test_a_read_timeout_is_uncertain(job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _sandbox(p_timeout_after=1.0, slow_reply=1.0)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST, "--read-timeout", "0.2", "--breaker", "1000")
    finally:
        sb.stop()
    assert result.json()["uncertain"] == 30
    assert "read timeout" in ledger_rows(job)[0]["error"]


def test_circuit_breaker_stops_a_run_of_ambiguous_replies(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox(p_500_after=1.0)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", "--rate", "0", "--concurrency", "1", "--breaker", "3", "--json")
    finally:
        sb.stop()
    assert result.code == 4
    summary = result.json()
    assert (summary["exit_reason"], summary["uncertain"], summary["pending"]) == ("circuit_breaker", 3, 27)


def test_unreachable_api_retries_then_stops_with_rows_pending(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("BATCHQUEUE_BASE_URL", f"http://127.0.0.1:{port}/api")
    monkeypatch.setenv("BATCHQUEUE_USER", "u")
    monkeypatch.setenv("BATCHQUEUE_API_KEY", "k")
    result = run_cli("run", "1", "--rate", "0", "--concurrency", "1", "--retries", "3", "--json")
    assert result.code == 4
    summary = result.json()
    assert (summary["exit_reason"], summary["pending"], summary["queued"]) == ("unreachable", 30, 0)
    import sqlite3

    with sqlite3.connect(job) as conn:
        assert conn.execute("SELECT count(*) FROM attempts WHERE outcome = 'not_sent'").fetchone()[0] == 3


@pytest.mark.parametrize(
    ("setup", "status"), [("wrong-key", 401), ("unknown-survey", 404), ("old-instance", 409), ("cap", 409)]
)
def test_batch_fatal_replies_stop_at_once_and_the_row_stays_pending(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, setup: str, status: int
) -> None:
    survey, instance = {"unknown-survey": ("999", "1"), "old-instance": ("4242", "0")}.get(setup, ("4242", "1"))
    run_cli("import", contacts(tmp_path / "c.csv", 30), "--survey", survey, "--instance", instance)
    sb = _sandbox(cap_after=5 if setup == "cap" else None)
    try:
        point_at(monkeypatch, sb, key="wrong" if setup == "wrong-key" else None)
        result = run_cli("run", "1", "--rate", "0", "--concurrency", "1")
    finally:
        sb.stop()
    assert result.code == 3
    assert f"HTTP {status}" in result.err
    assert "run `batchqueue run 1` again" in result.err
    if status in (404, 409):  # the URL used is named: a base URL without /api looks like a wrong survey
        assert f"the URL was {sb.api_url}/surveys/{survey}/{instance}/queue" in result.err
    states = [r["state"] for r in ledger_rows(tmp_path / "batchqueue.db")]
    assert states.count("queued") == (5 if setup == "cap" else 0)
    assert states.count("pending") == 30 - states.count("queued")


def test_a_key_revoked_mid_run_resumes_once_fixed(job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _sandbox(revoke_after=11)
    try:
        point_at(monkeypatch, sb)
        first = run_cli("run", "1", "--rate", "0", "--concurrency", "1", "--json")
        assert first.code == 3
        assert (first.json()["queued"], first.json()["pending"]) == (10, 20)
        requests.post(sb.url + "/_sandbox/faults", json={"revoke_after": None}, timeout=5)
        second = run_cli("run", "1", "--rate", "0", "--concurrency", "4", "--json")
        phones = sandbox_phones(sb)
    finally:
        sb.stop()
    assert second.code == 0
    assert second.json()["queued"] == 30
    assert len(phones) == 30
    assert max(phones.values()) == 1


def test_429_is_retried_after_its_wait_and_slows_the_pace(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox(p_429=0.3, retry_after=0.05, seed=3)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", "--rate", "0", "--concurrency", "4", "--retries", "10", "--json")
        phones = sandbox_phones(sb)
    finally:
        sb.stop()
    assert result.code == 0, result.err
    assert result.json()["queued"] == 30
    assert max(phones.values()) == 1
    import sqlite3

    with sqlite3.connect(job) as conn:
        limited = conn.execute("SELECT count(*) FROM attempts WHERE outcome = 'rate_limited'").fetchone()[0]
        per_row = conn.execute("SELECT max(attempts) FROM rows").fetchone()[0]
    assert limited > 0
    assert per_row > 1


def test_pacer_spreads_requests_slows_down_and_recovers() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer(10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.acquire()
    assert slept == pytest.approx([0.1] * 4)
    assert pacer.slow_down(0.5)
    assert pacer.rate == 5.0
    assert not pacer.slow_down(0.5)  # within the cooldown: the same burst
    assert pacer.rate == 5.0
    now[0] += 2.0
    assert pacer.slow_down(0.5)
    assert pacer.rate == 2.5
    now[0] += 2.0
    assert pacer.slow_down(0.5)
    assert pacer.rate == 1.25
    now[0] += 2.0
    assert pacer.slow_down(0.5)
    assert pacer.rate == 1.0  # never below a tenth of the configured rate
    assert pacer.slowed_by() == "429"
    # Recovery is by time: the whole way back in RAMP_SECONDS of clean replies, however few.
    for _ in range(5):
        now[0] += RAMP_SECONDS / 10
        pacer.recovered()
    assert pacer.rate == pytest.approx(1.0 + 0.5 * 9.0)
    for _ in range(5):
        now[0] += RAMP_SECONDS / 10
        pacer.recovered()
    assert pacer.rate == 10.0
    assert pacer.slowed_by() is None  # back at the configured rate
    pacer.pause(3.0)
    slept.clear()
    pacer.acquire()
    assert slept[0] >= 3.0


def test_resend_mode_resends_ambiguous_rows(job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _sandbox(p_500_after=0.5, seed=5)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST, "--on-ambiguous", "resend", "--breaker", "1000")
        phones = sandbox_phones(sb)
    finally:
        sb.stop()
    rows = ledger_rows(job)
    assert result.json()["pending"] == 0
    assert max(r["attempts"] for r in rows) > 1
    assert max(phones.values()) > 1  # at-least-once: the opt-in's price, visible in the record


def test_retry_puts_failed_rows_back_and_guards_uncertain(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox(p_400=0.5, p_500_after=0.3, seed=11)
    try:
        point_at(monkeypatch, sb)
        run_cli("run", "1", *FAST, "--breaker", "1000")
        before = run_cli("status", "1", "--json").json()["counts"]
        assert before["failed"] > 0
        assert before["uncertain"] > 0
        assert run_cli("retry", "1", "--status-code", "500", "--json").json()["retried"] == 0
        refused = run_cli("retry", "1", "--uncertain")
        assert refused.code == 2
        assert "--confirm-may-call-twice" in refused.err
        done = run_cli("retry", "1", "--error-contains", "data refused", "--json").json()
        assert done["retried"] == before["failed"]
        assert done["counts"]["pending"] == before["failed"]
        both = run_cli("retry", "1", "--uncertain", "--confirm-may-call-twice", "--json").json()
        assert both["counts"]["uncertain"] == 0
    finally:
        sb.stop()


def test_cancel_marks_pending_rows_and_remote_needs_confirmation(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox()
    try:
        point_at(monkeypatch, sb)
        refused = run_cli("cancel", "1", "--remote")
        assert refused.code == 2
        assert "ALL pending calls" in refused.err
        done = run_cli("cancel", "1", "--remote", "--yes", "--json").json()
    finally:
        sb.stop()
    assert (done["canceled"], done["remote_status"], done["counts"]["canceled"]) == (30, 202, 30)
    assert run_cli("run", "1", *FAST).json()["sent"] == 0


@pytest.mark.parametrize("reached_by", ["the same path", "a symlink", "dot-dot segments"])
def test_a_second_run_on_the_same_ledger_is_refused(job: Path, reached_by: str) -> None:
    other_name = job
    if reached_by != "the same path":
        (job.parent / "elsewhere").mkdir()
        other_name = job.parent / "elsewhere" / "alias.db"
        if reached_by == "a symlink":
            other_name.symlink_to(job)
        else:
            other_name = job.parent / "elsewhere" / ".." / job.name
    sb = _sandbox(latency=0.05)
    try:
        # about 15 s: still sending while the second starts, on a loaded machine too
        first = run_process(job, sandbox_env(sb), "--rate", "2")
        wait_until(lambda: len(sb.app.store.dump()) >= 1, first)
        second = run_process(other_name, sandbox_env(sb), "--rate", "5")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2
        assert "another `batchqueue run` is sending job 1 of this ledger" in err
        status = subprocess.run(
            [sys.executable, "-m", "batchqueue", "status", "1", "--db", str(job), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        workers = json.loads(status.stdout)["workers"]
        assert [w["pid"] for w in workers] == [first.pid]  # the live worker, as status shows it
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    finally:
        sb.stop()


def test_a_ledger_given_a_second_name_while_it_is_sent_is_refused_by_that_name_and_keeps_what_was_sent(
    job: Path, run_cli: Run
) -> None:
    """SQLite keeps the write-ahead log beside the name a ledger is opened by: a hard link in another
    folder had its own, an import by that name went into it unseen by the run, and once the link was
    opened again its log was written over the run's: every queued row pending again, to be called twice."""
    other = contacts(job.parent / "other.csv", 5, first=500)
    sb = _sandbox(latency=0.05)
    try:
        first = run_process(job, sandbox_env(sb), "--rate", "4")  # about 8 s
        wait_until(lambda: len(sb.app.store.dump()) >= 1, first)
        (job.parent / "elsewhere").mkdir()
        alias = job.parent / "elsewhere" / "alias.db"
        os.link(job, alias)  # another name of the very same file
        for name in (alias, job):
            refused = run_cli("import", other, "--survey", "4242", "--instance", "1", "--db", name)
            assert refused.code == 2, refused.out
            assert "has 2 names (hard links)" in refused.err
            assert run_cli("status", "1", "--db", name).code == 2
        alias.unlink()
        first.communicate(timeout=60)
        assert first.returncode == 0
        calls = sb.app.store.dump()
    finally:
        sb.stop()
    assert not (job.parent / "elsewhere" / "alias.db-wal").exists()
    assert len(calls) == 30
    assert {r["state"] for r in ledger_rows(job)} == {"queued"}
    assert run_cli("status", "--db", job, "--json").json()["jobs"][0]["counts"]["queued"] == 30


def test_a_ledger_file_bind_mounted_under_another_name_is_refused_by_either_name(job: Path, run_cli: Run) -> None:
    """A bind mount of the file itself (``docker -v /srv/l.db:/app/l.db``) is a second name the link
    count does not show; a mount of its folder is not (the log beside either name is one file)."""
    (job.parent / "elsewhere").mkdir()
    alias = job.parent / "elsewhere" / "alias.db"
    alias.touch()
    mounted = subprocess.run(["mount", "--bind", str(job), str(alias)], capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"no bind mount here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        for name, said in ((alias, "is a bind mount of a file"), (job, f"is also reached as {alias}")):
            refused = run_cli("status", "1", "--db", name)
            assert refused.code == 2, refused.out
            assert said in refused.err
    finally:
        subprocess.run(["umount", str(alias)], check=True)
    assert run_cli("status", "1", "--db", job).code == 0


def test_two_jobs_of_one_ledger_are_sent_at_the_same_time(job: Path, run_cli: Run) -> None:
    other = contacts(job.parent / "other.csv", 30, first=500)
    assert run_cli("import", other, "--survey", "4242", "--instance", "1").code == 0
    sb = _sandbox(latency=0.05)
    try:
        env = sandbox_env(sb)
        # about 15 s: long enough for job 2 to run from start to end meanwhile, on a loaded machine too
        first = run_process(job, env, "--rate", "2", "--concurrency", "2")
        wait_until(lambda: len(sb.app.store.dump()) >= 1, first)
        second = subprocess.Popen(
            [sys.executable, "-m", "batchqueue", "run", "2", "--db", str(job), "--rate", "0", "--concurrency", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert first.poll() is None  # job 1 was still being sent while job 2 ran from start to end
        first.communicate(timeout=60)
        assert first.returncode == 0
        calls = sb.app.store.dump()
    finally:
        sb.stop()
    assert len(calls) == 60
    assert len({c["phone_number"] for c in calls}) == 60
    for job_id in (1, 2):
        assert {r["state"] for r in ledger_rows(job, job_id)} == {"queued"}


def test_two_different_ledgers_are_sent_side_by_side(job: Path) -> None:
    """The run lock is on the file itself: a copy is another ledger (another inode) and is not locked out."""
    copy = job.parent / "copy" / job.name
    copy.parent.mkdir()
    shutil.copy(job, copy)
    first_sb, second_sb = _sandbox(latency=0.05), _sandbox(latency=0.05)
    try:
        # about 15 s: long enough for the copy to run from start to end meanwhile, on a loaded machine too
        first = run_process(job, sandbox_env(first_sb), "--rate", "2", "--concurrency", "2")
        wait_until(lambda: len(first_sb.app.store.dump()) >= 1, first)
        second = run_process(copy, sandbox_env(second_sb), "--rate", "0", "--concurrency", "2")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert first.poll() is None  # the original was still being sent while the copy ran to its end
        first.communicate(timeout=60)
        assert first.returncode == 0
    finally:
        first_sb.stop()
        second_sb.stop()
    assert {r["state"] for r in ledger_rows(copy)} == {"queued"}
    assert {r["state"] for r in ledger_rows(job)} == {"queued"}


def test_ctrl_c_finishes_in_flight_rows_and_resumes_cleanly(job: Path) -> None:
    sb = _sandbox(latency=0.02, latency_after=0.1)
    try:
        proc = run_process(job, sandbox_env(sb), "--rate", "0", "--concurrency", "4", "--json")
        wait_until(lambda: len(sb.app.store.dump()) >= 6, proc)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 130
        summary = json.loads(out)
        assert summary["exit_reason"] == "interrupted"
        rows = ledger_rows(job)
        assert all(r["state"] in ("queued", "pending") for r in rows)  # in-flight rows were recorded
        assert 0 < summary["queued"] < 30
        finish = run_process(job, sandbox_env(sb), "--rate", "0", "--json")
        out, _ = finish.communicate(timeout=60)
        assert finish.returncode == 0
        phones = sandbox_phones(sb)
    finally:
        sb.stop()
    assert json.loads(out)["queued"] == 30
    assert len(phones) == 30
    assert max(phones.values()) == 1


def test_a_pacing_failure_is_retried_as_not_sent_and_never_hangs() -> None:
    from batchqueue.insight.pacing import SharedPace
    from batchqueue.insight.replies import Reply, ReplyKind
    from batchqueue.insight.retry import RetryPolicy, send_with_retries

    def broken(n: int) -> float:
        raise RuntimeError("database is down")

    pacer = Pacer(0)
    pacer.shared = SharedPace(broken, 10.0, 1)
    sent: list[str] = []
    tries: list[Reply] = []

    def attempt() -> Reply:
        sent.append("x")
        return Reply(ReplyKind.QUEUED, 200, "1")

    reply = send_with_retries(
        attempt, RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02), pacer, on_attempt=tries.append
    )
    assert reply.kind is ReplyKind.NOT_SENT
    assert sent == []
    assert len(tries) == 3
    assert "pacing failed before sending" in (tries[0].error or "")


@pytest.mark.parametrize(
    "option",
    [
        ["--read-timeout", "nan"],
        ["--rate", "nan"],
        ["--connect-timeout", "inf"],
        ["--rate", "-inf"],
        ["--lease-ttl", "NaN"],
    ],
)
def test_non_finite_numbers_are_refused_before_anything_is_sent(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, option: list[str]
) -> None:
    sb = _sandbox()
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *option)
        calls = sb.app.store.requests
    finally:
        sb.stop()
    assert result.code == 2, result.err
    assert "finite" in result.err or "range" in result.err
    assert calls == 0
    assert {r["state"] for r in ledger_rows(job)} == {"pending"}


@pytest.mark.parametrize("variable", ["BATCHQUEUE_API_KEY", "BATCHQUEUE_USER"])
def test_credentials_http_basic_cannot_carry_are_refused_at_start(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    sb = _sandbox()
    try:
        point_at(monkeypatch, sb)
        monkeypatch.setenv(variable, "clé-ключ-密")
        result = run_cli("run", "1", *FAST)
        calls = sb.app.store.requests
    finally:
        sb.stop()
    assert result.code == 2
    assert variable in result.err
    assert "密" not in result.err + result.out  # the value itself is never echoed
    assert calls == 0
    assert {r["state"] for r in ledger_rows(job)} == {"pending"}


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("http://127.0.0.1:99999/api", "Port out of range"),
        ("ftp://insight.example.com/api", "http:// or https://"),
        ("https://me%40x.com:topsecret@insight.example.com/api", "carries credentials"),
        ("https:///api", "no host"),
    ],
)
def test_a_bad_base_url_is_a_usage_error_that_never_echoes_credentials(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, base_url: str, says: str
) -> None:
    monkeypatch.setenv("BATCHQUEUE_BASE_URL", base_url)
    monkeypatch.setenv("BATCHQUEUE_USER", "u@example.com")
    monkeypatch.setenv("BATCHQUEUE_API_KEY", "k")
    result = run_cli("run", "1")
    assert result.code == 2, result.err
    assert says in result.err
    assert "topsecret" not in result.err
    assert "None" not in result.err


def test_an_upper_case_scheme_is_accepted(job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _sandbox()
    try:
        point_at(monkeypatch, sb)
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", sb.api_url.replace("http://", "HTTP://"))
        result = run_cli("run", "1", *FAST)
    finally:
        sb.stop()
    assert result.code == 0, result.err
    assert result.json()["queued"] == 30


def test_a_pre_send_failure_is_not_sent_and_nothing_reaches_the_server() -> None:
    """A request that cannot even be encoded never used a connection: not sent, never uncertain."""
    from batchqueue.insight.client import InsightClient
    from batchqueue.insight.replies import ReplyKind
    from batchqueue.settings import Secret

    with Sandbox() as sb:
        client = InsightClient(sb.api_url, sb.config.user, Secret(sb.config.key))
        reply = client.queue_call("4242", "1", [("phone_number", "tel:+16175550101"), ("metadata[x]", "\ud800")])
        assert reply.kind is ReplyKind.NOT_SENT, reply
        assert sb.app.store.requests == 0
        assert client.queue_call("4242", "1", [("phone_number", "tel:+16175550101")]).kind is ReplyKind.QUEUED


def _cancel_on_a_terminal(db: Path, answer: str) -> tuple[int, str]:
    """``batchqueue cancel 1`` with a terminal for its input, answering ``answer``."""
    controller, terminal = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batchqueue", "cancel", "1", "--db", str(db)],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(controller, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(controller)
        os.close(terminal)
    return proc.returncode, out + err


def test_cancel_asks_on_a_terminal_and_uncancel_puts_rows_back(job: Path, run_cli: Run) -> None:
    code, said = _cancel_on_a_terminal(job, "n")
    assert code == 2
    assert "Cancel the 30 pending row(s) of job 1?" in said
    assert run_cli("status", "1", "--json").json()["counts"]["pending"] == 30
    code, said = _cancel_on_a_terminal(job, "y")
    assert code == 0, said
    assert run_cli("status", "1", "--json").json()["counts"]["canceled"] == 30
    back = run_cli("uncancel", "1", "--json").json()
    assert back["uncanceled"] == 30
    assert back["counts"]["pending"] == 30
    # Without a terminal (a script) it does not ask; --yes says so explicitly.
    assert run_cli("cancel", "1", "--yes").code == 0
    assert run_cli("status", "1", "--json").json()["counts"]["canceled"] == 30
