"""Calling hours: what the window rule costs a claim, and the windows calls were given.

1. Claims of 64 rows (the submitter's step) from a job of --rows contacts spread over 60 area codes
   and every exchange, without a send-time rule and with the calling-window rule (zones looked up
   per row, windows intersected, written on the row). What a run pays per claim; the target (rules
   cost a run at most 20% of its throughput) is measured on whole runs by bench/submit_bench.py,
   on this commit and on the one before calling hours.
2. A real run against the sandbox of one contact per US zone and per edge case; the table prints,
   from the sandbox's own record, the local window each call was given (and the same at fixed
   winter and summer moments, from the rule itself).

Run: python bench/calling_bench.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import shutil
import time
from pathlib import Path
from zoneinfo import ZoneInfo

OUT = Path(__file__).resolve().parent / "out" / "calling"
AREA_CODES = [
    "201", "202", "205", "206", "212", "213", "214", "215", "303", "305", "312", "313", "314", "404", "406",
    "407", "415", "502", "503", "504", "505", "512", "602", "605", "608", "612", "615", "617", "701", "702",
    "704", "713", "714", "716", "717", "718", "719", "720", "801", "802", "803", "804", "805", "808", "810",
    "813", "816", "817", "818", "901", "907", "909", "910", "912", "913", "915", "916", "917", "918", "919",
]  # fmt: skip
# label, phone, Time Zone cell, ZIP cell
CASES = [
    ("Eastern (617)", "617-555-0101", "", ""),
    ("Central (312)", "312-555-0101", "", ""),
    ("Mountain (303)", "303-555-0101", "", ""),
    ("Arizona, no DST (602)", "602-555-0101", "", ""),
    ("Pacific (415)", "415-555-0101", "", ""),
    ("Alaska + Aleutians (907)", "907-555-0101", "", ""),
    ("Hawaii (808)", "808-555-0101", "", ""),
    ("Newfoundland column", "617-555-0102", "America/St_Johns", ""),
    ("Labrador/NL two zones (709)", "709-555-0101", "", ""),
    ("toll-free (800)", "800-555-0101", "", ""),
    ("ZIP 96813 on a 617", "617-555-0103", "", "96813"),
    ("column Asia/Kolkata", "617-555-0104", "Asia/Kolkata", ""),
]


def write_contacts(path: Path, count: int) -> None:
    rng = random.Random(5)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["phone", "name"])
        for i in range(count):
            w.writerow([f"{rng.choice(AREA_CODES)}-{rng.randint(200, 989)}-{i % 10000:04d}", f"N{i}"])


def claim_seconds(db: Path, review: bool, rounds: int = 150) -> float:
    from batchqueue.calling.review import CallingReview
    from batchqueue.calling.rules import CallingRules
    from batchqueue.ledger import open_ledger

    ledger = open_ledger(f"sqlite:///{db}")
    rule = CallingReview([CallingRules.parse(hours="00:00-24:00")]) if review else None
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            ledger.settle(1, [], [], 64, review=rule)
        return (time.perf_counter() - start) / rounds
    finally:
        ledger.close()


def local(ts: int, zone: str) -> str:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%a %H:%M %Z")


def windows_table(work: Path) -> None:
    from batchqueue.calling.review import CallingReview
    from batchqueue.calling.rules import CallingRules
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.ledger.records import Claimed
    from batchqueue.places.contacts import display_zone
    from batchqueue.sandbox import Sandbox
    from batchqueue.service.loading import ImportRequest, import_file
    from batchqueue.service.sending import RunRequest, run
    from batchqueue.settings import Settings

    source = work / "cases.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["phone", "Time Zone", "ZIP"], *[c[1:] for c in CASES]])
    db = work / "cases.db"
    with Sandbox() as sb:
        env = {
            "BATCHQUEUE_BASE_URL": sb.api_url,
            "BATCHQUEUE_USER": sb.config.user,
            "BATCHQUEUE_API_KEY": sb.config.key,
        }
        settings = Settings.from_env(env, db=str(db))
        import_file(settings, ImportRequest(source, MappingSpec(), "4242", "1"))
        ran_at = time.time()
        run(settings, RunRequest(1, rate=0))
        calls = {c["phone_number"]: c["fields"] for c in sb.app.store.dump()}
    review = CallingReview([CallingRules.parse()])
    print(
        f"\nwindows given by a run at {dt.datetime.fromtimestamp(ran_at, dt.UTC):%Y-%m-%d %H:%M} UTC "
        "(08:00-21:00 local):"
    )
    print(f"{'case':<28} {'zone(s) (source)':<44} {'start, local':<16} {'end, local':<16}")
    winter, summer = (dt.datetime(2026, m, 1, 15, tzinfo=dt.UTC).timestamp() for m in (12, 7))
    fixed: list[tuple[str, str, str]] = []
    for label, phone, zone_cell, _ in CASES:
        e164 = "+1" + phone.replace("-", "")
        facts = {"timezone": zone_cell} if zone_cell else {}
        if label.startswith("ZIP"):
            facts = {"zip_timezone": "Pacific/Honolulu", "state": "HI"}
        verdict = review.verdict(Claimed(1, 2, e164, e164, None, None, None, None, None, None, [], 1, facts), ran_at)
        zones, source_name = verdict.timezone or "", verdict.timezone_source or ""
        shown = display_zone(zones, source_name)
        f = calls["tel:" + e164]
        start, end = int(f["start_timestamp"]), int(f["end_timestamp"])
        last = zones.split(" & ")[-1] if source_name != "region" else "America/New_York"
        print(f"{label:<28} {(zones if len(zones) < 30 else zones[:27] + '…') + f' ({source_name})':<44} "
              f"{local(start, shown):<16} {local(end, last):<16}")  # fmt: skip
        row = Claimed(1, 2, e164, e164, None, None, None, None, None, None, [], 1, facts)
        w, s = review.verdict(row, winter), review.verdict(row, summer)
        fixed.append(
            (
                label,
                f"{local(w.start_ts or 0, 'America/New_York')}-{local(w.end_ts or 0, 'America/New_York')}",
                f"{local(s.start_ts or 0, 'America/New_York')}-{local(s.end_ts or 0, 'America/New_York')}",
            )
        )
    print("\nthe same windows in New York time, on 2026-12-01 and 2026-07-01 (15:00 UTC):")
    for label, w_text, s_text in fixed:
        print(f"{label:<28} {w_text:<34} {s_text}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    os.environ.setdefault("BATCHQUEUE_LOG_LEVEL", "warning")
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.service.loading import ImportRequest, import_file
    from batchqueue.settings import Settings

    source = OUT / "contacts.csv"
    write_contacts(source, args.rows)
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for attempt in range(3):
        for review in (False, True):
            db = OUT / f"claims-{review}-{attempt}.db"
            import_file(Settings.from_env({}, db=str(db)), ImportRequest(source, MappingSpec(), "1", "1"))
            seconds[review].append(claim_seconds(db, review))
    bare, ruled = min(seconds[False]), min(seconds[True])
    print(f"claim of 64 rows without a send-time rule   {bare * 1000:6.2f} ms")
    print(f"claim of 64 rows with the calling windows  {ruled * 1000:6.2f} ms")
    print(
        f"claim cost of the calling windows: {ruled / bare - 1:+.0%} ({(ruled - bare) / 64 * 1e6:.0f} µs a row); "
        "the run's throughput is the target (bench/submit_bench.py)"
    )
    windows_table(OUT)


if __name__ == "__main__":
    main()
