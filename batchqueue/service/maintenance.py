"""``db upgrade``: bring an older ledger to this batchqueue's schema (after a backup)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from batchqueue.errors import LedgerError
from batchqueue.ledger.database import SCHEMA_REVISION, create_ledger_engine, current_revision
from batchqueue.ledger.database import upgrade as _upgrade
from batchqueue.service.app import Face, settings_of


@dataclass(frozen=True)
class UpgradeResult:
    """The revision before and after, and where the backup went (SQLite)."""

    before: str | None
    after: str
    backup: Path | None


def upgrade(app: Face) -> UpgradeResult:
    """Migrate the ledger to the current schema; an SQLite ledger is backed up first."""
    engine = create_ledger_engine(settings_of(app).db_url)
    try:
        database = engine.url.database
        if engine.url.get_backend_name() == "sqlite" and database and not Path(database).is_file():
            raise LedgerError(f"no ledger at {database}: nothing to upgrade (check the path, or pass --db)")
        before, _ = current_revision(engine)
        if before == SCHEMA_REVISION:
            return UpgradeResult(before, SCHEMA_REVISION, None)
        return UpgradeResult(before, SCHEMA_REVISION, _upgrade(engine))
    finally:
        engine.dispose()
