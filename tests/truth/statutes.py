"""What each state's law says about when, and how often, a call may be made, quoted briefly.

Written from the statute or rule text (or, where marked, the summary that was all the search found),
never from ``batchqueue/places/data/us_state_rules.toml``. A :class:`Statute` gives the local window
per day as whole minutes since midnight, the days with no calls at all, the holiday ban, a cap, and
whether an in-state area code is presumed to reach a resident.

:func:`strictest_window` intersects every law of a state on a day: what a protective rule allows.

Usage::

    from tests.truth.statutes import STATUTES, FEDERAL
    florida = STATUTES["FL"]
    assert florida.window(0) == (8 * 60, 20 * 60)  # Monday
"""

from __future__ import annotations

from dataclasses import dataclass, field

Window = tuple[int, int]  # (start, end) in minutes after local midnight, end exclusive

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def _hm(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


@dataclass(frozen=True)
class Statute:
    """One law's calling limits, as its text states them."""

    state: str  # USPS code
    citation: str
    quote: str  # the operative words, briefly
    source: str  # the page the words were read at
    weekday: Window | None  # Monday-Friday
    saturday: Window | None  # None: no calls on Saturday
    sunday: Window | None  # None: no calls on Sunday
    no_holidays: bool = False
    max_calls: tuple[int, int] | None = None  # (calls, hours)
    area_code_presumption: bool = False
    automated_only: bool = False  # the law limits automated / prerecorded calls only
    covers_surveys: bool = False  # the text reaches polls or surveys expressly
    confirmed: bool = True  # False: the words come from a summary, not the statute text
    extra_holidays: tuple[str, ...] = field(default=())

    def window(self, weekday: int) -> Window | None:
        """The allowed local window on a day (0 = Monday), or None when no call is allowed."""
        if weekday == SAT:
            return self.saturday
        if weekday == SUN:
            return self.sunday
        return self.weekday


def _daily(start: int, end: int) -> tuple[Window, Window, Window]:
    return (start, end), (start, end), (start, end)


FEDERAL = Statute(
    "US",
    "47 CFR 64.1200(c)(1)",
    "before 8 a.m. or after 9 p.m. (local time at the called party's location)",
    "http://edocket.access.gpo.gov/cfr_2008/octqtr/47cfr64.1200.htm",
    *_daily(_hm(8), _hm(21)),
)

_STATUTES: tuple[Statute, ...] = (
    Statute(
        "AL",
        "Ala. Admin. Code r. 770-X-5-.17(1)(b)",
        "No solicitation calls are allowed on Sundays or holidays. On the days that calls are allowed, none will be"
        " placed prior to 8 a.m. or after 8 p.m.",
        "https://d1tvxue8o4w0fl.cloudfront.net/regulation/alabama-administrative-code/title-770-alabama-public-"
        "service-commission/chapter-770-x-5-telephone-rules/section-770-x-5-17-live-and-automated-solicitations-"
        "and-announcements",
        (_hm(8), _hm(20)),
        (_hm(8), _hm(20)),
        None,
        no_holidays=True,
        automated_only=True,
    ),
    Statute(
        "CA",
        "Cal. Pub. Util. Code 2872(c)",
        "No person shall operate an automatic dialing-announcing device … to place a call that is received … during"
        " the hours between 9 p.m. and 9 a.m. California time.",
        "https://codes.findlaw.com/ca/public-utilities-code/puc-sect-2872.html",
        *_daily(_hm(9), _hm(21)),
        automated_only=True,
        covers_surveys=True,  # every ADAD call, whatever its purpose
    ),
    Statute(
        "CT",
        "Conn. Gen. Stat. 42-288a(c); 42-288(c)",
        "between the hours of nine o'clock a.m. and eight o'clock p.m. local time; a rebuttable presumption that a"
        " telephonic sales call made … to a telephone number with a Connecticut area code has taken place in this"
        " state",
        "https://cga.ct.gov/current/pub/chap_743m.htm ; https://policyrisk.com/states/connecticut/statutes/42-288",
        *_daily(_hm(9), _hm(20)),
        area_code_presumption=True,
        confirmed=False,  # the hours' words were read only as a compilation quotes them
    ),
    Statute(
        "FL",
        "Fla. Stat. 501.616(6)(a)-(b); 501.059(8)(d)",
        "before 8 a.m. or after 8 p.m. local time at the called person's location; more than three … calls from any"
        " number to a person over a 24-hour period on the same subject matter; a rebuttable presumption that a"
        " telephonic sales call made to any area code in this state is made to a Florida resident",
        "https://flsenate.gov/Session/Bill/2021/1120/BillText/Filed/HTML ; https://sommalawpllc.com/2021/07/",
        *_daily(_hm(8), _hm(20)),
        max_calls=(3, 24),
        area_code_presumption=True,
    ),
    Statute(
        "KY",
        "KRS 367.461(2)(e)",
        "Calls using the automated calling equipment are made only between 8:00 a.m. and 9:00 p.m. (for conducting"
        " polls, for soliciting information, or for advertising)",
        "http://www.contactcentercompliance.com/legal/statutes/KY/KRS/367.461.adpx",
        *_daily(_hm(8), _hm(21)),
        automated_only=True,
        covers_surveys=True,
    ),
    Statute(
        "KY",
        "KRS 367.46955(16)",
        "to a person's residence at any time other than between 10 a.m. - 9 p.m. local time",
        "https://self-law.org/code/ky/chapter-367/367-46955",
        *_daily(_hm(10), _hm(21)),
        confirmed=False,
    ),
    Statute(
        "LA",
        "La. R.S. 45:811(2)-(3)",
        "other than between the hours of 8:00 a.m. and 8:00 p.m., Monday through Saturday … on days declared to be a"
        " state holiday, or Sundays (ADAD or live operator; sales, polls or soliciting information)",
        "https://lawserver.com/?p=30183792",
        (_hm(8), _hm(20)),
        (_hm(8), _hm(20)),
        None,
        no_holidays=True,
        covers_surveys=True,
    ),
    Statute(
        "MA",
        "201 CMR 12.02(2)",
        "an unsolicited telephonic sales call to a consumer between the hours of 8:00 P.M. to 8:00 A.M., local time at"
        " the consumer's location",
        "https://regulations.justia.com/states/massachusetts/201-cmr/title-201-cmr-12-00/section-12-02",
        *_daily(_hm(8), _hm(20)),
    ),
    Statute(
        "MD",
        "Md. Code, Com. Law 14-4502 (Stop the Spam Calls Act of 2023)",
        "calling hours to between 8:00am and 8:00pm in the called party's time zone; a limit of three calls or text"
        " messages per 24 hours about the same subject to the same called party",
        "https://www.wmar2news.com/local/law-to-prevent-spam-calls-takes-effect-first-of-the-year",
        *_daily(_hm(8), _hm(20)),
        max_calls=(3, 24),
        covers_surveys=True,  # "telephone solicitation" includes to "conduct or attempt to conduct a poll"
        confirmed=False,
    ),
    Statute(
        "ME",
        "10 M.R.S. 1498(3)",
        "except weekdays between 9 a.m. and 5 p.m., according to the time in this State, and may not complete more"
        " than one solicitation call to any telephone number during each 8-hour period",
        "https://legislature.maine.gov/legis/bills/bills_121st/billtexts/LD039201-1.asp",
        (_hm(9), _hm(17)),
        None,
        None,
        max_calls=(1, 8),
        automated_only=True,
    ),
    Statute(
        "MS",
        "Miss. Code 77-3-723",
        "Such calls may only be made between the hours of 8:00 a.m. and 8:00 p.m. Central Standard Time. No telephone"
        " solicitations may be made on a Sunday.",
        "https://getpocketlaw.com/law/state_mississippi/section-77-3-723-rules-for-authorized-calls_57b73fa7ff73",
        (_hm(8), _hm(20)),
        (_hm(8), _hm(20)),
        None,
    ),
    Statute(
        "NE",
        "Neb. Rev. Stat. 86-256(2)(c)",
        "Transmit messages only between the hours of 8 a.m. and 9 p.m. at the location of the person receiving the"
        " message (ADAD messages other than telephone solicitations)",
        "https://self-law.org/code/ne/chapter-86/86-256",
        *_daily(_hm(8), _hm(21)),
        automated_only=True,
        covers_surveys=True,
    ),
    Statute(
        "NM",
        "N.M. Stat. 57-12-22(B)(5)",
        "that are received before 9:00 a.m. or after 9:00 p.m.",
        "https://law.justia.com/codes/new-mexico/2006/nmrc/jd_57-12-22-13117.html",
        *_daily(_hm(9), _hm(21)),
    ),
    Statute(
        "OK",
        "15 O.S. 755.1(C)(2)(a)",
        "For calls terminating in this state, the device is not used to make a call: a. before 9 a.m. or after 9 p.m.",
        "http://www.contactcentercompliance.com/legal/statutes/OK/15_Okl._St./755.1.adpx",
        *_daily(_hm(9), _hm(21)),
        automated_only=True,
        covers_surveys=True,  # any automatic dial announcing device call
    ),
    Statute(
        "OK",
        "15 O.S. 775C (Telephone Solicitation Act of 2022, HB 3168)",
        "Sales calls before 8 a.m. and after 8 p.m.; More than three sales calls within a 24-hour period on the same"
        " matter; a rebuttable presumption for certain calls made to any area code in this state",
        "https://kfor.com/news/oklahoma-legislature/oklahoma-state-senate-votes-to-prohibit-certain-solicitation-calls/"
        "?ipid=promo-link-block2 ; https://app.legiplex.com/ok/legislature/2022/2022-r/bills/hb3168/drafts-latest",
        *_daily(_hm(8), _hm(20)),
        max_calls=(3, 24),
        area_code_presumption=True,
        confirmed=False,
    ),
    Statute(
        "OR",
        "ORS 646.563 as amended by HB 3865 (2025), effective 2026-01-01",
        "outside the hours of 8 a.m. to 8 p.m. … or exceeding three solicitations within a 24-hour period, unless an"
        " established business relationship exists",
        "https://production.jdsupra.com/legalnews/oregon-passes-new-telephone-8210765",
        *_daily(_hm(8), _hm(20)),
        max_calls=(3, 24),
        area_code_presumption=True,  # "may rely on the area code of a telephone number for a mobile telephone"
        confirmed=False,
    ),
    Statute(
        "PA",
        "73 P.S. 2245(a)(1); 2245(a)(10) (Act 73 of 2019)",
        "Conducting telemarketing after 9 p.m. or before 8 a.m.; telephone solicitation calls … on legal holidays",
        "https://govt.westlaw.com/pac/Document/NE4CC77F0E9F711E9BEFE89A994168F89?viewType=FullText&originationContext"
        "=documenttoc&transitionType=CategoryPageItem&contextData=(sc.Default) ;"
        " https://www.jenkinslaw.org/blog/2019/12/03/amendments-pennsylvanias-telemarketer-registration-act-effective-today",
        *_daily(_hm(8), _hm(21)),
        no_holidays=True,
        extra_holidays=("Good Friday", "Flag Day", "Election Day"),
    ),
    Statute(
        "PA",
        "SB 992 (2025-2026 session; enactment not confirmed)",
        "a prohibition against any telemarketing calls – including robocalls – being made on Sundays and between"
        " 7 p.m. and 9 a.m. on every other day of the week",
        "https://www.pasenategop.com/news/brooks-bill-to-strengthen-protections-against-telemarketers-passes-senate",
        (_hm(9), _hm(19)),
        (_hm(9), _hm(19)),
        None,
        confirmed=False,
    ),
    Statute(
        "RI",
        "R.I. Gen. Laws 5-61-2, 5-61-3.6",
        "Monday through Friday, except a state or federal holiday, nine o'clock (9:00 a.m.) to six o'clock (6:00 p.m.);"
        " Saturday ten o'clock (10:00 a.m.) to five o'clock (5:00 p.m.)",
        "https://instalawyer.io/laws/rhode-island-general-laws/section-5-61-2-definitions ;"
        " http://webserver.rilin.state.ri.us/Statutes/TITLE5/5-61/5-61-3.6.HTM",
        (_hm(9), _hm(18)),
        (_hm(10), _hm(17)),
        None,
        no_holidays=True,
    ),
    Statute(
        "SD",
        "SDCL 37-30-28",
        "No person may use an automated telephone dialing system to make a telephone solicitation to any telephone"
        " number in the state except weekdays between 9 a.m. and 9 p.m., according to the time in this state.",
        "http://legis.state.sd.us/statutes/DisplayStatute.aspx?Type=Statute&Statute=37-30-28",
        (_hm(9), _hm(21)),
        None,
        None,
        automated_only=True,
    ),
    Statute(
        "TX",
        "Tex. Bus. & Com. Code 301.051",
        "can only contact consumers between 9:00 a.m. and 9:00 p.m. (summary; the Sunday noon start is from a"
        " compilation only)",
        "https://legalclarity.org/what-is-the-legal-time-to-call-customers-in-texas",
        (_hm(9), _hm(21)),
        (_hm(9), _hm(21)),
        (_hm(12), _hm(21)),
        confirmed=False,
    ),
    Statute(
        "UT",
        "Utah Code 13-25a-103(3)",
        "(a) between the hours of 9 p.m. and 8 a.m. local time; (b) on a Sunday; or (c) on a legal holiday",
        "https://codes.findlaw.com/ut/title-13-commerce-and-trade/ut-code-sect-13-25a-103/",
        (_hm(8), _hm(21)),
        (_hm(8), _hm(21)),
        None,
        no_holidays=True,
    ),
    Statute(
        "WA",
        "RCW 19.158.040(2)",
        "shall not place calls to any person which will be received before 8:00 a.m. or after 8:00 p.m. at the call"
        " recipient's local time",
        "https://app.leg.wa.gov/RCW/default.aspx?cite=19.158.040",
        *_daily(_hm(8), _hm(20)),
    ),
)

#: Every law read, by state (a state with two laws has two entries).
STATUTES_BY_STATE: dict[str, tuple[Statute, ...]] = {}
for _statute in _STATUTES:
    STATUTES_BY_STATE[_statute.state] = (*STATUTES_BY_STATE.get(_statute.state, ()), _statute)

#: The first (or only) law of each state, for the common case.
STATUTES: dict[str, Statute] = {state: laws[0] for state, laws in STATUTES_BY_STATE.items()}


def strictest_window(state: str, weekday: int) -> Window | None:
    """The intersection of every law's window in ``state`` on a day: what a protective rule allows."""
    start, end = 0, 24 * 60
    for statute in STATUTES_BY_STATE[state]:
        window = statute.window(weekday)
        if window is None:
            return None
        start, end = max(start, window[0]), min(end, window[1])
    return (start, end) if start < end else None


#: States whose law presumes that an in-state area code reaches someone in the state.
AREA_CODE_PRESUMPTION_STATES: frozenset[str] = frozenset(s.state for s in _STATUTES if s.area_code_presumption)

#: States that cap the number of calls, with the strictest cap each law states: (calls, hours).
CAP_BY_STATE: dict[str, tuple[int, int]] = {s.state: s.max_calls for s in _STATUTES if s.max_calls is not None}
