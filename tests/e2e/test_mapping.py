"""Mapping: columns found or named, job-wide and per-row fields, validation reasons, duplicates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from batchqueue.errors import UsageError
from batchqueue.intake.importer import check_file
from batchqueue.intake.mapping.resolve import resolve
from batchqueue.intake.mapping.spec import MappingSpec, load_mapping_file
from tests.conftest import write_csv

NOW = int(time.time())


@pytest.mark.parametrize(
    "header", ["Phone", "phone_number", "Mobile", "CELL", "Telephone", "Tel.", "Number", "destination", "Phone Number"]
)
def test_phone_column_is_found_by_common_names(header: str) -> None:
    assert resolve(MappingSpec(), ["Name", header], now=NOW).phone_column == header


def test_two_phone_candidates_are_an_error_naming_both() -> None:
    with pytest.raises(UsageError, match="'Mobile' and 'Phone'"):
        resolve(MappingSpec(), ["Mobile", "Phone"], now=NOW)
    assert resolve(MappingSpec(phone_column="phone"), ["Mobile", "Phone"], now=NOW).phone_column == "Phone"


def test_no_phone_column_and_unknown_columns_are_clear_errors() -> None:
    with pytest.raises(UsageError, match="--phone-column"):
        resolve(MappingSpec(), ["Name", "City"], now=NOW)
    with pytest.raises(UsageError, match="no column named 'Cell'"):
        resolve(MappingSpec(phone_column="Cell"), ["Name", "Phone"], now=NOW)
    with pytest.raises(UsageError, match="no column named 'zip'"):
        resolve(MappingSpec(metadata=("zip",)), ["Name", "Phone"], now=NOW)


def test_metadata_defaults_to_every_other_column_and_can_be_limited_or_dropped() -> None:
    headers = ["Name", "Phone", "Account", "start"]
    assert resolve(MappingSpec(), headers, now=NOW).metadata == ("Name", "Account")
    assert resolve(MappingSpec(metadata=("Account",)), headers, now=NOW).metadata == ("Account",)
    assert resolve(MappingSpec(no_metadata=True), headers, now=NOW).metadata == ()
    assert resolve(MappingSpec(), headers, now=NOW).columns == {"start": "start"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"max_attempts": "11"}, "--max-attempts: max_attempts must be 1-10"),
        ({"max_attempts": "3"}, "--reattempt-wait: reattempt_wait is required when max_attempts > 1"),
        ({"max_attempts": "two"}, "not a whole number"),
        ({"end": "2001-01-01"}, "in the past"),
        ({"start": "2099-01-02", "end": "2099-01-01"}, "--end: end must be after start"),
        ({"start": "01/02/2099"}, "ambiguous.*--dayfirst"),
        ({"start": "tomorrow"}, "ISO 8601"),
        ({"ani": "123"}, "--ani"),
        ({"result_url": "ftp://x"}, "http"),
    ],
)
def test_bad_job_wide_values_are_usage_errors(given: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(MappingSpec(defaults=given), ["Phone"], now=NOW)


def test_unknown_region_and_time_zone() -> None:
    with pytest.raises(UsageError, match="unknown region"):
        resolve(MappingSpec(region="QQ"), ["Phone"], now=NOW)
    with pytest.raises(UsageError, match="unknown time zone"):
        resolve(MappingSpec(timezone="Mars/Olympus"), ["Phone"], now=NOW)


def test_job_wide_values_are_normalized() -> None:
    spec = MappingSpec(
        timezone="America/New_York",
        defaults={"ani": "(212) 555-1234", "start": "2099-12-01 09:00", "max_attempts": "3", "reattempt_wait": "30"},
    )
    resolved = resolve(spec, ["Phone"], now=NOW)
    assert resolved.defaults == {"ani": "2125551234", "start": 4099816800, "max_attempts": 3, "reattempt_wait": 30}
    assert any("60-86400" in w for w in resolved.warnings)


def _check(tmp_path: Path, rows: list[list[str]], spec: MappingSpec | None = None) -> dict[str, object]:
    path = write_csv(tmp_path / "in.csv", rows)
    return check_file(path, spec or MappingSpec()).as_dict()


def test_per_row_fields_are_validated_with_every_reason(tmp_path: Path) -> None:
    rows = [
        ["phone", "start", "end", "max_attempts", "reattempt_wait", "ani"],
        ["6175550101", "2099-01-01 09:00", "2099-01-01 17:00", "2", "600", "2125550100"],
        ["6175550102", "2099-01-02", "2099-01-01", "12", "", "nope"],
        ["555", "", "2001-01-01", "", "", ""],
        ["6175550103", "1796133600", "", "3", "", ""],
    ]
    result = _check(tmp_path, rows)
    assert (result["valid"], result["invalid"]) == (1, 3)
    problems = [(p["row"], p["column"], p["reason"]) for p in result["problems"]]  # type: ignore[attr-defined]
    assert (3, "max_attempts", "max_attempts must be 1-10, got 12") in problems
    assert (3, "end", "end must be after start") in problems
    assert any(row == 3 and col == "ani" for row, col, _ in problems)
    assert (4, "phone", "'555' has the wrong number of digits for its country") in problems
    assert (4, "end", "end is already in the past") in problems
    assert (5, "reattempt_wait", "reattempt_wait is required when max_attempts > 1") in problems


def test_times_are_read_in_the_time_zone(tmp_path: Path) -> None:
    from batchqueue.intake.mapping.times import TimeParser

    assert TimeParser("America/New_York").parse("2026-12-01 09:00") == 1796133600
    assert TimeParser("UTC").parse("2026-12-01 14:00") == 1796133600
    assert TimeParser("Europe/Paris").parse("2026-12-01T14:00:00Z") == 1796133600
    assert TimeParser("UTC").parse("1796133600") == 1796133600


def test_duplicates_point_at_the_first_row_unless_allowed(tmp_path: Path) -> None:
    rows = [["phone"], ["(617) 555-0101"], ["617.555.0101"], ["6175550101 x2"], ["+16175550101"]]
    result = _check(tmp_path, rows)
    assert (result["valid"], result["duplicate"]) == (2, 2)
    allowed = _check(tmp_path, rows, MappingSpec(allow_duplicates=True))
    assert (allowed["valid"], allowed["duplicate"]) == (4, 0)


def test_mapping_file_is_read_and_command_line_options_win(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        'phone_column = "Cell"\nregion = "GB"\nmetadata = ["Name"]\n'
        '[columns]\nstart = "When"\n[defaults]\nmax_attempts = 2\nreattempt_wait = 600\n',
        encoding="utf-8",
    )
    spec = load_mapping_file(path)
    assert spec.phone_column == "Cell"
    assert spec.columns == {"start": "When"}
    merged = spec.overridden_by(region="US", defaults={"max_attempts": "1"}, phone_column=None)
    assert merged.region == "US"
    assert merged.phone_column == "Cell"
    assert merged.defaults == {"max_attempts": "1", "reattempt_wait": "600"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('phone_colum = "x"', "unknown key"),
        ("[columns]\nphone = 'x'", "unknown field"),
        ("metadata = 3", "metadata must be"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_mapping_file_mistakes_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_mapping_file(path)


def test_invalid_rows_are_kept_and_counted_not_dropped(tmp_path: Path) -> None:
    rows = [["phone", "name"], ["", "no phone"], ["x", "junk"], ["6175550101", "ok"], ["6175550102", "ok", "extra"]]
    result = _check(tmp_path, rows)
    assert (result["rows"], result["valid"], result["invalid"]) == (4, 1, 3)
    reasons = {p["row"]: p["reason"] for p in result["problems"]}  # type: ignore[attr-defined]
    assert reasons[2] == "is empty"
    assert "beyond the last named column" in reasons[5]
