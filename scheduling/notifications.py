"""The outbox: every text to a caller is first a row here, written in the transaction of
the change that caused it, and sent later by the worker (see ``scheduling.sending``)."""
from __future__ import annotations

from datetime import datetime

import phonenumbers
from phonenumbers import NumberParseException
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scheduling.models import Client, OutboxMessage, OutboxStatus
from scheduling.phones import is_mobile, is_off_limits_type

PENDING = (OutboxStatus.pending,)

# Linja texts and calls only numbers in these countries, so nobody can make it text or
# ring premium numbers abroad. The app puts its ALLOWED_COUNTRIES in every session's
# ``info`` (see hotline.abuse.init_app); a session without them uses these.
DEFAULT_ALLOWED_COUNTRIES = ("NO", "SE", "DK", "FI")


def allowed_countries(session: Session) -> tuple[str, ...]:
    return tuple(session.info.get("allowed_countries", DEFAULT_ALLOWED_COUNTRIES))


def is_in_countries(phone_e164: str | None, countries) -> bool:
    """Is this number registered in one of ``countries`` (ISO codes, as "NO")?"""
    if not phone_e164:
        return False
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone_e164, None))
    except NumberParseException:
        return False
    return region is not None and region in set(countries)


def centre_numbers(session: Session) -> frozenset[str]:
    """The centre's own numbers (E.164): TWILIO_FROM, CENTRE_NUMBERS. The app puts them in
    every session's ``info`` (hotline.abuse.init_app)."""
    return frozenset(session.info.get("centre_numbers", ()))


def is_off_limits(session: Session, phone_e164: str | None) -> bool:
    """A number Linja never texts, calls or calls back, wherever it is: a premium-rate,
    shared-cost, toll-free, UAN, pager or voicemail-only number, or one of the centre's
    own (a text to it would answer itself)."""
    return not phone_e164 or is_off_limits_type(phone_e164) or phone_e164 in centre_numbers(session)


def may_contact(session: Session, phone_e164: str | None) -> bool:
    """May Linja text or call this number at all: in the allowed countries, and not off limits?"""
    return is_in_countries(phone_e164, allowed_countries(session)) and not is_off_limits(session, phone_e164)


def can_text(session: Session, client: Client | None) -> bool:
    """Can a text reach her: a number that takes texts, in the allowed countries, not off
    limits? (STOP is honoured when the text is sent; see scheduling.sending.)"""
    return (client is not None and client.phone_e164 is not None and is_mobile(client.phone_e164)
            and may_contact(session, client.phone_e164))


def queue_text(
    session: Session,
    client: Client | None,
    *,
    kind: str,
    template: str,
    now: datetime,
    due_at: datetime | None = None,
    params: dict | None = None,
    appointment_id: int | None = None,
    expires_at: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a text to ``client`` in her language; nothing for a caller without a number,
    whose number cannot receive texts (a landline), is abroad (outside the allowed
    countries) or off limits (``is_off_limits``). A reminder call goes through here too,
    so neither is ever placed to such a number."""
    if not can_text(session, client):
        return None
    message = OutboxMessage(
        client_id=client.id, appointment_id=appointment_id, kind=kind, template=template,
        params=params or {}, language_code=client.language_code, status=OutboxStatus.pending,
        due_at=due_at or now, expires_at=expires_at, attempts=0, created_at=now, updated_at=now,
    )
    session.add(message)
    return message


def change_params(start_at: datetime, counselor_id: int) -> dict:
    """The values of a text telling her of a change (booked, moved, cancelled) to a time
    that starts at ``start_at`` with ``counselor_id``. The worker names what she was told
    when it goes (scheduling.sending.compose); the desk's confirmation shows the same."""
    return {"when": start_at.isoformat(), "counselor": counselor_id}


def is_promised(session: Session, *, appointment_id: int) -> bool:
    """Is a text about a change to this appointment, that she was promised on the phone
    (``promised``), still to go (one ``withdraw`` would take back)?"""
    return any((params or {}).get("promised") for params in session.scalars(
        select(OutboxMessage.params).where(
            OutboxMessage.appointment_id == appointment_id, OutboxMessage.kind == "change",
            OutboxMessage.status.in_(PENDING), OutboxMessage.sent_at.is_(None))))


def withdraw(session: Session, *, appointment_id: int, now: datetime, kind: str | None = None) -> int:
    """Take back texts about an appointment that have not gone out yet. Not one whose
    earlier send's fate is unknown (``sent_at`` kept for its look-up): it may have reached
    her, so the worker looks it up first and sends it again only if it is still true
    (scheduling.sending)."""
    query = (
        update(OutboxMessage)
        .where(OutboxMessage.appointment_id == appointment_id, OutboxMessage.status.in_(PENDING),
               OutboxMessage.sent_at.is_(None))
        .values(status=OutboxStatus.withdrawn, updated_at=now)
    )
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return session.execute(query).rowcount


def failed_texts(session: Session) -> list[OutboxMessage]:
    """Texts that could not be delivered: the receptionists' queue, so someone can call her."""
    return list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status.in_((OutboxStatus.failed, OutboxStatus.undelivered)))
        .order_by(OutboxMessage.updated_at.desc())
    ))
