"""A claimed row as the queue endpoint's form (insight-queue-outbound-call.txt: phone_number,
start_timestamp, end_timestamp, max_attempts, reattempt_wait, metadata as an array, result_url)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from batchqueue.insight.form import FormBuilder
from batchqueue.ledger import Claimed

HEADERS = ["Phone", "Name", "Plan", "Agent"]


def _claimed(**changes: Any) -> Claimed:
    row = Claimed(
        row_id=41,
        row_number=2,
        phone_number="tel:+16175551234",
        e164="+16175551234",
        start_ts=None,
        end_ts=None,
        max_attempts=None,
        reattempt_wait=None,
        result_url=None,
        token="tok_ABCDEFGH12345678",
        cells=["617-555-1234", "Ann", "", "Bo"],
        attempts=0,
        facts={},
    )
    return row._replace(**changes)


def test_a_bare_row_sends_its_number_and_nothing_it_does_not_have() -> None:
    assert FormBuilder(HEADERS, [], None).form(_claimed()) == [("phone_number", "tel:+16175551234")]


def test_every_documented_field_in_the_documented_units() -> None:
    row = _claimed(start_ts=1_772_805_600, end_ts=1_772_892_000, max_attempts=3, reattempt_wait=600)
    sent = dict(FormBuilder(HEADERS, [], "https://cb.example/").form(row))
    assert sent == {
        "phone_number": "tel:+16175551234",
        "start_timestamp": "1772805600",  # unix seconds, as a string
        "end_timestamp": "1772892000",
        "max_attempts": "3",
        "reattempt_wait": "600",  # seconds
        "result_url": "https://cb.example/cb/41/tok_ABCDEFGH12345678",
    }


def test_metadata_travels_as_phps_http_build_query_makes_an_array() -> None:
    form = FormBuilder(HEADERS, ["Name", "Plan", "Agent", "Missing"], None).form(_claimed())
    # PHP: http_build_query(['metadata' => ['Name' => 'Ann', 'Agent' => 'Bo']])
    assert "metadata%5BName%5D=Ann&metadata%5BAgent%5D=Bo" in urlencode(form)
    assert ("metadata[Plan]", "") not in form  # an empty cell is not sent
    assert not any("Missing" in name for name, _ in form)  # a column the file does not have


def test_the_rows_own_result_url_wins_over_the_callback_url() -> None:
    row = _claimed(result_url="https://crm.example/hook?id=9")
    assert (
        dict(FormBuilder(HEADERS, [], "https://cb.example").form(row))["result_url"] == "https://crm.example/hook?id=9"
    )


def test_without_a_public_url_or_a_token_no_result_url_is_made() -> None:
    assert "result_url" not in dict(FormBuilder(HEADERS, [], None).form(_claimed()))
    assert "result_url" not in dict(FormBuilder(HEADERS, [], "https://cb.example").form(_claimed(token=None)))


def test_the_form_survives_the_wire() -> None:
    form = FormBuilder(HEADERS, ["Name"], None).form(_claimed(cells=["x", "Zoë & Ann=1", "", ""]))
    assert parse_qsl(urlencode(form)) == form
