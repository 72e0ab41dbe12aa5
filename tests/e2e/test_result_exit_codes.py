"""A result carries its exit code: the figures are the README's documented exit codes (0 done ·
1 finished with problems · 3 batch-fatal reply · 4 API unreachable · 5 the machine failed · 130
interrupted), not the code's own table."""

from __future__ import annotations

import pytest

from batchqueue.exits import ExitReason
from batchqueue.service.dnc import DncChange
from batchqueue.service.outcomes import PollSummary
from batchqueue.service.sending import RunSummary


@pytest.mark.parametrize(
    ("reason", "counts", "code"),
    [
        (ExitReason.DONE, {"queued": 3}, 0),
        (ExitReason.DONE, {"queued": 2, "failed": 1}, 1),
        (ExitReason.DONE, {"queued": 2, "uncertain": 1}, 1),
        (ExitReason.FATAL_REPLY, {"queued": 1}, 3),
        (ExitReason.UNREACHABLE, {}, 4),
        (ExitReason.CIRCUIT_BREAKER, {"uncertain": 5}, 4),
        (ExitReason.LEDGER_LOST, {}, 5),
        (ExitReason.INTERRUPTED, {"failed": 1}, 130),
    ],
)
def test_a_run_summary_carries_its_exit_code(reason: ExitReason, counts: dict[str, int], code: int) -> None:
    assert RunSummary(1, exit_reason=reason, counts=counts).exit_code == code


@pytest.mark.parametrize(
    ("reason", "errors", "code"),
    [
        (ExitReason.DONE, 0, 0),
        (ExitReason.DONE, 2, 1),  # some status replies told nothing
        (ExitReason.DEADLINE, 0, 1),
        (ExitReason.NO_READABLE_REPLY, 4, 4),
        (ExitReason.FATAL_REPLY, 0, 3),
        (ExitReason.INTERRUPTED, 0, 130),
    ],
)
def test_a_poll_summary_carries_its_exit_code(reason: ExitReason, errors: int, code: int) -> None:
    assert PollSummary(1, errors=errors, exit_reason=reason).exit_code == code


def test_a_dnc_change_carries_its_exit_code() -> None:
    assert DncChange("l", added=2).exit_code == 0
    assert DncChange("l", added=1, not_added=[("12", "too short")]).exit_code == 1
    assert DncChange("l", added=1, unreadable=1).exit_code == 1
