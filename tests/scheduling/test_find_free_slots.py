"""Free slots read from the database: the whole chain from rows to the next slots."""
from __future__ import annotations

from datetime import date, time, timedelta

from scheduling.availability import BookingRules, find_free_slots
from scheduling.models import AppointmentStatus
from tests.conftest import OSLO, oslo


def wall(slot):
    return slot.start_at.astimezone(OSLO).strftime("%a %d %H:%M")


def test_next_five_slots_respect_notice_and_are_in_time_order(db_session, make, now, rules):
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    make.counselor(services=[service])
    slots = find_free_slots(db_session, service_id=service.id, language_code="nb", now=now, rules=rules)
    # Now is Monday 08:00; two hours' notice makes 10:00 the first bookable start.
    assert [wall(s) for s in slots] == ["Mon 23 10:00", "Mon 23 10:30", "Mon 23 11:00", "Mon 23 11:30", "Mon 23 12:00"]


def test_existing_appointments_and_their_buffers_are_skipped(db_session, make, now, rules):
    make.opening_hours()
    service = make.service(minutes=60, buffer=30)
    counselor = make.counselor(services=[service], hours={0: (time(10), time(13))})
    make.appointment(counselor, service, oslo(2026, 11, 23, 10, 0))  # busy until 11:30
    slots = find_free_slots(db_session, service_id=service.id, language_code="nb", now=now, rules=rules, limit=3)
    assert [wall(s) for s in slots] == ["Mon 23 11:30", "Mon 23 12:00", "Mon 30 10:00"]


def test_a_cancelled_appointment_frees_its_time(db_session, make, now, rules):
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    counselor = make.counselor(services=[service], hours={0: (time(10), time(11))})
    make.appointment(counselor, service, oslo(2026, 11, 23, 10, 0), status=AppointmentStatus.cancelled)
    slots = find_free_slots(db_session, service_id=service.id, language_code="nb", now=now, rules=rules, limit=1)
    assert [wall(s) for s in slots] == ["Mon 23 10:00"]


def test_holiday_closure_and_absence_from_the_database(db_session, make, rules):
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    counselor = make.counselor(services=[service], hours={d: (time(9), time(10)) for d in range(5)})
    make.closure(date(2026, 12, 28), date(2026, 12, 29))
    make.absence(counselor, oslo(2026, 12, 30, 0, 0), oslo(2026, 12, 31, 0, 0))
    now = oslo(2026, 12, 23, 12, 0)  # Wednesday before Christmas
    slots = find_free_slots(db_session, service_id=service.id, language_code="nb", now=now, rules=rules, limit=3)
    # Thu 24 works; Fri 25 is Christmas Day (public holiday); Mon 28-Tue 29 closed;
    # Wed 30 absent; Thu 31 works; Fri 1 January is a public holiday; Mon 4 works.
    assert [s.start_at.astimezone(OSLO).date().isoformat() for s in slots] == [
        "2026-12-24", "2026-12-31", "2027-01-04"
    ]


def test_a_speaker_of_her_language_is_preferred_even_on_a_later_day(db_session, make, now, rules):
    make.opening_hours()
    service = make.service()
    make.counselor(languages=["nb"], services=[service])  # free every weekday
    somali = make.counselor(languages=["so", "nb"], services=[service], hours={2: (time(9), time(16))})
    slots = find_free_slots(db_session, service_id=service.id, language_code="so", now=now, rules=rules)
    assert len(slots) == 5
    assert {s.counselor_id for s in slots} == {somali.id}
    assert all(s.start_at.astimezone(OSLO).weekday() == 2 for s in slots)
    assert not any(s.is_interpreter_needed for s in slots)


def test_without_a_speaker_she_is_offered_slots_with_an_interpreter(db_session, make, now, rules):
    make.opening_hours()
    service = make.service()
    make.counselor(languages=["nb"], services=[service])
    slots = find_free_slots(db_session, service_id=service.id, language_code="ti", now=now, rules=rules)
    assert len(slots) == 5 and all(s.is_interpreter_needed for s in slots)


def test_only_counselors_offering_the_service_and_active_count(db_session, make, now, rules):
    make.opening_hours()
    legal, family = make.service(), make.service()
    make.counselor(services=[family])
    make.counselor(services=[legal], is_active=False)
    assert find_free_slots(db_session, service_id=legal.id, language_code="nb", now=now, rules=rules) == []


def test_horizon_limits_how_far_ahead_slots_are_offered(db_session, make, now):
    make.opening_hours()
    service = make.service()
    make.counselor(services=[service], hours={0: (time(9), time(10))})  # one slot a week
    rules = BookingRules(horizon=timedelta(days=20))
    slots = find_free_slots(db_session, service_id=service.id, language_code="nb", now=now, rules=rules)
    assert [s.start_at.astimezone(OSLO).date() for s in slots] == [date(2026, 11, 30), date(2026, 12, 7)]
    # (23 Nov 09:00 is within the two hours' notice; 14 Dec is beyond 20 days.)
