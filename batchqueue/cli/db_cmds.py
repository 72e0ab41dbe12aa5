"""``db upgrade``: bring an older ledger to this batchqueue's schema (after a backup)."""

from __future__ import annotations

import click

from batchqueue.cli.options import db_option, settings


@click.group()
def db() -> None:
    """Ledger maintenance."""


@db.command("upgrade")
@db_option
def upgrade_cmd(db: str | None) -> int:
    """Migrate the ledger to the current schema; an SQLite ledger is backed up first."""
    from batchqueue.service.maintenance import upgrade

    done = upgrade(settings(db))
    if done.before == done.after:
        click.echo(f"the ledger is already at schema revision {done.after}")
        return 0
    if done.backup:
        click.echo(f"backup written to {done.backup}")
    click.echo(f"ledger upgraded from {done.before or 'empty'} to {done.after}")
    return 0


COMMANDS = [db]
