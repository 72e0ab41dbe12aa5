"""Import throughput: a 1,000,000-row CSV and a 100,000-row xlsx into fresh ledgers.

Prints rows/s and peak RSS of each `batchqueue import` (run as a child process, measured with
wait4), and the same CSV through `sqlite-utils insert --csv` for comparison. Run: make bench
(or: python bench/import_bench.py --rows 200000 for a quicker look).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
AREAS = ["201", "202", "212", "213", "305", "312", "415", "503", "617", "646", "702", "713", "818", "917"]
META = ["first_name", "last_name", "account", "language", "segment", "city", "plan", "agent"]


def phone(rng: random.Random, i: int) -> str:
    a, b, c = rng.choice(AREAS), rng.randint(200, 999), i % 10000
    style = i % 20
    if style == 19:
        return f"{a}-{b}"  # invalid: too short
    if style == 18:
        return f"tel:+1{a}{b}{c:04d};ani=2125550100"
    if style == 17:
        return f"{a}-{b}-{c:04d} x{rng.randint(1, 999)}"
    return [f"({a}) {b}-{c:04d}", f"{a}.{b}.{c:04d}", f"+1 {a} {b} {c:04d}", f"{a}{b}{c:04d}", f"{a}-{b}-{c:04d}"][
        style % 5
    ]


def make_csv(path: Path, rows: int) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", *META])
        for i in range(rows):
            w.writerow([phone(rng, i), f"First{i}", f"Last{i}", f"{i:08d}", "en", f"s{i % 7}", "Boston", "gold", "a7"])


def make_xlsx(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    rng = random.Random(8)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Contacts")
    ws.append(["phone", *META])
    for i in range(rows):
        value: object = int(f"{rng.choice(AREAS)}{rng.randint(200, 999)}{i % 10000:04d}") if i % 2 else phone(rng, i)
        ws.append([value, f"First{i}", f"Last{i}", f"{i:08d}", "en", i % 7, "Boston", "gold", 3.5])
    wb.save(path)


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0 and proc.stderr is not None:
        print(proc.stderr.read().decode(), file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, code


def import_run(label: str, path: Path, rows: int) -> float:
    db = OUT / f"{label}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    exe = str(Path(sys.executable).with_name("batchqueue"))
    seconds, rss, code = timed([exe, "import", str(path), "--survey", "1", "--instance", "1", "--db", str(db), "-q"])
    rate = rows / seconds
    print(f"{label:<28} {rows:>9,} rows  {seconds:7.2f} s  {rate:>9,.0f} rows/s  peak RSS {rss:6.0f} MiB  exit {code}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    csv_path, xlsx_path = OUT / f"contacts-{args.rows}.csv", OUT / f"contacts-{args.xlsx_rows}.xlsx"
    if not csv_path.exists():
        make_csv(csv_path, args.rows)
    if not xlsx_path.exists():
        make_xlsx(xlsx_path, args.xlsx_rows)
    print(f"CSV {csv_path.stat().st_size / 1e6:.0f} MB, xlsx {xlsx_path.stat().st_size / 1e6:.1f} MB")
    small = OUT / "contacts-100000.csv"
    if args.rows != 100_000 and not small.exists():
        make_csv(small, 100_000)
    if args.rows != 100_000:
        import_run("csv 100k (RSS vs size)", small, 100_000)
    ours = import_run("csv -> ledger", csv_path, args.rows)
    import_run("xlsx -> ledger", xlsx_path, args.xlsx_rows)
    utils = shutil.which("sqlite-utils", path=str(Path(sys.executable).parent))
    if utils:
        db = OUT / "sqlite-utils.db"
        db.unlink(missing_ok=True)
        seconds, rss, code = timed([utils, "insert", str(db), "rows", str(csv_path), "--csv"])
        rate = args.rows / seconds
        print(
            f"{'sqlite-utils insert --csv':<28} {args.rows:>9,} rows  {seconds:7.2f} s  {rate:>9,.0f} rows/s  "
            f"peak RSS {rss:6.0f} MiB  exit {code}"
        )
        print(f"batchqueue / sqlite-utils: {ours / rate:.2f}x")
    print("targets: csv >= 60,000 rows/s, xlsx >= 30,000 rows/s, RSS < 400 MiB and flat with size")


if __name__ == "__main__":
    main()
