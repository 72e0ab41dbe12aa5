"""Places whose time zone, area code(s) and ZIP were checked by hand against outside sources.

Each :class:`Place` says where a contact may be: the city, its state (ISO 3166-2), every area code
that serves it (overlays included), one of its ZIP codes, the IANA zone its clocks follow, and the
standard UTC offset and daylight-saving observance its infobox gives (so a test can compare by the
clock, not by the zone's name: America/Boise and America/Denver keep the same time). Where a place
officially belongs to one zone but keeps another's time (Phenix City, Alabama), ``observed_zone``
names the second: a protective rule must allow a call only when both zones allow it.

Sources are the pages the facts were read at (December 2026, through the search tool); several are
Wikipedia mirrors, which carry the same infobox. Usage::

    from tests.truth.geography import PLACES, SPLIT_ZONE_AREA_CODES
    pensacola = PLACES["Pensacola, FL"]
    assert "-06:00" in SPLIT_ZONE_AREA_CODES["850"]
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    """Where one town is: its codes, a ZIP and its clock."""

    city: str
    state: str  # ISO 3166-2, e.g. "US-FL"
    area_codes: tuple[str, ...]  # every NANP code serving the town (an overlay serves its parent's area)
    zip_code: str | None  # one ZIP of the town; None where no source gave one
    zone: str  # the IANA zone its official time follows
    utc_standard: str  # standard-time offset, e.g. "-06:00"
    dst: bool  # observes daylight saving time
    source: str  # the page(s) the facts were read at
    observed_zone: str | None = None  # a zone the town keeps unofficially, if different


_PLACES: tuple[Place, ...] = (
    # Florida: 850 (and its overlay 448) spans the Apalachicola River, Central to the west, Eastern to the east.
    Place(
        "Pensacola, FL",
        "US-FL",
        ("850", "448"),
        "32501",
        "America/Chicago",
        "-06:00",
        True,
        # infobox: Time zone UTC−6 (CST), ZIP 32501…, Area code(s) 850/448
        "https://wiki.studentb.eu/view_html.php?lang=simple&q=Pensacola%2C_Florida",
    ),
    Place(
        "Tallahassee, FL",
        "US-FL",
        ("850", "448"),
        "32301",
        "America/New_York",
        "-05:00",
        True,
        # "Tallahassee and everything east of the Apalachicola River is on Eastern Time"; primary ZIP 32301;
        # 850 covers Tallahassee, Pensacola and Panama City; 448 overlays 850 (Pensacola's infobox)
        "https://americantimewatch.com/tallahassee-florida ; https://staging2.liftfoils.com/news/tallahassee-fl-zip-codes-find"
        " ; https://greyhoundsverdevalley.com/where-is-area-code-850",
    ),
    Place(
        "Panama City, FL",
        "US-FL",
        ("850", "448"),
        None,
        "America/Chicago",
        "-06:00",
        True,
        # "Just west of the river, cities like Panama City and Pensacola are on Central Time (CT)"
        "https://americantimewatch.com/tallahassee-florida ; https://greyhoundsverdevalley.com/where-is-area-code-850",
    ),
    # Kentucky: 270 (and its overlay 364) is mostly Central; Hardin County (Elizabethtown) is Eastern.
    Place(
        "Paducah, KY",
        "US-KY",
        ("270", "364"),
        "42001",
        "America/Chicago",
        "-06:00",
        True,
        # infobox: UTC−6 (CST), ZIP 42001-42002-42003, Area code(s) 270 & 364
        "https://simple.wikipedia.org/wiki/Paducah,_Kentucky",
    ),
    Place(
        "Bowling Green, KY",
        "US-KY",
        ("270", "364"),
        "42101",
        "America/Chicago",
        "-06:00",
        True,
        # infobox: UTC−6 (CST), ZIP codes 42101-42104, Area code(s) 270 & 364
        "https://wiki.studentb.eu/view_html.php?lang=en&q=Bowling_Green%2C_Kentucky",
    ),
    Place(
        "Elizabethtown, KY",
        "US-KY",
        ("270", "364"),
        "42701",
        "America/New_York",
        "-05:00",
        True,
        # infobox: UTC−5 (Eastern (EST)), ZIP codes 42701–42702, Area code(s) 270 & 364
        "https://kids.kiddle.co/Elizabethtown,_Kentucky",
    ),
    # Indiana: 812 (and its overlay 930) is Central in the south-west corner, Eastern elsewhere.
    Place(
        "Evansville, IN",
        "US-IN",
        ("812", "930"),
        "47708",
        "America/Chicago",
        "-06:00",
        True,
        # infobox: UTC−6 (Central (CST)), ZIP codes 47701…47708…, Area code(s) 812 & 930
        "http://wiki.richxsearch.com/view_html.php?lang=en&q=Evansville%2C_Indiana",
    ),
    Place(
        "Bloomington, IN",
        "US-IN",
        ("812", "930"),
        "47401",
        "America/Indiana/Indianapolis",
        "-05:00",
        True,
        # infobox: UTC−5 (EST), ZIP Codes 47401–47408, Area code 812 & 930
        "https://www.wikiwand.com/en/Bloomington,_Indiana",
    ),
    # Oregon: 541 (and its overlay 458) is Pacific except the northern 4/5 of Malheur County (Mountain).
    Place(
        "Ontario, OR",
        "US-OR",
        ("541", "458"),
        "97914",
        "America/Boise",
        "-07:00",
        True,
        # infobox: UTC−7 (Mountain), ZIP 97914, Area code 541; tz: "America/Boise … Northern 4/5 of Malheur County"
        "https://wikimili.com/en/Ontario%2C_Oregon ; https://en.wikipedia.org/wiki/Time_in_Oregon",
    ),
    Place(
        "Bend, OR",
        "US-OR",
        ("541", "458"),
        "97701",
        "America/Los_Angeles",
        "-08:00",
        True,
        # infobox: PST (UTC-8) / PDT (UTC-7), ZIP 97701, 97702, 97707…, Area code(s) 458 and 541
        "https://issuu.com./worldviews/docs/bend_or_mag_done",
    ),
    # Alaska: 907 is the whole state; the western Aleutians keep Hawaii–Aleutian time.
    Place(
        "Adak, AK",
        "US-AK",
        ("907",),
        "99546",
        "America/Adak",
        "-10:00",
        True,
        # infobox: UTC−10 (Hawaii-Aleutian (HST)), Summer UTC−9 (HDT), ZIP Code 99546, Area code 907
        "https://eymaps.com/en/Adak,_Alaska ; https://alarmclock.top/time/adak-alaska-united-states.html",
    ),
    Place(
        "Unalaska, AK",
        "US-AK",
        ("907",),
        "99685",
        "America/Anchorage",
        "-09:00",
        True,
        # infobox: UTC−9 (Alaska (AKST)), Summer UTC−8 (AKDT), ZIP 99685, Area code 907.
        # (phonenumbers 9.0.43 gives its exchange 907-581 Pacific/Honolulu: wrong.)
        "https://iiab.me/kiwix/content/wikipedia_en_all_maxi_2023-10/A/Unalaska",
    ),
    # Texas: El Paso and Hudspeth counties (915) are Mountain; the rest of Texas is Central.
    Place(
        "El Paso, TX",
        "US-TX",
        ("915",),
        "79901",
        "America/Denver",
        "-07:00",
        True,
        # "Area code 915, which primarily serves El Paso and Hudspeth counties … is officially in the Mountain
        # Time Zone"; primary ZIP 79901
        "https://winenfood.com/the-official-time-zone-for-area-code-915 ;"
        " https://imba.missouri.edu/zip-code-el-paso-tx-1468719999.html",
    ),
    # Michigan: Gogebic, Iron, Dickinson and Menominee counties (906) are Central; the rest Eastern.
    Place(
        "Iron Mountain, MI",
        "US-MI",
        ("906",),
        "49801",
        "America/Menominee",
        "-06:00",
        True,
        # infobox: UTC-6 (Central (CST)), ZIP code(s) 49801, 49802, 49831, Area code 906
        "https://pinocchiopedia.com/wiki/Iron_Mountain,_Michigan_micropolitan_area",
    ),
    # North Dakota: 701 is the whole state; the south-west is Mountain.
    Place(
        "Dickinson, ND",
        "US-ND",
        ("701",),
        "58601",
        "America/Denver",
        "-07:00",
        True,
        # infobox: UTC–7 (Mountain (MST)), ZIP Codes 58601, 58602, Area code 701
        "https://pwojczyn.com/wiki/view_html.php?lang=en&q=Dickinson%2C_North_Dakota&sq=crain_ford",
    ),
    # South Dakota: 605 is the whole state; the west river country is Mountain.
    Place(
        "Rapid City, SD",
        "US-SD",
        ("605",),
        "57701",
        "America/Denver",
        "-07:00",
        True,
        # infobox: UTC–7 (Mountain (MST)), ZIP Codes 57701, 57702, 57703, 57709, Area code 605;
        # "Area code 605 serves the entire state of South Dakota"
        "https://review.clateway.com/wiki/view_html.php?q=Rapid_City%2C_South_Dakota ; https://areacode411.com/605",
    ),
    # Nebraska: 308 (west) reaches the Mountain-time Panhandle.
    Place(
        "Scottsbluff, NE",
        "US-NE",
        ("308",),
        "69361",
        "America/Denver",
        "-07:00",
        True,
        # infobox: UTC−7 (Mountain (MST)), ZIP codes 69361, 69363, Area code 308
        "https://wikiz.com/wiki/Scottsbluff,_Nebraska",
    ),
    # Kansas: four western counties (785 and 620) are Mountain.
    Place(
        "Goodland, KS",
        "US-KS",
        ("785",),
        "67735",
        "America/Denver",
        "-07:00",
        True,
        # infobox: Mountain (MST) (UTC-7), ZIP code 67735, Area code(s) 785; "Four counties in Kansas are on
        # Mountain Time" (getruralkansas.org). (scienceanswers.live wrongly says Central.)
        "https://cloudflare-ipfs.com/ipfs/QmXoypizjW3WknFiJnKLwHCnL72vedxjQkDDP1mXWo6uco/wiki/Goodland%2C_Kansas.html"
        " ; http://www.getruralkansas.org/Goodland/210Explore/1806.shtml",
    ),
    # Idaho: 208 and its overlay 986 cover the whole state; the Panhandle is Pacific.
    Place(
        "Coeur d'Alene, ID",
        "US-ID",
        ("208", "986"),
        "83814",
        "America/Los_Angeles",
        "-08:00",
        True,
        # table: 83814 | Coeur d'Alene | Kootenai | Pacific. Idaho's only codes are 208/986 (NANPA NPA report,
        # overlay complex 208/986, location ID).
        "https://dev.worcestershireopenstudios.org/coeur-d-alene-id-zip-code-1728996461.html",
    ),
    # Nevada: 775 is Pacific except West Wendover (Mountain since 1999).
    Place(
        "West Wendover, NV",
        "US-NV",
        ("775",),
        "89883",
        "America/Denver",
        "-07:00",
        True,
        # infobox: UTC−7 (Mountain (MST)), ZIP code 89883, Area code(s) 775; DOT moved it to Mountain in 1999
        "https://kids.kiddle.co/West_Wendover,_Nevada ;"
        " https://lasvegassun.com/news/2011/jul/02/nevadas-tiny-town-different-time-zone/",
    ),
    # Alabama: officially Central everywhere, but Phenix City keeps Eastern time with Columbus, Georgia.
    Place(
        "Phenix City, AL",
        "US-AL",
        ("334",),
        None,
        "America/Chicago",
        "-06:00",
        True,
        # "The government of Phenix City — as well as those of Smiths Station in Lee County and Valley and Lanett
        # in Chambers County — observes Eastern time" (AP / Ledger-Enquirer). Area code: libphonenumber's
        # geocoding data names "Phenix City, AL" for five 334 exchanges.
        "https://legacy.decaturdaily.com/decaturdaily/news/060813/zones.shtml",
        observed_zone="America/New_York",
    ),
)

#: Every place by its "City, ST" name.
PLACES: dict[str, Place] = {place.city: place for place in _PLACES}

#: Area codes whose territory keeps more than one clock, with the standard offsets that a window for any of
#: their numbers must respect (from the places above and the regional facts below).
SPLIT_ZONE_AREA_CODES: dict[str, frozenset[str]] = {
    "850": frozenset({"-06:00", "-05:00"}),  # Pensacola, Panama City / Tallahassee
    "448": frozenset({"-06:00", "-05:00"}),  # overlay of 850
    "270": frozenset({"-06:00", "-05:00"}),  # Paducah, Bowling Green / Elizabethtown
    "364": frozenset({"-06:00", "-05:00"}),  # overlay of 270
    "812": frozenset({"-06:00", "-05:00"}),  # Evansville / Bloomington
    "930": frozenset({"-06:00", "-05:00"}),  # overlay of 812
    "541": frozenset({"-08:00", "-07:00"}),  # Bend / Ontario
    "458": frozenset({"-08:00", "-07:00"}),  # overlay of 541
    "907": frozenset({"-09:00", "-10:00"}),  # Unalaska (Alaska time) / Adak (Hawaii–Aleutian time)
    "906": frozenset({"-06:00", "-05:00"}),  # Iron Mountain / the rest of the Upper Peninsula
    "775": frozenset({"-08:00", "-07:00"}),  # Pacific / West Wendover (NANPA: "PT/MT only for W Wendover")
    "208": frozenset({"-08:00", "-07:00"}),  # Coeur d'Alene / south Idaho (America/Boise: Time in Oregon)
    "986": frozenset({"-08:00", "-07:00"}),  # overlay of 208
    "334": frozenset({"-06:00", "-05:00"}),  # Alabama (Central) / Phenix City (keeps Eastern)
}


@dataclass(frozen=True)
class RegionFact:
    """A county-level time-zone fact from a source (no single town)."""

    state: str
    fact: str
    standard_offsets: frozenset[str]
    source: str


REGION_FACTS: tuple[RegionFact, ...] = (
    RegionFact(
        "US-OR",
        "Northern 4/5 of Malheur County: America/Boise (Mountain); the rest of Oregon: America/Los_Angeles",
        frozenset({"-07:00", "-08:00"}),
        "https://en.wikipedia.org/wiki/Time_in_Oregon",
    ),
    RegionFact(
        "US-MI",
        "Gogebic, Iron, Dickinson and Menominee counties are Central; the rest of Michigan is Eastern",
        frozenset({"-06:00", "-05:00"}),
        "https://peterontheat.com/blog/faq-what-time-is-it-in-iron-mountain-michigan.html",
    ),
    RegionFact(
        "US-TX",
        "El Paso and Hudspeth counties are Mountain; NW Culberson County (Guadalupe Mountains NP) keeps Mountain "
        "unofficially; the rest of Texas is Central",
        frozenset({"-07:00", "-06:00"}),
        "https://eatsip365.com/which-texas-counties-are-in-the-mountain-time-zone",
    ),
    RegionFact(
        "US-NV",
        "West Wendover is officially Mountain (1999); Jackpot, Owyhee (Duck Valley), Mountain City and Jarbidge "
        "keep Mountain unofficially; the rest of Nevada is Pacific",
        frozenset({"-07:00", "-08:00"}),
        "https://www.8newsnow.com/news/local-news/while-most-of-nevada-is-set-to-spring-forward-these-areas-are-"
        "already-an-hour-ahead/",
    ),
    RegionFact(
        "US-AL",
        "Phenix City (Russell Co.), Smiths Station (Lee Co.), Valley and Lanett (Chambers Co.) keep Eastern time; "
        "Alabama is officially Central",
        frozenset({"-06:00", "-05:00"}),
        "https://legacy.decaturdaily.com/decaturdaily/news/060813/zones.shtml",
    ),
    RegionFact(
        "US-KS",
        "Four western counties (Sherman among them) are Mountain; the rest of Kansas is Central",
        frozenset({"-07:00", "-06:00"}),
        "http://www.getruralkansas.org/Goodland/210Explore/1806.shtml",
    ),
    RegionFact(
        "US-FL",
        "East of the Apalachicola River Eastern (Tallahassee); west of it Central (Panama City, Pensacola)",
        frozenset({"-05:00", "-06:00"}),
        "https://americantimewatch.com/tallahassee-florida",
    ),
    RegionFact(
        "US-AK",
        "Alaska time everywhere except the western Aleutians (Adak, Atka) on Hawaii–Aleutian time",
        frozenset({"-09:00", "-10:00"}),
        "https://eatsip365.com/the-exact-us-alaska-time-now-explained",
    ),
)
