"""The answers side of the ledger, one contract on SQLite and on PostgreSQL: visits kept once and
updated, the join's pairs streamed one number at a time across the survey's jobs (and no other
survey's), a job's join replaced whole, and the report's rows read with their visits."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import text

from batchqueue.ledger import Ledger, open_ledger
from batchqueue.ledger.records import KeptVisit
from tests.conftest import write_csv
from tests.sandbox_helpers import ledger_rows_url


def _job(url: str, tmp_path: Path, name: str, survey: str, numbers: list[str]) -> int:
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.service.loading import ImportRequest, import_file
    from batchqueue.settings import Settings

    source = write_csv(tmp_path / name, [["phone"], *[[n] for n in numbers]])
    result = import_file(Settings(db_url=url), ImportRequest(source, MappingSpec(), survey, "1"))
    assert result.job_id is not None
    return result.job_id


def _queue(ledger: Ledger, job_id: int, at: float) -> None:
    """Every row of the job queued, its request sent at ``at`` (as a run would leave it)."""
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE rows SET state = 'queued', call_id = CAST(id AS TEXT) WHERE job_id = :j"), {"j": job_id}
        )
        conn.execute(
            text(
                "INSERT INTO attempts (row_id, job_id, started_at, finished_at, outcome, call_id) "
                "SELECT id, job_id, :at, :at, 'queued', call_id FROM rows WHERE job_id = :j"
            ),
            {"j": job_id, "at": at},
        )


def kept(key: str, e164: str | None, start: float, answers: dict[str, str], kind: str = "outbound") -> KeptVisit:
    return KeptVisit(key, kind, "4242", kind.title(), e164 or "", e164, start, None, "Yes", json.dumps(answers), None)


def test_visits_are_kept_once_and_updated(ledger_url: str) -> None:
    ledger = open_ledger(ledger_url)
    try:
        ledger.keep_visits(
            "77", [kept("a", "+16175550100", 10.0, {"q": "1"}), kept("b", None, 11.0, {}, "web")], fetched_at=1.0
        )
        ledger.keep_visits("77", [kept("a", "+16175550100", 10.0, {"q": "2"})], fetched_at=2.0)
        ledger.keep_visits("78", [kept("a", "+16175550100", 10.0, {"q": "3"})], fetched_at=2.0)
        assert ledger.visit_counts("77") == {"outbound": 1, "web": 1}
        assert list(ledger.outbound_answers("77")) == [("+16175550100", 10.0, '{"q": "2"}')]
    finally:
        ledger.close()


def test_the_join_reads_the_surveys_calls_number_by_number(ledger_url: str, tmp_path: Path) -> None:
    one = _job(ledger_url, tmp_path, "a.csv", "4242", ["617-555-0100", "617-555-0101"])
    two = _job(ledger_url, tmp_path, "b.csv", "4242", ["617-555-0101"])
    other = _job(ledger_url, tmp_path, "c.csv", "9999", ["617-555-0100"])
    ledger = open_ledger(ledger_url)
    try:
        now = time.time()
        for job_id in (one, two, other):
            _queue(ledger, job_id, now - 600)
        ledger.keep_visits(
            "77",
            [kept("x", "+16175550101", now - 60, {"q": "b"}), kept("y", "+16175550100", now - 30, {"q": "a"}),
             kept("z", "+16175550199", now, {"q": "never called"})],
            fetched_at=now,
        )  # fmt: skip
        groups = list(ledger.number_groups(ledger.job(one), "77"))
        assert [g.e164 for g in groups] == ["+16175550100", "+16175550101"]
        assert {c.job_id for c in groups[0].calls.values()} == {one}  # not the other survey's job
        assert sorted(c.job_id for c in groups[1].calls.values()) == [one, two]
        assert all(c.sent_at == now - 600 for g in groups for c in g.calls.values())
        visit_of = {g.e164: g.visits[0].visit_id for g in groups}
        row_of = {r["e164"]: r["id"] for r in ledger_rows_url(ledger_url, one)}
        ledger.replace_answers(one, [(row_of["+16175550100"], visit_of["+16175550100"], None)])
        ledger.replace_answers(
            one, [(row_of["+16175550101"], None, "two calls"), (row_of["+16175550100"], visit_of["+16175550100"], None)]
        )
        found = {r.row_number: v for r, v in ledger.answered_report_rows(one)}
        assert found[2].answers == '{"q": "a"}'
        assert found[2].note is None
        assert found[3].answers is None
        assert found[3].note == "two calls"
        assert [json.loads(a) for a, _ in ledger.joined_answers(one)] == [{"q": "a"}]
        assert list(ledger.joined_answers(two)) == []
        assert [r.row_number for r in ledger.report_rows(one)] == [2, 3]  # the plain report is unchanged
    finally:
        ledger.close()
