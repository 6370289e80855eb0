"""Book, cancel and reschedule appointments, with no double booking, ever.

Whether a time is still free is decided by the database when the row is written (an
exclusion constraint on PostgreSQL, triggers inside serialised transactions on SQLite),
not by reading the calendar first: a booking that loses the race comes back as
``SlotTaken`` with the next free slots. A time another caller holds while she confirms it
is not free either; that is checked under the counselor's lock, which every writer of
holds and appointments takes first (scheduling.holds explains why that is race-free).
Functions flush and never commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from scheduling import audit, notifications
from scheduling.availability import BookingRules, Slot, bookable_slot, find_free_slots
from scheduling.holds import held_by_another, in_the_way, lock_counselor
from scheduling.reminders import plan_reminders
from scheduling.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    BookedVia,
    Client,
    Staff,
)
from scheduling.reference import reference

OVERLAP_CONSTRAINT = "appointments_no_overlap"


@dataclass(frozen=True)
class Booked:
    appointment: Appointment


@dataclass(frozen=True)
class SlotTaken:
    """The time is not free (any more): ``reason`` is "taken" when another booking has
    it, "held" when another caller is confirming it right now, "unavailable" when nobody
    works then, and ``alternatives`` are the next free slots."""

    reason: str
    alternatives: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class Conflict:
    """Someone else changed the appointment since it was read; ``appointment`` is how it is now."""

    appointment: Appointment


@dataclass(frozen=True)
class NotChangeable:
    """The appointment is cancelled or already over."""

    appointment: Appointment


@dataclass(frozen=True)
class Unchanged:
    """A move to the time and counselor it has already: nothing is changed, nobody is told."""

    appointment: Appointment


def is_overlap_error(error: IntegrityError) -> bool:
    return OVERLAP_CONSTRAINT in str(error.orig)


def book_appointment(
    session: Session,
    *,
    service_id: int,
    counselor_id: int,
    start_at: datetime,
    now: datetime,
    booked_via: BookedVia,
    client: Client | None = None,
    language_code: str | None = None,
    is_interpreter_needed: bool | None = None,
    actor: Actor = Actor.caller,
    actor_staff_id: int | None = None,
    rules: BookingRules = BookingRules(),
) -> Booked | SlotTaken:
    service = reference(session).services.get(service_id)
    language_code = language_code or (client.language_code if client else None)

    def alternatives() -> list[Slot]:
        return find_free_slots(
            session, service_id=service_id, language_code=language_code, now=now, rules=rules
        )

    # The counselor works then, offers the service, and does or does not speak her language.
    slot = bookable_slot(session, service_id=service_id, counselor_id=counselor_id, start_at=start_at,
                         now=now, rules=rules, language_code=language_code)
    if service is None or slot is None:
        return SlotTaken("unavailable", alternatives())
    if is_interpreter_needed is None:
        is_interpreter_needed = language_code is not None and slot.is_interpreter_needed

    end_at = start_at + timedelta(minutes=service.duration_minutes)
    busy_until = end_at + timedelta(minutes=service.buffer_minutes)
    lock_counselor(session, counselor_id)
    reason = in_the_way(session, client_id=client.id if client else None, counselor_id=counselor_id,
                        start_at=start_at, busy_until=busy_until, now=now)
    if reason is not None:
        return SlotTaken(reason, alternatives())
    appointment = Appointment(
        client=client,
        counselor_id=counselor_id,
        service_id=service_id,
        language_code=language_code,
        start_at=start_at,
        end_at=end_at,
        busy_until_at=busy_until,
        status=AppointmentStatus.booked,
        is_interpreter_needed=is_interpreter_needed,
        booked_via=booked_via,
        changed_by_staff_id=actor_staff_id,
        created_at=now,
        updated_at=now,
    )
    if booked_via in (BookedVia.sms, BookedVia.voice):
        _told(appointment, now)  # the answer to her text, or what she heard, named the time
    # No savepoint: under the counselor's lock nothing can have been written in the way
    # since in_the_way looked. The database's own refusal of an overlap (the exclusion
    # constraint; a trigger on SQLite) stays as the last guard, against a writer that
    # skipped the lock: it fails the whole transaction.
    session.add(appointment)
    session.flush()
    audit.record(
        session, at=now, actor=actor, actor_staff_id=actor_staff_id, action="booked",
        appointment_id=appointment.id, details=_describe(appointment),
    )
    plan_reminders(session, appointment, client, now=now, rules=rules, is_new=True)
    if booked_via != BookedVia.sms:
        # By text she got her confirmation as the answer; by phone or through the
        # staff, it comes as a text.
        _tell(session, appointment, client, "booked", now)
    return Booked(appointment)


def cancel_appointment(
    session: Session,
    appointment: Appointment,
    *,
    now: datetime,
    actor: Actor,
    actor_staff_id: int | None = None,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Booked | Conflict | NotChangeable:
    if expected_version is not None and appointment.version != expected_version:
        return Conflict(appointment)
    if appointment.status != AppointmentStatus.booked or appointment.end_at <= now:
        return NotChangeable(appointment)
    try:
        with session.begin_nested():
            appointment.status = AppointmentStatus.cancelled
            appointment.cancel_reason = reason
            appointment.changed_by_staff_id = actor_staff_id
            appointment.updated_at = now
            session.flush()
    except StaleDataError:
        return _conflict(session, appointment)
    audit.record(
        session, at=now, actor=actor, actor_staff_id=actor_staff_id, action="cancelled",
        appointment_id=appointment.id, details={"reason": reason} if reason else None,
    )
    notifications.withdraw(session, appointment_id=appointment.id, now=now)
    if actor == Actor.staff:
        _tell(session, appointment, appointment.client, "cancelled", now)
    return Booked(appointment)


def reschedule_appointment(
    session: Session,
    appointment: Appointment,
    *,
    start_at: datetime,
    now: datetime,
    actor: Actor,
    counselor_id: int | None = None,
    actor_staff_id: int | None = None,
    expected_version: int | None = None,
    rules: BookingRules = BookingRules(),
    via: BookedVia | None = None,
) -> Booked | SlotTaken | Conflict | NotChangeable | Unchanged:
    """Moves a booked appointment. She is told by text when the staff moved it, or when she
    moved it herself by phone (``via`` voice; by text, the answer to her text tells her)."""
    if expected_version is not None and appointment.version != expected_version:
        return Conflict(appointment)
    if appointment.status != AppointmentStatus.booked or appointment.end_at <= now:
        return NotChangeable(appointment)
    counselor_id = counselor_id or appointment.counselor_id
    if start_at == appointment.start_at and counselor_id == appointment.counselor_id:
        return Unchanged(appointment)
    counselor = session.get(Staff, counselor_id)
    language_code = appointment.language_code

    def alternatives() -> list[Slot]:
        return find_free_slots(
            session, service_id=appointment.service_id, language_code=language_code,
            now=now, rules=rules,
        )

    if counselor is None or bookable_slot(
        session, service_id=appointment.service_id, counselor_id=counselor_id,
        start_at=start_at, now=now, rules=rules, language_code=language_code,
    ) is None:
        return SlotTaken("unavailable", alternatives())
    before = _describe(appointment)
    service = appointment.service
    end_at = start_at + timedelta(minutes=service.duration_minutes)
    lock_counselor(session, counselor_id)
    if held_by_another(session, client_id=appointment.client_id, counselor_id=counselor_id, start_at=start_at,
                       busy_until=end_at + timedelta(minutes=service.buffer_minutes), now=now):
        return SlotTaken("held", alternatives())
    try:
        # The changes are made inside the savepoint: begin_nested() flushes whatever is
        # pending first, and a refused change must not break the enclosing transaction.
        with session.begin_nested():
            appointment.counselor_id = counselor_id
            appointment.start_at = start_at
            appointment.end_at = start_at + timedelta(minutes=service.duration_minutes)
            appointment.busy_until_at = appointment.end_at + timedelta(minutes=service.buffer_minutes)
            appointment.is_interpreter_needed = (
                language_code is not None and not counselor.speaks(language_code)
            )
            appointment.changed_by_staff_id = actor_staff_id
            appointment.updated_at = now
            if actor == Actor.caller:
                _told(appointment, now)  # the answer to her text says where it moved
            session.flush()
    except IntegrityError as error:
        if not is_overlap_error(error):
            raise
        # The savepoint's rollback put the row back as it was; make sure nothing in
        # memory still shows the refused time.
        if appointment in session:
            session.expire(appointment)
        return SlotTaken("taken", alternatives())
    except StaleDataError:
        return _conflict(session, appointment)
    audit.record(
        session, at=now, actor=actor, actor_staff_id=actor_staff_id, action="moved",
        appointment_id=appointment.id, details={"from": before, "to": _describe(appointment)},
    )
    plan_reminders(session, appointment, appointment.client, now=now, rules=rules)
    # A text about an earlier change that has not gone yet would name a time she no longer
    # has: one text, composed when it goes, tells her what is new (scheduling.sending).
    # A text her move by phone promised, taken back unsent, is still owed to her: the one that
    # replaces it keeps the promise (moved away and back, it still goes, naming her time).
    promised = notifications.is_promised(session, appointment_id=appointment.id)
    notifications.withdraw(session, appointment_id=appointment.id, now=now, kind="change")
    if actor == Actor.staff:
        _tell(session, appointment, appointment.client, "moved", now, is_promised=promised)
    elif via == BookedVia.voice:  # she heard the new time, and that a text would follow
        _tell(session, appointment, appointment.client, "moved", now, is_promised=True)
    return Booked(appointment)


def _tell(session: Session, appointment: Appointment, client: Client | None, template: str, now: datetime,
          *, is_promised: bool = False) -> None:
    # The time and counselor are those of now; the worker names what she was told when the
    # text goes (see scheduling.sending.compose).
    params = notifications.change_params(appointment.start_at, appointment.counselor_id)
    if is_promised:
        params["promised"] = True
    notifications.queue_text(
        session, client, kind="change", template=template, now=now, appointment_id=appointment.id, params=params,
    )


def shown_to_her(session: Session, appointment: Appointment, now: datetime) -> None:
    """She was just shown her appointment's time (in the answer to her text, or read out
    in a call): a later text about a change names that time. Not a change of the
    appointment: its version stays, so a receptionist's open page is not made stale."""
    if (appointment.told_start_at, appointment.told_counselor_id) == (appointment.start_at, appointment.counselor_id):
        return
    session.execute(
        update(Appointment).where(Appointment.id == appointment.id)
        .values(told_start_at=appointment.start_at, told_counselor_id=appointment.counselor_id, told_at=now)
        .execution_options(synchronize_session=False))
    session.expire(appointment, ["told_start_at", "told_counselor_id", "told_at"])


def _told(appointment: Appointment, now: datetime) -> None:
    appointment.told_start_at = appointment.start_at
    appointment.told_counselor_id = appointment.counselor_id
    appointment.told_at = now


def _conflict(session: Session, appointment: Appointment) -> Conflict:
    session.expire(appointment)
    current = session.scalars(select(Appointment).where(Appointment.id == appointment.id)).one()
    return Conflict(current)


def _describe(appointment: Appointment) -> dict:
    return {
        "counselor_id": appointment.counselor_id,
        "service_id": appointment.service_id,
        "start_at": appointment.start_at.isoformat(),
        "interpreter": appointment.is_interpreter_needed,
        "via": appointment.booked_via.value if appointment.booked_via else None,
    }
