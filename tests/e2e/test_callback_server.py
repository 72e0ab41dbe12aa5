"""The callback server under hostile and unlucky conditions: nothing lost, nothing crashed, nothing leaked."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from batchqueue.callbacks.app import CallbackApp
from batchqueue.http_serving import HttpServer
from batchqueue.ledger import Ledger
from tests.sandbox_helpers import ledger_rows_url, queued_job, serve_process, served_port

DETAILS: dict[str, Any] = {"status": "completed", "attempts": "1", "last_attempt_timestamp": "1796133700"}


class Served:
    def __init__(self, ledger: Ledger, folder: Path, **server: Any) -> None:
        self.ledger = ledger
        self.app = CallbackApp(ledger, folder / "spool")
        self.server = HttpServer(self.app, port=0, **server).start()
        self.url = self.server.url

    def close(self) -> None:
        self.server.stop()
        self.app.close()
        self.ledger.engine.dispose()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(queued_job(f"sqlite:///{tmp_path / 'l.db'}", tmp_path, 20), tmp_path, threads=8)
    yield s
    s.close()


def _paths(url: str) -> list[str]:
    return [f"/cb/{r['id']}/{r['token']}" for r in ledger_rows_url(url)]


def _wait(predicate: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_malformed_but_authenticated_callbacks_never_fail_the_legitimate_ones(ledger_url: str, tmp_path: Path) -> None:
    """A lone surrogate, a 10**30 count, a 1e20 timestamp and a NUL byte among 400 concurrent callbacks."""
    served = Served(queued_job(ledger_url, tmp_path, 400), tmp_path, threads=16)
    paths = _paths(ledger_url)
    hostile = {
        0: b'{"status": "completed", "note": "\\ud800 lone"}',
        1: b'{"status": "completed", "attempts": 1000000000000000000000000000000}',
        2: b'{"status": "failed", "last_attempt_timestamp": 1e20}',
        3: b'{"status": "completed", "note": "nul \\u0000 byte"}',
        4: b'{"status": "\\u0007\\u001b[2J"}',
    }
    bodies = [hostile.get(i, json.dumps(DETAILS).encode()) for i in range(len(paths))]

    def send(i: int) -> int:
        return requests.post(
            served.url + paths[i], data=bodies[i], headers={"Content-Type": "application/json"}, timeout=30
        ).status_code

    try:
        with ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(send, range(len(paths))))
    finally:
        served.close()
    assert 503 not in codes
    assert 500 not in codes
    assert codes[5:] == [200] * (len(paths) - 5)  # every legitimate callback was accepted
    assert codes[:4] == [200] * 4  # clamped and stored, not refused
    assert codes[4] == 400  # a status that is not printable text can never be an outcome
    rows = ledger_rows_url(ledger_url)
    assert sum(1 for r in rows if r["outcome_status"]) == len(paths) - 1
    assert rows[1]["outcome_attempts"] is None
    assert rows[2]["outcome_last_attempt_at"] is None
    assert "\x00" not in rows[3]["outcome_payload"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"[" * 50000),
        ("application/json", b'{"status": "' + b"x" * 70 + b'"}'),
        ("application/x-www-form-urlencoded", b"status=completed&" + b"a" + b"[a]" * 5000 + b"=1"),
        ("application/x-www-form-urlencoded", b"&".join(b"k%d=v" % i for i in range(2000)) + b"&status=x"),
        (
            "multipart/form-data; boundary=b0",
            b"".join(
                b"--b%d\r\nContent-Type: multipart/form-data; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(1000)
            ),
        ),
        ("multipart/form-data; boundary=zz", b"--zz\r\n" * 400 + b"--zz--"),
    ],
)
def test_garbage_gets_400_with_a_token_and_404_without_never_500(
    served: Served, caplog: pytest.LogCaptureFixture, content_type: str, body: bytes
) -> None:
    path = _paths(f"sqlite:///{served.ledger.engine.url.database}")[0]
    token = path.rsplit("/", 1)[1]
    row_id = path.split("/")[2]
    with caplog.at_level(logging.DEBUG):
        started = time.monotonic()
        authenticated = requests.post(served.url + path, data=body, headers={"Content-Type": content_type}, timeout=30)
        forged = requests.post(
            served.url + f"/cb/{row_id}/{'f' * 32}", data=body, headers={"Content-Type": content_type}, timeout=30
        )
        elapsed = time.monotonic() - started
    assert authenticated.status_code == 400, authenticated.text
    assert forged.status_code == 404
    assert elapsed < 2.0
    # What the server logged (the test's own HTTP client logs its URLs at DEBUG: not the server's doing).
    server_log = "\n".join(
        r.getMessage() + (r.exc_text or "") for r in caplog.records if r.name.startswith(("batchqueue", "waitress"))
    )
    assert not any(r.exc_info for r in caplog.records if r.name.startswith(("batchqueue", "waitress")))
    assert token not in server_log


def test_attempts_inf_is_clamped_not_a_500(served: Served) -> None:
    path = _paths(f"sqlite:///{served.ledger.engine.url.database}")[0]
    reply = requests.post(served.url + path, data={"status": "completed", "attempts": "inf"}, timeout=10)
    assert reply.status_code == 200
    assert reply.json()["ok"] is True


def test_a_huge_body_is_refused_before_it_is_read(served: Served) -> None:
    path = _paths(f"sqlite:///{served.ledger.engine.url.database}")[0]
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {300 * 1024 * 1024}\r\n\r\n".encode()
            + b"{" * 4096
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_a_thousand_idle_connections_do_not_keep_a_callback_out(served: Served) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    idle = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(0.5)
        path = _paths(f"sqlite:///{served.ledger.engine.url.database}")[0]
        started = time.monotonic()
        reply = requests.post(served.url + path, json=DETAILS, timeout=10)
        assert reply.status_code == 200
        assert time.monotonic() - started < 3.0
    finally:
        for s in idle:
            s.close()


def test_a_slow_header_is_cut_off(tmp_path: Path) -> None:
    from batchqueue.http_serving import Limits

    served = Served(
        queued_job(f"sqlite:///{tmp_path / 'l.db'}", tmp_path, 2), tmp_path, limits=Limits(request_timeout=1)
    )
    host, port = served.url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /cb/1/")
            started = time.monotonic()
            for _ in range(40):
                try:
                    sock.sendall(b"a")
                    data = sock.recv(1, socket.MSG_DONTWAIT)
                    if data == b"":
                        break
                except BlockingIOError:
                    pass
                except OSError:
                    break
                time.sleep(0.25)
            assert time.monotonic() - started < 5.0, "a header sent a byte at a time was never cut off"
    finally:
        served.close()


def test_health_answers_while_the_ledger_is_locked_and_callbacks_are_never_lost(tmp_path: Path) -> None:
    """The ledger's write lock held for 90 s (longer than busy_timeout): every callback is answered
    within a second, and all of them are in the ledger once the lock is released."""
    db = tmp_path / "l.db"
    served = Served(queued_job(f"sqlite:///{db}", tmp_path, 120), tmp_path, threads=16)
    paths = _paths(f"sqlite:///{db}")
    holder = sqlite3.connect(db, timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE jobs SET blank_rows = blank_rows")
    slowest = 0.0
    try:
        started = time.monotonic()
        for n, path in enumerate(paths):
            before = time.monotonic()
            reply = requests.post(served.url + path, json=DETAILS, timeout=10)
            health = requests.get(served.url + "/health", timeout=10)
            slowest = max(slowest, time.monotonic() - before)
            assert reply.status_code == 200
            assert reply.json().get("spooled") is True
            assert health.status_code == 200
            # spread the callbacks over the 90 s the lock is held
            time.sleep(max(0.0, started + 0.7 * (n + 1) - time.monotonic()))
        time.sleep(max(0.0, started + 90 - time.monotonic()))
        assert served.ledger.outcome_counts(1) == {}  # nothing could reach the ledger yet
        assert requests.get(served.url + "/health", timeout=10).json()["backlog"] == len(paths)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    try:
        _wait(lambda: served.ledger.outcome_counts(1).get("completed") == len(paths), seconds=30)
        assert requests.get(served.url + "/health", timeout=10).json()["backlog"] == 0
    finally:
        served.close()
    assert slowest < 1.0, f"a callback took {slowest:.2f}s to be answered"


def test_serve_as_a_process_spools_through_a_kill_9_and_the_next_serve_applies_it(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    queued_job(f"sqlite:///{db}", tmp_path, 30).engine.dispose()
    paths = _paths(f"sqlite:///{db}")
    spool = tmp_path / "spool"
    first = serve_process(db, tmp_path / "p1", spool)
    holder = None
    try:
        base = f"http://127.0.0.1:{served_port(tmp_path / 'p1', first)}"
        assert requests.post(base + paths[0], json=DETAILS, timeout=10).json() == {"ok": True, "recorded": True}
        holder = sqlite3.connect(db, timeout=1, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        for path in paths[1:]:
            assert requests.post(base + path, json=DETAILS, timeout=10).json()["spooled"] is True
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
        if first.poll() is None:
            first.kill()
    done = sum(1 for r in ledger_rows_url(f"sqlite:///{db}") if r["outcome_status"])
    assert done == 1  # the rest were only in the spool when serve died
    second = serve_process(db, tmp_path / "p2", spool)
    try:
        served_port(tmp_path / "p2", second)
        _wait(lambda: sum(1 for r in ledger_rows_url(f"sqlite:///{db}") if r["outcome_status"]) == 30)
    finally:
        second.send_signal(signal.SIGINT)
        _out, err = second.communicate(timeout=10)
    assert "Traceback" not in err
    assert len(os.listdir(spool)) == 1  # the dead serve's spool was applied and removed; only the new one stays
    with sqlite3.connect(db) as conn:
        events = conn.execute("SELECT count(*) FROM outcome_events WHERE verdict = 'recorded'").fetchone()[0]
    assert events == 30  # applied exactly once


#: The documented limit of a callback body (README, "Callbacks": 64 KiB).
DOCUMENTED_LIMIT = 64 * 1024


def _body_of(size: int) -> bytes:
    """A callback body of exactly ``size`` bytes (JSON, padded with a note)."""
    head, tail = b'{"status": "completed", "note": "', b'"}'
    return head + b"n" * (size - len(head) - len(tail)) + tail


def _chunked(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _post_framed(url: str, body: bytes, framing: str) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if framing == "content-length":
        return requests.post(url, data=body, headers=headers, timeout=30)
    chunk = len(body) if framing == "chunked, one chunk" else 8
    return requests.post(url, data=_chunked(body, chunk), headers=headers, timeout=30)


FRAMINGS = ["content-length", "chunked, one chunk", "chunked, 8-byte chunks"]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_body_limit_is_exactly_the_documented_one(tmp_path: Path, framing: str) -> None:
    """Through `batchqueue serve` itself: a body of exactly 64 KiB is taken, one byte more is 413."""
    db = tmp_path / "l.db"
    queued_job(f"sqlite:///{db}", tmp_path, 2).engine.dispose()
    paths = _paths(f"sqlite:///{db}")
    serve = serve_process(db, tmp_path / "port", tmp_path / "spool")
    try:
        base = f"http://127.0.0.1:{served_port(tmp_path / 'port', serve)}"
        at_limit = _post_framed(base + paths[0], _body_of(DOCUMENTED_LIMIT), framing)
        over = _post_framed(base + paths[1], _body_of(DOCUMENTED_LIMIT + 1), framing)
    finally:
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=10)
    assert at_limit.status_code == 200, at_limit.text
    assert over.status_code == 413, over.text
    assert [r["outcome_status"] for r in ledger_rows_url(f"sqlite:///{db}")] == ["completed", None]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_body_limit_is_the_same_on_the_consoles_callback_endpoint(tmp_path: Path, framing: str) -> None:
    """The console serves /cb/ beside its pages: the same 64 KiB, taken exactly, one byte more 413."""
    from tests.console_helpers import start_console, stop_console

    running = start_console(tmp_path)
    try:
        queued_job(running.settings.db_url, tmp_path, 2).engine.dispose()
        paths = _paths(running.settings.db_url)
        at_limit = _post_framed(running.url + paths[0], _body_of(DOCUMENTED_LIMIT), framing)
        over = _post_framed(running.url + paths[1], _body_of(DOCUMENTED_LIMIT + 1), framing)
        assert at_limit.status_code == 200, at_limit.text
        assert over.status_code == 413, over.text
        _wait(lambda: [r["outcome_status"] for r in ledger_rows_url(running.settings.db_url)] == ["completed", None])
    finally:
        stop_console(running)
