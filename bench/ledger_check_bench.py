"""What the damage check costs a command that writes: ``PRAGMA quick_check`` on a 1,000,000-row ledger.

Run: ``python bench/ledger_check_bench.py``. Imports a million contacts into a fresh SQLite ledger,
then times the check (median of 5, the file in the page cache) against its budget
(``DEFAULTS.ledger_check_seconds``), and the same ledger opened for writing with and without it.
A cold disk (``echo 3 > /proc/sys/vm/drop_caches`` as root, before a run) measured ~4.6 s here.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from batchqueue.defaults import DEFAULTS
from batchqueue.ledger import open_ledger
from batchqueue.ledger.database import check_sqlite

ROWS = 1_000_000
RUNS = 5


def _median(action: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        lines = ["phone,name"] + [f"+1617{5550000 + i:07d},n{i}" for i in range(ROWS)]
        (cwd / "c.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        db = cwd / "l.db"
        subprocess.run(
            [sys.executable, "-m", "batchqueue", "import", "c.csv", "--survey", "1", "--instance", "1", "--db", str(db),
             "--quiet"],
            cwd=cwd, check=True, capture_output=True,
        )  # fmt: skip
        url = f"sqlite:///{db}"
        ledger = open_ledger(url, create=False)
        try:
            budget = DEFAULTS.ledger_check_seconds
            check_s = _median(lambda: check_sqlite(ledger.engine, budget))
        finally:
            ledger.close()
        plain = _median(lambda: open_ledger(url, create=False).close())
        checked = _median(lambda: open_ledger(url, create=False, check=True).close())
        size = db.stat().st_size / 1e6
        print(f"ledger: {ROWS:,} rows, {size:.0f} MB")
        print(f"quick_check          {check_s:.3f} s   (budget {budget:.1f} s; cut short past it)")
        print(f"open for reading     {plain:.3f} s")
        print(f"open for writing     {checked:.3f} s   (with the check)")


if __name__ == "__main__":
    main()
