"""Runs started from the console: each one a ``batchqueue run`` process, supervised.

A supervised run *is* the command line's run (same submitter, same ledger locks, same exit codes),
started in its own session so that it goes on when the browser is closed and even when the console
itself stops. Pausing sends it SIGINT, the command line's Ctrl-C: it finishes the requests in
flight, records them and stops, resumable. Its log (secrets scrubbed by its own logging) goes to a
file beside the console's uploads; when it ends, its exit code is turned into the message the
command line would have printed.

It is started isolated (``python -I``: no ``PYTHON*`` variables, no user site, not the working
folder on its import path) in the runs' own private folder, with the ledger's absolute address:
nothing planted where the console was started can be imported by a process that holds the key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batchqueue.errors import UsageError
from batchqueue.exits import (
    EXIT_ENVIRONMENT,
    EXIT_FATAL_REPLY,
    EXIT_FINISHED_WITH_PROBLEMS,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from batchqueue.service.run_line import arguments
from batchqueue.settings import ENV_CA_BUNDLE, ENV_DB, ENV_PROFILE, Settings

if TYPE_CHECKING:
    from batchqueue.service.sending import RunRequest

#: What each exit code of ``batchqueue run`` means, as the console says it.
EXIT_MESSAGES = {
    EXIT_OK: "finished: no pending row is left to send",
    EXIT_FINISHED_WITH_PROBLEMS: "finished; some rows failed or are uncertain (see the problems below)",
    EXIT_USAGE: "did not start",
    EXIT_FATAL_REPLY: "stopped: Insight refused the whole batch (check the survey, instance and credentials)",
    EXIT_UNAVAILABLE: "stopped: Insight could not be reached, or kept failing (resume to try again)",
    EXIT_ENVIRONMENT: "stopped: the ledger could not be written",
    EXIT_INTERNAL: "stopped by an internal error (a bug in batchqueue)",
    EXIT_INTERRUPTED: "paused: resume to send the rest",
}


@dataclass
class SupervisedRun:
    """One ``batchqueue run`` process this console started."""

    job_id: int
    user: str
    started_at: float
    log_path: Path
    process: subprocess.Popen[bytes]
    ended_at: float | None = None
    pausing: bool = False

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()

    def message(self) -> str:
        """What became of it, in words: the command line's own last error line, when it printed one."""
        code = self.exit_code
        if code is None:
            return "pausing: finishing the requests in flight" if self.pausing else "running"
        words = EXIT_MESSAGES.get(code, f"ended with exit code {code}")
        said = _last_error_line(self.log_path)
        return f"{words} — {said}" if said and code not in (EXIT_OK, EXIT_INTERRUPTED) else words


def _absolute(db_url: str) -> str:
    """An SQLite ledger's URL with an absolute path (a server database's URL as it is)."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or db_url.startswith(prefix + "/"):
        return db_url
    return prefix + os.path.abspath(db_url.removeprefix(prefix))


def _last_error_line(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
    except OSError:
        return None
    errors = [line for line in lines if line.startswith("error:")]
    return errors[-1].removeprefix("error:").strip()[:500] if errors else None


class Supervisor:
    """The console's runs, at most one per job at a time (the ledger's run lock agrees)."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self._runs: dict[int, SupervisedRun] = {}

    def start(self, job_id: int, user: str, request: RunRequest) -> SupervisedRun:
        with self._lock:
            current = self._runs.get(job_id)
            if current is not None and current.running:
                raise UsageError(f"job {job_id} is already being sent (started by {current.user})")
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"job-{job_id}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
            environ = {k: v for k, v in os.environ.items() if k != ENV_PROFILE} | self.settings.as_environ()
            environ[ENV_DB] = _absolute(self.settings.db_url)  # the child works in another folder
            if self.settings.ca_bundle:
                environ[ENV_CA_BUNDLE] = os.path.abspath(self.settings.ca_bundle)
            command = [sys.executable, "-I", "-m", "batchqueue", "run", str(job_id), "--quiet", *arguments(request)]
            with open(log_path, "ab") as log:
                process = subprocess.Popen(
                    command,
                    env=environ,
                    cwd=self.log_dir,  # the console's private folder: nothing planted there
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # not the console's Ctrl-C, nor its end
                )
            run = SupervisedRun(job_id, user, time.time(), log_path, process)
            self._runs[job_id] = run
            return run

    def pause(self, job_id: int) -> SupervisedRun:
        with self._lock:
            run = self._runs.get(job_id)
            if run is None or not run.running:
                raise UsageError(
                    f"job {job_id} has no run started from this console; a run started elsewhere is "
                    "paused where it runs (Ctrl-C)"
                )
            run.pausing = True
            run.process.send_signal(signal.SIGINT)
            return run

    def running_logs(self) -> set[Path]:
        """The logs of the runs still running (never cleaned away under them)."""
        with self._lock:
            return {run.log_path for run in self._runs.values() if run.running}

    def run_of(self, job_id: int) -> SupervisedRun | None:
        with self._lock:
            return self._runs.get(job_id)

    def wait(self, job_id: int, timeout: float) -> int | None:
        """The run's exit code once it has ended (None if it has not ended within ``timeout``).

        A run not started yet is waited for too: the request that starts it (a click in a browser)
        may still be on its way when this is called.
        """
        deadline = time.monotonic() + timeout
        run = self.run_of(job_id)
        while run is None and time.monotonic() < deadline:
            time.sleep(0.05)
            run = self.run_of(job_id)
        if run is None:
            return None
        try:
            return run.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None
