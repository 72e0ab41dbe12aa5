"""Alembic environment: the URL comes from batchqueue's settings, SQLite migrates in batch mode."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from batchqueue.ledger.database import create_ledger_engine
from batchqueue.ledger.schema import metadata
from batchqueue.settings import Settings

config = context.config


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.attributes.get("url") or Settings.from_env().db_url
    engine = create_ledger_engine(url)
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("batchqueue migrations run online only: use `batchqueue db upgrade`")
run()
