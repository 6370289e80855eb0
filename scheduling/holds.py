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
holds are released after booking, not before.) ``hold_time``, which may try several
counselors, tries each inside a savepoint and rolls a failed try back, which lets go of
that counselor's lock and of the rows it deleted before it asks for the next. The worker's
sweep of expired holds skips rows another transaction has locked instead of waiting for them.

A hold belongs to the dialogue that made it (``owner``: "sms" for her SMS conversation,
"call:<CallSid>" for a call), so a call that ends lets go of what it held, not of the time
she is confirming by text at the same moment.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduling.availability import BookingRules, Slot, find_free_slots
from scheduling.models import Appointment, AppointmentStatus, SlotHold, Staff
from scheduling.reference import reference

HOLD_FOR = timedelta(minutes=5)
OVERLAP_CONSTRAINT = "slot_holds_no_overlap"
SMS = "sms"  # the owner of the holds of her SMS conversation (she has one)


def lock_counselor(session: Session, counselor_id: int) -> None:
    """Take the counselor's write turn until commit (see the module's docstring).

    FOR NO KEY UPDATE, not FOR UPDATE: rows that merely refer to her (an appointment's
    foreign key, an audit entry) take a key-share lock, which this one does not block."""
    session.execute(select(Staff.id).where(Staff.id == counselor_id).with_for_update(key_share=True))


def hold_slot(
    session: Session, *, client_id: int, slot: Slot, service_id: int, now: datetime,
    hold_for: timedelta = HOLD_FOR, moving: int | None = None, owner: str = SMS,
) -> SlotHold | None:
    """Hold ``slot`` for the caller's dialogue ``owner``, replacing the hold that dialogue
    had; None if another caller holds it or it is booked (by anyone but the appointment
    she is ``moving``).

    Her holds in her other dialogues stay, except one in the way of this one: that is
    taken over. Two of her dialogues at one time (she texts while she is on the phone)
    are both her; refusing her the time because she is holding it herself would only
    confuse her, and the database keeps one hold per counselor and time. So the dialogue
    that chose it last holds it; the other can still confirm it, since a booking only
    gives way to other callers' holds, until someone else holds it after this one lets go.

    Called inside a savepoint, which the caller rolls back when it gets None: that lets go
    of the counselor's lock and of what was deleted (and, should the database refuse the
    hold, of the failed write).
    """
    service = reference(session).services.get(service_id)
    busy_until = slot.end_at + timedelta(minutes=service.buffer_minutes if service else 0)
    lock_counselor(session, slot.counselor_id)
    overlapping = (
        SlotHold.counselor_id == slot.counselor_id,
        SlotHold.start_at < busy_until, SlotHold.busy_until_at > slot.start_at,
    )
    # This dialogue's hold goes (it holds one time at most); expired holds in the way, and
    # her own from another dialogue, give way.
    session.execute(delete(SlotHold).where(or_(
        and_(SlotHold.client_id == client_id, SlotHold.owner == owner),
        and_(*overlapping, or_(SlotHold.expires_at <= now, SlotHold.client_id == client_id)))))
    booked = select(Appointment.id).where(
        Appointment.counselor_id == slot.counselor_id,
        Appointment.status != AppointmentStatus.cancelled,
        Appointment.start_at < busy_until, Appointment.busy_until_at > slot.start_at,
    )
    if moving is not None:
        booked = booked.where(Appointment.id != moving)
    if session.scalar(select(or_(exists(select(SlotHold.id).where(*overlapping)), exists(booked)))):
        return None
    hold = SlotHold(
        client_id=client_id, owner=owner, counselor_id=slot.counselor_id, start_at=slot.start_at,
        busy_until_at=busy_until, expires_at=now + hold_for,
    )
    try:
        session.add(hold)
        session.flush()
    except IntegrityError as error:
        # Only a writer that skipped the lock could get here; the database still says no,
        # and the caller's savepoint is rolled back.
        if OVERLAP_CONSTRAINT not in str(error.orig):
            raise
        return None
    return hold


def hold_time(
    session: Session, *, client_id: int, slot: Slot, service_id: int, language_code: str | None,
    now: datetime, rules: BookingRules, owner: str = SMS, hold_for: timedelta = HOLD_FOR,
) -> Slot | None:
    """Hold the time she chose: with the counselor ``slot`` names if it can, else with
    another who fits the service and is free at that very start; the slot held, or None.

    She chose a time; the counselor was only who was free when she was offered it. So a
    caller who took that counselor a moment before her does not take the time from her
    while another counselor is free then. Who that is, ``find_free_slots`` decides, as it
    did for the offer: a speaker of her language first; with an interpreter only if the
    offer already needed one. Not for a move: a move keeps her counselor (``hold_slot``).
    Holding nothing lets go of this dialogue's hold, as ``hold_slot`` would have."""
    tried: set[int] = set()
    candidate: Slot | None = slot
    while candidate is not None and candidate.counselor_id not in tried:
        tried.add(candidate.counselor_id)
        with session.begin_nested() as attempt:
            held = hold_slot(session, client_id=client_id, slot=candidate, service_id=service_id, now=now,
                             hold_for=hold_for, owner=owner)
            if held is None:
                attempt.rollback()  # and with it the counselor's lock (see the module's docstring)
        if held is not None:
            return candidate
        candidate = _same_time_with_another(session, slot=slot, service_id=service_id, language_code=language_code,
                                            client_id=client_id, now=now, rules=rules)
    # Only now, holding no counselor's lock: see the module's docstring on lock order.
    release_holds(session, client_id=client_id, owner=owner)
    return None


def _same_time_with_another(session: Session, *, slot: Slot, service_id: int, language_code: str | None,
                            client_id: int, now: datetime, rules: BookingRules) -> Slot | None:
    # A horizon that ends right after the start asks for that one start and no other.
    only_then = replace(rules, horizon=min(rules.horizon, slot.start_at - now + timedelta(seconds=1)))
    found = find_free_slots(session, service_id=service_id, language_code=language_code, now=now, rules=only_then,
                            limit=1, not_before=slot.start_at, hold_owner_id=client_id)
    if not found or found[0].start_at != slot.start_at:
        return None
    if found[0].is_interpreter_needed and not slot.is_interpreter_needed:
        return None  # she was offered a speaker of her language; an interpreter is not what she chose
    return found[0]


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


def in_the_way(session: Session, *, client_id: int | None, counselor_id: int, start_at: datetime,
               busy_until: datetime, now: datetime) -> str | None:
    """What stands in the way of booking this time, in one statement: "held" (another
    caller's live hold, as ``held_by_another``), "taken" (a live appointment), or None.
    Race-free only after ``lock_counselor``: every writer of holds and appointments takes
    that lock first, so nothing can be written in the way between this read and the
    booking's write."""
    held = select(SlotHold.id).where(
        SlotHold.counselor_id == counselor_id, SlotHold.expires_at > now,
        SlotHold.start_at < busy_until, SlotHold.busy_until_at > start_at,
    )
    if client_id is not None:
        held = held.where(SlotHold.client_id != client_id)
    booked = select(Appointment.id).where(
        Appointment.counselor_id == counselor_id, Appointment.status != AppointmentStatus.cancelled,
        Appointment.start_at < busy_until, Appointment.busy_until_at > start_at,
    )
    is_held, is_booked = session.execute(select(exists(held), exists(booked))).one()
    return "held" if is_held else "taken" if is_booked else None


def release_holds(session: Session, *, client_id: int, owner: str | None = None) -> None:
    """Let go of her holds: those of one dialogue (``owner``), or with None all of hers."""
    mine = delete(SlotHold).where(SlotHold.client_id == client_id)
    if owner is not None:
        mine = mine.where(SlotHold.owner == owner)
    session.execute(mine)


def purge_expired_holds(session: Session, now: datetime) -> int:
    """Delete expired holds, skipping any a caller's transaction is deleting right now
    (they are gone when it commits; waiting for it could deadlock)."""
    expired = select(SlotHold.id).where(SlotHold.expires_at <= now).with_for_update(skip_locked=True)
    return session.execute(delete(SlotHold).where(SlotHold.id.in_(expired))).rowcount
