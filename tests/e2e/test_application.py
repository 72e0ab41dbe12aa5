"""The application object: one ledger, opened when first used, shared by every action given the
application, and closed with it; settings alone still open (and close) a ledger per action."""

from __future__ import annotations

from pathlib import Path

from batchqueue.service import rows
from batchqueue.service.app import Batchqueue
from batchqueue.service.context import ledger_for
from batchqueue.service.loading import ImportRequest, import_file
from batchqueue.service.mapping import MappingSpec
from batchqueue.settings import Settings
from tests.sandbox_helpers import contacts


def _settings(tmp_path: Path) -> Settings:
    return Settings.from_env(db=str(tmp_path / "app.db"))


def test_the_ledger_is_opened_on_first_use_only(tmp_path: Path) -> None:
    with Batchqueue(_settings(tmp_path), create=True) as app:
        assert not (tmp_path / "app.db").exists()  # nothing opened (nor made) yet
        assert not app.ledger_is_open
        ledger = app.ledger
        assert (tmp_path / "app.db").exists()
        assert app.ledger is ledger
    assert not app.ledger_is_open


def test_actions_given_the_application_share_its_one_ledger(tmp_path: Path) -> None:
    source = contacts(tmp_path / "c.csv", 3)
    with Batchqueue(_settings(tmp_path), create=True) as app:
        ledger = app.ledger
        imported = import_file(app, ImportRequest(source, MappingSpec(), "4242", "1"))
        assert imported.created
        assert imported.valid == 3
        assert imported.job_id is not None
        changed = rows.retry(app, rows.RetryRequest(imported.job_id))
        assert changed.changed == 0
        with ledger_for(app) as used:
            assert used is ledger  # the application's own, not a second one
        assert app.ledger is ledger
        assert ledger.counts(imported.job_id)["pending"] == 3  # still open: the action did not close it


def test_settings_alone_open_a_ledger_for_the_action_and_close_it(tmp_path: Path) -> None:
    source = contacts(tmp_path / "c.csv", 2)
    settings = _settings(tmp_path)
    assert import_file(settings, ImportRequest(source, MappingSpec(), "4242", "1")).valid == 2
    with Batchqueue(settings) as app, ledger_for(settings) as own:
        assert own is not app.ledger
