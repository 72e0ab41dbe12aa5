"""Named connection profiles: where Insight is, as whom, and where that account's key is kept.

A profile lives in ``./batchqueue.toml`` or, failing that, in the user's configuration folder
(``$XDG_CONFIG_HOME/batchqueue/config.toml``, by default ``~/.config/batchqueue/config.toml``)::

    [profiles.sandbox]
    base_url = "http://127.0.0.1:8099/api"
    user = "demo@example.com"
    api_key_env = "SANDBOX_KEY"            # the NAME of the environment variable holding the key

    [profiles.production]
    base_url = "https://insight.plumvoice.com/api"
    user = "ops@example.com"
    api_key_file = "~/.config/batchqueue/production.key"    # readable by its owner only (0600)

The key itself is never written in the file: a profile with ``api_key`` is refused. Chosen with
``--profile NAME`` or ``BATCHQUEUE_PROFILE``; :class:`batchqueue.settings.Settings` reads it.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from batchqueue.errors import UsageError

_KEYS = {"base_url", "user", "api_key_env", "api_key_file"}


@dataclass(frozen=True)
class Profile:
    """A profile as found, its key already read (kept as text only until it is wrapped as a Secret)."""

    name: str
    source: Path
    base_url: str | None
    user: str | None
    api_key: str | None


def config_files(environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where profiles are looked for, first found first."""
    home = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
    return [cwd / "batchqueue.toml", Path(home) / "batchqueue" / "config.toml"]


def load_profile(name: str, environ: Mapping[str, str], cwd: Path) -> Profile:
    """The profile ``name`` from the first configuration file that exists; UsageError otherwise."""
    searched = config_files(environ, cwd)
    found = next((p for p in searched if p.is_file()), None)
    if found is None:
        raise UsageError(f"profile {name!r}: no configuration file (looked for {', '.join(str(p) for p in searched)})")
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{found}: cannot be read as TOML ({exc})") from None
    profiles = data.get("profiles")
    if not isinstance(profiles, dict) or not isinstance(profiles.get(name), dict):
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) and profiles else "none"
        raise UsageError(f"{found}: no profile {name!r} (profiles there: {known})")
    table = profiles[name]
    where = f"{found} [profiles.{name}]"
    if "api_key" in table:
        raise UsageError(f"{where}: never write the key itself in the file; use api_key_env or api_key_file")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    if not all(isinstance(v, str) for v in table.values()):
        raise UsageError(f"{where}: every value must be a string")
    return Profile(name, found, table.get("base_url"), table.get("user"), _key(table, environ, where))


def _key(table: Mapping[str, str], environ: Mapping[str, str], where: str) -> str | None:
    if "api_key_env" in table and "api_key_file" in table:
        raise UsageError(f"{where}: give api_key_env or api_key_file, not both")
    if "api_key_env" in table:
        variable = table["api_key_env"]
        if variable not in environ:
            raise UsageError(f"{where}: the environment variable {variable} (api_key_env) is not set")
        return environ[variable]
    if "api_key_file" in table:
        path = Path(table["api_key_file"]).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError:
            raise UsageError(f"{where}: api_key_file {path} cannot be read") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(f"{where}: api_key_file {path} is readable by others; make it 0600 (chmod 600)")
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise UsageError(f"{where}: api_key_file {path} cannot be read") from None
    return None
