"""The ``batchqueue`` command. Each command builds one library object, calls it, prints.

Errors are translated to exit codes here and only here (see :func:`main`).
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError

from batchqueue import __version__
from batchqueue.errors import (
    ApiUnavailableError,
    BatchFatalError,
    BatchqueueError,
    InputFileError,
    LedgerError,
    UsageError,
)

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_FATAL_REPLY, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="batchqueue")
def cli() -> None:
    """Contact spreadsheets to Insight outbound survey calls, through a durable ledger.

    Typical use: check a file, import it as a job, run the job, then see its status.
    """


def _register() -> None:
    from batchqueue.cli import db_cmds, export_cmd, load_cmds, outcome_cmds, run_cmds, sandbox_cmd, status_cmds

    for module in (load_cmds, run_cmds, status_cmds, outcome_cmds, export_cmd, sandbox_cmd, db_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def exit_code_for(error: BaseException) -> int:
    """The documented exit code of an error (DESIGN.md, "Command line")."""
    if isinstance(error, BatchFatalError):
        return EXIT_FATAL_REPLY
    if isinstance(error, ApiUnavailableError):
        return EXIT_UNAVAILABLE
    if isinstance(error, (UsageError, InputFileError, LedgerError, click.ClickException)):
        return EXIT_USAGE
    if isinstance(error, (KeyboardInterrupt, click.Abort)):
        return EXIT_INTERRUPTED
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, map any batchqueue error to its exit code and one message."""
    try:
        code = cli.main(args=argv, prog_name="batchqueue", standalone_mode=False)
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exit_code_for(exc)
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except BatchqueueError as exc:
        click.echo(f"error: {exc}", err=True)
        code = exit_code_for(exc)
    except DBAPIError as exc:  # the ledger's database failed mid-command (disk full, server gone…)
        click.echo(f"error: the ledger's database failed: {exc.orig}", err=True)
        code = EXIT_USAGE
    sys.exit(code if isinstance(code, int) else EXIT_OK)
