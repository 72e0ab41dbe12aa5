"""Defaults and the one validated settings object; the only module that reads the environment.

Usage::

    settings = Settings.from_env(os.environ, db="ledger.db")
    engine = open_ledger(settings.db_url)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from batchqueue.errors import UsageError

DEFAULT_DB = "batchqueue.db"
DEFAULT_BASE_URL = "https://insight.plumvoice.com/api"
DEFAULT_REGION = "US"
DEFAULT_TIMEZONE = "UTC"

ENV_DB = "BATCHQUEUE_DB"
ENV_BASE_URL = "BATCHQUEUE_BASE_URL"
ENV_USER = "BATCHQUEUE_USER"
ENV_API_KEY = "BATCHQUEUE_API_KEY"


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or an f-string."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call only where it leaves for the wire."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__


def db_url(value: str) -> str:
    """Turn ``--db``'s value (a file path or an SQLAlchemy URL) into an SQLAlchemy URL."""
    if "://" in value:
        return value
    if not value.strip():
        raise UsageError("--db: the ledger path is empty")
    return f"sqlite:///{Path(value).expanduser()}"


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and how to reach Insight. Build it with :meth:`from_env`."""

    db_url: str = field(default_factory=lambda: db_url(DEFAULT_DB))
    base_url: str = DEFAULT_BASE_URL
    user: str = ""
    api_key: Secret = field(default_factory=lambda: Secret(""))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, db: str | None = None) -> Settings:
        """Settings from environment variables; an explicit ``db`` wins over ``BATCHQUEUE_DB``."""
        environ = os.environ if environ is None else environ
        raw_db = db or environ.get(ENV_DB) or DEFAULT_DB
        base = (environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise UsageError(f"{ENV_BASE_URL} must start with http:// or https://, got {base!r}")
        return cls(
            db_url=db_url(raw_db),
            base_url=base,
            user=environ.get(ENV_USER, ""),
            api_key=Secret(environ.get(ENV_API_KEY, "")),
        )
