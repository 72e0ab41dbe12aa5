"""A waitress server (production-grade, threaded WSGI), run in the foreground or in a thread.

waitress alone closes only *idle* connections, so a client that opens a thousand connections, or
sends a header one byte a minute, can keep real callbacks out. :class:`GuardedServer` adds:

- a request deadline: a connection must deliver a whole request within ``request_timeout``
  seconds of opening (or of its previous reply), else it is closed;
- a per-client limit: a client over ``per_client`` connections has its oldest waiting ones
  closed to make room, so a flood from one address never locks anyone out, itself included;
- a high-water mark: near ``connection_limit`` the oldest waiting connections are closed;
- small header and body limits (waitress itself answers 413 above them, before reading a body);
  ``Limits.body_limit`` lowers the body limit per request, decided on its request line and headers
  before any byte of its body is read (waitress reads, and spools to disk, a whole body before it
  calls the application: a check inside the application would come too late);
- a trusted proxy (``trusted_proxy``): only a connection from that address may say, in
  ``X-Forwarded-For`` (read from the right), which client it forwards; the application then sees
  that client as ``REMOTE_ADDR``. Without it the header is removed before the application sees it.
"""

from __future__ import annotations

import copy
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from batchqueue.errors import UsageError

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: The largest body a request may send, given its method, its path (as ``PATH_INFO``) and its
#: headers (as waitress holds them: ``CONTENT_TYPE``, ``COOKIE``…). Called before its body is read.
BodyLimit = Callable[[str, str, Mapping[str, str]], int]


@dataclass(frozen=True)
class Limits:
    """What one connection and one client may hold of the server."""

    #: The largest body any request may send.
    max_body: int = 64 * 1024
    max_header: int = 16 * 1024
    request_timeout: float = 15.0
    per_client: int = 64
    connection_limit: int = 1000
    #: A smaller limit for a request, decided on its headers (never above ``max_body``).
    body_limit: BodyLimit | None = None


class _Parser(HTTPRequestParser):
    """waitress's parser, with the body limit of each request decided once its headers are in."""

    body_limit: BodyLimit | None = None
    #: One copy of the server's adjustments per lowered limit (waitress reads the limit from them).
    _lowered: dict[int, Adjustments] = {}  # noqa: RUF012  # set per server class by _guarded

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.body_limit is None:
            return
        # waitress compares the Content-Length (and, for a chunked body, the bytes received so far)
        # with the adjustments' limit right after this returns: a lower one refuses it before its body.
        command: Any = self.command  # the stubs say bytes; waitress 3 has decoded it (latin-1)
        method = command.decode("latin-1") if isinstance(command, bytes) else str(command)
        try:
            limit = self.body_limit(method, getattr(self, "path", ""), self.headers)
        except Exception:  # a bug in the check: no body at all rather than any body
            log.exception("the body limit of a %s request could not be decided; refusing its body", method)
            limit = 0
        if limit < self.adj.max_request_body_size:
            lowered = self._lowered.get(limit)
            if lowered is None:
                lowered = copy.copy(self.adj)
                lowered.max_request_body_size = limit
                self._lowered[limit] = lowered
            self.adj = lowered

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if self.error is not None:
            self.expect_continue = False  # never invite the body of a refused request
        return consumed


class _Channel(HTTPChannel):
    """Remembers since when it has been waiting for a complete request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting_since = time.monotonic()

    def service(self) -> None:
        super().service()
        self.waiting_since = time.monotonic()

    @property
    def waiting(self) -> bool:
        """Not serving a request: idle, or still receiving one."""
        return not self.requests and not self.total_outbufs_len


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server with the guards described in the module docstring."""

    channel_class = _Channel
    limits = Limits()

    def _channels(self) -> dict[int, Any]:
        channels: dict[int, Any] = self.active_channels  # type: ignore[assignment]  # the stubs say HTTPChannel
        return channels

    def _waiting(self, client: str | None = None) -> list[_Channel]:
        channels = [
            c
            for c in list(self._channels().values())
            if isinstance(c, _Channel) and c.waiting and not c.will_close and (client is None or c.addr[0] == client)
        ]
        return sorted(channels, key=lambda c: c.waiting_since)

    def handle_accept(self) -> None:
        before = set(self._channels())
        super().handle_accept()
        for fileno in set(self._channels()) - before:
            channel = self._channels()[fileno]
            client = channel.addr[0] if isinstance(channel.addr, tuple) else None
            if client is None:
                continue
            crowd = self._waiting(client)
            excess = len(crowd) - self.limits.per_client
            for old in crowd[: max(0, excess)]:
                if old is not channel:
                    old.handle_close()

    def maintenance(self, now: Any) -> None:
        super().maintenance(now)
        cutoff = time.monotonic() - self.limits.request_timeout
        waiting = self._waiting()
        for channel in waiting:
            if channel.waiting_since < cutoff:
                channel.will_close = True
        high_water = int(self.limits.connection_limit * 0.9)
        excess = len(self._channels()) - high_water
        for channel in waiting[: max(0, excess)]:
            channel.will_close = True


def _check_free(host: str, port: int) -> None:
    """Refuse an unusable address before waitress tries it (waitress leaks its sockets when bind fails)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
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
        self,
        app: WsgiApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 16,
        quiet: bool = False,
        limits: Limits | None = None,
        trusted_proxy: str | None = None,
    ) -> None:
        if quiet:
            logging.getLogger("waitress").setLevel(logging.CRITICAL)
        limits = limits or Limits()
        _check_free(host, port)
        # X-Forwarded-For, read from the right, believed only from the trusted proxy's own address;
        # waitress removes it (and the other X-Forwarded-* headers) from every other request.
        proxy: dict[str, Any] = {"clear_untrusted_proxy_headers": True}
        if trusted_proxy:
            proxy |= {
                "trusted_proxy": trusted_proxy,
                "trusted_proxy_count": 1,
                "trusted_proxy_headers": {"x-forwarded-for"},
            }
        try:
            adj = Adjustments(
                host=host,
                port=port,
                threads=threads,
                channel_timeout=120,
                cleanup_interval=1,
                asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
                connection_limit=limits.connection_limit,
                max_request_body_size=limits.max_body,
                max_request_header_size=limits.max_header,
                expose_tracebacks=False,
                ident="batchqueue",
                **proxy,
            )
            dispatcher = ThreadedTaskDispatcher()
            dispatcher.set_thread_count(threads)
            # One listening socket, on the first address the host resolves to (as _check_free bound).
            sockinfo: Any = adj.listen[0]
            server: Any = _guarded(limits)(app, {}, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
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


def _guarded(limits: Limits) -> type[GuardedServer]:
    body_limit = staticmethod(limits.body_limit) if limits.body_limit is not None else None
    parser = type("_Parser", (_Parser,), {"body_limit": body_limit, "_lowered": {}})
    channel = type("_Channel", (_Channel,), {"parser_class": parser})
    return type("GuardedServer", (GuardedServer,), {"limits": limits, "channel_class": channel})
