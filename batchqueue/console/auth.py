"""Logging in and out; every other page and API call needs a logged-in user.

A page without a session redirects to the login page (which then returns to it); an API call
without one gets 401. Logins are limited per client address and per user name (the app applies
``LOGIN_LIMITS`` to this blueprint's POSTs).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf

from batchqueue.console.app import context
from batchqueue.service import audit
from batchqueue.service.users import authenticate

blueprint = Blueprint("auth", __name__)

#: Paths that need no session: the login page, the stylesheet and script it uses.
OPEN = ("auth.login", "auth.api_login", "auth.api_session", "static")


def failed_login(response: Response) -> bool:
    return response.status_code == 401


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def user_name_key() -> str:
    given = request.form.get("user") or _json_object().get("user") or ""
    return "user:" + str(given)[:64].lower()


@blueprint.before_app_request
def _need_login() -> Any:
    g.user = session.get("user")
    if g.user is not None or request.endpoint in OPEN:
        return None
    if request.path.startswith("/api/"):
        return {"error": "log in first (POST /api/login)"}, 401
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def _safe_next(target: str | None) -> str:
    """Only a path of this console (never another site) is followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("pages.jobs")
    return target


def _log_in(name: str, password: str) -> bool:
    ctx = context()
    if not authenticate(ctx.ledger, name, password):
        return False
    session.clear()
    session["user"] = name
    session.permanent = True
    audit.record(ctx.ledger, name, "login")
    return True


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
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.route("/api/session")
def api_session() -> Any:
    """The CSRF token a script sends back as ``X-CSRFToken``, and who is logged in."""
    return {"user": session.get("user"), "csrf_token": generate_csrf()}


@blueprint.route("/api/login", methods=["POST"])
def api_login() -> Any:
    body = _json_object()
    if not _log_in(str(body.get("user", "")), str(body.get("password", ""))):
        return {"error": "wrong user name or password"}, 401
    return {"user": session["user"], "csrf_token": generate_csrf()}
