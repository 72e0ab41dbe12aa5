"""Survey answers through the console's JSON API: a script fetches them (CSRF token required), gets
the ``answers --json`` object back, and sees them in the job's JSON; a job without a report is
refused with the fix, never a 500."""

from __future__ import annotations

import time

import requests

from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.sending import RunRequest, run
from tests.console_helpers import Running, api_session
from tests.sandbox_helpers import contacts


def test_a_script_fetches_answers_through_the_api(running: Running) -> None:
    source = contacts(running.console.ctx.upload_dir.parent / "few.csv", 8)
    job_id = import_file(running.settings, ImportRequest(source, MappingSpec(), "4242", "1")).job_id
    assert job_id is not None
    session, token = api_session(running.url)
    refused = session.post(f"{running.url}/api/jobs/{job_id}/answers", json={}, headers={"X-CSRFToken": token})
    assert refused.status_code == 400
    assert "give --report REPORT_ID" in refused.json()["error"]
    run(running.settings, RunRequest(job_id, rate=0))
    deadline = time.monotonic() + 20
    while any(c["status"] == "queued" for c in running.sandbox.app.store.dump()) and time.monotonic() < deadline:
        time.sleep(0.1)
    completed = sum(c["status"] == "completed" for c in running.sandbox.app.store.dump())
    url = f"{running.url}/api/jobs/{job_id}/answers"
    assert (
        requests.post(url, json={"report": "4242"}, cookies=session.cookies, timeout=10).status_code == 400
    )  # no CSRF
    done = session.post(url, json={"report": "4242"}, headers={"X-CSRFToken": token}, timeout=60)
    assert done.status_code == 200, done.text
    assert (done.json()["report_id"], done.json()["joined"]) == ("4242", completed)
    job = session.get(f"{running.url}/api/jobs/{job_id}", timeout=10).json()
    assert job["answers"]["counts"]["joined"] == completed
    assert job["answers"]["report_id"] == "4242"
    assert running.settings.api_key.reveal() not in done.text + str(job)
