"""The command line as scripts and people use it: JSON contracts, exit codes, messages."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from batchqueue.cli import cli
from tests.conftest import CliResult, write_csv, write_xlsx

Run = Callable[..., CliResult]
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _file(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "c.csv",
        [
            ["Name", "Phone", "Note"],
            ["Ann", "6175550101", '=HYPERLINK("x")'],
            ["Bob", "12", "+SUM(A1)"],
            ["Cy", "617.555.0101", "dup"],
            ["", "", ""],
        ],
    )


def test_check_prints_counts_and_problems_and_writes_nothing(tmp_path: Path, run_cli: Run) -> None:
    result = run_cli("check", _file(tmp_path))
    assert result.code == 1  # some rows are invalid
    assert "rows 3  valid 1  invalid 1  duplicate 1  blank 1" in result.out
    assert "row 3, column 'Phone' (B): '12' has the wrong number of digits" in result.out
    assert not list(tmp_path.glob("*.db"))


def test_check_json_contract(tmp_path: Path, run_cli: Run) -> None:
    data = run_cli("check", _file(tmp_path), "--json").json()
    assert {"rows", "valid", "invalid", "duplicate", "blank", "problems", "encoding", "mapping"} <= set(data)
    assert (data["rows"], data["valid"], data["invalid"], data["duplicate"], data["blank"]) == (3, 1, 1, 1, 1)
    assert data["problems"][0] == {
        "row": 3,
        "column": "Phone",
        "column_letter": "B",
        "reason": "'12' has the wrong number of digits for its country",
    }


def test_errors_out_holds_every_invalid_row_with_formula_safe_cells(tmp_path: Path, run_cli: Run) -> None:
    out = tmp_path / "errors.csv"
    assert run_cli("check", _file(tmp_path), "--errors-out", out).code == 1
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["bq_row", "bq_reason", "Name", "Phone", "Note"]
    assert rows[1][:2] == ["3", "column 'Phone': '12' has the wrong number of digits for its country"]
    assert rows[1][4] == "'+SUM(A1)"


def test_import_and_status_json_contracts(tmp_path: Path, run_cli: Run) -> None:
    src = _file(tmp_path)
    first = run_cli("import", src, "--survey", "77", "--instance", "2", "--json")
    assert first.code == 0, first.err
    data = first.json()
    assert {"job_id", "rows", "valid", "invalid", "duplicate", "created"} <= set(data)
    assert (data["created"], data["rows"], data["valid"], data["invalid"], data["duplicate"]) == (True, 3, 1, 1, 1)
    again = run_cli("import", src, "--survey", "77", "--instance", "2", "--json").json()
    assert (again["job_id"], again["created"], again["rows"]) == (data["job_id"], False, 3)
    status = run_cli("status", str(data["job_id"]), "--json").json()
    assert status["job_id"] == data["job_id"]
    assert status["counts"] == {
        "pending": 1,
        "sending": 0,
        "queued": 0,
        "failed": 0,
        "uncertain": 0,
        "invalid": 1,
        "duplicate": 1,
        "canceled": 0,
        "filtered": 0,
        "suppressed": 0,
    }
    listing = run_cli("status", "--json").json()
    assert [j["job_id"] for j in listing["jobs"]] == [data["job_id"]]
    human = run_cli("status")
    assert human.code == 0
    assert "c.csv" in human.out
    assert "77/2" not in human.out  # survey/instance: in --wide
    assert "77/2" in run_cli("status", "--wide").out


def test_import_says_when_it_found_the_existing_job(tmp_path: Path, run_cli: Run) -> None:
    src = _file(tmp_path)
    assert "job 1 created" in run_cli("import", src, "--survey", "1", "--instance", "1").out
    assert "job 1 already holds this file" in run_cli("import", src, "--survey", "1", "--instance", "1").out
    assert "job 2 created" in run_cli("import", src, "--survey", "1", "--instance", "1", "--new-job").out


def test_db_option_and_environment_variable(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _file(tmp_path)
    assert run_cli("import", src, "--survey", "1", "--instance", "1", "--db", tmp_path / "a.db").code == 0
    monkeypatch.setenv("BATCHQUEUE_DB", str(tmp_path / "b.db"))
    assert run_cli("import", src, "--survey", "1", "--instance", "1").code == 0
    assert (tmp_path / "a.db").exists()
    assert (tmp_path / "b.db").exists()
    assert not (tmp_path / "batchqueue.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "missing.csv"], "no such file"),
        (["check", "c.csv", "--phone-column", "Mobile"], "no column named 'Mobile'"),
        (["check", "c.csv", "--max-attempts", "0"], "max_attempts must be 1-10"),
        (["check", "c.csv", "--column", "colour=Name"], "FIELD=COLUMN"),
        (["check", "c.csv", "--mapping", "nope.toml"], "no such file"),
        (["check", "c.csv", "--delimiter", ";;"], "one character"),
        (["check", "c.csv", "--timezone", "Nowhere/City"], "unknown time zone"),
        (["check", "book.xlsx", "--sheet", "Missing"], "'Contacts', 'Notes'"),
        (["import", "c.csv", "--survey", "a b", "--instance", "1"], "--survey"),
        (["import", "c.csv"], "Missing option '--survey'"),
        (["status", "42"], "no job 42"),
        (["check", "c.csv", "--db-typo"], "No such option"),
    ],
)
def test_user_mistakes_exit_2_with_a_message_and_no_traceback(
    tmp_path: Path, run_cli: Run, args: list[str], message: str
) -> None:
    _file(tmp_path)
    write_xlsx(tmp_path / "book.xlsx", {"Contacts": [["phone"], ["6175550101"]], "Notes": [["x"]]})
    if args[0] == "status":
        run_cli("import", "c.csv", "--survey", "1", "--instance", "1")
    result = run_cli(*args)
    assert result.code == 2, (result.out, result.err)
    assert message in result.err
    assert "Traceback" not in result.err + result.out


def test_every_command_has_help_and_is_in_the_readme(run_cli: Run) -> None:
    readme = (SAMPLES.parent / "README.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"batchqueue {name}" in readme, f"README does not document `batchqueue {name}`"
        assert run_cli(name, "--help").code == 0
        for sub, subcommand in getattr(command, "commands", {}).items():
            assert subcommand.help, f"{name} {sub}"
            # in the commands table: `batchqueue job archive JOB` / `job unarchive JOB`
            documented = f"`batchqueue {name} {sub}" in readme or f"`{name} {sub}" in readme
            assert documented, f"README does not document `batchqueue {name} {sub}`"


def test_a_new_command_module_is_found_without_being_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Run
) -> None:
    import batchqueue.cli as package

    (tmp_path / "probe_cmds.py").write_text(
        "import click\n\n\n@click.command('probe')\ndef probe() -> None:\n"
        '    """Say hello."""\n    click.echo("hello")\n\n\nCOMMANDS = [probe]\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    monkeypatch.delitem(sys.modules, "batchqueue.cli.probe_cmds", raising=False)
    package._register()
    said = run_cli("probe")
    assert (said.code, said.out) == (0, "hello\n")
    sys.modules.pop("batchqueue.cli.probe_cmds", None)


def test_samples_check_as_documented(run_cli: Run) -> None:
    csv_result = run_cli("check", SAMPLES / "contacts.csv", "--json").json()
    assert (csv_result["valid"], csv_result["invalid"], csv_result["duplicate"]) == (9, 2, 1)
    xlsx = run_cli("check", SAMPLES / "contacts.xlsx", "--mapping", SAMPLES / "mapping.toml", "--json").json()
    assert (xlsx["valid"], xlsx["invalid"], xlsx["sheet"]) == (7, 1, "Contacts")
    assert xlsx["mapping"]["columns"] == {"start": "Call After"}


def test_installed_entry_point_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "batchqueue", "check", str(_file(tmp_path)), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert '"invalid": 1' in proc.stdout


def test_a_bad_ledger_or_a_busy_port_is_a_message_not_a_traceback(tmp_path: Path, run_cli: Run) -> None:
    import socket

    (tmp_path / "notes.db").write_text("not a database")
    bad = run_cli("status", "--db", tmp_path / "notes.db")
    assert bad.code == 5  # a file SQLite cannot read as a ledger: damaged, or not one (see test_environment_failures)
    assert "is damaged, or is not a database at all (SQLite: file is not a database)" in bad.err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = run_cli("sandbox", "--port", str(port))
    assert taken.code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in taken.err
    assert "Traceback" not in bad.err + taken.err


def test_the_import_path_loads_no_sqlalchemy_before_the_helper_is_forked() -> None:
    # The validating helper is forked once the import's modules are loaded and before the ledger
    # is opened; SQLAlchemy (~0.3 s to import) must not be among them, or every large import
    # starts its helper that much later. A fresh interpreter, so other tests' imports don't count.
    code = (
        "import sys, batchqueue.cli.load_cmds, batchqueue.service.loading, batchqueue.intake.importer;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_status_fits_80_columns_with_millions_of_rows_and_marks_stale_workers(tmp_path: Path) -> None:
    """Real ledger, real process at COLUMNS=80: three jobs whose counts are made large in SQL, and a
    worker that stopped sending heartbeats (killed) two minutes ago."""
    import sqlite3
    import time

    db = tmp_path / "l.db"
    for n in range(3):
        path = write_csv(tmp_path / f"november_campaign_contact_list_{n}.csv", [["phone"], [f"617555010{n}"]])
        run = [sys.executable, "-m", "batchqueue", "import", str(path), "--survey", "1", "--instance", "1"]
        subprocess.run([*run, "--db", str(db)], check=True, capture_output=True)
    with sqlite3.connect(db) as conn:
        # Job 1: 1,500,000 more rows, two in three queued.
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1499999) "
            "INSERT INTO rows (row_number, job_id, cells, state, created_at) "
            "SELECT 2, 1, '[]', CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'queued' END, 0 FROM n"
        )
        # Rows written behind the ledger's back carry their tallies, as the import's do.
        conn.execute(
            "INSERT INTO row_tallies (job_id, kind, value, n) "
            "VALUES (1, 'state', 'failed', 500000), (1, 'state', 'queued', 1000000)"
        )
        conn.execute(
            "INSERT INTO workers (id, job_id, host, pid, started_at, heartbeat_at) VALUES ('w', 1, 'h', 4242, ?, ?)",
            (time.time() - 600, time.time() - 120),
        )
    env = {**os.environ, "COLUMNS": "80"}

    def status(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "batchqueue", "status", *args, "--db", str(db)],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        return done.stdout

    every = status()
    assert max(len(line) for line in every.splitlines()) <= 80, every
    assert "1.5M" in every  # rows, short enough
    assert "500,000" in every  # failed, whole
    assert "…" in every  # a long file name is shortened, the counts are not
    assert max(len(line) for line in status("--wide").splitlines()) > 80
    one = status("1")
    assert max(len(line) for line in one.splitlines()) <= 80, one
    assert "STALE" in one
    assert "0 live worker(s)" in one
    assert "1 stale: killed or cut off" in one
    assert "STALE" not in status("1", "--lease-ttl", "600")
    stale = json.loads(status("1", "--json"))["workers"]
    assert [(w["pid"], w["stale"]) for w in stale] == [(4242, True)]


def _json_commands() -> list[tuple[str, click.Command]]:
    """Every command (and subcommand) that takes --json, by its full name."""
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, name: str) -> None:
        if isinstance(command, click.Group):
            for sub_name, sub in command.commands.items():
                walk(sub, f"{name} {sub_name}".strip())
        elif any(p.name == "as_json" for p in command.params):
            found.append((name, command))

    walk(cli, "")
    return found


def _failing_invocation(command: click.Command, tmp_path: Path) -> list[str]:
    """The command with a placeholder for each required value, made to fail: a ledger in a folder
    that does not exist, or (without --db) a file that does not exist."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        value = "1" if isinstance(param.type, click.types._NumberParamTypeBase) else "failed"
        if isinstance(param, click.Argument):
            args.append(str(tmp_path / "missing.csv") if isinstance(param.type, click.Path) else value)
        else:
            args += [param.opts[0], str(tmp_path / "out.csv") if isinstance(param.type, click.Path) else value]
    if any(p.name == "db" for p in command.params):
        args += ["--db", str(tmp_path / "no-such-folder" / "l.db")]
    return [*args, "--json"]


def _error_object(result: CliResult) -> dict[str, object]:
    """The one JSON object a failed ``--json`` command printed on stdout, checked for its shape."""
    lines = result.out.splitlines()
    assert len(lines) == 1, result.out
    data = json.loads(lines[0])
    assert list(data) == ["error"], data
    error = data["error"]
    assert set(error) == {"exit_code", "reason", "message"}, error
    assert error["exit_code"] == result.code
    assert isinstance(error["message"], str), error
    assert error["message"].strip(), error
    assert "Traceback" not in result.out + result.err
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "command"), _json_commands(), ids=[n for n, _ in _json_commands()])
def test_every_json_command_prints_one_error_object_when_it_fails(
    tmp_path: Path, run_cli: Run, name: str, command: click.Command
) -> None:
    result = run_cli(*name.split(), *_failing_invocation(command, tmp_path))
    assert result.code == 2, (result.out, result.err)
    error = _error_object(result)
    assert error["reason"] == "usage"
    assert str(error["message"]) in result.err  # the same words as the message people read


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["check", "--json"], "Missing argument 'FILE'"),
        (["status", "abc", "--json"], "'abc'"),
        (["check", "c.csv", "--json", "--no-such-option"], "No such option"),
        (["check", "--no-such-option", "--json", "c.csv"], "No such option"),
        (["import", "c.csv", "--survey", "a b", "--instance", "1", "--json"], "--survey"),
        (["status", "42", "--json"], "no job 42"),
        (["export", "1", "-o", "nowhere/r.csv", "--json"], "nowhere"),
    ],
)
def test_a_usage_mistake_under_json_is_an_error_object_with_exit_2(
    tmp_path: Path, run_cli: Run, args: list[str], says: str
) -> None:
    _file(tmp_path)
    assert run_cli("import", "c.csv", "--survey", "1", "--instance", "1").code == 0
    result = run_cli(*args)
    assert result.code == 2, (result.out, result.err)
    error = _error_object(result)
    assert (error["exit_code"], error["reason"]) == (2, "usage")
    assert says in str(error["message"])


def test_a_damaged_ledger_under_json_is_an_error_object_with_exit_5(tmp_path: Path, run_cli: Run) -> None:
    (tmp_path / "notes.db").write_text("Phone,Name\n6175550101,Ann\n" * 300)
    result = run_cli("import", _file(tmp_path), "--survey", "1", "--instance", "1", "--db", "notes.db", "--json")
    assert result.code == 5
    error = _error_object(result)
    assert error["reason"] == "environment"
    assert "notes.db is damaged" in str(error["message"])


def test_a_batch_fatal_reply_under_json_is_an_error_object_with_exit_3(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchqueue.sandbox import Sandbox

    assert run_cli("import", _file(tmp_path), "--survey", "1", "--instance", "1").code == 0
    with Sandbox() as sb:
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", sb.api_url)
        monkeypatch.setenv("BATCHQUEUE_USER", sb.config.user)
        monkeypatch.setenv("BATCHQUEUE_API_KEY", "wrong")
        result = run_cli("cancel", "1", "--remote", "--yes", "--json")
    assert result.code == 3
    error = _error_object(result)
    assert error["reason"] == "fatal_reply"
    assert "Insight did not cancel" in str(error["message"])
    assert "wrong" not in result.out  # the key never reaches the error object


def test_without_json_a_failure_prints_nothing_on_stdout(tmp_path: Path, run_cli: Run) -> None:
    result = run_cli("status", "42", "--db", tmp_path / "l.db")
    assert result.code == 2
    assert result.out == ""
    assert "error: " in result.err


def test_a_cancel_declined_on_a_terminal_under_json_is_an_error_object(tmp_path: Path, run_cli: Run) -> None:
    import pty

    assert run_cli("import", _file(tmp_path), "--survey", "1", "--instance", "1").code == 0
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batchqueue", "cancel", "1", "--json"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(controller, b"n\n")  # the operator answers no
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 2, err
    assert json.loads(out) == {
        "error": {"exit_code": 2, "reason": "usage", "message": "not confirmed: nothing was canceled"}
    }
    assert run_cli("status", "1", "--json").json()["counts"]["canceled"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://ops:Hunter2-secret@db.example.com:notaport/ledger",  # a port that is no number
        "://ops:Hunter2-secret@db.example.com/ledger",  # no database named
    ],
)
def test_a_database_url_that_cannot_be_read_is_a_usage_error_that_never_shows_its_password(
    run_cli: Run, url: str
) -> None:
    result = run_cli("status", "--db", url)
    assert result.code == 2, (result.out, result.err)
    assert "neither a file path nor a database URL" in result.err
    assert "***@db.example.com" in result.err
    assert "Hunter2-secret" not in result.out + result.err
