"""What every action needs: the ledger, opened and closed; the Insight client, checked first."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from batchqueue.defaults import DEFAULTS
from batchqueue.ledger import Job, open_ledger
from batchqueue.logs import register_secret
from batchqueue.settings import check_credentials, check_target, redact_url

if TYPE_CHECKING:
    from batchqueue.insight.client import InsightClient
    from batchqueue.ledger import Ledger
    from batchqueue.service.app import Face

log = logging.getLogger(__name__)


@contextmanager
def ledger_for(face: Face, *, create: bool = False, writing: bool = False) -> Iterator[Ledger]:
    """The ledger of ``face``: an application's own (left open: the application closes it), or one
    opened for ``settings`` and closed (its connections released) when the block ends.

    ``create`` or ``writing`` (an action that writes rows): a damaged SQLite ledger is refused first
    (an application checks its ledger when it opens it).
    """
    from batchqueue.service.app import Batchqueue

    if isinstance(face, Batchqueue):
        yield face.ledger
        return
    ledger = open_ledger(face.db_url, create=create, check=create or writing)
    try:
        yield ledger
    finally:
        ledger.close()


def target_of(face: Face, job: Job | None = None) -> str:
    """Where requests go, in words: base URL, survey/instance, user (never the key)."""
    from batchqueue.service.app import settings_of

    settings = settings_of(face)
    if not settings.base_url:
        return "nowhere: no Insight address chosen (BATCHQUEUE_BASE_URL or a profile)"
    where = redact_url(settings.base_url)
    if job is not None:
        where += f", survey {job.survey_id} instance {job.instance_id}"
    who = f"{where}, as {settings.user or '(no user)'}"
    if settings.profile:
        source = f" from {settings.profile_source}" if settings.profile_source else ""
        who += f" (profile {settings.profile}{source})"
    return who


def insight_client(
    face: Face,
    *,
    pool_size: int = 1,
    connect_timeout: float = DEFAULTS.connect_timeout,
    read_timeout: float = DEFAULTS.read_timeout,
) -> InsightClient:
    """A client for Insight, after checking the credentials can be sent at all (a UsageError if not)."""
    from batchqueue.insight.client import InsightClient  # requests: only for commands that call Insight
    from batchqueue.service.app import settings_of

    settings = settings_of(face)
    target = check_target(settings)
    check_credentials(settings)
    register_secret(settings.api_key.reveal())
    return InsightClient(
        target,
        settings.user,
        settings.api_key,
        pool_size=pool_size,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        deadline=connect_timeout + read_timeout + 5,
        ca_bundle=settings.ca_bundle,
    )
