"""Booking, cancelling and moving, and the database's promise: no double booking, ever."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from scheduling.booking import (
    Booked,
    Conflict,
    NotChangeable,
    SlotTaken,
    Unchanged,
    book_appointment,
    cancel_appointment,
    reschedule_appointment,
)
from scheduling.db import make_engine, make_session_factory
from scheduling.availability import find_free_slots
from scheduling.models import Actor, Appointment, AppointmentStatus, AuditEntry, BookedVia, OutboxMessage
from tests.conftest import oslo

TUESDAY_10 = oslo(2026, 11, 24, 10, 0)


@pytest.fixture
def calendar(make):
    make.opening_hours()
    service = make.service(minutes=60, buffer=15)
    somali = make.counselor(languages=["so", "nb"], services=[service])
    other = make.counselor(languages=["nb"], services=[service])
    return service, somali, other


def book(session, service, counselor, start_at, now, client=None, **kw):
    return book_appointment(
        session, service_id=service.id, counselor_id=counselor.id, start_at=start_at, now=now,
        booked_via=BookedVia.sms, client=client, **kw,
    )


def test_booking_a_free_slot(db_session, make, calendar, now):
    service, somali, _ = calendar
    caller = make.client(language_code="so")
    result = book(db_session, service, somali, TUESDAY_10, now, client=caller)
    assert isinstance(result, Booked)
    db_session.commit()
    stored = db_session.get(Appointment, result.appointment.id)
    assert stored.start_at == TUESDAY_10
    assert stored.end_at == TUESDAY_10 + timedelta(hours=1)
    assert stored.busy_until_at == TUESDAY_10 + timedelta(minutes=75)
    assert stored.language_code == "so" and not stored.is_interpreter_needed
    assert stored.client_id == caller.id and stored.booked_via == BookedVia.sms
    audit = db_session.scalars(select(AuditEntry)).one()
    assert (audit.action, audit.actor, audit.appointment_id) == ("booked", Actor.caller, stored.id)
    assert "+47" not in str(audit.details)


def test_booking_with_a_counselor_who_does_not_speak_her_language_needs_an_interpreter(db_session, make, calendar, now):
    service, _, other = calendar
    result = book(db_session, service, other, TUESDAY_10, now, client=make.client(language_code="so"))
    assert result.appointment.is_interpreter_needed


def test_a_taken_slot_gives_slot_taken_and_the_next_free_slots(db_session, make, calendar, now):
    service, somali, _ = calendar
    assert isinstance(book(db_session, service, somali, TUESDAY_10, now), Booked)
    # Overlapping by 15 minutes of the first one's buffer.
    result = book(db_session, service, somali, TUESDAY_10 + timedelta(minutes=60), now, language_code="so")
    assert isinstance(result, SlotTaken) and result.reason == "taken"
    assert len(result.alternatives) == 5
    assert all(not (s.counselor_id == somali.id and s.start_at < TUESDAY_10 + timedelta(minutes=75)
                    and s.start_at + timedelta(minutes=75) > TUESDAY_10) for s in result.alternatives)
    assert db_session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_a_time_nobody_works_cannot_be_booked(db_session, calendar, now):
    service, somali, _ = calendar
    saturday = oslo(2026, 11, 28, 10, 0)
    result = book(db_session, service, somali, saturday, now)
    assert isinstance(result, SlotTaken) and result.reason == "unavailable"
    assert result.alternatives
    too_soon = book(db_session, service, somali, oslo(2026, 11, 23, 9, 0), now)
    assert isinstance(too_soon, SlotTaken) and too_soon.reason == "unavailable"


def test_the_database_itself_refuses_an_overlapping_appointment(db_session, make, calendar):
    service, somali, other = calendar
    make.appointment(somali, service, TUESDAY_10)
    make.appointment(other, service, TUESDAY_10)  # another counselor: fine
    db_session.commit()
    with pytest.raises(IntegrityError, match="appointments_no_overlap"):
        make.appointment(somali, service, TUESDAY_10 + timedelta(minutes=30))
    db_session.rollback()
    # A cancelled appointment does not hold its time.
    make.appointment(somali, service, TUESDAY_10 + timedelta(hours=3), status=AppointmentStatus.cancelled)
    make.appointment(somali, service, TUESDAY_10 + timedelta(hours=3))
    db_session.commit()


def test_the_database_refuses_moving_an_appointment_onto_another(db_session, make, calendar):
    service, somali, _ = calendar
    make.appointment(somali, service, TUESDAY_10)
    later = make.appointment(somali, service, TUESDAY_10 + timedelta(hours=2))
    db_session.commit()
    later.start_at = TUESDAY_10 + timedelta(minutes=30)
    later.end_at = later.start_at + timedelta(hours=1)
    later.busy_until_at = later.end_at
    with pytest.raises(IntegrityError, match="appointments_no_overlap"):
        db_session.flush()


def test_twenty_callers_racing_for_one_slot_give_exactly_one_booking(database_url, sessions, make, calendar, db_session, now):
    service, somali, _ = calendar
    db_session.commit()
    engine = make_engine(database_url, pool_size=20, max_overflow=0) if not database_url.startswith("sqlite") \
        else make_engine(database_url)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(20)
    results, errors = [], []

    def attempt():
        session = factory()
        try:
            barrier.wait()
            result = book(session, service, somali, TUESDAY_10, now)
            session.commit()
            results.append(result)
        except Exception as error:  # pragma: no cover - shown in the assertion below
            errors.append(error)
        finally:
            session.close()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()

    assert errors == []
    assert sum(isinstance(r, Booked) for r in results) == 1
    taken = [r for r in results if isinstance(r, SlotTaken)]
    assert len(taken) == 19 and {r.reason for r in taken} == {"taken"}
    assert all(TUESDAY_10 not in {s.start_at for s in r.alternatives if s.counselor_id == somali.id} for r in taken)
    count = db_session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.counselor_id == somali.id, Appointment.status == AppointmentStatus.booked))
    assert count == 1


def test_cancelling_frees_the_slot_and_is_audited(db_session, make, calendar, now):
    service, somali, _ = calendar
    appointment = book(db_session, service, somali, TUESDAY_10, now).appointment
    result = cancel_appointment(db_session, appointment, now=now, actor=Actor.staff, reason="She called")
    assert isinstance(result, Booked) and appointment.status == AppointmentStatus.cancelled
    assert isinstance(book(db_session, service, somali, TUESDAY_10, now), Booked)
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["booked", "cancelled", "booked"]


def test_a_cancelled_or_past_appointment_cannot_be_changed(db_session, make, calendar, now):
    service, somali, _ = calendar
    appointment = book(db_session, service, somali, TUESDAY_10, now).appointment
    cancel_appointment(db_session, appointment, now=now, actor=Actor.caller)
    assert isinstance(cancel_appointment(db_session, appointment, now=now, actor=Actor.caller), NotChangeable)
    past = make.appointment(somali, service, oslo(2026, 11, 20, 10, 0))
    assert isinstance(reschedule_appointment(db_session, past, start_at=TUESDAY_10, now=now, actor=Actor.caller),
                      NotChangeable)


def test_moving_to_a_free_slot_and_to_another_counselor(db_session, calendar, now):
    service, somali, other = calendar
    appointment = book(db_session, service, somali, TUESDAY_10, now, language_code="so").appointment
    # Moving by 30 minutes overlaps its own old time: that is allowed.
    moved = reschedule_appointment(db_session, appointment, start_at=TUESDAY_10 + timedelta(minutes=30),
                                   now=now, actor=Actor.caller)
    assert isinstance(moved, Booked)
    assert appointment.start_at == TUESDAY_10 + timedelta(minutes=30)
    assert appointment.busy_until_at == TUESDAY_10 + timedelta(minutes=105)
    moved = reschedule_appointment(db_session, appointment, start_at=TUESDAY_10, counselor_id=other.id,
                                   now=now, actor=Actor.staff)
    assert isinstance(moved, Booked)
    assert appointment.counselor_id == other.id and appointment.is_interpreter_needed
    assert db_session.scalars(select(AuditEntry.action)).all().count("moved") == 2


def test_a_move_to_the_time_and_counselor_it_has_changes_nothing(db_session, make, calendar, now):
    service, somali, other = calendar
    caller = make.client(language_code="so")
    appointment = book(db_session, service, somali, TUESDAY_10, now, client=caller).appointment
    db_session.commit()
    result = reschedule_appointment(db_session, appointment, start_at=TUESDAY_10, counselor_id=somali.id, now=now,
                                    actor=Actor.staff, expected_version=1)
    assert isinstance(result, Unchanged)
    db_session.commit()
    assert db_session.get(Appointment, appointment.id).version == 1
    assert db_session.scalars(select(AuditEntry.action)).all() == ["booked"]
    assert db_session.scalars(select(OutboxMessage.template).where(OutboxMessage.kind == "change")).all() == []
    # The same time with another counselor is a change, and she is told of it.
    result = reschedule_appointment(db_session, appointment, start_at=TUESDAY_10, counselor_id=other.id, now=now,
                                    actor=Actor.staff)
    assert isinstance(result, Booked) and result.appointment.counselor_id == other.id
    assert db_session.scalars(select(OutboxMessage.template).where(OutboxMessage.kind == "change")).all() == ["moved"]


def test_the_time_being_moved_is_never_offered_as_where_to_move_it(db_session, make, calendar, now):
    service, somali, other = calendar
    appointment = book(db_session, service, somali, TUESDAY_10, now, client=make.client(language_code="so")).appointment

    def starts(**kw):
        slots = find_free_slots(db_session, service_id=service.id, language_code="so", now=now, limit=40,
                                not_before=TUESDAY_10 - timedelta(hours=1), moving=appointment.id, **kw)
        return {(slot.start_at, slot.counselor_id) for slot in slots}

    for_her = starts()
    assert not any(start == TUESDAY_10 for start, _ in for_her)  # not even with the other counselor
    assert (TUESDAY_10 + timedelta(minutes=30), somali.id) in for_her  # overlapping her own hour is fine
    at_the_desk = starts(counselor_ids=[other.id], same_time_with_another=True)
    assert (TUESDAY_10, other.id) in at_the_desk
    assert (TUESDAY_10, somali.id) not in starts(counselor_ids=[somali.id], same_time_with_another=True)


def test_moving_onto_a_taken_slot_keeps_the_old_time(db_session, calendar, now):
    service, somali, _ = calendar
    first = book(db_session, service, somali, TUESDAY_10, now).appointment
    second = book(db_session, service, somali, TUESDAY_10 + timedelta(hours=2), now).appointment
    first_id, second_id = first.id, second.id
    result = reschedule_appointment(db_session, second, start_at=TUESDAY_10 + timedelta(minutes=30),
                                    now=now, actor=Actor.caller)
    assert isinstance(result, SlotTaken) and result.reason == "taken" and result.alternatives
    db_session.commit()
    db_session.expunge_all()
    assert db_session.get(Appointment, second_id).start_at == TUESDAY_10 + timedelta(hours=2)
    assert db_session.get(Appointment, first_id).start_at == TUESDAY_10


def test_a_stale_version_is_a_conflict_not_a_silent_overwrite(db_session, sessions, calendar, now):
    service, somali, _ = calendar
    appointment = book(db_session, service, somali, TUESDAY_10, now).appointment
    db_session.commit()
    seen_version = appointment.version

    # A second receptionist moves it first.
    other = sessions()
    theirs = other.get(Appointment, appointment.id)
    assert isinstance(reschedule_appointment(other, theirs, start_at=TUESDAY_10 + timedelta(hours=1),
                                             now=now, actor=Actor.staff, expected_version=seen_version), Booked)
    other.commit()
    other.close()

    db_session.expire_all()
    mine = db_session.get(Appointment, appointment.id)
    result = reschedule_appointment(db_session, mine, start_at=TUESDAY_10 + timedelta(hours=3),
                                    now=now, actor=Actor.staff, expected_version=seen_version)
    assert isinstance(result, Conflict)
    assert result.appointment.start_at == TUESDAY_10 + timedelta(hours=1)
    assert isinstance(cancel_appointment(db_session, mine, now=now, actor=Actor.staff,
                                         expected_version=seen_version), Conflict)
