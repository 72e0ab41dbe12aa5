"""The whole-batch SQL fragments, run by a real SQLite (in memory): what the database answers is the
truth, not the text the functions build."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine

from batchqueue.ledger.batchsql import event_guard, in_list, multi_values, placeholder, states_sql, values_cte
from batchqueue.lifecycle import Event, RowState, allowed_from


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def test_sqlite_takes_question_marks(conn: Connection) -> None:
    assert placeholder(conn) == "?"


def test_a_values_cte_is_a_typed_table_of_the_bound_rows(conn: Connection) -> None:
    data = [(1, 2.5, "it's"), (2, 1e300, "x'); DROP TABLE rows; --")]
    cte, params = values_cte(conn, "v", (("rid", "INTEGER"), ("at", "FLOAT"), ("why", "TEXT")), data)
    found = conn.exec_driver_sql(f"{cte} SELECT rid, at, why, typeof(rid) FROM v ORDER BY rid", tuple(params)).all()
    assert [tuple(r) for r in found] == [(1, 2.5, "it's", "integer"), (2, 1e300, "x'); DROP TABLE rows; --", "integer")]


def test_an_in_list_holds_as_many_values_as_asked(conn: Connection) -> None:
    sql = f"SELECT 3 IN {in_list(conn, 3)}, 4 IN {in_list(conn, 3)}"
    assert tuple(conn.exec_driver_sql(sql, (1, 2, 3, 1, 2, 3)).one()) == (1, 0)


def test_multi_values_inserts_every_row(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE TEMP TABLE t (a INTEGER, b TEXT)")
    conn.exec_driver_sql(f"INSERT INTO t VALUES {multi_values(conn, 2, 3)}", (1, "a", 2, "b", 3, "c"))
    assert [tuple(r) for r in conn.exec_driver_sql("SELECT a, b FROM t ORDER BY a").all()] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]


def test_states_sql_is_a_list_sql_can_test_against(conn: Connection) -> None:
    listed = states_sql(frozenset({RowState.PENDING, RowState.SENDING}))
    assert conn.exec_driver_sql(f"SELECT 'pending' IN {listed}, 'queued' IN {listed}").one() == (1, 0)


def test_the_event_guard_lets_through_exactly_the_states_each_event_moves_from(conn: Connection) -> None:
    """Every (event, state) pair, asked of SQLite: the guard in SQL and the table in Python agree."""
    events = list(Event)
    conn.exec_driver_sql("CREATE TEMP TABLE rows (state TEXT)")
    conn.exec_driver_sql("CREATE TEMP TABLE v (event TEXT)")
    conn.exec_driver_sql(f"INSERT INTO rows VALUES {multi_values(conn, 1, len(RowState))}", tuple(RowState))
    conn.exec_driver_sql(f"INSERT INTO v VALUES {multi_values(conn, 1, len(events))}", tuple(events))
    allowed = {
        (e, s) for e, s in conn.exec_driver_sql(f"SELECT v.event, rows.state FROM v, rows WHERE {event_guard(events)}")
    }
    assert allowed == {(e.value, s.value) for e in events for s in allowed_from(e)}
    assert allowed  # the table allows something
