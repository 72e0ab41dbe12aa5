"""The console's HTTP status for a refused action is decided beside the exit code, once.

The expected statuses are HTTP's own meanings (RFC 9110, ``http.HTTPStatus``): a job that does not
exist is Not Found, the user's own mistake is a Bad Request, and a failure behind the console
(Insight, the disk, the database) is a Bad Gateway — never a 500, which would say the console is broken.
"""

from __future__ import annotations

import sqlite3
from http import HTTPStatus

import pytest

from batchqueue.errors import (
    ApiUnavailableError,
    BatchFatalError,
    EnvironmentFailure,
    HeaderError,
    InvalidValue,
    JobNotFoundError,
    LedgerBusyError,
    UsageError,
)
from batchqueue.exits import http_status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (JobNotFoundError("no job 7"), HTTPStatus.NOT_FOUND),
        (UsageError("--max-attempts must be 1-10"), HTTPStatus.BAD_REQUEST),
        (HeaderError("contacts.csv", "duplicate column Phone"), HTTPStatus.BAD_REQUEST),
        (InvalidValue("not a number"), HTTPStatus.BAD_REQUEST),
        (LedgerBusyError("another run holds the job"), HTTPStatus.BAD_REQUEST),
        (BatchFatalError("Insight answered 401"), HTTPStatus.BAD_GATEWAY),
        (ApiUnavailableError("Insight unreachable"), HTTPStatus.BAD_GATEWAY),
        (EnvironmentFailure("disk full"), HTTPStatus.BAD_GATEWAY),
        (sqlite3.OperationalError("disk I/O error"), HTTPStatus.BAD_GATEWAY),
    ],
)
def test_http_status_of_each_kind_of_failure(error: BaseException, status: HTTPStatus) -> None:
    assert http_status_for(error) == status
