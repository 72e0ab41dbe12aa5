"""The console's users: created from the command line (``batchqueue user add``), checked at login.

Passwords are hashed with argon2id (argon2-cffi's defaults); only the hash is stored, in the
ledger. A login for a user that does not exist still verifies a hash, so the reply takes as long
either way and does not tell which names exist.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from batchqueue.errors import UsageError
from batchqueue.ledger import Ledger
from batchqueue.service.context import ledger_for
from batchqueue.settings import Settings

MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_HASHER = PasswordHasher()
_NOBODY = _HASHER.hash("not anyone's password")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(f"user name {name!r}: 1 to 64 letters, digits and . _ @ + - (starting with a letter or digit)")
    return name


def add_user(settings: Settings, name: str, password: str) -> bool:
    """Create the user (or set a new password); True when it is new."""
    check_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters")
    with ledger_for(settings, create=True) as ledger:
        return ledger.put_user(name, _HASHER.hash(password))


def authenticate(ledger: Ledger, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s (as slow for an unknown name as for a known one)."""
    stored = ledger.password_hash(name) if _NAME.fullmatch(name) else None
    try:
        return _HASHER.verify(stored or _NOBODY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
