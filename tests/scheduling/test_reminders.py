"""When reminders go: 24 h and 2 h before, never in the quiet hours, never in the past."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from scheduling.availability import BookingRules
from scheduling.booking import book_appointment, cancel_appointment, reschedule_appointment
from scheduling.models import Actor, BookedVia, OutboxMessage, OutboxStatus
from scheduling.reminders import reminder_times
from tests.conftest import OSLO, oslo

RULES = BookingRules()


def local(times):
    return [t.astimezone(OSLO).strftime("%a %d %b %H:%M") for t in times]


def test_an_appointment_three_days_ahead_gets_two_reminders_at_the_right_local_times():
    now = oslo(2026, 11, 23, 8, 0)
    assert local(reminder_times(oslo(2026, 11, 26, 13, 0), now, RULES)) == ["Wed 25 Nov 13:00", "Thu 26 Nov 11:00"]


def test_a_reminder_that_would_fall_in_the_quiet_hours_goes_the_evening_before():
    now = oslo(2026, 11, 23, 8, 0)
    # 2 h before 09:00 is 07:00, inside 20:00-08:00: it goes at 19:45 the evening before.
    assert local(reminder_times(oslo(2026, 11, 26, 9, 0), now, RULES)) == ["Wed 25 Nov 09:00", "Wed 25 Nov 19:45"]


def test_reminders_across_the_spring_daylight_saving_change():
    now = oslo(2026, 3, 25, 12, 0)
    # Monday 30 March, 11:00 summer time; the clocks went forward on Sunday night.
    times = reminder_times(oslo(2026, 3, 30, 11, 0), now, RULES)
    assert local(times) == ["Sun 29 Mar 11:00", "Mon 30 Mar 09:00"]
    assert oslo(2026, 3, 30, 11, 0) - times[0] == timedelta(hours=24)


def test_reminders_across_the_autumn_daylight_saving_change():
    now = oslo(2026, 10, 20, 12, 0)
    times = reminder_times(oslo(2026, 10, 26, 10, 0), now, RULES)
    assert local(times) == ["Sun 25 Oct 10:00", "Mon 26 Oct 08:00"]
    assert [t.utcoffset() for t in times] == [timedelta(0), timedelta(0)]  # stored in UTC


def test_booked_ninety_minutes_ahead_gets_no_reminder():
    now = oslo(2026, 11, 23, 10, 0)
    assert reminder_times(oslo(2026, 11, 23, 11, 30), now, RULES) == []


def test_booked_three_hours_ahead_gets_only_the_two_hour_one():
    now = oslo(2026, 11, 23, 10, 0)
    assert local(reminder_times(oslo(2026, 11, 23, 13, 0), now, RULES)) == ["Mon 23 Nov 11:00"]


def test_the_lead_times_and_quiet_hours_are_configurable():
    rules = BookingRules.from_config({"REMINDER_HOURS": "48", "QUIET_FROM": "21:00", "QUIET_UNTIL": "09:00"})
    now = oslo(2026, 11, 23, 8, 0)
    # 48 h before Friday 08:30 is Wednesday 08:30, still quiet until 09:00: Tuesday evening.
    assert local(reminder_times(oslo(2026, 11, 27, 8, 30), now, rules)) == ["Tue 24 Nov 20:45"]


def outbox(db_session):
    return db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_booking_plans_reminders_and_cancelling_withdraws_them(db_session, make, now, rules):
    make.opening_hours()
    service = make.service()
    counselor = make.counselor(services=[service])
    caller = make.client(language_code="so")
    start = oslo(2026, 11, 26, 13, 0)
    appointment = book_appointment(db_session, service_id=service.id, counselor_id=counselor.id, start_at=start,
                                   now=now, booked_via=BookedVia.sms, client=caller, rules=rules).appointment
    planned = outbox(db_session)
    assert [(m.kind, m.template, m.language_code, m.status) for m in planned] == [
        ("reminder", "reminder", "so", OutboxStatus.pending)] * 2
    assert [m.due_at for m in planned] == [start - timedelta(hours=24), start - timedelta(hours=2)]
    assert all(m.expires_at == start for m in planned)

    cancel_appointment(db_session, appointment, now=now, actor=Actor.caller)
    assert [m.status for m in outbox(db_session)] == [OutboxStatus.withdrawn] * 2


def test_moving_replans_reminders_and_staff_changes_are_texted(db_session, make, now, rules):
    make.opening_hours()
    service = make.service()
    counselor = make.counselor(services=[service])
    caller = make.client(language_code="ar")
    start = oslo(2026, 11, 26, 13, 0)
    appointment = book_appointment(db_session, service_id=service.id, counselor_id=counselor.id, start_at=start,
                                   now=now, booked_via=BookedVia.staff, client=caller, actor=Actor.staff,
                                   rules=rules).appointment
    reschedule_appointment(db_session, appointment, start_at=start + timedelta(days=1), now=now,
                           actor=Actor.staff, rules=rules)
    rows = [(m.kind, m.template, m.status, m.due_at) for m in outbox(db_session)]
    assert rows == [
        ("reminder", "reminder", OutboxStatus.withdrawn, start - timedelta(hours=24)),
        ("reminder", "reminder", OutboxStatus.withdrawn, start - timedelta(hours=2)),
        # One text tells her of the appointment as it is when it goes (scheduling.sending.compose).
        ("change", "booked", OutboxStatus.withdrawn, now),
        ("reminder", "reminder", OutboxStatus.pending, start + timedelta(hours=0)),
        ("reminder", "reminder", OutboxStatus.pending, start + timedelta(hours=22)),
        ("change", "moved", OutboxStatus.pending, now),
    ]
