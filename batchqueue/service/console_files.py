"""The console's own files, cleaned on a schedule: uploads (personal data) and the runs' logs older
than the console keeps them are removed; those in use (a check reading an upload, a run writing its
log) never are.

Usage::

    cleaner = FolderCleaner(uploads, runs, keep_seconds=30 * 86400, in_use=lambda: {...})
    removed = cleaner.clean()          # now (the console does it at start, then every hour)
    cleaner.start(every=3600)          # a daemon thread; cleaner.stop()
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from batchqueue.private_files import private_folder as private_folder
from batchqueue.private_files import secret_key as secret_key

log = logging.getLogger(__name__)


@dataclass
class Cleaned:
    """What one cleaning removed."""

    uploads: int = 0
    logs: int = 0


def _newest(path: Path) -> float:
    """The latest change to ``path`` or anything in it (a folder's own time is its entries')."""
    try:
        newest = path.stat().st_mtime
        if path.is_dir():
            for child in path.iterdir():
                newest = max(newest, child.stat().st_mtime)
    except OSError:
        return time.time()  # cannot tell: not old
    return newest


@dataclass
class FolderCleaner:
    """Removes uploads and run logs not changed for ``keep_seconds``; ``in_use`` names paths to keep."""

    uploads: Path
    runs: Path
    keep_seconds: float
    in_use: Callable[[], set[Path]] = field(default=lambda: set())
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def clean(self, now: float | None = None) -> Cleaned:
        cutoff = (now if now is not None else time.time()) - self.keep_seconds
        busy = {p.resolve() for p in self.in_use()}
        done = Cleaned()
        for folder in sorted(self.uploads.iterdir()) if self.uploads.is_dir() else []:
            if not folder.is_dir() or _newest(folder) > cutoff:
                continue
            if any(p.is_relative_to(folder.resolve()) for p in busy):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            done.uploads += 1
        for run_log in sorted(self.runs.glob("*.log")) if self.runs.is_dir() else []:
            if _newest(run_log) > cutoff or run_log.resolve() in busy:
                continue
            run_log.unlink(missing_ok=True)
            done.logs += 1
        if done.uploads or done.logs:
            log.info("cleaned the console's folder: %d upload(s), %d run log(s) older than %.0f days",
                     done.uploads, done.logs, self.keep_seconds / 86400)  # fmt: skip
        return done

    def start(self, every: float = 3600.0) -> FolderCleaner:
        """Clean now, then every ``every`` seconds, in a daemon thread, until :meth:`stop`."""

        def loop() -> None:
            while True:
                try:
                    self.clean()
                except OSError as exc:  # a folder made unreadable: say so, try again later
                    log.warning("could not clean the console's folder: %s", exc)
                if self._stop.wait(every):
                    return

        self._thread = threading.Thread(target=loop, name="batchqueue-console-cleaner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
