"""A caller's code word: a few digits she chooses, asked before anything about her
appointment is shown, cancelled or moved by text or phone, because whoever holds her
phone can read and write as her. Kept only as an Argon2 hash; wrong tries are counted,
and after ``MAX_FAILURES`` nothing more is tried until the staff clear it.
"""
from __future__ import annotations

import re
from datetime import datetime
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from scheduling import audit, crypto
from scheduling.models import Actor, Client

MIN_DIGITS, MAX_DIGITS = 4, 8
MAX_FAILURES = 3
# A code of 4-8 digits is guessed by trying, not by cracking a hash: what protects it is
# the count of wrong tries. Lighter settings than the staff passwords' keep a text's
# answer quick; they are still OWASP's minimum for Argon2id.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_SEPARATORS = re.compile(r"[\s\-.]")


class Status(str, Enum):
    none = "none"  # she has no code word
    set = "set"
    locked = "locked"  # too many wrong tries: only the staff can help now


class Check(str, Enum):
    ok = "ok"
    wrong = "wrong"
    locked = "locked"


def as_code(text: str) -> str | None:
    """The digits she typed ("1234", "12 34", "12-34"), or None if it is not a code word.
    ``text`` is already normalised: digits in any script are ASCII."""
    digits = _SEPARATORS.sub("", text or "")
    if MIN_DIGITS <= len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit():
        return digits
    return None


def hash_code(code: str) -> str:
    # Keyed first (PHONE_HASH_KEY): a 4-8 digit code would otherwise fall to a search
    # of a stolen database copy in minutes, Argon2 or not.
    return _hasher.hash(crypto.keyring().pepper(code))


def matches(code_hash: str | None, code: str) -> bool:
    if not code_hash:
        return False
    try:
        return _hasher.verify(code_hash, crypto.keyring().pepper(code))
    except (VerificationError, InvalidHashError):
        return False


def status(client: Client) -> Status:
    if not client.code_word_hash:
        return Status.none
    if (client.code_word_failures or 0) >= MAX_FAILURES:
        return Status.locked
    return Status.set


def set_code_word(session: Session, client: Client, code: str, now: datetime) -> None:
    if as_code(code) != code:
        raise ValueError("a code word is 4 to 8 digits")
    client.code_word_hash = hash_code(code)
    client.code_word_failures = 0
    audit.record(session, at=now, actor=Actor.caller, action="code_word_set", details={"client": client.id})


def check_code_word(session: Session, client: Client, code: str, now: datetime) -> Check:
    """Her try at the code word. Once locked, even the right code opens nothing: else the
    count would not stop someone trying every code."""
    current = status(client)
    if current is Status.none:
        return Check.ok
    if current is Status.locked:
        return Check.locked
    if matches(client.code_word_hash, code):
        client.code_word_failures = 0
        return Check.ok
    client.code_word_failures = (client.code_word_failures or 0) + 1
    if client.code_word_failures >= MAX_FAILURES:
        audit.record(session, at=now, actor=Actor.caller, action="code_word_locked", details={"client": client.id})
        return Check.locked
    return Check.wrong


def clear_code_word(session: Session, client: Client, staff_id: int | None, now: datetime) -> None:
    """She forgot her code word, or it was locked: a staff member who has spoken with her
    clears it (and the count of wrong tries). She can choose a new one by text."""
    client.code_word_hash = None
    client.code_word_failures = 0
    audit.record(session, at=now, actor=Actor.staff, actor_staff_id=staff_id, action="code_word_cleared",
                 details={"client": client.id})
