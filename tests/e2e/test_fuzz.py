"""Hostile input, generated: the callback parser, the status parser and the file readers either
accept a value or refuse it with their own error, never anything else; what they accept can be stored."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import tempfile
import time
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
from batchqueue.intake.sheets.headers import column_letter
from batchqueue.untrusted import INT64_MAX
from tests.e2e.test_hostile_files import raw_xlsx
from tests.workbook_makers import (
    CONTACT_ROWS,
    ODS_CONTACT_ROWS,
    XLS_CONTACT_CELLS,
    ods_cell,
    ods_file,
    ods_row,
    xls_file,
    xlsb_file,
    xlsx_file,
)

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
            assert not isinstance(found, str)  # streamed (force), not left to calamine
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


# ---- hostile workbooks of every format, generated ----------------------------------------------
# Far cells, repeated rows and columns, long shared strings used many times, in random spellings:
# each file is either read (its first rows, as text) or refused with InputFileError, by the
# guarded reader (a capped child process), within seconds. Nothing else: no other exception, no
# abort of this process, no gigabytes.

WORKBOOK_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
#: Row and column numbers that matter: near the start, and at the edges of every format.
_ROWS = st.sampled_from([1, 2, 3, 7, 255, 65_535, 65_536, 1_048_575, 1_048_576, 1_048_577, 10**9])
_COLUMNS = st.sampled_from([1, 2, 3, 26, 27, 256, 257, 702, 16_383, 16_384, 16_385, 10**6])
_REPEATS = st.sampled_from([1, 2, 3, 100, 5_000, 1_048_576, 10**9])
_TEXTS = st.sampled_from(["", "6175550101", "Ann", "x" * 300, "y" * 32_767])


def _first_rows(path: Path, *, most: int = 200) -> None:
    """Open ``path`` and read at most ``most`` rows: text cells, or a refusal; within 30 s."""
    started = time.monotonic()
    try:
        with open_table(path) as table:
            for seen, (number, cells, _) in enumerate(table.rows()):
                assert number >= 1
                assert all(isinstance(c, str) for c in cells)
                if seen >= most:
                    break
    except InputFileError as exc:
        message = exc.message
        assert message
        assert "Traceback" not in message
    assert time.monotonic() - started < 30


def _spelled(row: int, column: int, style: int) -> str:
    letters = column_letter(min(column, 10**6) - 1)
    if style == 1:
        return f"<c r='{letters.lower()}{row}'><v>1</v></c>"
    if style == 2:
        return f'<c\n r = "{letters}{row}" t="n"><v>1</v></c>'
    if style == 3:
        return f'<c r="&#{ord(letters[0])};{letters[1:]}{row}"><v>1</v></c>'
    return f'<c r="{letters}{row}"><v>1</v></c>'


@WORKBOOK_FUZZ
@given(
    far=st.lists(st.tuples(_ROWS, _COLUMNS, st.integers(0, 3)), max_size=3),
    shared=st.lists(_TEXTS, max_size=3),
    uses=st.sampled_from([0, 1, 50, 5_000, 40_000]),
    dimension=st.sampled_from([None, "A1:B2", "A1:XFD1048576", "zz:9"]),
)
def test_the_readers_on_generated_hostile_xlsx(
    far: list[tuple[int, int, int]], shared: list[str], uses: int, dimension: str | None
) -> None:
    body = CONTACT_ROWS + "".join(f'<row r="{min(r, 10**9)}">{_spelled(r, c, s)}</row>' for r, c, s in far)
    if shared:
        body += "".join(
            f'<row r="{3 + i}"><c r="A{3 + i}" t="s"><v>{i % len(shared)}</v></c></row>' for i in range(uses)
        )
    with tempfile.TemporaryDirectory() as folder:
        path = xlsx_file(Path(folder) / "fuzz.xlsx", body, shared=shared or None, dimension=dimension)
        _first_rows(path)


@WORKBOOK_FUZZ
@given(
    rows=st.lists(
        st.tuples(st.lists(st.tuples(st.none() | _TEXTS, _REPEATS), min_size=1, max_size=3), _REPEATS), max_size=4
    ),
    spaces=st.sampled_from([0, 5, 10**9]),
)
def test_the_readers_on_generated_hostile_ods(
    rows: list[tuple[list[tuple[str | None, int]], int]], spaces: int
) -> None:
    body = ODS_CONTACT_ROWS + "".join(
        ods_row("".join(ods_cell(value, repeat=across) for value, across in cells), repeat=down) for cells, down in rows
    )
    if spaces:
        spaced = f'<text:p><text:s text:c="{spaces}"/></text:p>'
        body += ods_row(f'<table:table-cell office:value-type="string">{spaced}</table:table-cell>')
    with tempfile.TemporaryDirectory() as folder:
        _first_rows(ods_file(Path(folder) / "fuzz.ods", body))


_xls_values = (
    st.none() | st.floats(allow_nan=False, allow_infinity=False) | _TEXTS.map(lambda t: t[:255]) | st.integers(0, 3)
)


@WORKBOOK_FUZZ
@given(
    cells=st.lists(
        st.tuples(_ROWS.map(lambda r: min(r - 1, 65_535)), _COLUMNS.map(lambda c: min(c - 1, 255)), _xls_values),
        max_size=5,
    ),
    strings=st.lists(_TEXTS, max_size=3),
    repeat=st.sampled_from([1, 2, 500]),
)
def test_the_readers_on_generated_hostile_xls(
    cells: list[tuple[int, int, str | float | int | None]], strings: list[str], repeat: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _first_rows(
            xls_file(Path(folder) / "fuzz.xls", XLS_CONTACT_CELLS + cells, strings=strings, repeat_cells=repeat)
        )


@WORKBOOK_FUZZ
@given(
    cells=st.lists(st.tuples(_ROWS.map(lambda r: r - 1), _COLUMNS.map(lambda c: c - 1), _xls_values), max_size=5),
    strings=st.none() | st.lists(_TEXTS, max_size=3),
    uses=st.sampled_from([0, 100, 5_000]),
)
def test_the_readers_on_generated_hostile_xlsb(
    cells: list[tuple[int, int, str | float | int | None]], strings: list[str] | None, uses: int
) -> None:
    if strings:
        cells = cells + [(2 + i, 1, i % len(strings)) for i in range(uses)]
    cells = [(min(r, 2**32 - 1), min(c, 2**32 - 1), v) for r, c, v in cells]
    with tempfile.TemporaryDirectory() as folder:
        _first_rows(xlsb_file(Path(folder) / "fuzz.xlsb", [*XLS_CONTACT_CELLS, *cells], strings=strings))
