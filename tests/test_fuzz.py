"""Hostile input, generated: the callback parser, the status parser and the file readers either
accept a value or refuse it with their own error, never anything else; what they accept can be stored."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from batchqueue.callbacks.call_details import MAX_STATUS, BadPayload, CallDetails, details_from, parse_callback
from batchqueue.errors import InputFileError
from batchqueue.insight.replies import ReplyKind, classify_response
from batchqueue.intake.loader import encode_cells, encode_json, encode_reasons
from batchqueue.intake.sheets import open_table
from batchqueue.intake.sheets.cells import _float_text, float_text
from batchqueue.intake.sheets.excel import _xlsx_rows
from batchqueue.untrusted import INT64_MAX
from tests.test_hostile_files import raw_xlsx

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
call_details = st.fixed_dictionaries(
    {"status": st.one_of(st.sampled_from(["completed", "failed", "queued"]), st.text(max_size=80))},
    optional={
        "attempts": json_values,
        "max_attempts": json_values,
        "queued_timestamp": json_values,
        "last_attempt_timestamp": json_values,
        "start_timestamp": json_values,
        "end_timestamp": json_values,
        "events": json_values,
        "note": json_values,
    },
)


def _storable(value: Any) -> None:
    """Everything kept from a report can be written to every ledger (UTF-8, no NUL, 64-bit ints)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    assert "\x00" not in text


def _check(details: CallDetails) -> None:
    assert 1 <= len(details.status) <= MAX_STATUS
    assert details.status.isprintable()
    for number in (details.attempts, details.max_attempts, details.queued_at, details.last_attempt_at):
        assert number is None or 0 <= number <= INT64_MAX
    _storable(details.raw)


@FUZZ
@given(body=st.binary(max_size=2048), content_type=st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "text/plain",
     "multipart/form-data", "application/xml"]
))  # fmt: skip
def test_callback_bodies_of_random_bytes(body: bytes, content_type: str) -> None:
    with contextlib.suppress(BadPayload):
        _check(parse_callback(content_type, body))


@FUZZ
@given(payload=call_details)
def test_callback_bodies_of_random_json(payload: dict[str, Any]) -> None:
    body = json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")
    try:
        details = parse_callback("application/json", body)
    except BadPayload:
        return
    _check(details)


@FUZZ
@given(pairs=st.lists(st.tuples(st.text(max_size=40), st.text(max_size=40)), max_size=30), status=st.text(max_size=20))
def test_callback_bodies_of_random_form_fields(pairs: list[tuple[str, str]], status: str) -> None:
    from urllib.parse import urlencode

    body = urlencode([("status", status), *pairs], encoding="utf-8", errors="surrogatepass").encode()
    with contextlib.suppress(BadPayload):
        _check(parse_callback("application/x-www-form-urlencoded", body))


@FUZZ
@given(text=st.text(max_size=400) | st.builds(json.dumps, json_values), status=st.sampled_from([200, 201, 400, 500]))
def test_status_and_queue_replies_of_random_text(text: str, status: int) -> None:
    reply = classify_response(status, text, CaseInsensitiveDict())
    assert reply.kind in set(ReplyKind)
    if reply.call_id is not None:
        assert reply.kind is ReplyKind.QUEUED
        assert reply.call_id.isprintable()
    assert reply.error is None or all(ord(ch) >= 32 for ch in reply.error)


@FUZZ
@given(body=json_values)
def test_status_details_of_random_shapes(body: Any) -> None:
    with contextlib.suppress(BadPayload):
        _check(details_from({"success": True, "call_details": body}))


def _read_all(path: Path) -> None:
    try:
        with open_table(path) as table:
            for number, cells, _ in table.rows():
                assert number >= 1
                assert len(cells) == len(table.headers)
                assert all(isinstance(c, str) for c in cells)
    except InputFileError:
        pass


@FUZZ
@given(data=st.binary(max_size=3000) | st.text(max_size=1500).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_csv_reader_on_random_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        _read_all(path)


cell_xml = st.one_of(
    st.builds(lambda r, v: f'<c r="{r}"><v>{v}</v></c>', st.from_regex(r"[A-Z]{1,2}[1-9][0-9]{0,2}", fullmatch=True),
              st.floats(allow_nan=False).map(repr)),
    st.builds(lambda v: f'<c t="inlineStr"><is><t>{v}</t></is></c>', st.text(alphabet="abc <>&;é\"'", max_size=8)),
    st.builds(lambda t, v: f'<c t="{t}"><v>{v}</v></c>', st.sampled_from(["s", "b", "e", "str", "d", "n", "x"]),
              st.text(alphabet="0123456789.-eE#N/A", max_size=6)),
    st.just("<c/>"),
    st.text(alphabet="<>/c=\"rv", max_size=12),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(cell_xml, max_size=5), min_size=1, max_size=6), header=st.booleans())
def test_xlsx_readers_on_random_sheet_xml(rows: list[list[str]], header: bool) -> None:
    body = "".join(f"<row>{''.join(cells)}</row>" for cells in rows)
    if header:
        body = '<row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row>' + body
    with tempfile.TemporaryDirectory() as folder:
        path = raw_xlsx(Path(folder) / "fuzz.xlsx", body)
        _read_all(path)  # small: read by calamine
        with path.open("rb") as f, contextlib.suppress(InputFileError):  # the streaming reader, same sheet
            found = _xlsx_rows(str(path), f, None, force=True)
            assert found is not None
            for number, values in found[2]:
                assert number >= 1
                assert all(isinstance(v, (str, float, bool, dt.date, dt.time, dt.timedelta)) for v in values)


def test_the_fuzzers_reach_the_accepting_paths() -> None:
    """A fuzz test that only ever saw refusals would prove little: the generators do make valid input."""
    details = parse_callback("application/json", json.dumps({"status": "completed", "attempts": "1"}).encode())
    assert details.attempts == 1
    assert not math.isnan(float(details.attempts))


@given(st.lists(st.text()))
def test_the_fast_cell_encoder_writes_what_json_writes(cells: list[str]) -> None:
    assert encode_cells(cells) == encode_json(cells)


@given(st.lists(st.tuples(st.none() | st.text(), st.text())))
def test_the_fast_reason_encoder_writes_what_json_writes(reasons: list[tuple[str | None, str]]) -> None:
    assert encode_reasons(reasons) == encode_json([list(reason) for reason in reasons])


@given(st.lists(st.floats() | st.integers(-(10**16), 10**16).map(float), max_size=50))
def test_a_number_cell_reads_the_same_the_first_time_and_from_the_cache(values: list[float]) -> None:
    for value in values + values + [-v for v in values]:
        assert float_text(value) == _float_text(value)
