"""``console`` (the web console, with the callback endpoint beside it) and ``user add|list|remove``."""

from __future__ import annotations

import ipaddress
import secrets
import sys
import time
from pathlib import Path

import click

from batchqueue.cli.options import ca_bundle_option, db_option, listen_options, settings
from batchqueue.cli.output import check_writable, write_port_file
from batchqueue.defaults import DEFAULTS

DEMO_USER = "demo"


@click.command()
@listen_options(DEFAULTS.console_port)
@click.option(
    "--public-url",
    help="The console's address as Insight and browsers reach it: runs started from the console get "
    "their callbacks there; an https:// address makes the session cookie Secure.",
)
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep uploads, run logs and the session key: in a private subfolder "
    "batchqueue-console made inside it (default: beside an SQLite ledger, else ./batchqueue-console).",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(1, 10_000),
    default=DEFAULTS.console_max_upload_mb,
    show_default=True,
    help="Largest spreadsheet accepted.",
)
@click.option(
    "--trusted-proxy",
    metavar="ADDRESS",
    callback=lambda _ctx, _param, value: _ip_address(value),
    help="The reverse proxy's address: its X-Forwarded-For header (read from the right) names each "
    "client, for the login limits; from any other address the header is ignored.",
)
@click.option(
    "--keep-files-days",
    type=click.IntRange(1, 36500),
    default=DEFAULTS.console_keep_files_days,
    show_default=True,
    help="Uploads and run logs not changed for this many days are removed (at start, then every hour).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Also start the built-in sandbox and send to it, with a user 'demo' (its password is printed).",
)
@ca_bundle_option
@db_option
def console(
    host: str,
    port: int,
    port_file: Path | None,
    public_url: str | None,
    folder: Path | None,
    max_upload_mb: int,
    trusted_proxy: str | None,
    keep_files_days: int,
    demo: bool,
    ca_bundle: str | None,
    profile: str | None,
    db: str | None,
) -> int:
    """Serve the web console: upload, check, import, send, watch and download, in a browser.

    Users log in with accounts made by `batchqueue user add`. Result callbacks are received on the
    same address (under /cb/), so runs started from the console learn their calls' outcomes.
    """
    from dataclasses import replace

    from batchqueue.console.server import ConsoleRequest, serve_console
    from batchqueue.service.app import Secret, base_url
    from batchqueue.service.context import target_of
    from batchqueue.service.users import add_user

    if port_file is not None:
        check_writable(port_file, "--port-file")
    config = settings(db, ca_bundle, profile)
    sandbox = None
    if demo:
        from batchqueue.service.sandbox import SandboxRequest
        from batchqueue.service.sandbox import sandbox as bind_sandbox

        sandbox = bind_sandbox(SandboxRequest(port=0, complete_after=2.0)).start()
        config = replace(
            config,
            base_url=sandbox.api_url,
            user=DEFAULTS.sandbox_user,
            api_key=Secret(DEFAULTS.sandbox_key),
            profile=None,
            profile_source=None,
        )
        password = secrets.token_urlsafe(9)
        add_user(config, DEMO_USER, password)
    request = ConsoleRequest(
        host=host,
        port=port,
        folder=folder,
        public_url=base_url(public_url, where="--public-url") if public_url else None,
        max_upload=max_upload_mb * 1024 * 1024,
        trusted_proxy=trusted_proxy,
        keep_files_days=keep_files_days,
    )
    served = serve_console(config, request)
    if demo and request.public_url is None:
        served.ctx.public_url = served.url  # the sandbox posts its callbacks to the console itself
    try:
        click.echo(f"console on {served.url}  (callbacks on {served.url}/cb/…)")
        click.echo(f"runs send to {target_of(config)}")
        if demo and sandbox is not None:
            click.echo(f"demo: sending to the built-in sandbox at {sandbox.url}; log in as {DEMO_USER} / {password}")
        write_port_file(port_file, served.port)
        served.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        served.close()
        if sandbox is not None:
            sandbox.stop()
    return 0


def _ip_address(value: str | None) -> str | None:
    """An IP address as waitress compares it with a connection's (its canonical text)."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address (such as 10.0.0.5)") from None


@click.group()
def user() -> None:
    """The web console's users."""


@user.command("add")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts) instead of asking."
)
@db_option
def user_add(name: str, password_stdin: bool, db: str | None) -> int:
    """Create a console user NAME, or give NAME a new password (which ends every session of NAME);
    the password is asked for, never an option."""
    from batchqueue.service.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    created = add_user(settings(db), name, password)
    click.echo(f"user {name} created" if created else f"user {name} has a new password; their sessions have ended")
    return 0


@user.command("list")
@db_option
def user_list(db: str | None) -> int:
    """The console's users, and when each was made."""
    from batchqueue.service.users import list_users

    found = list_users(settings(db))
    if not found:
        click.echo("no console users yet (batchqueue user add NAME makes one)")
        return 0
    click.echo(f"{'user':<24} created")
    for each in found:
        click.echo(f"{each.name:<24} {time.strftime('%Y-%m-%d %H:%M', time.localtime(each.created_at))}")
    return 0


@user.command("remove")
@click.argument("name")
@db_option
def user_remove(name: str, db: str | None) -> int:
    """Remove console user NAME: it can no longer log in, and every session of it ends at once."""
    from batchqueue.service.users import remove_user

    remove_user(settings(db), name)
    click.echo(f"user {name} removed; their sessions have ended")
    return 0


COMMANDS = [console, user]
