"""Survey answers in the web console, in a real browser (headless Chromium through Selenium), against
a real console and the real sandbox: send a job, fetch the survey's answers from its page, see them
charted, and download them in the report. Skipped without Chromium, except where
``BATCHQUEUE_REQUIRE_BROWSER=1``; screenshots go to ``test-output/screenshots`` like the others.
"""

from __future__ import annotations

import csv
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from batchqueue.sandbox.reports import QUESTIONS
from tests.console_helpers import Running
from tests.e2e.test_console_browser import _import, browser, count, log_in, shot, wait
from tests.sandbox_helpers import contacts

__all__ = ["browser"]  # the fixture, used by name


def test_fetch_answers_chart_them_and_download_them(running: Running, browser: WebDriver) -> None:
    job_id = _import(running, contacts(running.console.ctx.upload_dir.parent / "survey.csv", 12))
    log_in(browser, running.url)
    browser.get(f"{running.url}/jobs/{job_id}")
    assert "No answers yet" in browser.find_element(By.ID, "answers").text
    browser.find_element(By.ID, "start-button").click()
    wait(browser, lambda b: count(b, "queued") == 12, 60)
    assert running.console.ctx.supervisor.wait(job_id, 60) == 0
    deadline = time.monotonic() + 30
    while any(c["status"] == "queued" for c in running.sandbox.app.store.dump()) and time.monotonic() < deadline:
        time.sleep(0.1)
    calls = running.sandbox.app.store.dump()
    completed = {c["phone_number"].removeprefix("tel:") for c in calls if c["status"] == "completed"}
    assert completed

    browser.refresh()
    field = browser.find_element(By.ID, "report-id")
    field.clear()
    field.send_keys("4242")
    browser.find_element(By.ID, "answers-button").click()
    wait(browser, lambda b: "now have answers" in b.page_source, 60)
    status = browser.find_element(By.ID, "answers-status").text
    assert f"{len(completed)} row(s) with answers" in status
    charts = browser.find_elements(By.CSS_SELECTOR, ".answer-chart")
    assert [c.get_attribute("data-question") for c in charts] == QUESTIONS[:4]
    first = charts[0].find_elements(By.CSS_SELECTOR, "rect.bar")
    assert first
    assert "answers" in browser.find_element(By.ID, "audit").text
    assert running.settings.api_key.reveal() not in browser.page_source
    shot(browser, "10-job-answers")

    # The report stored on the job: the form shows it, and fetching again needs nothing typed.
    assert browser.find_element(By.ID, "report-id").get_attribute("value") == "4242"
    browser.find_element(By.ID, "report-csv").click()
    report = browser.downloads / f"job-{job_id}-report.csv"  # type: ignore[attr-defined]
    wait(browser, lambda b: report.exists() and report.stat().st_size > 0, 30)
    time.sleep(0.3)
    with report.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    asked = f"bq_answer: {QUESTIONS[1]}"
    for row in rows:
        answered = row[asked] in ("Yes", "No")
        assert answered == (row["bq_phone_sent"].removeprefix("tel:") in completed), row
