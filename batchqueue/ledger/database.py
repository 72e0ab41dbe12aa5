"""Engines, SQLite PRAGMAs, Alembic migrations and the schema-version check.

Usage::

    engine = open_ledger("sqlite:///batchqueue.db")      # creates a new ledger at head
    with write(engine) as conn: ...                       # BEGIN IMMEDIATE on SQLite

An existing ledger on an older schema is refused with the command that upgrades it; the upgrade
backs the SQLite file up first (as jupyterhub does). An SQLite file that SQLite finds damaged (or
that is no database at all) is refused too, with exit 5; a command that writes first runs SQLite's
own ``quick_check`` over it, cut short after ``DEFAULTS.ledger_check_seconds`` on a very large
ledger (the pages it did not reach are still checked by SQLite as each is read).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import LedgerDamagedError, LedgerError, SchemaOutdatedError, UsageError
from batchqueue.whole_files import atomic_path

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration in ``migrations/versions``; a test checks that it is Alembic's head.
#: Kept here so that everyday commands need not import Alembic (~0.4 s) just to compare versions.
SCHEMA_REVISION = "0019"

BUSY_TIMEOUT_MS = 60_000
_WRITE = "batchqueue_write"
#: SQLite's answers that mean the file itself is damaged, or is not a database.
_DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def migrations_dir() -> Path:
    """The Alembic scripts, shipped inside the package."""
    here = Path(__file__).resolve().parent / "migrations"
    if not (here / "env.py").is_file():
        raise LedgerError("the Alembic migrations are missing from this installation of batchqueue")
    return here


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Driver-level autocommit, so that SQLAlchemy's "begin" event below decides how BEGIN is said.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front: a deferred BEGIN that later upgrades to a write can
    # fail with SQLITE_BUSY without waiting, which busy_timeout cannot help.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def create_ledger_engine(url: str) -> Engine:
    """An engine for ``url`` with batchqueue's connection settings; nothing is migrated."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is no number
        shown = _CREDENTIALS.sub(r"\1***@", url)  # never the password, however the URL is broken
        raise UsageError(f"--db: {shown!r} is neither a file path nor a database URL") from None
    try:
        backend = parsed.get_backend_name()
        parsed.get_dialect()
    except NoSuchModuleError:
        raise UsageError(
            f"--db: {parsed.drivername!r} is not a database batchqueue knows "
            "(use a file path, sqlite:///PATH or postgresql+psycopg://…)"
        ) from None
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().resolve().parent
            if not folder.is_dir():
                raise UsageError(f"--db: the folder {folder} does not exist")
            _refuse_hard_links(Path(parsed.database).expanduser())
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise UsageError(f"--db: the driver for {parsed.drivername} is not installed ({exc.name})") from None
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_durable)
    return engine


#: The user and password of a URL (``//user:password@``), masked in a message about a URL that cannot be read.
_CREDENTIALS = re.compile(r"(//)[^/@]*@")


def _refuse_hard_links(database: Path) -> None:
    """UsageError when the ledger file has another name (a hard link): SQLite keeps a ledger's
    write-ahead log and its index beside the name it was opened by (``NAME-wal``, ``NAME-shm``), so
    two names of one file each get their own, neither sees nor locks out the other's writes, and the
    log of one is later written over the other's (rows sent back to pending, to be called again).
    A symbolic link is fine: SQLite follows it to the file's own name."""
    try:
        info = os.stat(database)
    except OSError:
        return  # no ledger yet (made here), or one SQLite will say it cannot open
    if not stat.S_ISREG(info.st_mode):
        return  # a folder (its links are its subfolders), a device: SQLite says what it makes of it
    mounted = _bind_mounts_of(database, info)
    if mounted:
        raise UsageError(
            f"--db: the ledger {database} {mounted}: SQLite keeps its write-ahead log beside the name it is "
            "opened by, so each name would keep its own and overwrite the other's writes (rows sent would "
            "become pending again). Mount the folder that holds the ledger instead of the file, or copy the file"
        )
    links = info.st_nlink
    if links > 1:
        raise UsageError(
            f"--db: the ledger {database} has {links} names (hard links): SQLite keeps its write-ahead log "
            "beside the name it is opened by, so each name would keep its own and overwrite the other's "
            f"writes (rows sent would become pending again). Keep one name (`find / -xdev -samefile {database}` "
            "lists them) and reach it by a symbolic link instead, or copy the file"
        )


def _bind_mounts_of(database: Path, info: os.stat_result) -> str | None:
    """How the file has another name by a bind mount of the file itself, seen in this process's mount
    table (``/proc/self/mountinfo``): the ledger's path is such a mount, or another mount point on its
    device is the same file. None when there is none, or no mount table to read. (A mount of the
    folder is fine: the log beside either name is the same file.)"""
    try:
        table = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    real = os.path.realpath(database)
    device = f"{os.major(info.st_dev)}:{os.minor(info.st_dev)}"
    for line in table.splitlines():
        fields = line.split(" ")
        if len(fields) < 5 or fields[2] != device:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # \040 is a space
        if point == real:
            return "is a bind mount of a file, which has another name where it is mounted from"
        try:
            other = os.stat(point)
        except OSError:
            continue
        if stat.S_ISREG(other.st_mode) and (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return f"is also reached as {point} (a bind mount of the file itself)"
    return None


def _postgres_durable(dbapi_connection: Any, _record: Any) -> None:
    # A commit returns only once the WAL is on disk, whatever the server's default says.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET synchronous_commit TO on")
    cursor.close()
    dbapi_connection.commit()


#: SQLSTATEs of a transaction PostgreSQL aborted to break a deadlock, or a serialization conflict:
#: nothing of it was kept, and it may simply be run again.
_RUN_AGAIN_SQLSTATES = frozenset({"40P01", "40001"})


def aborted_for_a_conflict(exc: BaseException) -> bool:
    """True when ``exc`` is PostgreSQL's rollback of a whole transaction to break a deadlock (or a
    serialization conflict) between writers: the transaction may be run again as it was."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in _RUN_AGAIN_SQLSTATES


def again_after_a_conflict(method: Callable[P, R]) -> Callable[P, R]:
    """Runs ``method`` (one whole write transaction, with no effect outside it until it commits) up
    to 4 times while PostgreSQL aborts it for a deadlock with another writer (two workers settling
    rows of one number crosswise, say), after a short random pause."""
    return retry(
        retry=retry_if_exception(aborted_for_a_conflict),
        stop=stop_after_attempt(4),
        wait=wait_random(0.01, 0.2),
        before_sleep=lambda state: log.info("a deadlock with another writer aborted a write; running it again"),
        reraise=True,
    )(method)


@contextmanager
def write(engine: Engine, *, rolled_back: bool = False) -> Iterator[Connection]:
    """One write transaction (BEGIN IMMEDIATE on SQLite), committed on success; ``rolled_back``:
    always rolled back (to see what a write would do)."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        if rolled_back:
            transaction = conn.begin()
            try:
                yield conn
            finally:
                transaction.rollback()
            return
        with conn.begin():
            yield conn


def alembic_config(engine: Engine, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations and at ``engine``'s database."""
    from alembic.config import Config

    cfg = Config(stdout=sys.stdout)  # its default is the sys.stdout of import time
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["url"] = engine.url.render_as_string(hide_password=False)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision(engine: Engine) -> str | None:
    """The newest revision among the migration scripts (Alembic's own view)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> tuple[str | None, bool]:
    """(revision stamped in the database, whether the database has any tables at all)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":  # cheaper than reflection, on every command's start
            tables = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            tables = inspect(conn).get_table_names()
        rev = None
        if "alembic_version" in tables:
            rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return rev, bool(tables)


def _upgrade_to_head(engine: Engine) -> None:
    from alembic import command

    with write(engine) as conn:
        command.upgrade(alembic_config(engine, conn), "head")


def upgrade(engine: Engine, *, backup: bool = True) -> Path | None:
    """Migrate to head; an existing SQLite file is copied aside first. Returns the backup path."""
    saved = None
    database = engine.url.database
    if backup and engine.url.get_backend_name() == "sqlite" and database and Path(database).is_file():
        rev, _ = current_revision(engine)
        with engine.connect() as conn:  # fold the WAL into the file so the copy is complete
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        saved = Path(f"{database}.{rev or 'empty'}.{time.strftime('%Y%m%d%H%M%S')}.bak")
        with atomic_path(saved) as partial:  # a cut-short copy never sits under the backup's name
            shutil.copy2(database, partial)
    _upgrade_to_head(engine)
    return saved


def open_engine(url: str, *, create: bool = True, check: bool = False) -> Engine:
    """An engine on a ledger at the current schema; a new, empty database is created at head.

    ``check`` (for a command that writes): an existing SQLite ledger is checked for damage first.
    """
    engine = create_ledger_engine(url)
    if not create and engine.url.get_backend_name() == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not Path(database).exists():
            raise LedgerError(f"no ledger at {database} (import a file first, or pass --db)")
    try:
        rev, has_tables = current_revision(engine)
        head = SCHEMA_REVISION
        if rev is None and not has_tables:
            if not create:
                raise LedgerError(f"{_where(engine)} is not a batchqueue ledger yet (import a file first)")
            _upgrade_to_head(engine)
        elif rev is None:
            raise LedgerError(f"{_where(engine)} holds tables but is not a batchqueue ledger")
        elif rev != head:
            raise SchemaOutdatedError(
                f"{_where(engine)} is at schema revision {rev}, this batchqueue needs {head}; "
                f"upgrade it with: batchqueue db upgrade --db {_where(engine)}  (a backup is made first)"
            )
        elif check and engine.dialect.name == "sqlite":
            check_sqlite(engine, DEFAULTS.ledger_check_seconds)
    except DBAPIError as exc:  # not a database, unreachable server, no permission…
        engine.dispose()
        if getattr(exc.orig, "sqlite_errorcode", None) in _DAMAGED:
            raise LedgerDamagedError(_damaged(engine, str(exc.orig))) from None
        raise LedgerError(f"{_where(engine)}: cannot open the ledger ({exc.orig})") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def check_sqlite(engine: Engine, budget: float) -> None:
    """Refuse an SQLite ledger that SQLite's ``PRAGMA quick_check`` finds damaged.

    The check reads every page (~0.4 s for a million rows from the page cache, a few seconds from a
    cold disk: see ``bench/ledger_check_bench.py``); it stops after ``budget`` seconds, and what it
    did not reach is left to SQLite's own checks as pages are read.
    """
    with engine.connect() as conn:
        raw: sqlite3.Connection = conn.connection.dbapi_connection  # type: ignore[assignment]
        deadline = time.monotonic() + budget
        raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            found = [str(r[0]) for r in raw.execute("PRAGMA quick_check(3)").fetchall()]
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_INTERRUPT:
                raise LedgerDamagedError(_damaged(engine, str(exc))) from None
            log.info("%s: the damage check stopped after %.1f s (a large ledger)", _where(engine), budget)
            return
        finally:
            raw.set_progress_handler(None, 0)
    if found != ["ok"]:
        raise LedgerDamagedError(_damaged(engine, "; ".join(found)))


def _damaged(engine: Engine, detail: str) -> str:
    from batchqueue.untrusted import printable

    where = _where(engine)
    return (
        f"{where} is damaged, or is not a database at all (SQLite: {printable(detail, 300)}); nothing was "
        "written to it. If --db names the right file, restore it from a backup (`batchqueue db upgrade` "
        f"leaves one beside it), or save what is still readable with: sqlite3 {where} .recover"
    )


def _where(engine: Engine) -> str:
    if engine.url.get_backend_name() == "sqlite":
        return str(engine.url.database)
    return engine.url.render_as_string(hide_password=True)
