"""Every write of ``suppressed`` goes through the one writer, ``ledger/suppress.suppress_rows``,
which is guarded by the lifecycle table and counts what it moved.

The rules that suppress (do-not-call lists, re-contact limits, the job's own cap) each run at import
and in each claim; this drives each of them on a real ledger (SQLite and PostgreSQL), watches every
statement the ledger sends, and finds that each one that makes a row ``suppressed`` is the writer's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Ledger, open_ledger
from batchqueue.ledger.database import write
from batchqueue.ledger.suppress import suppress_rows
from batchqueue.lifecycle import RowState
from tests.conftest import write_csv

WEEK = 7 * 86400
#: The writer's own statement (its batch of (row id, reasons) is the CTE ``s``).
WRITER = "UPDATE rows SET state = 'suppressed', reasons = s.why"


def _people(path: Path, n: int, label: str) -> Path:
    """``n`` people with the numbers (617) 200-0000, -0001, …; another ``label``, another file."""
    return write_csv(path, [["phone", "name"]] + [[f"(617) 200-{i:04d}", f"{label} {i}"] for i in range(n)])


def _e164(i: int) -> str:
    return f"+1617200{i:04d}"


def _import(ledger: Ledger, path: Path, **options: Any) -> int:
    done = import_file(ledger, path, MappingSpec(), survey_id="1", instance_id="1", new_job=True, options=options)
    assert done.job_id is not None
    return done.job_id


def _suppressed(ledger: Ledger, job_id: int) -> list[int]:
    """The row numbers of the job's suppressed rows (the file's data rows count from 2)."""
    query = text("SELECT row_number FROM rows WHERE job_id = :j AND state = 'suppressed' ORDER BY row_number")
    with ledger.engine.connect() as conn:
        return [r[0] - 2 for r in conn.execute(query, {"j": job_id})]


def test_every_rule_suppresses_through_the_one_writer_at_import_and_in_each_claim(
    ledger_url: str, tmp_path: Path
) -> None:
    ledger = open_ledger(ledger_url)
    writes: list[str] = []

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def watch(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sets_suppressed = "'suppressed'" in statement.split(" WHERE ")[0] or "suppressed" in map(
            str, parameters if isinstance(parameters, (list, tuple)) else ()
        )
        if "UPDATE rows" in statement and sets_suppressed:
            writes.append(statement)

    try:
        ledger.add_to_dnc([("optouts", _e164(0))], source="test")
        first = _import(ledger, _people(tmp_path / "a.csv", 6, "A"), recontact_after=WEEK)  # dnc at import
        ledger.add_to_dnc([("optouts", _e164(1))], source="test")
        assert len(ledger.claim(first, 6)) == 4  # dnc in the claim; 2-5 called
        second = _import(ledger, _people(tmp_path / "b.csv", 8, "B"), recontact_after=WEEK)  # re-contact at import
        third = _import(ledger, _people(tmp_path / "c.csv", 8, "C"), recontact_after=WEEK)
        assert len(ledger.claim(second, 8)) == 2  # 6 and 7 called by the second job…
        assert ledger.claim(third, 8) == []  # …so the third's are suppressed in its claim
        fourth = _import(ledger, _people(tmp_path / "d.csv", 8, "D"), max_contacts=[1, WEEK])  # its cap at import

        assert _suppressed(ledger, first) == [0, 1]
        assert _suppressed(ledger, second) == [0, 1, 2, 3, 4, 5]
        assert _suppressed(ledger, third) == list(range(8))
        assert _suppressed(ledger, fourth) == list(range(8))
        assert writes, "no statement made a row suppressed"
        assert [w for w in writes if WRITER not in w] == []
    finally:
        ledger.close()


def test_the_writer_moves_only_rows_the_table_lets_it_and_counts_them(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    try:
        job_id = _import(ledger, _people(tmp_path / "a.csv", len(RowState), "A"))
        with write(ledger.engine) as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM rows WHERE job_id = :j ORDER BY id"), {"j": job_id})]
            for row_id, state in zip(ids, RowState, strict=True):
                conn.execute(text("UPDATE rows SET state = :s WHERE id = :i"), {"s": state.value, "i": row_id})
        with write(ledger.engine) as conn:
            moved = suppress_rows(conn, [(row_id, '[["phone","dnc:test"]]') for row_id in ids], time.time())
            again = suppress_rows(conn, [(row_id, '[["phone","dnc:test"]]') for row_id in ids], time.time())
        counts = ledger.counts(job_id)
    finally:
        ledger.close()
    assert moved == 1  # the one pending row; the row already suppressed and every other state stay
    assert again == 0
    assert counts[RowState.SUPPRESSED.value] == 2
    assert counts[RowState.PENDING.value] == 0
