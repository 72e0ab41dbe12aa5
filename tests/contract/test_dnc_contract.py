"""The do-not-call lists as the ledger keeps them, on SQLite and PostgreSQL (issue 20)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batchqueue.errors import UsageError
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Ledger, dnc, open_ledger, suppress
from batchqueue.ledger.records import Listing
from tests.sandbox_helpers import contacts


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    ledger = open_ledger(ledger_url)
    yield ledger
    ledger.engine.dispose()


def test_an_exported_list_imported_again_keeps_when_and_from_where_each_number_came(ledger: Ledger) -> None:
    """A ``dnc export`` carries each number's time and source; importing it keeps them, and a number
    without them is stamped now with the import's own source. Entries come back by list, then number."""
    added, already = ledger.add_to_dnc(
        [
            ("other", "+16175550099"),
            Listing("optouts", "+16175550101"),
            Listing("optouts", "+16175550100", 1000.5, "complaint line"),
        ],
        source="dnc import optouts.csv",
    )
    assert (added, already) == (3, 0)
    entries = list(ledger.dnc_entries())
    assert [(name, number, source) for name, number, _, source in entries] == [
        ("optouts", "+16175550100", "complaint line"),
        ("optouts", "+16175550101", "dnc import optouts.csv"),
        ("other", "+16175550099", "dnc import optouts.csv"),
    ]
    assert entries[0][2] == 1000.5
    assert entries[1][2] == entries[2][2] > 1000.5  # the import's own time
    assert [(name, count) for name, count, _ in ledger.dnc_lists()] == [("optouts", 2), ("other", 1)]
    assert ledger.add_to_dnc([Listing("optouts", "+16175550100", 5.0, "again")], source="x") == (0, 1)
    (kept,) = [entry for entry in ledger.dnc_entries(["optouts"]) if entry[1] == "+16175550100"]
    assert kept[2:] == (1000.5, "complaint line")  # the first listing stays


def test_a_list_name_that_cannot_be_one_is_refused_and_nothing_is_listed(ledger: Ledger) -> None:
    with pytest.raises(UsageError, match="no spaces"):
        ledger.add_to_dnc([("optouts", "+16175550100"), ("no spaces", "+16175550101")], source="x")
    with pytest.raises(UsageError, match="a list name is 1-64"):
        ledger.add_to_dnc([("", "+16175550100")], source="x")
    assert ledger.dnc_lists() == []


def test_lists_larger_than_one_batch_are_counted_whole(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dnc, "_BATCH", 2)
    numbers = [f"+1617555010{i}" for i in range(5)]
    assert ledger.add_to_dnc([("optouts", n) for n in numbers[:3]], source="x") == (3, 0)
    assert ledger.add_to_dnc([("optouts", n) for n in numbers], source="x") == (2, 3)
    assert ledger.remove_from_dnc("optouts", ["+16175559999"]) == 0  # not on it
    assert ledger.remove_from_dnc("optouts", numbers) == 5
    assert ledger.dnc_lists() == []


def test_a_jobs_rows_suppressed_by_each_list_are_counted_by_list(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``status`` says how many rows each list kept from being called (the first list by name, for a
    number on two), and the import how many it suppressed, however many batches that took."""
    monkeypatch.setattr(suppress, "_BATCH", 2)
    ledger.add_to_dnc([("a", "+16172000000"), ("a", "+16172000001"), ("b", "+16172000002")], source="x")
    ledger.add_to_dnc([("b", "+16172000000")], source="y")
    result = import_file(ledger, contacts(tmp_path / "c.csv", 5), MappingSpec(), survey_id="7", instance_id="1")
    assert result.job_id == 1
    assert result.suppressed == 3
    assert ledger.suppressed_by(1) == {"dnc:a": 2, "dnc:b": 1}
    assert list(ledger.suppressed_by(1)) == ["dnc:a", "dnc:b"]  # most first
