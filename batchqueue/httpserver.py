"""A waitress server (production-grade, threaded WSGI) run in the foreground or in a thread."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from waitress.server import create_server

from batchqueue.errors import UsageError

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _check_free(host: str, port: int) -> None:
    """Refuse a busy address before waitress tries it (waitress leaks its sockets when bind fails)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class HttpServer:
    """Usage: ``with HttpServer(app, port=0) as s: print(s.url)``; or ``serve_forever()``."""

    def __init__(
        self, app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0, threads: int = 16, quiet: bool = False
    ) -> None:
        if quiet:
            logging.getLogger("waitress").setLevel(logging.CRITICAL)
        _check_free(host, port)
        try:
            server: Any = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                channel_timeout=120,
                connection_limit=1000,
                expose_tracebacks=False,
                ident="batchqueue",
            )
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._server = server
        self.host = host
        self.port: int = server.effective_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (or Ctrl-C)."""
        self._server.run()

    def start(self) -> HttpServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.run, name=f"http-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        # Closing every channel (the listening socket included) empties waitress's map, which ends
        # its loop; shutting the task dispatcher down ends its worker threads.
        for channel in list(self._server._map.values()):
            channel.close()
        self._server.task_dispatcher.shutdown(timeout=1)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
