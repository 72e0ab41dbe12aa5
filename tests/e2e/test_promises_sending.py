"""The circuit breaker, as a user sees it (issue 20, "Tests that let defects through").

``--breaker N`` stops a run after N ambiguous replies IN A ROW (Insight may be failing): a reply
that settles the row either way (queued, or refused) proves Insight answers, and starts the count
again. A planted bug that stopped resetting the count went unnoticed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batchqueue.http_serving import HttpServer
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows, point_at_url

Run = Callable[..., CliResult]

#: What Insight answers each request with: (HTTP status, body). 500 is ambiguous (it may have queued).
QUEUED = (200, b'{"success": 1, "call_id": 1}')
REFUSED = (400, b'{"success": 0, "error": "bad phone"}')
FAILING = (500, b'{"error": "database error"}')


def _insight(replies: Iterator[tuple[int, bytes]]) -> HttpServer:
    """An 'Insight' answering its queue requests, one after another, with ``replies``."""
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        with lock:
            status, body = next(replies)
        start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return HttpServer(app, port=0)


@pytest.fixture
def job(tmp_path: Path, run_cli: Run) -> Path:
    assert run_cli("import", contacts(tmp_path / "c.csv", 18), "--survey", "4242", "--instance", "1").code == 0
    return tmp_path / "batchqueue.db"


@pytest.mark.parametrize("settling", [QUEUED, REFUSED], ids=["queued", "refused"])
def test_the_breaker_counts_ambiguous_replies_in_a_row_only(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, settling: tuple[int, bytes]
) -> None:
    """Two ambiguous replies, then one that settles its row, over and over: never three in a row,
    so ``--breaker 3`` never trips and every row is tried."""
    with _insight(itertools.cycle([FAILING, FAILING, settling])) as server:
        point_at_url(monkeypatch, server.url + "/api")
        result = run_cli("run", "1", "--rate", "0", "--concurrency", "1", "--breaker", "3", "--json")
    summary = result.json()
    assert summary["exit_reason"] != "circuit_breaker", result.err
    states = sorted(r["state"] for r in ledger_rows(job))
    settled = "queued" if settling is QUEUED else "failed"
    assert states == sorted([settled] * 6 + ["uncertain"] * 12)


def test_the_breaker_trips_on_the_third_ambiguous_reply_in_a_row(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the same count: two settled rows, then ambiguous replies: the third in a
    row stops the run, and the rows after it are left pending (never sent)."""
    with _insight(itertools.chain([QUEUED, REFUSED], itertools.repeat(FAILING))) as server:
        point_at_url(monkeypatch, server.url + "/api")
        result = run_cli("run", "1", "--rate", "0", "--concurrency", "1", "--breaker", "3", "--json")
    summary = result.json()
    assert (result.code, summary["exit_reason"]) == (4, "circuit_breaker")
    states = [r["state"] for r in ledger_rows(job)]
    assert states == ["queued", "failed"] + ["uncertain"] * 3 + ["pending"] * 13
