"""The console's users: created, listed and removed from the command line (``batchqueue user …``),
checked at login and on every request.

Passwords are hashed with argon2id (argon2-cffi's defaults); only the hash is stored, in the
ledger. A login for a user that does not exist still verifies a hash, so the reply takes as long
either way and does not tell which names exist.

A session carries its user's *session version*; it is valid only while the ledger holds the same
version for that user. Logging out, a new password and removing the user move the version on (or
remove it), so every session of that user ends at once, in every console serving the ledger.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from batchqueue.errors import UsageError
from batchqueue.ledger import Ledger
from batchqueue.ledger.console import ConsoleUser
from batchqueue.service.app import Face
from batchqueue.service.context import ledger_for

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ConsoleUser",
    "add_user",
    "authenticate",
    "check_name",
    "end_sessions",
    "list_users",
    "log_in",
    "remove_user",
    "session_is_current",
]

MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_HASHER = PasswordHasher()
_NOBODY = _HASHER.hash("not anyone's password")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(f"user name {name!r}: 1 to 64 letters, digits and . _ @ + - (starting with a letter or digit)")
    return name


def add_user(app: Face, name: str, password: str) -> bool:
    """Create the user (or set a new password, which ends every session of the user); True when it is new."""
    check_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters")
    with ledger_for(app, create=True) as ledger:
        return ledger.put_user(name, _HASHER.hash(password))


def remove_user(app: Face, name: str) -> None:
    """The user can no longer log in, and every session of it has ended (a UsageError for no such user)."""
    with ledger_for(app) as ledger:
        if not ledger.remove_user(name):
            raise UsageError(f"there is no console user named {name!r} (batchqueue user list shows them)")


def list_users(app: Face) -> list[ConsoleUser]:
    with ledger_for(app, create=True) as ledger:
        return ledger.users()


def log_in(ledger: Ledger, name: str, password: str) -> int | None:
    """The session version a session of ``name`` carries, when ``password`` is the user's; else None
    (as slow for an unknown name as for a known one)."""
    found = ledger.credentials(name) if _NAME.fullmatch(name) else None
    try:
        right = _HASHER.verify(found.password_hash if found else _NOBODY, password)
    except (VerificationError, InvalidHashError):
        return None
    return found.session_version if right and found is not None else None


def authenticate(ledger: Ledger, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s."""
    return log_in(ledger, name, password) is not None


def session_is_current(ledger: Ledger, name: object, version: object) -> bool:
    """Whether a session that says it is ``name``'s, at ``version``, is still valid."""
    if not isinstance(name, str) or type(version) is not int or not _NAME.fullmatch(name):
        return False
    return ledger.session_version(name) == version


def end_sessions(ledger: Ledger, name: str) -> None:
    """Every session of ``name`` ends (logging out ends them all, on every browser)."""
    ledger.end_sessions(name)
