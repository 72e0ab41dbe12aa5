"""``sandbox``: a local stand-in for the Insight API, for demos, tests and rehearsals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from batchqueue.cli.options import FiniteFloat, listen_options
from batchqueue.cli.output import check_writable, write_port_file
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError

_FAULT_HELP = {
    "latency": "Seconds added to every reply, before the call is recorded.",
    "latency_after": "Seconds between recording a call and replying.",
    "p_400": "Probability of refusing the data (400).",
    "p_500_before": "Probability of a 500 before recording the call.",
    "p_500_after": "Probability of recording the call, then a 500.",
    "p_drop_before": "Probability of dropping the connection before recording.",
    "p_drop_after": "Probability of recording, then dropping the connection.",
    "p_timeout_after": "Probability of recording, then replying only after --slow-reply seconds.",
    "slow_reply": "Seconds a slow reply takes.",
    "p_429": "Probability of a 429.",
    "p_report_500": "Probability of a 500 for a page of the survey report.",
    "p_report_429": "Probability of a 429 for a page of the survey report.",
}


@click.command()
@listen_options(DEFAULTS.sandbox_port)
@click.option("--user", default=DEFAULTS.sandbox_user, show_default=True)
@click.option("--key", default=DEFAULTS.sandbox_key, show_default=True)
@click.option(
    "--survey",
    "surveys",
    multiple=True,
    default=["4242:1"],
    show_default=True,
    metavar="ID:INSTANCE",
    help="A survey and its current instance (repeatable).",
)
@click.option("--seed", type=int, help="Seed of the fault dice (default 0).")
@click.option("--revoke-after", type=click.IntRange(1), help="Answer 401 from the Nth queue request on.")
@click.option("--cap-after", type=click.IntRange(0), help="Answer 409 once N calls were accepted.")
@click.option("--retry-after", type=FiniteFloat(0), help="Retry-After of a 429 (default 1 s).")
@click.option("--threads", type=click.IntRange(1, 512), default=DEFAULTS.sandbox_threads, show_default=True)
@click.option(
    "--complete-after",
    type=FiniteFloat(0),
    help="End each accepted call after this many seconds "
    "and post its result_url callback (default: calls stay queued).",
)
@click.option(
    "--outcomes", default=DEFAULTS.sandbox_outcomes, show_default=True, help="How calls end: status=weight pairs."
)
@click.option(
    "--callback-encoding",
    type=click.Choice(["form", "multipart", "json"]),
    default=DEFAULTS.sandbox_callback_encoding,
    show_default=True,
    help="How callbacks are encoded (Insight does not document it).",
)
@click.option(
    "--report-timezone",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="The zone the survey report (GET /api/report/<survey id>) writes Start and End in.",
)
def sandbox(
    host: str,
    port: int,
    port_file: Path | None,
    user: str,
    key: str,
    surveys: tuple[str, ...],
    threads: int,
    complete_after: float | None,
    outcomes: str,
    callback_encoding: str,
    report_timezone: str,
    **fault_values: Any,
) -> int:
    """Serve a local stand-in for the Insight API, faithful to its documented rules, with faults."""
    from batchqueue.service.sandbox import SandboxRequest
    from batchqueue.service.sandbox import sandbox as build

    if port_file is not None:
        check_writable(port_file, "--port-file")
    parsed = {}
    for item in surveys:
        sid, sep, iid = item.partition(":")
        if not sep or not sid or not iid:
            raise UsageError(f"--survey {item!r}: expected ID:INSTANCE, e.g. 4242:1")
        parsed[sid] = iid
    request = SandboxRequest(
        host=host,
        port=port,
        user=user,
        key=key,
        surveys=parsed,
        threads=threads,
        complete_after=complete_after,
        outcomes=_weights(outcomes),
        callback_encoding=callback_encoding,
        faults={k: v for k, v in fault_values.items() if v is not None},
        report_timezone=_zone(report_timezone),
    )
    server = build(request)
    click.echo(
        f"Insight sandbox on {server.api_url}  (user {user}, key {key}; surveys "
        f"{', '.join(f'{s}/{i}' for s, i in parsed.items())}); record at {server.url}/_sandbox/calls; "
        f"survey reports at {server.api_url}/report/<survey id>"
    )
    write_port_file(port_file, server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _zone(name: str) -> str:
    from batchqueue.service.zones import canonical_zone

    try:
        zone = canonical_zone(name)
    except ValueError as exc:
        raise UsageError(f"--report-timezone: {exc}") from None
    if zone.startswith("UTC") and zone != "UTC":
        raise UsageError("--report-timezone: give an IANA name (such as America/New_York)")
    return zone


def _weights(text: str) -> tuple[tuple[str, float], ...]:
    pairs = []
    for item in text.split(","):
        status, sep, weight = item.partition("=")
        try:
            pairs.append((status.strip(), float(weight)))
        except ValueError:
            raise UsageError(
                f"--outcomes {text!r}: expected status=weight pairs, e.g. completed=0.8,failed=0.2"
            ) from None
        if not sep or not status.strip():
            raise UsageError(f"--outcomes {text!r}: expected status=weight pairs")
    total = sum(w for _, w in pairs)
    if total <= 0:
        raise UsageError("--outcomes: the weights must add up to more than 0")
    return tuple((s, w / total) for s, w in pairs)


for _name, _help in reversed(_FAULT_HELP.items()):
    sandbox = click.option(f"--{_name.replace('_', '-')}", _name, type=FiniteFloat(0), help=_help)(sandbox)

COMMANDS = [sandbox]
