"""Counters for a monitoring system, in the Prometheus text format (``prometheus_client``).

Nothing is counted twice: the collectors read, at scrape time, what the run and the callback
receiver already count (a run's replies by class, its pacer's rate and slow-downs, the callback
app's verdicts) and the ledger's rows by state. ``batchqueue serve`` answers ``/metrics`` beside
the callbacks; ``batchqueue run --metrics-port N`` serves them for the run's life.

Metrics (every name starts ``batchqueue_``):

- ``requests_total{reply}`` — requests this run made, by reply class (queued, rejected, ambiguous…);
- ``rows{job, state}`` — rows by state, per job;
- ``callbacks_total{verdict}`` — callbacks received: recorded, spooled, refused (bad token or body),
  unavailable (answered 503: the spool could not be written);
- ``callback_backlog`` — spooled callbacks not yet in the ledger;
- ``callback_quarantined`` — damaged stretches of spool files kept in the quarantine file;
- ``rate_requests_per_second`` / ``configured_rate_requests_per_second`` — the pace now, and asked;
- ``throttle_events_total{cause}`` — slow-downs: ``429``, ``5xx`` (ambiguous replies), ``retry_after``.

Usage::

    registry = run_registry(lambda: submitter, ledger, job_id)
    HttpServer(wsgi_app(registry), port=9100).start()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from batchqueue.callbacks.app import CallbackApp
    from batchqueue.ledger import Ledger
    from batchqueue.sending.submitter import Submitter

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _rows(ledger: Ledger, job_ids: list[int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily("batchqueue_rows", "Rows by state, per job.", labels=["job", "state"])
    for job_id, counts in ledger.all_counts(job_ids).items():
        for state, count in counts.items():
            family.add_metric([str(job_id), state], count)
    return family


class _RunCollector(Collector):
    def __init__(self, current: Callable[[], Submitter | None], ledger: Ledger, job_id: int) -> None:
        self.current, self.ledger, self.job_id = current, ledger, job_id

    def collect(self) -> Iterator[Any]:
        yield _rows(self.ledger, [self.job_id])
        submitter = self.current()
        if submitter is None:
            return
        requests = CounterMetricFamily(
            "batchqueue_requests", "Requests this run made, by reply class.", labels=["reply"]
        )
        for kind, count in submitter.summary.this_run.items():
            requests.add_metric([kind], count)
        yield requests
        pacer = submitter.pacer
        yield GaugeMetricFamily(
            "batchqueue_rate_requests_per_second", "The pace now (0: no limit).", value=pacer.rate or 0.0
        )
        yield GaugeMetricFamily(
            "batchqueue_configured_rate_requests_per_second",
            "The pace asked for (0: no limit).",
            value=pacer.limit or 0.0,
        )
        throttles = CounterMetricFamily(
            "batchqueue_throttle_events", "Times the run slowed down, by cause.", labels=["cause"]
        )
        for cause, count in sorted(pacer.slowdowns.items()):
            throttles.add_metric([cause], count)
        yield throttles


class _ServeCollector(Collector):
    def __init__(self, app: CallbackApp, ledger: Ledger) -> None:
        self.app, self.ledger = app, ledger

    def collect(self) -> Iterator[Any]:
        callbacks = CounterMetricFamily("batchqueue_callbacks", "Callbacks received, by verdict.", labels=["verdict"])
        for verdict, count in sorted(self.app.verdicts.items()):
            callbacks.add_metric([verdict], count)
        yield callbacks
        yield GaugeMetricFamily(
            "batchqueue_callback_backlog", "Spooled callbacks not yet in the ledger.", value=self.app.spooler.backlog
        )
        yield GaugeMetricFamily(
            "batchqueue_callback_quarantined",
            "Damaged stretches of callback spool files, kept in the quarantine file and not applied.",
            value=self.app.spooler.quarantined,
        )
        yield _rows(self.ledger, [job.id for job in self.ledger.jobs()])


def run_registry(current: Callable[[], Submitter | None], ledger: Ledger, job_id: int) -> CollectorRegistry:
    """The metrics of one run (``current`` gives the run's submitter, or None between sends)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(current, ledger, job_id))
    return registry


def serve_registry(app: CallbackApp, ledger: Ledger) -> CollectorRegistry:
    """The metrics of ``batchqueue serve``: callbacks, and every job's rows by state."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServeCollector(app, ledger))
    return registry


def wsgi_app(registry: CollectorRegistry) -> WsgiApp:
    """A WSGI app answering any path with the registry in the Prometheus text format."""
    app: WsgiApp = make_wsgi_app(registry)
    return app
