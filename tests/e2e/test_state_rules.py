"""The built-in US state rules, on by default: every window a contact gets lies inside what each
state's law allows (truth from ``tests/truth/statutes.py``, written from the statutes, never from the
package's ``us_state_rules.toml``), for every state a contact may be in; ``--state-rules none`` lifts
them; hours wider than the federal 08:00-21:00 are refused unless ``--outside-federal-hours`` says
so knowingly; ``--holidays US`` means each contact's own state's holidays.

The send-time rule is the real one (``CallingReview`` over the rules a job stores), at fixed moments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from batchqueue.calling.registry import JobRules, job_calling_rules
from batchqueue.calling.review import CallingReview
from batchqueue.calling.windows import WindowFinder
from batchqueue.calling.zones import ContactZone
from batchqueue.errors import UsageError
from batchqueue.ledger.records import Claimed
from tests.conftest import CliResult, write_csv
from tests.truth.statutes import FEDERAL, STATUTES, STATUTES_BY_STATE, strictest_window

Run = Callable[..., CliResult]

#: A zone each state (or part of it) keeps its clocks in (geography: the state's own time law).
STATE_ZONE = {
    "AL": "America/Chicago", "CA": "America/Los_Angeles", "CT": "America/New_York", "FL": "America/New_York",
    "KY": "America/New_York", "LA": "America/Chicago", "MA": "America/New_York", "MD": "America/New_York",
    "ME": "America/New_York", "MS": "America/Chicago", "NE": "America/Chicago", "NM": "America/Denver",
    "NY": "America/New_York", "OK": "America/Chicago", "OR": "America/Los_Angeles", "PA": "America/New_York",
    "RI": "America/New_York", "SD": "America/Chicago", "TX": "America/Chicago", "UT": "America/Denver",
    "WA": "America/Los_Angeles",
}  # fmt: skip
#: A week of no federal holiday (Monday 14 to Sunday 20 September 2026) and one in summer time.
WEEK = [dt.date(2026, 9, 14) + dt.timedelta(days=n) for n in range(7)]


def _review(texts: dict[str, str] | None = None, overrides: dict[str, Any] | None = None) -> CallingReview:
    """The send-time rule of a job imported with ``texts`` (the defaults otherwise)."""
    options = JobRules.from_texts(texts or {}, overrides=overrides).options()
    return CallingReview(job_calling_rules(options))


def _row(state: str, zone: str | None = None) -> Claimed:
    facts = {"timezone": zone or STATE_ZONE[state], "state": state}
    return Claimed(1, 2, "tel:+15555550100", "+15555550100", None, None, None, None, None, None, [], 1, facts)


def _local(ts: int | None, zone: str) -> dt.datetime:
    assert ts is not None
    return dt.datetime.fromtimestamp(ts, ZoneInfo(zone))


def _minutes(moment: dt.datetime) -> int:
    return moment.hour * 60 + moment.minute


def _window_at(review: CallingReview, claimed: Claimed, zone: str, local: dt.datetime) -> tuple[dt.datetime, ...]:
    verdict = review.verdict(claimed, local.replace(tzinfo=ZoneInfo(zone)).timestamp())
    assert verdict.send, verdict.reason
    return _local(verdict.start_ts, zone), _local(verdict.end_ts, zone)


@pytest.mark.parametrize("state", sorted(STATUTES_BY_STATE))
def test_every_window_is_inside_the_states_law_on_each_day(state: str) -> None:
    """Asked at every hour of a week, each window lies inside the intersection of every law of the
    state on that local day, and no window opens on a day the law forbids (Alabama's Sunday…)."""
    review, zone = _review(), STATE_ZONE[state]
    for day in WEEK:
        for hour in range(24):
            start, end = _window_at(review, _row(state), zone, dt.datetime(day.year, day.month, day.day, hour))
            allowed = strictest_window(state, start.weekday())
            assert allowed is not None, f"{state}: a window opens on {start:%A} {start}, a day its law forbids"
            assert start.date() == end.date() or _minutes(end) == 0
            assert allowed[0] <= _minutes(start), f"{state}: opens {start:%a %H:%M}, the law allows {allowed}"
            assert _minutes(end) <= allowed[1], f"{state}: closes {end:%a %H:%M}, the law allows {allowed}"


def test_a_florida_contact_gets_floridas_statutory_hours() -> None:
    florida = STATUTES["FL"]
    start, end = _window_at(_review(), _row("FL"), "America/New_York", dt.datetime(2026, 9, 15, 7))
    assert (_minutes(start), _minutes(end)) == florida.window(start.weekday())  # 08:00-20:00, 501.616(6)(a)


def test_alabamas_sunday_ban_holds() -> None:
    """Asked on a Sunday morning, an Alabama contact's window is Monday's."""
    sunday = dt.datetime(2026, 9, 20, 9)
    assert STATUTES["AL"].sunday is None
    start, _end = _window_at(_review(), _row("AL"), "America/Chicago", sunday)
    assert start.date() == dt.date(2026, 9, 21)
    assert (_minutes(start), _minutes(_end)) == STATUTES["AL"].window(0)


def test_rhode_islands_saturday_hours() -> None:
    rhode_island = STATUTES["RI"]
    start, end = _window_at(_review(), _row("RI"), "America/New_York", dt.datetime(2026, 9, 19, 7))
    assert start.date() == dt.date(2026, 9, 19)
    assert (_minutes(start), _minutes(end)) == rhode_island.saturday  # 10:00-17:00, R.I. Gen. Laws 5-61-2
    weekday_start, weekday_end = _window_at(_review(), _row("RI"), "America/New_York", dt.datetime(2026, 9, 18, 7))
    assert (_minutes(weekday_start), _minutes(weekday_end)) == rhode_island.weekday


def test_a_contact_who_may_be_in_florida_or_new_york_gets_floridas_rule() -> None:
    """A New York ZIP on a Florida number: Florida presumes the call reaches a resident, so its rule holds."""
    rules = job_calling_rules(JobRules.from_texts({}).options())
    contact = ContactZone(("America/New_York",), "zip", "US", states=("FL", "NY"))
    at = dt.datetime(2026, 9, 15, 7, tzinfo=ZoneInfo("America/New_York")).timestamp()
    window = WindowFinder(rules).next_window(contact, now=at, own_start=None, own_end=None)
    assert window is not None
    start, end = (_local(t, "America/New_York") for t in window)
    assert (_minutes(start), _minutes(end)) == STATUTES["FL"].weekday
    # Alabama and Florida: Florida's hours and Alabama's Sunday ban, both.
    both = ContactZone(("America/Chicago",), "zip", "US", states=("AL", "FL"))
    sunday = dt.datetime(2026, 9, 20, 9, tzinfo=ZoneInfo("America/Chicago")).timestamp()
    found = WindowFinder(rules).next_window(both, now=sunday, own_start=None, own_end=None)
    assert found is not None
    assert _local(found[0], "America/Chicago").date() == dt.date(2026, 9, 21)


def test_state_rules_none_lifts_them_to_the_federal_window() -> None:
    start, end = _window_at(
        _review({"state-rules": "none"}), _row("FL"), "America/New_York", dt.datetime(2026, 9, 15, 7)
    )
    assert (_minutes(start), _minutes(end)) == FEDERAL.weekday
    sunday = _window_at(_review({"state-rules": "none"}), _row("AL"), "America/Chicago", dt.datetime(2026, 9, 20, 9))
    assert sunday[0].date() == dt.date(2026, 9, 20)


def test_the_mapping_files_state_table_replaces_a_states_rule() -> None:
    overrides = {"states": {"FL": {"hours": "10:00-19:00"}}}
    start, end = _window_at(_review(overrides=overrides), _row("FL"), "America/New_York", dt.datetime(2026, 9, 15, 7))
    assert (_minutes(start), _minutes(end)) == (10 * 60, 19 * 60)


@pytest.mark.parametrize("hours", ["07:00-22:00", "00:00-24:00", "07:59-21:00", "08:00-21:01"])
def test_hours_wider_than_the_federal_window_are_refused_unless_told(hours: str) -> None:
    with pytest.raises(UsageError, match="--outside-federal-hours"):
        JobRules.from_texts({"calling-hours": hours})
    with pytest.raises(UsageError, match=r"\[calling.states.FL\] hours"):
        JobRules.from_texts({}, overrides={"states": {"FL": {"hours": hours}}})
    assert JobRules.from_texts({"calling-hours": hours, "outside-federal-hours": "yes"}).outside_federal_hours


def test_per_contact_holidays_a_texas_holiday_does_not_stop_a_california_contact() -> None:
    """San Jacinto Day, 21 April, is a Texas state holiday (Tex. Gov't Code 662.003(b)(4)), not
    California's: with ``--holidays US`` a Texas contact waits for the next day, a Californian does not."""
    review = _review({"holidays": "US"})
    morning = dt.datetime(2026, 4, 21, 7)
    texan, _ = _window_at(review, _row("TX"), "America/Chicago", morning)
    californian, _ = _window_at(review, _row("CA"), "America/Los_Angeles", morning)
    assert texan.date() == dt.date(2026, 4, 22)
    assert californian.date() == dt.date(2026, 4, 21)
    # --holidays US-CA means California's calendar for everyone, as written.
    only_california = _review({"holidays": "US-CA"})
    assert _window_at(only_california, _row("TX"), "America/Chicago", morning)[0].date() == dt.date(2026, 4, 21)
    # Cesar Chavez Day, 31 March (Cal. Gov't Code 6700(a)(9)): California's, for every contact of that job.
    chavez = dt.datetime(2026, 3, 31, 7)
    assert _window_at(only_california, _row("TX"), "America/Chicago", chavez)[0].date() == dt.date(2026, 4, 1)


def _import(run_cli: Run, tmp_path: Path, *more: object) -> CliResult:
    source = write_csv(tmp_path / "c.csv", [["phone", "ZIP"], ["305-555-0101", "33101"], ["205-555-0101", "35203"]])
    return run_cli("import", source, "--survey", "1", "--instance", "1", "--db", tmp_path / "l.db", *more)


@pytest.mark.parametrize(
    "args",
    [
        ["--calling-hours", "07:00-22:00"],
        ["--calling-hours", "00:00-24:00"],
        ["--rule", "calling-hours=07:00-22:00"],
        ["--mapping", "{mapping}"],
    ],
    ids=["option", "whole-day", "rule", "mapping-file"],
)
def test_the_cli_refuses_hours_outside_the_federal_window_unless_told(
    tmp_path: Path, run_cli: Run, args: list[str]
) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[calling.states.FL]\nhours = "07:00-20:00"\n', encoding="utf-8")
    given = [a.format(mapping=mapping) for a in args]
    refused = _import(run_cli, tmp_path, *given)
    assert refused.code == 2
    assert "wider than the federal 08:00-21:00" in refused.err
    assert "--outside-federal-hours" in refused.err
    assert not (tmp_path / "l.db").exists() or "job 1" not in run_cli("jobs", "--db", tmp_path / "l.db").out
    knowingly = _import(run_cli, tmp_path, *given, "--outside-federal-hours")
    assert knowingly.code == 0, knowingly.err
    assert "job 1 created" in knowingly.out


def test_a_run_may_not_widen_past_the_federal_window_either(tmp_path: Path, run_cli: Run) -> None:
    assert _import(run_cli, tmp_path).code == 0
    wide = run_cli("run", "1", "--dry-run", "--calling-hours", "07:00-22:00", "--db", tmp_path / "l.db")
    assert wide.code == 2
    assert "--outside-federal-hours" in wide.err
    narrow = run_cli("run", "1", "--dry-run", "--calling-hours", "09:00-20:00", "--db", tmp_path / "l.db")
    assert narrow.code == 0, narrow.err


def test_the_job_keeps_its_state_rules_and_their_version_and_status_says_so(tmp_path: Path, run_cli: Run) -> None:
    done = _import(run_cli, tmp_path, "--json").json()
    status = run_cli("status", "1", "--db", tmp_path / "l.db", "--json").json()
    named = {r["name"]: r["value"] for r in status["rules"]["named"]}
    assert named["state-rules"].startswith("us (")
    assert status["rules"]["state_rules_version"]
    assert done["job_id"] == 1
    # Another import of the same file without them is another job, and says which rule differs.
    other = _import(run_cli, tmp_path, "--state-rules", "none")
    assert other.code == 0, other.err
    assert "job 2 created" in other.out
    assert "state-rules" in other.out
    # A run may not lift them without --widen-rules.
    lifted = run_cli("run", "1", "--dry-run", "--rule", "state-rules=none", "--db", tmp_path / "l.db")
    assert lifted.code == 2
    assert "state-rules none" in lifted.err


def _file(tmp_path: Path) -> Path:
    """Contacts whose ZIP names their state (USPS: 33101 Miami FL, 35203 Birmingham AL, 02903
    Providence RI) and one toll-free number that names no place."""
    rows = [["phone", "ZIP"], ["305-555-0101", "33101"], ["205-555-0101", "35203"], ["401-555-0101", "02903"],
            ["305-555-0102", "33101"], ["800-555-0101", ""]]  # fmt: skip
    return write_csv(tmp_path / "where.csv", rows)


def test_check_previews_contacts_by_zone_source_and_state_with_the_rule_that_applies(
    tmp_path: Path, run_cli: Run
) -> None:
    shown = run_cli("check", _file(tmp_path), "--json")
    assert shown.code == 0, shown.err
    preview = shown.json()["preview"]
    assert preview["contacts"] == 5
    assert preview["by_zone"]["America/New_York"] == 3  # Miami twice, Providence
    assert preview["by_zone"]["America/Chicago"] == 1  # Birmingham
    assert preview["by_source"]["zip"] == 4  # each source that named a zone counts
    assert preview["by_source"]["number"] == 4  # the toll-free number names no place
    assert preview["by_source"]["region"] == 1  # so every US zone counts for it
    assert preview["several_zones"] == 1  # the toll-free number: every US zone
    by_state = {s["state"]: s for s in preview["by_state"]}
    assert by_state["FL"]["contacts"] == 2
    assert "501.616" in by_state["FL"]["rule"]  # Florida's statute named beside its hours
    assert "08:00-20:00" in by_state["FL"]["rule"]
    assert "sun none" in by_state["AL"]["rule"]
    assert "sat 10:00-17:00" in by_state["RI"]["rule"]
    assert preview["state_rules_version"]
    text = run_cli("check", _file(tmp_path)).out
    assert "by state, with the rule that applies" in text
    assert "FL 2: 08:00-20:00" in text
    lifted = run_cli("check", _file(tmp_path), "--json", "--state-rules", "none").json()["preview"]
    assert {s["state"]: s["rule"] for s in lifted["by_state"]}["FL"] == "no state rule: the job's hours"


def test_the_console_check_page_shows_where_contacts_are_and_the_form_refuses_wide_hours(
    running: Any, tmp_path: Path
) -> None:
    from tests.console_helpers import api_session

    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    with _file(tmp_path).open("rb") as f:
        upload = session.post(running.url + "/api/uploads", files={"file": ("where.csv", f)}, **post).json()
    checked = session.post(f"{running.url}/api/uploads/{upload['upload_id']}/check", json={}, **post).json()
    assert {s["state"] for s in checked["preview"]["by_state"]} >= {"FL", "AL", "RI"}
    page = session.get(f"{running.url}/uploads/{upload['upload_id']}/check", timeout=30).text
    assert 'id="by-state"' in page
    assert 'data-state="FL"' in page
    assert 'name="state_rules"' in page
    wide = {"survey": "1", "instance": "1", "calling_hours": "07:00-22:00"}
    refused = session.post(f"{running.url}/api/uploads/{upload['upload_id']}/import", json=wide, **post)
    assert refused.status_code == 400
    assert "--outside-federal-hours" in refused.text or "federal 08:00-21:00" in refused.text
    knowingly = wide | {"outside_federal_hours": "yes"}
    made = session.post(f"{running.url}/api/uploads/{upload['upload_id']}/import", json=knowingly, **post)
    assert made.status_code == 201, made.text


def test_the_reports_summary_states_the_rules_in_force(tmp_path: Path, run_cli: Run) -> None:
    from openpyxl import load_workbook

    assert _import(run_cli, tmp_path).code == 0
    out = tmp_path / "r.xlsx"
    assert run_cli("export", "1", "--output", out, "--db", tmp_path / "l.db").code == 0
    summary = {r[0].value: r[1].value for r in load_workbook(out)["Summary"].iter_rows(min_row=2)}
    assert str(summary["rule: state-rules"]).startswith("us (")
    assert summary["rule: calling-hours"] == "08:00-21:00"
    assert "US state rules" in str(summary["calling rules"])


@pytest.mark.parametrize(
    ("holiday", "day"), [("Good Friday", dt.date(2026, 4, 3)), ("Election Day", dt.date(2026, 11, 3))]
)
def test_pennsylvanias_legal_holidays_the_package_lacks_are_kept(holiday: str, day: dt.date) -> None:
    """Pennsylvania bans telephone solicitation on its legal holidays (73 P.S. 2245(a)(10)); its list
    names Good Friday and Election Day, which fall on 3 April and 3 November in 2026."""
    assert any(holiday in law.extra_holidays for law in STATUTES_BY_STATE["PA"])
    start, _end = _window_at(_review(), _row("PA"), "America/New_York", dt.datetime(day.year, day.month, day.day, 7))
    assert start.date() == day + dt.timedelta(days=1)
    lifted, _ = _window_at(
        _review({"state-rules": "none"}), _row("PA"), "America/New_York", dt.datetime(day.year, day.month, day.day, 7)
    )
    assert lifted.date() == day


@pytest.mark.parametrize(
    "state", sorted(s for s, laws in STATUTES_BY_STATE.items() if any(x.no_holidays for x in laws))
)
def test_a_state_that_bans_holiday_calls_gets_none_on_thanksgiving(state: str) -> None:
    """Thanksgiving (26 November 2026) is a legal holiday in every state (5 U.S.C. 6103 and each state's list)."""
    start, _end = _window_at(_review(), _row(state), STATE_ZONE[state], dt.datetime(2026, 11, 26, 7))
    assert start.date() > dt.date(2026, 11, 26)


def test_mississippis_hours_are_kept_in_central_standard_time_in_summer() -> None:
    """Miss. Code 77-3-723: 8:00 a.m. to 8:00 p.m. Central Standard Time (UTC-6 all year), so in July
    a call may not start before 14:00 UTC nor run past 02:00 UTC, whatever the clocks say."""
    july = dt.datetime(2026, 7, 14, 6)
    start, end = _window_at(_review(), _row("MS"), "America/Chicago", july)
    cst = dt.timezone(dt.timedelta(hours=-6))
    assert start.astimezone(cst).hour >= 8
    assert (end.astimezone(cst).hour, end.astimezone(cst).minute) <= (20, 0)
    assert start.astimezone(cst).date() == end.astimezone(cst).date()


#: The 50 states and the District of Columbia (USPS codes).
US_STATES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
]


@pytest.mark.parametrize("state", US_STATES)
def test_no_state_rule_ever_opens_wider_than_the_federal_window(state: str) -> None:
    """47 CFR 64.1200(c)(1): 08:00-21:00 at the called party's location, whatever the state's own rule."""
    review, zone = _review(), "America/New_York"
    for day in WEEK:
        for hour in (0, 7, 12, 20, 23):
            start, end = _window_at(review, _row(state, zone), zone, dt.datetime(day.year, day.month, day.day, hour))
            window = FEDERAL.window(start.weekday())
            assert window is not None
            assert window[0] <= _minutes(start)
            assert _minutes(end) <= window[1]
            assert start.date() == end.date()


def test_a_run_may_turn_the_state_rules_on_for_a_job_without_them(tmp_path: Path, run_cli: Run) -> None:
    assert _import(run_cli, tmp_path, "--state-rules", "none").code == 0
    db = tmp_path / "l.db"
    before = run_cli("run", "1", "--dry-run", "--db", db, "--json").json()["rows"]
    turned = run_cli("run", "1", "--dry-run", "--state-rules", "us", "--db", db, "--json")
    assert turned.code == 0, turned.err
    after = {r["row"]: r for r in turned.json()["rows"]}
    miami = next(r for r in before if r["fields"]["phone_number"].endswith("3055550101"))
    ends = [int(x["fields"]["end_timestamp"]) for x in (miami, after[miami["row"]])]
    assert [_local(t, "America/New_York").hour for t in ends] == [21, 20]  # federal, then Florida's 501.616(6)(a)


def test_the_state_rules_file_cites_a_source_for_every_rule_and_has_a_version() -> None:
    """Every state's entry names its law and the page it was read at, each law its own; the file is versioned."""
    import tomllib

    from batchqueue.calling import state_rules as module

    data = tomllib.loads((module._DATA / "us_state_rules.toml").read_text(encoding="utf-8"))
    assert data["version"]
    for state, table in data["states"].items():
        assert state in US_STATES or state in ("PR", "GU", "VI", "AS", "MP"), state
        assert table["citation"], state
        assert len(table["source"]) == len(table["citation"]), state
        assert all(str(url).startswith("http") for url in table["source"]), state
        for law in table.get("law", ()):
            assert law["citation"], state
            assert str(law["source"]).startswith("http"), state


@pytest.mark.parametrize(("number", "state"), [("+18505550101", "FL"), ("+12055550101", "AL")])
def test_a_number_with_only_its_area_code_gets_its_states_rule(number: str, state: str) -> None:
    """850 (Pensacola, Tallahassee) is a Florida area code and 205 (Birmingham) an Alabama one
    (NANPA's assignments): with no ZIP, the state's own hours still hold, and Alabama's Sunday ban."""
    claimed = Claimed(1, 2, "tel:" + number, number, None, None, None, None, None, None, [], 1, {})
    review = _review()
    for day in WEEK:
        at = dt.datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo("America/Chicago")).timestamp()
        verdict = review.verdict(claimed, at)
        assert verdict.send, verdict.reason
        for zone in str(verdict.timezone).split(" & "):
            start, end = _local(verdict.start_ts, zone), _local(verdict.end_ts, zone)
            allowed = strictest_window(state, start.weekday())
            assert allowed is not None, f"{number}: a window on {start:%A}"
            assert allowed[0] <= _minutes(start)
            assert _minutes(end) <= allowed[1]
