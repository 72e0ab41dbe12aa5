"""The guard behind the checks: every workbook is read by a process under a memory ceiling
(RLIMIT_AS), so whatever the checks let through ends as a refusal, never in the caller's process."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.sheets.detect import open_source
from batchqueue.intake.sheets.guarded import GuardedSource
from batchqueue.intake.validator_process import Validation
from tests.workbook_makers import CONTACT_ROWS, XLS_CONTACT_CELLS, Cell, inline_row, xls_file, xlsx_file


def _numbers_xls(path: Path, rows: int) -> Path:
    cells: list[Cell] = [(r, c, float(r * 10 + c)) for r in range(1, rows) for c in range(8)]
    return xls_file(path, XLS_CONTACT_CELLS + cells)


_OUT_OF_MEMORY = """
import sys
from pathlib import Path
from batchqueue.errors import InputFileError
from batchqueue.intake.sheets import open_table
from batchqueue.intake.sheets.detect import open_source
from batchqueue.intake.sheets.guarded import GuardedSource

path = Path(sys.argv[1])
opened, _ = open_source(path)
try:
    for _ in GuardedSource.open(path, opened, None, megabytes=16).raw_rows():
        pass
    print("read it all")
except InputFileError as exc:
    print("refused:", exc.message)
with open_table(path) as table:  # the default ceiling holds it, in this same process
    print("then read", sum(1 for _ in table.rows()), "rows")
"""


def test_a_reader_that_runs_out_of_memory_is_a_clear_refusal_and_this_process_goes_on(tmp_path: Path) -> None:
    """40,000 rows x 8 numbers pass the checks (they are a plausible list) but need more than a
    16 MB ceiling: the child dies or fails to allocate, and the process that asked gets a
    refusal and goes on. (Run from a small fresh process: a child forked from a big one, such
    as pytest, inherits free heap it may fill without growing, and 16 MB is a tiny ceiling.)"""
    path = _numbers_xls(tmp_path / "numbers.xls", 40_000)
    done = subprocess.run(
        [sys.executable, "-c", _OUT_OF_MEMORY, str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    refusal, then = done.stdout.splitlines()
    assert refusal.startswith("refused: this workbook needs more than 16 MB of memory to read"), done.stdout
    assert "save the sheet as CSV" in refusal
    assert then == "then read 39999 rows"


def test_a_caller_that_wants_the_header_only_lets_the_reader_go(tmp_path: Path) -> None:
    rows = CONTACT_ROWS + "".join(inline_row(r, [f"617555{r % 10000:04d}", "x" * 50]) for r in range(3, 60_000))
    path = xlsx_file(tmp_path / "long.xlsx", rows)
    opened, _ = open_source(path)
    source = GuardedSource.open(path, opened, None, header_only=True)
    first = next(source.raw_rows())
    assert first == (1, ["phone", "name"])
    source.close()
    assert not source._process.is_alive()


def _address_space_limit(pid: int) -> str:
    limits = Path(f"/proc/{pid}/limits").read_text()
    return re.search(r"Max address space\s+(\S+)", limits).group(1)  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc (Linux)")
def test_the_reader_processes_run_under_a_ceiling(tmp_path: Path) -> None:
    """As the kernel reports them (/proc/PID/limits): the guarded reader and the import's
    validating helper have a finite address space."""
    path = _numbers_xls(tmp_path / "numbers.xls", 20_000)  # more than the helper's pipe holds: it waits
    opened, _ = open_source(path)
    source = GuardedSource.open(path, opened, None)
    try:
        limit = _address_space_limit(source._process.pid)
        assert limit != "unlimited"
        assert int(limit) < 64 * 1024**3
    finally:
        source.close()

    helper = Validation.start(path, MappingSpec(), now=int(time.time()), max_problems=1)
    try:
        deadline = time.monotonic() + 30
        while _address_space_limit(helper._process.pid) == "unlimited":  # it confines itself as it starts
            assert time.monotonic() < deadline, "the validating helper never set its ceiling"
            time.sleep(0.01)
    finally:
        helper.cancel()


def test_the_ceiling_is_the_process_size_plus_the_budget() -> None:
    """confine() in a fresh interpreter: its RLIMIT_AS is its own size when confined, plus 1,024 MB."""
    code = (
        "import os, resource\n"
        "from batchqueue.intake.sheets.ceiling import confine, confined\n"
        "size = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
        "assert not confined()\n"
        "confine(1024)\n"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0] - size, confined())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    headroom, confined = done.stdout.split()
    assert confined == "True"
    assert 1000 * 1024**2 < int(headroom) <= 1024 * 1024**2 + 16 * 1024**2
