"""Console sessions end when they should, and survive what they should (issue 20, item 7): over real
HTTP on 127.0.0.1, against a real console, its real ledger and the real command line.

- logging out, a new password and removing the user end every session of that user at once (a copy
  of the cookie kept by a thief stops working too); other users' sessions go on;
- the session key is kept beside the ledger (in the console's private folder, 0600), so a restart
  of the console logs nobody out; a key file others can read is refused; it is never printed.
"""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from batchqueue.console.server import ConsoleRequest, serve_console
from batchqueue.errors import UsageError
from batchqueue.service.users import add_user
from batchqueue.settings import Settings
from tests.conftest import CliResult
from tests.console_helpers import PASSWORD, USER, Running, api_session, start_console, stop_console

OTHER, OTHER_PASSWORD = "bob", "another good password"


def _jobs(session: requests.Session | None, url: str, cookies: dict[str, str] | None = None) -> int:
    client = session or requests
    return client.get(url + "/api/jobs", cookies=cookies, timeout=10, allow_redirects=False).status_code


def _db(running: Running) -> str:
    return running.settings.db_url.removeprefix("sqlite:///")


def test_logging_out_ends_every_session_of_that_user_and_no_one_elses(running: Running) -> None:
    add_user(running.settings, OTHER, OTHER_PASSWORD)
    first, first_token = api_session(running.url)
    second, _ = api_session(running.url)
    bob, _ = api_session(running.url, OTHER, OTHER_PASSWORD)
    kept = dict(first.cookies)  # a copy of the cookie, as a thief (or a shared computer) keeps it
    assert _jobs(first, running.url) == _jobs(second, running.url) == _jobs(bob, running.url) == 200

    out = first.post(running.url + "/logout", headers={"X-CSRFToken": first_token}, timeout=10, allow_redirects=False)
    assert out.status_code == 302
    assert _jobs(None, running.url, kept) == 401  # the old cookie is dead
    assert _jobs(second, running.url) == 401  # and so is the same user's other session
    page = requests.get(running.url + "/jobs", cookies=kept, timeout=10, allow_redirects=False)
    assert page.status_code == 302
    assert "/login" in page.headers["Location"]
    assert _jobs(bob, running.url) == 200  # another user is not logged out


def test_the_api_can_log_out_too(running: Running) -> None:
    session, token = api_session(running.url)
    kept = dict(session.cookies)
    out = session.post(running.url + "/api/logout", headers={"X-CSRFToken": token}, timeout=10)
    assert out.status_code == 200
    assert out.json() == {"user": None}
    assert _jobs(None, running.url, kept) == 401


def test_a_new_password_ends_every_session_of_that_user(
    running: Running, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(running.settings, OTHER, OTHER_PASSWORD)
    first, _ = api_session(running.url)
    second, _ = api_session(running.url)
    bob, _ = api_session(running.url, OTHER, OTHER_PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    changed = run_cli("user", "add", USER, "--password-stdin", "--db", _db(running))
    assert changed.code == 0, changed.err
    assert _jobs(first, running.url) == 401
    assert _jobs(second, running.url) == 401
    assert _jobs(bob, running.url) == 200
    assert "new password" in changed.out
    assert "sessions" in changed.out  # it says what happened to them
    with pytest.raises(requests.HTTPError):
        api_session(running.url)  # the old password no longer logs in
    fresh, _ = api_session(running.url, USER, "a brand new password")
    assert _jobs(fresh, running.url) == 200


def test_a_removed_user_is_logged_out_listed_no_more_and_cannot_log_in(
    running: Running, run_cli: Callable[..., CliResult]
) -> None:
    add_user(running.settings, OTHER, OTHER_PASSWORD)
    session, _ = api_session(running.url)
    listed = run_cli("user", "list", "--db", _db(running))
    assert listed.code == 0
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == [USER, OTHER]  # a header line, then users

    removed = run_cli("user", "remove", USER, "--db", _db(running))
    assert removed.code == 0, removed.err
    assert f"user {USER} removed" in removed.out
    assert _jobs(session, running.url) == 401
    with pytest.raises(requests.HTTPError):
        api_session(running.url)
    listed = run_cli("user", "list", "--db", _db(running))
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == [OTHER]

    again = run_cli("user", "remove", USER, "--db", _db(running))
    assert again.code == 2
    assert "no console user" in again.err
    assert "Traceback" not in again.err


def test_user_list_says_when_there_are_no_users(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    listed = run_cli("user", "list", "--db", str(tmp_path / "empty.db"))
    assert listed.code == 0
    assert "no console users" in listed.out
    assert "batchqueue user add" in listed.out


def test_sessions_survive_a_restart_of_the_console(tmp_path: Path) -> None:
    first = start_console(tmp_path)
    try:
        session, _ = api_session(first.url)
        assert _jobs(session, first.url) == 200
    finally:
        stop_console(first)
    # The same ledger and folder: a restart (users are not touched).
    second = serve_console(first.settings, ConsoleRequest(port=0, folder=tmp_path / "console")).start()
    try:
        assert _jobs(None, second.url, dict(session.cookies)) == 200
        key_files = list((second.ctx.upload_dir.parent).glob("session*key"))
    finally:
        second.close()
    assert len(key_files) == 1
    assert stat.S_IMODE(key_files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(key_files[0].parent.stat().st_mode) == 0o700


def test_a_session_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    running = start_console(tmp_path)
    folder = running.console.ctx.upload_dir.parent
    stop_console(running)
    (key_file,) = folder.glob("session*key")
    secret = key_file.read_text()
    settings = running.settings
    for mode in (0o640, 0o604, 0o660):
        key_file.chmod(mode)
        with pytest.raises(UsageError) as refused:
            serve_console(settings, ConsoleRequest(port=0, folder=tmp_path / "console"))
        assert str(key_file) in str(refused.value)
        assert "chmod 600" in str(refused.value)
        assert secret.strip() not in str(refused.value)
    key_file.chmod(0o600)
    os.mkfifo(folder / "fifo")
    key_file.unlink()
    (folder / "fifo").rename(key_file)  # not a regular file: refused at once, never waited on
    started = time.monotonic()
    with pytest.raises(UsageError) as refused:
        serve_console(settings, ConsoleRequest(port=0, folder=tmp_path / "console"))
    assert time.monotonic() - started < 5
    assert "not a regular file" in str(refused.value)


def test_consoles_starting_together_share_one_session_key(tmp_path: Path) -> None:
    from batchqueue.private_files import secret_key

    folder = tmp_path / "private"
    folder.mkdir(mode=0o700)
    found: list[bytes] = []
    gate = threading.Barrier(8)

    def make() -> None:
        gate.wait()
        found.append(secret_key(folder / "session.key"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 8
    assert len(set(found)) == 1
    assert len(found[0]) >= 32
    assert [p.name for p in folder.iterdir()] == ["session.key"]  # no partial file left behind


def test_the_session_key_is_never_printed_or_logged(tmp_path: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'console.db'}")
    add_user(settings, USER, PASSWORD)
    port_file = tmp_path / "port"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHQUEUE_")}
    console = subprocess.Popen(
        [
            *(sys.executable, "-m", "batchqueue", "--log-level", "debug", "console", "--port", "0"),
            *("--port-file", str(port_file), "--db", str(tmp_path / "console.db")),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        session, _ = api_session(url)
        assert _jobs(session, url) == 200
    finally:
        console.send_signal(signal.SIGINT)
        out, err = console.communicate(timeout=30)
    (key_file,) = (tmp_path / "console.db.console").glob("session*key")
    key = key_file.read_text().strip()
    assert len(key) >= 32
    assert key not in out.decode() + err.decode()


def test_users_and_their_session_versions_on_both_ledgers(ledger_url: str) -> None:
    """The console's side of the ledger, the same on SQLite and PostgreSQL."""
    from batchqueue.ledger import open_ledger
    from batchqueue.service import users

    settings = Settings(db_url=ledger_url)
    assert users.add_user(settings, USER, PASSWORD) is True
    assert users.add_user(settings, OTHER, OTHER_PASSWORD) is True
    ledger = open_ledger(ledger_url)
    try:
        first = users.log_in(ledger, USER, PASSWORD)
        assert first is not None
        assert users.log_in(ledger, USER, "not the password") is None
        assert users.log_in(ledger, "nobody", PASSWORD) is None
        assert users.session_is_current(ledger, USER, first)
        assert not users.session_is_current(ledger, USER, first + 1)
        assert not users.session_is_current(ledger, USER, str(first))  # a version is a number, not text
        assert not users.session_is_current(ledger, USER, True)
        users.end_sessions(ledger, USER)
        assert not users.session_is_current(ledger, USER, first)
        second = users.log_in(ledger, USER, PASSWORD)
        assert second is not None
        assert second != first
        bob = users.log_in(ledger, OTHER, OTHER_PASSWORD)
        assert users.add_user(settings, USER, "a brand new password") is False  # a new password...
        assert not users.session_is_current(ledger, USER, second)  # ...ends the sessions
        assert users.session_is_current(ledger, OTHER, bob)  # of that user only
        assert [u.name for u in users.list_users(settings)] == [USER, OTHER]
        users.remove_user(settings, USER)
        assert users.log_in(ledger, USER, "a brand new password") is None
        assert [u.name for u in users.list_users(settings)] == [OTHER]
        with pytest.raises(UsageError):
            users.remove_user(settings, USER)
    finally:
        ledger.close()
