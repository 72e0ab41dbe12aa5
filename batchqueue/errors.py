"""The exception tree of batchqueue; every error the library raises on purpose is one of these.

::

    BatchqueueError
    ├── UsageError(ValueError)          a bad option value or mapping file          exit 2
    ├── InputFileError(ValueError)      the spreadsheet cannot be read as asked     exit 2
    │   ├── SheetNotFoundError          --sheet names no sheet of the workbook
    │   └── HeaderError                 empty or duplicate header names
    ├── InvalidValue(ValueError)        one cell or field cannot be used (a row's reason, not an exit)
    │   ├── PhoneError                  not a usable phone number
    │   └── BadPayload                  a callback or status body that cannot be read
    ├── LedgerError                     the ledger cannot be used as asked          exit 2
    │   ├── SchemaOutdatedError         the ledger needs `batchqueue db upgrade`
    │   ├── LedgerBusyError             another process holds the ledger's lock
    │   └── JobNotFoundError            no job with that id
    ├── InsightError                    talking to the Insight API went wrong
    │   ├── BatchFatalError             a reply that stops the whole batch           exit 3
    │   └── ApiUnavailableError         unreachable, or too many ambiguous replies   exit 4
    └── EnvironmentFailure              the machine failed us: disk full, a file     exit 5
        │                               vanished mid-read, a damaged database
        └── LedgerDamagedError          SQLite finds the ledger's file damaged (or not a database)

The split mirrors httpx: input mistakes are ``ValueError`` too, so callers that only know the
standard library still catch them. Nothing here imports the rest of the package.
"""

from __future__ import annotations


class BatchqueueError(Exception):
    """Root of every error batchqueue raises on purpose."""


class UsageError(BatchqueueError, ValueError):
    """An option, mapping-file entry or argument has a value batchqueue cannot use."""


class InputFileError(BatchqueueError, ValueError):
    """The input file cannot be read as a spreadsheet (missing, empty, encrypted, not tabular...)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class SheetNotFoundError(InputFileError):
    """The requested sheet does not exist; the message lists the sheets that do."""


class HeaderError(InputFileError):
    """The header row has empty or duplicate names."""


class InvalidValue(BatchqueueError, ValueError):
    """One value (a cell, a form field, a callback body) is unusable; the message says why."""


class PhoneError(InvalidValue):
    """A value that is not a usable phone number; the message says why, for the row's reasons."""


class BadPayload(InvalidValue):
    """A callback or status body that cannot be read as call details."""


class LedgerError(BatchqueueError):
    """The ledger database cannot be used as asked."""


class SchemaOutdatedError(LedgerError):
    """The ledger's schema is older (or newer) than this batchqueue; the message names the fix."""


class LedgerBusyError(LedgerError):
    """Another batchqueue process holds the lock this command needs."""


class JobNotFoundError(LedgerError):
    """No job with the given id exists in the ledger."""


class InsightError(BatchqueueError):
    """Talking to the Insight API failed in a way that stops the batch.

    ``result`` is what the stopped command got done (a run's or a poll's summary), for display.
    """

    def __init__(self, message: str, *, status: int | None = None, result: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.result = result


class BatchFatalError(InsightError):
    """Insight answered with a status that no retry can fix (401 403 404 405 409 415)."""


class ApiUnavailableError(InsightError):
    """Insight could not be reached, or answered ambiguously too often in a row."""


class EnvironmentFailure(BatchqueueError):
    """Not the user's input and not Insight: the disk, the file system or the database failed.

    ``result`` is what the stopped command got done, when it got something done (a run's summary).
    """

    def __init__(self, message: str, *, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class LedgerDamagedError(EnvironmentFailure):
    """SQLite finds the ledger's file damaged, or not a database at all: nothing is written to it."""
