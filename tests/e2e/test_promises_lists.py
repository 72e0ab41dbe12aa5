"""Do-not-call lists, as a user reads the report (issue 20, mutation pass on ``ledger/suppress.py``).

A row a list bars is ``suppressed`` with a reason that names the column its number came from, so
the report points at the cell to look at. Tests that all used a column called "phone" could not
tell the job's own column from a fallback, nor one job's column from another's.
"""

from __future__ import annotations

import json
from pathlib import Path

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
from batchqueue.periods import OFF
from batchqueue.service import dnc
from batchqueue.settings import Settings
from tests.conftest import write_csv
from tests.sandbox_helpers import ledger_rows_url


def _reasons(url: str, job_id: int) -> dict[int, tuple[str, object]]:
    return {
        r["row_number"]: (r["state"], json.loads(r["reasons"]) if r["reasons"] else None)
        for r in ledger_rows_url(url, job_id)
    }


def test_a_listed_number_is_suppressed_naming_each_jobs_own_phone_column(ledger_url: str, tmp_path: Path) -> None:
    """Two jobs, their numbers in columns of different names; the numbers are listed after the
    imports, so each claim bars them: each reason names the column of that job's own file."""
    first = write_csv(tmp_path / "a.csv", [["Phone", "name"], ["617-200-0001", "A"], ["617-200-0002", "B"]])
    second = write_csv(tmp_path / "b.csv", [["name", "Mobile number"], ["C", "617-200-0003"], ["D", "617-200-0004"]])
    ledger = open_ledger(ledger_url)
    try:
        jobs = [
            import_file(ledger, path, MappingSpec(), survey_id="1", instance_id="1", options={"recontact_after": OFF})
            for path in (first, second)
        ]
        assert [j.valid for j in jobs] == [2, 2]
        settings = Settings.from_env({}, db=ledger_url)
        assert dnc.add(settings, "complaints", ["617-200-0001", "617-200-0004"]).added == 2
        for job in jobs:
            assert job.job_id is not None
            assert len(ledger.settle(job.job_id, [], [], 10).claimed) == 1
    finally:
        ledger.close()
    assert jobs[0].job_id is not None
    assert jobs[1].job_id is not None
    assert _reasons(ledger_url, jobs[0].job_id)[2] == ("suppressed", [["Phone", "dnc:complaints"]])
    assert _reasons(ledger_url, jobs[1].job_id)[3] == ("suppressed", [["Mobile number", "dnc:complaints"]])
