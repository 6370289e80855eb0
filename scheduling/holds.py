"""Holding a slot for a few minutes while a caller confirms it: the first caller to
choose a time can always confirm it.

A live hold is busy time like an appointment: no other caller can hold an overlapping
time, and nobody but her (no other caller, no receptionist) can book one. Two guards make
that so on PostgreSQL at READ COMMITTED, with any number of web processes:

- Hold against hold: the database refuses two overlapping holds of one counselor (an
  exclusion constraint on PostgreSQL, triggers on SQLite; see the models). A constraint
  cannot know what time it is, so ``hold_slot`` deletes the expired holds in the way, in
  the same transaction, right before it writes; an expired hold never blocks anyone.
- Hold against appointment: these are two tables, which no constraint spans. So every
  writer of either, ``hold_slot`` here and ``book_appointment`` / ``reschedule_appointment``
  in scheduling.booking, first locks the counselor's staff row (``lock_counselor``) and only
  then reads what is in the way and writes. The lock is held until commit, so writers for
  one counselor take turns; and at READ COMMITTED each statement after the lock is granted
  reads afresh, so each sees everything the one before it committed. A hold therefore
  sees every booking before it, and a booking every hold before it; neither can slip in
  between the other's read and write.

On SQLite every write transaction already holds the database's write lock from its start
(scheduling.db), which serialises the same steps; the row lock is a no-op there.

Lock order, so two transactions never wait for each other: a transaction takes at most one
counselor's lock, and takes it before it deletes or writes any hold row. (Callers' own
holds are released after booking, not before.) The worker's sweep of expired holds skips
rows another transaction has locked instead of waiting for them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduling.availability import Slot
from scheduling.models import Appointment, AppointmentStatus, Service, SlotHold, Staff

HOLD_FOR = timedelta(minutes=5)
OVERLAP_CONSTRAINT = "slot_holds_no_overlap"


def lock_counselor(session: Session, counselor_id: int) -> None:
    """Take the counselor's write turn until commit (see the module's docstring).

    FOR NO KEY UPDATE, not FOR UPDATE: rows that merely refer to her (an appointment's
    foreign key, an audit entry) take a key-share lock, which this one does not block."""
    session.execute(select(Staff.id).where(Staff.id == counselor_id).with_for_update(key_share=True))


def hold_slot(
    session: Session, *, client_id: int, slot: Slot, service_id: int, now: datetime,
    hold_for: timedelta = HOLD_FOR, moving: int | None = None,
) -> SlotHold | None:
    """Hold ``slot`` for the caller, replacing any hold she had; None if another caller
    holds it or it is booked (by anyone but the appointment she is ``moving``)."""
    service = session.get(Service, service_id)
    busy_until = slot.end_at + timedelta(minutes=service.buffer_minutes if service else 0)
    lock_counselor(session, slot.counselor_id)
    release_holds(session, client_id=client_id)
    overlapping = (
        SlotHold.counselor_id == slot.counselor_id,
        SlotHold.start_at < busy_until, SlotHold.busy_until_at > slot.start_at,
    )
    session.execute(delete(SlotHold).where(*overlapping, SlotHold.expires_at <= now))
    booked = select(Appointment.id).where(
        Appointment.counselor_id == slot.counselor_id,
        Appointment.status != AppointmentStatus.cancelled,
        Appointment.start_at < busy_until, Appointment.busy_until_at > slot.start_at,
    )
    if moving is not None:
        booked = booked.where(Appointment.id != moving)
    if session.scalar(select(exists(select(SlotHold.id).where(*overlapping)))) or session.scalar(
        select(exists(booked))
    ):
        return None
    hold = SlotHold(
        client_id=client_id, counselor_id=slot.counselor_id, start_at=slot.start_at,
        busy_until_at=busy_until, expires_at=now + hold_for,
    )
    try:
        with session.begin_nested():
            session.add(hold)
            session.flush()
    except IntegrityError as error:
        # Only a writer that skipped the lock could get here; the database still says no.
        if OVERLAP_CONSTRAINT not in str(error.orig):
            raise
        return None
    return hold


def held_by_another(session: Session, *, client_id: int | None, counselor_id: int, start_at: datetime,
                    busy_until: datetime, now: datetime) -> bool:
    """Does another caller hold a live hold that overlaps this time? (With no caller, any
    live hold counts.) Race-free only after ``lock_counselor``."""
    held = select(SlotHold.id).where(
        SlotHold.counselor_id == counselor_id, SlotHold.expires_at > now,
        SlotHold.start_at < busy_until, SlotHold.busy_until_at > start_at,
    )
    if client_id is not None:
        held = held.where(SlotHold.client_id != client_id)
    return bool(session.scalar(select(exists(held))))


def release_holds(session: Session, *, client_id: int) -> None:
    session.execute(delete(SlotHold).where(SlotHold.client_id == client_id))


def purge_expired_holds(session: Session, now: datetime) -> int:
    """Delete expired holds, skipping any a caller's transaction is deleting right now
    (they are gone when it commits; waiting for it could deadlock)."""
    expired = select(SlotHold.id).where(SlotHold.expires_at <= now).with_for_update(skip_locked=True)
    return session.execute(delete(SlotHold).where(SlotHold.id.in_(expired))).rowcount
