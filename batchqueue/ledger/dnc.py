"""Do-not-call lists: ledger-wide, named, indexed by number; and the rows they suppress.

A number on any list is never sent: an import gives its rows the state ``suppressed`` (reason
``dnc:<list>``), and every claim looks its candidates up again inside the claim transaction
(:func:`suppress_listed`), so a number added after the import, or while a run goes on, is not
claimed from then on. (A row claimed, and so committed ``sending``, before the number was added
may still leave: the check is as late as the claim, not later.)

Usage::

    added, already = ledger.add_to_dnc([("optouts", "+16175550100")], source="optouts.csv")
    new = ledger.list_numbers("complaints", ["+525512345678"], source="added by hand")   # those added
    ledger.remove_from_dnc("optouts", ["+16175550100"])
    for name, count, last_added in ledger.dnc_lists(): ...
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

from sqlalchemy import Connection, Engine, func, select

from batchqueue.errors import UsageError
from batchqueue.ledger.batchsql import in_list, placeholder
from batchqueue.ledger.database import write
from batchqueue.ledger.records import Claimed, Listing
from batchqueue.ledger.schema import dnc_entries, rows
from batchqueue.ledger.suppress import SUPPRESSIBLE, suppress_rows
from batchqueue.lifecycle import RowState

_LIST_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SUPPRESSED = RowState.SUPPRESSED.value
#: Numbers per INSERT (or DELETE) batch.
_BATCH = 20_000
T = TypeVar("T")


def list_name(value: str) -> str:
    """A valid list name (it appears in reasons as ``dnc:<list>``), or :class:`UsageError`."""
    if not _LIST_NAME.fullmatch(value or ""):
        raise UsageError(f"--list {value!r}: a list name is 1-64 letters, digits, '-', '_' or '.'")
    return value


def _reason_prefix(phone_column: str) -> str:
    """The JSON reasons of a suppressed row, up to the list's name: ``[["phone","dnc:``."""
    return "[[" + json.dumps(phone_column, ensure_ascii=False) + ',"dnc:'


def suppress_imported(conn: Connection, job_id: int, phone_column: str, stamp: float) -> int:
    """Inside an import's transaction: the job's pending rows whose number is listed become
    ``suppressed``; returns how many."""
    if conn.execute(select(dnc_entries.c.id).limit(1)).first() is None:
        return 0  # no list at all: not one lookup per row
    found = conn.exec_driver_sql(
        "SELECT rows.id, MIN(d.list_name) FROM rows JOIN dnc_entries d ON d.e164 = rows.e164 "
        f"WHERE rows.job_id = {placeholder(conn)} AND rows.state IN {SUPPRESSIBLE} GROUP BY rows.id",
        (job_id,),
    ).all()
    prefix = _reason_prefix(phone_column)
    return suppress_rows(conn, [(row_id, f'{prefix}{name}"]]') for row_id, name in found], stamp)


def suppress_listed(conn: Connection, candidates: list[Claimed], stamp: float, phone_column: str) -> set[int]:
    """Inside a claim's transaction: the candidates whose number is listed become ``suppressed``
    (guarded by the lifecycle table; the reason names ``phone_column``); returns their row ids,
    which must not be claimed."""
    numbers = sorted({c.e164 for c in candidates if c.e164})
    if not numbers:
        return set()
    found = conn.exec_driver_sql(
        f"SELECT e164, MIN(list_name) FROM dnc_entries WHERE e164 IN {in_list(conn, len(numbers))} GROUP BY e164",
        tuple(numbers),
    ).all()
    if not found:
        return set()
    on_list = {e164: name for e164, name in found}
    barred = [c for c in candidates if c.e164 in on_list]
    prefix = _reason_prefix(phone_column)
    suppress_rows(conn, [(c.row_id, f'{prefix}{on_list[c.e164]}"]]') for c in barred], stamp)
    return {c.row_id for c in barred}


class DncLedger:
    """The do-not-call side of the ledger (see :class:`batchqueue.ledger.store.Ledger`)."""

    engine: Engine

    def add_to_dnc(self, entries: Iterable[Listing | tuple[str, str]], *, source: str) -> tuple[int, int]:
        """Put each (list, E.164 number) of ``entries`` on its list, in one transaction; returns
        (added, already on that list). A :class:`Listing` may bring its own time and source."""
        stamp = time.time()
        given = 0
        names: set[str] = set()
        with write(self.engine) as conn:
            before = self._count(conn)
            sql = _insert_sql(conn)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                for batch in _batches(entries):
                    given += len(batch)
                    for name in {entry[0] for entry in batch} - names:
                        names.add(list_name(name))
                    # A plain pair (the common entry) is a tuple itself; a Listing, a subclass, keeps its own.
                    values = [
                        (e[0], e[1], stamp, source) if type(e) is tuple else _kept(e, stamp, source) for e in batch
                    ]
                    cursor.executemany(sql, values)
            finally:
                cursor.close()
            added = self._count(conn) - before
        return added, given - added

    def list_numbers(self, name: str, numbers: Sequence[str], *, source: str) -> list[str]:
        """Put ``numbers`` (E.164; a few, typed by a person) on list ``name``, in one transaction;
        returns those that were not on it yet, in the order given."""
        name = list_name(name)
        stamp = time.time()
        added: list[str] = []
        with write(self.engine) as conn:
            sql = _insert_sql(conn)
            for e164 in dict.fromkeys(numbers):
                if conn.exec_driver_sql(sql, (name, e164, stamp, source)).rowcount:
                    added.append(e164)
        return added

    def remove_from_dnc(self, name: str, numbers: Iterable[str]) -> int:
        """Take ``numbers`` off list ``name``; returns how many were on it."""
        name = list_name(name)
        removed = 0
        with write(self.engine) as conn:
            for batch in _batches(numbers):
                removed += int(
                    conn.execute(
                        dnc_entries.delete().where(dnc_entries.c.list_name == name, dnc_entries.c.e164.in_(batch))
                    ).rowcount
                    or 0
                )
        return removed

    def dnc_lists(self) -> list[tuple[str, int, float]]:
        """Every list: (name, numbers on it, when a number was last added), by name."""
        query = (
            select(dnc_entries.c.list_name, func.count(), func.max(dnc_entries.c.added_at))
            .group_by(dnc_entries.c.list_name)
            .order_by(dnc_entries.c.list_name)
        )
        with self.engine.connect() as conn:
            return [(str(n), int(c), float(t)) for n, c, t in conn.execute(query)]

    def dnc_entries(self, names: Sequence[str] = ()) -> Iterator[tuple[str, str, float, str | None]]:
        """(list, number, added at, source) of the lists ``names`` (all when empty), by list and number."""
        query = select(dnc_entries.c.list_name, dnc_entries.c.e164, dnc_entries.c.added_at, dnc_entries.c.source)
        if names:
            query = query.where(dnc_entries.c.list_name.in_([list_name(n) for n in names]))
        query = query.order_by(dnc_entries.c.list_name, dnc_entries.c.e164)
        with self.engine.connect() as conn:
            for record in conn.execution_options(yield_per=10_000).execute(query):
                yield str(record[0]), str(record[1]), float(record[2]), record[3]

    def suppressed_by(self, job_id: int) -> dict[str, int]:
        """The job's suppressed rows by reason (``dnc:<list>``, ``recontact: contacted by job N``,
        ``max-contacts: called N times…``), most first."""
        query = (
            select(rows.c.reasons, func.count())
            .where(rows.c.job_id == job_id, rows.c.state == _SUPPRESSED)
            .group_by(rows.c.reasons)
        )
        found: Counter[str] = Counter()
        with self.engine.connect() as conn:
            for reasons, count in conn.execute(query):
                for _, why in json.loads(reasons or "[]") or [[None, "?"]]:
                    # one line per earlier job, and per count for --max-contacts
                    found[str(why).split(" (row ", 1)[0].split(", last on ", 1)[0]] += int(count)
        return dict(found.most_common())

    @staticmethod
    def _count(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(dnc_entries)).scalar() or 0)


def _insert_sql(conn: Connection) -> str:
    """One number on one list, unless it is on that list already."""
    mark = placeholder(conn)
    return (
        f"INSERT INTO dnc_entries (list_name, e164, added_at, source) VALUES ({mark}, {mark}, {mark}, {mark}) "
        "ON CONFLICT (e164, list_name) DO NOTHING"
    )


def _kept(entry: Listing | tuple[str, str], stamp: float, source: str) -> tuple[str, str, float, str]:
    """The values of a :class:`Listing`: its own time and source where it has them."""
    if isinstance(entry, Listing):
        at, own = entry.added_at, entry.source
        return entry.list_name, entry.e164, stamp if at is None else at, source if own is None else own
    return entry[0], entry[1], stamp, source


def _batches(items: Iterable[T]) -> Iterator[list[T]]:
    rest = iter(items)
    while batch := list(islice(rest, _BATCH)):
        yield batch
