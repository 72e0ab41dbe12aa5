"""Which row a callback URL names, and whether its token is that row's own: checked before the body.

A result_url is ``<public url>/cb/<row id>/<token>``; the token is the row's 128-bit secret. A
forged or unknown URL is refused here, before the request body is even read, so it costs nothing.

Usage::

    found = split_path("/cb/7/3f2a…")          # (7, "3f2a…") or None
    checker = TokenChecker(ledger)
    checker.check(7, "3f2a…")                  # True, False, or None (the ledger cannot say right now)
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict

from sqlalchemy.exc import DBAPIError

from batchqueue.callback_urls import MAX_TOKEN as MAX_TOKEN
from batchqueue.callback_urls import MIN_TOKEN as MIN_TOKEN
from batchqueue.callback_urls import split_path as split_path
from batchqueue.ledger import Ledger


class TokenChecker:
    """Checks (row id, token) against the ledger, remembering recent matches so that a burst of
    callbacks does not read every token again; comparisons are constant-time."""

    def __init__(self, ledger: Ledger, size: int = 4096) -> None:
        self.ledger = ledger
        self._known: OrderedDict[int, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def check(self, row_id: int, token: str) -> bool | None:
        """True or False; None when the ledger cannot be read right now (the spool decides later)."""
        with self._lock:
            known = self._known.get(row_id)
        if known is not None:
            return hmac.compare_digest(known.encode(), token.encode())
        try:
            matches = self.ledger.token_matches(row_id, token)
        except DBAPIError:
            return None
        if matches:
            with self._lock:
                self._known[row_id] = token
                self._known.move_to_end(row_id)
                while len(self._known) > self._size:
                    self._known.popitem(last=False)
        return matches
