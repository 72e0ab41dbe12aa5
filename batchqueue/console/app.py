"""The console's Flask application: configuration, security headers, errors, and its parts.

Security, all in one place:

- every page but the login page needs a live session (:mod:`batchqueue.console.auth`): signed
  with a key kept beside the ledger, and valid only while it carries its user's current session
  version (logging out, a new password, removing the user end every session of that user); the
  session cookie is HttpOnly, SameSite=Lax, and Secure when the console is served over HTTPS;
- every state-changing request (POST) carries a CSRF token (Flask-WTF), forms and ``fetch`` alike;
- failed logins slow down one client on one user name, and one client on any name (Flask-Limiter,
  ``LOGIN_LIMITS``); nobody else is locked out; each refusal is logged (name and client);
- only a logged-in upload may send a large body, refused by the HTTP server before it is read
  (:mod:`batchqueue.console.server`); ``MAX_CONTENT_LENGTH`` bounds uploads again;
- every number in a URL, a query or a body is read strictly: a bad one is a 400 (or a 404 for a
  job id), never a 500; no reply or error names a path on the server;
- a Content-Security-Policy without inline script or style: the pages' JavaScript and CSS are
  files shipped in the package;
- no API key, callback token, password or session key ever reaches a page, a console URL or a log line.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import BatchqueueError, JobNotFoundError
from batchqueue.exits import http_status_for
from batchqueue.service.app import Batchqueue, Settings
from batchqueue.service.checks import BackgroundChecks
from batchqueue.service.job_page import HeldCounts
from batchqueue.service.supervised import Supervisor
from batchqueue.service.values import INT64_MAX

if TYPE_CHECKING:
    from batchqueue.service.app import Ledger

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Uploads larger than this are refused (413) before they are read.
DEFAULT_MAX_UPLOAD = DEFAULTS.console_max_upload_mb * 1024 * 1024


@dataclass
class ConsoleContext:
    """What every request of the console shares: one application (its settings and its one ledger),
    the runs it supervises."""

    app: Batchqueue
    supervisor: Supervisor
    upload_dir: Path
    public_url: str | None = None
    held: HeldCounts = field(default_factory=HeldCounts)
    max_upload: int = DEFAULT_MAX_UPLOAD
    secure_cookies: bool = False
    #: Signs the session cookies (``batchqueue.private_files.secret_key``: the same after a restart).
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    #: Checks of uploads this large (bytes) or larger run in the background, with their progress shown.
    check_in_background_from: int = DEFAULTS.console_background_check_bytes
    checks: BackgroundChecks = field(default_factory=BackgroundChecks)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.app.settings = settings

    @property
    def ledger(self) -> Ledger:
        """The application's ledger: every page and every action of the console uses this one."""
        return self.app.ledger

    def folders(self) -> list[str]:
        """The server's folders a message may name (never shown to a browser)."""
        found = [str(self.upload_dir.parent), tempfile.gettempdir(), os.getcwd()]
        if self.ledger.path:
            found.append(os.path.dirname(os.path.realpath(self.ledger.path)))
        return [f for f in found if f not in ("", "/")]


def context() -> ConsoleContext:
    from flask import current_app

    found: ConsoleContext = current_app.extensions["batchqueue"]
    return found


csrf = CSRFProtect()
#: Failed logins (successful ones never count), in a moving window: for one user name from one
#: client (fewer tries the more there were: a slow-down, not a lock-out of the user), and from one
#: client whatever the names. A client is its address, or the address a trusted proxy forwards.
LOGIN_LIMITS = {
    "user_and_client": "5 per minute; 10 per 15 minutes; 20 per day",
    "client": "30 per minute; 300 per day",
}


class JobIdConverter(IntegerConverter):
    """``<int:…>`` in every route: ASCII digits within SQL's 64-bit range; anything else is a 404."""

    regex = r"[0-9]{1,19}"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(url_map, *args, **kwargs)


def create_app(ctx: ConsoleContext) -> Flask:
    """The console as a WSGI app (served by :func:`batchqueue.console.server.serve_console`)."""
    from batchqueue.console import api, auth, pages

    app = Flask(__name__)
    app.url_map.converters["int"] = JobIdConverter  # before any route is added
    app.config.update(
        SECRET_KEY=ctx.secret_key,
        SESSION_COOKIE_NAME="batchqueue_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=ctx.secure_cookies,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        MAX_CONTENT_LENGTH=ctx.max_upload,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=ctx.secure_cookies,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["batchqueue"] = ctx
    csrf.init_app(app)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", strategy="moving-window")
    for key, limits in LOGIN_LIMITS.items():
        limiter.limit(
            limits,
            methods=["POST"],
            key_func=auth.client_and_user if key == "user_and_client" else auth.client,
            deduct_when=auth.failed_login,  # only failed logins count: a team behind one address can all log in
            exempt_when=auth.not_a_login,
            on_breach=auth.refused_login,
        )(auth.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(api.blueprint)
    app.jinja_env.filters.update(pages.FILTERS)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return _error(400, "The form was out of date or not from this console (CSRF check failed); reload the page.")

    @app.errorhandler(BatchqueueError)
    def _refused(error: BatchqueueError) -> Any:
        if isinstance(error, JobNotFoundError):
            return _error(http_status_for(error), str(error))
        return _error(http_status_for(error), public_message(str(error), ctx.folders()))

    @app.errorhandler(413)
    def _too_big(error: HTTPException) -> Any:
        if request.endpoint in ("pages.upload", "api.upload"):
            return _error(413, f"The file is larger than this console accepts ({ctx.max_upload // (1024 * 1024)} MB).")
        return _error(413, "The request is larger than this console accepts.")

    @app.errorhandler(429)
    def _slow_down(error: HTTPException) -> Any:
        breached = limiter.current_limit
        # reset_at is whole seconds rounded up; never promise a wait longer than the limit's own window.
        wait = (
            min(breached.limit.get_expiry(), max(1, math.ceil(breached.reset_at - time.time())))
            if breached is not None
            else 60
        )
        reply = _error(429, f"Too many failed logins; try again in {wait} seconds.")
        return reply[0], reply[1], {"Retry-After": str(wait)}

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        return _error(error.code or 500, error.description or error.name)

    return app


def _error(status: int, message: str) -> tuple[Any, int]:
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return {"error": message}, status
    return render_template("error.html", status=status, message=message, user=g.get("user")), status


# An absolute path's folders (not a URL's: no ":" or "/" before it; not "3/7d": no word before it).
_FOLDERS = re.compile(r"(?<![\w.:/~-])/(?:[^/\s'\"]+/)+")


def public_message(message: str, folders: Iterable[str] = ()) -> str:
    """``message`` as a browser may see it: every absolute path on the server cut to its last part,
    the file's own name (an upload's name is the user's own). ``folders`` are the server's own
    (named whole first: they may hold spaces)."""
    for folder in sorted(folders, key=len, reverse=True):
        message = re.sub(re.escape(folder.rstrip("/")) + r"/(?:[^/\s]+/)*", "", message)
    return _FOLDERS.sub("", message)
