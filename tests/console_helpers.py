"""A real console on 127.0.0.1 (waitress, the real ledger, supervised `batchqueue run` processes)
against the real sandbox, and a real headless Chromium driving it (Debian's chromium and
chromium-driver: nothing is downloaded at test time)."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from batchqueue.console.server import Console, ConsoleRequest, serve_console
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from batchqueue.service.users import add_user
from batchqueue.settings import Secret, Settings

USER, PASSWORD = "ana", "correct horse battery"
#: Screenshots of every page the browser tests visit (CI keeps them as the tests' output).
SCREENSHOTS = Path(
    os.environ.get("BATCHQUEUE_SCREENSHOTS") or Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
)


@dataclass
class Running:
    console: Console
    sandbox: Sandbox
    settings: Settings

    @property
    def url(self) -> str:
        return self.console.url


def start_console(
    tmp_path: Path, *, latency: float = 0.0, complete_after: float | None = 1.0, **request: Any
) -> Running:
    config = SandboxConfig(faults=Faults(latency=latency), completion=Completion(after=complete_after))
    sandbox = Sandbox(config).start()
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'console.db'}",
        base_url=sandbox.api_url,
        user=config.user,
        api_key=Secret(config.key),
    )
    add_user(settings, USER, PASSWORD)
    given: dict[str, Any] = {"port": 0, "folder": tmp_path / "console", "max_upload": 2 * 1024 * 1024} | request
    console = serve_console(settings, ConsoleRequest(**given))
    console.ctx.public_url = console.url  # the sandbox posts its callbacks to the console
    console.start()
    return Running(console, sandbox, settings)


def stop_console(found: Running) -> None:
    for job_id in list(found.console.ctx.supervisor._runs):
        run = found.console.ctx.supervisor.run_of(job_id)
        if run is not None and run.running:
            run.process.kill()
            run.process.wait()
    found.console.close()
    found.sandbox.stop()


class _FromAddress(HTTPAdapter):
    """Connections from one local address (127.0.0.0/8 is all loopback): another client, really."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_session(source: str | None = None) -> requests.Session:
    """A requests session whose connections come from ``source`` (such as 127.0.0.2)."""
    session = requests.Session()
    session.trust_env = False
    if source is not None:
        session.mount("http://", _FromAddress(source))
    return session


def api_session(
    url: str, user: str = USER, password: str = PASSWORD, *, source: str | None = None
) -> tuple[requests.Session, str]:
    """A logged-in session of the JSON API, and its CSRF token."""
    session = client_session(source)
    token = session.get(url + "/api/session", timeout=10).json()["csrf_token"]  # the login is a POST too
    reply = session.post(
        url + "/api/login", json={"user": user, "password": password}, headers={"X-CSRFToken": token}, timeout=10
    )
    reply.raise_for_status()
    return session, str(reply.json()["csrf_token"])


def chromium_or_skip() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    if os.environ.get("BATCHQUEUE_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium and ChromeDriver (Debian's chromium, chromium-driver) are required here")
    pytest.skip("Chromium or ChromeDriver is not installed")


def raw_exchange(url: str, head: bytes, body: bytes = b"", *, wait: float = 5.0) -> bytes:
    """Send ``head`` (a request line and headers, ending in a blank line) and ``body`` over a plain
    socket; the bytes the server answered within ``wait`` seconds (b"" when it said nothing)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=wait) as conn:
        conn.sendall(head + body)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return answer
