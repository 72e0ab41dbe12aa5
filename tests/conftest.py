"""Shared fixtures: an isolated working folder, the real CLI entry point, file builders."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from batchqueue.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own folder with no BATCHQUEUE_* settings (or profiles) from the outside."""
    for name in ("BATCHQUEUE_DB", "BATCHQUEUE_BASE_URL", "BATCHQUEUE_USER", "BATCHQUEUE_API_KEY", "BATCHQUEUE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def fresh_calling_windows() -> None:
    """Each test computes its own calling windows, none cached by an earlier test in this process
    (under ``make mutate`` a mutant of the window code would otherwise hide behind intervals the
    unmutated code cached before the mutant's process was forked)."""
    from batchqueue.calling import windows

    windows.zone_intervals.cache_clear()


@pytest.fixture(autouse=True)
def forgotten_secrets() -> Iterator[None]:
    """The log scrubber's secrets are a process's own: what one test registered (an API key of
    "wrong", say) must not mask words in a later test's log lines."""
    from batchqueue import logs

    before = set(logs._secrets)
    yield
    logs._secrets.intersection_update(before)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``batchqueue ARGS…`` in-process through the real entry point (exit codes included)."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def write_csv(path: Path, rows: Sequence[Sequence[object]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    wb = Workbook()
    first = True
    for name, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet(name)
        assert ws is not None
        ws.title = name
        first = False
        for row in rows:
            ws.append(list(row))
    wb.save(path)
    return path


POSTGRES_ADMIN = os.environ.get("BATCHQUEUE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_or_skip() -> str:
    """The admin URL of a reachable PostgreSQL; skipped locally without one, a failure where required (CI)."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(POSTGRES_ADMIN)
        with psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            connect_timeout=3,
        ):
            pass
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN} ({type(exc).__name__}: {exc})"
        if os.environ.get("BATCHQUEUE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + "; BATCHQUEUE_REQUIRE_POSTGRES=1 demands it")
        pytest.skip(reason + "; set BATCHQUEUE_TEST_POSTGRES to an admin URL to run these tests")
    return POSTGRES_ADMIN


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(_postgres_or_skip())
    name = f"bq_test_{uuid.uuid4().hex[:12]}"
    params: dict[str, Any] = {
        "host": admin.host,
        "port": admin.port or 5432,
        "user": admin.username,
        "password": admin.password,
        "dbname": admin.database,
        "autocommit": True,
    }
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against an SQLite file and a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Any]:
    """A real console (and the sandbox it sends to) on 127.0.0.1, with one user (tests/console_helpers)."""
    from tests.console_helpers import start_console, stop_console

    found = start_console(tmp_path)
    try:
        yield found
    finally:
        stop_console(found)


#: Runs `batchqueue ARGS…` under an address-space ceiling and, however it ends, writes the peak RSS
#: (KiB) of its own memory since exec (VmHWM) and of the processes it waited for. wait4's ru_maxrss
#: would not do: it counts the child as it was between fork and exec, a copy of this test process
#: (hundreds of MiB late in a long session).
_PEAK_WRAPPER = """
import os, resource, sys
ceiling = int(os.environ["BQ_TEST_CEILING"])
resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
try:
    from batchqueue.cli import main
    main(sys.argv[1:])
finally:
    own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    waited = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["BQ_TEST_PEAK"], "w") as peak:
        peak.write(str(max(own, waited)))
"""


def check_in_a_child(path: Path, *extra: str, memory_gb: int = 2) -> tuple[subprocess.CompletedProcess[str], int]:
    """`batchqueue check` in a process of its own, with a memory ceiling; it and the peak RSS (MiB)
    of it and the processes it waited for (its workbook reader)."""
    command = [sys.executable, "-c", _PEAK_WRAPPER, "check", str(path), "--json", *extra]
    with tempfile.TemporaryDirectory() as folder:
        peak_file = Path(folder) / "peak"
        env = {**os.environ, "BQ_TEST_CEILING": str(memory_gb * 1024**3), "BQ_TEST_PEAK": str(peak_file)}
        done = subprocess.run(command, capture_output=True, text=True, errors="replace", env=env, timeout=300)
        # A process that ended by itself (not by a signal) always wrote it: no peak, no measurement.
        assert peak_file.exists() or done.returncode < 0, done.stderr[-2000:]
        peak_kib = int(peak_file.read_text()) if peak_file.exists() else 0
    return done, peak_kib // 1024
