"""Metrics in the Prometheus text format, scraped over real HTTP: ``serve``'s ``/metrics`` (callbacks
by verdict, rows by state) and ``run --metrics-port`` while a run meets 429s (requests by reply
class, throttle events, the pace); parsed with prometheus_client's own parser."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from batchqueue.callbacks.app import CallbackApp
from batchqueue.http_serving import HttpServer
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.sandbox_helpers import contacts, ledger_rows, sandbox_env


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by (name, labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_serve_counts_callbacks_by_verdict_and_rows_by_state(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    settings = Settings.from_env({}, db=str(db))
    assert import_file(settings, ImportRequest(contacts(tmp_path / "c.csv", 3), MappingSpec(), "1", "1")).job_id == 1
    ledger = open_ledger(f"sqlite:///{db}")
    app = CallbackApp(ledger, tmp_path / "spool")
    server = HttpServer(app, port=0).start()
    try:
        row = ledger_rows(db)[0]
        with ledger.engine.begin() as conn:  # as if it had been sent
            conn.exec_driver_sql("UPDATE rows SET state = 'queued', call_id = '7' WHERE id = ?", (row["id"],))
        good = requests.post(f"{server.url}/cb/{row['id']}/{row['token']}", data={"status": "completed"}, timeout=10)
        assert good.status_code == 200
        assert requests.post(f"{server.url}/cb/{row['id']}/{'0' * 32}", data={}, timeout=10).status_code == 404
        scrape = requests.get(f"{server.url}/metrics", timeout=10)
    finally:
        server.stop()
        app.close()
        ledger.close()
    assert scrape.headers["Content-Type"].startswith("text/plain")
    found = samples(scrape.text)
    assert found[("batchqueue_callbacks_total", (("verdict", "refused"),))] == 1
    accepted = sum(v for (name, labels), v in found.items() if name == "batchqueue_callbacks_total") - 1
    assert accepted == 1
    assert found[("batchqueue_rows", (("job", "1"), ("state", "pending")))] == 2
    assert found[("batchqueue_rows", (("job", "1"), ("state", "queued")))] == 1
    assert row["token"] not in scrape.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_run_serves_its_requests_pace_and_throttling(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    sb = Sandbox(SandboxConfig(faults=Faults(p_429=0.2, retry_after=0.1, seed=5))).start()
    try:
        settings = Settings.from_env(sandbox_env(sb), db=str(db))
        import_file(settings, ImportRequest(contacts(tmp_path / "c.csv", 150), MappingSpec(), "4242", "1"))
        port = _free_port()
        scrapes: list[str] = []
        done = threading.Event()

        def scrape() -> None:
            while not done.is_set():
                with contextlib.suppress(requests.ConnectionError):
                    scrapes.append(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
                done.wait(0.05)

        scraper = threading.Thread(target=scrape)
        scraper.start()
        try:
            summary = run(settings, RunRequest(1, rate=100, concurrency=4, retries=10, metrics_port=port))
        finally:
            done.set()
            scraper.join()
    finally:
        sb.stop()
    assert summary.counts["queued"] == 150
    assert scrapes, "the run's metrics were never reachable"
    last = samples(scrapes[-1])
    assert last[("batchqueue_configured_rate_requests_per_second", ())] == 100
    assert 0 < last[("batchqueue_requests_total", (("reply", "queued"),))] <= 150
    throttles = {labels: v for (name, labels), v in last.items() if name == "batchqueue_throttle_events_total"}
    assert throttles[(("cause", "429"),)] >= 1
    assert throttles[(("cause", "retry_after"),)] >= 1
    assert last[("batchqueue_rows", (("job", "1"), ("state", "queued")))] >= 1
    assert sb.config.key not in scrapes[-1]


def test_the_progress_line_says_the_rate_now_the_rate_asked_and_why_it_is_lower(tmp_path: Path) -> None:
    from batchqueue.cli.run_cmds import _pace_text

    db = tmp_path / "l.db"
    sb = Sandbox(SandboxConfig(faults=Faults(p_429=0.25, retry_after=0.05, seed=2))).start()
    seen: list[tuple[float | None, float | None, str | None]] = []
    try:
        settings = Settings.from_env(sandbox_env(sb), db=str(db))
        import_file(settings, ImportRequest(contacts(tmp_path / "c.csv", 120), MappingSpec(), "4242", "1"))
        summary = run(
            settings,
            RunRequest(1, rate=80, concurrency=4, retries=10),
            on_progress=lambda s: seen.append((s.pace, s.configured_rate, s.slowed_by)),
        )
    finally:
        sb.stop()
    assert summary.counts["queued"] == 120
    slowed = [(pace, asked, why) for pace, asked, why in seen if why is not None]
    assert slowed, "no progress update said why the pace was down"
    assert all(asked == 80 and pace is not None and pace < 80 for pace, asked, _ in slowed)
    assert {why for _, _, why in slowed} <= {"429", "retry_after"}
    summary.configured_rate, summary.slowed_by = 80, "429"
    assert _pace_text(23.46, summary) == "23.5/s of 80/s, slowed: 429 from Insight"
    summary.configured_rate, summary.slowed_by = None, None
    assert _pace_text(4.0, summary) == "4.0/s of no limit"
