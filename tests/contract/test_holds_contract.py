"""Held rows counted by reason, on SQLite and PostgreSQL (the contract fixture pattern of
tests/contract/test_ledger_contract.py): real ledgers migrated by Alembic, real claims."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from batchqueue.holds import FOREVER, HoldReason
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import ClaimContext, Claimed, Ledger, open_ledger
from batchqueue.ledger.database import alembic_config, write
from batchqueue.ledger.sending import Verdict
from tests.sandbox_helpers import contacts


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path) -> Iterator[Ledger]:
    ledger = open_ledger(ledger_url)
    assert import_file(ledger, contacts(tmp_path / "c.csv", 12), MappingSpec(), survey_id="7", instance_id="1").job_id
    yield ledger
    ledger.engine.dispose()


def _holding(plan: dict[int, tuple[HoldReason | None, float, str]], started: float):  # type: ignore[no-untyped-def]
    """A send-time rule holding the rows of ``plan`` (row number → reason, seconds from ``started``
    or FOREVER, particulars) and sending the others."""

    def review(rows: list[Claimed], ctx: ClaimContext) -> list[Verdict]:
        verdicts = []
        for row in rows:
            if row.row_number not in plan:
                verdicts.append(Verdict())
                continue
            reason, later, detail = plan[row.row_number]
            until = FOREVER if later == FOREVER else started + later
            verdicts.append(Verdict(send=False, hold_until=until, hold=reason, reason=detail))
        return verdicts

    return review


def _stored(ledger: Ledger) -> dict[int, tuple[str | None, str | None]]:
    with ledger.engine.connect() as conn:
        found = conn.execute(text("SELECT row_number, hold_reason, hold_detail FROM rows WHERE job_id = 1"))
        return {n: (why, detail) for n, why, detail in found if why is not None}


def test_holds_are_counted_by_reason_each_with_its_first_row(ledger: Ledger) -> None:
    started = time.time()
    plan: dict[int, tuple[HoldReason | None, float, str]] = {
        2: (HoldReason.CALLING_WINDOW, 7200, "opens B"),
        3: (HoldReason.CALLING_WINDOW, 3600, "opens A"),  # the first of its reason to open
        4: (HoldReason.CALLING_WINDOW, 3600, "opens A too"),  # as early, a later row: not the one named
        5: (HoldReason.STATE_CAP, 5400, "FL allows 3 calls in 24 hours"),
        6: (HoldReason.NO_ZONE, FOREVER, "nothing maps this number to a place"),
        7: (None, 600, "even numbers wait"),  # a rule that names no reason
    }
    ledger.claim(1, 12, review=_holding(plan, started))
    assert _stored(ledger)[5] == ("state_cap", "FL allows 3 calls in 24 hours")
    assert _stored(ledger)[7] == ("send_time_rule", "even numbers wait")

    holds = ledger.holds(1, started)
    said = [(g.reason, g.rows, g.next_at, g.detail) for g in holds.groups]
    assert said == [
        (HoldReason.CALLING_WINDOW, 3, pytest.approx(started + 3600), "opens A"),
        (HoldReason.NO_ZONE, 1, None, "nothing maps this number to a place"),
        (HoldReason.SEND_TIME_RULE, 1, pytest.approx(started + 600), "even numbers wait"),
        (HoldReason.STATE_CAP, 1, pytest.approx(started + 5400), "FL allows 3 calls in 24 hours"),
    ]
    assert holds.rows == 6
    assert holds.next_at == pytest.approx(started + 600)
    # Past a hold's end it is no longer counted (its row may be claimed again).
    assert [g.reason for g in ledger.holds(1, started + 4000).groups] == [
        HoldReason.CALLING_WINDOW,
        HoldReason.NO_ZONE,
        HoldReason.STATE_CAP,
    ]
    assert ledger.holds(1, started + 4000).groups[0].detail == "opens B"

    assert ledger.release_holds(1) == 6
    assert _stored(ledger) == {}
    assert ledger.holds(1, started).groups == ()


def test_a_reason_this_version_does_not_know_is_counted_as_unknown(ledger: Ledger) -> None:
    started = time.time()
    ledger.claim(1, 3, review=_holding({2: (HoldReason.NO_ZONE, 60, "x"), 3: (HoldReason.NO_ZONE, 90, "y")}, started))
    with write(ledger.engine) as conn:  # as a newer version (or an older one) may have left it
        conn.execute(text("UPDATE rows SET hold_reason = 'a_reason_from_the_future' WHERE row_number = 2"))
        conn.execute(text("UPDATE rows SET hold_reason = NULL WHERE row_number = 3"))
    found = ledger.holds(1, started).groups
    assert [(g.reason, g.rows) for g in found] == [(HoldReason.UNKNOWN, 2)]
    assert found[0].next_at == pytest.approx(started + 60)
    assert found[0].detail == "x"


def test_the_upgrade_reads_the_reasons_earlier_versions_wrote_and_the_downgrade_gives_them_back(ledger: Ledger) -> None:
    started = time.time()
    with write(ledger.engine) as conn:
        command.downgrade(alembic_config(ledger.engine, conn), "0014")
    earlier = {  # the texts 0014's code wrote, word for word
        2: "calling hours: its window opens 2026-12-04 14:00 UTC",
        3: "no time zone: nothing maps this number to a place; import with --default-timezone",
        4: "its own end comes before any allowed calling time (America/New_York, column)",
        5: "state cap: FL allows 3 calls in 24 hours (Fla. Stat. 501.616); 3 may fall within 24 hours",
        6: "the windows of two send-time rules do not meet",
        7: "even numbers wait",
        8: None,  # held with no reason at all
    }
    with write(ledger.engine) as conn:
        for number, why in earlier.items():
            conn.execute(
                text("UPDATE rows SET not_before = :at, hold_reason = :why WHERE row_number = :n"),
                {"at": started + 600, "why": why, "n": number},
            )
        command.upgrade(alembic_config(ledger.engine, conn), "head")
    assert _stored(ledger) == {
        2: ("calling_window", earlier[2]),
        3: ("no_zone", earlier[3]),
        4: ("no_calling_time", earlier[4]),
        5: ("state_cap", earlier[5]),
        6: ("rules_disagree", earlier[6]),
        7: ("send_time_rule", earlier[7]),
        8: ("unknown", None),
    }
    assert ledger.holds(1, started).rows == 7
    with write(ledger.engine) as conn:
        command.downgrade(alembic_config(ledger.engine, conn), "0014")
    with ledger.engine.connect() as conn:
        back: dict[int, str | None] = dict(
            conn.execute(text("SELECT row_number, hold_reason FROM rows WHERE not_before IS NOT NULL")).all()
        )
    assert back == earlier
    with write(ledger.engine) as conn:
        command.upgrade(alembic_config(ledger.engine, conn), "head")
