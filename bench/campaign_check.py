"""The campaign export through the command line with its default mapping, and an independent count
of what went wrong in the calls the sandbox recorded.

The export (``tests/realistic_files.crm_campaign_workbook``: 1,800 valid contacts, 55 with an
``Ext.``, 1,485 with a ``Call After`` date) is checked, imported and sent to the sandbox with no
mapping option at all, as a new user would; ``campaign_check`` (which knows the truth from the file's
own making, not from batchqueue) counts the calls whose extension or start is wrong, and the
numbers called twice.

Run: python bench/campaign_check.py [any extra import options, such as --column start=none]
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batchqueue.sandbox import Sandbox, SandboxConfig
from tests.realistic_files import campaign_check, crm_campaign_workbook


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="campaign-"))
    try:
        book = folder / "northwind-campaign.xlsx"
        truth = crm_campaign_workbook(book, dt.datetime.now(dt.UTC))
        sandbox = Sandbox(SandboxConfig()).start()
        env = {
            **os.environ,
            "BATCHQUEUE_DB": str(folder / "ledger.db"),
            "BATCHQUEUE_BASE_URL": sandbox.api_url,
            "BATCHQUEUE_USER": sandbox.config.user,
            "BATCHQUEUE_API_KEY": sandbox.config.key,
        }
        cli = [sys.executable, "-m", "batchqueue"]
        imported = subprocess.run(
            [*cli, "import", str(book), "--survey", "4242", "--instance", "1", *sys.argv[1:]],
            env=env,
            capture_output=True,
            text=True,
        )
        print(imported.stdout + imported.stderr)
        sent = subprocess.run(
            [*cli, "run", "1", "--rate", "0", "--concurrency", "16", "--quiet"], env=env, capture_output=True, text=True
        )
        print(sent.stdout + sent.stderr)
        found = campaign_check(sandbox.app.store.dump(), truth)
        sandbox.stop()
        print(f"calls recorded by the sandbox: {found.calls}; valid contacts called: {found.valid_called} of 1800")
        print(f"numbers called twice: {found.numbers_called_twice}; invalid rows called: {found.not_valid_called}")
        print(f"wrong extension: {found.wrong_extension} of {found.with_extension} calls to contacts with one")
        print(f"wrong start: {found.wrong_start} of {found.dated} calls to contacts with a Call After date")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
