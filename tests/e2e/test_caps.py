"""Caps count calls: a request with ``max_attempts N`` is N calls Insight may place, toward every cap
(the job's ``--max-contacts`` and each state's own, per number, across every job of the ledger).

Truth: the state caps are the statutes' (``tests/truth/statutes.py``: Florida 501.616(6)(b), Oklahoma's
three per 24 hours, Maine's one per 8 hours…) and the places the hand-checked geography
(``tests/truth/geography.py``), never the package's own data files.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import ledger_rows_url, point_at
from tests.truth.geography import PLACES
from tests.truth.statutes import CAP_BY_STATE

Run = Callable[..., CliResult]
HOUR = 3600


def _e164(area_code: str, line: int) -> str:
    return f"+1{area_code}201{line:04d}"


def _local(area_code: str, line: int) -> str:
    return f"({area_code}) 201-{line:04d}"


#: Pensacola's area code and its overlay (a Florida number wherever its ZIP is), per the geography truth.
FLORIDA = PLACES["Pensacola, FL"]
OREGON = PLACES["Ontario, OR"]
FL_CALLS, FL_HOURS = CAP_BY_STATE["FL"]
OR_CALLS, _ = CAP_BY_STATE["OR"]
ME_CALLS, ME_HOURS = CAP_BY_STATE["ME"]
#: Portland, Maine: ZIP 04101 (USPS); 212 is Manhattan's area code and 10001 a Manhattan ZIP (New York
#: has no cap in the statutes' table).
PORTLAND_ME_ZIP, NEW_YORK_AREA_CODE, NEW_YORK_ZIP = "04101", "212", "10001"


def _settings(url: str, sandbox: Sandbox | None = None) -> Settings:
    env = {}
    if sandbox is not None:
        env = {
            "BATCHQUEUE_BASE_URL": sandbox.api_url,
            "BATCHQUEUE_USER": sandbox.config.user,
            "BATCHQUEUE_API_KEY": sandbox.config.key,
        }
    return Settings.from_env(env, db=url)


def _import(settings: Settings, path: Path, *, attempts: int, **given: object) -> int:
    spec = MappingSpec(defaults={"max_attempts": str(attempts), "reattempt_wait": "600"})
    request = ImportRequest(path, spec, "4242", "1", new_job=True, **given)  # type: ignore[arg-type]
    result = import_file(settings, request)
    assert result.job_id is not None
    return result.job_id


def _two_days_ahead() -> str:
    """A start two days ahead at 16:00 UTC: 08:00-12:00 in every mainland US zone, so that each
    request gets a long calling window and Insight's re-attempts are never cut to fit it."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    return dt.datetime(day.year, day.month, day.day, 16, tzinfo=dt.UTC).isoformat()


def test_each_states_cap_limits_the_attempts_of_its_contacts_and_no_other(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    rows: list[list[object]] = [["phone", "zip", "who"]]
    rows.append([_local(FLORIDA.area_codes[0], 1), "", "Pensacola, by its area code"])
    rows.append([_local(FLORIDA.area_codes[1], 2), "", "the overlay of Pensacola's area code"])
    rows.append([_local(NEW_YORK_AREA_CODE, 3), FLORIDA.zip_code, "a New York number living in Pensacola"])
    rows.append([_local(OREGON.area_codes[0], 4), "", "Ontario, Oregon"])
    rows.append([_local(NEW_YORK_AREA_CODE, 5), PORTLAND_ME_ZIP, "a New York number living in Maine"])
    rows.append([_local(NEW_YORK_AREA_CODE, 6), NEW_YORK_ZIP, "New York: no state cap"])
    path = write_csv(tmp_path / "c.csv", rows)
    imported = run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", db, "--max-attempts", "5",
                       "--reattempt-wait", "600", "--start", _two_days_ahead(), "--metadata", "who")  # fmt: skip
    assert imported.code == 0, imported.err
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        sent = run_cli("run", "1", "--rate", "0", "--db", db)
        assert sent.code == 0, sent.err
        attempts = {c["metadata"]["who"]: int(c["fields"]["max_attempts"]) for c in sb.app.store.dump()}
    assert attempts == {
        "Pensacola, by its area code": FL_CALLS,
        "the overlay of Pensacola's area code": FL_CALLS,
        "a New York number living in Pensacola": FL_CALLS,
        "Ontario, Oregon": OR_CALLS,
        "a New York number living in Maine": ME_CALLS,
        "New York: no state cap": 5,
    }


def test_a_states_cap_counts_every_jobs_calls_to_the_number(ledger_url: str, tmp_path: Path) -> None:
    settings = _settings(ledger_url)
    number = _local(FLORIDA.area_codes[0], 7)
    files = [write_csv(tmp_path / f"{n}.csv", [["phone"], [number]]) for n in "abc"]
    # Three jobs of the same Florida number, re-contact protection off: only the cap stands between them.
    jobs = [_import(settings, f, attempts=2, recontact_after=0) for f in files]
    ledger = open_ledger(ledger_url)
    try:
        first = ledger.settle(jobs[0], [], [], 10).claimed
        assert [c.max_attempts for c in first] == [2]
        # The second job's request would make 4 calls in 24 hours: it is sent with what the cap leaves.
        second = ledger.settle(jobs[1], [], [], 10)
        assert [c.max_attempts for c in second.claimed] == [FL_CALLS - 2]
        # The third finds the cap used up: held (not sent, not suppressed) until the calls are 24 hours old.
        third = ledger.settle(jobs[2], [], [], 10)
        assert (third.claimed, third.held, third.suppressed) == ([], 1, 0)
        holds = ledger.holds(jobs[2], time.time())
        held, opens = holds.rows, holds.next_at
        assert held == 1
        assert [g.reason.value for g in holds.groups] == ["state_cap"]
        assert opens is not None
        assert time.time() + (FL_HOURS - 1) * HOUR < opens <= time.time() + (FL_HOURS + 1) * HOUR
        row = ledger_rows_url(ledger_url, jobs[2])[0]
        assert row["state"] == "pending"
        assert row["hold_reason"] == "state_cap"
        assert "FL" in row["hold_detail"]
        assert f"{FL_CALLS} calls" in row["hold_detail"]
        assert "501.616" in row["hold_detail"]
        # A day later (the log written a day into the past) the cap has room again.
        _backdate_log(ledger_url, (FL_HOURS + 1) * HOUR)
        ledger.release_holds(jobs[2])
        assert [c.max_attempts for c in ledger.settle(jobs[2], [], [], 10).claimed] == [2]
    finally:
        ledger.close()


def test_a_states_cap_holds_for_a_job_that_does_not_know_the_state(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21 ("caps count calls"): one job knows a New York number's contact lives in Pensacola (its
    # ZIP), another import of the same number has no ZIP. Florida's cap is per number: the statute
    # counts every call to it, whichever list placed it, so the second job's row is capped too.
    db = tmp_path / "l.db"
    number = _local(NEW_YORK_AREA_CODE, 21)
    knows = write_csv(tmp_path / "a.csv", [["phone", "zip"], [number, FLORIDA.zip_code]])
    blind = write_csv(tmp_path / "b.csv", [["phone"], [number]])
    given = ["--survey", "4242", "--instance", "1", "--db", db, "--max-attempts", "2", "--reattempt-wait", "600",
             "--start", _two_days_ahead(), "--recontact-after", "0"]  # fmt: skip
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        for job, path in ((1, knows), (2, blind)):
            imported = run_cli("import", path, *given, "--new-job")
            assert imported.code == 0, imported.err
            sent = run_cli("run", str(job), "--rate", "0", "--db", db)
            assert sent.code == 0, sent.err
        calls = [int(c["fields"]["max_attempts"]) for c in sb.app.store.dump()]
    # Job 1 asked for 2 calls; job 2 gets what Florida's 3 in 24 hours leaves: 1 (not 2: 4 calls).
    assert calls == [2, FL_CALLS - 2]
    assert sum(calls) == FL_CALLS


def test_a_state_known_to_an_earlier_claim_carries_on_to_later_ones(ledger_url: str, tmp_path: Path) -> None:
    settings = _settings(ledger_url)
    number = _local(NEW_YORK_AREA_CODE, 22)
    knows = write_csv(tmp_path / "a.csv", [["phone", "zip"], [number, FLORIDA.zip_code]])
    blind = [write_csv(tmp_path / f"{n}.csv", [["phone"], [number]]) for n in "bcd"]
    first = _import(settings, knows, attempts=1, recontact_after=0)
    second, third, fourth = (_import(settings, f, attempts=2, recontact_after=0) for f in blind)
    ledger = open_ledger(ledger_url)
    try:
        assert [c.max_attempts for c in ledger.settle(first, [], [], 10).claimed] == [1]
        assert [c.max_attempts for c in ledger.settle(second, [], [], 10).claimed] == [FL_CALLS - 1]
        # Florida's 3 calls are used up: the third job's row (no ZIP either) is held, and says why.
        held = ledger.settle(third, [], [], 10)
        assert (held.claimed, held.held) == ([], 1)
        row = ledger_rows_url(ledger_url, third)[0]
        assert row["hold_reason"] == "state_cap"
        assert row["hold_detail"].startswith(f"FL (this number's state by the claim of job {second}, row 2)")
        # Job 1's call is now a day old, job 2's (decided under Florida's cap) 20 hours: job 2's
        # claim still says the number may be in Florida, and its 2 calls leave the fourth job 1.
        _backdate_log(ledger_url, 20 * HOUR)
        _backdate_log(ledger_url, 5 * HOUR, job=first)
        assert [c.max_attempts for c in ledger.settle(fourth, [], [], 10).claimed] == [FL_CALLS - 2]
    finally:
        ledger.close()


def test_the_jobs_own_cap_counts_attempts_too(ledger_url: str, tmp_path: Path) -> None:
    settings = _settings(ledger_url)
    # A Massachusetts number (617: no state cap in the statutes' table): only the job's cap counts.
    earlier = write_csv(tmp_path / "a.csv", [["phone"], ["(617) 201-0001"]])
    later = write_csv(tmp_path / "b.csv", [["phone", "tries"], ["(617) 201-0001", "3"]])
    first = _import(settings, earlier, attempts=2, recontact_after=0)
    spec = MappingSpec(columns={"max_attempts": "tries"}, defaults={"reattempt_wait": "600"})
    request = ImportRequest(later, spec, "4242", "1", recontact_after=0, max_contacts=(3, 86400))
    second = import_file(settings, request).job_id
    assert second is not None
    ledger = open_ledger(ledger_url)
    try:
        assert [c.max_attempts for c in ledger.settle(first, [], [], 10).claimed] == [2]
        # 2 calls of job 1 within the day, and the cap is 3: its row of 3 attempts goes with 1.
        assert [c.max_attempts for c in ledger.settle(second, [], [], 10).claimed] == [1]
    finally:
        ledger.close()


@pytest.mark.parametrize(
    "how",
    [
        ["--max-contacts", "3/24h", "--max-attempts", "5", "--reattempt-wait", "600"],
        ["--rule", "max-contacts=3/24h", "--max-attempts", "5", "--reattempt-wait", "600"],
        ["--mapping", "{mapping}", "--max-contacts", "3/1d"],
        ["--mapping", "{rules}", "--max-attempts", "5", "--reattempt-wait", "600"],
    ],
    ids=["options", "rule", "attempts-in-mapping-file", "cap-in-mapping-file"],
)
def test_a_cap_smaller_than_max_attempts_is_refused_at_import(tmp_path: Path, run_cli: Run, how: list[str]) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text("[defaults]\nmax_attempts = 5\nreattempt_wait = 600\n", encoding="utf-8")
    rules = tmp_path / "r.toml"
    rules.write_text('[rules]\nmax-contacts = "3/24h"\n', encoding="utf-8")
    given = [a.format(mapping=mapping, rules=rules) for a in how]
    path = write_csv(tmp_path / "c.csv", [["phone"], ["(617) 201-0001"]])
    done = run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", tmp_path / "l.db", *given)
    assert done.code == 2, done.out
    assert "max-contacts 3/24h" in done.err
    assert "max-attempts 5" in done.err
    assert "5 calls" in done.err
    assert "created" not in done.out


def test_two_jobs_sent_at_once_never_exceed_a_states_cap(postgres_url: str, tmp_path: Path) -> None:
    # Two jobs of 30 Florida numbers each (20 shared: 40 numbers), re-contact off, each request 2 attempts:
    # four runs at once. Florida allows 3 calls a day: each shared number gets 2 + 1, never 2 + 2.
    with Sandbox() as sb:
        settings = _settings(postgres_url, sb)
        jobs = []
        for name, first in (("a.csv", 0), ("b.csv", 10)):
            rows = [["phone"]] + [[_local(FLORIDA.area_codes[0], 100 + first + i)] for i in range(30)]
            jobs.append(_import(settings, write_csv(tmp_path / name, rows), attempts=2, recontact_after=0))
        errors: list[BaseException] = []

        def send(job_id: int) -> None:
            try:
                run(settings, RunRequest(job_id, rate=0, concurrency=4))
            except BaseException as exc:  # reported below
                errors.append(exc)

        runners = [threading.Thread(target=send, args=(job,)) for job in jobs + jobs]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(timeout=120)
        calls: dict[str, int] = defaultdict(int)
        for c in sb.app.store.dump():
            calls[c["phone_number"]] += int(c["fields"]["max_attempts"])
    assert not errors
    assert len(calls) == 40
    assert max(calls.values()) <= FL_CALLS, {n: k for n, k in calls.items() if k > FL_CALLS}
    shared = [calls[f"tel:{_e164(FLORIDA.area_codes[0], 100 + i)}"] for i in range(10, 30)]
    assert shared == [FL_CALLS] * 20


def test_the_import_says_which_state_caps_will_cut_attempts(tmp_path: Path, run_cli: Run) -> None:
    path = write_csv(tmp_path / "c.csv", [["phone"], [_local(FLORIDA.area_codes[0], 1)]])
    done = run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", tmp_path / "l.db",
                   "--max-attempts", "5", "--reattempt-wait", "600", "--json")  # fmt: skip
    assert done.code == 0, done.err
    caps = {c["state"]: c for c in done.json()["rules"]["state_caps"]}
    assert (caps["FL"]["calls"], caps["FL"]["seconds"]) == (FL_CALLS, FL_HOURS * HOUR)
    assert (caps["ME"]["calls"], caps["ME"]["seconds"]) == (ME_CALLS, ME_HOURS * HOUR)
    text = run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", tmp_path / "l.db",
                   "--max-attempts", "5", "--reattempt-wait", "600", "--new-job")  # fmt: skip
    assert f"FL {FL_CALLS}/{FL_HOURS}h" in text.out
    # Off, knowingly: the caps are no longer applied (and the job is another job: other rules).
    off = run_cli("import", path, "--survey", "4242", "--instance", "1", "--db", tmp_path / "l.db",
                  "--max-attempts", "5", "--reattempt-wait", "600", "--rule", "state-caps=none", "--json")  # fmt: skip
    assert off.json()["created"] is True
    assert off.json()["rules"]["state_caps"] == []


def _backdate_log(url: str, seconds: float, job: int | None = None) -> None:
    """Every logged call and mark (of ``job``: every job's when None), ``seconds`` further in the past."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table in ("contact_log", "contact_marks"):
                conn.execute(
                    text(
                        f"UPDATE {table} SET contacted_at = contacted_at - :s, "  # noqa: S608 (a constant name)
                        "last_call_at = last_call_at - :s" + ("" if job is None else " WHERE job_id = :j")
                    ),
                    {"s": seconds, "j": job},
                )
    finally:
        engine.dispose()
