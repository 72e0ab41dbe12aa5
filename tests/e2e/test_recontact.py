"""Re-contact limits across jobs (``import --recontact-after``): a number another job of the
ledger claimed within the period is suppressed — at import, and again inside each claim, so two
jobs sent at once (several PostgreSQL workers) never both call it."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.sending import RunRequest, run
from batchqueue.settings import Settings
from tests.conftest import CliResult, write_csv
from tests.console_helpers import Running, api_session
from tests.sandbox_helpers import contacts, ledger_rows, ledger_rows_url, point_at, sandbox_phones

Run = Callable[..., CliResult]
WEEK = 7 * 86400


def test_last_weeks_list_imported_again_is_suppressed_row_by_row(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    first = contacts(tmp_path / "monday.csv", 6)
    assert run_cli("import", first, "--survey", "4242", "--instance", "1", "--db", db).code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--db", db).code == 0
    # The same six people and two new ones, in another file (an export, edited): rows 2-7 are
    # the numbers called in job 1, rows 8-9 are new.
    again = contacts(tmp_path / "friday.csv", 8)
    done = run_cli(
        "import", again, "--survey", "4242", "--instance", "1", "--db", db, "--recontact-after", "7d", "--json"
    )
    assert done.code == 0, done.err
    assert (done.json()["valid"], done.json()["suppressed"]) == (2, 6)
    rows = {r["row_number"]: r for r in ledger_rows(db, job_id=2)}
    reasons = json.loads(rows[4]["reasons"])
    assert reasons[0][0] == "phone"
    assert reasons[0][1].startswith("recontact: contacted by job 1 (row 4) on ")
    assert reasons[0][1].endswith("within 1w")
    assert [rows[n]["state"] for n in (8, 9)] == ["pending", "pending"]
    assert run_cli("status", "2", "--db", db, "--json").json()["suppressed_by"] == {"recontact: contacted by job 1": 6}
    # Without the option the protection is on all the same (7 days by default); 0 turns it off.
    plain = run_cli("import", again, "--survey", "4242", "--instance", "1", "--db", db, "--new-job", "--json")
    assert plain.json()["suppressed"] == 6
    off = run_cli("import", again, "--survey", "4242", "--instance", "1", "--db", db, "--new-job",
                  "--recontact-after", "0", "--json")  # fmt: skip
    assert off.json()["suppressed"] == 0
    bad = run_cli("import", again, "--survey", "4242", "--instance", "1", "--db", db, "--recontact-after", "soon")
    assert bad.code == 2
    assert "--recontact-after 'soon'" in bad.err


def test_the_limit_is_checked_again_in_each_claim_on_both_backends(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        # Four lists of the same people, each another file (jobs of one file: see below).
        one = import_file_to(ledger, contacts(tmp_path / "a.csv", 4), recontact_after=None)
        two = import_file_to(ledger, contacts(tmp_path / "b.csv", 6), recontact_after=WEEK)
        three = import_file_to(ledger, same_people(tmp_path / "c.csv", 6), recontact_after=None)
        # Imported before anyone was called: all pending. Job 1 claims its four numbers first.
        assert [c.row_number for c in ledger.settle(one, [], [], 10).claimed] == [2, 3, 4, 5]
        second = ledger.settle(two, [], [], 10)
        assert [c.row_number for c in second.claimed] == [6, 7]
        assert second.suppressed == 4
        # A job without the limit still calls them: the rule is the job's.
        assert len(ledger.settle(three, [], [], 10).claimed) == 6
        # And its claims are marks too: a later job with the limit sees them at import.
        four = import_file_to(ledger, same_people(tmp_path / "d.csv", 6, label="Client"), recontact_after=3600)
        assert ledger.counts(four)["suppressed"] == 6
    finally:
        ledger.close()
    reasons = {r["row_number"]: json.loads(r["reasons"]) for r in ledger_rows_url(ledger_url, two) if r["reasons"]}
    assert sorted(reasons) == [2, 3, 4, 5]
    assert reasons[2][0][1].startswith("recontact: contacted by job 1 (row 2)")


def import_file_to(
    ledger: object, path: Path, *, recontact_after: int | None = None, max_contacts: tuple[int, int] | None = None
) -> int:
    from batchqueue.intake.importer import import_file as import_into

    options: dict[str, object] = {}
    if recontact_after:
        options["recontact_after"] = recontact_after
    if max_contacts:
        options["max_contacts"] = list(max_contacts)
    result = import_into(
        ledger,  # type: ignore[arg-type]
        path,
        MappingSpec(),
        survey_id="4242",
        instance_id="1",
        new_job=True,
        options=options,
    )
    assert result.job_id is not None
    return result.job_id


@dataclass(frozen=True)
class Imported:
    job_id: int
    #: Each job of the same file: (numbers in both, rows of this one suppressed because it called them).
    overlaps: dict[int, tuple[int, int]]


def import_spec(ledger: object, path: Path, spec: MappingSpec, *, options: dict[str, object] | None = None) -> Imported:
    from batchqueue.intake.importer import import_file as import_into

    result = import_into(
        ledger,  # type: ignore[arg-type]
        path,
        spec,
        survey_id="4242",
        instance_id="1",
        options=options or {},
    )
    assert result.job_id is not None
    return Imported(result.job_id, {o.job_id: (o.numbers, o.suppressed) for o in result.overlaps})


@pytest.mark.parametrize(
    "limit", [{"recontact_after": WEEK}, {"max_contacts": (1, WEEK)}], ids=["recontact-after", "max-contacts"]
)
def test_two_jobs_sent_at_once_by_several_workers_never_both_call_a_number(
    postgres_url: str, tmp_path: Path, limit: dict[str, Any]
) -> None:
    # Two jobs of 60 rows share 40 numbers; four runs (two per job) send them at the same time.
    with Sandbox() as sb:
        settings = Settings.from_env(
            {"BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user, "BATCHQUEUE_API_KEY": sb.config.key},
            db=postgres_url,
        )
        jobs = []
        for name, first in (("a.csv", 0), ("b.csv", 20)):
            request = ImportRequest(contacts(tmp_path / name, 60, first=first), MappingSpec(), "4242", "1", **limit)
            result = import_file(settings, request)
            assert result.job_id is not None
            jobs.append(result.job_id)
        errors: list[BaseException] = []

        def send(job_id: int) -> None:
            try:
                run(settings, RunRequest(job_id, rate=0, concurrency=4))
            except BaseException as exc:  # reported by the test below
                errors.append(exc)

        runners = [threading.Thread(target=send, args=(job,)) for job in jobs + jobs]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(timeout=120)
        calls = Counter(c["phone_number"] for c in sb.app.store.dump())
    assert not errors
    assert len(calls) == 80  # numbers 0-79: 20 only in a, 40 shared, 20 only in b
    assert max(calls.values()) == 1, [n for n, k in calls.items() if k > 1]
    states = Counter(r["state"] for job in jobs for r in ledger_rows_url(postgres_url, job))
    assert states == {"queued": 80, "suppressed": 40}


def test_max_contacts_counts_every_jobs_calls_at_import_and_in_each_claim(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        # Imported before anyone called: its limit is checked again when it claims.
        limited = import_file_to(ledger, contacts(tmp_path / "l.csv", 4), max_contacts=(2, WEEK))
        for other_list in (contacts(tmp_path / "a.csv", 3), same_people(tmp_path / "b.csv", 3)):
            other = import_file_to(ledger, other_list, recontact_after=None)
            assert len(ledger.settle(other, [], [], 10).claimed) == 3  # numbers 0-2, twice
        claimed = ledger.settle(limited, [], [], 10)
        assert [c.row_number for c in claimed.claimed] == [5]  # number 3: never called before
        assert claimed.suppressed == 3
        # A job imported now sees the count at import: numbers 0-3 were called 2, 2, 2 and 1 times.
        later = import_file_to(ledger, contacts(tmp_path / "c.csv", 5), max_contacts=(2, WEEK))
        assert ledger.counts(later)["suppressed"] == 3
        assert ledger.suppressed_by(later) == {"max-contacts: called 2 times within 1w (at most 2)": 3}
        # A larger limit lets them through.
        loose = import_file_to(ledger, same_people(tmp_path / "d.csv", 5), max_contacts=(3, WEEK))
        assert ledger.counts(loose)["suppressed"] == 0
    finally:
        ledger.close()


def test_max_contacts_option_is_checked(tmp_path: Path, run_cli: Run) -> None:
    db = tmp_path / "l.db"
    done = run_cli("import", contacts(tmp_path / "c.csv", 2), "--survey", "1", "--instance", "1", "--db", db,
                   "--max-contacts", "3")  # fmt: skip
    assert done.code == 2
    assert "--max-contacts '3': expected a count per period such as 3/7d" in done.err


def same_people(path: Path, n: int, first: int = 0, *, label: str = "Person") -> Path:
    """The numbers of ``contacts(…, n, first)`` in another file: another list of the same people
    (another ``label``: another file again)."""
    rows: list[list[object]] = [["Phone", "Full name"]]
    rows += [[f"(617) {200 + (first + i) // 10000:03d}-{(first + i) % 10000:04d}", f"{label} {i}"] for i in range(n)]
    return write_csv(path, rows)


# -- the same file imported again under another mapping -----------------------------------------


def test_the_same_file_with_one_metadata_box_toggled_says_so_and_calls_nobody_twice(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    source = contacts(tmp_path / "c.csv", 30)
    assert run_cli("import", source, "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--limit", "10").code == 0
        # The same file again, with the 'account' box unticked: another mapping, so another job.
        again = run_cli("import", source, "--survey", "4242", "--instance", "1", "--metadata", "name")
        assert again.code == 0, again.err
        assert "job 2 created" in again.out
        assert "job 2 overlaps job 1 (the same file): 30 number(s) in both" in again.out
        assert "10 suppressed here" in again.out
        shown = run_cli("import", source, "--survey", "4242", "--instance", "1", "--metadata", "name", "--json")
        assert (shown.json()["job_id"], shown.json()["created"]) == (2, False)
        assert shown.json()["overlaps"] == [{"job_id": 1, "numbers": 30, "suppressed": 10}]
        called_by_one = {r["e164"] for r in ledger_rows(db, 1) if r["state"] == "queued"}
        second = ledger_rows(db, 2)
        assert {r["e164"] for r in second if r["state"] == "suppressed"} == called_by_one
        assert all("recontact: contacted by job 1 (row " in r["reasons"] for r in second if r["state"] == "suppressed")
        # Job 2 calls the other twenty; then job 1, resumed, calls nobody job 2 called.
        sent = run_cli("run", "2", "--rate", "0", "--json")
        assert sent.json()["sent"] == 20
        rest = run_cli("run", "1", "--rate", "0", "--json")
        assert (rest.json()["sent"], rest.json()["suppressed"]) == (0, 20)
        calls = sandbox_phones(sb)
    assert len(calls) == 30
    assert max(calls.values()) == 1
    assert run_cli("status", "1", "--json").json()["suppressed_by"] == {"recontact: contacted by job 2": 20}
    # Asked for in so many words, a job of the same file may call them all again.
    off = run_cli("import", source, "--survey", "4242", "--instance", "1", "--new-job", "--recontact-after", "off")
    assert off.code == 0, off.err
    assert "job 3 overlaps job 1 (the same file): 30 number(s) in both; --recontact-after 0" in off.out
    assert run_cli("status", "3", "--json").json()["counts"]["pending"] == 30
    # A first import of a file overlaps nothing.
    assert run_cli("import", contacts(tmp_path / "new.csv", 3, first=500), "--survey", "4242", "--instance", "1",
                   "--json").json()["overlaps"] == []  # fmt: skip


def test_jobs_of_the_same_file_never_call_what_the_other_called_in_each_claim(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        source = contacts(tmp_path / "c.csv", 8)
        one = import_file_to(ledger, source)
        # Imported before anyone called: the overlap is said, nothing is suppressed yet.
        two = import_spec(ledger, source, MappingSpec(no_metadata=True))
        assert (two.overlaps, ledger.counts(two.job_id)["suppressed"]) == ({one: (8, 0)}, 0)
        assert [c.row_number for c in ledger.settle(one, [], [], 3).claimed] == [2, 3, 4]
        # Another job, of another file, calls row 5's number: it is not of the same file, so it
        # does not count — and its later mark must not hide job 1's calls.
        other = import_file_to(ledger, same_people(tmp_path / "other.csv", 3, first=0))
        assert len(ledger.settle(other, [], [], 10).claimed) == 3  # numbers 0-2, again: no rule for it
        claimed = ledger.settle(two.job_id, [], [], 3)
        assert [c.row_number for c in claimed.claimed] == [5, 6, 7]
        assert claimed.suppressed == 3
        # Job 1, resumed, does not call what job 2 called (the protection goes both ways).
        rest = ledger.settle(one, [], [], 10)
        assert [c.row_number for c in rest.claimed] == [8, 9]
        assert rest.suppressed == 3
        assert ledger.settle(two.job_id, [], [], 10).claimed == []  # rows 8, 9: job 1 has them now
    finally:
        ledger.close()
    rows_two = {r["row_number"]: r for r in ledger_rows_url(ledger_url, two.job_id)}
    assert json.loads(rows_two[2]["reasons"])[0][1].startswith("recontact: contacted by job 1 (row 2) on ")
    assert json.loads(rows_two[8]["reasons"])[0][1].startswith("recontact: contacted by job 1 (row 8) on ")
    rows_one = {r["row_number"]: r for r in ledger_rows_url(ledger_url, one)}
    assert [rows_one[n]["state"] for n in (5, 6, 7)] == ["suppressed"] * 3
    assert json.loads(rows_one[5]["reasons"])[0][1].startswith("recontact: contacted by job 2 (row 5) on ")


def test_recontact_off_lets_a_reimport_call_again(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        source = contacts(tmp_path / "c.csv", 4)
        one = import_file_to(ledger, source)
        assert len(ledger.settle(one, [], [], 10).claimed) == 4
        off = import_spec(ledger, source, MappingSpec(no_metadata=True), options={"recontact_after": 0})
        assert off.overlaps == {one: (4, 0)}  # said, but not acted on: the operator turned it off
        assert len(ledger.settle(off.job_id, [], [], 10).claimed) == 4
    finally:
        ledger.close()


def test_two_jobs_of_the_same_file_sent_at_once_call_each_number_once(ledger_url: str, tmp_path: Path) -> None:
    # Two runs per job on PostgreSQL (many workers); one on SQLite (one run per job at a time).
    workers = 2 if ledger_url.startswith("postgresql") else 1
    source = contacts(tmp_path / "c.csv", 60)
    with Sandbox() as sb:
        settings = Settings.from_env(
            {"BATCHQUEUE_BASE_URL": sb.api_url, "BATCHQUEUE_USER": sb.config.user, "BATCHQUEUE_API_KEY": sb.config.key},
            db=ledger_url,
        )
        jobs = []
        for spec in (MappingSpec(), MappingSpec(no_metadata=True)):
            result = import_file(settings, ImportRequest(source, spec, "4242", "1"))
            assert result.job_id is not None
            jobs.append(result.job_id)
        errors: list[BaseException] = []

        def send(job_id: int) -> None:
            try:
                run(settings, RunRequest(job_id, rate=0, concurrency=4))
            except BaseException as exc:  # reported by the test below
                errors.append(exc)

        runners = [threading.Thread(target=send, args=(job,)) for job in jobs * workers]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(timeout=120)
        calls = Counter(c["phone_number"] for c in sb.app.store.dump())
    assert not errors
    assert len(calls) == 60
    assert max(calls.values()) == 1, [n for n, k in calls.items() if k > 1]
    states = Counter(r["state"] for job in jobs for r in ledger_rows_url(ledger_url, job))
    assert states == {"queued": 60, "suppressed": 60}


# -- the re-contact period's edge ---------------------------------------------------------------


def _backdate(url: str, numbers: dict[str, float]) -> None:
    """Each number's claims (its mark and its log) as made, and their calls placed, that many seconds ago."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for e164, ago in numbers.items():
                when = {"t": time.time() - ago, "e": e164}
                for table in ("contact_marks", "contact_log"):
                    conn.execute(
                        text(f"UPDATE {table} SET contacted_at = :t, last_call_at = :t WHERE e164 = :e"),  # noqa: S608
                        when,
                    )
    finally:
        engine.dispose()


def test_a_mark_older_than_the_period_blocks_nothing_at_import_and_at_claim(ledger_url: str, tmp_path: Path) -> None:
    day = 86400
    ledger = open_ledger(ledger_url)
    try:
        # Job C (limit 7d) is imported before anyone called: its limit is checked in its claims.
        later = import_file_to(ledger, same_people(tmp_path / "c.csv", 6), recontact_after=WEEK)
        assert ledger.counts(later)["suppressed"] == 0
        # Job A calls numbers 0-5; numbers 0-2 were called 8 days ago, 3-5 6 days ago.
        first = import_file_to(ledger, contacts(tmp_path / "a.csv", 6))
        numbers = [c.e164 for c in ledger.settle(first, [], [], 10).claimed]
        assert len(numbers) == 6
        _backdate(ledger_url, {e: (8 if i < 3 else 6) * day for i, e in enumerate(numbers)})
        # At import: job B (limit 7d) suppresses only the numbers called within the week.
        imported = import_file_to(ledger, same_people(tmp_path / "b.csv", 6, first=0), recontact_after=WEEK)
        rows_b = ledger_rows_url(ledger_url, imported)
        assert [r["state"] for r in rows_b] == ["pending"] * 3 + ["suppressed"] * 3
        assert all(" on " in r["reasons"] and "by job 2 " in r["reasons"] for r in rows_b[3:])
        # At claim: job C sends the numbers called 8 days ago and suppresses the others.
        claimed = ledger.settle(later, [], [], 10)
        assert [c.e164 for c in claimed.claimed] == numbers[:3]
        assert claimed.suppressed == 3
        # Job B's claim now meets job C's marks, made just now: within the week, so suppressed.
        assert ledger.settle(imported, [], [], 10).claimed == []
    finally:
        ledger.close()


def test_a_number_called_8_days_ago_is_sent_again_6_days_ago_is_not(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    assert run_cli("import", contacts(tmp_path / "a.csv", 4), "--survey", "4242", "--instance", "1").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
        numbers = [r["e164"] for r in ledger_rows(db, 1)]
        _backdate(f"sqlite:///{db}", {numbers[0]: 8 * 86400, numbers[1]: 8 * 86400, numbers[2]: 6 * 86400})
        assert run_cli("import", same_people(tmp_path / "b.csv", 4), "--survey", "4242", "--instance", "1",
                       "--recontact-after", "7d").code == 0  # fmt: skip
        before = len(sb.app.store.dump())
        sent = run_cli("run", "2", "--rate", "0", "--json")
        assert (sent.json()["sent"], sent.json()["suppressed"]) == (2, 0)
        again = [c["phone_number"] for c in sb.app.store.dump()[before:]]
    assert sorted(again) == sorted(f"tel:{n}" for n in numbers[:2])
    assert [r["state"] for r in ledger_rows(db, 2)] == ["queued", "queued", "suppressed", "suppressed"]


def test_the_console_says_an_import_overlaps_a_job_of_the_same_file(running: Running, tmp_path: Path) -> None:
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 30}
    with contacts(tmp_path / "c.csv", 12).open("rb") as f:
        upload = session.post(running.url + "/api/uploads", files={"file": ("c.csv", f)}, **post).json()["upload_id"]
    first = session.post(f"{running.url}/api/uploads/{upload}/import", json={"survey": "4242", "instance": "1"}, **post)
    assert first.json()["overlaps"] == []
    # The check page again, with the 'account' box unticked: the API says it overlaps job 1...
    toggled = {"survey": "4242", "instance": "1", "metadata": ["name"], "metadata_chosen": "1"}
    second = session.post(f"{running.url}/api/uploads/{upload}/import", json=toggled, **post)
    assert (second.status_code, second.json()["job_id"]) == (201, 2)
    assert second.json()["overlaps"] == [{"job_id": 1, "numbers": 12, "suppressed": 0}]
    # ...and so does the page, for the form a person sends (once more, with no metadata at all).
    page = session.post(
        f"{running.url}/uploads/{upload}/import",
        data={"csrf_token": token, "survey": "4242", "instance": "1", "metadata_chosen": "1"},
        timeout=30,
    )
    assert page.status_code == 200
    assert "Job 3 overlaps job 1 (the same file): 12 number(s) in both" in page.text
    assert "Job 3 overlaps job 2 (the same file): 12 number(s) in both" in page.text


def _someone_waits_for_a_lock(url: str) -> bool:
    """A PostgreSQL session of this database waits for a lock another transaction holds."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
    finally:
        engine.dispose()
    return bool(waiting)


def test_a_claim_that_waited_for_a_same_file_claim_does_not_call_its_numbers(ledger_url: str, tmp_path: Path) -> None:
    from batchqueue.ledger import ClaimContext, Claimed, Verdict

    source = contacts(tmp_path / "c.csv", 4)
    first, second = open_ledger(ledger_url), open_ledger(ledger_url)
    try:
        one = import_file_to(first, source)
        two = import_spec(first, source, MappingSpec(no_metadata=True)).job_id
        marked, release = threading.Event(), threading.Event()
        rounds: list[int] = []

        def pause_after_marking(rows: list[Claimed], ctx: ClaimContext) -> list[Verdict]:
            rounds.append(len(rows))
            if len(rounds) == 1:  # rows 2-4: hold row 4, so that the claim takes another round...
                return [Verdict(), Verdict(), Verdict(send=False, hold_until=time.time() + 3600, reason="test")]
            marked.set()  # ...by when rows 2 and 3 (numbers 0 and 1) are marked, not yet committed
            release.wait(30)
            return [Verdict() for _ in rows]

        claims: dict[int, list[Claimed]] = {}
        job_one = threading.Thread(
            target=lambda: claims.setdefault(one, first.settle(one, [], [], 3, review=pause_after_marking).claimed)
        )
        job_one.start()
        assert marked.wait(30)
        # Job 2 claims numbers 0-3 while job 1 holds its marks: it waits for them.
        job_two = threading.Thread(target=lambda: claims.setdefault(two, second.settle(two, [], [], 2).claimed))
        job_two.start()
        deadline = time.monotonic() + 20
        if ledger_url.startswith("postgresql"):
            while not _someone_waits_for_a_lock(ledger_url):
                assert time.monotonic() < deadline, "job 2's claim never waited for job 1's marks"
                time.sleep(0.05)
        else:
            time.sleep(0.5)  # SQLite: job 2's write transaction cannot begin before job 1's ends
        release.set()
        job_one.join(30)
        job_two.join(30)
    finally:
        first.close()
        second.close()
    by_one = {c.e164 for c in claims[one]}
    by_two = {c.e164 for c in claims[two]}
    assert [c.row_number for c in claims[one]] == [2, 3, 5]
    assert [c.row_number for c in claims[two]] == [4]  # number 2: job 1 held its row, never claimed it
    assert not by_one & by_two
    # The marks still name the job that claimed the number (the refused claim did not take them).
    from sqlalchemy import create_engine, text

    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            marks: dict[str, int] = dict(conn.execute(text("SELECT e164, job_id FROM contact_marks")).all())
    finally:
        engine.dispose()
    assert {marks[e] for e in by_one} == {one}
    assert {marks[e] for e in by_two} == {two}
