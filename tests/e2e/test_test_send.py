"""A test send: ``run --limit N`` sends N rows and stops; ``run --dry-run`` shows the exact
requests of the next rows (rules applied) and sends nothing, changes nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.sandbox import Sandbox
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, point_at

Run = Callable[..., CliResult]


def _ledger_fingerprint(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, state, attempts, updated_at, reasons, sent_start_ts FROM rows ORDER BY id")
        return [*rows, *conn.execute("SELECT COUNT(*) FROM attempts")]


def test_limit_sends_that_many_rows_and_stops(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    imported = run_cli("import", contacts(tmp_path / "c.csv", 20), "--survey", "4242", "--instance", "1", "--db", db)
    assert imported.code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        first = run_cli("run", "1", "--limit", "3", "--concurrency", "8", "--rate", "0", "--db", db, "--json")
        second = run_cli("run", "1", "--limit", "5", "--rate", "0", "--db", db, "--json")
        calls = sb.app.store.dump()
    assert first.code == 0, first.err
    assert (first.json()["sent"], first.json()["queued"], first.json()["pending"]) == (3, 3, 17)
    assert (second.json()["sent"], second.json()["queued"], second.json()["pending"]) == (5, 8, 12)
    assert len(calls) == 8
    # In file order: the first eight contacts, each once.
    assert sorted(c["phone_number"] for c in calls) == [f"tel:+16172000{i:03d}" for i in range(8)]


def test_dry_run_shows_what_the_next_claim_sends_and_changes_nothing(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    imported = run_cli("import", contacts(tmp_path / "c.csv", 10), "--survey", "4242", "--instance", "1", "--db", db)
    assert imported.code == 0
    assert run_cli("dnc", "add", "617-200-0001", "--db", db).code == 0  # listed after the import
    before = _ledger_fingerprint(db)
    url = "https://callbacks.example.org"
    shown = run_cli("run", "1", "--dry-run", "--limit", "3", "--public-url", url, "--db", db, "--json")
    assert shown.code == 0, shown.err
    preview = shown.json()
    assert _ledger_fingerprint(db) == before  # rolled back: not even the suppression is kept
    assert preview["suppressed"] == 1
    assert [r["row"] for r in preview["rows"]] == [2, 4, 5]  # row 3 (617-200-0001) is listed
    for row in preview["rows"]:
        assert row["fields"]["result_url"].endswith("/<token>")  # a callback token is a secret
    text = run_cli("run", "1", "--dry-run", "--db", db)
    assert "nothing is sent" in text.out
    assert "would be suppressed" in text.out

    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        sent = run_cli("run", "1", "--limit", "3", "--public-url", url, "--db", db, "--json")
        calls = sb.app.store.dump()
    assert sent.code == 0, sent.err
    # What the dry run showed is what was sent (but for the token).
    by_phone = {c["phone_number"]: c for c in calls}
    for row in preview["rows"]:
        call = by_phone[row["fields"]["phone_number"]]
        expected = {k: v for k, v in row["fields"].items() if not k.startswith("metadata[") and k != "result_url"}
        assert {k: v for k, v in call["fields"].items() if k in expected} == expected
        assert {f"metadata[{k}]": v for k, v in call["metadata"].items()} == {
            k: v for k, v in row["fields"].items() if k.startswith("metadata[")
        }
        assert call["result_url"].rsplit("/", 1)[0] == row["fields"]["result_url"].rsplit("/", 1)[0]
    assert sent.json()["suppressed"] == 1
