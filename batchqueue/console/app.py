"""The console's Flask application: configuration, security headers, errors, and its parts.

Security, all in one place:

- every page but the login page needs a session (:mod:`batchqueue.console.auth`); the session
  cookie is HttpOnly, SameSite=Lax, and Secure when the console is served over HTTPS;
- every state-changing request (POST) carries a CSRF token (Flask-WTF), forms and ``fetch`` alike;
- logins are rate limited per client and per user name (Flask-Limiter);
- uploads are limited in size (``MAX_CONTENT_LENGTH``, and the HTTP server's own body limit);
- a Content-Security-Policy without inline script or style: the pages' JavaScript and CSS are
  files shipped in the package;
- no API key, callback token or password ever reaches a page, a console URL or a log line.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import BatchqueueError, JobNotFoundError
from batchqueue.exits import exit_code_for
from batchqueue.ledger import Ledger
from batchqueue.service.job_page import HeldCounts
from batchqueue.service.supervised import Supervisor
from batchqueue.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Uploads larger than this are refused (413) before they are read.
DEFAULT_MAX_UPLOAD = DEFAULTS.console_max_upload_mb * 1024 * 1024


@dataclass
class ConsoleContext:
    """What every request of the console shares: settings, one open ledger, the runs it supervises."""

    settings: Settings
    ledger: Ledger
    supervisor: Supervisor
    upload_dir: Path
    public_url: str | None = None
    held: HeldCounts = field(default_factory=HeldCounts)
    max_upload: int = DEFAULT_MAX_UPLOAD
    secure_cookies: bool = False


def context() -> ConsoleContext:
    from flask import current_app

    found: ConsoleContext = current_app.extensions["batchqueue"]
    return found


csrf = CSRFProtect()
#: Failed logins per client address, and per user name.
LOGIN_LIMITS = ("10 per minute", "20 per 15 minutes")


def create_app(ctx: ConsoleContext) -> Flask:
    """The console as a WSGI app (served by :func:`batchqueue.console.server.serve_console`)."""
    from batchqueue.console import api, auth, pages

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # sessions end when the console restarts
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
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[])
    failed = auth.failed_login  # only failed logins count: a team behind one address can all log in
    limiter.limit(LOGIN_LIMITS[0], methods=["POST"], deduct_when=failed)(auth.blueprint)
    limiter.limit(LOGIN_LIMITS[1], methods=["POST"], key_func=auth.user_name_key, deduct_when=failed)(auth.blueprint)
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

    @app.errorhandler(JobNotFoundError)
    def _no_job(error: JobNotFoundError) -> Any:
        return _error(404, str(error))

    @app.errorhandler(BatchqueueError)
    def _refused(error: BatchqueueError) -> Any:
        return _error(400 if exit_code_for(error) == 2 else 502, str(error))

    @app.errorhandler(413)
    def _too_big(error: HTTPException) -> Any:
        return _error(413, f"The file is larger than this console accepts ({ctx.max_upload // (1024 * 1024)} MB).")

    @app.errorhandler(429)
    def _slow_down(error: HTTPException) -> Any:
        return _error(429, "Too many attempts; wait a minute and try again.")

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        return _error(error.code or 500, error.description or error.name)

    return app


def _error(status: int, message: str) -> Any:
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return {"error": message}, status
    return render_template("error.html", status=status, message=message, user=g.get("user")), status
