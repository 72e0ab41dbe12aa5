"""Insight's survey report as HTTP and as CSV: the stand-in refuses what the documentation refuses,
and ``batchqueue answers`` reads hostile or broken reports in bounded time, never crashing, saying
which report row it could not read and why.

The documented contract (docs.plumvoice.com, Insight API, "Survey Response Reporting"): GET
/report/{report_id}, HTTP basic auth, ``limit`` 1-10,000 (500 when not given), ``offset``,
``start_timestamp`` and ``end_timestamp`` together (400 otherwise), ``text/csv`` newest first, the
X-Plum-Total-Rows / -Returned-Rows / -Row-Offset / -Row-Limit headers, and columns beginning
"Survey ID","Survey Name","Visit Type","Caller ID/IP Address","Phone Number",Start,End,Completed.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from batchqueue.answers.report import MAX_COLUMNS, ReportFormatError, read_page
from batchqueue.http_serving import HttpServer
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sandbox.reports import Visit
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, point_at, point_at_url

Run = Callable[..., CliResult]
HEADER = '"Survey ID","Survey Name","Visit Type","Caller ID/IP Address","Phone Number",Start,End,Completed,"Q1","Q2"'


# --- the stand-in is strict ------------------------------------------------------------------------


@pytest.fixture
def stand_in() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig()) as sb:
        for i in range(12):
            sb.app.store.visits.add(
                Visit(
                    "4242", "Outbound", "", f"61720000{i:02d}", 1_796_000_000 + i * 60, None, "Yes", ("a", "b", "", "")
                )
            )
        yield sb


def ask(
    sb: Sandbox, path: str = "/report/4242", *, auth: tuple[str, str] | None = None, **params: str
) -> requests.Response:  # params: limit, offset, start_timestamp, end_timestamp
    return requests.get(sb.api_url + path, params=params, auth=auth or (sb.config.user, sb.config.key), timeout=10)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"limit": "0"}, "limit must be between 1 and 10,000"),
        ({"limit": "10001"}, "limit must be between 1 and 10,000"),
        ({"limit": "ten"}, "limit must be a non-negative integer"),
        ({"offset": "-1"}, "offset must be a non-negative integer"),
        ({"start_timestamp": "1796000000"}, "must be supplied together"),
        ({"end_timestamp": "1796000000"}, "must be supplied together"),
    ],
)
def test_the_stand_in_refuses_what_the_documentation_refuses(
    stand_in: Sandbox, params: dict[str, str], why: str
) -> None:
    reply = requests.get(
        stand_in.api_url + "/report/4242", params=params, auth=(stand_in.config.user, stand_in.config.key), timeout=10
    )
    assert reply.status_code == 400
    assert why in reply.json()["error"]


def test_the_stand_in_pages_newest_first_with_the_documented_headers(stand_in: Sandbox) -> None:
    assert ask(stand_in, auth=("demo@example.com", "wrong")).status_code == 401
    assert ask(stand_in, "/report/77").status_code == 404
    assert requests.post(stand_in.api_url + "/report/4242", timeout=10).status_code == 405
    first = ask(stand_in, limit="5")
    assert first.headers["Content-Type"].startswith("text/csv")
    got = {k: first.headers[f"X-Plum-{k}"] for k in ("Total-Rows", "Returned-Rows", "Row-Offset", "Row-Limit")}
    assert got == {"Total-Rows": "12", "Returned-Rows": "5", "Row-Offset": "0", "Row-Limit": "5"}
    lines = list(csv.reader(io.StringIO(first.text)))
    assert lines[0][:8] == ["Survey ID", "Survey Name", "Visit Type", "Caller ID/IP Address", "Phone Number",
                            "Start", "End", "Completed"]  # fmt: skip
    assert [row[4] for row in lines[1:]] == [f"61720000{i:02d}" for i in (11, 10, 9, 8, 7)]
    last = ask(stand_in, limit="5", offset="10")
    assert last.headers["X-Plum-Returned-Rows"] == "2"
    assert ask(stand_in).headers["X-Plum-Row-Limit"] == "500"  # the documented default
    narrowed = ask(stand_in, start_timestamp="1796000060", end_timestamp="1796000120")
    assert narrowed.headers["X-Plum-Total-Rows"] == "2"


# --- reading pages ---------------------------------------------------------------------------------


def test_a_page_is_read_by_column_name_with_its_questions_told_apart() -> None:
    text = (
        "\ufeff" + HEADER.replace('"Q2"', '"Q1"') + ',""\r\n'
        '7,S,Outbound,555,6175550100,2016-09-22 14:41:49,,Yes,"a, ""quoted""","multi\nline",=1\r\n\r\n'
    )
    page = read_page(text)
    assert page.columns.questions == ("Q1", "Q1 (2)", "Question 3")
    (only,) = page.visits
    assert (only.survey_id, only.phone, only.completed) == ("7", "6175550100", "Yes")
    assert only.answers == {"Q1": 'a, "quoted"', "Q1 (2)": "multi\nline", "Question 3": "=1"}


def test_lines_that_cannot_be_read_are_set_aside_with_their_place_and_why() -> None:
    text = HEADER + "\r\n1,S,Outbound,,6175550100,2016-09-22 14:41:49,,Yes,a,b\r\n"
    text += "2,S,Outbound,,6175550101,2016-09-22 14:42:00,,Yes,a,b,extra cell\r\n"
    text += "3,S,Outbound,,6175550102,2016-09-22 14:43:00,,Yes,a,b,\r\n"  # an empty extra cell is harmless
    text += '4,S,Outbound,,6175550103,2016-09-22 14:44:00,,Yes,"never closed\r\n'
    page = read_page(text)
    assert [v.phone for v in page.visits] == ["6175550100", "6175550102"]
    assert page.unreadable == 2
    assert page.located[0] == (2, "it has 11 cells, the header names 10")
    assert page.located[1][0] == 4
    assert "not CSV" in page.located[1][1]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("<html><body>Please log in</body></html>", "no 'Visit Type' or 'Phone Number' or 'Start' column"),
        ("", "the report is empty"),
        (",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)), "columns"),
    ],
)
def test_a_page_that_is_no_report_is_refused_with_why(text: str, why: str) -> None:
    with pytest.raises(ReportFormatError, match=why.replace("(", r"\(")):
        read_page(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_any_text_is_read_or_refused_never_crashes(noise: str) -> None:
    for text in (noise, HEADER + "\r\n" + noise):
        try:
            page = read_page(text)
        except ReportFormatError:
            continue
        assert page.lines == len(page.visits) + page.unreadable


# --- hostile servers -------------------------------------------------------------------------------


def scripted(respond: Callable[[dict[str, str]], tuple[int, list[tuple[str, str]], bytes]]) -> HttpServer:
    """An "Insight" whose report endpoint answers ``respond(query)`` (requests counted in ``asked``)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        status, headers, body = respond(query)
        start_response(f"{status} X", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return HttpServer(app, port=0)


def job_with_calls(run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = str(tmp_path / "ledger.db")
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        source = contacts(tmp_path / "c.csv", 3)
        assert run_cli("import", source, "--survey", "4242", "--instance", "1", "--db", db, "-q").code == 0
        assert run_cli("run", "1", "--db", db, "-q", "--rate", "0").code == 0
    return db


def page_of(
    lines: list[str], query: dict[str, str], *, total: int | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    offset, limit = int(query.get("offset", 0)), int(query.get("limit", 500))
    chosen = lines[offset : offset + limit]
    headers = [("Content-Type", "text/csv"), ("X-Plum-Total-Rows", str(len(lines) if total is None else total))]
    headers += [("X-Plum-Returned-Rows", str(len(chosen))), ("X-Plum-Row-Offset", str(offset))]
    return 200, headers, ("\r\n".join([HEADER, *chosen]) + "\r\n").encode()


def test_broken_lines_are_located_by_report_row_and_the_rest_is_read(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = job_with_calls(run_cli, tmp_path, monkeypatch)
    now = int(time.time())
    lines = [f"1,S,Outbound,,617200000{i % 3},{now + 60 * i},,Yes,a,b" for i in range(9)]
    lines[4] = f"1,S,Outbound,,6172000001,{now},,Yes,a,b,c,d"  # too many cells: report row 5
    lines[7] = "1,S,Outbound,,not a number,2026-12-01 10:00,,Yes,a,b"  # report row 8
    with scripted(lambda q: page_of(lines, q)) as server:
        point_at_url(monkeypatch, server.url)
        done = run_cli("answers", "1", "--report", "9", "--page-size", "3", "--db", db, "--json")
    assert done.code == 0, done.err
    found = done.json()
    assert (found["read"], found["pages"], found["unreadable_lines"]) == (9, 3, 1)
    assert found["unreadable"][0] == {"report_row": 5, "why": "it has 12 cells, the header names 10"}
    assert "not a number" in found["unreadable"][1]["phone"]
    assert "Phone Number" in found["unreadable"][1]["why"]
    assert found["set_aside"]["unreadable"] == 1


@pytest.mark.parametrize(
    ("respond", "code", "said"),
    [
        (
            lambda q: (200, [("Content-Type", "text/html")], b"<html><body>Log in</body></html>"),
            3,
            "not a survey report",
        ),
        (lambda q: (404, [], b'{"success": false, "error": "no such report"}'), 3, "no saved report 9"),
        (lambda q: (403, [], b""), 3, "may not read report 9"),
        (lambda q: (400, [], b'{"success": false, "error": "limit is wrong"}'), 2, "limit is wrong"),
        (lambda q: (302, [("Location", "https://elsewhere.example/login")], b""), 3, "redirect"),
    ],
)
def test_a_refusal_stops_with_what_insight_said(
    tmp_path: Path,
    run_cli: Run,
    monkeypatch: pytest.MonkeyPatch,
    respond: Callable[[dict[str, str]], tuple[int, list[tuple[str, str]], bytes]],
    code: int,
    said: str,
) -> None:
    db = job_with_calls(run_cli, tmp_path, monkeypatch)
    with scripted(respond) as server:
        point_at_url(monkeypatch, server.url)
        done = run_cli("answers", "1", "--report", "9", "--db", db)
    assert done.code == code, done.err
    assert said in done.err
    assert "Traceback" not in done.err
    assert run_cli("status", "1", "--db", db, "--json").json()["answers"] == {}


def test_a_server_that_ignores_offset_is_caught_not_paged_forever(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = job_with_calls(run_cli, tmp_path, monkeypatch)
    lines = [f"1,S,Outbound,,6172000000,{1_796_000_000 + i},,Yes,a,b" for i in range(5)]
    for headers in (True, False):  # with and without the X-Plum headers

        def respond(q: dict[str, str], headers: bool = headers) -> tuple[int, list[tuple[str, str]], bytes]:
            status, got, body = page_of(lines, {"limit": q["limit"]}, total=10**9)  # always the first page
            return status, (got if headers else [("Content-Type", "text/csv")]), body

        with scripted(respond) as server:
            point_at_url(monkeypatch, server.url)
            started = time.monotonic()
            done = run_cli("answers", "1", "--report", "9", "--page-size", "5", "--db", db)
        assert done.code == 3, done.err
        assert "paging cannot go on" in done.err
        assert time.monotonic() - started < 20


def test_a_page_too_large_to_read_says_to_ask_for_smaller_pages(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = job_with_calls(run_cli, tmp_path, monkeypatch)
    import batchqueue.insight.client as client

    monkeypatch.setattr(client, "MAX_REPORT_PAGE", 1 << 20)  # the real bound is 64 MiB
    body = (HEADER + "\r\n" + ("1,S,Web,,," + "x" * 1000 + ",,Yes,a,b\r\n") * 1500).encode()
    with scripted(lambda q: (200, [("Content-Type", "text/csv")], body)) as server:
        point_at_url(monkeypatch, server.url)
        done = run_cli("answers", "1", "--report", "9", "--db", db)
    assert done.code == 2, done.err
    assert "larger than 1 MiB" in done.err
    assert "--page-size" in done.err


def test_5xx_and_429_are_asked_again_and_every_page_is_read(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "ledger.db")
    faults = Faults(p_report_500=0.4, p_report_429=0.3, retry_after=0, seed=3)
    with Sandbox(SandboxConfig(faults=faults)) as sb:
        point_at(monkeypatch, sb)
        assert run_cli("import", contacts(tmp_path / "c.csv", 20), "--survey", "4242", "--instance", "1",
                       "--calling-hours", "00:00-24:00", "--outside-federal-hours", "--state-rules", "none",
                       "--db", db, "-q").code == 0  # fmt: skip
        assert run_cli("run", "1", "--db", db, "-q", "--rate", "0").code == 0
        for i in range(20):
            sb.app.store.visits.add(
                Visit("4242", "Outbound", "", f"617200{i:04d}", time.time() + i, None, "Yes", ("", "", "", ""))
            )
        done = run_cli("answers", "1", "--report", "4242", "--page-size", "4", "--rate", "0", "--db", db, "--json")
        asked = sb.app.store.report_requests
    assert done.code == 0, done.err
    assert (done.json()["read"], done.json()["pages"], done.json()["joined"]) == (20, 5, 20)
    assert asked > 5  # some pages took more than one request
