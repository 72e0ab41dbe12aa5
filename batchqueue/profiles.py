"""Named connection profiles: where Insight is, as whom, and where that account's key is kept.

Profiles live in the user's own configuration file (``$XDG_CONFIG_HOME/batchqueue/config.toml``,
by default ``~/.config/batchqueue/config.toml``) and in ``./batchqueue.toml`` of the current
folder::

    [profiles.sandbox]
    base_url = "http://127.0.0.1:8099/api"
    user = "demo@example.com"
    api_key_env = "BATCHQUEUE_SANDBOX_KEY"   # the NAME of the environment variable holding the key

    [profiles.production]
    base_url = "https://insight.plumvoice.com/api"
    user = "ops@example.com"
    api_key_file = "~/.config/batchqueue/production.key"    # its owner's only (0600); relative: beside this file

A profile decides where the key is sent, so (each rule closes a way a planted file captured it):

- the key itself is never written in the file (a profile with ``api_key`` is refused);
- a file is read only if it is yours and nobody else can write it or its folders
  (:mod:`batchqueue.owned_files`);
- a name both files define is refused, not resolved: the folder's file winning lets a file put
  in the folder redirect the user's own profile, and the user's file winning silently sends to a
  target the user may not have meant when the folder file was theirs; a rename settles it;
- ``BATCHQUEUE_PROFILE`` (which follows the user into every folder) picks only profiles of the
  user's own file; a profile of the folder's file must be named on the command line;
- ``api_key_env`` names only a variable kept for a batchqueue key (``BATCHQUEUE_…_KEY``), so no
  profile can send another secret of the environment (a cloud key, a database password) away.

Chosen with ``--profile NAME`` or ``BATCHQUEUE_PROFILE``; :class:`batchqueue.settings.Settings` reads it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.owned_files import read_own_file
from batchqueue.settings import ENV_PROFILE, credential_problem

_KEYS = {"base_url", "user", "api_key_env", "api_key_file"}
#: The variables a profile may take its key from: ones the user keeps for batchqueue keys.
_KEY_VARIABLE = re.compile(r"BATCHQUEUE_(?:[A-Z0-9]+_)*KEY")


@dataclass(frozen=True)
class Profile:
    """A profile as found, its key already read (kept as text only until it is wrapped as a Secret)."""

    name: str
    source: Path
    base_url: str | None
    user: str | None
    api_key: str | None


def config_files(environ: Mapping[str, str], cwd: Path) -> tuple[Path, Path]:
    """Where profiles are looked for: the current folder's file, and the user's own."""
    home = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
    return cwd / "batchqueue.toml", Path(home) / "batchqueue" / "config.toml"


def load_profile(name: str, environ: Mapping[str, str], cwd: Path, *, typed: bool) -> Profile:
    """The profile ``name``, its key read; a UsageError naming the file for anything wrong.

    ``typed``: the name was given on the command line (else it came from ``BATCHQUEUE_PROFILE``).
    """
    folder_file, own_file = config_files(environ, cwd)
    files = {path: _profiles_in(path) for path in _present(folder_file, own_file)}
    if not files:
        raise UsageError(f"profile {name!r}: no configuration file (looked for {folder_file}, {own_file})")
    defining = [path for path, profiles in files.items() if name in profiles]
    if not defining:
        where = " or ".join(f"{path} (profiles there: {', '.join(sorted(p)) or 'none'})" for path, p in files.items())
        raise UsageError(f"no profile {name!r} in {where}")
    if len(defining) > 1:
        raise UsageError(
            f"profile {name!r} is defined in both {folder_file} and {own_file}: batchqueue will not guess which "
            "one should receive your key; rename one of them"
        )
    source = defining[0]
    if source == folder_file and not typed:
        raise UsageError(
            f"{ENV_PROFILE}={name}: that profile is defined only in {folder_file}, in the current folder; the "
            f"environment variable picks profiles of your own configuration ({own_file}) only, as it follows you "
            f"into every folder. To use this one, name it: --profile {name}"
        )
    table = files[source][name]
    where = f"{source} [profiles.{name}]"
    _check(table, where)
    key = _key(table, environ, where, source.parent)
    return Profile(name, source, table.get("base_url"), _user(table, where), key)


def _present(folder_file: Path, own_file: Path) -> list[Path]:
    """The configuration files that exist (a dangling link counts: it is refused, not skipped)."""
    present = [path for path in (folder_file, own_file) if os.path.lexists(path)]
    if len(present) == 2:
        try:
            if folder_file.samefile(own_file):  # ./batchqueue.toml linked to the user's own file
                return [own_file]
        except OSError:
            pass
    return present


def _profiles_in(path: Path) -> dict[str, dict[str, str]]:
    raw = read_own_file(path, str(path), limit=DEFAULTS.profile_file_max_bytes, folders=True)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read as TOML ({exc})") from None
    profiles: Any = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise UsageError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    for name, table in profiles.items():
        if not isinstance(table, dict):
            raise UsageError(f"{path} [profiles.{name}]: must be a table (base_url, user, api_key_env or api_key_file)")
    return profiles


def _check(table: Mapping[str, Any], where: str) -> None:
    if "api_key" in table:
        raise UsageError(f"{where}: never write the key itself in the file; use api_key_env or api_key_file")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    if not all(isinstance(v, str) for v in table.values()):
        raise UsageError(f"{where}: every value must be a string")


def _user(table: Mapping[str, str], where: str) -> str | None:
    user = table.get("user")
    problem = credential_problem(user) if user else None
    if problem:
        raise UsageError(f"{where}: user {problem}")
    return user


def _key(table: Mapping[str, str], environ: Mapping[str, str], where: str, folder: Path) -> str | None:
    if "api_key_env" in table and "api_key_file" in table:
        raise UsageError(f"{where}: give api_key_env or api_key_file, not both")
    if "api_key_env" in table:
        variable = table["api_key_env"]
        if not _KEY_VARIABLE.fullmatch(variable):
            raise UsageError(
                f"{where}: api_key_env {variable!r} is not a variable kept for a batchqueue key: name one "
                "BATCHQUEUE_…_KEY (such as BATCHQUEUE_SANDBOX_KEY) that holds only the Insight key, so that no "
                "profile can send another secret of your environment to its base URL"
            )
        if variable not in environ:
            raise UsageError(f"{where}: the environment variable {variable} (api_key_env) is not set")
        return _usable(environ[variable], f"{where}: the environment variable {variable} (api_key_env)")
    if "api_key_file" in table:
        path = folder / Path(table["api_key_file"]).expanduser()  # a relative path: beside the profile file
        label = f"{where}: api_key_file {path}"
        raw = read_own_file(path, label, limit=DEFAULTS.key_file_max_bytes, private=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{label} is not UTF-8 text") from None
        return _usable(text.strip(), label)
    return None


def _usable(key: str, label: str) -> str:
    """``key`` if HTTP Basic can carry it; else a UsageError naming where it came from (never its bytes)."""
    if not key.strip():
        raise UsageError(f"{label} is empty")
    problem = credential_problem(key)
    if problem:
        raise UsageError(f"{label} {problem}; check that it was copied correctly")
    return key
