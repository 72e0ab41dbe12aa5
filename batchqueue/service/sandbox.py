"""``sandbox``: a local stand-in for the Insight API, for demos, tests and rehearsals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batchqueue.defaults import DEFAULTS
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion


@dataclass(frozen=True)
class SandboxRequest:
    """Who may call the sandbox, which surveys it knows, how calls end, and which faults to inject."""

    host: str = DEFAULTS.serve_host
    port: int = DEFAULTS.sandbox_port
    user: str = DEFAULTS.sandbox_user
    key: str = DEFAULTS.sandbox_key
    surveys: dict[str, str] = field(default_factory=lambda: {"4242": "1"})
    threads: int = DEFAULTS.sandbox_threads
    complete_after: float | None = None
    outcomes: tuple[tuple[str, float], ...] = (("completed", 0.8), ("failed", 0.1), ("rejected", 0.1))
    callback_encoding: str = "form"
    faults: dict[str, Any] = field(default_factory=dict)
    report_timezone: str = "UTC"


def sandbox(request: SandboxRequest) -> Sandbox:
    """The sandbox, bound to its address (``serve_forever()`` to run it)."""
    faults = Faults(**request.faults)
    completion = Completion(
        after=request.complete_after, weights=request.outcomes, encoding=request.callback_encoding, seed=faults.seed
    )
    config = SandboxConfig(
        user=request.user,
        key=request.key,
        surveys=request.surveys,
        faults=faults,
        completion=completion,
        report_timezone=request.report_timezone,
    )
    return Sandbox(config, host=request.host, port=request.port, threads=request.threads)
