"""Options shared by several commands, and their translation into the service layer's requests.

Imported by every command module when ``batchqueue`` starts, so it stays light: nothing here
loads the ledger, the HTTP client or the phone-number data until a command runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from batchqueue.cli.output import remember_json
from batchqueue.errors import UsageError
from batchqueue.service.app import Settings
from batchqueue.service.mapping import FIELDS, MappingSpec, load_mapping_file, parse_delimiter

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloat(click.FloatRange):
    """A float range that also refuses ``nan`` and infinities (which compare as in range)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: Job ids are SQL integers: anything beyond 64 bits is a typo, not a job.
JOB_ID = click.IntRange(1, 2**63 - 1)
job_argument = click.argument("job_id", metavar="JOB", type=JOB_ID)

_MAPPING_FILE = click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML mapping file; options given here win over it.",
)
_PHONE_COLUMN = click.option(
    "--phone-column",
    help="The column holding the phone number (default: found by its name); several as A,B: the first valid.",
)
_REGION = click.option("--region", help="Region for numbers without a country code (default US).")
_REGION_COLUMN = click.option(
    "--region-column",
    metavar="COL",
    help="Each row's country (ISO code, name or dialing code; default: a column named like Country; none: off).",
)
_NULL = click.option(
    "--null",
    "nulls",
    multiple=True,
    metavar="TEXT",
    help="A cell equal to TEXT is empty (repeatable; \\N and NULL always).",
)
_HEADER_ROW = click.option(
    "--header-row",
    type=click.IntRange(1),
    metavar="N",
    help="The spreadsheet row number of the header (default: found among the first rows).",
)
_SHEET = click.option("--sheet", help="Excel sheet name, or its position (1 = first; default the first).")
_DELIMITER = click.option("--delimiter", help="CSV delimiter (default: sniffed among , ; TAB |).")

_MAPPING_OPTIONS = [
    _MAPPING_FILE,
    _PHONE_COLUMN,
    _REGION,
    _REGION_COLUMN,
    click.option("--timezone", help="Time zone of start/end values without an offset (default UTC)."),
    click.option(
        "--timezone-column",
        metavar="COL",
        help="Each row's time zone (IANA name, EST/PST, UTC+05:30; default: a column named like Time Zone; none: off).",
    ),
    click.option(
        "--zip-column",
        metavar="COL",
        help="Each row's US ZIP code, for its time zone and state (default: a column named like ZIP; none: off).",
    ),
    click.option(
        "--state-column",
        metavar="COL",
        help="Each row's US state (FL or Florida), one more of its states (default: a column named like State; "
        "none: off).",
    ),
    click.option(
        "--date-format",
        "date_formats",
        multiple=True,
        metavar="PATTERN",
        help="strftime pattern of the date cells, such as %d/%m/%Y %H:%M (repeatable; tried first).",
    ),
    click.option(
        "--dayfirst",
        is_flag=True,
        default=None,
        help="Read 12/03/2026 as 12 March (day first; default: the order the column's other dates show).",
    ),
    click.option("--monthfirst", is_flag=True, default=None, help="Read 12/03/2026 as 3 December (month first)."),
    _NULL,
    click.option(
        "--where",
        "where",
        multiple=True,
        metavar="EXPR",
        help="Import only rows where COL=VALUE, COL!=VALUE or COL in (A,B); the others are filtered (repeatable).",
    ),
    _HEADER_ROW,
    _SHEET,
    _DELIMITER,
    click.option(
        "--metadata", "metadata_columns", help="Comma-separated columns sent as metadata (default all others)."
    ),
    click.option("--no-metadata", is_flag=True, default=None, help="Send no metadata."),
    click.option(
        "--allow-duplicates", is_flag=True, default=None, help="Keep rows whose number repeats an earlier row."
    ),
    click.option(
        "--column",
        "field_columns",
        multiple=True,
        metavar="FIELD=COLUMN",
        help=f"Read a request field per row from a column; FIELD is one of {', '.join(FIELDS)} "
        "(columns named like them are found without it: FIELD=none takes none).",
    ),
    click.option("--ani", help="Caller id shown to every callee (job-wide)."),
    click.option("--postd", help="DTMF digits sent after connect (job-wide)."),
    click.option("--start", help="Earliest call time: ISO 8601 or unix seconds (job-wide)."),
    click.option("--end", help="Latest call time: ISO 8601 or unix seconds (job-wide)."),
    click.option("--max-attempts", help="Attempts per contact, 1-10 (job-wide)."),
    click.option("--reattempt-wait", help="Seconds between attempts; needed when max attempts > 1."),
    click.option("--result-url", help="Callback URL for every row (job-wide)."),
]
#: The mapping options that decide how a number is read (``dnc import`` takes them too).
_NUMBER_OPTIONS = [_MAPPING_FILE, _PHONE_COLUMN, _REGION, _REGION_COLUMN, _NULL, _HEADER_ROW, _SHEET, _DELIMITER]


def mapping_options(func: F) -> F:
    """Decorate a command with every mapping option."""
    for option in reversed(_MAPPING_OPTIONS):
        func = option(func)
    return func


def number_options(func: F) -> F:
    """Decorate a command with the mapping options that decide how a number is read."""
    for option in reversed(_NUMBER_OPTIONS):
        func = option(func)
    return func


def build_spec(opts: dict[str, Any]) -> MappingSpec:
    """A :class:`MappingSpec` from the mapping file (if any) with the command-line options over it."""
    path = opts.pop("mapping_file", None)
    base = load_mapping_file(path) if path else MappingSpec()
    columns: dict[str, str] = {}
    for item in opts.pop("field_columns", ()) or ():
        key, sep, column = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in FIELDS or not column.strip():
            raise UsageError(f"--column {item!r}: expected FIELD=COLUMN with FIELD one of {', '.join(FIELDS)}")
        columns[key] = column.strip()
    defaults = {key: opts.pop(key) for key in FIELDS if opts.get(key) is not None}
    for key in FIELDS:
        opts.pop(key, None)
    metadata = opts.pop("metadata_columns", None)
    return base.overridden_by(
        phone_column=opts.pop("phone_column", None),
        region=opts.pop("region", None),
        region_column=opts.pop("region_column", None),
        timezone=opts.pop("timezone", None),
        timezone_column=opts.pop("timezone_column", None),
        zip_column=opts.pop("zip_column", None),
        state_column=opts.pop("state_column", None),
        date_formats=tuple(opts.pop("date_formats", ()) or ()) or None,
        dayfirst=opts.pop("dayfirst", None),
        monthfirst=opts.pop("monthfirst", None),
        nulls=tuple(opts.pop("nulls", ()) or ()) or None,
        where=tuple(opts.pop("where", ()) or ()) or None,
        header_row=opts.pop("header_row", None),
        sheet=opts.pop("sheet", None),
        delimiter=parse_delimiter(opts.pop("delimiter", None)),
        metadata=tuple(c.strip() for c in metadata.split(",") if c.strip()) if metadata is not None else None,
        no_metadata=opts.pop("no_metadata", None),
        allow_duplicates=opts.pop("allow_duplicates", None),
        columns=columns or None,
        defaults=defaults or None,
    )


#: The options that say which ledger and which Insight account: declared once, here. The command group
#: takes them (``batchqueue --db x.db run 7``), and so do the commands that use them, after their name
#: (``batchqueue run 7 --db x.db``, as before); a value given after the command wins.
_CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "db": {
        "flag": "--db",
        "metavar": "PATH|URL",
        "help": "Ledger: a file path or SQLAlchemy URL (env BATCHQUEUE_DB; default batchqueue.db).",
    },
    "ca_bundle": {
        "flag": "--ca-bundle",
        "metavar": "PEM",
        "help": "Trust the CA certificates in this PEM file for Insight's TLS (a private CA, corporate TLS "
        "inspection; env BATCHQUEUE_CA_BUNDLE).",
    },
    "profile": {
        "flag": "--profile",
        "metavar": "NAME",
        "help": "Connect as the named profile of ~/.config/batchqueue/config.toml or ./batchqueue.toml "
        "(base URL, user, where the key is; env BATCHQUEUE_PROFILE, for the first file only).",
    },
}


def _config_option(name: str, **extra: Any) -> Callable[[F], F]:
    spec = dict(_CONFIG_OPTIONS[name])
    return click.option(spec.pop("flag"), name, **spec, **extra)


@dataclass
class CliConfig:
    """The group's ``--db``, ``--profile`` and ``--ca-bundle`` (rq's ``pass_cli_config``), kept on the
    root context for every command's :func:`settings`."""

    db: str | None = None
    ca_bundle: str | None = None
    profile: str | None = None


def _remember_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and param.name:
        setattr(ctx.ensure_object(CliConfig), param.name, value)


def config_options(func: F) -> F:
    """Decorate the command group with ``--db``, ``--profile`` and ``--ca-bundle``."""
    for name in reversed(_CONFIG_OPTIONS):
        func = _config_option(name, expose_value=False, callback=_remember_config)(func)
    return func


def _group_config() -> CliConfig:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().obj if ctx is not None else None
    return found if isinstance(found, CliConfig) else CliConfig()


db_option = _config_option("db")
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    is_eager=True,  # known before any other value is checked, so that a mistake in one is printed as JSON
    callback=remember_json,
    help='Print one JSON object on stdout (on failure, {"error": …}).',
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
_ca_bundle = _config_option("ca_bundle")
_profile = _config_option("profile")


def listen_options(default_port: int) -> Callable[[F], F]:
    """--host, --port (0: any free port) and --port-file, for a command that serves HTTP."""
    from batchqueue.defaults import DEFAULTS

    host = click.option(
        "--host", default=DEFAULTS.serve_host, show_default=True, help="Address to listen on (0.0.0.0 for all)."
    )
    port = click.option(
        "--port", type=click.IntRange(0, 65535), default=default_port, show_default=True, help="0 = any free port."
    )
    port_file = click.option(
        "--port-file", type=click.Path(dir_okay=False, path_type=Path), help="Write the port here once listening."
    )

    def apply(func: F) -> F:
        return host(port(port_file(func)))

    return apply


def ca_bundle_option(func: F) -> F:
    """The options of a command that talks to Insight: --ca-bundle and --profile."""
    return _ca_bundle(_profile(func))


def settings(db: str | None = None, ca_bundle: str | None = None, profile: str | None = None) -> Settings:
    """The settings of this command: its options (given after its name, else before it, to the
    group) over the environment."""
    group = _group_config()
    return Settings.from_env(
        db=db if db is not None else group.db,
        ca_bundle=ca_bundle if ca_bundle is not None else group.ca_bundle,
        profile=profile if profile is not None else group.profile,
    )


def comma_set(value: str | None) -> frozenset[str] | None:
    """``"failed, uncertain"`` → ``{"failed", "uncertain"}``; None stays None."""
    return frozenset(v.strip().lower() for v in value.split(",") if v.strip()) if value else None
