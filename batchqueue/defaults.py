"""Every default of batchqueue, defined once (as httpx keeps its defaults in one ``_config``).

Usage::

    from batchqueue.defaults import DEFAULTS
    rate = DEFAULTS.rate
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defaults:
    """The value each option has when nobody says otherwise."""

    # Where things are
    db: str = "batchqueue.db"
    # Seconds a command that writes may spend checking an SQLite ledger for damage (quick_check).
    ledger_check_seconds: float = 2.0
    base_url: str = "https://insight.plumvoice.com/api"
    profile_file_max_bytes: int = 256 * 1024  # a profile file holds a few lines; a bigger one is not one
    key_file_max_bytes: int = 4096  # a key file holds only the key
    # Reading and mapping
    region: str = "US"
    timezone: str = "UTC"
    max_problems: int = 20
    #: The memory a process reading one workbook may use on top of what it had (see intake/sheets/ceiling).
    workbook_memory_mb: int = 1024
    # Sending. Insight warns that looping its API too fast makes all calls fail: a polite pace.
    rate: float = 5.0
    concurrency: int = 4
    breaker: int = 10
    retries: int = 6
    resend_limit: int = 3
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    lease_ttl: float = 60.0
    #: Seconds a worker that lost its ledger keeps trying to write what became of its rows
    #: (sent with this reply / never sent) before it gives up and exits (``run --ledger-wait``).
    ledger_wait: float = 300.0
    # Outcomes
    poll_interval: float = 60.0
    poll_deadline: float = 3600.0
    poll_concurrency: int = 4
    poll_rate: float = 5.0
    reconcile_grace: float = 3600.0
    # Survey answers (Insight's saved survey report)
    report_page_size: int = 10_000  # the documented maximum rows of one page
    report_rate: float = 2.0  # pages a second
    report_timezone: str = "UTC"  # the zone of Start/End (undocumented: an assumption, configurable)
    #: Seconds Insight's clock (and the report's rounding) may differ from this machine's.
    answer_slack: float = 60.0
    opt_out_list: str = "survey-opt-outs"
    # Logging
    log_level: str = "info"
    log_format: str = "text"
    # Serving
    serve_host: str = "127.0.0.1"
    serve_port: int = 8080
    serve_threads: int = 16
    sandbox_port: int = 8099
    sandbox_user: str = "demo@example.com"
    sandbox_key: str = "sandbox-key"
    sandbox_threads: int = 48
    sandbox_outcomes: str = "completed=0.8,failed=0.1,rejected=0.1"
    sandbox_callback_encoding: str = "form"
    # The web console
    console_port: int = 8088
    console_max_upload_mb: int = 200
    console_concurrency: int = 4
    console_background_check_bytes: int = 1024 * 1024  # a larger upload is checked in the background
    console_keep_files_days: int = 30  # uploads and run logs older than this are cleaned
    console_jobs_page: int = 25  # jobs on one page of the console's list
    console_test_send_rows: int = 3
    on_ambiguous: str = "hold"
    # Calling rules, in each contact's own local time
    calling_hours: str = "08:00-21:00"
    calling_days: str = "all"
    #: A window opening later than this (seconds) holds the row with --hold-until-window.
    hold_grace: float = 60.0
    # Re-contact protection across jobs: a number any job of the ledger called within this many
    # seconds is not called by a new job (0, ``off``: not even between jobs of the same file)
    recontact_after: int = 7 * 86400


DEFAULTS = Defaults()
