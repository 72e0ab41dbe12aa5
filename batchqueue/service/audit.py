"""Who imported, started, paused, canceled or exported what: recorded by the service functions the
console calls, shown on the job page. Details are in words and never hold a secret."""

from __future__ import annotations

from batchqueue.ledger import Ledger
from batchqueue.ledger.console import AuditEvent

__all__ = ["AuditEvent", "record", "trail"]


def record(ledger: Ledger, user: str, action: str, job_id: int | None = None, detail: str = "") -> None:
    ledger.audit(user, action, job_id, detail)


def trail(ledger: Ledger, job_id: int | None = None, limit: int = 50) -> list[AuditEvent]:
    return ledger.audit_trail(job_id, limit)
