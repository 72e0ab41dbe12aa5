"""Every way the ledger applies an event keeps to the lifecycle table, from every state, exhaustively.

The state machine in ``test_lifecycle.py`` drives random sequences; a wrong from-state in one
guard (``refused`` allowed from ``uncertain``, say) needs a rare sequence to show there, and was
caught 0 to 6 times in 8 runs. Here each event is applied, through the real ledger method that
applies it, to one row in each state at once: a row moves exactly when the table allows it, to the
state the table names, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from batchqueue import lifecycle
from batchqueue.call_outcome import CallDetails
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Attempt, Ledger, Settlement, open_ledger
from batchqueue.ledger.sending import FOUND_SENDING_ERROR, SETTLE_EVENTS
from batchqueue.lifecycle import Event, RowState

#: Applies one event, through the ledger method that applies it, to every row of a job (given as
#: row id → state before).
Apply = Callable[[Ledger, int, dict[int, RowState]], object]


def _settle(event: Event) -> Apply:
    def apply(ledger: Ledger, _job: int, before: dict[int, RowState]) -> None:
        call_id = "c1" if event is Event.ACCEPTED else None
        conflicts = ledger.record([Settlement(i, event, [Attempt("x")], call_id) for i in before])
        # A row the table does not let it move is a conflict, said so (never a silent no-op).
        refused = [i for i, state in before.items() if lifecycle.after(event, state) is None]
        assert sorted(c.row_id for c in conflicts) == refused, event

    return apply


def _prove(ledger: Ledger, job: int, before: dict[int, RowState]) -> None:
    with ledger.engine.connect() as conn:
        tokens: dict[int, str] = dict(
            conn.execute(text("SELECT id, token FROM rows WHERE job_id = :j"), {"j": job}).all()
        )
    ledger.apply_outcomes([(i, tokens[i], CallDetails("completed")) for i in before], source="callback")


def _suppress(ledger: Ledger, job: int, before: dict[int, RowState]) -> None:
    with ledger.engine.connect() as conn:
        numbers = [r[0] for r in conn.execute(text("SELECT e164 FROM rows WHERE job_id = :j"), {"j": job})]
    ledger.add_to_dnc([("guards", e164) for e164 in numbers], source="test")
    ledger.claim(job, len(before))


def _never_sent(ledger: Ledger, job: int, before: dict[int, RowState]) -> None:
    # Every row claimed by worker "w" and found sending by a recovery while "w" was cut off; "w"
    # reports every row it did not send (its sending row may have left: it is among those sent).
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE rows SET lease_owner = 'w', error = :e WHERE job_id = :j"),
            {"e": FOUND_SENDING_ERROR, "j": job},
        )
    ledger.release_unsent(job, "w", {i for i, state in before.items() if state is RowState.SENDING})


APPLY: dict[Event, Apply] = {
    **{event: _settle(event) for event in SETTLE_EVENTS},
    Event.CLAIMED: lambda ledger, job, before: ledger.claim(job, len(before)),
    Event.SUPPRESSED: _suppress,
    Event.FOUND_SENDING: lambda ledger, job, _: ledger.recover_sending(job, event=Event.FOUND_SENDING),
    Event.FOUND_SENDING_RESENT: lambda ledger, job, _: ledger.recover_sending(job, event=Event.FOUND_SENDING_RESENT),
    Event.PROVEN: _prove,
    Event.NEVER_SENT: _never_sent,
    Event.RETRIED: lambda ledger, job, _: ledger.retry_rows(job),
    Event.RETRIED_UNCERTAIN: lambda ledger, job, _: ledger.retry_rows(job, failed=False, uncertain=True),
    Event.RECONCILED: lambda ledger, job, before: ledger.resend_unproven(job, list(before)),
    Event.CANCELED: lambda ledger, job, _: ledger.cancel_pending(job),
    Event.UNCANCELED: lambda ledger, job, _: ledger.uncancel(job),
}


def _contacts(path: Path, n: int, first: int = 0) -> Path:
    lines = ["phone"] + [f"+1617555{i:04d}" for i in range(first, first + n)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_every_event_is_applied_here() -> None:
    assert set(APPLY) == set(Event)


def test_each_event_moves_a_row_from_exactly_the_states_the_table_allows(ledger_url: str, tmp_path: Path) -> None:
    ledger = open_ledger(ledger_url)
    wrong: list[str] = []
    try:
        for n, (event, apply) in enumerate(APPLY.items()):
            # Numbers of their own for each event: a call one event's job placed (a late acceptance
            # counts as a call) must not bar the next job's claim by re-contact protection.
            source = _contacts(tmp_path / f"c{n}.csv", len(RowState), first=n * len(RowState))
            done = import_file(ledger, source, MappingSpec(), survey_id="1", instance_id="1", new_job=True)
            assert done.job_id is not None
            with ledger.engine.begin() as conn:
                query = text("SELECT id FROM rows WHERE job_id = :j ORDER BY id")
                ids = [r[0] for r in conn.execute(query, {"j": done.job_id})]
                before = dict(zip(ids, RowState, strict=True))  # one row in each state
                for row_id, state in before.items():
                    conn.execute(text("UPDATE rows SET state = :s WHERE id = :i"), {"s": state.value, "i": row_id})
            apply(ledger, done.job_id, before)
            with ledger.engine.connect() as conn:
                query = text("SELECT id, state FROM rows WHERE job_id = :j")
                found: dict[int, str] = dict(conn.execute(query, {"j": done.job_id}).all())
            for row_id, state in before.items():
                expected = lifecycle.after(event, state) or state
                if found[row_id] != expected:
                    wrong.append(f"{event} from {state}: became {found[row_id]}, the table says {expected}")
    finally:
        ledger.close()
    assert wrong == []


def test_never_sent_moves_only_the_workers_own_claim_that_nothing_happened_to(ledger_url: str, tmp_path: Path) -> None:
    """NEVER_SENT's guard: the same lease owner, uncertain by a recovery, no call id, no callback;
    and never a row whose request may have left the worker."""
    ledger = open_ledger(ledger_url)
    try:
        done = import_file(ledger, _contacts(tmp_path / "c.csv", 6), MappingSpec(), survey_id="1", instance_id="1")
        job = done.job_id
        assert job is not None
        claimed = [c.row_id for c in ledger.settle(job, [], [], 6, owner="w").claimed]
        assert ledger.recover_sending(job) == 6  # found sending while "w" was cut off
        mine, other_owner, has_call_id, has_outcome, ambiguous_reply, it_left = claimed
        with ledger.engine.begin() as conn:
            for sql, row_id in (
                ("lease_owner = 'x'", other_owner),  # another worker's claim since
                ("call_id = 'c9'", has_call_id),  # a late reply gave it a call id
                ("outcome_status = 'completed'", has_outcome),  # a callback reported on it
                ("error = 'read timeout'", ambiguous_reply),  # uncertain by a reply, not by a recovery
            ):
                conn.execute(text(f"UPDATE rows SET {sql} WHERE id = :i"), {"i": row_id})  # noqa: S608 (fixed SQL)
        assert ledger.release_unsent(job, "w", {it_left}) == 1
        with ledger.engine.connect() as conn:
            found: dict[int, str] = dict(
                conn.execute(text("SELECT id, state FROM rows WHERE job_id = :j"), {"j": job}).all()
            )
            attempts: dict[int, int] = dict(
                conn.execute(text("SELECT id, attempts FROM rows WHERE job_id = :j"), {"j": job}).all()
            )
    finally:
        ledger.close()
    assert found[mine] == "pending"
    assert attempts[mine] == 0  # the attempt that never happened is not counted
    for row_id in (other_owner, has_call_id, has_outcome, ambiguous_reply, it_left):
        assert found[row_id] == "uncertain", row_id


def test_a_definitive_reply_from_the_claiming_worker_settles_a_row_a_recovery_made_uncertain(
    ledger_url: str, tmp_path: Path
) -> None:
    """``uncertain`` means only "we cannot know whether the request left". A worker cut off from the
    ledger while its lease ran out, reporting once it is back that Insight refused a request (400) or
    did not take it (a batch-fatal reply): the row is failed, or pending, not uncertain. The guard is
    NEVER_SENT's: its own claim, uncertain by that recovery, no call id, no callback; any other
    uncertain row keeps its state and the report is a conflict."""
    ledger = open_ledger(ledger_url)
    try:
        done = import_file(ledger, _contacts(tmp_path / "c.csv", 6), MappingSpec(), survey_id="1", instance_id="1")
        job = done.job_id
        assert job is not None
        claimed = [c.row_id for c in ledger.settle(job, [], [], 6, owner="w").claimed]
        assert ledger.recover_sending(job) == 6  # found sending while "w" was cut off
        refused, not_taken, other_owner, has_call_id, has_outcome, ambiguous_reply = claimed
        with ledger.engine.begin() as conn:
            for sql, row_id in (
                ("lease_owner = 'x'", other_owner),
                ("call_id = 'c9'", has_call_id),
                ("outcome_status = 'completed'", has_outcome),
                ("error = 'read timeout'", ambiguous_reply),
            ):
                conn.execute(text(f"UPDATE rows SET {sql} WHERE id = :i"), {"i": row_id})  # noqa: S608 (fixed SQL)
        bad_request = Attempt("refused", 400, None, "400: phone_number is not valid")
        conflicts = ledger.record(
            [Settlement(refused, Event.REFUSED, [bad_request], None, "400: phone_number is not valid", 400)]
            + [Settlement(not_taken, Event.NOT_ACCEPTED, [Attempt("fatal", 401)], None, "401", 401)]
            + [
                Settlement(i, Event.REFUSED, [bad_request], None, "400", 400)
                for i in (other_owner, has_call_id, has_outcome, ambiguous_reply)
            ],
            owner="w",
        )
        elsewhere = ledger.record([Settlement(refused, Event.REFUSED, [bad_request], None, "400", 400)], owner="x")
        with ledger.engine.connect() as conn:
            found: dict[int, tuple[str, int | None]] = {
                r[0]: (r[1], r[2])
                for r in conn.execute(text("SELECT id, state, http_status FROM rows WHERE job_id = :j"), {"j": job})
            }
            last_attempt = conn.execute(
                text("SELECT outcome, http_status FROM attempts WHERE row_id = :i ORDER BY id DESC LIMIT 1"),
                {"i": refused},
            ).one()
    finally:
        ledger.close()
    assert found[refused] == ("failed", 400)
    assert tuple(last_attempt) == ("refused", 400)  # the attempt the recovery called lost has its reply
    assert found[not_taken][0] == "pending"
    for row_id in (other_owner, has_call_id, ambiguous_reply):
        assert found[row_id][0] == "uncertain", row_id
    assert found[has_outcome][0] == "queued"  # a callback proved it queued, whatever a reply said
    assert sorted(c.row_id for c in conflicts) == sorted([other_owner, has_call_id, has_outcome, ambiguous_reply])
    assert [c.row_id for c in elsewhere] == [refused]  # failed now: nothing moves it again
