"""A callback URL, built and read in one place: ``<public url>/cb/<row id>/<token>``.

The token is the row's 128-bit secret (URL-safe characters); the row id a positive integer. The
sender builds the URL (:func:`callback_url`, in the request's ``result_url``), the receivers read it
back (:func:`split_path`: the callback server, the console's ``/cb/`` route), and log lines show its
shape without the token (:data:`SHOWN`).

Usage::

    callback_url("https://cb.example.org", 7, "3f2a…")   # "https://cb.example.org/cb/7/3f2a…"
    split_path("/cb/7/3f2a…")                              # (7, "3f2a…"); None for any other path
"""

from __future__ import annotations

PREFIX = "/cb/"
#: How log lines and messages show where callbacks go (never a token).
SHOWN = PREFIX + "<row>/<token>"
MIN_TOKEN, MAX_TOKEN = 16, 128


def callback_url(public_url: str, row_id: int, token: str) -> str:
    """The URL Insight reports a row's call to."""
    return f"{public_url.rstrip('/')}{PREFIX}{row_id}/{token}"


def split_path(path: str) -> tuple[int, str] | None:
    """``/cb/<row id>/<token>`` → (row id, token), or None for any other path."""
    if not path.startswith(PREFIX):
        return None
    parts = path[len(PREFIX) :].rstrip("/").split("/")
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 18:
        return None
    token = parts[1]
    if not MIN_TOKEN <= len(token) <= MAX_TOKEN or not token.isascii():
        return None
    if not all(c.isalnum() or c in "-_" for c in token):
        return None
    return int(parts[0]), token
