"""The console's JSON API reads every key of a body or refuses it (a 400 naming it): a misspelt
rule never imports, or runs, with the defaults. Named rules may come as ``rules``, checked as
``import --rule NAME=VALUE`` checks them. A real console and sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from tests.console_helpers import Running, api_session
from tests.sandbox_helpers import contacts


def _upload(running: Running, session: requests.Session, post: dict[str, Any], tmp_path: Path) -> str:
    with contacts(tmp_path / "c.csv", 5).open("rb") as f:
        made = session.post(running.url + "/api/uploads", files={"file": ("c.csv", f)}, **post)
    assert made.status_code == 201
    return str(made.json()["upload_id"])


def _jobs(running: Running, session: requests.Session) -> list[int]:
    listed = session.get(running.url + "/api/jobs?show=all", timeout=10).json()["jobs"]
    return [j["job_id"] for j in listed]


def test_an_import_refuses_unknown_keys_and_reads_rules_as_the_rule_registry(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    upload = _upload(running, session, post, tmp_path)
    url = f"{running.url}/api/uploads/{upload}/import"
    survey = {"survey": "4242", "instance": "1"}

    # A rule at the top level under the command line's spelling: no key of the API; refused, named.
    misspelt = session.post(url, json=survey | {"calling-hours": "10:00-18:00", "recontact": "3d"}, **post)
    assert misspelt.status_code == 400
    said = misspelt.json()["error"]
    assert "'calling-hours'" in said
    assert "'recontact'" in said
    # Hours wider than 47 CFR 64.1200(c)(1)'s 08:00-21:00 are refused in `rules` as `--rule` refuses them.
    wide = session.post(url, json=survey | {"rules": {"calling-hours": "07:00-22:00"}}, **post)
    assert wide.status_code == 400
    assert "08:00-21:00" in wide.json()["error"]
    unknown_rule = session.post(url, json=survey | {"rules": {"calling-hour": "10:00-18:00"}}, **post)
    assert unknown_rule.status_code == 400
    assert "calling-hour" in unknown_rule.json()["error"]
    twice = session.post(
        url, json=survey | {"calling_hours": "10:00-18:00", "rules": {"calling-hours": "10:00-17:00"}}, **post
    )
    assert twice.status_code == 400
    assert _jobs(running, session) == []  # nothing imported by any refused call

    made = session.post(url, json=survey | {"rules": {"calling-hours": "10:00-18:00", "days": "mon-fri"}}, **post)
    assert made.status_code == 201, made.text
    job = session.get(f"{running.url}/api/jobs/{made.json()['job_id']}", timeout=10).json()
    assert job["calling_rules"].startswith("10:00-18:00 local, mon-fri")


def test_outside_federal_hours_in_rules_lets_wider_hours_in(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    upload = _upload(running, session, post, tmp_path)
    rules = {"calling-hours": "07:00-22:00", "outside-federal-hours": True}
    made = session.post(
        f"{running.url}/api/uploads/{upload}/import", json={"survey": "4242", "instance": "1", "rules": rules}, **post
    )
    assert made.status_code == 201, made.text
    job = session.get(f"{running.url}/api/jobs/{made.json()['job_id']}", timeout=10).json()
    assert "07:00-22:00" in json.dumps(job["calling_rules"])


def test_every_json_route_refuses_a_key_it_does_not_read(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    upload = _upload(running, session, post, tmp_path)
    made = session.post(f"{running.url}/api/uploads/{upload}/import", json={"survey": "4242", "instance": "1"}, **post)
    assert made.status_code == 201
    job = made.json()["job_id"]
    asked = {
        f"/api/uploads/{upload}/check": {"phone_colum": "Phone"},
        f"/api/jobs/{job}/start": {"concurency": 4},
        f"/api/jobs/{job}/edit": {"survey": "1", "instance": "1", "forced": True},
        f"/api/jobs/{job}/archive": {"undo": False, "confirm": True},
        f"/api/jobs/{job}/delete": {"confirmed": True},
        f"/api/jobs/{job}/cancel": {"confirm": True, "now": True},
        f"/api/jobs/{job}/pause": {"confirm": True},
        f"/api/jobs/{job}/uncancel": {"rows": [1]},
        f"/api/jobs/{job}/retry": {"rows": [1]},
        f"/api/jobs/{job}/reconcile": {"rows": [1]},
        f"/api/jobs/{job}/recycle": {"outcome": ["failed"]},
        f"/api/jobs/{job}/answers": {"reports": "x"},
        "/api/dnc": {"list": "a", "number": ["617-555-0100"]},
    }
    for path, body in asked.items():
        reply = session.post(running.url + path, json=body, **post)
        assert reply.status_code == 400, (path, reply.status_code, reply.text)
        error = reply.json()["error"]
        assert "unknown key" in error, (path, error)
    # Nothing of it was done: the job is neither archived, canceled nor gone, and no list was made.
    seen = session.get(f"{running.url}/api/jobs/{job}", timeout=10).json()
    assert seen["archived_at"] is None
    assert seen["counts"].get("canceled", 0) == 0
    assert session.get(running.url + "/api/dnc", timeout=10).json()["lists"] == []


def test_the_login_names_an_unknown_key_instead_of_reading_an_empty_password(running: Running) -> None:
    from tests.console_helpers import PASSWORD, USER, client_session

    session = client_session(None)
    token = session.get(running.url + "/api/session", timeout=10).json()["csrf_token"]
    misspelt = session.post(
        running.url + "/api/login", json={"user": USER, "pasword": PASSWORD}, headers={"X-CSRFToken": token}, timeout=10
    )
    assert misspelt.status_code == 400
    assert "unknown key(s) 'pasword'; known: password, user" in misspelt.json()["error"]
    assert PASSWORD not in misspelt.text  # a key is named, never its value
    right = session.post(
        running.url + "/api/login",
        json={"user": USER, "password": PASSWORD},
        headers={"X-CSRFToken": token},
        timeout=10,
    )
    assert right.status_code == 200
