"""``serve``, ``poll`` and ``reconcile``: learning what became of queued calls."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchqueue import callback_urls
from batchqueue.callbacks.app import MAX_BODY_ON_THE_WIRE as MAX_BODY_ON_THE_WIRE
from batchqueue.callbacks.app import CallbackApp as CallbackApp
from batchqueue.callbacks.poller import Poller
from batchqueue.callbacks.poller import PollSummary as PollSummary
from batchqueue.callbacks.spool import spool_folder_for as spool_folder_for
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import BatchFatalError
from batchqueue.exits import ExitReason
from batchqueue.http_serving import BodyLimit as BodyLimit
from batchqueue.http_serving import HttpServer as HttpServer
from batchqueue.http_serving import Limits as Limits
from batchqueue.ledger import Ledger, Unproven, open_ledger
from batchqueue.logs import log_context
from batchqueue.service.app import Face, settings_of
from batchqueue.service.context import insight_client, ledger_for, target_of

log = logging.getLogger(__name__)

#: Where callbacks arrive, for the front ends (the console's /cb/ route; what serve prints).
CALLBACK_PREFIX, CALLBACK_SHOWN = callback_urls.PREFIX, callback_urls.SHOWN


@dataclass(frozen=True)
class ServeRequest:
    """Where to listen for result_url callbacks, and where to spool them."""

    host: str = DEFAULTS.serve_host
    port: int = DEFAULTS.serve_port
    threads: int = DEFAULTS.serve_threads
    spool_dir: Path | None = None


class Serving:
    """The callback receiver, bound and ready: ``serve_forever()``, then ``close()``."""

    def __init__(self, ledger: Ledger, server: HttpServer, app: CallbackApp, spool: Path) -> None:
        self.ledger, self.server, self.app, self.spool = ledger, server, app, spool
        self.url, self.port = server.url, server.port

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def close(self) -> None:
        self.server.stop()
        self.app.close()
        self.ledger.close()


def serve(app: Face, request: ServeRequest) -> Serving:
    """Bind the callback receiver (the address is checked before anything else is created)."""
    ledger = open_ledger(settings_of(app).db_url, create=False)
    try:
        apps: list[CallbackApp] = []
        server = HttpServer(
            lambda environ, respond: apps[0](environ, respond),
            host=request.host,
            port=request.port,
            threads=request.threads,
            limits=Limits(max_body=MAX_BODY_ON_THE_WIRE),
        )
        folder = request.spool_dir or spool_folder_for(ledger.path)
        try:
            apps.append(CallbackApp(ledger, folder))
        except BaseException:
            server.stop()
            raise
    except BaseException:
        ledger.close()
        raise
    log.info("receiving callbacks on %s%s, spooling them in %s", server.url, CALLBACK_SHOWN, folder)
    return Serving(ledger, server, apps[0], folder)


@dataclass(frozen=True)
class PollRequest:
    """Ask Insight for the status of a job's queued calls that have no final outcome."""

    job_id: int
    until_final: bool = False
    interval: float = DEFAULTS.poll_interval
    deadline: float = DEFAULTS.poll_deadline
    concurrency: int = DEFAULTS.poll_concurrency
    rate: float = DEFAULTS.poll_rate


def poll(app: Face, request: PollRequest, *, stop: threading.Event | None = None) -> PollSummary:
    """Poll once (or until every call is final or the deadline passes); BatchFatalError on 401/403."""
    with ledger_for(app) as ledger, log_context(job=request.job_id, event="poll"):
        job = ledger.job(request.job_id)
        client = insight_client(app, pool_size=request.concurrency)
        log.info("polling job %d at %s", job.id, target_of(app, job))
        try:
            summary = Poller(ledger, client, job, concurrency=request.concurrency, rate=request.rate).run(
                until_final=request.until_final, interval=request.interval, deadline=request.deadline, stop=stop
            )
        finally:
            client.close()
    if summary.exit_reason is ExitReason.FATAL_REPLY:
        raise BatchFatalError(summary.message, result=summary)
    return summary


@dataclass(frozen=True)
class ReconcileRequest:
    """List the uncertain rows no callback proved queued; with ``resend_unproven``, make them pending."""

    job_id: int
    grace: float = DEFAULTS.reconcile_grace
    resend_unproven: bool = False


@dataclass(frozen=True)
class ReconcileResult:
    job_id: int
    unproven: list[Unproven]
    changed: int
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "unproven": [u.__dict__ for u in self.unproven],
            "changed": self.changed,
            "uncertain": self.counts.get("uncertain", 0),
            "counts": self.counts,
        }


def reconcile(app: Face, request: ReconcileRequest) -> ReconcileResult:
    """Uncertain rows past their calling window without a callback; changed only when asked."""
    with ledger_for(app) as ledger:
        ledger.job(request.job_id)
        found = ledger.unproven(request.job_id, grace=request.grace)
        changed = ledger.resend_unproven(request.job_id, [u.row_id for u in found]) if request.resend_unproven else 0
        return ReconcileResult(request.job_id, found, changed, ledger.counts(request.job_id))
