"""Do-not-call lists: kept ledger-wide, applied at import and again inside every claim, so a
number put on a list after the import, or while a run goes on, is never sent."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox
from batchqueue.service import dnc
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.conftest import CliResult, write_csv, write_xlsx
from tests.sandbox_helpers import contacts, ledger_rows, ledger_rows_url

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
    assert done.code == 0, done.err
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
    assert "suppressed 2 (on a do-not-call list" in shown.out
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
    assert shown.out.splitlines()[1].startswith("'+16175550100,default,")
    assert "1 numbers written to standard output" in shown.err
    assert not (tmp_path / "-").exists()
