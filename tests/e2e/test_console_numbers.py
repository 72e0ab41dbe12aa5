"""The console's numbers match the ledger: the rate is the requests of the last 15 s as the ledger
recorded them (whoever sent them), the per-minute chart's time axis ends where its bars do, the
progress bar is labelled and holds only rows that are to be sent, and a worker killed with
``kill -9`` is shown gone at once, not live for its whole lease. Over real HTTP, with real
``batchqueue run`` processes against the sandbox; the truth is read from the SQLite file directly."""

from __future__ import annotations

import html
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import write_csv
from tests.console_helpers import Running, api_session, start_console, stop_console
from tests.sandbox_helpers import contacts

IMPORT = ("--survey", "4242", "--instance", "1")


def _cli_env(found: Running) -> dict[str, str]:
    settings = found.settings
    return {
        **os.environ,
        "BATCHQUEUE_DB": settings.db_url,
        "BATCHQUEUE_BASE_URL": settings.base_url or "",
        "BATCHQUEUE_USER": settings.user,
        "BATCHQUEUE_API_KEY": settings.api_key.reveal(),
    }


def _cli(found: Running, *args: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "batchqueue", *args], env=_cli_env(found), text=True, **popen
    )


def _db(found: Running) -> Path:
    return Path(found.settings.db_url.removeprefix("sqlite:///"))


def test_the_rate_is_the_ledgers_last_15_seconds_from_the_first_request_on(tmp_path: Path) -> None:
    found = start_console(tmp_path, latency=0.02)
    try:
        session, _ = api_session(found.url)
        imported = _cli(found, "import", str(contacts(tmp_path / "c.csv", 600)), *IMPORT)
        assert imported.wait(60) == 0
        run = _cli(found, "run", "1", "--rate", "20", "--quiet", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(5)  # well before the worker's first heartbeat (every 20 s)
            shown = session.get(f"{found.url}/api/jobs/1?summary=1", timeout=10).json()["activity"]
            with sqlite3.connect(_db(found)) as conn:
                since = time.time() - 15
                sent = conn.execute(
                    "SELECT count(*) FROM attempts WHERE job_id = 1 AND started_at >= ?", (since,)
                ).fetchone()[0]
        finally:
            run.send_signal(signal.SIGINT)
            run.wait(60)
        assert sent > 40
        assert shown["running"] is True
        assert abs(shown["rate"] - sent / 15) <= 1.5, (shown["rate"], sent / 15)
    finally:
        stop_console(found)


def _chart(page: str) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, str]]]:
    """The per-minute chart of a job page: its bars (minute, x, width) and its axis labels (text, x, anchor)."""
    svg = page[page.index('aria-label="requests per minute"') :]
    svg = svg[: svg.index("</svg>")]
    bars = [
        (title.split(":")[0] + ":" + title.split(":")[1], float(x), float(w))
        for x, w, title in re.findall(
            r'<rect class="col"[^>]*? x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*><title>([^<]+)</title>', svg
        )
    ]
    labels = [
        (html.unescape(text), float(x), anchor or "start")
        for x, anchor, text in re.findall(
            r'<text[^>]*? x="([\d.]+)" y="126"(?: text-anchor="(\w+)")?>([^<]+)</text>', svg
        )
    ]
    return bars, labels


def test_the_chart_of_requests_per_minute_has_an_axis_that_ends_where_its_bars_end(
    running: Running, tmp_path: Path
) -> None:
    session, _ = api_session(running.url)
    imported = _cli(running, "import", str(contacts(tmp_path / "c.csv", 20)), *IMPORT)
    assert imported.wait(60) == 0
    assert _cli(running, "run", "1", "--rate", "0", "--quiet").wait(60) == 0
    page = session.get(f"{running.url}/jobs/1", timeout=10).text
    bars, labels = _chart(page)
    assert len(bars) == 30
    assert labels, "the chart has a time axis"
    last_minute, last_x, last_width = bars[-1]
    assert labels[-1][0] == last_minute  # the axis ends with the minute of the last bar (now)
    assert labels[-1][2] == "end"
    assert labels[-1][1] == round(last_x + last_width, 2)
    assert time.strftime("%H:%M") in (last_minute, time.strftime("%H:%M", time.localtime(time.time() - 1)))
    for text, x, _anchor in labels:  # every label sits under its own bar
        bar = next(b for b in bars if b[0] == text)
        assert bar[1] <= x <= bar[1] + bar[2]
    # The bars are the ledger's requests: 20, all in the last minute or two.
    assert sum(int(t.split(": ")[-1]) for t in re.findall(r"<title>(\d\d:\d\d: \d+)</title>", page)) == 20


def test_the_progress_bar_is_labelled_and_holds_only_rows_to_be_sent(running: Running, tmp_path: Path) -> None:
    session, _ = api_session(running.url)
    rows = [["phone"]] + [[f"617-555-{100 + i:04d}"] for i in range(8)] + [["12345"], ["not a number"]]
    imported = _cli(running, "import", str(write_csv(tmp_path / "c.csv", rows)), *IMPORT)
    assert imported.wait(60) == 0
    page = session.get(f"{running.url}/jobs/1", timeout=10).text
    bar = page[page.index('<svg class="progress"') :]
    bar = bar[: bar.index("</svg>")]
    segments = {s: float(w) for s, w in re.findall(r'data-segment="([^"]+)" x="[\d.]+" y="0" width="([\d.]+)"', bar)}
    assert set(segments) == {"sent", "sending", "held", "left", "not sent"}
    assert segments["left"] == 600.0  # the 2 invalid rows are not a grey tenth of it
    assert segments["sent"] == 0.0
    legend = re.sub(r"<[^>]+>", "", page[page.index('id="legend"') : page.index("</p>", page.index('id="legend"'))])
    for said in ("sent 0", "sending 0", "held 0", "left 8", "not sent 0"):
        assert said in legend
    assert "not in the bar (never to be sent): invalid 2" in legend
    summary = session.get(f"{running.url}/api/jobs/1?summary=1", timeout=10).json()
    assert summary["progress"] == [
        {"segment": "sent", "rows": 0},
        {"segment": "sending", "rows": 0},
        {"segment": "held", "rows": 0},
        {"segment": "left", "rows": 8},
        {"segment": "not sent", "rows": 0},
    ]


def test_a_worker_killed_with_kill_9_is_shown_gone_at_once(tmp_path: Path) -> None:
    found = start_console(tmp_path, latency=0.5, complete_after=None)
    try:
        session, _ = api_session(found.url)
        assert _cli(found, "import", str(contacts(tmp_path / "c.csv", 200)), *IMPORT).wait(60) == 0
        run = _cli(found, "run", "1", "--rate", "5", "--quiet", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if session.get(f"{found.url}/api/jobs/1?summary=1", timeout=10).json()["activity"]["running"]:
                break
            time.sleep(0.2)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        time.sleep(0.5)
        activity = session.get(f"{found.url}/api/jobs/1?summary=1", timeout=10).json()["activity"]
        assert activity["running"] is False  # its heartbeat is recent, but its process is gone
        assert activity["stale_workers"] == 1
        page = session.get(f"{found.url}/jobs/1", timeout=10).text
        assert "1 worker(s) gone (killed, or silent past their lease)" in page
        status = subprocess.run(
            [sys.executable, "-m", "batchqueue", "status", "1"], env=_cli_env(found), capture_output=True, text=True
        )
        assert "0 live worker(s)" in status.stdout
        assert "1 stale: killed or cut off (gone, or silent past --lease-ttl)" in status.stdout
    finally:
        stop_console(found)


def test_uploads_and_run_logs_older_than_kept_are_cleaned_those_in_use_are_not(tmp_path: Path) -> None:
    from batchqueue.service.console_files import FolderCleaner

    uploads, runs = tmp_path / "uploads", tmp_path / "runs"
    old, fresh, busy = uploads / "old-upload-id", uploads / "fresh-upload-id", uploads / "busy-upload-id"
    for folder in (old, fresh, busy):
        folder.mkdir(parents=True)
        (folder / "contacts.csv").write_text("phone\n617-555-0101\n")
    runs.mkdir()
    (runs / "job-1-old.log").write_text("done")
    (runs / "job-2-running.log").write_text("sending")
    (runs / "job-3-new.log").write_text("done")
    month_ago = time.time() - 31 * 86400
    for path in (
        old,
        old / "contacts.csv",
        busy,
        busy / "contacts.csv",
        runs / "job-1-old.log",
        runs / "job-2-running.log",
    ):
        os.utime(path, (month_ago, month_ago))
    cleaner = FolderCleaner(
        uploads, runs, keep_seconds=30 * 86400, in_use=lambda: {busy / "contacts.csv", runs / "job-2-running.log"}
    )
    cleaned = cleaner.clean()
    assert (cleaned.uploads, cleaned.logs) == (1, 1)
    assert sorted(p.name for p in uploads.iterdir()) == ["busy-upload-id", "fresh-upload-id"]
    assert sorted(p.name for p in runs.iterdir()) == ["job-2-running.log", "job-3-new.log"]


def test_the_console_cleans_its_folder_when_it_starts(tmp_path: Path) -> None:
    stale = tmp_path / "console" / "batchqueue-console" / "uploads" / "abandoned-upload-0001"
    stale.mkdir(parents=True)
    (stale / "list.csv").write_text("phone\n")
    month_ago = time.time() - 40 * 86400
    os.utime(stale / "list.csv", (month_ago, month_ago))
    os.utime(stale, (month_ago, month_ago))
    found = start_console(tmp_path)
    try:
        deadline = time.time() + 10
        while stale.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert not stale.exists()
        assert requests.get(found.url + "/login", timeout=10).status_code == 200
    finally:
        stop_console(found)
