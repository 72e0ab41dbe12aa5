"""The figure of issue 21: calls whose window opens before 08:00 or closes after 21:00 local time in
any zone the contact may be in. Target: 0.

The CRM campaign export of ``tests/realistic_files.py`` (1,800 valid contacts, a ``Time Zone``
column) is imported and sent to the sandbox with no option, as a new user would. Each call the
sandbox recorded is then checked, with the standard library only, in every zone its contact may be
in: its area code's zone (``CAMPAIGN_AREAS``, from the NANP's geography) and the zone its
``Time Zone`` cell names (read here from the abbreviations' own definitions, never by batchqueue).
A call with no window (no ``start_timestamp``/``end_timestamp``) counts as both.

A second case adds a ``ZIP`` column to the same export in which 30% of the contacts have a ZIP of
a town in another zone (people move and keep their number): the towns of ``tests/truth/geography.py``
with their own clocks, which the check then counts too.

Run: python bench/places_figure.py [extra import options]
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openpyxl

from batchqueue.sandbox import Sandbox, SandboxConfig
from tests.realistic_files import CAMPAIGN_AREAS, CAMPAIGN_HEADER_ROW, CAMPAIGN_LOWER_HEADER, crm_campaign_workbook
from tests.truth.geography import PLACES

#: What a US CRM means by each spelling of a zone (the abbreviations' definitions; "Mountain" is
#: Denver's clock or Arizona's, which keeps no daylight saving).
SPELLINGS: dict[str, tuple[str, ...]] = {
    "EST": ("America/New_York",),
    "EDT": ("America/New_York",),
    "Eastern": ("America/New_York",),
    "Central": ("America/Chicago",),
    "Mountain": ("America/Denver", "America/Phoenix"),
    "PST": ("America/Los_Angeles",),
    "Pacific": ("America/Los_Angeles",),
}
OPENS, CLOSES = dt.time(8, 0), dt.time(21, 0)


def contact_zones(book: Path) -> dict[str, set[str]]:
    """{+E.164 digits of each valid row: every zone its area code and its Time Zone cell name}."""
    sheet = openpyxl.load_workbook(book, read_only=True).active
    assert sheet is not None
    phone_at, zone_at = CAMPAIGN_LOWER_HEADER.index("Mobile Phone"), CAMPAIGN_LOWER_HEADER.index("Time Zone")
    by_code = {code: zone for code, zone, _ in CAMPAIGN_AREAS}
    found: dict[str, set[str]] = {}
    for cells in sheet.iter_rows(min_row=CAMPAIGN_HEADER_ROW + 1, values_only=True):
        digits = "".join(ch for ch in str(cells[phone_at] or "") if ch.isdigit())
        digits = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        if len(digits) != 10 or digits[:3] not in by_code:
            continue
        zones = {by_code[digits[:3]]}
        cell = str(cells[zone_at] or "").strip()
        zones.update(SPELLINGS.get(cell, (cell,) if "/" in cell else ()))
        found["+1" + digits] = zones
    return found


def outside(start: int, end: int, zones: set[str]) -> tuple[bool, bool]:
    """(opens before 08:00, closes after 21:00) in some zone of ``zones``."""
    early = late = False
    for name in zones:
        tz = ZoneInfo(name)
        opens, closes = dt.datetime.fromtimestamp(start, tz), dt.datetime.fromtimestamp(end, tz)
        early |= opens.time() < OPENS
        late |= closes.date() > opens.date() or closes.time() > CLOSES
    return early, late


def add_moved_zips(book: Path, zones: dict[str, set[str]], share: float, seed: int = 21) -> int:
    """A ``ZIP`` column; ``share`` of the valid contacts get a ZIP of a town in another zone (its zone
    joins their truth). Returns how many."""
    rng = random.Random(seed)
    towns = [t for t in PLACES.values() if t.zip_code]
    workbook = openpyxl.load_workbook(book)
    sheet = workbook.active
    assert sheet is not None
    column = len(CAMPAIGN_LOWER_HEADER) + 1
    sheet.cell(row=CAMPAIGN_HEADER_ROW, column=column, value="ZIP")
    phone_at = CAMPAIGN_LOWER_HEADER.index("Mobile Phone") + 1
    moved = 0
    for row in range(CAMPAIGN_HEADER_ROW + 1, sheet.max_row + 1):
        digits = "".join(ch for ch in str(sheet.cell(row=row, column=phone_at).value or "") if ch.isdigit())
        e164 = "+1" + (digits[1:] if len(digits) == 11 else digits)
        if e164 not in zones or rng.random() >= share:
            continue
        town = rng.choice([t for t in towns if t.zone not in zones[e164]])
        sheet.cell(row=row, column=column, value=town.zip_code)
        zones[e164].add(town.zone)
        moved += 1
    workbook.save(book)
    return moved


def figure(folder: Path, book: Path, zones: dict[str, set[str]]) -> None:
    """Import and send ``book`` with no option; print the calls outside 08:00-21:00 in a zone."""
    sandbox = Sandbox(SandboxConfig()).start()
    env = {
        **os.environ,
        "BATCHQUEUE_DB": str(folder / f"{book.stem}.db"),
        "BATCHQUEUE_BASE_URL": sandbox.api_url,
        "BATCHQUEUE_USER": sandbox.config.user,
        "BATCHQUEUE_API_KEY": sandbox.config.key,
    }
    cli = [sys.executable, "-m", "batchqueue"]
    imported = subprocess.run(
        [*cli, "import", str(book), "--survey", "4242", "--instance", "1", *sys.argv[1:]],
        env=env,
        capture_output=True,
        text=True,
    )
    print("  " + (imported.stdout + imported.stderr).strip().splitlines()[0])
    subprocess.run(
        [*cli, "run", "1", "--rate", "0", "--concurrency", "16", "--quiet"], env=env, capture_output=True, text=True
    )
    calls = sandbox.app.store.dump()
    sandbox.stop()
    early = late = unplaced = 0
    for call in calls:
        e164 = str(call["phone_number"]).removeprefix("tel:").split(";")[0]
        fields = call.get("fields") or {}
        start, end = str(fields.get("start_timestamp") or ""), str(fields.get("end_timestamp") or "")
        if e164 not in zones:
            unplaced += 1
            continue
        if not (start.isdigit() and end.isdigit()):
            early, late = early + 1, late + 1
            continue
        opens_early, closes_late = outside(int(start), int(end), zones[e164])
        early += opens_early
        late += closes_late
    print(f"  calls: {len(calls)} (not in the file's valid rows: {unplaced})")
    print(f"  windows opening before 08:00 in a zone the contact may be in: {early}   target 0")
    print(f"  windows closing after 21:00 in a zone the contact may be in:  {late}   target 0")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="places-"))
    try:
        book = folder / "northwind-campaign.xlsx"
        crm_campaign_workbook(book, dt.datetime.now(dt.UTC))
        zones = contact_zones(book)
        print("the CRM campaign export of tests/realistic_files.py, as it is:")
        figure(folder, book, zones)
        moved_book = folder / "northwind-campaign-zips.xlsx"
        moved_book.write_bytes(book.read_bytes())
        moved = add_moved_zips(moved_book, zones, 0.3)
        print(f"the same export with a ZIP column, {moved} contacts' ZIPs in a town of another zone:")
        figure(folder, moved_book, zones)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
