"""Checks of uploaded files that run in the background, with their progress: what the console's check
page shows while a large file is read, without keeping the page (or its server thread) waiting.

A check is the command line's ``check`` (:func:`batchqueue.service.loading.check`, through the same
readers: a workbook is read by a guarded child process) and the file's first rows, judged with the
mapping the check settled on. One check runs per (upload, mapping); asking again for the same pair
gives the same check, finished or not. Finished checks are kept a while, then forgotten.

Usage::

    checks = BackgroundChecks()
    run = checks.start(key, path, spec)           # at once; the work goes on in a thread
    checks.get(run.id).fraction                   # 0.0 … 1.0, then run.result (or run.error)
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

from batchqueue.errors import BatchqueueError, UsageError
from batchqueue.intake.importer import LoadResult
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.service.loading import CheckRequest, FilePreview, check, preview

#: Finished checks are forgotten after this many seconds, and beyond this many.
KEEP_SECONDS = 1800.0
KEEP_CHECKS = 32
#: Problems a check lists (the page shows them; the counts cover every row).
MAX_PROBLEMS = 50


@dataclass
class CheckRun:
    """One check: its progress while it runs, then its result, or the error that stopped it."""

    id: str
    file: Path
    spec: MappingSpec
    started_at: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    result: LoadResult | None = None
    preview: FilePreview | None = None
    error: str | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def fraction(self) -> float:
        """How much of the file has been read, 0 to 1 (1 once finished)."""
        if self.finished:
            return 1.0
        return min(self.done / self.total, 0.99) if self.total else 0.0


def run_check(run: CheckRun) -> CheckRun:
    """Do ``run``'s check here and now (what the thread of :meth:`BackgroundChecks.start` does)."""

    def progress(done: int, total: int) -> None:
        run.done, run.total = done, total

    try:
        result = check(CheckRequest(run.file, run.spec, max_problems=MAX_PROBLEMS), progress=progress)
        run.preview = preview(run.file, run.spec, mapping=result.mapping)
        run.result = result
    except BatchqueueError as exc:
        run.error = str(exc)
    except OSError as exc:
        run.error = f"the file could not be read ({exc.strerror or exc})"
    finally:
        run.finished_at = time.time()
    return run


class BackgroundChecks:
    """The checks one console runs (thread-safe)."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, keep: int = KEEP_CHECKS) -> None:
        self.keep_seconds, self.keep = keep_seconds, keep
        self._lock = threading.Lock()
        self._runs: dict[str, CheckRun] = {}
        self._by_key: dict[Hashable, str] = {}

    def start(self, key: Hashable, file: Path, spec: MappingSpec) -> CheckRun:
        """The check of ``file`` with ``spec`` (``key`` names the pair): the one already started, or a new one."""
        with self._lock:
            self._forget_old()
            known = self._by_key.get(key)
            if known is not None and known in self._runs:
                return self._runs[known]
            run = CheckRun(secrets.token_urlsafe(12), file, spec)
            self._runs[run.id] = run
            self._by_key[key] = run.id
        threading.Thread(target=run_check, args=(run,), name=f"batchqueue-check-{run.id}", daemon=True).start()
        return run

    def get(self, check_id: str) -> CheckRun:
        """The check with this id; a UsageError for one that is unknown or forgotten."""
        with self._lock:
            run = self._runs.get(check_id)
        if run is None:
            raise UsageError("no such check (it was forgotten; check the file again)")
        return run

    def running_files(self) -> set[Path]:
        """The files checks are reading now (the folder's cleaning leaves them alone)."""
        with self._lock:
            return {r.file for r in self._runs.values() if not r.finished}

    def _forget_old(self) -> None:
        now = time.time()
        finished = sorted((r for r in self._runs.values() if r.finished_at), key=lambda r: r.finished_at or 0.0)
        excess = len(finished) - self.keep
        for i, run in enumerate(finished):
            if i < excess or now - (run.finished_at or now) > self.keep_seconds:
                del self._runs[run.id]
        live = set(self._runs)
        self._by_key = {k: v for k, v in self._by_key.items() if v in live}
