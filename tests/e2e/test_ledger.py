"""The ledger: Alembic migrations, PRAGMAs, schema check, idempotent and atomic imports."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from batchqueue.errors import LedgerError, SchemaOutdatedError
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.resolve import ResolvedMapping
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.rules import BoundRule, RowRule
from batchqueue.ledger import open_ledger
from batchqueue.ledger.database import SCHEMA_REVISION, alembic_config, head_revision, open_engine
from tests.conftest import write_csv


def test_empty_database_upgrades_to_head_and_models_match_migrations(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'l.db'}")
    assert head_revision(engine) == SCHEMA_REVISION
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_REVISION
        # `alembic check` compares the models with the migrated schema and raises on any drift.
        command.check(alembic_config(engine, conn))


def test_sqlite_connections_are_durable(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'l.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        busy_timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert busy_timeout is not None
        assert busy_timeout >= 5000


def test_a_ledger_on_another_schema_is_refused_with_the_upgrade_command(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "old.db"
    open_ledger(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(SchemaOutdatedError, match="batchqueue db upgrade"):
        open_ledger(f"sqlite:///{db}")
    result = run_cli("status", "--db", db)
    assert result.code == 2
    assert "batchqueue db upgrade --db" in result.err
    assert "Traceback" not in result.err


def test_status_does_not_create_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger"):
        open_ledger(f"sqlite:///{tmp_path / 'none.db'}", create=False)
    assert not (tmp_path / "none.db").exists()


def _contacts(path: Path, n: int) -> Path:
    rows: list[list[object]] = [["phone", "name"]]
    rows += [[f"617{200 + i // 10000:03d}{i % 10000:04d}", f"n{i}"] for i in range(n)]
    rows.append(["bad", "x"])
    return write_csv(path, rows)


def test_import_accounts_for_every_row_and_is_idempotent(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    src = _contacts(tmp_path / "c.csv", 50)
    first = import_file(ledger, src, MappingSpec(), survey_id="9", instance_id="1")
    assert first.created
    assert (first.rows, first.valid, first.invalid) == (51, 50, 1)
    again = import_file(ledger, src, MappingSpec(), survey_id="9", instance_id="1")
    assert (again.job_id, again.created, again.rows, again.valid) == (first.job_id, False, 51, 50)
    other_mapping = import_file(ledger, src, MappingSpec(no_metadata=True), survey_id="9", instance_id="1")
    assert other_mapping.created
    assert other_mapping.job_id != first.job_id
    forced = import_file(ledger, src, MappingSpec(), survey_id="9", instance_id="1", new_job=True)
    assert forced.created
    assert forced.job_id not in (first.job_id, other_mapping.job_id)
    assert first.job_id is not None
    counts = ledger.counts(first.job_id)
    assert counts == {
        "pending": 50,
        "sending": 0,
        "queued": 0,
        "failed": 0,
        "uncertain": 0,
        "invalid": 1,
        "duplicate": 0,
        "canceled": 0,
        "filtered": 0,
        "suppressed": 0,
    }
    with ledger.engine.connect() as conn:
        tokens = [r[0] for r in conn.execute(text("SELECT token FROM rows WHERE state = 'pending'"))]
    assert len(set(tokens)) == 150
    assert all(len(t) == 32 for t in tokens)


def test_a_killed_import_leaves_no_half_job(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    src = _contacts(tmp_path / "big.csv", 400_000)
    cmd = [
        sys.executable,
        "-m",
        "batchqueue",
        "import",
        str(src),
        "--survey",
        "1",
        "--instance",
        "1",
        "--db",
        str(db),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 60
    # Rows are being written once the uncommitted transaction spills pages into the WAL.
    while time.monotonic() < deadline and proc.poll() is None and (not wal.exists() or wal.stat().st_size < 4 << 20):
        time.sleep(0.01)
    assert proc.poll() is None, "the import finished before it could be killed; make the file bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ledger = open_ledger(f"sqlite:///{db}")
    assert ledger.jobs() == []
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert conn.exec_driver_sql("SELECT count(*) FROM rows").scalar() == 0
    done = import_file(ledger, src, MappingSpec(), survey_id="1", instance_id="1")
    assert done.created
    assert done.rows == 400_001


def test_db_upgrade_migrates_an_old_ledger_after_a_backup(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from batchqueue.ledger.database import create_ledger_engine, write

    db = tmp_path / "old.db"
    engine = create_ledger_engine(f"sqlite:///{db}")
    with write(engine) as conn:
        command.upgrade(alembic_config(engine, conn), "0001")
        conn.exec_driver_sql(
            "INSERT INTO jobs (id, survey_id, instance_id, source_name, source_sha256, source_kind, headers, mapping, "
            "fingerprint, created_at) VALUES (1, '9', '1', 'old.csv', 'x', 'csv', '[\"phone\"]', '{}', 'f', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO rows (job_id, row_number, cells, phone_number, state, created_at) "
            "VALUES (1, 2, '[\"6175550101\"]', 'tel:+16175550101', 'queued', 0)"
        )
    engine.dispose()
    refused = run_cli("status", "1", "--db", db)
    assert refused.code == 2
    assert "0001" in refused.err
    done = run_cli("db", "upgrade", "--db", db)
    assert done.code == 0, done.err
    assert "backup written to" in done.out
    assert list(tmp_path.glob("old.db.0001.*.bak"))
    status = run_cli("status", "1", "--db", db, "--json").json()
    assert status["counts"]["queued"] == 1


def test_parallel_import_writes_exactly_what_the_serial_one_does(tmp_path: Path) -> None:
    rows: list[list[object]] = [["phone", "name", "start"]]
    for i in range(12_000):
        phone = ["(617) 555-%04d" % (i % 9000), "12", "", "+44 20 7946 0958", "617.555.0101 x9"][i % 5]
        rows.append([phone, f"n{i}", "2099-01-01 09:00" if i % 7 else "soon"])
        if i % 1000 == 0:
            rows.append(["", "", ""])
    src = write_csv(tmp_path / "c.csv", rows)
    tables = []
    for parallel in (False, True):
        ledger = open_ledger(f"sqlite:///{tmp_path / f'{parallel}.db'}")
        result = import_file(ledger, src, MappingSpec(), survey_id="1", instance_id="1", parallel=parallel)
        with ledger.engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT row_number, cells, phone_number, e164, start_ts, state, reasons, duplicate_of, "
                    "length(token) "
                    "FROM rows ORDER BY id"
                )
            ).all()
        tables.append(
            (
                result.rows,
                result.valid,
                result.invalid,
                result.duplicate,
                result.blank,
                [str(p) for p in result.problems],
                stored,
            )
        )
        ledger.engine.dispose()
    assert tables[0] == tables[1]
    assert tables[0][2] > 0  # invalid rows were there to compare
    assert tables[0][3] > 0  # and duplicates


def test_parallel_import_stores_every_cell_of_the_common_rows_as_the_serial_one_does(tmp_path: Path) -> None:
    # The helper sends a plain valid row's cells joined by \x1f (the writer makes their JSON):
    # cells holding that separator, its escape as text, backslashes, quotes and other control
    # characters must come out exactly as the serial import stores them.
    awkward = ["a\x1fb", "\x1eleading mark", "back\\slash", "lit\\u001f", 'q"uote', "é😀", "tab\tcr\r", "", "\x1f"]
    rows: list[list[object]] = [["phone", "name", "note"]]
    for i in range(12_000):
        rows.append(["(617) 555-%04d" % (i % 9000), awkward[i % len(awkward)], awkward[(i // 9) % len(awkward)]])
    src = write_csv(tmp_path / "c.csv", rows)
    stored = []
    for parallel in (False, True):
        ledger = open_ledger(f"sqlite:///{tmp_path / f'{parallel}.db'}")
        import_file(ledger, src, MappingSpec(), survey_id="1", instance_id="1", parallel=parallel)
        with ledger.engine.connect() as conn:
            stored.append(conn.execute(text("SELECT row_number, cells, state FROM rows ORDER BY id")).all())
        ledger.engine.dispose()
    assert stored[0] == stored[1]
    cells = {json.loads(row.cells)[1] for row in stored[1]}
    assert cells == set(awkward)


class _LooksAtEveryRow:
    """A rule that changes nothing but makes the validator take its general path for every row."""

    name: str = "looks-at-every-row"
    per_row: bool = True

    def bind(self, headers: list[str], mapping: ResolvedMapping) -> BoundRule:
        return lambda draft: []


@pytest.mark.parametrize(
    "defaults",
    [{}, {"max_attempts": "3", "reattempt_wait": "600", "result_url": "https://cb.example/r", "end": "2099-01-01"}],
)
def test_the_fast_path_writes_exactly_what_the_general_path_does(tmp_path: Path, defaults: dict[str, str]) -> None:
    rows: list[list[object]] = [["phone", "name"]]
    for i in range(9_000):
        phone = ["(617) 555-%04d" % (i % 4000), "12", "", "+44 20 7946 0958", "617.555.0101 x9", "6175550102"][i % 6]
        rows.append([phone, f"n{i}"])
    src = write_csv(tmp_path / "c.csv", rows)
    stored = []
    cases: list[tuple[str, tuple[RowRule, ...], bool]] = [
        ("fast", (), False),
        ("general", (_LooksAtEveryRow(),), False),
        ("helper", (), True),
    ]
    for label, rules, parallel in cases:
        ledger = open_ledger(f"sqlite:///{tmp_path / f'{label}.db'}")
        result = import_file(ledger, src, MappingSpec(), survey_id="1", instance_id="1", rules=rules, parallel=parallel)
        with ledger.engine.connect() as conn:
            records = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM rows ORDER BY id"))]
        for record in records:
            assert record.pop("token") is None or len(record["e164"] or "") > 0
            del record["created_at"]
        stored.append(((result.valid, result.invalid, result.duplicate), records))
        ledger.engine.dispose()
    assert stored[0] == stored[1] == stored[2]
    counts = stored[0][0]
    assert counts[0] > 1000
    assert counts[1] > 0
    assert counts[2] > 0


def test_a_workbook_imports_the_same_through_the_helper(tmp_path: Path) -> None:
    """With a helper, this process reads only the header (streamed); the helper reads the sheet."""
    from tests.realistic_files import crm_workbook

    book = crm_workbook(tmp_path / "crm.xlsx")
    stored = []
    for parallel in (False, True):
        ledger = open_ledger(f"sqlite:///{tmp_path / f'{parallel}.db'}")
        result = import_file(ledger, book, MappingSpec(), survey_id="1", instance_id="1", parallel=parallel)
        with ledger.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT row_number, cells, phone_number, state, facts FROM rows ORDER BY id")
            ).all()
        stored.append((result.header_row, [s.row for s in result.skipped_rows], result.valid, rows))
        ledger.engine.dispose()
    assert stored[0] == stored[1]
    assert stored[0][0] == 5
    assert stored[0][2] == 7


def test_every_migration_down_and_up_again_keeps_the_jobs_and_their_rows(ledger_url: str, tmp_path: Path) -> None:
    """A downgrade (the way back from a bad upgrade) loses no job and no row: on SQLite, a migration
    that rebuilds ``jobs`` (alembic's batch mode) drops the table, and the foreign keys' ON DELETE
    CASCADE would take every row of every job with it."""
    from alembic.script import ScriptDirectory

    from batchqueue.ledger.database import write

    ledger = open_ledger(ledger_url)
    try:
        assert import_file(
            ledger, _contacts(tmp_path / "c.csv", 20), MappingSpec(), survey_id="9", instance_id="1"
        ).job_id

        def kept() -> tuple[int, int]:
            with ledger.engine.connect() as conn:
                return (
                    int(conn.exec_driver_sql("SELECT COUNT(*) FROM jobs").scalar_one()),
                    int(conn.exec_driver_sql("SELECT COUNT(*) FROM rows").scalar_one()),
                )

        assert kept() == (1, 21)
        with ledger.engine.connect() as conn:
            revisions = [
                s.revision for s in ScriptDirectory.from_config(alembic_config(ledger.engine, conn)).walk_revisions()
            ]
        for below in revisions[1:]:  # newest first: each step down, to the first revision
            with write(ledger.engine) as conn:
                command.downgrade(alembic_config(ledger.engine, conn), below)
            assert kept() == (1, 21), f"down to {below}"
        with write(ledger.engine) as conn:
            command.upgrade(alembic_config(ledger.engine, conn), "head")
        assert kept() == (1, 21)
    finally:
        ledger.close()
