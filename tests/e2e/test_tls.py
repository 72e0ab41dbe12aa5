"""A real TLS server on 127.0.0.1 with a certificate made at test time (trustme).

A TLS failure during the handshake means Insight never saw the request (safe to retry); a TLS
failure after the request was written (here: the server records the POST, then sends a corrupt
record) may follow a queued call, so the row is held uncertain and never sent again.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import trustme

from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows

Run = Callable[..., CliResult]


@dataclass
class TlsInsight:
    """Answers every queue POST over TLS; ``mode`` "corrupt" records it, then breaks the TLS stream."""

    port: int
    mode: str
    received: list[str] = field(default_factory=list)


def _read_request(conn: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return body


def _serve(listener: socket.socket, context: ssl.SSLContext, server: TlsInsight) -> None:
    while True:
        try:
            raw, _ = listener.accept()
        except OSError:
            return
        try:
            conn = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # the client refused our certificate: it never sent its request
            continue
        try:
            body = _read_request(conn)
            if not body:
                continue
            phone = parse_qs(body.decode())["phone_number"][0]
            server.received.append(phone)
            if server.mode == "corrupt":
                # An application-data record that fails its integrity check, written under TLS.
                os.write(conn.fileno(), b"\x17\x03\x03\x00\x20" + os.urandom(32))
            else:
                reply = b'{"success": true, "call_id": %d}' % (1000 + len(server.received))
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
                )
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()


@pytest.fixture
def tls_ca(tmp_path: Path) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    pem = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return ca, pem


def _start(ca: trustme.CA, mode: str) -> tuple[TlsInsight, socket.socket]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = TlsInsight(listener.getsockname()[1], mode)
    threading.Thread(target=_serve, args=(listener, context, server), daemon=True).start()
    return server, listener


@pytest.fixture
def tls_job(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert run_cli("import", contacts(tmp_path / "c.csv", 3), "--survey", "4242", "--instance", "1").code == 0
    monkeypatch.setenv("BATCHQUEUE_USER", "demo@example.com")
    monkeypatch.setenv("BATCHQUEUE_API_KEY", "sandbox-key")
    return tmp_path / "batchqueue.db"


RUN = ["--rate", "0", "--concurrency", "1", "--retries", "4", "--json"]


def test_a_tls_error_after_the_request_was_written_is_never_retried(
    tls_ca: tuple[trustme.CA, Path], tls_job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, pem = tls_ca
    server, listener = _start(ca, "corrupt")
    try:
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", f"https://127.0.0.1:{server.port}/api")
        result = run_cli("run", "1", *RUN, "--ca-bundle", pem)
    finally:
        listener.close()
    assert len(server.received) == 3, server.received
    assert len(set(server.received)) == 3, "a phone number reached the server twice"
    assert result.json()["uncertain"] == 3
    assert {r["state"] for r in ledger_rows(tls_job)} == {"uncertain"}
    assert all("after sending" in (r["error"] or "") for r in ledger_rows(tls_job))


def test_a_refused_certificate_is_not_sent_and_a_trusted_one_works(
    tls_ca: tuple[trustme.CA, Path], tls_job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, pem = tls_ca
    server, listener = _start(ca, "ok")
    try:
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", f"https://127.0.0.1:{server.port}/api")
        untrusted = run_cli("run", "1", *RUN)
        assert untrusted.code == 4, untrusted.err
        assert server.received == []  # the handshake failed: the request never left
        assert "TLS handshake failed" in untrusted.json()["message"]
        assert {r["state"] for r in ledger_rows(tls_job)} == {"pending"}
        monkeypatch.setenv("BATCHQUEUE_CA_BUNDLE", str(pem))
        trusted = run_cli("run", "1", *RUN)
    finally:
        listener.close()
    assert trusted.code == 0, trusted.err
    assert trusted.json()["queued"] == 3
    assert sorted(server.received) == sorted(r["phone_number"] for r in ledger_rows(tls_job))


def test_a_missing_ca_bundle_is_a_usage_error(tls_job: Path, run_cli: Run) -> None:
    result = run_cli("run", "1", "--ca-bundle", "nowhere.pem")
    assert result.code == 2
    assert "nowhere.pem" in result.err
