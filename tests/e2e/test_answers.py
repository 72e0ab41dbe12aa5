"""``batchqueue answers``: the survey report read from a strict stand-in (the sandbox, over HTTP),
joined to the job's calls in a real ledger, shown in every report format, and opt-outs honoured.

Truth comes from the stand-in's own record (which call it completed, which visit it wrote for it),
never from batchqueue's tables. The join's hard cases put visits into the stand-in's report with
chosen numbers and times; the calls are real runs against it.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchqueue.sandbox import Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from batchqueue.sandbox.reports import QUESTIONS, Visit, answers_for
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import contacts, ledger_rows_url, point_at

Run = Callable[..., CliResult]
STOP = QUESTIONS[3]
ALL_DAY = (
    "--calling-hours",
    "00:00-24:00",
    "--outside-federal-hours",
    "--state-rules",
    "none",
)  # windows that do not depend on the hour the tests run at


@pytest.fixture
def completing() -> Iterator[Sandbox]:
    """A stand-in that completes (or fails) each call at once and writes a visit for each completed one."""
    with Sandbox(SandboxConfig(completion=Completion(after=0.05))) as sb:
        yield sb


@pytest.fixture
def quiet() -> Iterator[Sandbox]:
    """A stand-in whose calls stay queued: its report holds only the visits a test puts in."""
    with Sandbox(SandboxConfig()) as sb:
        yield sb


def settled(sb: Sandbox, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The stand-in's calls once none is still queued."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = sb.app.store.dump()
        if calls and all(c["status"] != "queued" for c in calls):
            return calls
        time.sleep(0.05)
    raise AssertionError("the stand-in did not end its calls")


def imported_and_sent(run_cli: Run, db: str, source: Path, *extra: str) -> int:
    done = run_cli("import", source, "--survey", "4242", "--instance", "1", *ALL_DAY, *extra, "--db", db, "--json")
    assert done.code == 0, done.err
    job_id = int(done.json()["job_id"])
    sent = run_cli("run", str(job_id), "--rate", "0", "--db", db, "-q")
    assert sent.code == 0, sent.err
    return job_id


def answers(run_cli: Run, db: str, job_id: int, *extra: str) -> dict[str, Any]:
    done = run_cli("answers", str(job_id), *extra, "--db", db, "--json")
    assert done.code == 0, done.err
    found: dict[str, Any] = done.json()
    return found


def report(run_cli: Run, db: str, job_id: int) -> list[dict[str, Any]]:
    done = run_cli("export", str(job_id), "-o", "-", "--format", "json", "--db", db)
    assert done.code == 0, done.err
    rows: list[dict[str, Any]] = json.loads(done.out)["rows"]
    return rows


def sent_at(db: str, job_id: int) -> dict[str, float]:
    """Each number's request time, as the ledger recorded it (the stand-in has no finer record)."""
    return {
        r["e164"]: r["started_at"]
        for r in _query(
            db,
            "SELECT r.e164, a.started_at FROM rows r JOIN attempts a ON a.row_id = r.id WHERE r.job_id = ?",
            (job_id,),
        )
    }


def _query(db: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            marks = {f"p{i}": v for i, v in enumerate(params)}
            for i in range(len(params)):
                sql = sql.replace("?", f":p{i}", 1)
            return [dict(r._mapping) for r in conn.execute(text(sql), marks)]
    finally:
        engine.dispose()


def visit(
    phone: str, start: float, *, kind: str = "Outbound", answers: tuple[str, ...] = ("5", "Yes", "", "")
) -> Visit:
    return Visit("4242", kind, "6175550000", phone, start, start + 90, "Yes", answers)


def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


# --- the stand-in, end to end ----------------------------------------------------------------------


def test_every_completed_call_carries_exactly_its_answers_across_pages(
    ledger_url: str, tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, completing: Sandbox
) -> None:
    point_at(monkeypatch, completing)
    job_id = imported_and_sent(run_cli, ledger_url, contacts(tmp_path / "c.csv", 40))
    calls = settled(completing)
    visits = list(completing.app.store.visits.visits)
    found = answers(run_cli, ledger_url, job_id, "--report", "4242", "--page-size", "7")

    completed = {c["phone_number"].removeprefix("tel:") for c in calls if c["status"] == "completed"}
    assert 10 < len(completed) < 40  # some calls completed, some did not: both kinds are checked
    web = sum(v.visit_type == "Web" for v in visits)
    inbound = sum(v.visit_type == "Inbound" for v in visits)
    assert web >= 3
    assert inbound == 1
    # Paging was followed to the end: every visit read, in ceil(visits / 7) requests.
    assert found["read"] == len(visits) == found["visits"]
    assert found["pages"] == completing.app.store.report_requests == -(-len(visits) // 7)
    assert (found["joined"], found["ambiguous"]) == (len(completed), 0)
    assert found["set_aside"] == {"web": web, "inbound": inbound}
    # Every completed call's row carries exactly the answers its visit gave; no other row carries any.
    rows = report(run_cli, ledger_url, job_id)
    assert len(rows) == 40
    for row in rows:
        number = row["bq_phone_sent"].removeprefix("tel:")
        if number in completed:
            assert row["bq_answers"] == dict(zip(QUESTIONS, answers_for(f"tel:{number}", 0), strict=True)), row
            assert row["bq_visit_completed"] in ("Yes", "No")
        else:
            assert row["bq_answers"] is None, row
            assert row["bq_visit_start_utc"] == ""
            assert row["bq_visit_note"] == ""
    # status says how many rows have answers and how many completed the survey.
    status = run_cli("status", str(job_id), "--db", ledger_url, "--json").json()["answers"]
    assert (status["report_id"], status["joined"]) == ("4242", len(completed))
    assert status["completed"] == sum(1 for v in visits if v.visit_type == "Outbound" and v.completed == "Yes")


def test_running_it_again_is_idempotent_and_picks_up_new_and_changed_answers(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    job_id = imported_and_sent(run_cli, db, contacts(tmp_path / "c.csv", 3))
    when = sent_at(db, job_id)
    log = quiet.app.store.visits
    log.add(visit("6172000000", when["+16172000000"] + 30, answers=("4", "Yes", "first", "")))
    first = answers(run_cli, db, job_id, "--report", "4242")
    exported = run_cli("export", str(job_id), "-o", "-", "--db", db).out
    again = answers(run_cli, db, job_id)  # the report id is stored on the job
    assert {k: v for k, v in again.items() if k not in ("until",)} == {k: v for k, v in first.items() if k != "until"}
    assert run_cli("export", str(job_id), "-o", "-", "--db", db).out == exported
    # A new visit arrives, and the first one's answers change on Insight's side (same visit).
    log.visits[0] = visit("6172000000", when["+16172000000"] + 30, answers=("4", "Yes", "first, edited", ""))
    log.add(visit("(617) 200-0002", when["+16172000002"] + 40, answers=("2", "No", "second", "9")))
    third = answers(run_cli, db, job_id)
    assert (third["joined"], third["visits"]) == (2, 2)
    rows = {r["bq_row"]: r["bq_answers"] for r in report(run_cli, db, job_id)}
    assert rows[2] == dict(zip(QUESTIONS, ("4", "Yes", "first, edited", ""), strict=True))
    assert rows[3] is None
    assert rows[4] == dict(zip(QUESTIONS, ("2", "No", "second", "9"), strict=True))
    assert _query(db, "SELECT count(*) AS n FROM survey_visits")[0]["n"] == 2


# --- the join's hard cases -------------------------------------------------------------------------


def test_the_same_number_in_two_waves_each_wave_gets_the_visit_its_call_gave(
    ledger_url: str, tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    point_at(monkeypatch, quiet)
    first = imported_and_sent(run_cli, ledger_url, contacts(tmp_path / "c.csv", 2))
    # Wave 1 was sent two hours ago, and its first contact's call failed: the next wave calls it again.
    _execute(ledger_url, "UPDATE attempts SET started_at = started_at - 7200 WHERE job_id = 1")
    _execute(ledger_url, "UPDATE rows SET outcome_status = 'failed' WHERE job_id = 1 AND row_number = 2")
    made = run_cli("recycle", str(first), "--outcome", "failed", "--db", ledger_url, "--json")
    assert made.code == 0, made.err
    second = int(made.json()["job_id"])
    assert run_cli("run", str(second), "--rate", "0", "--db", ledger_url, "-q").code == 0
    wave1, wave2 = sent_at(ledger_url, first)["+16172000000"], sent_at(ledger_url, second)["+16172000000"]
    assert wave2 - wave1 > 7000
    log = quiet.app.store.visits
    log.add(visit("6172000000", wave1 + 600, answers=("1", "No", "wave one", "")))  # voicemail, say
    log.add(visit("6172000000", wave2 + 60, answers=("5", "Yes", "wave two", "")))
    one = answers(run_cli, ledger_url, first, "--report", "4242")
    two = answers(run_cli, ledger_url, second, "--report", "4242")
    assert (one["joined"], one["set_aside"], one["ambiguous"]) == (1, {"other_jobs": 1}, 0)
    assert (two["joined"], two["set_aside"], two["ambiguous"]) == (1, {"other_jobs": 1}, 0)
    assert report(run_cli, ledger_url, first)[0]["bq_answers"][QUESTIONS[2]] == "wave one"
    assert report(run_cli, ledger_url, second)[0]["bq_answers"][QUESTIONS[2]] == "wave two"


def _execute(db: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_a_visit_before_its_call_was_queued_is_not_that_calls(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    job_id = imported_and_sent(run_cli, db, contacts(tmp_path / "c.csv", 2))
    when = sent_at(db, job_id)
    quiet.app.store.visits.add(visit("6172000000", when["+16172000000"] - 3600, answers=("1", "No", "old", "")))
    quiet.app.store.visits.add(visit("6172000001", when["+16172000001"] + 20, answers=("3", "Yes", "new", "")))
    found = answers(run_cli, db, job_id, "--report", "4242")
    assert (found["joined"], found["set_aside"]) == (1, {"before_call": 1})
    rows = report(run_cli, db, job_id)
    assert rows[0]["bq_answers"] is None
    assert rows[1]["bq_answers"][QUESTIONS[2]] == "new"


def test_numbers_written_differently_in_the_report_are_the_numbers_the_job_called(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    written_in_file = ["617-200-0000", "(617) 200-0001", "+1 617 200 0002", "6172000003", "617.200.0004",
                       "tel:+16172000005", "+44 20 7946 0958", "+52 55 1234 5678"]  # fmt: skip
    source = write_csv(tmp_path / "c.csv", [["phone", "name"]] + [[p, f"N{i}"] for i, p in enumerate(written_in_file)])
    job_id = imported_and_sent(run_cli, db, source)
    when = sent_at(db, job_id)
    in_report = {
        "+16172000000": "(617) 200-0000",
        "+16172000001": "16172000001",
        "+16172000002": "tel:+16172000002",
        "+16172000003": "+1 617-200-0003",
        "+16172000004": "1.617.200.0004",
        "+16172000005": "tel:6172000005;ani=2125550100",
        "+442079460958": "442079460958",
        "+525512345678": "0052 55 1234 5678",
    }
    for i, (e164, phone) in enumerate(in_report.items()):
        quiet.app.store.visits.add(visit(phone, when[e164] + 30, answers=(str(i), "Yes", phone, "")))
    found = answers(run_cli, db, job_id, "--report", "4242")
    assert (found["joined"], found["set_aside"], found["ambiguous"]) == (8, {}, 0)
    for row in report(run_cli, db, job_id):
        assert row["bq_answers"][QUESTIONS[2]] == in_report[row["bq_phone_sent"].removeprefix("tel:")]


def test_a_report_whose_times_are_in_another_zone(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite_db(tmp_path)
    config = SandboxConfig(completion=Completion(after=0.05), report_timezone="America/Los_Angeles")
    with Sandbox(config) as sb:
        point_at(monkeypatch, sb)
        job_id = imported_and_sent(run_cli, db, contacts(tmp_path / "c.csv", 12))
        completed = sum(c["status"] == "completed" for c in settled(sb))
        # Read as UTC, a Los Angeles time is 7 or 8 hours early: before every call was queued.
        wrong = run_cli("answers", str(job_id), "--report", "4242", "--db", db, "--json")
        assert wrong.code == 0, wrong.err
        assert wrong.json()["joined"] == 0
        assert wrong.json()["set_aside"]["before_call"] == completed
        assert any("--report-timezone" in w for w in wrong.json()["warnings"])
        told = answers(run_cli, db, job_id, "--report-timezone", "America/Los_Angeles")
        assert (told["joined"], told["report_timezone"]) == (completed, "America/Los_Angeles")
        assert answers(run_cli, db, job_id)["joined"] == completed  # the zone is stored on the job
        truth = sorted(v.start for v in sb.app.store.visits.visits if v.visit_type == "Outbound")
    # The stored visits were read again in the right zone, not kept with the wrong times.
    kept = sorted(r["start_ts"] for r in _query(db, "SELECT start_ts FROM survey_visits WHERE kind = 'outbound'"))
    assert kept == truth


def test_a_visit_matching_two_calls_equally_is_reported_not_joined(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    source = write_csv(tmp_path / "c.csv", [["phone"], ["617-200-0000"], ["(617) 200-0000"], ["617-200-0001"]])
    job_id = imported_and_sent(run_cli, db, source, "--allow-duplicates", "--recontact-after", "0")
    start = max(sent_at(db, job_id).values()) + 30
    quiet.app.store.visits.add(visit("6172000000", start))
    found = answers(run_cli, db, job_id, "--report", "4242")
    assert (found["joined"], found["ambiguous"], found["ambiguous_by"]) == (0, 1, {"two_calls": 1})
    assert found["ambiguous_visits"][0]["rows"] == "row 2, row 3"
    rows = report(run_cli, db, job_id)
    for row in rows[:2]:
        assert row["bq_answers"] is None
        assert "matches row 2, row 3 equally; it was not joined" in row["bq_visit_note"]
    assert rows[2]["bq_visit_note"] == ""
    shown = run_cli("answers", str(job_id), "--db", db)
    assert "ambiguous 1" in shown.out
    assert "matches two calls equally; not joined" in shown.out


def test_a_call_with_two_visits_is_reported_and_neither_is_joined(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    job_id = imported_and_sent(run_cli, db, contacts(tmp_path / "c.csv", 1))
    start = sent_at(db, job_id)["+16172000000"]
    quiet.app.store.visits.add(visit("6172000000", start + 20, answers=("1", "No", "hung up", "")))
    quiet.app.store.visits.add(visit("6172000000", start + 300, answers=("5", "Yes", "called back?", "")))
    found = answers(run_cli, db, job_id, "--report", "4242")
    assert (found["joined"], found["ambiguous_by"]) == (0, {"two_visits": 2})
    row = report(run_cli, db, job_id)[0]
    assert row["bq_answers"] is None
    assert row["bq_visit_note"].startswith("2 visits answer this call (started ")


def test_web_and_inbound_visits_and_numbers_never_called_are_set_aside(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    job_id = imported_and_sent(run_cli, db, contacts(tmp_path / "c.csv", 2))
    start = sent_at(db, job_id)["+16172000000"] + 30
    log = quiet.app.store.visits
    log.add(visit("6172000000", start, answers=("4", "Yes", "mine", "")))
    # The same person calling in, and filling the web survey: not answers to this job's call.
    log.add(Visit("4242", "Inbound", "6172000001", "6172000001", start + 60, None, "Yes", ("1", "No", "in", "")))
    log.add(Visit("4242", "Web", "203.0.113.9", "", start + 90, None, "Yes", ("2", "No", "web", "")))
    log.add(visit("6179990000", start + 5))  # a number no job called
    log.add(Visit("4242", "Kiosk", "", "6172000001", start + 100, None, "Yes", ("3", "No", "kiosk", "")))
    found = answers(run_cli, db, job_id, "--report", "4242")
    assert found["joined"] == 1
    assert found["set_aside"] == {"inbound": 1, "web": 1, "not_called": 1, "other_type": 1}
    assert found["not_this_job"] == 4
    assert found["read"] == found["visits"] == 5
    assert any("'Kiosk' (1)" in w for w in found["warnings"])
    rows = report(run_cli, db, job_id)
    assert rows[0]["bq_answers"][QUESTIONS[2]] == "mine"
    assert rows[1]["bq_answers"] is None


# --- opt-outs --------------------------------------------------------------------------------------


def test_an_opt_out_answer_keeps_that_number_from_every_later_job(
    ledger_url: str, tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = ledger_url
    point_at(monkeypatch, quiet)
    job_id = imported_and_sent(run_cli, db, contacts(tmp_path / "c.csv", 3))
    # Another job of the ledger, imported before anyone opted out, still holds the number pending.
    # (Re-contact protection off in the later jobs: what is tested is the opt-out list.)
    pending_before = run_cli("import", contacts(tmp_path / "d.csv", 3), "--survey", "4242", "--instance", "1",
                             *ALL_DAY, "--new-job", "--recontact-after", "0", "--db", db, "--json")  # fmt: skip
    assert pending_before.code == 0, pending_before.err
    when = sent_at(db, job_id)
    log = quiet.app.store.visits
    log.add(visit("6172000000", when["+16172000000"] + 30, answers=("1", "No", "", " 9 ")))
    log.add(visit("6172000001", when["+16172000001"] + 30, answers=("5", "Yes", "", "")))
    rule = "press 9 IF you do not want to receive these calls=9"  # letter case of the question aside
    found = answers(run_cli, db, job_id, "--report", "4242", "--opt-out-when", rule)
    assert found["opted_out"]["added"] == 1
    assert found["opted_out"]["numbers"] == ["+16172000000"]
    listed = run_cli("dnc", "export", "-o", "-", "--db", db).out
    entry = next(r for r in csv.DictReader(io.StringIO(listed)) if r["phone"] == "+16172000000")
    assert entry["list"] == "survey-opt-outs"
    assert f"job {job_id}, report 4242" in entry["source"]
    assert repr(STOP) in entry["source"]
    assert "= ' 9 '" in entry["source"]
    assert "visit 20" in entry["source"]  # when it was said
    assert "+16172000001" not in listed
    # A later job never calls it: its row is suppressed at import, and the job imported earlier
    # finds it listed when it claims the row.
    later = run_cli("import", contacts(tmp_path / "e.csv", 2), "--survey", "4242", "--instance", "1", *ALL_DAY,
                    "--recontact-after", "0", "--db", db, "--json")  # fmt: skip
    assert later.json()["suppressed"] == 1
    for job in (later.json()["job_id"], pending_before.json()["job_id"]):
        done = run_cli("run", str(job), "--rate", "0", "--db", db, "--json")
        assert done.code == 0, done.err
    calls = [c["phone_number"] for c in quiet.app.store.dump()]
    assert calls.count("tel:+16172000000") == 1  # only the first job's call, before the answer
    assert (calls.count("tel:+16172000001"), calls.count("tel:+16172000002")) == (3, 2)
    # Stored on the job: the next fetch opts out again without being told.
    again = answers(run_cli, db, job_id)
    assert again["opted_out"]["rules"] == [f"{STOP}=9"]
    assert again["opted_out"]["added"] == 0


def test_an_opt_out_question_the_report_does_not_have_is_refused_before_anything_is_kept(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    job_id = imported_and_sent(run_cli, db, contacts(tmp_path / "c.csv", 1))
    quiet.app.store.visits.add(visit("6172000000", sent_at(db, job_id)["+16172000000"] + 30))
    for rule, why in (("Stop calling me=9", "names no question"), ("no equals sign", "QUESTION=ANSWER")):
        done = run_cli("answers", str(job_id), "--report", "4242", "--opt-out-when", rule, "--db", db)
        assert done.code == 2, done.out
        assert why in done.err
        assert "Traceback" not in done.err
        if "names no question" in why:
            assert repr(STOP) in done.err  # the questions it could have meant
    assert _query(db, "SELECT count(*) AS n FROM survey_visits")[0]["n"] == 0
    assert run_cli("status", str(job_id), "--db", db, "--json").json()["answers"] == {}


# --- the report's columns --------------------------------------------------------------------------


def test_answer_columns_follow_the_contacts_columns_cannot_collide_and_are_formula_safe(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = sqlite_db(tmp_path)
    point_at(monkeypatch, quiet)
    # The contact list has a column named like a question, and one named like a report column.
    header = ["phone", QUESTIONS[1], "bq_answer: Would you recommend us to a friend?", "note"]
    rows = [header, ["617-200-0000", "their own", "dropped", "=HYPERLINK(1)"], ["617-200-0001", "x", "y", "+1"]]
    job_id = imported_and_sent(run_cli, db, write_csv(tmp_path / "c.csv", rows))
    start = sent_at(db, job_id)["+16172000000"] + 30
    hostile = ("=1+1", "@SUM(A1)", "-2+3\nsecond line", "+9")
    quiet.app.store.visits.add(visit("6172000000", start, answers=hostile))
    assert answers(run_cli, db, job_id, "--report", "4242")["joined"] == 1
    path = tmp_path / "report.csv"
    assert run_cli("export", str(job_id), "-o", path, "--db", db).code == 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    names = table[0]
    asked = [f"bq_answer: {q}" for q in QUESTIONS]
    assert names[: 4 + len(asked) + 3] == ["bq_row", "phone", QUESTIONS[1], "note", *asked,
                                           "bq_visit_start_utc", "bq_visit_completed", "bq_visit_note"]  # fmt: skip
    assert len(set(names)) == len(names)
    cells = dict(zip(names, table[1], strict=True))
    assert [cells[a] for a in asked] == ["'=1+1", "'@SUM(A1)", "'-2+3\nsecond line", "'+9"]
    assert cells[QUESTIONS[1]] == "their own"
    assert cells["note"] == "'=HYPERLINK(1)"
    # The workbook holds the same text, as text (never a formula).
    book = tmp_path / "report.xlsx"
    assert run_cli("export", str(job_id), "-o", book, "--db", db).code == 0
    sheet = openpyxl.load_workbook(book)["Report"]
    values = {c.value: sheet.cell(row=2, column=i + 1).value for i, c in enumerate(sheet[1])}
    assert [values[a] for a in asked] == list(hostile)
    assert all(sheet.cell(row=2, column=names.index(a) + 1).data_type == "s" for a in asked)
    summary = {r[0].value: r[1].value for r in openpyxl.load_workbook(book)["Summary"].iter_rows(min_row=2)}
    assert summary["answers: rows with answers"] == 1
    assert summary["answers: report"] == "4242"
    # JSON: one bq_answers object, exactly as the report wrote them.
    assert report(run_cli, db, job_id)[0]["bq_answers"] == dict(zip(QUESTIONS, hostile, strict=True))
    # What was exported imports back as the contacts it came from (bq_ columns are not read).
    again = run_cli("import", path, "--survey", "4242", "--instance", "2", "--db", db, "--json")
    assert again.code == 0, again.err
    original = [json.loads(r["cells"]) for r in ledger_rows_url(db, job_id)]
    back = [json.loads(r["cells"]) for r in ledger_rows_url(db, int(again.json()["job_id"]))]
    assert back == original


def test_the_key_never_reaches_the_output_the_logs_or_the_ledger(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, quiet: Sandbox
) -> None:
    db = tmp_path / "ledger.db"
    point_at(monkeypatch, quiet)
    job_id = imported_and_sent(run_cli, f"sqlite:///{db}", contacts(tmp_path / "c.csv", 1))
    quiet.app.store.visits.add(visit("6172000000", time.time()))
    done = run_cli("--log-level", "debug", "answers", str(job_id), "--report", "4242", "--db", db)
    assert done.code == 0, done.err
    assert quiet.config.key not in done.out + done.err
    with sqlite3.connect(db) as conn:
        dumped = "\n".join(conn.iterdump())
    assert quiet.config.key not in dumped
    monkeypatch.setenv("BATCHQUEUE_API_KEY", "wrong-key")
    refused = run_cli("answers", str(job_id), "--db", db)
    assert refused.code == 3
    assert "401" in refused.err
    assert "wrong-key" not in refused.err
