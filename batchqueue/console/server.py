"""``batchqueue console``: the console and the callback endpoint on one waitress server.

Paths under ``/cb/`` go to the callback receiver (its per-row token check, no login), everything
else to the console. The ledger is opened once and shared; runs started from the console are
supervised child processes that outlive it.

The console's files (uploads, run logs, the key its session cookies are signed with) live in a
private folder (0700) it makes: ``<ledger>.console`` beside an SQLite ledger, ``DIR/batchqueue-console``
for ``--folder DIR`` (DIR itself is never changed), else ``./batchqueue-console``.

Request bodies are bounded before they are read (:class:`batchqueue.http_serving.Limits`): an
upload from a live session may send ``max_upload``; a request with a signed session cookie, a
form's worth; a callback, the callback receiver's own limit; anything else, a few kilobytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException

from batchqueue.console.app import DEFAULT_MAX_UPLOAD, ConsoleContext, create_app
from batchqueue.console.auth import SessionCookies, session_is_live
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.logs import register_secret
from batchqueue.service.app import Batchqueue, Settings
from batchqueue.service.console_files import FolderCleaner, private_folder, secret_key
from batchqueue.service.outcomes import (
    CALLBACK_PREFIX,
    CALLBACK_SHOWN,
    BodyLimit,
    CallbackApp,
    HttpServer,
    Limits,
    spool_folder_for,
)
from batchqueue.service.outcomes import MAX_BODY_ON_THE_WIRE as CALLBACK_MAX_BODY_ON_THE_WIRE
from batchqueue.service.supervised import Supervisor

log = logging.getLogger(__name__)

#: The private folder made inside ``--folder DIR``.
PRIVATE_FOLDER = "batchqueue-console"
#: The session key's file, in the private folder.
SESSION_KEY = "session.key"
#: A body any request may send (a login, a form without a file: the few kilobytes they need).
SMALL_BODY = 64 * 1024
#: A body a request with a signed session cookie may send (a form; around an upload, its parts).
FORM_BODY = 1024 * 1024
#: The routes that receive uploads.
UPLOADS = ("pages.upload", "api.upload")


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
    #: The reverse proxy in front of the console (its address): only its X-Forwarded-For is believed.
    trusted_proxy: str | None = None
    #: Uploads and run logs not changed for this many days are removed (at start, then every hour).
    keep_files_days: int = DEFAULTS.console_keep_files_days


class Console:
    """The console, bound and ready: ``serve_forever()`` or ``start()``, then ``close()``."""

    def __init__(
        self, server: HttpServer, ctx: ConsoleContext, callbacks: CallbackApp, app: Flask, cleaner: FolderCleaner
    ) -> None:
        self.server, self.ctx, self.callbacks, self.app = server, ctx, callbacks, app
        self.cleaner = cleaner
        self.url, self.port = server.url, server.port

    def serve_forever(self) -> None:
        self.cleaner.start()
        self.server.serve_forever()

    def start(self) -> Console:
        self.cleaner.start()
        self.server.start()
        return self

    def close(self) -> None:
        self.cleaner.stop()
        self.server.stop()
        self.callbacks.close()
        self.ctx.app.close()


def _folder_for(settings: Settings, given: Path | None) -> Path:
    """The console's private folder (uploaded contact lists are personal data): made, never a chmod
    of a folder the user gave."""
    if given is not None:
        given = given.expanduser().absolute()
        try:
            given.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--folder {given}: {exc.strerror or exc}") from None
        return private_folder(given / PRIVATE_FOLDER)
    ledger_file = settings.db_url.removeprefix("sqlite:///") if settings.db_url.startswith("sqlite:///") else None
    if ledger_file:
        real = Path(ledger_file).expanduser().resolve()
        return private_folder(real.with_name(real.name + ".console"))
    return private_folder(Path(PRIVATE_FOLDER).absolute())


def _body_limit(app: Flask, ctx: ConsoleContext) -> BodyLimit:
    """The largest body a request may send, decided on its line and headers (before its body)."""
    cookies = SessionCookies(app)

    def upload_route(method: str, path: str) -> bool:
        try:
            endpoint, _ = app.url_map.bind("console").match(path, method=method)
        except HTTPException:
            return False
        return endpoint in UPLOADS

    def limit(method: str, path: str, headers: Mapping[str, str]) -> int:
        if path.startswith(CALLBACK_PREFIX):
            return CALLBACK_MAX_BODY_ON_THE_WIRE  # the callback app holds the body itself to MAX_BODY
        session = cookies.read(headers.get("COOKIE", ""))
        if session is None:
            return SMALL_BODY
        if upload_route(method, path) and session_is_live(ctx.ledger, session):
            return ctx.max_upload + FORM_BODY
        return FORM_BODY

    return limit


def serve_console(settings: Settings, request: ConsoleRequest) -> Console:
    """Bind the console (and the callback receiver beside it) on ``request.host:port``."""
    folder = _folder_for(settings, request.folder)
    key = secret_key(folder / SESSION_KEY)
    register_secret(key.hex())  # never in a log line, whatever logs it
    (folder / "uploads").mkdir(exist_ok=True)
    app = Batchqueue(settings, create=True)
    ledger = app.ledger  # opened now: a ledger that cannot be used stops the console before it listens
    callbacks: CallbackApp | None = None
    try:
        callbacks = CallbackApp(ledger, spool_folder_for(ledger.path))
        public_url = request.public_url.rstrip("/") if request.public_url else None
        ctx = ConsoleContext(
            app,
            Supervisor(settings, folder / "runs"),
            folder / "uploads",
            public_url=public_url,
            max_upload=request.max_upload,
            secure_cookies=bool(public_url and public_url.startswith("https://")),
            secret_key=key,
        )
        console = create_app(ctx)

        receiver = callbacks

        def dispatch(environ: dict[str, Any], respond: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO", "").startswith(CALLBACK_PREFIX):
                return receiver(environ, respond)
            return console(environ, respond)

        limits = Limits(
            max_body=request.max_upload + FORM_BODY,
            request_timeout=600.0,
            per_client=64,
            body_limit=_body_limit(console, ctx),
        )
        server = HttpServer(
            dispatch,
            host=request.host,
            port=request.port,
            threads=request.threads,
            limits=limits,
            trusted_proxy=request.trusted_proxy,
        )
    except BaseException:
        if callbacks is not None:
            callbacks.close()
        app.close()
        raise
    supervisor = ctx.supervisor
    cleaner = FolderCleaner(
        folder / "uploads",
        folder / "runs",
        keep_seconds=request.keep_files_days * 86400.0,
        in_use=lambda: supervisor.running_logs() | ctx.checks.running_files(),
    )
    log.info("console on %s (callbacks on %s%s), files in %s", server.url, server.url, CALLBACK_SHOWN, folder)
    return Console(server, ctx, callbacks, console, cleaner)
