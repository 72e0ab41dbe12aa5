"""`batchqueue serve`: callbacks in every encoding, forged and repeated ones, uncertain rows proven."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from batchqueue.callbacks.app import MAX_BODY, CallbackApp
from batchqueue.callbacks.call_details import BadPayload, parse_callback, unflatten
from batchqueue.http_serving import HttpServer
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Attempt, Ledger, Settlement, open_ledger
from batchqueue.lifecycle import Event
from batchqueue.sandbox.completer import encode
from tests.sandbox_helpers import contacts, ledger_rows

DETAILS = {
    "status": "completed",
    "attempts": "2",
    "max_attempts": "3",
    "queued_timestamp": "1796133600",
    "last_attempt_timestamp": "1796133700",
    "start_timestamp": "",
    "end_timestamp": "",
    "reattempt_wait": "600",
    "events": [{"event": "queued", "timestamp": "1796133600"}, {"event": "completed", "timestamp": "1796133700"}],
}


@pytest.mark.parametrize("encoding", ["form", "multipart", "json"])
def test_every_encoding_parses_to_the_same_outcome(encoding: str) -> None:
    prepared = requests.Request("POST", "http://x/", **encode(DETAILS, encoding)).prepare()
    body = prepared.body if isinstance(prepared.body, bytes) else str(prepared.body or "").encode()
    details = parse_callback(prepared.headers["Content-Type"], body)
    assert details.status == "completed"
    assert (details.attempts, details.max_attempts, details.last_attempt_at) == (2, 3, 1796133700)
    assert details.start_at is None  # empty timestamps are empty, not zero
    assert details.events == DETAILS["events"]


def test_php_style_keys_unflatten() -> None:
    assert unflatten([("events[1][event]", "b"), ("events[0][event]", "a"), ("status", "x")]) == {
        "events": [{"event": "a"}, {"event": "b"}],
        "status": "x",
    }


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'{"attempts": 1}'),
        ("application/xml", b"<x/>"),
        ("application/x-www-form-urlencoded", b"status"),
    ],
)
def test_garbage_is_a_bad_payload(content_type: str, body: bytes) -> None:
    with pytest.raises(BadPayload):
        parse_callback(content_type, body)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Ledger, str, Path]]:
    """A job of 10 rows, all queued (call ids 500…), and `serve` on a free port."""
    db = tmp_path / "l.db"
    ledger = open_ledger(f"sqlite:///{db}")
    import_file(ledger, contacts(tmp_path / "c.csv", 10), MappingSpec(), survey_id="4242", instance_id="1")
    claimed = ledger.claim(1, 10)
    ledger.record(
        [
            Settlement(c.row_id, Event.ACCEPTED, [Attempt("queued", 200, str(500 + i))], str(500 + i))
            for i, c in enumerate(claimed)
        ]
    )
    # The verdicts are what these tests read: a loaded machine must not turn one into "spooled".
    app = CallbackApp(ledger, tmp_path / "spool", answer_within=30.0)
    server = HttpServer(app, port=0, threads=8).start()
    yield ledger, server.url, db
    server.stop()
    app.close()


def _url(db: Path, n: int = 0) -> tuple[str, int]:
    row = ledger_rows(db)[n]
    return f"/cb/{row['id']}/{row['token']}", row["id"]


def test_a_callback_records_the_outcome_and_keeps_the_payload(served: tuple[Ledger, str, Path]) -> None:
    _, base, db = served
    path, _ = _url(db)
    reply = requests.post(base + path, data=encode(DETAILS, "form")["data"], timeout=5)
    assert reply.status_code == 200
    assert reply.json() == {"ok": True, "recorded": True}
    row = ledger_rows(db)[0]
    assert (row["outcome_status"], row["outcome_attempts"], row["outcome_source"]) == ("completed", 2, "callback")
    assert '"events"' in row["outcome_payload"]


def test_forged_and_unknown_callbacks_get_404_and_change_nothing(served: tuple[Ledger, str, Path]) -> None:
    _, base, db = served
    path, row_id = _url(db)
    forged = f"/cb/{row_id}/{'0' * 32}"
    assert requests.post(base + forged, json=DETAILS, timeout=5).status_code == 404
    assert requests.post(base + f"/cb/999999/{'a' * 32}", json=DETAILS, timeout=5).status_code == 404
    assert requests.post(base + "/elsewhere", json=DETAILS, timeout=5).status_code == 404
    other = ledger_rows(db)[1]
    # a valid token for another row does not open this one
    assert requests.post(base + f"/cb/{row_id}/{other['token']}", json=DETAILS, timeout=5).status_code == 404
    assert all(r["outcome_status"] is None for r in ledger_rows(db))
    assert requests.get(base + path, timeout=5).status_code == 200  # the probe Plum may send first
    assert requests.get(base + forged, timeout=5).status_code == 404


def test_repeats_are_idempotent_and_only_a_more_final_outcome_replaces(served: tuple[Ledger, str, Path]) -> None:
    _, base, db = served
    path, _ = _url(db)
    dialing = {**DETAILS, "status": "dialing"}
    assert requests.post(base + path, json=dialing, timeout=5).json()["recorded"] is True
    assert requests.post(base + path, json=dialing, timeout=5).json()["recorded"] is False
    assert requests.post(base + path, json=DETAILS, timeout=5).json()["recorded"] is True
    assert requests.post(base + path, json=DETAILS, timeout=5).json()["recorded"] is False
    assert requests.post(base + path, json=dialing, timeout=5).json()["recorded"] is False
    assert ledger_rows(db)[0]["outcome_status"] == "completed"


def test_bad_requests_get_clear_4xx_never_500(served: tuple[Ledger, str, Path]) -> None:
    _, base, db = served
    path, _ = _url(db)
    cases = [
        requests.post(base + path, data=b"{oops", headers={"Content-Type": "application/json"}, timeout=5),
        requests.post(base + path, data=b"<x/>", headers={"Content-Type": "application/xml"}, timeout=5),
        requests.post(base + path, data=b"x" * (MAX_BODY + 1), headers={"Content-Type": "text/plain"}, timeout=5),
        requests.put(base + path, json=DETAILS, timeout=5),
    ]
    assert [c.status_code for c in cases] == [400, 400, 413, 405]
    assert ledger_rows(db)[0]["outcome_status"] is None


def test_a_callback_proves_an_uncertain_row_was_queued(served: tuple[Ledger, str, Path], tmp_path: Path) -> None:
    ledger, base, db = served
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rows SET state = 'uncertain', call_id = NULL WHERE id = (SELECT min(id) FROM rows)")
    path, _ = _url(db)
    assert requests.post(base + path, json=DETAILS, timeout=5).status_code == 200
    row = ledger_rows(db)[0]
    assert row["state"] == "queued"
    assert "resolved by callback" in row["resolution"]
    assert ledger.counts(1)["uncertain"] == 0


def test_a_burst_of_concurrent_callbacks_is_all_recorded(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    ledger = open_ledger(f"sqlite:///{db}")
    import_file(ledger, contacts(tmp_path / "c.csv", 600), MappingSpec(), survey_id="4242", instance_id="1")
    for _ in range(3):
        claimed = ledger.claim(1, 200)
        ledger.record([Settlement(c.row_id, Event.ACCEPTED, [Attempt("queued", 200, "1")], "1") for c in claimed])
    # Each request waits for its callback to be applied (a loaded machine may take over the default
    # half second, leaving it spooled for the next start, which this test does not make).
    app = CallbackApp(ledger, tmp_path / "spool", answer_within=30.0)
    server = HttpServer(app, port=0, threads=16).start()
    urls = [f"{server.url}/cb/{r['id']}/{r['token']}" for r in ledger_rows(db)]
    local = threading.local()

    def send(url: str) -> int:
        session = getattr(local, "s", None) or requests.Session()
        local.s = session
        return session.post(url, json=DETAILS, timeout=30).status_code

    try:
        with ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(send, urls))
    finally:
        server.stop()
        app.close()
    assert codes == [200] * 600
    assert ledger.outcome_counts(1) == {"completed": 600}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("/cb/7/" + "a" * 32, (7, "a" * 32)),
        ("/cb/7/" + "a" * 32 + "/", (7, "a" * 32)),
        ("/cb/" + "9" * 18 + "/" + "b" * 16, (10**18 - 1, "b" * 16)),
        ("/cb/7/" + "Ab-_" * 32, (7, "Ab-_" * 32)),
        ("/cb/" + "9" * 19 + "/" + "b" * 16, None),
        ("/cb/x7/" + "a" * 32, None),
        ("/cb/7/" + "a" * 15, None),
        ("/cb/7/" + "a" * 129, None),
        ("/cb/7/" + "é" * 20, None),
        ("/cb/7/" + "a.b" * 8, None),
        ("/cb/7/" + "a" * 32 + "/extra", None),
        ("/cb/7", None),
        ("/other/7/" + "a" * 32, None),
    ],
)
def test_callback_urls_name_a_row_and_a_token_or_nothing(path: str, found: tuple[int, str] | None) -> None:
    from batchqueue.callbacks.tokens import split_path

    assert split_path(path) == found
