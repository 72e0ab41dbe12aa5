"""The console's guards, over real HTTP against a real console (issue 20, items 11 and 12).

Routes are enumerated from the Flask url_map, so a route added later is covered without editing
these tests: every state-changing route refuses a request without its CSRF token, every other route
but the login's needs a live session, and no numeric parameter of any route makes the console fail.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from werkzeug.routing import Rule

from batchqueue.console.server import ConsoleRequest, serve_console
from batchqueue.errors import UsageError
from batchqueue.ledger import open_ledger
from batchqueue.service.users import add_user
from tests.console_helpers import PASSWORD, USER, Running, api_session, client_session, start_console, stop_console
from tests.sandbox_helpers import contacts
from tests.workbook_makers import inline_row, xlsx_file

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
#: Routes anyone may reach: the login (page and API), the CSRF token a login needs, the stylesheet.
OPEN_ENDPOINTS = {"auth.login", "auth.api_login", "auth.api_session", "static"}


def _rules(running: Running) -> list[Rule]:
    return [r for r in running.console.app.url_map.iter_rules() if r.endpoint != "static"]


def _path(rule: Rule, **values: Any) -> str:
    defaults = {"job_id": 1, "fmt": "csv", "check_id": "no-such-check"} | values
    built = rule.build({a: defaults[a] for a in rule.arguments})
    assert built is not None
    return built[1]


def _prepared(running: Running, tmp_path: Path) -> tuple[requests.Session, str, str]:
    """A logged-in session (and token) on a console holding job 1 and one upload."""
    session, token = api_session(running.url)
    file = contacts(tmp_path / "few.csv", 5)
    with file.open("rb") as f:
        made = session.post(
            running.url + "/api/uploads", files={"file": ("few.csv", f)}, headers={"X-CSRFToken": token}, timeout=30
        )
    upload_id = made.json()["upload_id"]
    imported = session.post(
        f"{running.url}/api/uploads/{upload_id}/import",
        json={"survey": "4242", "instance": "1"},
        headers={"X-CSRFToken": token},
        timeout=30,
    )
    assert imported.json()["job_id"] == 1
    return session, token, upload_id


def _state(running: Running) -> tuple[object, ...]:
    ledger = open_ledger(running.settings.db_url)
    try:
        with ledger.engine.connect() as conn:
            audit = conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar()
            jobs = conn.exec_driver_sql("SELECT count(*) FROM jobs").scalar()
            dnc = conn.exec_driver_sql("SELECT count(*) FROM dnc_entries").scalar()
            versions = conn.exec_driver_sql("SELECT name, session_version FROM console_users").all()
        return audit, jobs, dnc, tuple(versions), tuple(sorted(ledger.counts(1).items()))
    finally:
        ledger.close()


def test_every_state_changing_route_refuses_a_request_without_its_csrf_token(running: Running, tmp_path: Path) -> None:
    session, _, upload_id = _prepared(running, tmp_path)
    before = _state(running)
    checked = set()
    for rule in _rules(running):
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            path = _path(rule, upload_id=upload_id)
            bodies: list[dict[str, Any]] = [
                {"json": {"confirm": True, "numbers": ["617-555-0100"], "outcomes": ["failed"]}},
                {"data": {"confirm": "1", "numbers": "617-555-0100", "outcome": "failed", "survey": "1"}},
                {"files": {"file": ("x.csv", b"phone\r\n617-555-0101\r\n")}},
            ]
            for body in bodies:
                reply = session.request(method, running.url + path, timeout=30, allow_redirects=False, **body)
                assert reply.status_code == 400, (method, path, reply.status_code, reply.text[:200])
                assert "CSRF" in reply.text
            checked.add(rule.endpoint)
    # The enumeration found the routes a user changes things with, pages and API alike.
    assert {"pages.start", "api.start", "pages.cancel", "api.cancel", "pages.upload", "api.upload"} <= checked
    assert {"pages.dnc_lists", "api.dnc_lists", "auth.logout", "auth.api_logout"} <= checked
    assert {"auth.login", "auth.api_login"} <= checked
    assert running.console.ctx.supervisor.run_of(1) is None  # nothing was started
    assert _state(running) == before  # nothing changed: no audit entry, job, list entry or logout
    assert session.get(running.url + "/api/jobs", timeout=10).status_code == 200


def test_every_route_but_the_login_needs_a_live_session(running: Running, tmp_path: Path) -> None:
    session, _, upload_id = _prepared(running, tmp_path)
    # Three callers without a live session, each with a valid CSRF token of its own session (so
    # that a POST is refused for want of a login, not of a token): none at all, an anonymous one,
    # and one whose user has logged out since.
    anonymous = client_session()
    anonymous_token = anonymous.get(running.url + "/api/session", timeout=10).json()["csrf_token"]
    add_user(running.settings, "bob", "another good password")
    logged_out, logged_out_token = api_session(running.url, "bob", "another good password")
    stale = dict(logged_out.cookies)
    logged_out.post(running.url + "/api/logout", headers={"X-CSRFToken": logged_out_token}, timeout=10)
    callers = [({}, ""), (dict(anonymous.cookies), anonymous_token), (stale, logged_out_token)]
    before = _state(running)
    checked = set()
    for rule in _rules(running):
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        for method in sorted((rule.methods or set()) & {"GET", *STATE_CHANGING}):
            path = _path(rule, upload_id=upload_id)
            for cookies, token in callers:
                if method != "GET" and not token:
                    continue  # refused by the CSRF check (the test above)
                reply = requests.request(
                    method,
                    running.url + path,
                    cookies=cookies,
                    headers={"X-CSRFToken": token} if token else {},
                    json={"confirm": True},
                    timeout=30,
                    allow_redirects=False,
                )
                if path.startswith("/api/"):
                    assert reply.status_code == 401, (method, path, reply.status_code)
                else:
                    assert reply.status_code == 302, (method, path, reply.status_code)
                    assert urlsplit(reply.headers["Location"]).path == "/login"
                assert "bq_row" not in reply.text  # no report, no fix file
                assert "617555" not in reply.text  # no contact's number
            checked.add(rule.endpoint)
    downloads = {"pages.report", "pages.fix_file", "api.report", "api.fix_file"}
    assert downloads <= checked
    assert {"pages.start", "api.start", "api.cancel", "auth.api_logout"} <= checked
    assert _state(running)[:3] == before[:3]  # no audit entry, job or list entry was made
    assert running.console.ctx.supervisor.run_of(1) is None
    assert session.get(running.url + "/api/jobs/1/report.csv", timeout=30).status_code == 200  # with a session


def test_every_api_route_is_in_the_openapi_document(running: Running) -> None:
    session, _ = api_session(running.url)
    documented = session.get(running.url + "/api/openapi.json", timeout=10).json()["paths"]
    for rule in _rules(running):
        if not rule.rule.startswith("/api/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in documented, path
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in documented[path], (method, path)


HOSTILE_NEXT = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "https://evil.example",
    "https:/evil.example",
    "https:evil.example",
    "HTTPS://evil.example",
    "//evil.example/jobs",
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "evil.example",
    "@evil.example",
    "/%09/evil.example",
    "/%5Cevil.example",
    "/jobs/../\\evil.example",
]


def _login_next(url: str, target: str) -> requests.Response:
    session = client_session()
    token = session.get(url + "/api/session", timeout=10).json()["csrf_token"]
    return session.post(
        f"{url}/login?next={quote(target, safe='')}",
        data={"user": USER, "password": PASSWORD},
        headers={"X-CSRFToken": token},
        timeout=30,
        allow_redirects=False,
    )


def test_login_follows_next_only_to_this_consoles_own_pages(running: Running) -> None:
    for target in HOSTILE_NEXT:
        reply = _login_next(running.url, target)
        assert reply.status_code == 302, target
        assert reply.headers["Location"] == "/jobs", (target, reply.headers["Location"])
    for target in ("/jobs/1", "/jobs/1?state=failed&page=2", "/dnc", "/upload"):
        reply = _login_next(running.url, target)
        assert reply.headers["Location"] == target


HOSTILE_NUMBERS = [
    "²",
    "٣",
    "１",
    "-1",
    "0x10",
    " 1",
    "1 ",
    "1.5",
    "1e999",
    "nan",
    "inf",
    "-inf",
    str(2**63),
    str(2**64),
    "9" * 30,
    "9" * 5000,
    "",
]
JSON_VALUES: list[Any] = [2**64, 10**30, -1, 0, 1.5, 1e308, float("inf"), float("nan"), True, None, [], {}, [1]]
NUMERIC_FIELDS = ("page", "header_row", "concurrency", "rate", "summary", "after", "calling_hours")


def test_no_numeric_parameter_of_any_route_makes_the_console_fail(running: Running, tmp_path: Path) -> None:
    session, token, upload_id = _prepared(running, tmp_path)
    seen: set[int] = set()
    for rule in _rules(running):
        if rule.endpoint in ("auth.logout", "auth.api_logout"):
            continue
        methods = sorted((rule.methods or set()) & {"GET", *STATE_CHANGING})
        for value in HOSTILE_NUMBERS:
            paths = [_path(rule, upload_id=upload_id)]
            if "job_id" in rule.arguments:
                paths.append(_path(rule, upload_id=upload_id, job_id=1).replace("/jobs/1", f"/jobs/{quote(value)}", 1))
            fields = dict.fromkeys(NUMERIC_FIELDS, value)
            for path in paths:
                for method in methods:
                    if method == "GET":
                        reply = session.get(running.url + path, params=fields, timeout=30, allow_redirects=False)
                    else:
                        headers = {"X-CSRFToken": token}
                        body = {**fields, "confirm": True, "survey": "4242", "instance": "1"}
                        reply = session.request(
                            method, running.url + path, json=body, headers=headers, timeout=30, allow_redirects=False
                        )
                        seen.add(reply.status_code)
                        assert reply.status_code < 500, (method, path, value, reply.text[:300])
                        reply = session.request(
                            method, running.url + path, data=body, headers=headers, timeout=30, allow_redirects=False
                        )
                    seen.add(reply.status_code)
                    assert reply.status_code < 500, (method, path, value, reply.text[:300])
                    assert "Traceback" not in reply.text
        if running.console.ctx.supervisor.run_of(1) is not None:
            running.console.ctx.supervisor.wait(1, 60)
    # JSON bodies whose numbers are JSON numbers, or not numbers at all.
    for rule in _rules(running):
        if not rule.rule.startswith("/api/") or "POST" not in (rule.methods or set()) or "logout" in rule.rule:
            continue
        for value in JSON_VALUES:
            body = dict.fromkeys(NUMERIC_FIELDS, value) | {"confirm": True, "survey": "4242", "instance": "1"}
            reply = session.post(
                running.url + _path(rule, upload_id=upload_id),
                data=json.dumps(body),  # NaN and Infinity as Python writes them
                headers={"X-CSRFToken": token, "Content-Type": "application/json"},
                timeout=30,
            )
            seen.add(reply.status_code)
            assert reply.status_code < 500, (rule.rule, value, reply.text[:300])
        if running.console.ctx.supervisor.run_of(1) is not None:
            running.console.ctx.supervisor.wait(1, 60)
    assert 400 in seen
    assert 404 in seen


def test_a_bad_number_is_a_clear_400_naming_the_parameter(running: Running, tmp_path: Path) -> None:
    session, token, upload_id = _prepared(running, tmp_path)
    for value in ("²", "-1", "9" * 30):
        reply = session.get(f"{running.url}/api/jobs/1", params={"page": value}, timeout=10)
        assert reply.status_code == 400
        assert "page" in reply.json()["error"]
        checked = session.get(f"{running.url}/uploads/{upload_id}/check", params={"header_row": value}, timeout=30)
        assert checked.status_code == 400
        assert "header row" in checked.text
    for value in (str(2**63), "9" * 30, "٣"):
        assert session.get(f"{running.url}/api/jobs/{quote(value)}", timeout=10).status_code == 404
        assert session.get(f"{running.url}/jobs/{quote(value)}", timeout=10).status_code == 404
    for rate in ("nan", "inf", "0", "-2"):
        reply = session.post(
            f"{running.url}/api/jobs/1/start", json={"rate": rate}, headers={"X-CSRFToken": token}, timeout=10
        )
        assert reply.status_code == 400
        assert "rate" in reply.json()["error"]
    assert running.console.ctx.supervisor.run_of(1) is None


def test_no_reply_or_error_names_a_path_on_the_server(running: Running, tmp_path: Path) -> None:
    session, token, _ = _prepared(running, tmp_path)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    folder = running.console.ctx.upload_dir.parent
    server_paths = [str(tmp_path), str(folder), folder.name + "/uploads"]
    shown: list[str] = []
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a workbook" * 10)
    empty = tmp_path / "empty list.csv"
    empty.write_bytes(b"")
    far = xlsx_file(
        tmp_path / "far.xlsx",
        inline_row(1, ["phone"]) + "<row r='1048576'><c r='xfd1048576' t='inlineStr'><is><t>x</t></is></c></row>",
    )
    refused = (broken, empty, far)
    for file in (*refused, contacts(tmp_path / "good.csv", 3)):
        with file.open("rb") as f:
            made = session.post(running.url + "/api/uploads", files={"file": (file.name, f)}, **post)
        assert made.status_code == 201
        assert made.json()["file"] == file.name
        upload_id = made.json()["upload_id"]
        checked = session.post(f"{running.url}/api/uploads/{upload_id}/check", json={}, **post)
        page = session.get(f"{running.url}/uploads/{upload_id}/check", timeout=30)
        imported = session.post(
            f"{running.url}/api/uploads/{upload_id}/import", json={"survey": "4242", "instance": "1"}, **post
        )
        for reply in (checked, page, imported):
            assert reply.status_code < 500
            shown.append(reply.text)
        if file in refused:
            assert checked.status_code == 400
            assert file.name in checked.json()["error"]  # the upload is named by its own name
            assert file.name in page.text
        else:
            assert checked.json()["file"] == file.name
            assert imported.json()["file"] == file.name
    shown.append(session.get(running.url + "/api/jobs", timeout=10).text)
    for text in shown:
        for server_path in server_paths:
            assert server_path not in text


UNICODE_NAMES = ["данные.csv", "客户.xlsx", "Ünïcödé list (final).csv", "مخاطبین.csv", "Q3: calls? yes.csv"]
HOSTILE_NAMES = [
    "../../evil.csv",
    "..\\..\\evil.csv",
    "/etc/passwd.csv",
    "C:\\Users\\ana\\contacts.csv",
    "a\x00b.csv",
    "new\nline.csv",
    "x" * 400 + ".csv",
    "ы" * 200 + ".csv",
    "CON.csv",
    "nul.csv",
    "LPT1.xlsx",
    ".hidden.csv",
    "...csv",
    "report\u202excs.exe.csv",
    "..",
]


def test_uploads_keep_their_real_names_and_are_stored_under_safe_ones(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    body = b"phone\r\n617-555-0101\r\n"
    folder = running.console.ctx.upload_dir
    for name in UNICODE_NAMES:
        made = session.post(running.url + "/api/uploads", files={"file": (name, body)}, **post)
        assert made.status_code == 201, (name, made.text)
        assert made.json()["file"] == name  # shown as the user named it
        page = session.get(f"{running.url}/uploads/{made.json()['upload_id']}/check", timeout=30)
        assert name in page.text.replace("&#39;", "'")
    for name in HOSTILE_NAMES:
        made = session.post(running.url + "/api/uploads", files={"file": (name, body)}, **post)
        if name == "..":
            assert made.status_code == 400
            continue
        assert made.status_code == 201, (name, made.text)
        upload_id = made.json()["upload_id"]
        (stored,) = (folder / upload_id).iterdir()
        assert stored.resolve().parent == (folder / upload_id).resolve()  # nowhere else
        assert len(stored.name.encode()) <= 255
        assert not stored.name.startswith(".")
        assert not re.search(r"[\x00-\x1f\x7f/\\\u202a-\u202e\u2066-\u2069]", stored.name)
        assert stored.suffix in (".csv", ".xlsx")
        assert stored.name.split(".")[0].upper() not in ("CON", "NUL", "LPT1")
        assert made.json()["file"] == stored.name  # what is shown is what is kept
    assert session.post(running.url + "/api/uploads", files={"file": ("data.exe", body)}, **post).status_code == 400


def test_a_folder_given_with_folder_is_never_chmodded(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: world-writable, sticky
    found = start_console(tmp_path, folder=shared)
    try:
        private = found.console.ctx.upload_dir.parent
        assert private.parent == shared
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    finally:
        stop_console(found)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # the sticky bit is kept

    # A subfolder of that name someone else made (or a link to elsewhere) is not used.
    private.rename(tmp_path / "moved")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    private.symlink_to(elsewhere)
    with pytest.raises(UsageError) as refused:
        serve_console(found.settings, ConsoleRequest(port=0, folder=shared))
    assert str(private) in str(refused.value)
    private.unlink()
    if os.geteuid() == 0:
        private.mkdir(mode=0o700)
        os.chown(private, 65534, 65534)
        with pytest.raises(UsageError) as refused:
            serve_console(found.settings, ConsoleRequest(port=0, folder=shared))
        assert "another user" in str(refused.value)


def test_a_run_started_from_the_console_imports_nothing_from_its_working_folder(
    running: Running, tmp_path: Path
) -> None:
    marker = tmp_path / "planted-code-ran"
    for module in ("click", "sqlalchemy", "requests", "batchqueue"):
        planted = tmp_path / (module + ".py")
        planted.write_text(f"open({str(marker)!r}, 'a').write({module!r})\n")
    sitecustomize = tmp_path / "sitecustomize.py"
    sitecustomize.write_text(f"open({str(marker)!r}, 'a').write('sitecustomize')\n")
    assert Path.cwd() == tmp_path  # the console's working folder (the test's own)
    session, token, _ = _prepared(running, tmp_path)
    started = session.post(
        running.url + "/api/jobs/1/start", json={"concurrency": 2}, headers={"X-CSRFToken": token}, timeout=30
    )
    assert started.status_code == 202
    assert running.console.ctx.supervisor.wait(1, 60) == 0
    assert not marker.exists(), marker.read_text()
