"""The rule seams: an import-time row rule and a send-time rule plug in without touching the
importer or the submitter, and run where they must (per row at import; inside the claim transaction)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from batchqueue.calling import send_rules
from batchqueue.calling.registry import JobRules
from batchqueue.intake import row_rules
from batchqueue.intake.importer import check_file, import_file
from batchqueue.intake.mapping.resolve import ResolvedMapping, resolve
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.mapping.validate import Reason, RowValidator
from batchqueue.intake.rules import BoundRule, RowDraft
from batchqueue.ledger import ClaimContext, Claimed, Verdict, open_ledger
from batchqueue.sandbox import Sandbox, SandboxConfig
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import contacts, ledger_rows


@dataclass(frozen=True)
class OddOnly:
    """Refuses numbers ending in an even digit; keeps the last digit as a fact."""

    name: str = "odd-only"
    per_row: bool = True

    def bind(self, headers: list[str], mapping: ResolvedMapping) -> BoundRule:
        column = mapping.phone_column

        def check(draft: RowDraft) -> list[Reason]:
            last = int(draft.request.e164[-1])
            draft.facts["last_digit"] = last
            return [(column, "ends in an even digit")] if last % 2 == 0 else []

        return check


@pytest.mark.parametrize("parallel", [False, True])
def test_an_import_rule_refuses_rows_and_keeps_facts(tmp_path: Path, parallel: bool) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    result = import_file(
        ledger,
        contacts(tmp_path / "c.csv", 20),
        MappingSpec(),
        survey_id="1",
        instance_id="1",
        rules=[OddOnly()],
        parallel=parallel,
    )
    ledger.close()
    assert (result.valid, result.invalid) == (10, 10)
    assert any(p.reason == "ends in an even digit" for p in result.problems)
    rows = ledger_rows(tmp_path / "l.db")
    for row in rows:
        last = int(json.loads(row["cells"])[0][-1])
        assert row["state"] == ("pending" if last % 2 else "invalid")
        if row["state"] == "pending":
            assert json.loads(row["facts"]) == {"last_digit": last}


def test_without_rules_plain_numbers_take_the_fast_path_and_no_facts_are_stored(tmp_path: Path) -> None:
    result = check_file(contacts(tmp_path / "c.csv", 20), MappingSpec())
    assert result.valid == 20


@dataclass(frozen=True)
class FlaggedDoNotCall:
    """Refuses rows whose "Do Not Call" column says yes; nothing to do for a file without one."""

    name: str = "do-not-call-column"
    per_row: bool = True

    def bind(self, headers: list[str], mapping: ResolvedMapping) -> BoundRule | None:
        if "Do Not Call" not in headers:
            return None
        at = headers.index("Do Not Call")
        return lambda draft: [("Do Not Call", "is marked do-not-call")] if draft.cells[at].lower() == "yes" else []


def test_a_rule_with_nothing_to_do_for_a_file_keeps_the_fast_path(tmp_path: Path) -> None:
    plain = ["phone", "name"]
    flagged = ["phone", "Do Not Call"]
    spec, now = MappingSpec(), int(time.time())
    without = RowValidator(resolve(spec, plain, now=now), plain, now, [FlaggedDoNotCall()])
    assert without.plain_digits is not None
    assert without.rules == []
    with_column = RowValidator(resolve(spec, flagged, now=now), flagged, now, [FlaggedDoNotCall()])
    assert with_column.plain_digits is None
    assert len(with_column.rules) == 1
    assert check_file(contacts(tmp_path / "c.csv", 20), spec, rules=[FlaggedDoNotCall()]).valid == 20


def test_every_import_applies_the_registered_row_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., CliResult]
) -> None:
    monkeypatch.setattr(row_rules, "IMPORT_RULES", (FlaggedDoNotCall(),))
    path = write_csv(
        tmp_path / "c.csv",
        [["phone", "Do Not Call"], ["(617) 200-0001", "Yes"], ["(617) 200-0002", ""], ["(617) 200-0003", "no"]],
    )
    checked = run_cli("check", path, "--json")
    assert checked.code == 1, checked.err  # a row is invalid
    imported = run_cli("import", path, "--survey", "1", "--instance", "1", "--json")
    assert imported.code == 0, imported.err  # a job of the valid rows, the others set aside
    for result in (checked.json(), imported.json()):
        assert (result["valid"], result["invalid"]) == (2, 1)
    assert [r["state"] for r in ledger_rows(tmp_path / "batchqueue.db")] == ["invalid", "pending", "pending"]


HOLD_FOR = 3600
#: Job rules allowing any hour, knowingly outside the federal 08:00-21:00 and without the states'
#: own hours, so that the rule's windows (from now) meet them whatever the time of day the test runs.
ANY_HOUR = JobRules.from_texts(
    {"calling-hours": "00:00-24:00", "outside-federal-hours": "yes", "state-rules": "none"}
).options()


def hold_even_narrow_odd(rows: list[Claimed], context: ClaimContext) -> list[Verdict]:
    """Inside the claim transaction: reads the ledger on the claim's own connection."""
    pending = context.conn.execute(
        text("SELECT count(*) FROM rows WHERE job_id = :j AND state = 'pending'"), {"j": context.job_id}
    ).scalar_one()
    assert pending >= len(rows)
    verdicts = []
    for row in rows:
        if int(row.e164[-1]) % 2 == 0:
            verdicts.append(Verdict(send=False, hold_until=context.now + HOLD_FOR, reason="even numbers wait"))
        else:
            verdicts.append(Verdict(start_ts=int(context.now) + 60, end_ts=int(context.now) + 660))
    return verdicts


def test_a_send_rule_holds_rows_and_narrows_windows_inside_the_claim(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    ledger = open_ledger(f"sqlite:///{db}")
    # Calling hours at any hour, so that the rule's windows (from now) always meet them.
    anytime = ANY_HOUR
    import_file(
        ledger, contacts(tmp_path / "c.csv", 20), MappingSpec(), survey_id="4242", instance_id="1", options=anytime
    )
    ledger.close()
    with Sandbox() as sb:
        settings = Settings.from_env(
            {"BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user, "BATCHQUEUE_API_KEY": sb.config.key},
            db=str(db),
        )
        started = time.time()
        summary = run(settings, RunRequest(1, rate=0, concurrency=4, review=hold_even_narrow_odd))
        again = run(settings, RunRequest(1, rate=0, concurrency=4, review=hold_even_narrow_odd))
        calls = sb.app.store.dump()
    assert summary.counts["queued"] == 10
    assert summary.counts["pending"] == 10  # held, not lost, not sent
    assert again.sent == 0  # still held: a second run sends nothing before the hold ends
    assert {int(c["phone_number"][-1]) % 2 for c in calls} == {1}
    for call in calls:
        start, end = int(call["fields"]["start_timestamp"]), int(call["fields"]["end_timestamp"])
        assert start >= started + 59
        assert end - start == 600
    rows = ledger_rows(db)
    held = [r for r in rows if r["state"] == "pending"]
    # A rule that names no reason holds as the run's own rule, with its words as the particulars.
    assert {(r["hold_reason"], r["hold_detail"]) for r in held} == {("send_time_rule", "even numbers wait")}
    assert all(r["not_before"] >= started + HOLD_FOR - 5 for r in held)
    sent = [r for r in rows if r["state"] == "queued"]
    assert all(r["sent_end_ts"] - r["sent_start_ts"] == 600 for r in sent)


def test_every_run_applies_the_registered_send_rules_that_apply_to_its_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A maker in ``calling/send_rules.SEND_RULES`` gives the rule of a job, or None: job 1 (survey
    4242) is held by it, job 2 (survey 4243) is not; no run is given a ``review``."""
    monkeypatch.setattr(
        send_rules, "SEND_RULES", (lambda job: hold_even_narrow_odd if job.survey_id == "4242" else None,)
    )
    db = tmp_path / "l.db"
    ledger = open_ledger(f"sqlite:///{db}")
    anytime = ANY_HOUR
    for survey, first in (("4242", 0), ("4243", 100)):
        import_file(
            ledger,
            contacts(tmp_path / f"{survey}.csv", 20, first=first),
            MappingSpec(),
            survey_id=survey,
            instance_id="1",
            options=anytime,
        )
    ledger.close()
    with Sandbox(SandboxConfig(surveys={"4242": "1", "4243": "1"})) as sb:
        settings = Settings.from_env(
            {"BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user, "BATCHQUEUE_API_KEY": sb.config.key},
            db=str(db),
        )
        ruled = run(settings, RunRequest(1, rate=0, concurrency=4))
        free = run(settings, RunRequest(2, rate=0, concurrency=4))
    assert (ruled.counts["queued"], ruled.counts["pending"]) == (10, 10)
    assert (free.counts["queued"], free.counts["pending"]) == (20, 0)
    held = [r for r in ledger_rows(db, 1) if r["state"] == "pending"]
    assert {(r["hold_reason"], r["hold_detail"]) for r in held} == {("send_time_rule", "even numbers wait")}
