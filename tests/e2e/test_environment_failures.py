"""When the machine fails (a full disk, a kill -9, a damaged ledger) or a command is mistyped:
a clean message, a documented exit code, and no half-written file under a name that looks complete."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.callbacks.call_details import CallDetails
from batchqueue.ledger import open_ledger
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts

Run = Callable[..., CliResult]
EXIT_ENVIRONMENT = 5


def _batchqueue(*args: str, fsize: int | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child; ``fsize`` caps the size of any file it writes (a full disk, in effect)."""

    def limit() -> None:
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-m", "batchqueue", *args], capture_output=True, text=True, timeout=timeout, preexec_fn=limit
    )


@pytest.fixture
def big_job(tmp_path: Path, run_cli: Run) -> Path:
    """A 120,000-row job in ./batchqueue.db, and an earlier report under prev.*."""
    assert run_cli("import", contacts(tmp_path / "c.csv", 120_000), "--survey", "4242", "--instance", "1").code == 0
    with sqlite3.connect(tmp_path / "batchqueue.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the export then writes nothing to the ledger
    return tmp_path / "batchqueue.db"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_full_disk_during_export_leaves_the_previous_report_whole(big_job: Path, tmp_path: Path, fmt: str) -> None:
    previous = tmp_path / f"prev.{fmt}"
    previous.write_bytes(b"the previous report")
    done = _batchqueue("export", "1", "-o", str(previous), "--db", str(big_job), fsize=256 * 1024)
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "Traceback" not in done.stderr
    assert "too large" in done.stderr.lower()
    assert previous.read_bytes() == b"the previous report"
    assert [p.name for p in tmp_path.glob(".prev*")] == []  # the partial file was removed


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_an_export_killed_mid_way_never_replaces_the_previous_report(
    big_job: Path, tmp_path: Path, how: signal.Signals
) -> None:
    previous = tmp_path / "prev.csv"
    previous.write_bytes(b"the previous report")
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchqueue", "export", "1", "-o", str(previous), "--db", str(big_job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        partial = list(tmp_path.glob(".prev.csv.*.partial"))
        if partial and partial[0].stat().st_size > 200_000:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the export finished before it could be interrupted"
    proc.send_signal(how)
    _, err = proc.communicate(timeout=60)
    assert previous.read_bytes() == b"the previous report"
    if how == signal.SIGINT:
        assert proc.returncode == 130
        assert "Traceback" not in err
        assert list(tmp_path.glob(".prev.csv.*")) == []


def test_a_full_disk_during_import_is_a_clean_environment_failure(tmp_path: Path) -> None:
    source = contacts(tmp_path / "c.csv", 50_000)
    done = _batchqueue(
        "import", str(source), "--survey", "4242", "--instance", "1", "--db", str(tmp_path / "l.db"), fsize=512 * 1024
    )
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "Traceback" not in done.stderr
    assert "the ledger's database failed" in done.stderr


def test_an_export_of_a_damaged_ledger_is_a_clean_environment_failure(big_job: Path, tmp_path: Path) -> None:
    with sqlite3.connect(big_job) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with big_job.open("r+b") as f:
        f.seek(page_size * 40)
        f.write(b"\xde\xad\xbe\xef" * (page_size // 4) * 8)
    done = _batchqueue("export", "1", "-o", str(tmp_path / "r.csv"), "--db", str(big_job))
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "Traceback" not in done.stderr
    assert "malformed" in done.stderr or "not a database" in done.stderr
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "99999999999999999999999"], "99999999999999999999999"),
        (["serve", "--host", "256.1.1.1", "--port", "0"], "cannot listen on 256.1.1.1"),
        (["serve", "--port", "0", "--port-file", "/nonexistent/x"], "/nonexistent"),
        (["sandbox", "--port", "0", "--port-file", "/nonexistent/x"], "/nonexistent"),
        (["status", "--db", "notadialect://x"], "notadialect"),
        (["db", "upgrade", "--db", "no-such-ledger.db"], "no ledger at"),
    ],
)
def test_mistakes_are_messages_with_exit_2(tmp_path: Path, run_cli: Run, args: list[str], says: str) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 3), "--survey", "4242", "--instance", "1").code == 0
    done = _batchqueue(*args, timeout=60)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "no-such-ledger.db").exists()


def test_a_backup_cut_short_never_sits_under_the_backup_name(tmp_path: Path) -> None:
    from alembic import command

    from batchqueue.ledger.database import alembic_config, create_ledger_engine, write

    db = tmp_path / "old.db"
    engine = create_ledger_engine(f"sqlite:///{db}")
    with write(engine) as conn:
        command.upgrade(alembic_config(engine, conn), "0003")
        conn.exec_driver_sql("CREATE TABLE padding (x BLOB)")
        conn.exec_driver_sql("INSERT INTO padding VALUES (zeroblob(2000000))")
    engine.dispose()
    done = _batchqueue("db", "upgrade", "--db", str(db), fsize=1024 * 1024)
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.glob("*.bak")) == []
    assert list(tmp_path.glob(".*partial")) == []


def test_formula_text_from_a_callback_is_neutralised_in_the_csv_report(tmp_path: Path, run_cli: Run) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 3), "--survey", "4242", "--instance", "1").code == 0
    ledger = open_ledger(f"sqlite:///{tmp_path / 'batchqueue.db'}")
    rows = ledger.claim(1, 3)
    hostile = ["=1+1", "+cmd|' /c calc'!a0", "@SUM(A1)"]
    ledger.apply_outcomes([(r.row_id, None, CallDetails(h)) for r, h in zip(rows, hostile, strict=True)], source="poll")
    ledger.engine.dispose()
    assert run_cli("export", "1", "-o", tmp_path / "r.csv").code == 0
    import csv

    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as f:
        report = list(csv.DictReader(f))
    assert [r["bq_call_outcome"] for r in report] == ["'" + h for h in hostile]
    assert run_cli("export", "1", "-o", tmp_path / "r.json").code == 0
    raw = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [r["bq_call_outcome"] for r in raw["rows"]] == hostile  # JSON is not a spreadsheet: kept as sent


def test_cancel_remote_with_bad_credentials_says_the_rows_were_canceled_locally(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchqueue.sandbox import Sandbox

    assert run_cli("import", contacts(tmp_path / "c.csv", 4), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        monkeypatch.setenv("BATCHQUEUE_BASE_URL", sb.api_url)
        monkeypatch.setenv("BATCHQUEUE_USER", sb.config.user)
        monkeypatch.setenv("BATCHQUEUE_API_KEY", "wrong")
        result = run_cli("cancel", "1", "--remote", "--yes")
    assert result.code == 3
    assert "4 pending row(s) were canceled in the ledger" in result.err
    assert "Insight did not cancel" in result.err


def _damage(db: Path, how: str) -> None:
    """``db`` (a whole ledger, its WAL folded in) damaged as a failing disk or a careless copy would."""
    size = db.stat().st_size
    if how == "overwritten":
        with sqlite3.connect(db) as conn:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
        with db.open("r+b") as f:  # four pages in the middle of the tables: not a header, not the end
            f.seek((size // 2 // page) * page)
            f.write(bytes((7 * i + 3) % 256 for i in range(256)) * (4 * page // 256))
    elif how == "truncated":
        os.truncate(db, size // 2)
    else:  # a contact list saved under the ledger's name
        db.write_bytes(b"phone,name\r\n" + b"6175550101,Ana\r\n" * (size // 16))


@pytest.mark.parametrize("how", ["overwritten", "truncated", "not_sqlite"])
@pytest.mark.parametrize("command", ["import", "dnc add", "run"])
def test_a_damaged_ledger_is_refused_before_anything_is_written(tmp_path: Path, how: str, command: str) -> None:
    db = tmp_path / "l.db"
    first = _batchqueue("import", str(contacts(tmp_path / "c.csv", 6000)), "--survey", "1", "--instance", "1",
                        "--db", str(db))  # fmt: skip
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage(db, how)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    more = contacts(tmp_path / "more.csv", 50, first=90_000)
    args = {
        "import": ["import", str(more), "--survey", "1", "--instance", "2"],
        "dnc add": ["dnc", "add", "6175550199"],
        "run": ["run", "1", "--rate", "0"],
    }[command]
    # Nothing listens there: a run that got past the ledger would fail otherwise (exit 4), never call.
    env = {"BATCHQUEUE_BASE_URL": "http://127.0.0.1:9/api", "BATCHQUEUE_USER": "u", "BATCHQUEUE_API_KEY": "k"}
    done = subprocess.run([sys.executable, "-m", "batchqueue", *args, "--db", str(db)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})  # fmt: skip
    assert done.returncode == EXIT_ENVIRONMENT, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert f"{db} is damaged" in done.stderr
    assert "restore it from a backup" in done.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # not one byte written to it


def _export_until_partial(db: Path, target: Path, *, size: int = 200_000) -> subprocess.Popen[str]:
    """A real ``batchqueue export`` to ``target``, returned once its own hidden partial file holds ``size`` bytes."""
    earlier = set(_partials(target))
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchqueue", "export", "1", "-o", str(target), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.stat().st_size > size for p in set(_partials(target)) - earlier if p.exists()):
            return proc
        time.sleep(0.005)
    proc.kill()
    pytest.fail("the export finished (or never wrote) before it could be caught mid-way")


def _partials(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.*.partial"))


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_next_export_removes_what_killed_exports_left(big_job: Path, tmp_path: Path, how: signal.Signals) -> None:
    report = tmp_path / "r.csv"
    for _ in range(3):
        proc = _export_until_partial(big_job, report)
        proc.send_signal(how)
        proc.communicate(timeout=60)
        # Only what this killed export left (hidden, and large): each export removed its predecessor's.
        assert len(_partials(report)) == 1
    done = _batchqueue("export", "1", "-o", str(report), "--db", str(big_job))
    assert done.returncode == 0, done.stderr
    assert _partials(report) == []
    with report.open(encoding="utf-8-sig", newline="") as f:
        assert sum(1 for _ in f) == 120_001


def test_the_next_export_leaves_a_live_exports_partial_file_alone(big_job: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    first = _export_until_partial(big_job, report)
    first.send_signal(signal.SIGSTOP)  # alive, mid-way, and holding its partial file while the second runs
    try:
        (writing,) = _partials(report)
        second = _batchqueue("export", "1", "-o", str(report), "--db", str(big_job), "--state", "pending")
        assert second.returncode == 0, second.stderr
        assert _partials(report) == [writing]
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err  # the first finishes, whole, under the name it was asked for
    assert _partials(report) == []
    with report.open(encoding="utf-8-sig", newline="") as f:
        assert sum(1 for _ in f) == 120_001
