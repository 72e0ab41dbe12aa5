"""Why a command ended, and the exit code each reason means: defined once, used by every front end.

Usage::

    code = EXIT_CODES[ExitReason.FATAL_REPLY]          # 3
    code = exit_code_for(error)                         # for an exception
    status = http_status_for(error)                     # the console's reply to the same exception
"""

from __future__ import annotations

import sqlite3
import sys
from enum import StrEnum

from batchqueue.errors import (
    ApiUnavailableError,
    BatchFatalError,
    BatchqueueError,
    EnvironmentFailure,
    JobNotFoundError,
)


class ExitReason(StrEnum):
    """Why a run (or a poll) ended; the value is the ``exit_reason`` of ``--json``."""

    DONE = "done"  # everything it could do is done (some rows may have failed: see ``finished_code``)
    FATAL_REPLY = "fatal_reply"  # 401 403 404 405 409 415 or a redirect: the whole batch stops
    UNREACHABLE = "unreachable"  # Insight never answered (or kept answering 429) after every retry
    CIRCUIT_BREAKER = "circuit_breaker"  # too many ambiguous replies in a row
    LEDGER_LOST = "ledger_lost"  # the worker could no longer renew its leases in the ledger
    INTERNAL_ERROR = "internal_error"  # a bug in a sending thread
    DEADLINE = "deadline"  # poll --until-final: still open when the deadline passed
    NO_READABLE_REPLY = "no_readable_reply"  # poll: every status reply was unreadable or failed
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM: resumable


EXIT_OK, EXIT_FINISHED_WITH_PROBLEMS, EXIT_USAGE = 0, 1, 2
EXIT_FATAL_REPLY, EXIT_UNAVAILABLE, EXIT_ENVIRONMENT = 3, 4, 5
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130

EXIT_CODES: dict[ExitReason, int] = {
    ExitReason.DONE: EXIT_OK,
    ExitReason.FATAL_REPLY: EXIT_FATAL_REPLY,
    ExitReason.UNREACHABLE: EXIT_UNAVAILABLE,
    ExitReason.CIRCUIT_BREAKER: EXIT_UNAVAILABLE,
    ExitReason.LEDGER_LOST: EXIT_ENVIRONMENT,
    ExitReason.INTERNAL_ERROR: EXIT_INTERNAL,
    ExitReason.DEADLINE: EXIT_FINISHED_WITH_PROBLEMS,
    ExitReason.NO_READABLE_REPLY: EXIT_UNAVAILABLE,
    ExitReason.INTERRUPTED: EXIT_INTERRUPTED,
}


#: ``--json``'s ``error.reason`` for the exit code of a command that failed before it had a result.
FAILURE_REASONS: dict[int, str] = {
    EXIT_USAGE: "usage",
    EXIT_FATAL_REPLY: "fatal_reply",
    EXIT_UNAVAILABLE: "unavailable",
    EXIT_ENVIRONMENT: "environment",
    EXIT_INTERNAL: "internal_error",
    EXIT_INTERRUPTED: "interrupted",
}


def failure_reason(code: int) -> str:
    """The word ``--json`` gives for a failure's exit code (see :data:`FAILURE_REASONS`)."""
    return FAILURE_REASONS.get(code, "failed")


def is_database_error(error: BaseException) -> bool:
    """A database driver's error, as SQLAlchemy wraps it (checked without importing SQLAlchemy)."""
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.DBAPIError)


def exit_code_for(error: BaseException) -> int:
    """The documented exit code of an exception that ended a command."""
    if isinstance(error, BatchFatalError):
        return EXIT_FATAL_REPLY
    if isinstance(error, ApiUnavailableError):
        return EXIT_UNAVAILABLE
    if isinstance(error, (EnvironmentFailure, sqlite3.Error, OSError)) or is_database_error(error):
        return EXIT_ENVIRONMENT
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, BatchqueueError):
        return EXIT_USAGE
    return EXIT_INTERNAL


#: The console's HTTP status for each exit code of a refused action (RFC 9110): the user's own
#: mistake is a 400; Insight, the disk or the database failing behind the console is a 502.
HTTP_STATUS_NOT_FOUND, HTTP_STATUS_BAD_REQUEST, HTTP_STATUS_BAD_GATEWAY = 404, 400, 502


def http_status_for(error: BaseException) -> int:
    """The HTTP status the console answers an exception with, beside :func:`exit_code_for`."""
    if isinstance(error, JobNotFoundError):
        return HTTP_STATUS_NOT_FOUND
    if exit_code_for(error) == EXIT_USAGE:
        return HTTP_STATUS_BAD_REQUEST
    return HTTP_STATUS_BAD_GATEWAY
