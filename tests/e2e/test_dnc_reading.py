"""``dnc import`` and ``dnc add`` read a number exactly as ``import`` reads it (each row's own
country, the same reading options), so an opt-out abroad is stored as the number a job would call;
a number that cannot be read is reported (row, column, reason), never stored as another number.

The expected numbers are written out from each country's numbering plan (the national trunk
prefix dropped, the country code put in front), not taken from batchqueue's own tables.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.ledger import open_ledger
from tests.conftest import CliResult, write_csv, write_xlsx
from tests.console_helpers import Running, api_session
from tests.sandbox_helpers import ledger_rows

Run = Callable[..., CliResult]

#: (the number as people in that country write it, the country as a column may name it, the number
#: in international form).
ABROAD = [
    ("55 1234 5678", "MX", "+525512345678"),  # Mexico City: a 10-digit national number, no trunk prefix (2019 plan)
    ("020 7946 0958", "United Kingdom", "+442079460958"),  # London 020 (Ofcom): trunk 0 dropped
    ("07911 123456", "+44", "+447911123456"),  # a UK mobile, 07…
    ("030 12345678", "Deutschland", "+493012345678"),  # Berlin 030 (Bundesnetzagentur): trunk 0 dropped
    ("01 42 68 53 00", "France", "+33142685300"),  # Paris 01 (ARCEP): trunk 0 dropped
    ("06 12 34 56 78", "FRA", "+33612345678"),  # a French mobile, 06…
    ("098765 43210", "India", "+919876543210"),  # an Indian mobile (TRAI): 10 digits after the trunk 0
    ("(02) 9374 4000", "AU", "+61293744000"),  # Sydney (02) (ACMA): trunk 0 dropped
    ("0412 345 678", "Australia", "+61412345678"),  # an Australian mobile, 04…
    ("(617) 555-0100", "", "+16175550100"),  # no country given: the default region (US)
]


def listed(db: Path) -> set[tuple[str, str]]:
    """(list, number) of every entry of the ledger's do-not-call lists, read from the database."""
    with sqlite3.connect(db) as conn:
        return {(str(n), str(e)) for n, e in conn.execute("SELECT list_name, e164 FROM dnc_entries")}


def claimable(db: Path, job_id: int) -> list[int]:
    """The row numbers a run would claim (and call) now, every row at once."""
    ledger = open_ledger(f"sqlite:///{db}")
    try:
        return sorted(c.row_number for c in ledger.settle(job_id, [], [], 1000).claimed)
    finally:
        ledger.close()


def test_opt_outs_abroad_are_read_in_each_rows_country_and_never_called(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    optouts = write_csv(
        tmp_path / "optouts.csv",
        [["Name", "Phone", "Country"]] + [[f"P{i}", n, c] for i, (n, c, _) in enumerate(ABROAD)],
    )
    done = run_cli("dnc", "import", optouts, "--db", db, "--json")
    assert done.code == 0, done.out + done.err
    assert (done.json()["added"], done.json()["unreadable"], done.json()["problems"]) == (len(ABROAD), 0, [])
    assert listed(db) == {("default", e164) for _, _, e164 in ABROAD}
    assert done.json()["read"] == {
        "phone_columns": ["Phone"],
        "region": "US",
        "region_column": "Country",
        "sheet": None,
        "header_row": 1,
    }

    # The same people in a contacts file written the international way: every row suppressed at import.
    people = write_csv(
        tmp_path / "people.csv", [["phone", "name"]] + [[e164, f"P{i}"] for i, (_, _, e164) in enumerate(ABROAD)]
    )
    imported = run_cli("import", people, "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert imported.code == 0, imported.err
    assert (imported.json()["valid"], imported.json()["suppressed"]) == (0, len(ABROAD))

    # And the other way round: the contacts imported first (the opt-outs file itself, as a job),
    # the opt-outs listed afterwards in another ledger: no row of the job is claimed.
    other = tmp_path / "other.db"
    assert run_cli("import", optouts, "--survey", "1", "--instance", "1", "--db", other).code == 0
    assert run_cli("dnc", "import", optouts, "--db", other).code == 0
    assert claimable(other, 1) == []
    states = {r["row_number"]: (r["state"], r["e164"]) for r in ledger_rows(other)}
    assert states == {i + 2: ("suppressed", e164) for i, (_, _, e164) in enumerate(ABROAD)}


def test_dnc_import_reads_a_number_as_import_does_whatever_form_it_takes(tmp_path: Path, run_cli: Run) -> None:
    """International and national forms, a 00 prefix, tel: URIs, extensions, labels, Excel number cells
    that lost their leading zero: the number `import` would call is the number listed."""
    db = tmp_path / "l.db"
    forms: list[tuple[object, str, str]] = [
        ("+52 55 1234 5678", "", "+525512345678"),
        ("0052 55 1234 5678", "", "+525512345678"),  # 00: the international prefix of most of the world
        ("tel:+44-20-7946-0958;postd=22", "", "+442079460958"),
        ("030 12345678 ext. 12", "DE", "+493012345678"),  # an extension: the bare number is listed
        ("Mobile: 0412 345 678", "AU", "+61412345678"),  # a label before the number
        (5512345678, "MX", "+525512345678"),  # an Excel number cell
        (2079460958, "GB", "+442079460958"),  # the leading 0 of 020… lost in Excel
        (919876543210, "", "+919876543210"),  # the country code written without + in a number cell
    ]
    book = write_xlsx(
        tmp_path / "optouts.xlsx",
        {"Optouts": [["Phone", "Country"]] + [[number, country] for number, country, _ in forms]},
    )
    done = run_cli("dnc", "import", book, "--db", db, "--json")
    assert done.code == 0, done.out + done.err
    assert done.json()["problems"] == []
    assert listed(db) == {("default", e164) for _, _, e164 in forms}
    # `check` of the same file reads each row as the same number.
    checked = run_cli("check", book, "--allow-duplicates", "--json")
    assert (checked.json()["valid"], checked.json()["problems"]) == (len(forms), [])
    assert run_cli("import", book, "--survey", "1", "--instance", "1", "--allow-duplicates", "--db", db).code == 0
    assert {r["state"] for r in ledger_rows(db)} == {"suppressed"}


def test_dnc_import_takes_the_reading_options_of_import(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    # A report: two title rows, the header on row 3, a country column named as no other list names it,
    # n/a for "not known", and two phone columns per person.
    rows: list[list[object]] = [
        ["Opt-outs received in November", "", "", ""],
        ["exported 2026-12-01", "", "", ""],
        ["Mobile", "Home", "Pays d'origine", "Name"],
        ["06 12 34 56 78", "01 42 68 53 00", "France", "Amélie"],
        ["07911 123456", "", "n/a", "Brian"],  # n/a: no country, so the default region (--region GB)
        ["", "(02) 9374 4000", "Australia", "Chloe"],
    ]
    book = write_xlsx(tmp_path / "campaign.xlsx", {"Contacts": [["Phone"], ["617-555-0100"]], "Opt-Outs": rows})
    done = run_cli(
        "dnc", "import", book, "--sheet", "2", "--header-row", "3", "--phone-column", "Mobile,Home",
        "--region-column", "Pays d'origine", "--null", "n/a", "--region", "GB", "--list", "nov", "--db", db, "--json",
    )  # fmt: skip
    assert done.code == 0, done.out + done.err
    assert (done.json()["added"], done.json()["problems"]) == (4, [])
    # Every number of a person who opted out is listed (not only the first, as `import` calls).
    assert listed(db) == {("nov", "+33612345678"), ("nov", "+33142685300"), ("nov", "+447911123456"),
                          ("nov", "+61293744000")}  # fmt: skip
    # The options are used, not ignored: the header taken from another row has no phone column.
    wrong = run_cli("dnc", "import", book, "--sheet", "Opt-Outs", "--header-row", "4", "--db", db)
    assert wrong.code == 2
    assert "no phone column" in wrong.err
    assert "Traceback" not in wrong.err

    # --delimiter, and the same options from a mapping file.
    semi = tmp_path / "optouts.txt"
    semi.write_text("Telefono;Pais;Nota\n55 1234 5678;México;llamar, nunca\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('region_column = "Pais"\nnulls = ["-"]\n', encoding="utf-8")
    assert run_cli("dnc", "import", semi, "--delimiter", ";", "--mapping", mapping, "--db", db).code == 0
    assert ("default", "+525512345678") in listed(db)
    assert ("default", "+15512345678") not in listed(db)


def test_a_number_that_cannot_be_read_is_reported_never_stored_as_another(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    optouts = write_csv(
        tmp_path / "optouts.csv",
        [
            ["Phone", "Country"],
            ["55 1234 5678", "Narnia"],  # no such country: not read in the default region instead
            ["020 7946 095", "GB"],  # a digit short for London
            ["call me never", ""],
            ["", "GB"],
            ["020 7946 0958", "GB"],
        ],
    )
    done = run_cli("dnc", "import", optouts, "--db", db, "--json")
    assert done.code == 1, done.out + done.err  # finished, but some numbers are not on the list
    report = done.json()
    assert (report["added"], report["unreadable"], report["blank"]) == (1, 3, 1)
    located = [(p["row"], p["column"], p["column_letter"]) for p in report["problems"]]
    assert located == [(2, "Country", "B"), (3, "Phone", "A"), (4, "Phone", "A")]
    assert report["problems"][0]["reason"].startswith("'Narnia' is not a country")
    assert report["problems"][1]["reason"].startswith("'020 7946 095' ")
    assert listed(db) == {("default", "+442079460958")}
    shown = run_cli("dnc", "import", optouts, "--db", db)
    assert shown.code == 1
    assert "phone column 'Phone' (region US, each row's country from 'Country'; header row 1)" in shown.out
    assert "3 not read (not added)" in shown.out
    assert "row 2, column 'Country' (B): 'Narnia' is not a country" in shown.out
    assert "row 3, column 'Phone' (A): '020 7946 095'" in shown.out


def test_dnc_add_reads_each_number_in_the_region_given_and_refuses_only_the_bad_ones(
    tmp_path: Path, run_cli: Run
) -> None:
    db = tmp_path / "l.db"
    mexican = run_cli("dnc", "add", "55 1234 5678", "044 55 1234 5679", "--region", "MX", "--db", db, "--json")
    # 044 was Mexico's mobile prefix until 2019: no longer part of a number, so not a number now.
    assert mexican.code == 1, mexican.err
    report = mexican.json()
    assert (report["added"], report["added_numbers"]) == (1, ["+525512345678"])
    assert [x["number"] for x in report["not_added"]] == ["044 55 1234 5679"]
    assert listed(db) == {("default", "+525512345678")}

    assert run_cli("dnc", "add", "(617) 555-0100", "--list", "complaints", "--db", db).code == 0
    forms = ["+44 20 7946 0958", "0049 30 12345678", "tel:+33142685300", "617-555-0199 ext. 22", "+61 412 345 678"]
    done = run_cli("dnc", "add", *forms, "12", "617.555.0100", "--list", "complaints", "--db", db)
    assert done.code == 1
    assert "5 added (+442079460958, +493012345678, +33142685300, +16175550199, +61412345678)" in done.out
    assert "1 already on it (+16175550100)" in done.out
    assert "not added: '12' has the wrong number of digits" in done.out
    assert "'0049 30 12345678' is not a valid US number; read as the international number +493012345678" in done.out
    added = ("+442079460958", "+493012345678", "+33142685300", "+16175550199", "+61412345678", "+16175550100")
    assert listed(db) == {("default", "+525512345678"), *{("complaints", e) for e in added}}
    nothing = run_cli("dnc", "add", "12", "call me", "--db", db)
    assert nothing.code == 2
    assert "'12'" in nothing.err
    assert "'call me'" in nothing.err
    assert "Traceback" not in nothing.err
    assert run_cli("dnc", "remove", "20 7946 0958", "--region", "GB", "--list", "complaints", "--db", db).code == 0
    assert ("complaints", "+442079460958") not in listed(db)


def test_dnc_export_to_a_pipe_is_plain_and_to_a_file_formula_safe_and_both_read_back(
    tmp_path: Path, run_cli: Run
) -> None:
    db = tmp_path / "l.db"
    numbers = ["+525512345678", "+442079460958", "+16175550100"]
    assert run_cli("dnc", "add", *numbers, "--list", "-2026", "--db", db).code == 0  # a list name a formula could start
    assert run_cli("dnc", "add", "+33142685300", "--db", db).code == 0
    piped = run_cli("dnc", "export", "-o", "-", "--db", db)
    assert piped.code == 0
    records = list(csv.reader(io.StringIO(piped.out)))
    assert records[0] == ["phone", "list", "added_at", "source"]
    assert sorted((r[0], r[1]) for r in records[1:]) == sorted(
        [("+33142685300", "default")] + [(n, "-2026") for n in numbers]
    )  # no quote in front of + or -: a program reads the numbers as they are

    saved = tmp_path / "dnc.csv"
    assert run_cli("dnc", "export", "-o", saved, "--db", db).code == 0
    with saved.open(newline="", encoding="utf-8") as f:
        in_file = list(csv.reader(f))
    assert all(r[0].startswith("'+") and r[1] in ("'-2026", "default") for r in in_file[1:])  # for a spreadsheet
    # Both, imported into another ledger, give the same lists, with when and where from each was listed.
    for i, source in enumerate((saved, tmp_path / "piped.csv")):
        if source.name == "piped.csv":
            source.write_text(piped.out, encoding="utf-8")
        other = tmp_path / f"other{i}.db"
        assert run_cli("dnc", "import", source, "--db", other).code == 0
        again = run_cli("dnc", "export", "-o", "-", "--db", other)
        assert again.out == piped.out


def test_dnc_import_json_reports_numbers_read_as_international(tmp_path: Path, run_cli: Run) -> None:
    """A number the default region cannot read, read as an international one (as `import` does), is listed
    and the row is named in a warning."""
    db = tmp_path / "l.db"
    optouts = write_csv(tmp_path / "optouts.csv", [["phone"], ["0044 20 7946 0958"], ["442079460959"]])
    done = run_cli("dnc", "import", optouts, "--db", db, "--json")
    assert done.code == 0, done.err
    assert listed(db) == {("default", "+442079460958"), ("default", "+442079460959")}
    assert [(w["row"], w["column"]) for w in done.json()["row_warnings"]] == [(2, "phone"), (3, "phone")]
    assert "read as the international number +442079460958" in json.dumps(done.json()["row_warnings"])


@pytest.mark.parametrize("bad_region", ["XX", "Narnia"])
def test_an_unknown_region_is_a_usage_error(tmp_path: Path, run_cli: Run, bad_region: str) -> None:
    optouts = write_csv(tmp_path / "optouts.csv", [["phone"], ["55 1234 5678"]])
    for command in (("dnc", "import", optouts), ("dnc", "add", "55 1234 5678")):
        done = run_cli(*command, "--region", bad_region, "--db", tmp_path / "l.db")
        assert done.code == 2
        assert f"unknown region {bad_region!r}" in done.err
        assert "Traceback" not in done.err


@pytest.mark.parametrize("region", ["MX", "mx", "MEX", "Mexico", "México", "+52"])
def test_region_is_spelled_as_a_country_column_may_spell_it(tmp_path: Path, run_cli: Run, region: str) -> None:
    """Mexico City's 55 1234 5678 is +52 55 1234 5678 (Mexico's numbering plan) whichever way the
    country is written; a country column takes the same spellings."""
    db = tmp_path / "l.db"
    assert run_cli("dnc", "add", "55 1234 5678", "--region", region, "--list", "by-hand", "--db", db).code == 0
    optouts = write_csv(tmp_path / "optouts.csv", [["phone"], ["55 1234 5679"]])
    assert run_cli("dnc", "import", optouts, "--region", region, "--list", "file", "--db", db).code == 0
    by_column = write_csv(tmp_path / "by-column.csv", [["phone", "Country"], ["55 1234 5670", region]])
    assert run_cli("dnc", "import", by_column, "--list", "column", "--db", db).code == 0
    assert listed(db) == {("by-hand", "+525512345678"), ("file", "+525512345679"), ("column", "+525512345670")}


def test_the_console_adds_the_good_numbers_and_names_the_bad_ones(running: Running) -> None:
    session, token = api_session(running.url)
    reply = session.post(
        running.url + "/api/dnc",
        json={"list": "web", "numbers": ["+52 55 1234 5678", "12", "(617) 555-0100"]},
        headers={"X-CSRFToken": token},
        timeout=10,
    )
    assert reply.status_code == 400
    message = reply.json()["error"]
    assert message.startswith("2 number(s) added to list web")
    assert "not added, not a phone number: '12' has the wrong number of digits" in message
    lists = session.get(running.url + "/api/dnc", timeout=10).json()["lists"]
    assert [(x["list"], x["numbers"]) for x in lists] == [("web", 2)]


def _written_forms() -> list[tuple[object, str, str | None]]:
    """Numbers of many countries (phonenumbers' example numbers: Google's libphonenumber metadata of
    each numbering plan) written the ways lists write them: (cell, country cell, the number, when
    the form leaves no doubt)."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    forms: list[tuple[object, str, str | None]] = []
    for region in ("MX", "GB", "DE", "FR", "IN", "AU", "BR", "JP", "ES", "IT", "ZA", "NL", "CA", "US"):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            assert number is not None, (region, kind)
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            forms += [
                (national, region, e164),  # as people there write it, with the country
                (phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL), "", e164),
                (e164, "", e164),
                (phonenumbers.format_number(number, PhoneNumberFormat.RFC3966), "", e164),  # tel:+52-…
                ("00" + e164[1:], "", e164),  # 00: the international prefix of most of the world
                (national + " ext. 7", region, e164),
                (f"tel:{e164};postd=12", "", e164),
                # Excel number cells: the national digits (a leading 0 lost: Italy keeps its 0), and
                # the international digits without + (read as international, or in the region).
                (int(phonenumbers.national_significant_number(number)), region, None),
                (int(e164[1:]), "", None),
            ]
    return forms


def test_no_number_a_job_would_call_slips_past_the_list_whatever_its_form(tmp_path: Path, run_cli: Run) -> None:
    forms = _written_forms()
    book = write_xlsx(
        tmp_path / "people.xlsx", {"People": [["Phone", "Country"]] + [[cell, country] for cell, country, _ in forms]}
    )
    db = tmp_path / "l.db"
    imported = run_cli("import", book, "--survey", "1", "--instance", "1", "--allow-duplicates", "--db", db, "--json")
    assert imported.code == 0, imported.err
    called = {r["row_number"]: r["e164"] for r in ledger_rows(db) if r["state"] == "pending"}
    assert len(called) >= len([f for f in forms if f[2] is not None])
    listing = run_cli("dnc", "import", book, "--db", db, "--json")
    problems = {p["row"] for p in listing.json()["problems"]}
    for row, (cell, _, e164) in enumerate(forms, start=2):
        if e164 is not None:  # a form that leaves no doubt: listed as that number
            assert called.get(row) == e164, (cell, called.get(row))
            assert row not in problems, (cell, listing.json()["problems"])
    # Every number the job would call is on the list now: not one of its rows is claimed.
    assert set(called.values()) <= {e for _, e in listed(db)}
    assert claimable(db, 1) == []


def test_a_row_naming_no_list_is_reported_and_the_others_are_listed(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    edited = write_csv(
        tmp_path / "edited.csv",
        [["phone", "list"], ["+16175550100", "optouts"], ["+16175550101", "opt outs"], ["+16175550102", ""]],
    )
    done = run_cli("dnc", "import", edited, "--db", db, "--json")
    assert done.code == 1
    assert [(p["row"], p["column"]) for p in done.json()["problems"]] == [(3, "list")]
    assert "'opt outs' is not a list name" in done.json()["problems"][0]["reason"]
    assert listed(db) == {("optouts", "+16175550100"), ("default", "+16175550102")}


def test_a_number_cell_written_as_a_decimal_is_its_own_number_never_one_abroad(tmp_path: Path, run_cli: Run) -> None:
    # pandas writes a number column that has an empty cell as floats: 6175550136.0. Its digits with the
    # .0 are a valid Australian number (+61 7 5550 1360), which is not the Boston number the file holds.
    people = write_csv(tmp_path / "people.csv", [["Phone"], ["6175550136.0"], ["2125550100.00"], ["6175550137.5"]])
    db = tmp_path / "l.db"
    imported = run_cli("import", people, "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert imported.code == 0, imported.err
    called = {r["row_number"]: r["e164"] for r in ledger_rows(db) if r["state"] == "pending"}
    assert called == {2: "+16175550136", 3: "+12125550100"}
    listing = run_cli("dnc", "import", people, "--db", db, "--json")
    assert listing.code == 1, listing.out + listing.err  # 6175550137.5 is no number: reported
    assert [(p["row"], p["column"]) for p in listing.json()["problems"]] == [(4, "Phone")]
    assert listed(db) == {("default", "+16175550136"), ("default", "+12125550100")}
    added = run_cli("dnc", "add", "6175550138.0", "6175550139.5", "--list", "typed", "--db", db, "--json")
    assert added.json()["added_numbers"] == ["+16175550138"]
    assert [x["number"] for x in added.json()["not_added"]] == ["6175550139.5"]
    assert claimable(db, 1) == []


def test_a_source_starting_with_a_quote_reads_back_as_it_was_from_a_pipe_and_a_file(
    tmp_path: Path, run_cli: Run
) -> None:
    db = tmp_path / "l.db"
    optouts = write_csv(tmp_path / "'optouts.csv", [["Phone"], ["6175550100"]])  # a file name may start with '
    assert run_cli("dnc", "import", optouts, "--db", db).code == 0
    piped = run_cli("dnc", "export", "-o", "-", "--db", db)
    assert next(csv.DictReader(io.StringIO(piped.out)))["phone"] == "+16175550100"  # plain, for a program
    saved = tmp_path / "dnc.csv"
    assert run_cli("dnc", "export", "-o", saved, "--db", db).code == 0
    for i, source in enumerate((saved, tmp_path / "piped.csv")):
        if source.name == "piped.csv":
            source.write_text(piped.out, encoding="utf-8")
        other = tmp_path / f"other{i}.db"
        assert run_cli("dnc", "import", source, "--db", other).code == 0
        with sqlite3.connect(other) as conn:
            assert conn.execute("SELECT e164, source FROM dnc_entries").fetchall() == [("+16175550100", "'optouts.csv")]


@pytest.mark.parametrize("cell", ["617-555-0100-1", "(617)5550100-1", "617.555.0100.1"])
def test_a_us_number_with_a_digit_after_it_is_no_number_never_one_abroad(
    tmp_path: Path, run_cli: Run, cell: str
) -> None:
    # Its digits, 61755501001, are a valid Australian number (+61 7 5550 1001); but an international
    # number written without its + begins with its country code as a group of its own (44 7559 364316),
    # and this one begins with the area code 617.
    people = write_csv(tmp_path / "people.csv", [["Phone"], [cell], ["44 7559 364316"]])
    db = tmp_path / "l.db"
    imported = run_cli("import", people, "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert (imported.json()["valid"], imported.json()["invalid"]) == (1, 1), imported.out
    assert [p["row"] for p in imported.json()["problems"]] == [2]
    listing = run_cli("dnc", "import", people, "--db", db, "--json")
    assert listing.code == 1
    assert [(p["row"], p["column"]) for p in listing.json()["problems"]] == [(2, "Phone")]
    assert listed(db) == {("default", "+447559364316")}


@pytest.mark.parametrize("cell", ["6175550100;6175550101", "6175550100#6175550101", "617-555-0100 x6175550101"])
def test_two_numbers_in_one_cell_are_reported_never_one_dialled_as_the_others_extension(
    tmp_path: Path, run_cli: Run, cell: str
) -> None:
    # A person who opts out with two numbers in one cell opts out with both; an extension is a few
    # digits dialled after connecting, and no ten-digit valid number is one.
    people = write_csv(tmp_path / "people.csv", [["Phone"], [cell], ["6175550102 x12"]])
    db = tmp_path / "l.db"
    listing = run_cli("dnc", "import", people, "--db", db, "--json")
    assert listing.code == 1, listing.out + listing.err
    (problem,) = listing.json()["problems"]
    assert (problem["row"], problem["column"]) == (2, "Phone")
    assert "holds two numbers" in problem["reason"]
    assert listed(db) == {("default", "+16175550102")}
    imported = run_cli("import", people, "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert [p["row"] for p in imported.json()["problems"]] == [2]
    explicit = run_cli("dnc", "add", "tel:+16175550103;postd=6175550104", "--db", db, "--json")  # postd= says so
    assert explicit.json()["added_numbers"] == ["+16175550103"]
