"""A campaign from a browser only (headless Chromium, a real console, the real sandbox): every field
mapped and each guess undone by one click, a check of a large upload in the background, a dry run
and a test send, numbers that match the ledger, job administration, no sending without a chosen
address; and the CRM export taken from upload to report with every extension and call-after time
honoured, counted by an independent check of the calls the sandbox recorded. Screenshots are saved
under ``test-output/screenshots``."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import time
from pathlib import Path

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from batchqueue.ledger import open_ledger
from tests import realistic_files as files
from tests.conftest import write_csv
from tests.console_helpers import Running, api_session, start_console, stop_console
from tests.e2e import test_console_browser as ui
from tests.e2e.test_console_browser import count, log_in, shot, upload, wait
from tests.sandbox_helpers import contacts

browser = ui.browser  # the fixture: headless Chromium, downloads into the test's folder

NEXT_YEAR = dt.date.today().year + 1


def _import_in_page(b: WebDriver, survey: str = "4242") -> int:
    b.find_element(By.ID, "survey").send_keys(survey)
    b.find_element(By.ID, "instance").send_keys("1")
    b.find_element(By.ID, "import-button").click()
    wait(b, lambda d: "/jobs/" in d.current_url and "/check" not in d.current_url)
    return int(b.current_url.rstrip("/").split("/")[-1])


def _ledger_counts(found: Running, job_id: int) -> dict[str, int]:
    ledger = open_ledger(found.settings.db_url)
    try:
        return ledger.counts(job_id)
    finally:
        ledger.close()


def test_the_check_page_shows_each_guess_and_one_click_undoes_it(
    running: Running, browser: WebDriver, tmp_path: Path
) -> None:
    rows = [
        ["Phone", "Ext.", "Call After", "Name"],
        ["617-555-0101", "x204", f"12/03/{NEXT_YEAR} 09:00", "Ana"],
        ["617-555-0102", "", f"16/12/{NEXT_YEAR} 17:00", "Bo"],
        ["12345", "", "ASAP", "Cy"],
    ]
    log_in(browser, running.url)
    upload(browser, running.url, write_csv(tmp_path / "crm.csv", rows))
    guesses = browser.find_element(By.ID, "guesses").text
    assert "Column Ext. → postd (the extension dialled after the call connects), guessed from its name." in guesses
    assert "Column Call After → start (the earliest time to call), guessed from its name." in guesses
    assert f"as row 3 shows ('16/12/{NEXT_YEAR} 17:00' can only be day/month)" in guesses
    preview = browser.find_element(By.ID, "preview")
    first = preview.find_element(By.CSS_SELECTOR, 'tr[data-row="2"] td.verdict').text
    assert "tel:+16175550101;postd=204" in first
    assert f"start {NEXT_YEAR}-03-12 09:00" in first  # 12 March: the column is day/month
    refused = preview.find_element(By.CSS_SELECTOR, 'tr[data-row="4"]')
    assert "refused" in (refused.get_attribute("class") or "")
    assert "refused: Phone: '12345' has the wrong number of digits for its country" in refused.text
    assert (
        Select(browser.find_element(By.ID, "column_postd")).first_selected_option.text == "Ext. (guessed from its name)"
    )
    shot(browser, "20-check-guesses")

    browser.find_element(By.ID, "undo-postd").click()  # one click
    wait(browser, lambda b: "column_postd=none" in b.current_url)
    assert Select(browser.find_element(By.ID, "column_postd")).first_selected_option.text == "(none)"
    assert "Column Ext." not in browser.find_element(By.ID, "guesses").text
    boxes = {
        b.get_attribute("value"): b.is_selected()
        for b in browser.find_elements(By.CSS_SELECTOR, "#mapping-form input[name=metadata]")
    }
    assert boxes["Ext."] is True  # back to metadata
    verdict = browser.find_element(By.CSS_SELECTOR, '#preview tr[data-row="2"] td.verdict').text
    assert "tel:+16175550101" in verdict
    assert "postd" not in verdict
    shot(browser, "21-check-guess-undone")

    # A field the guesses missed, chosen by hand with the command line's names: the caller id, for every row.
    browser.find_element(By.ID, "default_ani").send_keys("2125550100")
    browser.find_element(By.ID, "check-again").click()
    wait(browser, lambda b: "ani=2125550100" in b.current_url)
    verdict = browser.find_element(By.CSS_SELECTOR, '#preview tr[data-row="3"] td.verdict').text
    assert "tel:+16175550102;ani=2125550100" in verdict
    job_id = _import_in_page(browser)
    ledger = open_ledger(running.settings.db_url)
    try:
        stored = ledger.job(job_id).mapping
    finally:
        ledger.close()
    assert stored["columns"] == {"start": "Call After"}
    assert stored["defaults"]["ani"] == "2125550100"


def test_the_attempts_chosen_in_the_mapping_are_the_import_forms_own_and_can_be_changed_there(
    running: Running, browser: WebDriver, tmp_path: Path
) -> None:
    """Attempts and their wait can be given in the mapping (every field by its name) and in the import
    form beside the caps that count them: the form shows the mapping's value in its one field, and
    what is typed there last is what the job gets (no hidden copy of the mapping's value wins)."""
    log_in(browser, running.url)
    upload(browser, running.url, contacts(tmp_path / "c.csv", 4))
    browser.find_element(By.ID, "default_max_attempts").send_keys("2")
    browser.find_element(By.ID, "default_reattempt_wait").send_keys("600")
    browser.find_element(By.ID, "check-again").click()
    wait(browser, lambda b: "max_attempts=2" in b.current_url)
    for name, value in (("max_attempts", "2"), ("reattempt_wait", "600")):
        fields = browser.find_elements(By.CSS_SELECTOR, f"#import-form input[name={name}]")
        assert [f.get_attribute("value") for f in fields] == [value], name
    attempts = browser.find_element(By.CSS_SELECTOR, "#import-form input[name=max_attempts]")
    attempts.clear()
    attempts.send_keys("3")
    job_id = _import_in_page(browser)
    ledger = open_ledger(running.settings.db_url)
    try:
        stored = ledger.job(job_id).mapping
    finally:
        ledger.close()
    assert (stored["defaults"]["max_attempts"], stored["defaults"]["reattempt_wait"]) == (3, 600)


def test_an_ambiguous_date_column_is_reported_once_and_the_order_chosen_on_the_page(
    running: Running, browser: WebDriver, tmp_path: Path
) -> None:
    rows = [["Phone", "Call After"]] + [[f"617-555-01{i:02d}", f"0{1 + i % 9}/1{i % 3}/{NEXT_YEAR}"] for i in range(12)]
    log_in(browser, running.url)
    upload(browser, running.url, write_csv(tmp_path / "ambiguous.csv", rows))
    error = browser.find_element(By.ID, "check-error").text
    assert error == (
        f"column 'Call After': 12 date(s) such as '01/10/{NEXT_YEAR}' (row 2) read as day/month or month/day, and "
        "no value in the column decides; say --dayfirst or --monthfirst"
    )
    assert not browser.find_elements(By.ID, "import-form")  # nothing can be imported until it is decided
    shot(browser, "22-check-ambiguous-dates")
    Select(browser.find_element(By.ID, "date_order")).select_by_value("monthfirst")
    wait(browser, lambda b: "date_order=monthfirst" in b.current_url)
    assert browser.find_element(By.ID, "count-valid").text == "12"
    verdict = browser.find_element(By.CSS_SELECTOR, '#preview tr[data-row="2"] td.verdict').text
    assert f"start {NEXT_YEAR}-01-10 00:00" in verdict  # January 10th: month first


def test_a_large_upload_is_checked_in_the_background_and_the_page_stays_usable(
    browser: WebDriver, tmp_path: Path
) -> None:
    found = start_console(tmp_path, max_upload=40 * 1024 * 1024)
    try:
        big = contacts(tmp_path / "big.csv", 400_000)
        assert big.stat().st_size > found.console.ctx.check_in_background_from  # 1 MiB, the default
        log_in(browser, found.url)
        browser.get(found.url + "/upload")
        browser.find_element(By.ID, "file").send_keys(str(big))
        browser.find_element(By.ID, "upload-button").click()
        wait(browser, lambda b: "/check" in b.current_url, 60)
        assert "Reading the file" in browser.find_element(By.ID, "check-progress").text  # at once, not at the end
        shot(browser, "23-check-in-the-background")
        check_url = browser.current_url
        browser.find_element(By.LINK_TEXT, "Jobs").click()  # the rest of the console answers meanwhile
        wait(browser, lambda b: b.current_url.endswith("/jobs"))
        assert found.console.ctx.checks._runs  # still going, or done
        browser.get(check_url)  # the same check, going on or done: not started again
        wait(browser, lambda b: b.find_elements(By.ID, "count-valid"), 180)
        assert browser.find_element(By.ID, "count-valid").text == "400,000"
        assert len(found.console.ctx.checks._runs) == 1
        shot(browser, "24-check-done-in-the-background")
    finally:
        stop_console(found)


def test_a_dry_run_then_a_test_send_of_3_rows_then_the_rest(
    running: Running, browser: WebDriver, tmp_path: Path
) -> None:
    rows = [["Phone", "Ext.", "Call After"]] + [
        [f"617-555-{100 + i:04d}", str(200 + i) if i < 2 else "", f"2{i % 7}/12/{NEXT_YEAR} 15:00"] for i in range(10)
    ]
    log_in(browser, running.url)
    upload(browser, running.url, write_csv(tmp_path / "ten.csv", rows))
    job_id = _import_in_page(browser)
    assert "Sends to http://127.0.0.1:" in browser.find_element(By.ID, "target").text

    browser.find_element(By.ID, "dry-run-button").click()
    wait(browser, lambda b: "/dry-run" in b.current_url)
    shown = browser.find_element(By.ID, "dry-run").text
    assert "nothing was sent, nothing changed" in shown
    assert "phone_number tel:+16175550100;postd=200" in shown
    expected = int(dt.datetime(NEXT_YEAR, 12, 20, 15, 0, tzinfo=dt.UTC).timestamp())  # 10:00 in Boston
    assert f"start_timestamp {expected}" in shown
    assert "end_timestamp" in shown  # the window's end, as the claim would send it
    assert "Row 4 " in shown
    assert "Row 5 " not in shown  # three rows (2, 3 and 4, as the spreadsheet numbers them)
    assert running.sandbox.app.store.dump() == []
    assert _ledger_counts(running, job_id)["pending"] == 10
    shot(browser, "25-dry-run")

    browser.find_element(By.LINK_TEXT, "Back to the job").click()
    wait(browser, lambda b: b.current_url.endswith(f"/jobs/{job_id}"))
    browser.find_element(By.ID, "test-send-button").click()
    assert running.console.ctx.supervisor.wait(job_id, 60) == 0
    calls = running.sandbox.app.store.dump()
    assert [c["phone_number"] for c in calls] == [
        "tel:+16175550100;postd=200",
        "tel:+16175550101;postd=201",
        "tel:+16175550102",
    ]
    assert calls[0]["fields"]["start_timestamp"] == str(expected)
    browser.refresh()
    wait(browser, lambda b: count(b, "queued") == 3)
    assert count(browser, "pending") == 7
    assert browser.find_element(By.CSS_SELECTOR, '[data-progress="sent"]').text == "3"
    assert browser.find_element(By.CSS_SELECTOR, '[data-progress="left"]').text == "7"
    assert "test send of 3 row(s)" in browser.find_element(By.ID, "audit").text
    shot(browser, "26-test-send-of-3")

    browser.find_element(By.ID, "start-button").click()
    wait(browser, lambda b: count(b, "queued") == 10, 60)
    assert running.console.ctx.supervisor.wait(job_id, 60) == 0
    assert len(running.sandbox.app.store.dump()) == 10
    counts = _ledger_counts(running, job_id)
    for state in ("queued", "pending", "failed", "uncertain"):
        assert count(browser, state) == counts[state]


def test_the_jobs_list_pages_and_filters_and_a_job_is_edited_archived_and_deleted(
    browser: WebDriver, tmp_path: Path
) -> None:
    running = start_console(tmp_path, complete_after=None)  # calls queued stay open (no outcome comes)
    try:
        _administer(running, browser, tmp_path)
    finally:
        stop_console(running)


def _administer(running: Running, browser: WebDriver, tmp_path: Path) -> None:
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.service.loading import ImportRequest, import_file

    for i in range(27):
        file = contacts(tmp_path / f"list-{i:02d}.csv", 2, first=10 * i)
        import_file(running.settings, ImportRequest(file, MappingSpec(), "4242", "1"))
    log_in(browser, running.url)
    assert browser.find_element(By.ID, "jobs-pager").text.startswith("page 1 of 2 (27 jobs)")
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr[data-job]")) == 25
    assert browser.find_element(By.CSS_SELECTOR, "tr[data-job]").get_attribute("data-job") == "27"  # newest first
    browser.find_element(By.ID, "jobs-next").click()
    wait(browser, lambda b: "page=1" in b.current_url)
    assert [r.get_attribute("data-job") for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-job]")] == ["2", "1"]
    shot(browser, "27-jobs-page-2")

    browser.get(f"{running.url}/jobs/1")
    browser.find_element(By.ID, "edit-survey").clear()
    browser.find_element(By.ID, "edit-survey").send_keys("4243")
    browser.find_element(By.ID, "edit-button").click()
    wait(browser, lambda b: "now sends to survey 4243 instance 1" in b.page_source)
    assert "survey 4243 / instance 1" in browser.find_element(By.CSS_SELECTOR, ".heading .sub").text
    assert "edit" in browser.find_element(By.ID, "audit").text

    browser.find_element(By.ID, "archive-button").click()
    wait(browser, lambda b: b.find_elements(By.ID, "archived"))
    assert browser.find_element(By.ID, "start-button").get_attribute("disabled") is not None
    browser.get(f"{running.url}/jobs")
    assert browser.find_element(By.ID, "show-current").text == "current (26)"
    assert browser.find_element(By.ID, "show-archived").text == "archived (1)"
    browser.find_element(By.ID, "show-archived").click()
    wait(browser, lambda b: "show=archived" in b.current_url)
    assert [r.get_attribute("data-job") for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-job]")] == ["1"]
    shot(browser, "28-jobs-archived")

    browser.get(f"{running.url}/jobs/2")
    browser.find_element(By.ID, "test-send-button").click()
    assert running.console.ctx.supervisor.wait(2, 60) == 0  # its 2 calls are queued, no outcome yet
    browser.get(f"{running.url}/jobs/2/delete")
    question = browser.find_element(By.ID, "question").text
    assert question.startswith("job 2 has 2 call(s) queued in Insight without a final outcome")
    shot(browser, "29-delete-confirm")
    browser.find_element(By.ID, "delete-confirm").click()
    browser.find_element(By.ID, "confirm-delete").click()
    wait(browser, lambda b: b.current_url.endswith("/jobs"))
    assert "Job 2 (list-01.csv, 2 rows) deleted" in browser.page_source
    assert "current (25)" in browser.find_element(By.ID, "show-current").text
    browser.get(f"{running.url}/jobs/2")
    assert "was deleted on" in browser.find_element(By.ID, "error-message").text


def test_a_console_with_no_chosen_address_says_so_and_sends_nothing(browser: WebDriver, tmp_path: Path) -> None:
    from dataclasses import replace

    found = start_console(tmp_path)
    found.console.ctx.settings = replace(found.settings, base_url=None)
    found.console.ctx.supervisor.settings = found.console.ctx.settings
    try:
        from batchqueue.intake.mapping.spec import MappingSpec
        from batchqueue.service.loading import ImportRequest, import_file

        import_file(found.settings, ImportRequest(contacts(tmp_path / "c.csv", 3), MappingSpec(), "4242", "1"))
        log_in(browser, found.url)
        browser.get(f"{found.url}/jobs/1")
        said = browser.find_element(By.ID, "target").text
        assert said.startswith("no Insight address chosen: nothing is sent until you say where.")
        assert browser.find_element(By.ID, "start-button").get_attribute("disabled") is not None
        assert browser.find_element(By.ID, "test-send-button").get_attribute("disabled") is not None
        shot(browser, "30-no-address-chosen")
        session, token = api_session(found.url)
        refused = session.post(f"{found.url}/api/jobs/1/start", json={}, headers={"X-CSRFToken": token}, timeout=10)
        assert refused.status_code == 400
        assert refused.json()["error"].startswith("no Insight address chosen")
        assert found.sandbox.app.store.dump() == []
        assert found.console.ctx.supervisor.run_of(1) is None
    finally:
        stop_console(found)


def test_the_crm_campaign_from_upload_to_report_in_a_browser(browser: WebDriver, tmp_path: Path) -> None:
    """The "done when" of issue 24: the CRM export, by a person with only a browser."""
    found = start_console(tmp_path, complete_after=0.5)
    try:
        book = tmp_path / "northwind-campaign.xlsx"
        truth = files.crm_campaign_workbook(book, dt.datetime.now(dt.UTC))
        log_in(browser, found.url)
        upload(browser, found.url, book)
        assert browser.find_element(By.ID, "header-row").text == str(files.CAMPAIGN_HEADER_ROW)
        assert browser.find_element(By.ID, "count-valid").text == "1,800"
        assert browser.find_element(By.ID, "count-invalid").text == str(files.CAMPAIGN_INVALID)
        guesses = browser.find_element(By.ID, "guesses").text
        assert "Column Ext. → postd" in guesses
        assert "Column Call After → start" in guesses
        assert "dates in column 'Call After' read day/month/year" in guesses
        assert f"{files.CAMPAIGN_ASAP} row(s) say ASAP or now" in guesses
        shot(browser, "31-campaign-check")
        job_id = _import_in_page(browser)
        assert count(browser, "pending") == files.CAMPAIGN_VALID

        browser.find_element(By.ID, "dry-run-button").click()
        wait(browser, lambda b: "/dry-run" in b.current_url)
        assert len(browser.find_elements(By.CSS_SELECTOR, "table.request")) == 3
        assert not found.sandbox.app.store.dump()
        shot(browser, "32-campaign-dry-run")
        browser.find_element(By.LINK_TEXT, "Back to the job").click()
        wait(browser, lambda b: b.current_url.endswith(f"/jobs/{job_id}"))

        browser.find_element(By.ID, "test-send-button").click()  # 3 rows first
        assert found.console.ctx.supervisor.wait(job_id, 60) == 0
        assert len(found.sandbox.app.store.dump()) == 3
        browser.refresh()
        wait(browser, lambda b: count(b, "queued") == 3)
        assert count(browser, "pending") == files.CAMPAIGN_VALID - 3
        shot(browser, "33-campaign-test-send")

        browser.find_element(By.NAME, "rate").send_keys("400")
        browser.find_element(By.ID, "start-button").click()
        wait(browser, lambda b: count(b, "pending") == 0 and count(b, "sending") == 0, 300)
        assert found.console.ctx.supervisor.wait(job_id, 60) == 0
        browser.refresh()
        counts = _ledger_counts(found, job_id)
        for state, n in counts.items():  # the page's numbers are the ledger's
            assert count(browser, state) == n, state
        assert browser.find_element(By.CSS_SELECTOR, '[data-progress="sent"]').text == "1,800"
        shot(browser, "34-campaign-sent")

        calls = found.sandbox.app.store.dump()
        check = files.campaign_check(calls, truth)
        assert check.calls == files.CAMPAIGN_VALID
        assert check.valid_called == files.CAMPAIGN_VALID  # every valid contact called
        assert check.numbers_called_twice == 0  # exactly once
        assert check.not_valid_called == 0
        assert (check.with_extension, check.wrong_extension) == (files.CAMPAIGN_EXTENSIONS, 0)
        assert (check.dated, check.wrong_start) == (files.CAMPAIGN_DATED, 0)

        browser.find_element(By.ID, "report-csv").click()
        report = browser.downloads / f"job-{job_id}-report.csv"  # type: ignore[attr-defined]
        wait(browser, lambda b: report.exists() and report.stat().st_size > 0, 60)
        time.sleep(0.3)
        with report.open(encoding="utf-8-sig", newline="") as f:
            states = [r["bq_state"] for r in csv.DictReader(f)]
        assert states.count("queued") == files.CAMPAIGN_VALID
        assert states.count("invalid") == files.CAMPAIGN_INVALID
        with sqlite3.connect(found.settings.db_url.removeprefix("sqlite:///")) as conn:
            ext_rows = conn.execute("SELECT count(*) FROM rows WHERE phone_number LIKE '%;postd=%'").fetchone()[0]
        assert ext_rows == files.CAMPAIGN_EXTENSIONS
        assert requests.get(found.url + "/health", timeout=10).status_code in (200, 404)
    finally:
        stop_console(found)
