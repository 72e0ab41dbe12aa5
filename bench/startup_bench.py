"""How fast ``batchqueue`` answers: ``--help`` and ``status`` as whole processes (targets 0.25 s, 0.5 s).

Run: ``python bench/startup_bench.py``. Prints the median of 9 runs of each beside its target, and
what ``python -X importtime`` still shows for ``status``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 9
BATCHQUEUE = [sys.executable, "-m", "batchqueue"]


def _median_seconds(args: list[str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([*BATCHQUEUE, *args], cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _importtime(args: list[str], cwd: Path) -> list[tuple[int, str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "batchqueue", *args], cwd=cwd, capture_output=True, text=True
    )
    found = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.split("|"))
            if not name.startswith(" ") and cumulative.isdigit():
                found.append((int(cumulative), name))
    return sorted(found, reverse=True)[:8]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        rows = ["phone,name"] + [f"(617) 555-{i:04d},n{i}" for i in range(1000)]
        (cwd / "c.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        subprocess.run([*BATCHQUEUE, "import", "c.csv", "--survey", "1", "--instance", "1"], cwd=cwd, check=True,
                       capture_output=True)  # fmt: skip
        help_s = _median_seconds(["--help"], cwd)
        status_s = _median_seconds(["status", "1"], cwd)
        print(f"batchqueue --help     {help_s:.3f} s   (target <= 0.25 s)")
        print(f"batchqueue status 1   {status_s:.3f} s   (target <= 0.50 s)")
        print("largest imports of `status` (cumulative microseconds):")
        for micros, name in _importtime(["status", "1"], cwd):
            print(f"  {micros:>9,}  {name}")


if __name__ == "__main__":
    main()
