"""The ``batchqueue`` command: each command parses its options, calls one service function, prints.

Errors are translated to exit codes here and only here (see :func:`main`), through the one map in
:mod:`batchqueue.exits`. Command modules import nothing heavy at start-up (the service layer is
imported when a command runs), so ``batchqueue --help`` answers at once.
"""

from __future__ import annotations

import os
import sys

import click

from batchqueue import __version__
from batchqueue.cli.options import config_options
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import BatchqueueError, EnvironmentFailure
from batchqueue.exits import EXIT_ENVIRONMENT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, exit_code_for
from batchqueue.logs import FORMATS, LEVELS, configure, scrub


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="batchqueue")
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default=DEFAULTS.log_level,
    show_default=True,
    help="How much to log on stderr (never mixed with --json on stdout).",
)
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default=DEFAULTS.log_format,
    show_default=True,
    help="Log lines as text or JSON.",
)
@config_options
def cli(log_level: str, log_format: str) -> None:
    """Contact spreadsheets to Insight outbound survey calls, through a durable ledger.

    Typical use: check a file, import it as a job, run the job, then see its status.

    --db, --profile and --ca-bundle may be given here, before the command, or after it.
    """
    configure(log_level, log_format)


def _register() -> None:
    """Every command of every command module (``cli/*_cmd.py``, ``cli/*_cmds.py``: its ``COMMANDS``):
    a new module is found, not listed (``--help`` lists commands by name)."""
    import importlib

    files = {entry.name for folder in __path__ for entry in os.scandir(folder)}
    for name in sorted(file.removesuffix(".py") for file in files if file.endswith(("_cmd.py", "_cmds.py"))):
        module = importlib.import_module(f"{__name__}.{name}")
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def _environment_message(error: BaseException) -> str:
    from batchqueue.exits import is_database_error
    from batchqueue.service.values import printable

    if is_database_error(error):
        return f"the ledger's database failed: {printable(str(getattr(error, 'orig', error)), 300)}"
    if type(error).__module__ == "sqlite3":
        return f"the ledger's database failed: {printable(str(error), 300)}"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return str(error)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, map any error to its exit code and one message (never a traceback).

    Under ``--json`` the message is also printed on stdout as ``{"error": {…}}`` (see ``cli/output``).
    """
    from batchqueue.cli.output import emit_json_error, start_command
    from batchqueue.exits import is_database_error

    args = sys.argv[1:] if argv is None else argv
    start_command()
    failure: str | None = None  # every message scrubbed like a log line
    try:
        code = cli.main(args=args, prog_name="batchqueue", standalone_mode=False)
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code if exc.exit_code != 1 else 2
        failure = scrub(exc.format_message())
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)
        code, failure = EXIT_INTERRUPTED, "interrupted"
    except BatchqueueError as exc:
        failure = scrub(_environment_message(exc) if isinstance(exc, EnvironmentFailure) else str(exc))
        click.echo(f"error: {failure}", err=True)
        code = exit_code_for(exc)
    except Exception as exc:
        if exit_code_for(exc) == EXIT_ENVIRONMENT or is_database_error(exc):
            failure = scrub(_environment_message(exc))
            click.echo(f"error: {failure}", err=True)
            code = EXIT_ENVIRONMENT
        else:  # a bug: one line for the user, the traceback only when asked for
            from batchqueue.service.values import printable

            failure = scrub(
                f"internal error ({type(exc).__name__}: {printable(str(exc), 300)}); this is a bug in batchqueue "
                "— please report it (BATCHQUEUE_DEBUG=1 shows the traceback)"
            )
            if os.environ.get("BATCHQUEUE_DEBUG"):
                import traceback

                click.echo(scrub(traceback.format_exc()), err=True, nl=False)
            else:
                click.echo(failure, err=True)
            code = EXIT_INTERNAL
    if failure is not None:
        emit_json_error(code if isinstance(code, int) else EXIT_INTERNAL, failure, args)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
