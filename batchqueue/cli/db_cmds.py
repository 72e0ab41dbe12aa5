"""``db upgrade``: bring an older ledger to this batchqueue's schema (after a backup)."""

from __future__ import annotations

from pathlib import Path

import click

from batchqueue.cli.options import db_option
from batchqueue.errors import LedgerError
from batchqueue.ledger.database import SCHEMA_REVISION, create_ledger_engine, current_revision, upgrade
from batchqueue.settings import Settings


@click.group()
def db() -> None:
    """Ledger maintenance."""


@db.command("upgrade")
@db_option
def upgrade_cmd(db: str | None) -> int:
    """Migrate the ledger to the current schema; an SQLite ledger is backed up first."""
    engine = create_ledger_engine(Settings.from_env(db=db).db_url)
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and not Path(database).is_file():
        raise LedgerError(f"no ledger at {database}: nothing to upgrade (check the path, or pass --db)")
    before, _ = current_revision(engine)
    head = SCHEMA_REVISION
    if before == head:
        click.echo(f"the ledger is already at schema revision {head}")
        return 0
    saved = upgrade(engine)
    if saved:
        click.echo(f"backup written to {saved}")
    click.echo(f"ledger upgraded from {before or 'empty'} to {head}")
    return 0


COMMANDS = [db]
