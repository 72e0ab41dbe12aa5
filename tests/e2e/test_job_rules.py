"""Rules belong to the job, by name: the rules given at import (hours, days, holidays, blackout dates,
re-contact, caps, state caps) are stored on the job and are part of its fingerprint, so the same file
imported with other rules is another job, and says so; every run applies the job's rules, a run may
narrow them (kept on the job for the next runs) but never widen them without ``--widen-rules``; one
registry of named rules serves ``--rule NAME=VALUE``, the mapping file's ``[rules]`` and the console.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from batchqueue.sandbox import Sandbox
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import contacts, ledger_rows, point_at

Run = Callable[..., CliResult]


def _import(run_cli: Run, path: Path, db: Path, *more: str | Path) -> CliResult:
    return run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", db, *more)


@pytest.mark.parametrize(
    "other",
    [
        ["--recontact-after", "3d"],
        ["--max-contacts", "2/7d"],
        ["--calling-hours", "09:00-20:00"],
        ["--days", "mon-fri"],
        ["--holidays", "US"],
        ["--blackout", "2031-12-24"],
        ["--rule", "state-caps=none"],
        ["--rule", "recontact-after=0"],
        ["--mapping", "{rules}"],
    ],
    ids=["recontact", "max-contacts", "hours", "days", "holidays", "blackout", "state-caps", "rule", "mapping-file"],
)
def test_the_same_file_with_other_rules_is_a_new_job_and_says_so(
    tmp_path: Path, run_cli: Run, other: list[str]
) -> None:
    db = tmp_path / "l.db"
    rules = tmp_path / "r.toml"
    rules.write_text('[rules]\nrecontact-after = "2w"\n', encoding="utf-8")
    path = contacts(tmp_path / "c.csv", 4)
    assert _import(run_cli, path, db).code == 0
    # The same file and rules again: the job it already is.
    same = _import(run_cli, path, db, "--json").json()
    assert (same["job_id"], same["created"]) == (1, False)
    given = [a.format(rules=rules) for a in other]
    changed = _import(run_cli, path, db, *given)
    assert changed.code == 0, changed.err
    assert "job 2 created" in changed.out
    assert "job 1 holds this file with the same mapping but other rules:" in changed.out
    # The jobs of one file never call each other's numbers (the overlap protection of re-imports)...
    assert "job 2 overlaps job 1 (the same file): 4 number(s) in both" in changed.out
    as_json = _import(run_cli, path, db, *given, "--json").json()
    assert (as_json["job_id"], as_json["created"]) == (2, False)  # the new rules' job, found again
    other_rules = as_json["other_rules"]
    assert [o["job_id"] for o in other_rules] == [1]
    assert other_rules[0]["differences"]


def test_a_rule_given_by_name_is_the_same_rule_as_its_option(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    path = contacts(tmp_path / "c.csv", 2)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[rules]\nrecontact-after = "3d"\nmax-contacts = "2/7d"\n', encoding="utf-8")
    first = _import(run_cli, path, db, "--recontact-after", "3d", "--max-contacts", "2/7d", "--json").json()
    by_name = _import(run_cli, path, db, "--rule", "recontact-after=3d", "--rule", "max-contacts=2/7d", "--json")
    from_file = _import(run_cli, path, db, "--mapping", mapping, "--json")
    assert (first["job_id"], by_name.json()["job_id"], from_file.json()["job_id"]) == (1, 1, 1)
    assert (by_name.json()["created"], from_file.json()["created"]) == (False, False)
    # The command line wins over the mapping file, as for every other option.
    overridden = _import(run_cli, path, db, "--mapping", mapping, "--recontact-after", "5d", "--json").json()
    assert (overridden["created"], overridden["rules"]["recontact_after"]) == (True, 5 * 86400)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "no-such-rule=1"], "--rule 'no-such-rule=1': no rule named 'no-such-rule'; known: "),
        (["--rule", "recontact-after=soon"], "--rule recontact-after 'soon': expected a period"),
        (["--rule", "max-contacts"], "--rule 'max-contacts': give its value (max-contacts=N/PERIOD)"),
        (["--rule", "recontact-after=3d", "--recontact-after", "2d"], "recontact-after is given twice"),
        (["--rule", "state-caps=maybe"], "--rule state-caps 'maybe': expected us or none"),
    ],
    ids=["unknown", "bad-value", "no-value", "twice", "bad-choice"],
)
def test_a_bad_rule_is_refused_naming_it(tmp_path: Path, run_cli: Run, args: list[str], message: str) -> None:
    done = _import(run_cli, contacts(tmp_path / "c.csv", 2), tmp_path / "l.db", *args)
    assert done.code == 2, done.out
    assert message in done.err


def test_a_mapping_files_unknown_rule_names_the_file(tmp_path: Path, run_cli: Run) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[rules]\nrecontact_afterr = "3d"\n', encoding="utf-8")
    done = _import(run_cli, contacts(tmp_path / "c.csv", 2), tmp_path / "l.db", "--mapping", mapping)
    assert done.code == 2
    assert f"mapping file {mapping}: [rules]" in done.err
    assert "recontact_afterr" in done.err


def _dry_run_windows(run_cli: Run, db: Path, job: str) -> list[tuple[int, int]]:
    """The local (New York) start and end hour of each request the next claim would send."""
    shown = run_cli("run", job, "--db", db, "--dry-run", "--json")
    assert shown.code == 0, shown.err
    zone = ZoneInfo("America/New_York")
    found = []
    for row in shown.json()["rows"]:
        fields = row["fields"]
        start = dt.datetime.fromtimestamp(int(fields["start_timestamp"]), zone)
        end = dt.datetime.fromtimestamp(int(fields["end_timestamp"]), zone)
        found.append((start.hour, end.hour if end.minute == 0 else end.hour + 1))
    return found


def test_a_runs_narrower_hours_are_kept_for_the_next_run(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    # Boston numbers (617: Eastern time, the same clock as New York).
    assert _import(run_cli, contacts(tmp_path / "c.csv", 4), db).code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        narrowed = run_cli("run", "1", "--db", db, "--rate", "0", "--limit", "1", "--calling-hours", "13:00-14:00")
        assert narrowed.code == 0, narrowed.err
        assert "kept on job 1 for its next runs" in narrowed.out
    # The next run, given nothing, still keeps to 13:00-14:00 (the dry run shows what would be sent).
    assert set(_dry_run_windows(run_cli, db, "1")) == {(13, 14)}
    rules = run_cli("status", "1", "--db", db, "--json").json()["rules"]
    assert any(r["name"] == "calling-hours" and r["value"] == "13:00-14:00" for r in rules["named"])
    # A dry run changes nothing: its narrower hours are not kept.
    assert run_cli("run", "1", "--db", db, "--dry-run", "--calling-hours", "13:00-13:30").code == 0
    assert set(_dry_run_windows(run_cli, db, "1")) == {(13, 14)}


@pytest.mark.parametrize(
    "wider",
    [["--rule", "recontact-after=0"], ["--rule", "recontact-after=1d"], ["--rule", "state-caps=none"]],
    ids=["recontact-off", "shorter-recontact", "state-caps-off"],
)
def test_a_run_never_widens_the_jobs_rules_unless_told(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, wider: list[str]
) -> None:
    db = tmp_path / "l.db"
    assert _import(run_cli, contacts(tmp_path / "c.csv", 2), db).code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        refused = run_cli("run", "1", "--db", db, "--rate", "0", *wider)
        assert refused.code == 2
        assert "would widen job 1's rules" in refused.err
        assert "--widen-rules" in refused.err
        assert sb.app.store.dump() == []
        allowed = run_cli("run", "1", "--db", db, "--rate", "0", "--widen-rules", *wider)
        assert allowed.code == 0, allowed.err
        assert len(sb.app.store.dump()) == 2


def test_a_runs_cap_narrows_the_job_and_is_kept(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    path = write_csv(tmp_path / "c.csv", [["phone"], ["(617) 201-0001"]])
    assert _import(run_cli, path, db, "--max-attempts", "3", "--reattempt-wait", "600").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        sent = run_cli("run", "1", "--db", db, "--rate", "0", "--rule", "max-contacts=2/1d")
        assert sent.code == 0, sent.err
        assert [c["fields"]["max_attempts"] for c in sb.app.store.dump()] == ["2"]
    rules = run_cli("status", "1", "--db", db, "--json").json()["rules"]
    assert rules["max_contacts"] == [[2, 86400]]
    assert [r["state"] for r in ledger_rows(db, 1)] == ["queued"]


def test_every_listed_rule_is_taken_by_import_with_its_default(tmp_path: Path, run_cli: Run) -> None:
    listed = run_cli("rules")
    assert listed.code == 0
    found = re.findall(
        r"^(\S+) \(v(\d+), runs at ([a-z ]+)\): (.*?)(?:; default (.*?))?(; always on)?$", listed.out, re.M
    )
    rules = {name: (runs.split(" and "), default, fixed) for name, _, runs, _, default, fixed in found}
    for name in ("calling-hours", "days", "holidays", "blackout", "recontact-after", "max-contacts", "state-caps"):
        assert "claim" in rules[name][0]
        assert not rules[name][2]
    assert rules["recontact-after"][0] == ["import", "claim"]
    assert rules["dnc"][2]  # listed, always on
    path = contacts(tmp_path / "c.csv", 2)
    given = [f"{name}={default}" for name, (_, default, fixed) in rules.items() if default and not fixed]
    assert len(given) >= 3
    plain = _import(run_cli, path, tmp_path / "l.db", "--json").json()
    # The defaults given by name are the rules a job gets when nobody gives any: the same job.
    by_name = _import(run_cli, path, tmp_path / "l.db", *(a for g in given for a in ("--rule", g)), "--json")
    assert by_name.code == 0, by_name.err
    assert (by_name.json()["job_id"], by_name.json()["created"]) == (plain["job_id"], False)
