"""Only a logged-in upload may send a large body; every other request is answered 413 before its
body is read (issue 20, item 6). Real sockets against a real console on 127.0.0.1.

The decision is taken on the request line and headers (the server reads and spools a body before
the application sees it): a large Content-Length is answered at once, a chunked body is cut off
after the small limit, and nothing of it is written to the server's disk.
"""

from __future__ import annotations

import os
import select
import socket
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.console_helpers import Running, api_session, raw_exchange

#: Bodies no request but a logged-in upload may send: under the test console's upload limit (2 MB),
#: and far over it.
BIG = (int(2.5 * 1024 * 1024), 50 * 1024 * 1024)
ROUTES = ["/login", "/api/login", "/cb/1/" + "A" * 32, "/jobs/1/cancel", "/api/dnc", "/upload", "/api/uploads", "/x"]


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _cookies(running: Running) -> dict[str, str]:
    """Cookie headers that prove nothing: none, a forged one, a real one whose session has ended."""
    session, token = api_session(running.url)
    real = session.cookies.get("batchqueue_session")
    assert real is not None
    payload, _, signature = real.rpartition(".")
    session.post(running.url + "/api/logout", headers={"X-CSRFToken": token}, timeout=10)
    return {
        "no cookie": "",
        "forged": f"batchqueue_session={payload}.{'A' * len(signature)}",
        "garbage": "batchqueue_session=" + "x" * 3000,
        "logged out": f"batchqueue_session={real}",
    }


def test_a_large_body_without_a_live_session_is_refused_before_it_is_sent(running: Running) -> None:
    for name, cookie in _cookies(running).items():
        for path in ROUTES:
            for size in BIG:
                headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
                if cookie:
                    headers["Cookie"] = cookie
                answer = raw_exchange(running.url, _head("POST", path, headers), wait=5)
                assert answer.startswith(b"HTTP/1.1 413"), (name, path, size, answer[:200])
                # The same, asking first whether to send the body: never invited to.
                headers["Expect"] = "100-continue"
                answer = raw_exchange(running.url, _head("POST", path, headers), wait=5)
                assert answer.startswith(b"HTTP/1.1 413"), (name, path, size, answer[:200])


def test_a_small_body_is_still_read_and_answered(running: Running) -> None:
    form = b"user=ana&password=wrong"
    headers = {"Content-Length": str(len(form)), "Content-Type": "application/x-www-form-urlencoded"}
    answer = raw_exchange(running.url, _head("POST", "/login", headers), form, wait=5)
    assert answer.startswith(b"HTTP/1.1 400")  # read, and refused by the CSRF check: not a 413


def _stream_chunked(url: str, path: str, cookie: str, total: int) -> tuple[bytes, int]:
    """Send a chunked body of up to ``total`` bytes; the server's answer and how much was sent."""
    parts = urlsplit(url)
    headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"}
    if cookie:
        headers["Cookie"] = cookie
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
    sent = 0
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as conn:
        conn.sendall(_head("POST", path, headers))
        try:
            while sent < total:
                if select.select([conn], [], [], 0)[0]:
                    break  # the server has answered
                conn.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while piece := conn.recv(65536):
                answer += piece
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, sent


def _spool_files(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_a_chunked_body_without_a_live_session_is_cut_off_and_never_spooled(
    running: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "server-temp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where the server would spool a large body
    total = 40 * 1024 * 1024
    for name, cookie in _cookies(running).items():
        for path in ("/login", "/api/uploads", "/cb/1/" + "A" * 32):
            answer, sent = _stream_chunked(running.url, path, cookie, total)
            assert answer.startswith(b"HTTP/1.1 413"), (name, path, answer[:200])
            assert sent < total, (name, path)  # answered before the client had finished sending
            assert _spool_files(spool) == []


def test_ten_unauthenticated_bodies_at_once_hold_no_disk(
    running: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "server-temp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    parts = urlsplit(running.url)
    head = _head("POST", "/login", {"Transfer-Encoding": "chunked", "Content-Type": "text/plain"})
    chunk = b"%x\r\n%s\r\n" % (256 * 1024, b"x" * 256 * 1024)
    held = []
    try:
        for _ in range(10):  # each sends 2 MB and keeps its connection open, as the attack did
            conn = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5)
            held.append(conn)
            conn.sendall(head)
            try:
                for _ in range(8):
                    conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass
        time.sleep(0.5)
        assert _spool_files(spool) == []
    finally:
        for conn in held:
            conn.close()


def test_a_logged_in_upload_may_be_large_and_is_read_whole(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    body = b"phone,note\r\n" + b"".join(b"617-555-%04d,%s\r\n" % (i % 10_000, b"n" * 100) for i in range(12_000))
    assert 1024 * 1024 < len(body) < running.console.ctx.max_upload  # larger than any other request may be
    prepared = requests.Request(
        "POST",
        running.url + "/api/uploads",
        files={"file": ("big.csv", body)},
        headers={"X-CSRFToken": token},
        cookies=dict(session.cookies),
    ).prepare()
    assert prepared.body is not None
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "host"}
    parts = urlsplit(running.url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=30) as conn:
        conn.sendall(_head("POST", "/api/uploads", headers))
        assert not select.select([conn], [], [], 0.5)[0]  # the server waits for the body: not refused
        conn.sendall(prepared.body if isinstance(prepared.body, bytes) else prepared.body.encode())
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _spooled_bytes(pid: int, folder: Path) -> int:
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(folder)):
                held += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            continue
    return held


def test_ten_parallel_posts_to_login_hold_neither_disk_nor_memory_in_a_console_process(tmp_path: Path) -> None:
    """The issue's case, in a real `batchqueue console` process: 10 parallel POSTs to /login, each
    announcing (and trying to send) 40 MB, under an upload limit of 50 MB."""
    import subprocess
    import sys
    import threading

    spool = tmp_path / "server-temp"
    spool.mkdir()
    port_file = tmp_path / "port"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHQUEUE_")} | {"TMPDIR": str(spool)}
    console = subprocess.Popen(
        [
            *(sys.executable, "-m", "batchqueue", "console", "--port", "0", "--port-file", str(port_file)),
            *("--db", str(tmp_path / "c.db"), "--max-upload-mb", "50"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        port = int(port_file.read_text())
        rss_before = _status_kb(console.pid, "VmRSS")
        size = 40 * 1024 * 1024
        form = "application/x-www-form-urlencoded"
        head = _head("POST", "/login", {"Content-Length": str(size), "Content-Type": form})
        answers: list[bytes] = []
        sent: list[int] = []

        def attack() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(head)
                done, piece = 0, b"x" * 256 * 1024
                try:
                    while done < size:
                        conn.sendall(piece)
                        done += len(piece)
                except OSError:
                    pass
                sent.append(done)
                answer = b""
                try:
                    while chunk := conn.recv(65536):
                        answer += chunk
                except OSError:
                    pass
                answers.append(answer)

        threads = [threading.Thread(target=attack) for _ in range(10)]
        for t in threads:
            t.start()
        most_spooled, most_rss = 0, rss_before
        while any(t.is_alive() for t in threads):
            most_spooled = max(most_spooled, _spooled_bytes(console.pid, spool))
            most_rss = max(most_rss, _status_kb(console.pid, "VmRSS"))
            time.sleep(0.01)
        for t in threads:
            t.join()
        grown_kb = max(most_rss, _status_kb(console.pid, "VmRSS")) - rss_before
    finally:
        console.terminate()
        console.wait(30)
    assert most_spooled == 0
    assert len(answers) == 10
    assert all(a.startswith(b"HTTP/1.1 413") for a in answers), [a[:40] for a in answers]
    assert max(sent) < size  # every one was cut off before it had sent its body
    assert grown_kb < 20 * 1024, f"the console grew by {grown_kb} kB"
