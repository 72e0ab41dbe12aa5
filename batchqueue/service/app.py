"""The application object: one face for every front end (procrastinate's ``App``).

A :class:`Batchqueue` holds the settings, one ledger (opened when first used, closed with the
object) and a factory of Insight clients. Service functions take it where a front end keeps one
open (the console: one object for every request), or the settings alone where a command opens the
ledger for one action (each then opens and closes its own, as before).

Usage::

    with Batchqueue(settings) as app:
        result = rows.retry(app, rows.RetryRequest(job_id))   # the app's ledger, not a second one
        client = app.insight_client()
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from batchqueue.defaults import DEFAULTS
from batchqueue.settings import Secret, Settings, base_url, no_target_message

if TYPE_CHECKING:
    from types import TracebackType

    from batchqueue.insight.client import InsightClient
    from batchqueue.ledger import Job, Ledger

__all__ = ["Batchqueue", "Face", "Job", "Ledger", "Secret", "Settings", "base_url", "no_target_message", "settings_of"]


class Batchqueue:
    """The settings, one ledger opened lazily and closed by ``close()`` (or ``with``), and Insight clients."""

    def __init__(self, settings: Settings, *, create: bool = False) -> None:
        self.settings = settings
        #: Make the ledger (at the schema's head) when it does not exist yet.
        self.create = create
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()

    @property
    def ledger(self) -> Ledger:
        """The one ledger of this object, opened (a damaged SQLite ledger refused) on first use."""
        with self._lock:
            if self._ledger is None:
                from batchqueue.ledger import open_ledger  # SQLAlchemy: only once a ledger is used

                self._ledger = open_ledger(self.settings.db_url, create=self.create, check=True)
            return self._ledger

    @property
    def ledger_is_open(self) -> bool:
        return self._ledger is not None

    def insight_client(
        self,
        *,
        pool_size: int = 1,
        connect_timeout: float = DEFAULTS.connect_timeout,
        read_timeout: float = DEFAULTS.read_timeout,
    ) -> InsightClient:
        """A new client for Insight (credentials checked first: a UsageError if they cannot be sent)."""
        from batchqueue.service.context import insight_client

        return insight_client(
            self.settings, pool_size=pool_size, connect_timeout=connect_timeout, read_timeout=read_timeout
        )

    def target_of(self, job: Job | None = None) -> str:
        """Where requests go, in words (never the key)."""
        from batchqueue.service.context import target_of

        return target_of(self.settings, job)

    def close(self) -> None:
        """Release the ledger's connections (a later use opens it again)."""
        with self._lock:
            ledger, self._ledger = self._ledger, None
        if ledger is not None:
            ledger.close()

    def __enter__(self) -> Batchqueue:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


#: What a service function acts with: a front end's open application, or settings alone (then the
#: function opens the ledger for its own action and closes it).
Face = Batchqueue | Settings


def settings_of(face: Face) -> Settings:
    """The settings of an application, or the settings themselves."""
    return face.settings if isinstance(face, Batchqueue) else face
