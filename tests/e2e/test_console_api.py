"""The console's JSON API and its guards, over real HTTP on 127.0.0.1 (no browser needed): a script
can do what the pages do; logins are rate limited; uploads are size limited; no secret leaks."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from batchqueue.ledger import open_ledger
from tests.conftest import CliResult, write_csv
from tests.console_helpers import PASSWORD, USER, Running, api_session, start_console, stop_console
from tests.sandbox_helpers import assert_tallies_true, contacts


def test_a_script_uploads_checks_imports_sends_and_downloads_through_the_api(
    running: Running, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    file = contacts(tmp_path / "c.csv", 30)
    with file.open("rb") as f:
        made = session.post(running.url + "/api/uploads", files={"file": ("c.csv", f)}, **post)
    assert made.status_code == 201
    upload = made.json()["upload_id"]
    checked = session.post(f"{running.url}/api/uploads/{upload}/check", json={}, **post).json()
    assert checked["valid"] == 30
    assert checked["header_row"] == 1
    imported = session.post(
        f"{running.url}/api/uploads/{upload}/import", json={"survey": "4242", "instance": "1"}, **post
    )
    assert imported.status_code == 201
    job = imported.json()["job_id"]
    started = session.post(f"{running.url}/api/jobs/{job}/start", json={"concurrency": 4}, **post)
    assert started.status_code == 202
    assert started.json()["started_by"] == USER
    assert started.json()["running"] is True  # the reply comes as the process starts
    assert started.json()["exit_code"] is None
    assert running.console.ctx.supervisor.wait(job, 60) == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = session.get(f"{running.url}/api/jobs/{job}", timeout=10).json()
        if sum(seen["outcomes"].values()) == 30:
            break
        time.sleep(0.2)
    assert seen["counts"]["queued"] == 30
    assert sum(seen["outcomes"].values()) == 30
    assert sum(m["sent"] for m in seen["sent_per_minute"]) == 30
    assert [e["action"] for e in seen["audit"]][:2] == ["start", "import"]
    assert "exit" not in seen["run"]["message"]
    assert seen["run"]["exit_code"] == 0
    report = session.get(f"{running.url}/api/jobs/{job}/report.csv", timeout=30)
    assert report.status_code == 200
    assert report.text.count("\n") == 31
    assert_tallies_true(running.settings.db_url, job)
    # The key and every row's callback token stayed out of the replies and the logs.
    ledger = open_ledger(running.settings.db_url)
    try:
        with ledger.engine.connect() as conn:
            tokens = [t for (t,) in conn.exec_driver_sql("SELECT token FROM rows WHERE token IS NOT NULL")]
    finally:
        ledger.close()
    # The sandbox's own HTTP client (urllib3) logs the callback URLs it posts to: Insight's side, not ours.
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("urllib3")]
    shown = repr(seen) + report.text + "\n".join(ours)
    log_files = "".join(p.read_text() for p in (running.console.ctx.upload_dir.parent / "runs").glob("*.log"))
    for secret in [running.settings.api_key.reveal(), *tokens]:
        assert secret not in shown
        assert secret not in log_files


def test_the_api_needs_a_login_and_a_csrf_token(running: Running) -> None:
    assert requests.get(running.url + "/api/jobs", timeout=10).status_code == 401
    session, token = api_session(running.url)
    assert session.get(running.url + "/api/jobs", timeout=10).json()["jobs"] == []
    refused = session.post(running.url + "/api/dnc", json={"numbers": ["617-555-0100"]}, timeout=10)
    assert refused.status_code == 400
    done = session.post(
        running.url + "/api/dnc", json={"numbers": ["617-555-0100"]}, headers={"X-CSRFToken": token}, timeout=10
    )
    assert done.json()["added"] == 1
    document = session.get(running.url + "/api/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert "/api/jobs/{job_id}/start" in document["paths"]


def test_logins_are_rate_limited(running: Running) -> None:
    session = requests.Session()
    token = session.get(running.url + "/api/session", timeout=10).json()["csrf_token"]
    codes = [
        session.post(
            running.url + "/api/login",
            json={"user": USER, "password": f"guess {i}"},
            headers={"X-CSRFToken": token},
            timeout=10,
        ).status_code
        for i in range(7)
    ]
    assert codes[:5] == [401] * 5  # 5 failed logins a minute for one user name from one client (README)
    assert codes[5:] == [429, 429]
    # Even the right password waits out the limit.
    right = session.post(
        running.url + "/api/login",
        json={"user": USER, "password": PASSWORD},
        headers={"X-CSRFToken": token},
        timeout=10,
    )
    assert right.status_code == 429


def test_an_upload_over_the_limit_is_refused_and_not_kept(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    big = write_csv(tmp_path / "big.csv", [["phone", "note"]] + [["617-555-0100", "x" * 200]] * 12_000)
    assert big.stat().st_size > running.console.ctx.max_upload
    with big.open("rb") as f:
        reply = session.post(
            running.url + "/api/uploads", files={"file": ("big.csv", f)}, headers={"X-CSRFToken": token}, timeout=30
        )
    assert reply.status_code == 413
    assert "larger than" in reply.json()["error"]
    assert not any(running.console.ctx.upload_dir.iterdir())


def test_the_callback_endpoint_needs_no_login_and_checks_each_rows_token(running: Running, tmp_path: Path) -> None:
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.service.loading import ImportRequest, import_file

    import_file(running.settings, ImportRequest(contacts(tmp_path / "c.csv", 1), MappingSpec(), "4242", "1"))
    reply = requests.post(running.url + "/cb/1/" + "0" * 32, data={"status": "completed"}, timeout=10)
    assert reply.status_code == 404
    assert reply.json() == {"error": "unknown callback URL"}


def test_user_add_hashes_the_password_and_refuses_a_short_one(
    run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    refused = run_cli("user", "add", "bob", "--password-stdin", "--db", "l.db")
    assert refused.code == 2
    assert "too short" in refused.err
    assert "Traceback" not in refused.err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    made = run_cli("user", "add", "bob", "--password-stdin", "--db", "l.db")
    assert made.code == 0
    assert "user bob created" in made.out
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        stored = ledger.password_hash("bob")
        assert stored is not None
        assert stored.startswith("$argon2id$")
        assert "a long enough" not in stored
        from batchqueue.service.users import authenticate

        assert authenticate(ledger, "bob", "a long enough password")
        assert not authenticate(ledger, "bob", "a long enough passwore")
        assert not authenticate(ledger, "nobody", "a long enough password")
    finally:
        ledger.close()


def test_a_run_started_from_the_command_line_shows_up_live(tmp_path: Path) -> None:
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.service.loading import ImportRequest, import_file

    running = start_console(tmp_path, latency=0.05)
    import_file(running.settings, ImportRequest(contacts(tmp_path / "c.csv", 60), MappingSpec(), "4242", "1"))
    env = {**os.environ, **running.settings.as_environ()}
    cli = subprocess.Popen(
        [sys.executable, "-m", "batchqueue", "run", "1", "--concurrency", "1", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    session, _ = api_session(running.url)
    try:
        seen = []
        while cli.poll() is None:
            job = session.get(running.url + "/api/jobs/1?summary=1", timeout=10).json()
            seen.append((job["activity"]["running"], job["counts"]["queued"]))
            time.sleep(0.2)
        assert cli.returncode == 0
        assert any(running_ and 0 < queued < 60 for running_, queued in seen)  # seen sending, mid-way
        assert job["run"] is None  # not the console's run: only shown, not supervised
        final = session.get(running.url + "/api/jobs/1?summary=1", timeout=10).json()
        assert final["counts"]["queued"] == 60
        assert not final["activity"]["running"]
    finally:
        if cli.poll() is None:
            cli.kill()
        stop_console(running)


def test_the_problems_table_filters_by_state_and_reason_in_file_order(running: Running, tmp_path: Path) -> None:
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.service.loading import ImportRequest, import_file

    rows = [["phone", "name"]] + [[f"617555{i:04d}" if i % 3 else "12345", f"n{i}"] for i in range(1, 121)]
    import_file(running.settings, ImportRequest(write_csv(tmp_path / "p.csv", rows), MappingSpec(), "4242", "1"))
    session, _ = api_session(running.url)

    def problems(query: str) -> list[dict[str, object]]:
        found: list[dict[str, object]] = session.get(f"{running.url}/api/jobs/1?{query}", timeout=10).json()["problems"]
        return found

    first = problems("")
    assert [p["row"] for p in first] == [4 + 3 * i for i in range(40)]  # rows 4, 7, 10… (file order)
    assert all(p["state"] == "invalid" and "digits" in str(p["reason"]) for p in first)
    assert problems("state=failed") == []
    assert len(problems("contains=DIGITS")) == 40  # any case
    assert problems("contains=nothing%20like%20this") == []
    assert problems("contains=%25") == []  # a LIKE wildcard is searched for as itself
    fix = session.get(f"{running.url}/api/jobs/1/fix.csv", timeout=10)
    lines = fix.content.decode("utf-8-sig").splitlines()  # with a BOM, as Excel wants
    assert lines[0] == "bq_row,bq_reason,phone,name"  # the one fix-file shape
    assert len(lines) == 41


def _workbook_of_every_kind(folder: Path) -> dict[str, Path]:
    """One small contact list in each format `batchqueue check` reads (phone, name; two contacts)."""
    from tests.workbook_makers import inline_row, ods_file, ods_row, xls_file, xlsb_file, xlsx_file

    cells = [(0, 0, "phone"), (0, 1, "name"), (1, 0, "6175550101"), (1, 1, "Ann"), (2, 0, "6175550102"), (2, 1, "Bo")]
    rows = [["phone", "name"], ["6175550101", "Ann"], ["6175550102", "Bo"]]
    sheet = "".join(inline_row(n, r) for n, r in enumerate(rows, 1))
    made = {
        ".csv": folder / "c.csv",
        ".tsv": folder / "c.tsv",
        ".txt": folder / "c.txt",
        ".xlsx": xlsx_file(folder / "c.xlsx", sheet),
        ".xlsm": xlsx_file(folder / "c.xlsm", sheet),
        ".xlsb": xlsb_file(folder / "c.xlsb", cells),
        ".xls": xls_file(folder / "c.xls", cells),
        ".ods": ods_file(folder / "c.ods", "".join(ods_row(list(r)) for r in rows)),
    }
    made[".csv"].write_text("\n".join(",".join(r) for r in rows) + "\n")
    made[".tsv"].write_text("\n".join("\t".join(r) for r in rows) + "\n")
    made[".txt"].write_text("\n".join(";".join(r) for r in rows) + "\n")
    return made


def test_the_console_takes_every_format_the_command_line_reads(
    running: Running, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    """What `batchqueue check` reads, the console's upload and check read too (xlsb was refused)."""
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    for suffix, path in _workbook_of_every_kind(tmp_path).items():
        assert run_cli("check", path).code == 0, suffix
        with path.open("rb") as f:
            made = session.post(running.url + "/api/uploads", files={"file": (path.name, f)}, **post)
        assert made.status_code == 201, (suffix, made.text)
        checked = session.post(f"{running.url}/api/uploads/{made.json()['upload_id']}/check", json={}, **post)
        assert checked.json()["valid"] == 2, (suffix, checked.text)
