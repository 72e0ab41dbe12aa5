"""Logging in and out; every other page and API call needs a live session.

A page without a session redirects to the login page (which then returns to it, if it is one of
this console's own pages); an API call without one gets 401. A session is live while it carries
its user's current session version (:mod:`batchqueue.service.users`): logging out ends every
session of the user, and so do a new password and removing the user, in every console at once.

Failed logins are limited (the app applies ``LOGIN_LIMITS`` to this blueprint's logins): for one
user name from one client, and for one client whatever the names, so a guesser slows itself down
and nobody else is locked out. A client is its address (``REMOTE_ADDR``: the forwarded one when
the console trusts a proxy). Each refusal is logged with the user name and the client, never the
password.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request, session, url_for
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie

from batchqueue.console.app import context
from batchqueue.console.forms import check_keys
from batchqueue.service import audit, users
from batchqueue.service.values import printable

if TYPE_CHECKING:
    from batchqueue.service.app import Ledger

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

#: Paths that need no session: the login page, the stylesheet and script it uses.
OPEN = ("auth.login", "auth.api_login", "auth.api_session", "static")
#: The routes the login limits count on.
LOGINS = ("auth.login", "auth.api_login")
#: A path of this site: one "/" then printable ASCII without a backslash (browsers read "/\\" as "//").
_OWN_PATH = re.compile(r"/(?![/\\])[!-\[\]-~]*")


def failed_login(response: Response) -> bool:
    return response.status_code == 401


def not_a_login() -> bool:
    return request.endpoint not in LOGINS


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _given_name() -> str:
    if request.endpoint == "auth.api_login":
        return str(_json_object().get("user") or "")
    return request.form.get("user") or ""


def client() -> str:
    """Who is asking: its address (as the trusted proxy forwarded it, when there is one); an IPv6
    client is its /64 network (one subscriber's, which it can fill with addresses at will)."""
    address = get_remote_address().strip("[]")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_and_user() -> str:
    return client() + " " + _given_name()[:64].lower()


def _who() -> tuple[str, str]:
    """The user name asked for and the client, as a log line may show them."""
    return printable(_given_name(), 64), client()


def refused_login(limit: RequestLimit) -> None:
    name, where = _who()
    log.warning("login refused for user %r from %s: too many failed logins (at most %s)", name, where, limit.limit)


@blueprint.before_app_request
def _need_login() -> Any:
    if request.endpoint == "static":
        g.user = None
        return None
    g.user = _live_user()
    if g.user is not None or request.endpoint in OPEN:
        return None
    if request.path.startswith("/api/"):
        return {"error": "log in first (POST /api/login)"}, 401
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def session_is_live(ledger: Ledger, data: Mapping[str, Any]) -> bool:
    """Whether a session (its user and version) has not ended."""
    return users.session_is_current(ledger, data.get("user"), data.get("version"))


class SessionCookies:
    """The session a ``Cookie`` header carries, read outside any request (the HTTP server asks
    before it reads a body): None unless its signature and age hold."""

    def __init__(self, app: Flask) -> None:
        self._serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        self._name = str(app.config["SESSION_COOKIE_NAME"])
        self._max_age = int(app.permanent_session_lifetime.total_seconds())

    def read(self, header: str) -> dict[str, Any] | None:
        signed = parse_cookie(header).get(self._name)
        if not signed or self._serializer is None:
            return None
        try:
            found = self._serializer.loads(signed, max_age=self._max_age)
        except Exception:  # forged, expired or garbled (itsdangerous.BadData, and its decoders' errors)
            return None
        return found if isinstance(found, dict) else None


def _live_user() -> str | None:
    if session.get("user") is None:
        return None
    if session_is_live(context().ledger, session):
        return str(session["user"])
    session.clear()  # ended (logged out, new password, user removed): the browser forgets it too
    return None


def _safe_next(target: str | None) -> str:
    """Only a page of this console (never another site, nor a path a browser reads as one) is
    followed after login."""
    fallback = url_for("pages.jobs")
    if not target or not _OWN_PATH.fullmatch(target):
        return fallback
    try:
        current_app.url_map.bind("").match(urlsplit(target).path, method="GET")
    except HTTPException:  # no such page (or not one to show: a redirect, a POST-only action)
        return fallback
    return target


def _log_in(name: str, password: str) -> bool:
    ctx = context()
    version = users.log_in(ctx.ledger, name, password)
    if version is None:
        shown, where = _who()
        log.warning("login refused for user %r from %s: wrong user name or password", shown, where)
        return False
    session.clear()
    session["user"] = name
    session["version"] = version
    session.permanent = True
    audit.record(ctx.ledger, name, "login")
    return True


def _log_out() -> None:
    if g.user is not None:
        users.end_sessions(context().ledger, g.user)
        audit.record(context().ledger, g.user, "logout")
    session.clear()


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    failed = False
    if request.method == "POST":
        if _log_in(request.form.get("user", ""), request.form.get("password", "")):
            return redirect(_safe_next(request.args.get("next")))
        failed = True
    return render_template("login.html", failed=failed, user=None), 401 if failed else 200


@blueprint.route("/logout", methods=["POST"])
def logout() -> Any:
    """Ends every session of the user (on every browser), not only this one."""
    _log_out()
    return redirect(url_for("auth.login"))


@blueprint.route("/api/session")
def api_session() -> Any:
    """The CSRF token a script sends back as ``X-CSRFToken``, and who is logged in."""
    return {"user": g.user, "csrf_token": generate_csrf()}


@blueprint.route("/api/login", methods=["POST"])
def api_login() -> Any:
    body = _json_object()
    check_keys(body, {"user", "password"})  # a misspelt key is named, not taken for an empty password
    if not _log_in(str(body.get("user", "")), str(body.get("password", ""))):
        return {"error": "wrong user name or password"}, 401
    return {"user": session["user"], "csrf_token": generate_csrf()}


@blueprint.route("/api/logout", methods=["POST"])
def api_logout() -> Any:
    """Ends every session of the user, as the pages' Log out does."""
    _log_out()
    return {"user": None}
