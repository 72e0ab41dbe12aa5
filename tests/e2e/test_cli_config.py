"""``--db``, ``--profile`` and ``--ca-bundle``: declared once, taken by the command group before the
command (``batchqueue --db x.db status``) and, as always, after it (``batchqueue status --db x.db``);
a value after the command wins. Each is checked by what a user sees: the ledger the command used,
the file or profile its message names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult
from tests.sandbox_helpers import contacts

Run = Callable[..., CliResult]


def _import(run_cli: Run, tmp_path: Path, *db: str) -> CliResult:
    source = contacts(tmp_path / "c.csv", 2)
    return run_cli(
        *[a for a in db[:2] if a], "import", source, "--survey", "4242", "--instance", "1", *db[2:], "--json"
    )


def test_db_before_the_command_is_the_ledger_used(tmp_path: Path, run_cli: Run) -> None:
    ledger = tmp_path / "before.db"
    done = _import(run_cli, tmp_path, "--db", str(ledger))
    assert done.code == 0, done.err
    assert ledger.exists()
    assert not (tmp_path / "batchqueue.db").exists()  # not the default ledger
    before = run_cli("--db", str(ledger), "status", "1", "--json")
    after = run_cli("status", "1", "--db", str(ledger), "--json")
    assert before.code == after.code == 0, before.err + after.err
    assert before.json()["job_id"] == after.json()["job_id"] == 1


def test_db_after_the_command_wins_over_the_one_before(tmp_path: Path, run_cli: Run) -> None:
    ledger = tmp_path / "after.db"
    assert _import(run_cli, tmp_path, "", "", "--db", str(ledger)).code == 0
    done = run_cli("--db", str(tmp_path / "other.db"), "status", "1", "--db", str(ledger), "--json")
    assert done.code == 0, done.err
    assert not (tmp_path / "other.db").exists()


def test_ca_bundle_before_the_command_reaches_the_run(tmp_path: Path, run_cli: Run) -> None:
    ledger = str(tmp_path / "l.db")
    assert _import(run_cli, tmp_path, "--db", ledger).code == 0
    done = run_cli("--ca-bundle", "nowhere.pem", "--db", ledger, "run", "1")
    assert done.code == 2
    assert "nowhere.pem" in done.err


def test_profile_before_the_command_reaches_the_run(tmp_path: Path, run_cli: Run) -> None:
    (tmp_path / "batchqueue.toml").write_text('[profiles.other]\nuser = "x"\n', encoding="utf-8")
    ledger = str(tmp_path / "l.db")
    assert _import(run_cli, tmp_path, "--db", ledger).code == 0
    done = run_cli("--profile", "p", "run", "1", "--db", ledger)
    assert done.code == 2
    assert "(profiles there: other)" in done.err
