"""Failed logins slow one client down on one user name, and lock nobody else out (issue 20, item 8).

Real clients over real sockets: 127.0.0.0/8 is all loopback, so connections bound to 127.0.0.2 or
127.0.0.3 are other clients to the console, as they would be on a network. The README documents
the limits: 5 failed logins a minute for one user name from one client (10 in 15 minutes, 20 a
day), 30 a minute from one client whatever the names; successful logins never count.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from batchqueue.service.users import add_user
from tests.console_helpers import PASSWORD, USER, Running, client_session, start_console, stop_console

OTHER, OTHER_PASSWORD = "bob", "another good password"
PER_USER_AND_CLIENT = 5  # failed logins a minute (README)
PER_CLIENT = 30  # failed logins a minute from one client, whatever the user names (README)


def _login(
    url: str, user: str, password: str, *, source: str | None = None, forwarded: str | None = None
) -> requests.Response:
    session = client_session(source)
    token = session.get(url + "/api/session", timeout=10).json()["csrf_token"]
    headers = {"X-CSRFToken": token}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return session.post(url + "/api/login", json={"user": user, "password": password}, headers=headers, timeout=30)


def _fail(url: str, times: int, user: str = USER, **client: str) -> list[int]:
    return [_login(url, user, f"wrong guess {i}", **client).status_code for i in range(times)]


def test_failed_logins_slow_one_client_down_on_one_user_and_lock_nobody_else_out(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="batchqueue")
    add_user(running.settings, OTHER, OTHER_PASSWORD)
    url = running.url
    # One client guesses: refused after the limit, the right password too (the limit holds).
    assert _fail(url, PER_USER_AND_CLIENT, source="127.0.0.1") == [401] * PER_USER_AND_CLIENT
    refused = _login(url, USER, PASSWORD, source="127.0.0.1")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60  # slowed down for a minute, not locked for long
    assert "try again in" in refused.json()["error"]
    # The same client, another user: not refused.
    assert _login(url, OTHER, OTHER_PASSWORD, source="127.0.0.1").status_code == 200
    # Another client guessing the same user is limited on its own...
    assert _fail(url, PER_USER_AND_CLIENT + 1, source="127.0.0.2") == [401] * PER_USER_AND_CLIENT + [429]
    assert _fail(url, PER_USER_AND_CLIENT + 1, source="127.0.0.4") == [401] * PER_USER_AND_CLIENT + [429]
    # ...and the right user from a third client logs in at once, however many guesses were made.
    assert _login(url, USER, PASSWORD, source="127.0.0.3").status_code == 200

    # Each refusal is logged with the user name and the client, never the password.
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("batchqueue")]
    wrong = [line for line in lines if "login refused" in line and "wrong" in line]
    limited = [line for line in lines if "login refused" in line and "too many" in line]
    assert len(wrong) == 3 * PER_USER_AND_CLIENT
    assert len(limited) == 3
    assert all(USER in line for line in wrong + limited)
    assert any("127.0.0.2" in line for line in limited)
    assert not [line for line in lines if "wrong guess" in line or PASSWORD in line]


def test_twenty_wrong_passwords_from_anywhere_lock_the_user_out_of_nothing(running: Running) -> None:
    for client in ("127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15"):
        assert _fail(running.url, 4, source=client) == [401] * 4
    assert _login(running.url, USER, PASSWORD, source="127.0.0.16").status_code == 200
    assert _login(running.url, USER, PASSWORD, source="127.0.0.11").status_code == 200


def test_one_client_trying_many_user_names_is_slowed_down_too(running: Running) -> None:
    url = running.url
    codes = [_login(url, f"user{i}", "wrong guess", source="127.0.0.5").status_code for i in range(PER_CLIENT + 1)]
    assert codes == [401] * PER_CLIENT + [429]
    assert _login(url, USER, PASSWORD, source="127.0.0.5").status_code == 429
    assert _login(url, USER, PASSWORD, source="127.0.0.6").status_code == 200


def test_behind_a_trusted_proxy_each_forwarded_client_is_its_own(tmp_path: Path) -> None:
    found = start_console(tmp_path, trusted_proxy="127.0.0.1")
    url = found.url
    try:
        attacker, colleague = "203.0.113.7", "198.51.100.9"
        codes = _fail(url, PER_USER_AND_CLIENT + 1, source="127.0.0.1", forwarded=attacker)
        assert codes == [401] * PER_USER_AND_CLIENT + [429]
        # Everyone reaches the console through the proxy: a colleague still logs in.
        assert _login(url, USER, PASSWORD, source="127.0.0.1", forwarded=colleague).status_code == 200
        # The proxy appends the address it saw: an address the client wrote before it is not believed.
        spoofed = f"{colleague}, {attacker}"
        assert _login(url, USER, PASSWORD, source="127.0.0.1", forwarded=spoofed).status_code == 429
        # A client that is not the proxy cannot choose its address by writing the header.
        codes = _fail(url, PER_USER_AND_CLIENT + 1, source="127.0.0.2", forwarded="192.0.2.1")
        assert codes == [401] * PER_USER_AND_CLIENT + [429]
        assert _login(url, USER, PASSWORD, source="127.0.0.2", forwarded="192.0.2.99").status_code == 429
        # An IPv6 client is its /64: another address of the same network is the same client.
        codes = _fail(url, PER_USER_AND_CLIENT, source="127.0.0.1", forwarded="2001:db8:1:2::1")
        assert codes == [401] * PER_USER_AND_CLIENT
        assert _login(url, USER, PASSWORD, source="127.0.0.1", forwarded="2001:db8:1:2::beef").status_code == 429
        assert _login(url, USER, PASSWORD, source="127.0.0.1", forwarded="2001:db8:1:3::1").status_code == 200
    finally:
        stop_console(found)


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(running: Running) -> None:
    url = running.url
    codes = [
        _login(url, USER, "wrong guess", source="127.0.0.7", forwarded=f"192.0.2.{i}").status_code
        for i in range(PER_USER_AND_CLIENT + 1)
    ]
    assert codes == [401] * PER_USER_AND_CLIENT + [429]
