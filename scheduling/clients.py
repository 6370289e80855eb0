"""Callers as the centre knows them: a number, a language, and her wishes about texts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from scheduling import audit
from scheduling.crypto import phone_hash
from scheduling.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    BookedVia,
    Call,
    CallbackRequest,
    CallbackStatus,
    Client,
    Conversation,
    InboundMessage,
    OutboxMessage,
    SlotHold,
    Voicemail,
    WaitingEntry,
)


def has_number(phone_e164: str):
    """SQL: the caller has this number (E.164). Every look-up by number goes through here,
    so the way numbers are stored can change in one place."""
    return Client.phone_hash == phone_hash(phone_e164)


def find_client(session: Session, phone_e164: str) -> Client | None:
    """The caller with this number (E.164), or None."""
    return session.scalars(select(Client).where(has_number(phone_e164))).first()


def find_or_create_client(session: Session, phone_e164: str, now: datetime) -> Client:
    client = find_client(session, phone_e164)
    if client is None:
        return create_client(session, phone_e164, now)
    client.last_contact_at = now
    return client


def create_client(session: Session, phone_e164: str, now: datetime) -> Client:
    """A new caller (``find_client`` found none in this transaction)."""
    client = Client(phone_e164=phone_e164, is_opted_out=False, created_at=now, last_contact_at=now)
    session.add(client)
    session.flush()
    return client


def next_appointment(session: Session, client_id: int, now: datetime) -> Appointment | None:
    return session.scalars(
        select(Appointment)
        .where(
            Appointment.client_id == client_id,
            Appointment.status == AppointmentStatus.booked,
            Appointment.end_at > now,
        )
        .order_by(Appointment.start_at)
        .limit(1)
    ).first()


def appointments_of(session: Session, client_id: int, now: datetime, *, past_limit: int = 20
                    ) -> tuple[list[Appointment], list[Appointment]]:
    """Her appointments still to come (booked, not over), soonest first, and the others
    (over, cancelled, attended), latest first."""
    upcoming = list(session.scalars(
        select(Appointment)
        .where(Appointment.client_id == client_id, Appointment.status == AppointmentStatus.booked,
               Appointment.end_at > now)
        .order_by(Appointment.start_at)
    ))
    upcoming_ids = [a.id for a in upcoming]
    past = list(session.scalars(
        select(Appointment)
        .where(Appointment.client_id == client_id, Appointment.id.not_in(upcoming_ids))
        .order_by(Appointment.start_at.desc())
        .limit(past_limit)
    ))
    return upcoming, past


def request_callback(session: Session, client: Client, *, via: BookedVia, now: datetime) -> CallbackRequest:
    """One open request per caller is enough: asking again keeps the first."""
    existing = session.scalars(select(CallbackRequest).where(
        CallbackRequest.client_id == client.id, CallbackRequest.status == CallbackStatus.open,
    )).first()
    if existing is not None:
        existing.language_code = client.language_code
        return existing
    request = CallbackRequest(
        client_id=client.id, language_code=client.language_code, requested_via=via, requested_at=now,
        status=CallbackStatus.open,
    )
    session.add(request)
    session.flush()
    return request


def erase_client(session: Session, client: Client, now: datetime, *, actor: Actor = Actor.caller) -> None:
    """Her number, her conversation, texts, calls, voicemails and call-back requests, and
    the link to her appointments go; the staff keep the appointments themselves, anonymous.
    ``actor`` is the caller (the delete keyword) or the system (scheduling.retention)."""
    appointment_ids = session.scalars(select(Appointment.id).where(Appointment.client_id == client.id)).all()
    session.execute(update(Appointment).where(Appointment.client_id == client.id).values(client_id=None))
    # Her texts of the last hour stay as bare counts under her number's keyed hash (nothing
    # of what was said, and the hash itself goes within the hour: scheduling.worker), so
    # erasing herself does not reset the reply limits (hotline.abuse).
    session.execute(update(InboundMessage).where(
        InboundMessage.client_id == client.id, InboundMessage.sender_hash.is_not(None),
    ).values(client_id=None, reply_twiml="<Response/>"))
    for model in (Conversation, InboundMessage, SlotHold, CallbackRequest, OutboxMessage, Call, Voicemail,
                  WaitingEntry):
        session.execute(delete(model).where(model.client_id == client.id))
    session.delete(client)
    session.flush()
    for appointment_id in appointment_ids:
        audit.record(session, at=now, actor=actor, action="caller_erased", appointment_id=appointment_id)
