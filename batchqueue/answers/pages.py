"""Every page of a saved survey report, read through the Insight client that ``run`` uses.

``GET /report/{report_id}`` is documented to take ``limit`` (1–10,000; 500 when not given),
``offset``, and ``start_timestamp`` with ``end_timestamp`` (unix seconds, both or neither), to
answer ``text/csv`` newest visit first, and to say ``X-Plum-Total-Rows``, ``X-Plum-Returned-Rows``,
``X-Plum-Row-Offset`` and ``X-Plum-Row-Limit``. Pages are asked for one after the other, paced,
each retried on what proves nothing (no connection, 429 with its Retry-After, a 5xx or a timeout:
a GET changes nothing, so unlike a queue request it is safe to ask again). Paging ends at a page
shorter than asked for, or once the offset reaches the total the server gave. A visit that arrives
while the pages are read pushes older ones down a row: some are then read twice, none are missed
(the ledger keeps each visit once).

The next page is asked for while one is read (so at most two pages, 10,000 visits each, are in
memory, whatever the report's size).

Usage::

    for fetched in ReportPages(client, "77", since=1796000000, until=1796600000):
        fetched.offset, fetched.page.visits, fetched.total
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from batchqueue.answers.report import Page, ReportFormatError, read_page
from batchqueue.errors import ApiUnavailableError, BatchFatalError, UsageError
from batchqueue.insight.client import InsightClient
from batchqueue.insight.pacing import Pacer
from batchqueue.insight.replies import Reply, ReplyKind
from batchqueue.insight.retry import RETRYABLE, RetryPolicy, send_with_retries

#: The documented bounds of ``limit``.
MAX_PAGE, DEFAULT_PAGE = 10_000, 10_000
#: A report is read to its end, but never past this many rows (a server that never says "last page").
MAX_REPORT_ROWS = 50_000_000
#: A GET changes nothing on the server: what may or may not have reached it is asked for again.
SAFE_TO_REPEAT = RETRYABLE | {ReplyKind.AMBIGUOUS}


@dataclass
class Fetched:
    """One page: where it starts in the report, what it holds, and what the server said of it."""

    offset: int
    page: Page
    returned: int  # rows the server says it returned (else the records read)
    total: int | None  # X-Plum-Total-Rows, if given


def _header_int(headers: dict[str, str], name: str) -> int | None:
    value = headers.get(name.lower(), "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


class ReportPages:
    """The pages of one report (see the module docstring); iterate once."""

    def __init__(
        self,
        client: InsightClient,
        report_id: str,
        *,
        since: int,
        until: int,
        page_size: int = DEFAULT_PAGE,
        pacer: Pacer | None = None,
        policy: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        on_attempt: Callable[[Reply], None] | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise UsageError(f"--page-size {page_size}: Insight takes 1 to {MAX_PAGE:,} rows a page")
        self.client, self.report_id = client, report_id
        self.since, self.until, self.page_size = since, until, page_size
        self.pacer = pacer or Pacer(2.0)
        self.policy = policy or RetryPolicy()
        self.stop = stop
        self.on_attempt = on_attempt or (lambda reply: None)
        self.requests = 0

    def _more(self, offset: int, returned: int, total: int | None) -> bool:
        """Whether a page after this one is to be asked for."""
        return returned >= self.page_size and (total is None or offset + returned < total)

    def _get(self, offset: int) -> tuple[str, dict[str, str]]:
        params = [
            ("limit", str(self.page_size)),
            ("offset", str(offset)),
            ("start_timestamp", str(self.since)),
            ("end_timestamp", str(self.until)),
        ]
        got: dict[str, tuple[str, dict[str, str]]] = {}

        def send() -> Reply:
            self.requests += 1
            reply, text, headers = self.client.report_page(self.report_id, params)
            got["page"] = (text, headers)
            return reply

        reply = send_with_retries(
            send, self.policy, self.pacer, on_attempt=self.on_attempt, stop=self.stop, retryable=SAFE_TO_REPEAT
        )
        if reply.kind is ReplyKind.QUEUED:
            self.pacer.recovered()
            return got["page"]
        where = f"report {self.report_id}, rows from {offset + 1:,}"
        if self.stop is not None and self.stop.is_set():
            raise KeyboardInterrupt
        if reply.kind is ReplyKind.FATAL:
            raise BatchFatalError(f"Insight refused to give {where}: {reply.error}", status=reply.status)
        if reply.kind is ReplyKind.REJECTED:
            raise UsageError(f"Insight refused the request for {where}: {reply.error}")
        raise ApiUnavailableError(
            f"{where} could not be read after {self.policy.attempts} tries: {reply.error}", status=reply.status
        )

    def __iter__(self) -> Iterator[Fetched]:
        # The next page is asked for while this one is read and kept (at most two in memory).
        with ThreadPoolExecutor(1, thread_name_prefix="report-page") as pool:
            offset = 0
            coming = pool.submit(self._get, offset)
            previous: tuple[object, object] | None = None
            while offset < MAX_REPORT_ROWS:
                text, headers = coming.result()
                said_offset = _header_int(headers, "X-Plum-Row-Offset")
                if said_offset is not None and said_offset != offset:
                    raise BatchFatalError(
                        f"report {self.report_id}: asked for the rows from offset {offset:,}, Insight answered "
                        f"those from offset {said_offset:,}; paging cannot go on"
                    )
                total = _header_int(headers, "X-Plum-Total-Rows")
                said = _header_int(headers, "X-Plum-Returned-Rows")
                said = said if said is not None and 0 < said <= self.page_size else None
                more = said is not None and self._more(offset, said, total)
                if more:
                    coming = pool.submit(self._get, offset + (said or 0))
                try:
                    page = read_page(text) if text.strip() else None
                except ReportFormatError as exc:
                    raise BatchFatalError(f"report {self.report_id}, rows from {offset + 1:,}: {exc}") from None
                if page is None or page.lines == 0:
                    return
                ends = (page.visits[0], page.visits[-1]) if page.visits else None
                if ends is not None and ends == previous:
                    raise BatchFatalError(
                        f"report {self.report_id}: the page from offset {offset:,} repeats the one before it "
                        "(the server ignores offset); paging cannot go on"
                    )
                previous = ends
                returned = said if said is not None else page.lines
                if said is None:  # no header: the records read decide
                    more = self._more(offset, returned, total)
                    if more:
                        coming = pool.submit(self._get, offset + returned)
                yield Fetched(offset, page, returned, total)
                if not more:
                    return
                offset += returned
        raise BatchFatalError(f"report {self.report_id}: more than {MAX_REPORT_ROWS:,} rows; narrow it with --since")
