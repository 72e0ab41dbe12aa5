"""A memory ceiling for the process that reads an untrusted workbook.

calamine (Rust) holds a whole sheet in memory, and when an allocation fails it aborts the process
(SIGABRT): no exception, no message. So every workbook is read in a process of its own whose
address space is capped (``RLIMIT_AS``) at what it had when it started plus a budget
(``DEFAULTS.workbook_memory_mb``): whatever the checks made before loading let through ends there,
as a clear refusal (:func:`too_big`), never in the process that asked (the console, a CLI command).

Usage::

    confine(DEFAULTS.workbook_memory_mb)     # in the reading process, before it opens the workbook
    if confined(): ...                       # this process may read workbooks itself
    raise too_big(path)                      # the reader ran out of its budget
"""

from __future__ import annotations

import os
import resource

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import InputFileError

_MIB = 1024 * 1024
_state = {"confined": False}


def _address_space() -> int:
    """This process's mapped address space in bytes (what RLIMIT_AS counts); 0 where unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def confine(megabytes: int = DEFAULTS.workbook_memory_mb) -> None:
    """Cap this process's address space at its present size plus ``megabytes``; never raises it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = _address_space() + megabytes * _MIB
    for limit in (soft, hard):
        if limit != resource.RLIM_INFINITY:
            ceiling = min(ceiling, limit)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    _state["confined"] = True


def confined() -> bool:
    """Whether this process is a confined workbook reader (it may then read workbooks itself)."""
    return _state["confined"]


def too_big(path: str, megabytes: int = DEFAULTS.workbook_memory_mb) -> InputFileError:
    """The refusal of a workbook its reader could not hold within ``megabytes``."""
    return InputFileError(
        path,
        f"this workbook needs more than {megabytes:,} MB of memory to read (or it is damaged); "
        "save the sheet as CSV (File > Save As > CSV) and import that",
    )
