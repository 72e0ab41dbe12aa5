"""The one validated settings object; the only module that reads the environment.

Usage::

    settings = Settings.from_env(os.environ, db="ledger.db")
    ledger = open_ledger(settings.db_url)
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from batchqueue.errors import UsageError
from batchqueue.logs import register_secret

DEFAULT_DB = "batchqueue.db"
#: Insight's production address: a profile without a base_url sends there; nothing else does unless told.
DEFAULT_BASE_URL = "https://insight.plumvoice.com/api"

ENV_DB = "BATCHQUEUE_DB"
ENV_BASE_URL = "BATCHQUEUE_BASE_URL"
ENV_USER = "BATCHQUEUE_USER"
ENV_API_KEY = "BATCHQUEUE_API_KEY"
ENV_CA_BUNDLE = "BATCHQUEUE_CA_BUNDLE"
ENV_PROFILE = "BATCHQUEUE_PROFILE"


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


def redact_url(url: str) -> str:
    """``url`` with any user or password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = "***@" + host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def base_url(value: str, *, where: str = ENV_BASE_URL) -> str:
    """A validated Insight base URL: http(s), a host, a valid port, no credentials inside it."""
    value = value.strip().rstrip("/")
    shown = redact_url(value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{where} {shown!r} is not a usable URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"{where} must start with http:// or https://, got {shown!r}")
    if not parts.hostname:
        raise UsageError(f"{where} {shown!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"{where} {shown!r} carries credentials: remove them and set {ENV_USER} and {ENV_API_KEY} instead"
        )
    if port == 0:
        raise UsageError(f"{where} {shown!r}: port 0 cannot be connected to")
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def finite(value: float, option: str) -> float:
    """``value`` if it is a real number; a UsageError naming ``option`` for nan and infinities."""
    if not math.isfinite(value):
        raise UsageError(f"{option} must be a finite number, got {value}")
    return value


def credential_problem(value: str) -> str | None:
    """What makes ``value`` unusable as an HTTP Basic user or key, in words; None if nothing.

    The words never repeat the value: callers name where it came from (a variable, a file).
    """
    if "\x00" in value:
        return "holds a NUL byte"
    if any(ch in value for ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        return "holds more than one line"
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return "holds a control character"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "holds characters HTTP Basic authentication cannot carry (only Latin-1)"
    return None


def no_target_message() -> str:
    """What a command that would call Insight says when no address was chosen (never production by default)."""
    return (
        f"no Insight address chosen: nothing is sent until you say where. Choose one: the built-in sandbox "
        f"(run `batchqueue sandbox` and set {ENV_BASE_URL} to the URL it prints, such as "
        f"http://127.0.0.1:8099/api), a profile (--profile NAME, or {ENV_PROFILE}), or Insight itself, written "
        f"out once: export {ENV_BASE_URL}={DEFAULT_BASE_URL}"
    )


def check_target(settings: Settings) -> str:
    """The chosen base URL; a UsageError saying how to choose one when there is none."""
    if not settings.base_url:
        raise UsageError(no_target_message())
    return settings.base_url


def check_credentials(settings: Settings) -> None:
    """Refuse credentials HTTP Basic cannot carry (Latin-1 only), before anything is sent.

    A profile's user and key were checked as it was read, naming its file; a profile never falls
    back to ``BATCHQUEUE_USER`` or ``BATCHQUEUE_API_KEY``.
    """
    user, api_key, profile = settings.user, settings.api_key, settings.profile
    if (not user or not api_key) and profile:
        raise UsageError(f"profile {profile!r} needs a user, and an api_key_env or api_key_file for its key")
    if not user or not api_key:
        raise UsageError(f"set {ENV_USER} (the Insight login e-mail) and {ENV_API_KEY} (its developer key)")
    for name, value in ((ENV_USER, user), (ENV_API_KEY, api_key.reveal())):
        problem = credential_problem(value)
        if problem:
            raise UsageError(f"{name} {problem}; check that it was copied correctly")


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
    #: Where requests go; None: not chosen (no BATCHQUEUE_BASE_URL, no profile), so nothing is sent.
    base_url: str | None = None
    user: str = ""
    api_key: Secret = field(default_factory=lambda: Secret(""))
    ca_bundle: str | None = None
    profile: str | None = None  # the connection profile these came from, if any
    profile_source: str | None = None  # the file that profile was read from

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        db: str | None = None,
        ca_bundle: str | None = None,
        profile: str | None = None,
    ) -> Settings:
        """Settings from environment variables; explicit ``db`` and ``ca_bundle`` win over them.

        With a profile (``profile``, else ``BATCHQUEUE_PROFILE``; see :mod:`batchqueue.profiles`)
        its base URL, user and key are used instead of ``BATCHQUEUE_BASE_URL``/``_USER``/``_API_KEY``,
        never mixed with them. The key, wherever it came from, is kept out of every log line from
        the moment it is read.
        """
        environ = os.environ if environ is None else environ
        raw_db = db or environ.get(ENV_DB) or DEFAULT_DB
        ca_bundle = ca_bundle or environ.get(ENV_CA_BUNDLE) or None
        url, user, key = environ.get(ENV_BASE_URL), environ.get(ENV_USER, ""), environ.get(ENV_API_KEY, "")
        name = profile or environ.get(ENV_PROFILE) or None
        source, url_named = None, ENV_BASE_URL
        if name:
            from batchqueue.profiles import load_profile

            found = load_profile(name, environ, Path.cwd(), typed=bool(profile))
            url, user, key = found.base_url or DEFAULT_BASE_URL, found.user or "", found.api_key or ""
            source, url_named = str(found.source), f"{found.source} [profiles.{name}] base_url"
        register_secret(key)
        return cls(
            db_url=db_url(raw_db),
            base_url=base_url(url, where=url_named) if url else None,
            user=user,
            api_key=Secret(key),
            ca_bundle=ca_bundle_path(ca_bundle, "--ca-bundle / " + ENV_CA_BUNDLE) if ca_bundle else None,
            profile=name,
            profile_source=source,
        )

    def as_environ(self) -> dict[str, str]:
        """These settings as the environment of a child ``batchqueue`` process (the console's
        supervised runs): the child reads back exactly these, profile already resolved."""
        environ = {ENV_DB: self.db_url, ENV_BASE_URL: check_target(self), ENV_USER: self.user}
        environ[ENV_API_KEY] = self.api_key.reveal()
        if self.ca_bundle:
            environ[ENV_CA_BUNDLE] = self.ca_bundle
        return environ


def ca_bundle_path(value: str, where: str) -> str:
    """A readable PEM file of CA certificates to trust (a private CA, corporate TLS inspection)."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(f"{where} {value!r}: no such file (expected a PEM file of CA certificates)")
    return str(path)
