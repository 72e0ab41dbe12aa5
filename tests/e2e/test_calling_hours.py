"""Calling hours end to end: rows imported from a file with numbers in every US zone (and the edge
cases), sent through the sandbox, and each call's window checked against the sandbox's own record
in the contact's local time. The windows are checked as local clock times (08:00 and 21:00), so the
tests hold whatever the time of day they run at."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from batchqueue.sandbox import Sandbox
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import ledger_rows, point_at

Run = Callable[..., CliResult]

# phone, Time Zone cell, ZIP cell → the zone its window opens in, the zone it closes in, the source
CONTACTS = [
    ("617-555-0101", "", "", "America/New_York", "America/New_York", "number"),
    ("312-555-0101", "", "", "America/Chicago", "America/Chicago", "number"),
    ("303-555-0101", "", "", "America/Denver", "America/Denver", "number"),
    ("602-555-0101", "", "", "America/Phoenix", "America/Phoenix", "number"),
    ("415-555-0101", "", "", "America/Los_Angeles", "America/Los_Angeles", "number"),
    ("907-555-0101", "", "", "America/Adak", "America/Anchorage", "number"),
    ("808-555-0101", "", "", "Pacific/Honolulu", "Pacific/Honolulu", "number"),
    ("709-555-0101", "", "", "America/Halifax", "America/St_Johns", "number"),
    ("800-555-0101", "", "", "Pacific/Honolulu", "America/New_York", "region"),
    # Every source counts: a Boston number may still be in Boston wherever its cell or ZIP says it is.
    ("617-555-0102", "America/St_Johns", "", "America/New_York", "America/St_Johns", "column+number"),
    ("617-555-0103", "", "96813", "Pacific/Honolulu", "America/New_York", "zip+number"),
    ("617-555-0104", "PST", "96813", "Pacific/Honolulu", "America/New_York", "several"),
    ("800-555-0105", "CST", "", "America/Chicago", "America/Chicago", "column"),  # a dialer's CST is read
]


def _local(ts: int, zone: str) -> str:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%H:%M")


def test_every_call_is_sent_inside_its_contacts_local_hours(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    source = write_csv(tmp_path / "c.csv", [["Phone", "Time Zone", "ZIP"], *[c[:3] for c in CONTACTS]])
    # The zones' own hours, state rules off (tests/e2e/test_state_rules.py checks those).
    imported = run_cli("import", source, "--survey", "4242", "--instance", "1", "--db", db, "--state-rules", "none")
    assert imported.code == 0, imported.err
    assert "calling rules: 08:00-21:00 local, every day" in imported.out
    assert "each row's ZIP code from 'ZIP'" in imported.out
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        started = time.time()
        sent = run_cli("run", "1", "--rate", "0", "--db", db, "--json")
        calls = {c["phone_number"]: c["fields"] for c in sb.app.store.dump()}
    assert sent.code == 0, sent.err
    assert len(calls) == len(CONTACTS)
    for phone, _, _, opens_in, closes_in, _ in CONTACTS:
        fields = calls["tel:+1" + phone.replace("-", "")]
        start, end = int(fields["start_timestamp"]), int(fields["end_timestamp"])
        assert (_local(start, opens_in), _local(end, closes_in)) == ("08:00", "21:00"), phone
        assert start < end
        assert end > started
        assert start <= started or start - started < 86400
    report = tmp_path / "r.csv"
    assert run_cli("export", "1", "-o", report, "--db", db).code == 0
    with report.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    for found, (_, _, _, opens_in, closes_in, source_name) in zip(rows, CONTACTS, strict=True):
        assert found["bq_timezone_source"] == source_name
        if source_name == "region":
            continue
        zones = found["bq_timezone"].split(" & ")
        assert {opens_in, closes_in} <= set(zones)
        for zone in zones:
            assert zone in found["bq_places"]
        if len(zones) == 1:
            assert found["bq_window_start_local"][11:16] == "08:00"
            assert found["bq_window_end_local"][11:16] == "21:00"
    assert rows[8]["bq_timezone"].startswith("US: all ")
    assert rows[11]["bq_places"] == (
        "column: America/Los_Angeles; zip: Pacific/Honolulu (HI); number: America/New_York (MA)"
    )
    assert rows[11]["bq_states"] == "HI MA"


def test_hold_until_window_keeps_rows_pending_and_says_when(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    # A job allowed any hour, at 40-minute re-attempts; each run narrows it to one hour, two hours
    # ahead, which may be outside the federal hours (the test runs at any hour): said so each time.
    # Toll-free numbers: the zone cell alone places them.
    now = dt.datetime.now(dt.UTC)
    opens = (now + dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    hours = f"{opens.hour:02d}:00-{opens.hour + 1:02d}:00"
    rows = [["phone", "Time Zone"]] + [[f"800-555-01{n:02d}", "UTC"] for n in range(4)]
    source = write_csv(tmp_path / "c.csv", rows)
    assert (
        run_cli(
            "import", source, "--survey", "4242", "--instance", "1", "--calling-hours", "00:00-24:00",
            "--outside-federal-hours", "--state-rules", "none", "--max-attempts", "3",
            "--reattempt-wait", "2400", "--db", db,
        ).code
        == 0
    )  # fmt: skip
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        held = run_cli(
            "run", "1", "--calling-hours", hours, "--outside-federal-hours", "--hold-until-window", "--db", db, "--json"
        )
        assert held.code == 0, held.err
        assert (held.json()["sent"], held.json()["held"], held.json()["pending"]) == (0, 4, 4)
        assert held.json()["next_window_at"] == opens.timestamp()
        assert sb.app.store.dump() == []
        told = run_cli(
            "run", "1", "--calling-hours", hours, "--outside-federal-hours", "--hold-until-window", "--db", db
        )
        assert f"4 held: 4 outside their calling window (next: opens {opens:%Y-%m-%d %H:%M} UTC)" in told.err
        assert f"the first is released {opens:%Y-%m-%dT%H:%M:%SZ}" in told.err
        assert all(r["not_before"] == opens.timestamp() for r in ledger_rows(db))
        status = run_cli("status", "1", "--db", db, "--json").json()
        assert (status["held"], status["next_window_at"]) == (4, opens.timestamp())
        assert status["calling_rules"] == "00:00-24:00 local, every day"
        # Without the hold, each is sent now, scheduled for its window, with the re-attempts
        # that fit in one hour (2 at 40 minutes apart, not 3).
        sent = run_cli("run", "1", "--calling-hours", hours, "--outside-federal-hours", "--db", db, "--json")
        calls = sb.app.store.dump()
    assert sent.code == 0, sent.err
    assert sent.json()["sent"] == 4
    windows = {
        (c["fields"]["start_timestamp"], c["fields"]["end_timestamp"], c["fields"]["max_attempts"]) for c in calls
    }
    assert windows == {(str(int(opens.timestamp())), str(int(opens.timestamp()) + 3600), "2")}


def test_mapping_file_overrides_per_state_and_the_dry_run_shows_local_windows(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    mapping = tmp_path / "m.toml"
    mapping.write_text('[calling.states.FL]\nhours = "08:00-20:00"\n', encoding="utf-8")
    source = write_csv(tmp_path / "c.csv", [["phone"], ["305-555-0101"], ["617-555-0101"]])
    done = run_cli(
        "import", source, "--survey", "1", "--instance", "1", "--mapping", mapping, "--db", db, "--state-rules", "none"
    )
    assert done.code == 0, done.err
    assert "state FL: 08:00-20:00" in done.out
    shown = run_cli("run", "1", "--dry-run", "--db", db, "--json").json()["rows"]
    miami, boston = (int(r["fields"]["end_timestamp"]) for r in shown)
    assert (_local(miami, "America/New_York"), _local(boston, "America/New_York")) == ("20:00", "21:00")
    assert [r["timezone_source"] for r in shown] == ["number", "number"]
    assert [r["states"] for r in shown] == [["FL"], ["MA"]]
    assert [r["places"] for r in shown] == ["number: America/New_York (FL)", "number: America/New_York (MA)"]
    text = run_cli("run", "1", "--dry-run", "--db", db).out
    assert "contact's time zone America/New_York, from the number" in text
    assert "where it may be: number: America/New_York (FL); states FL" in text
    assert "local)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--calling-hours", "9-5"], "--calling-hours '9-5': expected HH:MM-HH:MM"),
        (["--days", "weekdays"], "--days 'weekdays'"),
        (["--holidays", "Narnia"], "--holidays 'Narnia'"),
        (["--blackout", "Christmas"], "--blackout 'Christmas'"),
        (["--default-timezone", "Mars/Olympus"], "--default-timezone"),
    ],
)
def test_bad_calling_options_are_refused_before_anything_is_imported(
    tmp_path: Path, run_cli: Run, args: list[str], message: str
) -> None:
    db = tmp_path / "l.db"
    source = write_csv(tmp_path / "c.csv", [["phone"], ["617-555-0101"]])
    done = run_cli("import", source, "--survey", "1", "--instance", "1", *args, "--db", db)
    assert done.code == 2
    assert message in done.err
    assert "Traceback" not in done.err
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone() == (0,)


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def _next_us_clock_changes(after: dt.date) -> tuple[dt.date, dt.date]:
    """The first year whose US clock changes both come after ``after``: spring forward on the second
    Sunday of March, fall back on the first Sunday of November (Energy Policy Act of 2005, s. 110)."""
    year = after.year
    while _nth_sunday(year, 3, 2) <= after:
        year += 1
    return _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)


def test_windows_on_daylight_saving_days_in_the_sandboxs_record(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each row's own start puts its window on a chosen day: the next days the US changes clocks
    (found from today, whatever year the test runs in), when a whole day (00:00-24:00) there lasts
    23 and 25 hours."""
    spring, autumn = _next_us_clock_changes(dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2))
    eve = spring - dt.timedelta(days=1)
    day = dt.timedelta(days=1)

    def at(date: dt.date, hour: str) -> str:
        return f"{date:%Y-%m-%d} {hour}"

    db = tmp_path / "l.db"
    rows = [
        ["phone", "start"],
        # 06:00 UTC is 01:00 in New York (23:00 the evening before in Phoenix): the next window
        ["617-555-0101", at(eve, "06:00")],  # the day before: EST, 08:00 is 13:00 UTC
        ["617-555-0102", at(spring, "06:00")],  # spring forward: EDT, 08:00 is 12:00 UTC
        ["617-555-0103", at(autumn, "06:00")],  # fall back: EST again, 08:00 is 13:00 UTC
        ["602-555-0101", at(spring, "06:00")],  # Arizona does not change: 08:00 is 15:00 UTC
        # 19:00 the evening before in New York: the rest of that local day's window, though its
        # UTC date is already the next (a search that starts on the UTC date misses it).
        ["617-555-0104", at(eve, "00:00")],
    ]
    source = write_csv(tmp_path / "c.csv", rows)
    # The zones' own hours, state rules off (Massachusetts' 20:00 is tests/e2e/test_state_rules.py's).
    assert (
        run_cli("import", source, "--survey", "4242", "--instance", "1", "--db", db, "--state-rules", "none").code == 0
    )
    whole_days = write_csv(tmp_path / "d.csv", [["phone", "start"], ["212-555-0101", at(spring, "06:00")],
                                               ["212-555-0102", at(autumn, "06:00")]])  # fmt: skip
    assert run_cli("import", whole_days, "--survey", "4242", "--instance", "1", "--calling-hours", "00:00-24:00",
                   "--outside-federal-hours", "--state-rules", "none", "--days", "sun",
                   "--db", db).code == 0  # fmt: skip
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--db", db).code == 0
        assert run_cli("run", "2", "--rate", "0", "--db", db).code == 0
        calls = {c["phone_number"]: c["fields"] for c in sb.app.store.dump()}

    def window(phone: str) -> tuple[str, str]:
        fields = calls["tel:+1" + phone]
        return tuple(  # type: ignore[return-value]
            dt.datetime.fromtimestamp(int(fields[k]), dt.UTC).strftime("%Y-%m-%d %H:%M")
            for k in ("start_timestamp", "end_timestamp")
        )

    # Local 08:00-21:00 is 13:00-02:00 UTC in EST (UTC-5), 12:00-01:00 in EDT (UTC-4), 15:00-04:00
    # in Arizona (UTC-7 all year).
    assert window("6175550101") == (at(eve, "13:00"), at(spring, "02:00"))
    assert window("6175550102") == (at(spring, "12:00"), at(spring + day, "01:00"))
    assert window("6175550103") == (at(autumn, "13:00"), at(autumn + day, "02:00"))
    assert window("6025550101") == (at(spring, "15:00"), at(spring + day, "04:00"))
    assert window("6175550104") == (at(eve, "00:00"), at(eve, "02:00"))
    # The whole Sunday runs from local midnight (05:00 UTC in spring, 04:00 in autumn: 23 and 25
    # hours) to the next; each row's own start (06:00 UTC) cuts its beginning.
    assert window("2125550101") == (at(spring, "06:00"), at(spring + day, "04:00"))
    assert window("2125550102") == (at(autumn, "06:00"), at(autumn + day, "05:00"))


def test_a_row_whose_own_window_is_all_night_is_never_sent_and_the_run_says_so(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    # 0102 is toll-free (its zone cell alone places it) in a zone where it is about noon now,
    # whenever the test runs (inside 08:00-21:00 by hours either way); 0101's own window, 03:00-05:00
    # in New York a week from now, is inside no calling hours.
    noon_offset = 12 - dt.datetime.now(dt.UTC).hour
    night = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)
    rows = [
        ["phone", "start", "end", "Time Zone"],
        ["617-555-0101", f"{night:%Y-%m-%d} 03:00", f"{night:%Y-%m-%d} 05:00", "America/New_York"],
        ["800-555-0102", "", "", f"UTC{noon_offset:+03d}:00"],
    ]
    assert run_cli("import", write_csv(tmp_path / "c.csv", rows), "--survey", "4242", "--instance", "1",
                   "--db", db).code == 0  # fmt: skip
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        # --wait-for-window must not wait for a window that never comes: it ends at once.
        done = run_cli("run", "1", "--rate", "0", "--wait-for-window", "--db", db, "--json")
        calls = sb.app.store.dump()
    assert done.code == 0, done.err
    assert (done.json()["sent"], done.json()["held"], done.json()["next_window_at"]) == (1, 1, None)
    assert [c["phone_number"] for c in calls] == ["tel:+18005550102"]
    held = ledger_rows(db)[0]
    assert held["state"] == "pending"
    assert held["hold_reason"] == "no_calling_time"
    assert "its own end comes before any allowed calling time" in held["hold_detail"]
    told = run_cli("run", "1", "--db", db)
    assert "1 held: 1 with no allowed calling time under the rules (next: its own end comes" in told.err
    assert "1 held: 1 with no allowed calling time under the rules" in run_cli("status", "1", "--db", db).out


def test_a_mistake_in_the_mapping_files_calling_table_names_the_file(tmp_path: Path, run_cli: Run) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[calling.states.Florida]\nhours = "08:00-20:00"\n', encoding="utf-8")
    source = write_csv(tmp_path / "c.csv", [["phone"], ["305-555-0101"]])
    done = run_cli(
        "import", source, "--survey", "1", "--instance", "1", "--mapping", mapping, "--db", tmp_path / "l.db"
    )
    assert done.code == 2
    assert f"mapping file {mapping}: [calling.states.Florida]: expected a two-letter code" in done.err
    assert "Traceback" not in done.err
