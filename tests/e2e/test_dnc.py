"""Do-not-call lists: kept ledger-wide, applied at import and again inside every claim, so a
number put on a list after the import, or while a run goes on, is never sent."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.periods import OFF
from batchqueue.sandbox import Sandbox
from batchqueue.service import dnc
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.conftest import CliResult, write_csv, write_xlsx
from tests.sandbox_helpers import contacts, ledger_rows, ledger_rows_url

#: Import options that turn re-contact protection off (jobs of the same file bar each other's calls).
RECONTACT_OFF = {"recontact_after": OFF}

Run = Callable[..., CliResult]


def e164_of_contact(i: int) -> str:
    """The number of row ``i`` of :func:`contacts` (from 0)."""
    return f"+1617{200 + i // 10000:03d}{i % 10000:04d}"


def test_import_add_remove_list_and_an_export_that_imports_back_unchanged(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    optouts = write_csv(
        tmp_path / "optouts.csv",
        [["Name", "Mobile"], ["A", "(617) 555-0100"], ["B", "call me never"], ["C", ""], ["D", "+44 20 7946 0958"]],
    )
    done = run_cli("dnc", "import", optouts, "--list", "optouts", "--db", db, "--json")
    assert done.code == 1, done.err  # finished, but one number is not on the list
    report = done.json()
    assert (report["added"], report["already_listed"], report["unreadable"], report["blank"]) == (2, 0, 1, 1)
    assert report["problems"] == [
        {"row": 3, "column": "Mobile", "column_letter": "B", "reason": "'call me never' is not a phone number"}
    ]
    assert run_cli("dnc", "add", "617-555-0101", "617.555.0100", "--db", db).code == 0
    again = run_cli("dnc", "import", optouts, "--list", "optouts", "--db", db, "--json").json()
    assert (again["added"], again["already_listed"]) == (0, 2)

    listed = run_cli("dnc", "list", "--db", db, "--json").json()
    assert [(x["list"], x["numbers"]) for x in listed] == [("default", 2), ("optouts", 2)]

    out = tmp_path / "dnc.csv"
    assert run_cli("dnc", "export", "-o", out, "--db", db).code == 0
    with out.open(newline="", encoding="utf-8") as f:
        exported = list(csv.reader(f))
    assert exported[0] == ["phone", "list", "added_at", "source"]
    assert all(row[0].startswith("'+") for row in exported[1:])  # formula-safe: '+… is text to a spreadsheet
    entries = sorted((row[0][1:], row[1]) for row in exported[1:])
    assert entries == [
        ("+16175550100", "default"),
        ("+16175550100", "optouts"),
        ("+16175550101", "default"),
        ("+442079460958", "optouts"),
    ]
    # The export, imported into another ledger, gives the same lists (each row names its list).
    other = tmp_path / "other.db"
    assert run_cli("dnc", "import", out, "--db", other).code == 0
    again_out = tmp_path / "again.csv"
    run_cli("dnc", "export", "-o", again_out, "--db", other)
    with again_out.open(newline="", encoding="utf-8") as f:
        assert sorted((row[0][1:], row[1]) for row in list(csv.reader(f))[1:]) == entries

    removed = run_cli("dnc", "remove", "+1 617 555 0101", "617-555-0199", "(617) 555-0101", "--db", db)
    assert "1 removed, 1 were not on it" in removed.out  # the same number twice counts once
    bad = run_cli("dnc", "add", "12", "--db", db)
    assert bad.code == 2
    assert "'12'" in bad.err
    assert "Traceback" not in bad.err
    bad_name = run_cli("dnc", "add", "6175550102", "--list", "no spaces", "--db", db)
    assert bad_name.code == 2
    assert "--list 'no spaces'" in bad_name.err


def test_an_opt_outs_sheet_of_the_workbook_suppresses_rows_at_import(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    book = write_xlsx(
        tmp_path / "campaign.xlsx",
        {
            "Contacts": [["Phone", "Name"]] + [[f"617-200-{i:04d}", f"N{i}"] for i in range(10)],
            "Opt-Outs": [["Opted out", "When"], ["(617) 200-0003", "2026-10-01"], ["6172000007", "2026-11-02"]],
        },
    )
    assert run_cli("dnc", "import", book, "--sheet", "Opt-Outs", "--phone-column", "Opted out", "--db", db).code == 0
    done = run_cli("import", book, "--sheet", "Contacts", "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert done.code == 0, done.err
    result = done.json()
    assert (result["valid"], result["suppressed"]) == (8, 2)
    rows = ledger_rows(db)
    suppressed = {r["row_number"]: json.loads(r["reasons"]) for r in rows if r["state"] == "suppressed"}
    assert suppressed == {5: [["Phone", "dnc:default"]], 9: [["Phone", "dnc:default"]]}
    shown = run_cli("import", book, "--sheet", "Contacts", "--survey", "1", "--instance", "1", "--db", db, "--new-job")
    assert "suppressed 2 (2 on a do-not-call list" in shown.out
    assert shown.out.count("re-contact") == 0
    assert run_cli("status", "2", "--db", db, "--json").json()["suppressed_by"] == {"dnc:default": 2}
    assert "suppressed: dnc:default 2" in run_cli("status", "2", "--db", db).out


def test_the_lists_are_checked_in_each_claim_on_both_backends(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        ledger.add_to_dnc([("early", e164_of_contact(1))], source="test")
        result = import_file(ledger, contacts(tmp_path / "c.csv", 8), MappingSpec(), survey_id="1", instance_id="1")
        assert result.job_id is not None
        assert (result.valid, result.suppressed) == (7, 1)
        # Listed after the import: found as the rows are claimed, never claimed.
        added, already = ledger.add_to_dnc(
            [("late", e164_of_contact(4)), ("late", e164_of_contact(5)), ("early", e164_of_contact(1))], source="t"
        )
        assert (added, already) == (2, 1)
        settled = ledger.settle(result.job_id, [], [], 4)
        assert [c.row_number for c in settled.claimed] == [2, 4, 5, 8]  # rows 6 and 7 skipped, two more taken
        assert settled.suppressed == 2
        assert ledger.remove_from_dnc("late", [e164_of_contact(5), e164_of_contact(6)]) == 1
        rest = ledger.settle(result.job_id, [], [], 10)
        assert [c.row_number for c in rest.claimed] == [9]  # a suppressed row stays suppressed
        assert ledger.counts(result.job_id)["suppressed"] == 3
    finally:
        ledger.close()
    reasons = {r["row_number"]: r["reasons"] for r in ledger_rows_url(ledger_url) if r["state"] == "suppressed"}
    assert {n: json.loads(v) for n, v in reasons.items()} == {
        3: [["phone", "dnc:early"]],
        6: [["phone", "dnc:late"]],
        7: [["phone", "dnc:late"]],
    }


def test_a_number_listed_while_a_run_goes_on_is_never_sent(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    ledger = open_ledger(f"sqlite:///{db}")
    import_file(ledger, contacts(tmp_path / "c.csv", 60), MappingSpec(), survey_id="4242", instance_id="1")
    ledger.close()
    late = [e164_of_contact(i) for i in range(45, 60, 2)]  # rows the run has not reached yet
    with Sandbox() as sb:
        settings = Settings.from_env(
            {"BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user, "BATCHQUEUE_API_KEY": sb.config.key},
            db=str(db),
        )
        listed_at: list[float] = []

        def list_them_mid_run() -> None:
            deadline = time.monotonic() + 30
            while len(sb.app.store.dump()) < 10 and time.monotonic() < deadline:
                time.sleep(0.02)
            dnc.add(settings, "complaints", late)
            listed_at.append(len(sb.app.store.dump()))

        adder = threading.Thread(target=list_them_mid_run)
        adder.start()
        summary = run(settings, RunRequest(1, rate=20, concurrency=2))
        adder.join()
        called = {c["phone_number"] for c in sb.app.store.dump()}
    assert listed_at, "the numbers were never listed"
    assert listed_at[0] < 40, "the numbers were listed after the run had reached them"
    assert not called & {f"tel:{n}" for n in late}
    assert not called & set(late)
    assert len(called) == 60 - len(late)
    assert summary.counts["suppressed"] == summary.suppressed == len(late)
    assert summary.counts["queued"] == 60 - len(late)


def test_dnc_export_to_standard_output(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    assert run_cli("dnc", "add", "617-555-0100", "--db", db).code == 0
    shown = run_cli("dnc", "export", "-o", "-", "--db", db)
    assert shown.code == 0
    assert shown.out.splitlines()[0] == "phone,list,added_at,source"
    assert shown.out.splitlines()[1].startswith("+16175550100,default,")  # plain, for a program
    assert "1 numbers written to standard output" in shown.err
    assert not (tmp_path / "-").exists()


def test_dnc_export_piped_into_dnc_import_from_standard_input(tmp_path: Path) -> None:
    """`dnc export -o - | dnc import -` copies the lists into another ledger, as `import -` reads
    standard input; real processes joined by a real pipe."""
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    cli = [sys.executable, "-m", "batchqueue"]
    assert subprocess.run([*cli, "dnc", "add", "617-555-0100", "--list", "a", "--db", first]).returncode == 0
    assert subprocess.run([*cli, "dnc", "add", "+44 20 7946 0958", "--list", "b", "--db", first]).returncode == 0
    exported = subprocess.run([*cli, "dnc", "export", "-o", "-", "--db", first], capture_output=True, check=True)
    imported = subprocess.run(
        [*cli, "dnc", "import", "-", "--db", second, "--json"], input=exported.stdout, capture_output=True, cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr.decode()
    assert json.loads(imported.stdout)["added"] == 2
    listed = subprocess.run([*cli, "dnc", "export", "-o", "-", "--db", second], capture_output=True, check=True)
    entries = sorted(tuple(row[:2]) for row in csv.reader(listed.stdout.decode().splitlines()[1:]))
    assert entries == [("+16175550100", "a"), ("+442079460958", "b")]


def _reasons(url: str, job_id: int) -> dict[int, tuple[str, object]]:
    """Each row of a job: its state, and its reasons read from JSON."""
    return {
        r["row_number"]: (r["state"], json.loads(r["reasons"]) if r["reasons"] else None)
        for r in ledger_rows_url(url, job_id)
    }


def test_a_row_dialled_with_an_extension_is_suppressed_when_its_bare_number_is_listed(
    ledger_url: str, tmp_path: Path
) -> None:
    """The list holds numbers; a row dials its number and then an extension (postd): listing the
    number bars the row, whichever way the extension is written, at import and in each claim."""
    people = write_csv(
        tmp_path / "c.csv",
        [
            ["phone", "name"],
            ["617-200-0001 ext. 22", "A"],  # row 2
            ["tel:+16172000002;postd=3", "B"],  # row 3
            ["(617) 200-0003 x7", "C"],  # row 4
            ["+44 20 7946 0958 ext 5", "D"],  # row 5
            ["617-200-0005 #801", "E"],  # row 6: its bare number is listed later, written with an extension
            ["617-200-0006", "F"],  # row 7: never listed
        ],
    )
    settings = Settings.from_env({}, db=ledger_url)
    ledger = open_ledger(ledger_url)
    try:
        first = import_file(ledger, people, MappingSpec(), survey_id="1", instance_id="1")
        assert (first.valid, first.suppressed) == (6, 0)
        assert first.job_id is not None
        # Listed after the import, as people write them: without the extension.
        bare = ["617-200-0001", "+16172000002", "617.200.0003", "+44 20 7946 0958"]
        assert dnc.add(settings, "complaints", bare).added == 4
        # A number listed with an extension is listed as the number: every extension of it is barred.
        assert dnc.add(settings, "complaints", ["(617) 200-0005 ext. 9"]).added_numbers == ["+16172000005"]
        settled = ledger.settle(first.job_id, [], [], 10)
        assert [c.row_number for c in settled.claimed] == [7]
        assert settled.suppressed == 5
        # Imported once they are listed: suppressed at import.
        # (Re-contact protection off: the first job's claim of row 7 would bar it, which is another rule.)
        second = import_file(
            ledger, people, MappingSpec(), survey_id="1", instance_id="1", new_job=True, options=RECONTACT_OFF
        )
        assert (second.valid, second.suppressed) == (1, 5)
        assert second.job_id is not None
        assert [c.row_number for c in ledger.settle(second.job_id, [], [], 10).claimed] == [7]
    finally:
        ledger.close()
    for job_id in (first.job_id, second.job_id):
        rows = _reasons(ledger_url, job_id)
        assert {n: rows[n] for n in range(2, 7)} == {
            n: ("suppressed", [["phone", "dnc:complaints"]]) for n in range(2, 7)
        }
        assert rows[7][0] == "sending"


def test_dnc_remove_from_one_list_leaves_the_number_on_the_others(
    ledger_url: str, tmp_path: Path, run_cli: Run
) -> None:
    settings = Settings.from_env({}, db=ledger_url)
    ledger = open_ledger(ledger_url)
    try:
        job = import_file(ledger, contacts(tmp_path / "c.csv", 5), MappingSpec(), survey_id="1", instance_id="1")
        assert job.job_id is not None
        dnc.add(settings, "complaints", [e164_of_contact(2), e164_of_contact(3)])
        dnc.add(settings, "optouts", [e164_of_contact(2)])
        # Taken off one list, written another way: still on the other.
        assert dnc.remove(settings, "complaints", ["(617) 200-0002"]) == (1, 0)
        on_lists = {(n, c) for n, c, _ in dnc.lists(settings)}
        assert on_lists == {("complaints", 1), ("optouts", 1)}
        settled = ledger.settle(job.job_id, [], [], 10)
        assert [c.row_number for c in settled.claimed] == [2, 3, 6]  # contacts 2 and 3 are rows 4 and 5
        # Off the last list it is on: a new job calls it again (an old suppressed row stays suppressed).
        assert dnc.remove(settings, "optouts", [e164_of_contact(2)]) == (1, 0)
        again = import_file(
            ledger,
            contacts(tmp_path / "c.csv", 5),
            MappingSpec(),
            survey_id="1",
            instance_id="1",
            new_job=True,
            options=RECONTACT_OFF,  # the first job's claims would bar its numbers: another rule
        )
        assert (again.valid, again.suppressed) == (4, 1)
    finally:
        ledger.close()
    rows = _reasons(ledger_url, job.job_id)
    assert (rows[4], rows[5]) == (
        ("suppressed", [["phone", "dnc:optouts"]]),
        ("suppressed", [["phone", "dnc:complaints"]]),
    )
    if ledger_url.startswith("sqlite"):  # the same through the command line
        db = ledger_url.removeprefix("sqlite:///")
        assert run_cli("dnc", "add", "617-200-0009", "--list", "a", "--db", db).code == 0
        assert run_cli("dnc", "add", "617-200-0009", "--list", "b", "--db", db).code == 0
        assert "1 removed, 0 were not on it" in run_cli("dnc", "remove", "6172000009", "--list", "a", "--db", db).out
        exported = run_cli("dnc", "export", "-o", "-", "--list", "b", "--db", db).out
        assert "+16172000009,b," in exported


def test_import_never_turns_invalid_duplicate_or_filtered_rows_into_suppressed_ones(
    ledger_url: str, tmp_path: Path
) -> None:
    """A listed number on a row that is invalid for another reason, repeats an earlier row, or is left
    out by --where keeps that state and its own reason: the suppressed count is the rows it barred."""
    settings = Settings.from_env({}, db=ledger_url)
    dnc.add(settings, "optouts", ["617-200-0001", "617-200-0002", "617-200-0003", "617-200-0004"])
    people = write_csv(
        tmp_path / "c.csv",
        [
            ["phone", "max_attempts", "Country", "Consent"],
            ["617-200-0001", "", "", "yes"],  # row 2: suppressed
            ["(617) 200-0001", "", "", "yes"],  # row 3: the same number again: a duplicate
            ["617-200-0002", "0", "", "yes"],  # row 4: max_attempts out of range: invalid
            ["617-200-0003", "", "Atlantis", "yes"],  # row 5: an unknown country: invalid
            ["617-200-0004", "", "", "no"],  # row 6: left out by --where
            ["617-200-0005", "", "", "yes"],  # row 7: not listed
        ],
    )
    ledger = open_ledger(ledger_url)
    try:
        spec = MappingSpec(where=("Consent = yes",))
        result = import_file(ledger, people, spec, survey_id="1", instance_id="1")
        assert (result.valid, result.suppressed, result.duplicate, result.invalid, result.filtered) == (1, 1, 1, 2, 1)
        assert result.job_id is not None
        assert [c.row_number for c in ledger.settle(result.job_id, [], [], 10).claimed] == [7]
        counts = {k: v for k, v in ledger.counts(result.job_id).items() if v}
        assert counts == {"sending": 1, "suppressed": 1, "duplicate": 1, "invalid": 2, "filtered": 1}
    finally:
        ledger.close()
    rows = _reasons(ledger_url, result.job_id)
    assert rows[2] == ("suppressed", [["phone", "dnc:optouts"]])
    assert rows[3] == ("duplicate", [["phone", "same number as row 2"]])
    assert rows[4][0] == "invalid"
    assert rows[4][1] == [["max_attempts", "max_attempts must be 1-10, got 0"]]
    assert rows[5][0] == "invalid"
    reasons = rows[5][1]
    assert isinstance(reasons, list)
    assert [column for column, _ in reasons] == ["Country"]
    assert rows[6] == ("filtered", [["Consent", "filtered out by --where Consent = yes"]])
