"""Serving the sandbox with waitress (a production WSGI server), in the foreground or a thread."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any

from waitress.server import create_server

from batchqueue.sandbox.app import SandboxApp, SandboxConfig


class Sandbox:
    """Usage: ``with Sandbox(SandboxConfig()) as sb: requests.post(sb.api_url + "/surveys/…")``."""

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0, threads: int = 48
    ) -> None:
        self.app = SandboxApp(config or SandboxConfig())
        # Injected connection drops raise inside waitress on purpose; they are not news.
        logging.getLogger("waitress").setLevel(logging.CRITICAL)
        server: Any = create_server(
            self.app,
            host=host,
            port=port,
            threads=threads,
            channel_timeout=120,
            connection_limit=1000,
            expose_tracebacks=False,
        )
        self._server = server
        self.port: int = server.effective_port
        self.url = f"http://{host}:{self.port}"
        self.api_url = self.url + "/api"
        self.app.base_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> SandboxConfig:
        return self.app.config

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (or Ctrl-C)."""
        self._server.run()

    def start(self) -> Sandbox:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.run, name="batchqueue-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for channel in list(self._server._map.values()):
            channel.close()
        self._server.task_dispatcher.shutdown(timeout=1)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
