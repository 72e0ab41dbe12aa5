"""Where a contact may be, read from cells as real exports write them: ZIP+4 in every spelling, ZIPs
a numeric column changed, CRM names of the ZIP column, zone cells (Windows names, cities, ``CST/CDT``)
and a state column. Each was silently ignored once (red-team pass), and the row's window was wrong.

Truth from outside the code: USPS Publication 28 (ZIP = 5 digits, ZIP+4 = 5-4), the towns of
``tests/truth/geography.py``, CLDR's ``windowsZones.xml`` (Microsoft's zone names), the tz database's
zone names and abbreviations (``ChST`` Guam, ``SST`` American Samoa), USPS state codes.
Windows are computed at fixed instants, never at the wall clock's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from batchqueue.calling.registry import JobRules, job_calling_rules
from batchqueue.calling.review import CallingReview
from batchqueue.intake.mapping.resolve import resolve
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.mapping.validate import RowValidator
from batchqueue.ledger.records import Claimed
from batchqueue.places.zips import zip_place
from batchqueue.places.zone_names import contact_zones, zone
from batchqueue.sandbox import Sandbox
from tests.conftest import write_csv
from tests.sandbox_helpers import point_at
from tests.truth.geography import PLACES
from tests.truth.statutes import CAP_BY_STATE

PENSACOLA = PLACES["Pensacola, FL"]  # ZIP 32501, Central time, Florida
#: A winter instant, and the day's noon UTC from which windows are read.
WINTER = dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC)
NOW = int(dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp())
EASTERN = ZoneInfo("America/New_York")


def _clocks(zones: tuple[str, ...] | set[str]) -> set[tuple[dt.timedelta | None, ...]]:
    """Each zone as its (winter, summer) UTC offsets: the same clock under two names is one."""
    instants = (WINTER, dt.datetime(2027, 7, 15, 12, tzinfo=dt.UTC))
    return {tuple(at.astimezone(zone(z)).utcoffset() for at in instants) for z in zones}


def _facts(headers: list[str], cells: list[str], **spec: Any) -> tuple[Any, dict[str, Any], RowValidator]:
    """The request and facts of one row of a file with ``headers``, mapped as ``check`` maps it."""
    mapping = resolve(MappingSpec(**spec), headers, now=NOW)
    validator = RowValidator(mapping, headers, NOW)
    request, reasons, facts = validator.check(cells, [], 2)
    assert reasons == []
    return request, facts or {}, validator


def _review() -> CallingReview:
    return CallingReview(job_calling_rules(JobRules.from_texts({}).options()))


def _window_eastern(e164: str, facts: dict[str, Any]) -> tuple[str, str]:
    """The row's calling window on Friday 15 January 2027 under a job's default rules (state laws
    included), in New York's clock."""
    review = _review()
    row = Claimed(1, 2, "tel:" + e164, e164, None, None, None, None, None, None, [], 1, facts)
    verdict = review.verdict(row, WINTER.timestamp())
    assert verdict.start_ts is not None
    assert verdict.end_ts is not None
    return tuple(dt.datetime.fromtimestamp(t, EASTERN).strftime("%H:%M") for t in (verdict.start_ts, verdict.end_ts))  # type: ignore[return-value]


# --- ZIP cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        PENSACOLA.zip_code,
        f"{PENSACOLA.zip_code}-1234",  # ZIP+4 as USPS writes it
        f"{PENSACOLA.zip_code}1234",  # ZIP+4 without its hyphen
        f"{PENSACOLA.zip_code} 1234",  # ... with a space
        f"{PENSACOLA.zip_code}.0",  # a ZIP column saved as numbers
        f" {PENSACOLA.zip_code}1234.0 ",
    ],
)
def test_a_zip_cell_as_exports_write_it_places_the_contact(cell: str) -> None:
    place = zip_place(cell)
    assert place is not None
    assert _clocks((place[0],) if place[0] else ()) == _clocks({PENSACOLA.zone})
    assert place[1] == PENSACOLA.state.removeprefix("US-")


@pytest.mark.parametrize("cell", ["2903", "2903.0", "29031234", "02903-1234"])
def test_a_zip_that_lost_its_leading_zero_is_read_as_the_zip_it_was(cell: str) -> None:
    """02903 is downtown Providence, Rhode Island (USPS): Eastern time. A numeric column writes 2903."""
    assert zip_place(cell) == ("America/New_York", "RI")


@pytest.mark.parametrize("cell", ["325011", "3250", "32501-12", "325011234567", "32501.5", "x32501"])
def test_what_is_not_a_zip_is_not_read_as_one(cell: str) -> None:
    place = zip_place(cell)
    assert place is None or place[1] != "FL"


@pytest.mark.parametrize(
    "header",
    [
        "Mailing Zip/Postal Code",  # Salesforce contact export
        "Billing Zip/Postal Code",  # Salesforce account export
        "Mailing Zip",
        "Billing Zip",
        "ZIP/Postal Code",
        "Home ZIP",
        "Mailing Postal Code",
        "Zip+4",
        "ZIP4",
        "Postal Code",
        "Postal/Zip",
        "Zip/Postcode",
    ],
)
def test_a_zip_column_named_as_crms_name_it_is_found_and_check_says_so(
    header: str, tmp_path: Any, run_cli: Any
) -> None:
    path = write_csv(
        tmp_path / "crm.csv", [["Name", "Phone", header], ["x", "2125550707", f"{PENSACOLA.zip_code}1234"]]
    )
    result = run_cli("check", path)
    assert result.code == 0
    assert f"each row's ZIP code from {header!r}" in result.out
    data = run_cli("check", path, "--json").json()
    assert data["mapping"]["zip_column"] == header
    assert {"field": "zip", "column": header, "undo": "--zip-column none"} in data["guesses"]
    assert sorted(s["state"] for s in data["preview"]["by_state"]) == ["FL", "NY"]


def test_two_columns_that_could_be_the_zip_are_warned_about(tmp_path: Any, run_cli: Any) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        [["Phone", "Billing Zip", "Shipping Zip"], ["2125550707", PENSACOLA.zip_code, PENSACOLA.zip_code]],
    )
    result = run_cli("check", path)
    assert result.code == 0
    assert "'Billing Zip', 'Shipping Zip' could each be the --zip-column column" in result.err


@pytest.mark.parametrize(
    ("headers", "taken"),
    [
        (["Phone", "ZIP", "ZIP4"], "ZIP"),
        (["Phone", "Mailing Zip", "Zip"], "Zip"),
        (["Phone", "Zip+4", "Postal Code"], "Postal Code"),
    ],
)
def test_a_plain_zip_column_is_taken_before_a_crm_named_one(
    headers: list[str], taken: str, tmp_path: Any, run_cli: Any
) -> None:
    """USPS lists often split the ZIP and its +4 add-on (``ZIP``, ``ZIP4``): the ZIP is the ZIP."""
    cells = {"Phone": "2125550707", taken: PENSACOLA.zip_code}
    path = write_csv(tmp_path / "list.csv", [headers, [cells.get(h, "1234") for h in headers]])
    result = run_cli("check", path, "--json")
    assert result.code == 0
    data = result.json()
    assert data["mapping"]["zip_column"] == taken
    assert not [w for w in data["warnings"] if "could each be" in w]
    assert sorted(s["state"] for s in data["preview"]["by_state"]) == ["FL", "NY"]


@pytest.mark.parametrize("cell", [f"{PENSACOLA.zip_code}1234", f"{PENSACOLA.zip_code} 1234", f"{PENSACOLA.zip_code}.0"])
def test_a_212_number_with_a_pensacola_zip_keeps_floridas_hours_and_pensacolas_clock(cell: str) -> None:
    """The red-team case: only New York's zone and state were kept, and the window opened at 08:00
    Eastern (07:00 in Pensacola) and closed at 21:00 (Florida's law: 20:00)."""
    _, facts, _ = _facts(["Name", "Phone", "Mailing Zip/Postal Code"], ["x", "2125550707", cell])
    contact = _review().contact(
        Claimed(1, 2, "tel:+12125550707", "+12125550707", None, None, None, None, None, None, [], 1, facts)
    )
    assert contact is not None
    assert _clocks(contact.zones) == _clocks({"America/Chicago", "America/New_York"})
    assert contact.states == ("FL", "NY")
    # 08:00 in Pensacola is 09:00 Eastern; Florida's law ends calls at 8 p.m. (Fla. Stat. 501.616(6)(a)).
    assert _window_eastern("+12125550707", facts) == ("09:00", "20:00")


# --- zone cells -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "clock_of"),
    [
        ("CST/CDT", "America/Chicago"),
        ("EST/EDT", "America/New_York"),
        ("PST / PDT", "America/Los_Angeles"),
        # CLDR windowsZones.xml, territory 001 (what Dynamics and Outlook export):
        ("Alaskan Standard Time", "America/Anchorage"),
        ("Hawaiian Standard Time", "Pacific/Honolulu"),
        ("Central Standard Time (Mexico)", "America/Mexico_City"),
        ("Pacific Standard Time (Mexico)", "America/Tijuana"),
        ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
        ("Aleutian Standard Time", "America/Adak"),
        ("Hawaiian", "Pacific/Honolulu"),
        ("US Central", "America/Chicago"),
        ("US/Central", "America/Chicago"),
        ("us/pacific", "America/Los_Angeles"),
        # The tz database names a zone for its city:
        ("Chicago", "America/Chicago"),
        ("chicago", "America/Chicago"),
        ("Los Angeles", "America/Los_Angeles"),
        ("LOS ANGELES", "America/Los_Angeles"),
        ("los_angeles", "America/Los_Angeles"),
        ("Phoenix", "America/Phoenix"),
        ("Honolulu", "Pacific/Honolulu"),
        # The tz database's abbreviations for the US territories: Guam's Chamorro time, American Samoa's.
        ("ChST", "Pacific/Guam"),
        ("SST", "Pacific/Pago_Pago"),
    ],
)
def test_a_zone_cell_as_exports_write_it_names_its_clock(cell: str, clock_of: str) -> None:
    assert _clocks(contact_zones(cell)) == _clocks({clock_of})


def test_mexicos_central_time_is_not_us_central() -> None:
    """Mexico abolished daylight saving in 2022; Chicago keeps it: in July they are an hour apart."""
    assert _clocks(contact_zones("Central Standard Time (Mexico)")) != _clocks({"America/Chicago"})


def test_windows_mountain_time_still_suits_arizona() -> None:
    """``Mountain Standard Time`` is Denver in Windows' table, but a person may mean Phoenix: both count."""
    assert _clocks(contact_zones("Mountain Standard Time")) == _clocks({"America/Denver", "America/Phoenix"})


@pytest.mark.parametrize("cell", ["CST/Moon", "/", "Springfield", "US", "Standard Time (Mexico)", "a" * 5000 + "/b"])
def test_what_is_not_a_zone_is_still_refused(cell: str) -> None:
    with pytest.raises(ValueError, match="is not a time zone"):
        contact_zones(cell)


@pytest.mark.parametrize(
    ("cell", "named"),
    [
        ("Alaskan Standard Time", "America/Anchorage"),
        ("CST/CDT", "America/Chicago"),
        ("Los Angeles", "America/Los_Angeles"),
    ],
)
def test_a_rows_own_start_is_read_in_the_zone_its_cell_names(cell: str, named: str) -> None:
    request, facts, validator = _facts(
        ["Phone", "Time Zone", "Start"], ["2125550707", cell, "2027-01-15 09:00"], timezone="UTC"
    )
    assert not validator.warnings
    assert "timezone_unread" not in facts
    assert request.start == int(dt.datetime(2027, 1, 15, 9, tzinfo=ZoneInfo(named)).timestamp())


# --- a state column -------------------------------------------------------------------------------


def test_a_state_column_adds_its_state_and_floridas_hours_hold() -> None:
    """README ("Caps count calls"): a state column counts. A 212 number listed in Florida is in both
    states, and Florida's law ends its calls at 8 p.m. (Fla. Stat. 501.616(6)(a))."""
    _, facts, _ = _facts(["Name", "Phone", "State"], ["x", "2125550707", "FL"])
    contact = _review().contact(
        Claimed(1, 2, "tel:+12125550707", "+12125550707", None, None, None, None, None, None, [], 1, facts)
    )
    assert contact is not None
    assert contact.states == ("FL", "NY")
    assert "state: FL" in contact.places_text
    assert _window_eastern("+12125550707", facts)[1] == "20:00"


@pytest.mark.parametrize(
    ("cell", "usps"),  # USPS Publication 28, appendix B: state and territory abbreviations
    [("FL", "FL"), ("fl", "FL"), ("Florida", "FL"), ("FLORIDA", "FL"), (" florida ", "FL"), ("New York", "NY"),
     ("Puerto Rico", "PR"), ("Guam", "GU"), ("District of Columbia", "DC"), ("D.C.", "DC"), ("Ok", "OK")],
)  # fmt: skip
def test_a_state_cell_is_read_as_a_code_or_a_name(cell: str, usps: str) -> None:
    _, facts, _ = _facts(["Phone", "State"], ["2125550707", cell])
    assert facts["states"] == [usps]


@pytest.mark.parametrize(
    "header",
    # HubSpot's contact property "State/Region"; "State Abbreviation" as list vendors label it.
    ["State", "ST", "Province/State", "Mailing State/Province", "State/Province", "State/Region", "State Abbreviation"],
)
def test_a_state_column_is_found_by_its_name_and_check_says_so(header: str, tmp_path: Any, run_cli: Any) -> None:
    path = write_csv(tmp_path / "crm.csv", [["Name", "Phone", header], ["x", "2125550707", "Florida"]])
    result = run_cli("check", path)
    assert result.code == 0
    assert f"each row's US state from {header!r}" in result.out
    assert f"column {header!r} → each row's US state; undo: --state-column none" in result.out
    data = run_cli("check", path, "--json").json()
    assert data["mapping"]["state_column"] == header
    assert sorted(s["state"] for s in data["preview"]["by_state"]) == ["FL", "NY"]
    off = run_cli("check", path, "--state-column", "none", "--json").json()
    assert [s["state"] for s in off["preview"]["by_state"]] == ["NY"]


@pytest.mark.parametrize("cell", ["Ontario", "XX", "Active", "a" * 10_000])
def test_a_state_cell_that_is_no_us_state_is_a_row_warning_and_ignored(cell: str, tmp_path: Any, run_cli: Any) -> None:
    path = write_csv(tmp_path / "crm.csv", [["Phone", "State"], ["2125550707", cell]])
    data = run_cli("check", path, "--json").json()
    assert (data["valid"], data["invalid"]) == (1, 0)
    (warned,) = data["row_warnings"]
    assert (warned["row"], warned["column"], warned["column_letter"]) == (2, "State", "B")
    assert "is not a US state or territory" in warned["warning"]
    assert len(warned["warning"]) < 300
    assert [s["state"] for s in data["preview"]["by_state"]] == ["NY"]


def test_a_state_columns_state_caps_the_contacts_attempts(
    tmp_path: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README ("Caps count calls"): each state's cap holds for every contact who may be in it, its
    state column included (Florida: 3 calls a day, Fla. Stat. 501.616(6)(b); Maine: 1 in 8 hours)."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)  # any day ahead: 16:00 UTC is 08:00-12:00 US
    start = dt.datetime(day.year, day.month, day.day, 16, tzinfo=dt.UTC).isoformat()
    rows = [
        ["Phone", "State", "who"],
        ["(212) 201-0001", "Florida", "a New York number listed in Florida"],
        ["(212) 201-0002", "me", "a New York number listed in Maine"],
        ["(212) 201-0003", "NY", "New York: no state cap"],
    ]
    path = write_csv(tmp_path / "c.csv", rows)
    db = tmp_path / "l.db"
    imported = run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", db, "--max-attempts", "5",
                       "--reattempt-wait", "600", "--start", start, "--metadata", "who")  # fmt: skip
    assert imported.code == 0, imported.err
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        sent = run_cli("run", "1", "--rate", "0", "--db", db)
        assert sent.code == 0, sent.err
        attempts = {c["metadata"]["who"]: int(c["fields"]["max_attempts"]) for c in sb.app.store.dump()}
    assert attempts == {
        "a New York number listed in Florida": CAP_BY_STATE["FL"][0],
        "a New York number listed in Maine": CAP_BY_STATE["ME"][0],
        "New York: no state cap": 5,
    }


# --- red team, issue 21 class: cells as style manuals and CRMs write them ---------------------------


@pytest.mark.parametrize(
    ("cell", "usps"),
    # U.S. Government Publishing Office Style Manual ("Fla.", "Okla.", "Calif.", "N. Dak.", "W. Va.",
    # "Oreg."), the AP Stylebook ("Ore.", "Kan."), ISO 3166-2 ("US-FL") and a country after the state.
    [("Fla.", "FL"), ("Fla", "FL"), ("FLA", "FL"), ("Okla.", "OK"), ("OKLA", "OK"), ("Calif.", "CA"),
     ("N. Dak.", "ND"), ("W. Va.", "WV"), ("Oreg.", "OR"), ("Ore.", "OR"), ("Kan.", "KS"), ("Tenn.", "TN"),
     ("Md.", "MD"), ("Penna.", "PA"), ("US-FL", "FL"), ("us-ok", "OK"), ("Florida, USA", "FL"),
     ("FL, U.S.", "FL"), ("Oklahoma United States", "OK")],
)  # fmt: skip
def test_a_state_cell_abbreviated_as_style_manuals_write_it_is_read(cell: str, usps: str) -> None:
    _, facts, validator = _facts(["Phone", "State"], ["2125550707", cell])
    assert facts["states"] == [usps]
    assert not validator.warnings


@pytest.mark.parametrize("cell", ["Indus", "US", "USA", "US-", "Ontario, Canada", "Status"])
def test_words_that_only_contain_a_state_or_a_country_are_still_no_state(cell: str) -> None:
    _, facts, _ = _facts(["Phone", "State"], ["2125550707", cell])
    assert "states" not in facts


@pytest.mark.parametrize("cell", ["Fla.", "Okla.", "US-FL", "Florida, USA"])
def test_a_new_york_number_listed_as_fla_or_okla_keeps_that_states_evening_limit(cell: str) -> None:
    """The red-team case: ``Fla.`` was a row warning and ignored, so a 212 number of a contact
    listed in Florida was called until 21:00. Florida (Fla. Stat. 501.616(6)(a)) and Oklahoma
    (15 O.S. 775C.4) allow calls from 8 a.m. until 8 p.m. only (Oklahoma's 755.1 may start later)."""
    _, facts, _ = _facts(["Name", "Phone", "State"], ["x", "2125550707", cell])
    opens, closes = _window_eastern("+12125550707", facts)
    assert opens >= "08:00"
    assert closes == "20:00"


@pytest.mark.parametrize(
    ("cell", "clock_of"),
    [
        # Salesforce's time-zone picklist labels: "(GMT-06:00) Central Standard Time (America/Chicago)".
        ("(GMT-06:00) Central Standard Time (America/Chicago)", "America/Chicago"),
        ("(GMT-05:00) Eastern Standard Time (America/New_York)", "America/New_York"),
        ("(GMT-08:00) Pacific Standard Time (America/Los_Angeles)", "America/Los_Angeles"),
        ("(GMT-10:00) Hawaii-Aleutian Standard Time (Pacific/Honolulu)", "Pacific/Honolulu"),
        # Abbreviations written with dots.
        ("E.S.T.", "America/New_York"),
        ("c.s.t.", "America/Chicago"),
        ("P. S. T.", "America/Los_Angeles"),
    ],
)
def test_a_zone_cell_labelled_as_salesforce_or_dotted_names_its_clock(cell: str, clock_of: str) -> None:
    assert _clocks(contact_zones(cell)) == _clocks({clock_of})


@pytest.mark.parametrize("cell", ["(Moon/Base)", "Springfield (Ohio)", "(GMT-06:00)"])
def test_parentheses_without_a_zone_name_are_still_refused(cell: str) -> None:
    with pytest.raises(ValueError, match="is not a time zone"):
        contact_zones(cell)


def test_a_chicago_number_labelled_eastern_by_salesforce_closes_at_21_eastern() -> None:
    """The red-team case: the label was a row warning and ignored, so a 312 (Chicago) number of a
    contact whose zone is Eastern was called until 21:00 Chicago time, 22:00 in New York."""
    label = "(GMT-05:00) Eastern Standard Time (America/New_York)"
    _, facts, validator = _facts(["Phone", "Time Zone"], ["3125550707", label])
    assert not validator.warnings
    # 08:00 in Chicago is 09:00 Eastern (Illinois' own law may start later); 21:00 Eastern is the
    # federal end (47 CFR 64.1200(c)(1)).
    opens, closes = _window_eastern("+13125550707", facts)
    assert opens >= "09:00"
    assert closes == "21:00"


@pytest.mark.parametrize(("cell", "fixed"), [("UTC\u221206:00", "Etc/GMT+6"), ("\u221205:00", "Etc/GMT+5")])
def test_an_offset_written_with_a_minus_sign_is_read(cell: str, fixed: str) -> None:
    """U+2212 MINUS SIGN; the tz database's Etc/GMT+6 is UTC-6. The fixed clock comes first."""
    assert _clocks(contact_zones(cell)[:1]) == _clocks({fixed})


@pytest.mark.parametrize(
    ("cell", "clocks"),
    # UTC-6 is Central Standard Time (Chicago in winter) and Mountain Daylight Time (Denver in
    # summer); UTC-5 is Eastern Standard and Central Daylight; UTC-8 Pacific Standard and Alaska
    # Daylight (NIST, "Time zones of the United States"; 15 U.S.C. 261).
    [
        ("UTC-6", {"Etc/GMT+6", "America/Chicago", "America/Denver"}),
        ("GMT-05:00", {"Etc/GMT+5", "America/New_York", "America/Chicago"}),
        ("UTC-8", {"Etc/GMT+8", "America/Los_Angeles", "America/Anchorage"}),
        ("UTC+05:30", {"Asia/Kolkata"}),  # no North American clock
    ],
)
def test_an_offset_cell_counts_every_north_american_clock_it_may_mean(cell: str, clocks: set[str]) -> None:
    assert _clocks(contact_zones(cell)) == _clocks(clocks)


SUMMER = dt.datetime(2027, 7, 15, 12, tzinfo=dt.UTC)


def test_a_san_francisco_number_listed_utc_minus_6_is_not_called_after_21_central_in_summer() -> None:
    """The red-team case: ``UTC-6`` was a fixed clock only, so in July a 415 number listed UTC-6
    (Central time, written by its standard offset) was called until 21:00 UTC-6: 22:00 in Chicago."""
    _, facts, _ = _facts(["Phone", "Time Zone"], ["4155550707", "UTC-6"])
    review = _review()
    row = Claimed(1, 2, "tel:+14155550707", "+14155550707", None, None, None, None, None, None, [], 1, facts)
    verdict = review.verdict(row, SUMMER.timestamp())
    assert verdict.start_ts is not None
    assert verdict.end_ts is not None
    for where in ("America/Chicago", "America/Denver", "America/Los_Angeles"):
        opens = dt.datetime.fromtimestamp(verdict.start_ts, ZoneInfo(where))
        closes = dt.datetime.fromtimestamp(verdict.end_ts, ZoneInfo(where))
        assert opens.strftime("%H:%M") >= "08:00", where
        assert closes.strftime("%H:%M") <= "21:00", where
        assert opens.date() == closes.date(), where


@pytest.mark.parametrize("cell", ["AST", "Atlantic", "Atlantic Standard Time", "AST (Puerto Rico)"])
def test_atlantic_standard_time_is_puerto_ricos_clock_too(cell: str) -> None:
    """Puerto Rico and the US Virgin Islands keep Atlantic Standard Time all year (UTC-4, no daylight
    saving: 15 U.S.C. 263 places them in the Atlantic zone); Halifax keeps AST in winter only."""
    assert _clocks(contact_zones(cell)) == _clocks({"America/Puerto_Rico", "America/Halifax"})


def test_a_toll_free_number_listed_ast_is_not_called_before_8_in_san_juan_in_summer() -> None:
    """The red-team case: ``AST`` was Halifax's clock only, so in July an 800 number listed AST was
    called from 08:00 Halifax daylight time: 07:00 in San Juan."""
    _, facts, _ = _facts(["Phone", "Time Zone"], ["8005550707", "AST"])
    row = Claimed(1, 2, "tel:+18005550707", "+18005550707", None, None, None, None, None, None, [], 1, facts)
    verdict = _review().verdict(row, SUMMER.timestamp())
    assert verdict.start_ts is not None
    assert verdict.end_ts is not None
    san_juan = ZoneInfo("America/Puerto_Rico")
    assert dt.datetime.fromtimestamp(verdict.start_ts, san_juan).strftime("%H:%M") >= "08:00"
    assert dt.datetime.fromtimestamp(verdict.end_ts, san_juan).strftime("%H:%M") <= "21:00"


@pytest.mark.parametrize(
    ("cell", "clock_of"),
    [("America/Chicago (CST)", "America/Chicago"), ("Central Time - America/Chicago", "America/Chicago")],
)
def test_a_zone_name_among_other_words_is_read(cell: str, clock_of: str) -> None:
    assert _clocks(contact_zones(cell)) == _clocks({clock_of})


# --- a ZIP's first three digits -------------------------------------------------------------------


def test_a_jacksonville_number_with_pensacolas_zip_prefix_keeps_central_time() -> None:
    """The red-team case: ``325`` (the first three digits of every Pensacola ZIP, USPS's sectional
    center prefix) was a ZIP the data did not know, so a 904 (Jacksonville, Eastern) number of a
    contact in Pensacola (Central) was called from 08:00 Eastern: 07:00 in Pensacola."""
    assert (PENSACOLA.zip_code or "").startswith("325")
    _, facts, _ = _facts(["Phone", "ZIP"], ["9045550707", "325"])
    opens, closes = _window_eastern("+19045550707", facts)
    assert opens >= "09:00"  # 08:00 Central
    assert closes == "20:00"  # Florida's 8 p.m. (Fla. Stat. 501.616(6)(a))


@pytest.mark.parametrize("cell", ["601", "601.0"])
def test_three_digits_that_may_be_a_prefix_or_a_zip_without_its_zeros_count_as_both(cell: str) -> None:
    """601 is the prefix of ZIPs in Chicago's northern suburbs (60101 Addison, Illinois: Central) and
    00601 (Adjuntas, Puerto Rico: Atlantic, no daylight saving) as a numeric column writes it."""
    _, facts, _ = _facts(["Phone", "ZIP"], ["2125550707", cell])
    contact = _review().contact(
        Claimed(1, 2, "tel:+12125550707", "+12125550707", None, None, None, None, None, None, [], 1, facts)
    )
    assert contact is not None
    assert _clocks(contact.zones) == _clocks({"America/Chicago", "America/Puerto_Rico", "America/New_York"})
    assert contact.states == ("IL", "NY", "PR")


# --- a state column's zones -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "opens_eastern", "closes_eastern"),
    # 15 January 2027 (winter). California keeps Pacific time (UTC-8): 08:00 there is 11:00 Eastern.
    # Hawaii keeps UTC-10 all year: 08:00 there is 13:00 Eastern, and 21:00 Eastern is 16:00 there.
    # Florida west of the Apalachicola River keeps Central time: 08:00 in Pensacola is 09:00 Eastern,
    # and Florida's law ends calls at 8 p.m. (Fla. Stat. 501.616(6)(a)).
    [("CA", "11:00", "21:00"), ("Hawaii", "13:00", "21:00"), ("Florida", "09:00", "20:00")],
)
def test_a_new_york_number_listed_in_another_state_is_called_in_that_states_hours_too(
    cell: str, opens_eastern: str, closes_eastern: str
) -> None:
    """The red-team case: a state column named a state but no zone, so a 212 number of a contact
    listed in California was called from 08:00 Eastern: 05:00 in California (47 CFR 64.1200(c)(1):
    8 a.m. to 9 p.m. at the called party's location)."""
    _, facts, _ = _facts(["Phone", "State"], ["2125550707", cell])
    opens, closes = _window_eastern("+12125550707", facts)
    assert opens >= opens_eastern
    assert closes <= closes_eastern


# --- ZIPs of towns that keep another clock ----------------------------------------------------------

PHENIX_CITY = PLACES["Phenix City, AL"]


def test_a_birmingham_number_with_a_phenix_city_zip_keeps_the_towns_eastern_clock() -> None:
    """The red-team case: Phenix City's ZIP (36867, USPS) gave Central time only, so a 205
    (Birmingham, Central) number of a contact there was called until 21:00 Central: 22:00 by the
    town's own Eastern clock (see tests/truth/geography.py)."""
    assert PHENIX_CITY.observed_zone == "America/New_York"
    _, facts, _ = _facts(["Phone", "ZIP"], ["2055550707", "36867"])
    contact = _review().contact(
        Claimed(1, 2, "tel:+12055550707", "+12055550707", None, None, None, None, None, None, [], 1, facts)
    )
    assert contact is not None
    assert _clocks(contact.zones) == _clocks({PHENIX_CITY.zone, PHENIX_CITY.observed_zone})
    opens, closes = _window_eastern("+12055550707", facts)
    assert opens >= "09:00"  # 08:00 Central, the official clock
    assert closes <= "21:00"  # the town's Eastern clock


def test_a_phoenix_number_with_tuba_citys_zip_keeps_navajo_daylight_time() -> None:
    """Tuba City, Arizona (ZIP 86045) is in the Navajo Nation, which keeps daylight saving time: UTC-6
    (MDT) in summer, while Phoenix stays UTC-7 (Tuba City's infobox; navajo-nsn.gov). The data gave
    it Phoenix's clock, so a 602 number of a contact there was called until 22:00 by its clock in July."""
    _, facts, _ = _facts(["Phone", "ZIP"], ["6025550707", "86045"])
    row = Claimed(1, 2, "tel:+16025550707", "+16025550707", None, None, None, None, None, None, [], 1, facts)
    verdict = _review().verdict(row, SUMMER.timestamp())
    assert verdict.start_ts is not None
    assert verdict.end_ts is not None
    tuba_city = dt.timezone(dt.timedelta(hours=-6))  # its July clock
    assert dt.datetime.fromtimestamp(verdict.end_ts, tuba_city).strftime("%H:%M") <= "21:00"
    assert dt.datetime.fromtimestamp(verdict.start_ts, tuba_city).strftime("%H:%M") >= "08:00"


def test_a_toll_free_number_listed_in_a_state_still_gets_the_countrys_safe_window() -> None:
    """An 800 number says nothing of where its contact is, and a state column is not a zone cell: the
    window stays the one every US zone allows (08:00 in Honolulu is 13:00 Eastern in winter; 21:00
    Eastern ends it), never California's alone (08:00-21:00 Pacific would reach midnight Eastern).
    California's own law (Pub. Util. Code 2872(c): 9 a.m.) may open it later."""
    _, facts, _ = _facts(["Phone", "State"], ["8005550707", "CA"])
    opens, closes = _window_eastern("+18005550707", facts)
    assert opens >= "13:00"
    assert closes == "21:00"


# --- a zone column named as CRMs and dialers name it ----------------------------------------------


@pytest.mark.parametrize(
    "header",
    # Salesforce's field API name, CRM report labels, VICIdial's lead field and dialer list columns.
    ["TimeZoneSidKey", "Contact Time Zone", "Customer Timezone", "Time Zone (IANA)", "gmt_offset_now", "UTC Offset"],
)
def test_a_zone_column_named_as_crms_and_dialers_name_it_is_found(header: str, tmp_path: Any, run_cli: Any) -> None:
    """The red-team case: such a column was metadata, so a 212 number listed Central was called until
    21:00 Eastern only by chance and from 08:00 Eastern: 07:00 in Chicago."""
    path = write_csv(tmp_path / "crm.csv", [["Phone", header], ["2125550707", "-6.00" if "ffset" in header else "CST"]])
    data = run_cli("check", path, "--json").json()
    assert data["mapping"]["timezone_column"] == header
    assert f"column {header!r} → each row's time zone; undo: --timezone-column none" in run_cli("check", path).out


def test_two_columns_that_could_be_the_zone_are_warned_about(tmp_path: Any, run_cli: Any) -> None:
    path = write_csv(
        tmp_path / "crm.csv", [["Phone", "Contact Time Zone", "Lead Time Zone"], ["2125550707", "CST", "CST"]]
    )
    data = run_cli("check", path, "--json").json()
    assert data["mapping"].get("timezone_column") is None
    assert any("could each be the --timezone-column column" in w for w in data["warnings"])


@pytest.mark.parametrize(
    ("cell", "offset"),
    # VICIdial writes a lead's GMT offset in decimal hours: -5.00 (Eastern Standard), -3.50 (Newfoundland).
    [("-5.00", "-05:00"), ("-6.00", "-06:00"), ("-3.50", "-03:30"), ("GMT-5.00", "-05:00")],
)
def test_an_offset_in_decimal_hours_is_read(cell: str, offset: str) -> None:
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    fixed = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    assert zone(contact_zones(cell)[0]).utcoffset(WINTER) == fixed.utcoffset(WINTER)


def test_a_zip_the_data_lacks_counts_every_place_of_its_prefix() -> None:
    """USPS sorts by a ZIP's first three digits (its sectional center): every 325xx ZIP is Pensacola's
    (Florida, Central time). A ZIP the data lacks (32599) was ignored, so a 904 (Jacksonville,
    Eastern) number of a contact there was called from 07:00 Central."""
    assert zip_place("32599") is None  # not in the data: the case this is about
    _, facts, _ = _facts(["Phone", "ZIP"], ["9045550707", "32599"])
    opens, closes = _window_eastern("+19045550707", facts)
    assert opens >= "09:00"  # 08:00 Central
    assert closes == "20:00"  # Florida's 8 p.m. (Fla. Stat. 501.616(6)(a))


def test_a_zip_in_the_listed_state_says_where_in_it_the_contact_is() -> None:
    """Miami (ZIP 33101) keeps Eastern time; a contact listed in Florida with a Miami ZIP is not
    also in Pensacola: the window opens at 08:00 Eastern and ends at Florida's 8 p.m."""
    _, facts, _ = _facts(["Phone", "ZIP", "State"], ["3055550707", "33101", "FL"])
    assert _window_eastern("+13055550707", facts) == ("08:00", "20:00")
