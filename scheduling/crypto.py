"""Phone numbers at rest: encrypted (Fernet, with rotatable keys), and for finding a caller
by her number a keyed hash (HMAC-SHA256). A copy of the database alone does not tell who
contacted the centre.

The keys come from ``PHONE_KEYS`` (comma-separated Fernet keys: the first encrypts, every
one decrypts) and ``PHONE_HASH_KEY``. Outside production, when they are unset, keys are
made once and kept in ``instance/``, so a local run and the tests need no setup. The web
app, the worker and the migrations read them the same way (``keys_from_env``).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, Text, bindparam, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

INSTANCE = Path(__file__).resolve().parents[1] / "instance"


class MissingPhoneKeys(RuntimeError):
    pass


class UnreadableNumber(RuntimeError):
    """A stored number none of the keys opens: a key was dropped from PHONE_KEYS too early."""


@dataclass(frozen=True)
class PhoneKeys:
    fernet_keys: tuple[str, ...]
    hash_key: str

    @classmethod
    def parse(cls, phone_keys: str, hash_key: str) -> PhoneKeys:
        keys = tuple(key.strip() for key in phone_keys.split(",") if key.strip())
        if not keys:
            raise MissingPhoneKeys("PHONE_KEYS holds no key")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except ValueError:
                # Never the key itself in a message that may end up in a log.
                raise ValueError(f"PHONE_KEYS: key {position} is not a Fernet key "
                                 "(32 url-safe base64-encoded bytes, see docs/production.md)") from None
        if not hash_key.strip():
            raise MissingPhoneKeys("PHONE_HASH_KEY is empty")
        return cls(keys, hash_key.strip())


def keys_from_env(environ: Mapping[str, str] | None = None, instance: Path = INSTANCE) -> PhoneKeys:
    """The keys as configured; outside production, unset keys come from (or are made once
    into) files in ``instance/``."""
    env = os.environ if environ is None else environ
    phone_keys = env.get("PHONE_KEYS", "").strip()
    hash_key = env.get("PHONE_HASH_KEY", "").strip()
    if env.get("LINJA_ENV", "development") == "production":
        missing = [name for name, value in (("PHONE_KEYS", phone_keys), ("PHONE_HASH_KEY", hash_key)) if not value]
        if missing:
            raise MissingPhoneKeys(f"{' and '.join(missing)} must be set when LINJA_ENV=production")
    phone_keys = phone_keys or _local_key(instance / "phone_keys", lambda: Fernet.generate_key().decode())
    hash_key = hash_key or _local_key(instance / "phone_hash_key", lambda: secrets.token_hex(32))
    return PhoneKeys.parse(phone_keys, hash_key)


def _local_key(path: Path, make: Callable[[], str]) -> str:
    """Read the key kept at ``path``, or make it. Processes starting together (the web app,
    a worker, a test run) all end up with the one key that was written first."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(make())
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)  # fails if another process got there first
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return path.read_text().strip()


class Keyring:
    def __init__(self, keys: PhoneKeys):
        self._fernet = MultiFernet([Fernet(key) for key in keys.fernet_keys])
        self._hash_key = keys.hash_key.encode()

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise UnreadableNumber(
                "a stored phone number opens with none of PHONE_KEYS: was a key removed before "
                "`flask rotate-phone-keys` ran?") from None

    def rotate(self, token: str) -> str:
        """The same number, encrypted again with the first key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise UnreadableNumber("a stored phone number opens with none of PHONE_KEYS") from None

    def hash(self, phone_e164: str) -> str:
        return hmac.new(self._hash_key, phone_e164.encode(), hashlib.sha256).hexdigest()

    def pepper(self, secret: str) -> str:
        """A short secret (her code word) keyed with the hash key before it is hashed, so
        a copy of the database alone cannot be searched for four digits in minutes."""
        return hmac.new(self._hash_key, b"code-word:" + secret.encode(), hashlib.sha256).hexdigest()


_keyring: Keyring | None = None
_lock = threading.Lock()


def configure(keys: PhoneKeys) -> None:
    """Use these keys in this process (the app calls this at start)."""
    global _keyring
    with _lock:
        _keyring = Keyring(keys)


def keyring() -> Keyring:
    """The process's keys; read from the environment (or instance/) on first use when
    nothing configured them, as in a migration or a script."""
    global _keyring
    if _keyring is None:
        with _lock:
            if _keyring is None:
                _keyring = Keyring(keys_from_env())
    return _keyring


def phone_hash(phone_e164: str) -> str:
    """The keyed hash a caller is looked up by (hex, 64 characters)."""
    return keyring().hash(phone_e164)


def rotate_keys(session: Session, columns: Iterable[Column], *, batch: int = 500) -> int:
    """Encrypt every value of these ``EncryptedText`` columns again with the first key, so
    the older keys can be dropped from PHONE_KEYS. Returns how many values were rewritten."""
    ring, rotated = keyring(), 0
    for column in columns:
        table = column.table
        (key,) = table.primary_key.columns
        stored = type_coerce(column, Text)  # the ciphertext as stored, not decrypted
        rewrite = (update(table).where(key == bindparam("row_key"))
                   .values({column.name: type_coerce(bindparam("token"), Text)}))
        last = None
        while True:
            query = select(key, stored).where(column.is_not(None)).order_by(key).limit(batch)
            rows = session.execute(query if last is None else query.where(key > last)).all()
            if not rows:
                break
            session.execute(rewrite, [{"row_key": row_key, "token": ring.rotate(token)} for row_key, token in rows])
            rotated += len(rows)
            last = rows[-1][0]
    session.flush()
    return rotated


# Comparing ciphertexts in SQL finds nothing (every encryption differs), so such a query
# is an error rather than a silent miss.
_REFUSED = {
    operators.eq, operators.ne, operators.lt, operators.le, operators.gt, operators.ge,
    operators.like_op, operators.not_like_op, operators.ilike_op, operators.not_ilike_op,
    operators.in_op, operators.not_in_op, operators.startswith_op, operators.endswith_op,
    operators.contains_op, operators.between_op, operators.concat_op,
}


class EncryptedText(TypeDecorator):
    """A string stored encrypted; Python code reads and writes it in clear. It cannot be
    searched: find a caller by ``Client.phone_hash`` (``scheduling.clients.find_client``)."""

    impl = Text
    cache_ok = True

    class comparator_factory(Text.Comparator):
        def operate(self, op, *other, **kwargs):
            if op in _REFUSED and not (op in (operators.eq, operators.ne) and other and other[0] is None):
                raise TypeError("an encrypted column cannot be compared in SQL; "
                                "look callers up with scheduling.clients.find_client")
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value: str | None, dialect):
        return None if value is None else keyring().encrypt(value)

    def process_result_value(self, value: str | None, dialect):
        return None if value is None else keyring().decrypt(value)
