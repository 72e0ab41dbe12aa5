"""The ``batchqueue`` command. Each command builds one library object, calls it, prints.

Errors are translated to exit codes here and only here (see :func:`main`).
"""

from __future__ import annotations

import os
import sqlite3
import sys

import click
from sqlalchemy.exc import DBAPIError

from batchqueue import __version__
from batchqueue.errors import ApiUnavailableError, BatchFatalError, BatchqueueError, EnvironmentFailure
from batchqueue.untrusted import printable

EXIT_OK, EXIT_USAGE, EXIT_FATAL_REPLY, EXIT_UNAVAILABLE, EXIT_ENVIRONMENT = 0, 2, 3, 4, 5
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130


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
    """The documented exit code of an error (README, "Exit codes")."""
    if isinstance(error, BatchFatalError):
        return EXIT_FATAL_REPLY
    if isinstance(error, ApiUnavailableError):
        return EXIT_UNAVAILABLE
    if isinstance(error, (EnvironmentFailure, DBAPIError, sqlite3.Error, OSError)):
        return EXIT_ENVIRONMENT
    if isinstance(error, (KeyboardInterrupt, click.Abort)):
        return EXIT_INTERRUPTED
    if isinstance(error, (BatchqueueError, click.ClickException)):
        return EXIT_USAGE
    return EXIT_INTERNAL


def _environment_message(error: BaseException) -> str:
    if isinstance(error, DBAPIError):
        return f"the ledger's database failed: {printable(str(error.orig), 300)}"
    if isinstance(error, sqlite3.Error):
        return f"the ledger's database failed: {printable(str(error), 300)}"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return str(error)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, map any error to its exit code and one message (never a traceback)."""
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
    except (EnvironmentFailure, DBAPIError, sqlite3.Error, OSError) as exc:
        click.echo(f"error: {_environment_message(exc)}", err=True)
        code = EXIT_ENVIRONMENT
    except BatchqueueError as exc:
        click.echo(f"error: {exc}", err=True)
        code = exit_code_for(exc)
    except Exception as exc:  # a bug: one line for the user, the traceback only when asked for
        if os.environ.get("BATCHQUEUE_DEBUG"):
            raise
        click.echo(
            f"internal error ({type(exc).__name__}: {printable(str(exc), 300)}); this is a bug in batchqueue — "
            "please report it (BATCHQUEUE_DEBUG=1 shows the traceback)",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else EXIT_OK)
