"""Staff passwords, hashed with Argon2id."""
from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _unknown_hash() -> str:
    return _hasher.hash("no one has this password")


def take_as_long_as_a_check(password: str) -> None:
    """When no staff member has the address given: a wrong address takes as long to refuse
    as a wrong password, so the answer's timing does not tell who works here."""
    check_password(_unknown_hash(), password)
