"""``batchqueue console``: the console and the callback endpoint on one waitress server.

Paths under ``/cb/`` go to the callback receiver (its per-row token check, no login), everything
else to the console. The ledger is opened once and shared; runs started from the console are
supervised child processes that outlive it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchqueue.callbacks.app import CallbackApp
from batchqueue.callbacks.spool import spool_folder_for
from batchqueue.console.app import DEFAULT_MAX_UPLOAD, ConsoleContext, create_app
from batchqueue.http_serving import HttpServer, Limits
from batchqueue.ledger import open_ledger
from batchqueue.service.supervised import Supervisor
from batchqueue.settings import Settings

log = logging.getLogger("batchqueue.console")

CALLBACK_PREFIX = "/cb/"


@dataclass(frozen=True)
class ConsoleRequest:
    """Where the console listens and keeps its files."""

    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 16
    #: Uploads and the supervised runs' logs (default: beside an SQLite ledger, else ./batchqueue-console).
    folder: Path | None = None
    #: The console's address as Insight reaches it (callbacks), and as browsers do (https: Secure cookies).
    public_url: str | None = None
    max_upload: int = DEFAULT_MAX_UPLOAD


class Console:
    """The console, bound and ready: ``serve_forever()`` or ``start()``, then ``close()``."""

    def __init__(self, server: HttpServer, ctx: ConsoleContext, callbacks: CallbackApp) -> None:
        self.server, self.ctx, self.callbacks = server, ctx, callbacks
        self.url, self.port = server.url, server.port

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def start(self) -> Console:
        self.server.start()
        return self

    def close(self) -> None:
        self.server.stop()
        self.callbacks.close()
        self.ctx.ledger.close()


def _folder_for(settings: Settings, given: Path | None) -> Path:
    if given is not None:
        return given
    ledger_file = settings.db_url.removeprefix("sqlite:///") if settings.db_url.startswith("sqlite:///") else None
    if ledger_file:
        real = Path(os.path.realpath(ledger_file))
        return real.with_name(real.name + ".console")
    return Path("batchqueue-console").resolve()


def serve_console(settings: Settings, request: ConsoleRequest) -> Console:
    """Bind the console (and the callback receiver beside it) on ``request.host:port``."""
    folder = _folder_for(settings, request.folder)
    (folder / "uploads").mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # uploaded contact lists are personal data
    ledger = open_ledger(settings.db_url, create=True)
    callbacks: CallbackApp | None = None
    try:
        callbacks = CallbackApp(ledger, spool_folder_for(ledger.path))
        public_url = request.public_url.rstrip("/") if request.public_url else None
        ctx = ConsoleContext(
            settings,
            ledger,
            Supervisor(settings, folder / "runs"),
            folder / "uploads",
            public_url=public_url,
            max_upload=request.max_upload,
            secure_cookies=bool(public_url and public_url.startswith("https://")),
        )
        console = create_app(ctx)

        receiver = callbacks

        def dispatch(environ: dict[str, Any], respond: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO", "").startswith(CALLBACK_PREFIX):
                return receiver(environ, respond)
            return console(environ, respond)

        limits = Limits(max_body=request.max_upload + 1024 * 1024, request_timeout=600.0, per_client=64)
        server = HttpServer(dispatch, host=request.host, port=request.port, threads=request.threads, limits=limits)
    except BaseException:
        if callbacks is not None:
            callbacks.close()
        ledger.close()
        raise
    log.info("console on %s (callbacks on %s/cb/<row>/<token>), files in %s", server.url, server.url, folder)
    return Console(server, ctx, callbacks)
