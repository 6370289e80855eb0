"""Which caller a desk page is about, named in its URL without her number.

A URL ends up in proxy logs and in the reception computer's browser history, so no phone
number is ever written into one. A caller Linja knows is named by her client id; a number
no caller has yet (a new caller the receptionist is booking for) is kept in the signed
session, encrypted, under a random reference that the URL carries instead. References
last a few hours and die with the session at sign-out.
"""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import session as cookie
from sqlalchemy.orm import Session

from scheduling.clients import find_client
from scheduling.crypto import UnreadableNumber, keyring
from scheduling.models import Client
from staff.labels import is_id

KEY = "desk_numbers"
# References per session, the oldest dropped first: each is about 150 bytes of a cookie
# that must stay under 4 kB.
KEPT = 6
LIFETIME = timedelta(hours=4)


@dataclass(frozen=True)
class Caller:
    """Who a desk page is about: her number, and her client record if she has one."""

    phone_e164: str
    client: Client | None
    reference: str | None = None

    @property
    def url_args(self) -> dict[str, str | int]:
        """How a URL names her: by client id once she is a client, else by the reference."""
        return {"client": self.client.id} if self.client is not None else {"ref": self.reference}


def reference_for(session: Session, phone_e164: str, now: datetime) -> dict[str, str | int]:
    """The query arguments that name this number in a URL: ``client`` for a known caller,
    otherwise ``ref``, a reference to the number kept in the session."""
    client = find_client(session, phone_e164)
    if client is not None:
        return {"client": client.id}
    return {"ref": _remember(phone_e164, now)}


def caller_from(args: Mapping[str, str], session: Session, now: datetime) -> Caller | None:
    """The caller the URL's ``client`` or ``ref`` names, or None (none given, an unknown
    id, an erased number, a reference that has expired or belongs to another session)."""
    raw_id = args.get("client", "")
    if is_id(raw_id):
        client = session.get(Client, int(raw_id))
        if client is None or client.phone_e164 is None:
            return None
        return Caller(client.phone_e164, client)
    reference = args.get("ref", "")
    phone_e164 = _recall(reference, now)
    if phone_e164 is None:
        return None
    # She may have become a client since (booked for, or she texted in).
    return Caller(phone_e164, find_client(session, phone_e164), reference)


def has_stale_reference(args: Mapping[str, str], caller: Caller | None) -> bool:
    """The URL names a caller who cannot be shown: a reference from before a sign-in, or too old."""
    return caller is None and bool(args.get("ref"))


def _remember(phone_e164: str, now: datetime) -> str:
    entries = _entries(now)
    # The same number keeps its reference, so a page open in another tab still works.
    same = [entry for entry in entries if _open(entry["number"]) == phone_e164]
    reference = same[0]["ref"] if same else secrets.token_urlsafe(12)
    kept = [entry for entry in entries if entry["ref"] != reference]
    kept.append({"ref": reference, "number": keyring().encrypt(phone_e164), "at": int(now.timestamp())})
    cookie[KEY] = kept[-KEPT:]
    return reference


def _recall(reference: str, now: datetime) -> str | None:
    if not reference or not reference.isascii():
        return None
    for entry in _entries(now):
        if secrets.compare_digest(entry["ref"], reference):
            return _open(entry["number"])
    return None


def _entries(now: datetime) -> list[dict]:
    entries = cookie.get(KEY)
    if not isinstance(entries, list):
        return []
    fresh = []
    for entry in entries:
        try:
            if now.timestamp() - int(entry["at"]) <= LIFETIME.total_seconds():
                fresh.append({"ref": str(entry["ref"]), "number": str(entry["number"]), "at": int(entry["at"])})
        except (KeyError, TypeError, ValueError):
            continue
    return fresh


def _open(token: str) -> str | None:
    try:
        return keyring().decrypt(token)
    except UnreadableNumber:
        return None
