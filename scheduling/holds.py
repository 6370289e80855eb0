"""Holding a slot for a few minutes while a caller confirms it.

A hold only keeps the slot out of other callers' offers; the booking itself is still
decided by the database. Expired holds count for nothing and are swept by the worker.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduling.availability import Slot
from scheduling.models import Appointment, AppointmentStatus, Service, SlotHold

HOLD_FOR = timedelta(minutes=5)


def hold_slot(
    session: Session, *, client_id: int, slot: Slot, service_id: int, now: datetime,
    hold_for: timedelta = HOLD_FOR, moving: int | None = None,
) -> SlotHold | None:
    """Hold ``slot`` for the caller, replacing any hold she had; None if another caller
    holds it or it is booked (by anyone but the appointment she is ``moving``)."""
    service = session.get(Service, service_id)
    busy_until = slot.end_at + timedelta(minutes=service.buffer_minutes if service else 0)
    release_holds(session, client_id=client_id)
    session.execute(delete(SlotHold).where(
        SlotHold.counselor_id == slot.counselor_id, SlotHold.expires_at <= now,
    ))
    clash = select(SlotHold.id).where(
        SlotHold.counselor_id == slot.counselor_id, SlotHold.expires_at > now,
        SlotHold.start_at < busy_until, SlotHold.busy_until_at > slot.start_at,
    )
    booked = select(Appointment.id).where(
        Appointment.counselor_id == slot.counselor_id,
        Appointment.status != AppointmentStatus.cancelled,
        Appointment.start_at < busy_until, Appointment.busy_until_at > slot.start_at,
    )
    if moving is not None:
        booked = booked.where(Appointment.id != moving)
    if session.scalar(select(exists(clash))) or session.scalar(select(exists(booked))):
        return None
    hold = SlotHold(
        client_id=client_id, counselor_id=slot.counselor_id, start_at=slot.start_at,
        busy_until_at=busy_until, expires_at=now + hold_for,
    )
    try:
        with session.begin_nested():
            session.add(hold)
            session.flush()
    except IntegrityError:  # another caller held the same start a moment earlier
        return None
    return hold


def held_by_another(session: Session, *, client_id: int, counselor_id: int, start_at: datetime,
                    busy_until: datetime, now: datetime) -> bool:
    """Does another caller hold a live hold that overlaps this time?"""
    return bool(session.scalar(select(exists(select(SlotHold.id).where(
        SlotHold.counselor_id == counselor_id, SlotHold.client_id != client_id, SlotHold.expires_at > now,
        SlotHold.start_at < busy_until, SlotHold.busy_until_at > start_at,
    )))))


def release_holds(session: Session, *, client_id: int) -> None:
    session.execute(delete(SlotHold).where(SlotHold.client_id == client_id))


def purge_expired_holds(session: Session, now: datetime) -> int:
    return session.execute(delete(SlotHold).where(SlotHold.expires_at <= now)).rowcount
