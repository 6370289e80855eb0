"""When reminders go: 24 h and 2 h before, never in the quiet hours, never in the past."""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from scheduling.availability import BookingRules
from scheduling.booking import book_appointment, cancel_appointment, reschedule_appointment
from scheduling.models import Actor, Appointment, BookedVia, OutboxMessage, OutboxStatus
from scheduling.reminders import quiet_span, reminder_times
from tests.conftest import OSLO, fresh, oslo
from web.worker import make_worker

RULES = BookingRules()


def local(times):
    return [t.astimezone(OSLO).strftime("%a %d %b %H:%M") for t in times]


def planned(start_at, booked_at, rules=RULES, **went):
    """When the reminders of ``start_at``, booked at ``booked_at``, go, in Oslo time."""
    return local(reminder_times(start_at, booked_at, rules, **went))


def test_an_appointment_three_days_ahead_gets_two_reminders_at_the_right_local_times():
    now = oslo(2026, 11, 23, 8, 0)
    assert planned(oslo(2026, 11, 26, 13, 0), now) == ["Wed 25 Nov 13:00", "Thu 26 Nov 11:00"]


def test_a_two_hour_reminder_in_the_quiet_hours_goes_when_they_end_if_that_leaves_an_hour():
    now = oslo(2026, 11, 23, 8, 0)
    # 2 h before Thursday 09:00 is 07:00, inside 20:00-08:00: it goes at 08:00, an hour before.
    assert planned(oslo(2026, 11, 26, 9, 0), now) == ["Wed 25 Nov 09:00", "Thu 26 Nov 08:00"]
    assert planned(oslo(2026, 11, 26, 9, 30), now) == ["Wed 25 Nov 09:30", "Thu 26 Nov 08:00"]
    # 2 h before 10:00 is 08:00 itself, when the quiet hours are over.
    assert planned(oslo(2026, 11, 26, 10, 0), now) == ["Wed 25 Nov 10:00", "Thu 26 Nov 08:00"]


def test_the_issue_friday_nine_booked_thursday_afternoon_is_reminded_at_eight():
    # Booked Thursday 16:13: the 24 h reminder's moment has passed (her confirmation names
    # the time); the 2 h one would be 07:00, so it goes at 08:00, not 08:15 nor in the night.
    now = oslo(2026, 11, 26, 16, 13)
    assert planned(oslo(2026, 11, 27, 9, 0), now) == ["Fri 27 Nov 08:00"]


def test_an_eight_oclock_appointment_is_reminded_the_evening_before_unless_the_24_hour_one_was_close():
    eight = oslo(2026, 11, 27, 8, 0)
    # Booked days ahead: the 24 h reminder goes Thursday 08:00; the 2 h one would go at
    # 19:45 that evening, under 12 h later, so it is not sent at all.
    assert planned(eight, oslo(2026, 11, 23, 8, 0)) == ["Thu 26 Nov 08:00"]
    # Booked Thursday morning after 08:00: there is no 24 h reminder, so the evening one goes,
    # just before the quiet hours.
    assert planned(eight, oslo(2026, 11, 26, 9, 0)) == ["Thu 26 Nov 19:45"]
    # An 08:30 one: 08:00 would leave her half an hour, so the same.
    half_past = oslo(2026, 11, 27, 8, 30)
    assert planned(half_past, oslo(2026, 11, 23, 8, 0)) == ["Thu 26 Nov 08:30"]
    assert planned(half_past, oslo(2026, 11, 26, 12, 0)) == ["Thu 26 Nov 19:45"]


def test_the_evening_reminder_goes_when_the_24_hour_one_went_twelve_hours_before_or_more():
    rules = BookingRules(quiet_from=time(21, 0), quiet_until=time(7, 0))
    # 24 h: Thursday 07:00; 2 h: Friday 05:00, quiet; 07:00 leaves no hour: Thursday 20:45.
    # 13 h 45 apart: both go.
    assert local(reminder_times(oslo(2026, 11, 27, 7, 0), oslo(2026, 11, 23, 8, 0), rules)) == [
        "Thu 26 Nov 07:00", "Thu 26 Nov 20:45"]
    # With the centre's hours the 24 h reminder of an 08:00 appointment that already went
    # (it was moved to another counselor, same time) counts as well as one yet to go.
    eight = oslo(2026, 11, 27, 8, 0)
    went = [oslo(2026, 11, 26, 8, 0)]
    assert reminder_times(eight, oslo(2026, 11, 26, 9, 0), RULES, went=went) == []
    # 12 h 1 min before: not too close.
    assert planned(eight, oslo(2026, 11, 26, 9, 0), went=[oslo(2026, 11, 26, 7, 44)]) == ["Thu 26 Nov 19:45"]


def test_booked_late_the_evening_before():
    # 19:30: the evening reminder of an 08:00 appointment is still to come.
    assert planned(oslo(2026, 11, 27, 8, 0), oslo(2026, 11, 26, 19, 30)) == ["Thu 26 Nov 19:45"]
    # 19:50: its moment has passed when she books; it is not sent in the night or the morning.
    assert reminder_times(oslo(2026, 11, 27, 8, 0), oslo(2026, 11, 26, 19, 50), RULES) == []
    # For 09:00 and 10:00 it goes at 08:00.
    assert planned(oslo(2026, 11, 27, 9, 0), oslo(2026, 11, 26, 19, 50)) == ["Fri 27 Nov 08:00"]
    assert planned(oslo(2026, 11, 27, 10, 0), oslo(2026, 11, 26, 19, 50)) == ["Fri 27 Nov 08:00"]


def test_booked_during_the_quiet_hours():
    for booked_at in (oslo(2026, 11, 26, 22, 0), oslo(2026, 11, 27, 0, 30), oslo(2026, 11, 27, 6, 45)):
        assert reminder_times(oslo(2026, 11, 27, 8, 0), booked_at, RULES) == []
        assert planned(oslo(2026, 11, 27, 9, 0), booked_at) == ["Fri 27 Nov 08:00"]
        assert planned(oslo(2026, 11, 27, 10, 0), booked_at) == ["Fri 27 Nov 08:00"]
    # At 07:30 the 2 h moment of a 09:00 appointment has passed: she was just told the time.
    assert reminder_times(oslo(2026, 11, 27, 9, 0), oslo(2026, 11, 27, 7, 30), RULES) == []


@pytest.mark.parametrize("rules", [RULES, BookingRules.from_config({"REMINDER_HOURS": "48,24,3"}),
                                   BookingRules.from_config({"QUIET_FROM": "21:30", "QUIET_UNTIL": "09:00"})],
                         ids=["24,2", "48,24,3", "quiet 21:30-09:00"])
def test_whenever_she_books_no_reminder_falls_in_the_quiet_hours_or_after_her_time(rules):
    starts = [oslo(2026, 11, 27, 7, 0) + timedelta(minutes=30 * n) for n in range(26)]  # Friday 07:00-19:30
    booked = oslo(2026, 11, 24, 12, 0)
    while booked < starts[-1]:
        for start_at in starts:
            if start_at <= booked:
                continue
            times = reminder_times(start_at, booked, rules)
            assert times == sorted(set(times))
            for at in times:
                assert booked < at < start_at and quiet_span(at, rules) is None, (booked, start_at, at)
                if at.astimezone(OSLO).time() == rules.quiet_until:  # moved to the morning
                    assert start_at - at >= timedelta(hours=1)
        booked += timedelta(minutes=25)


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
    assert planned(oslo(2026, 11, 23, 13, 0), now) == ["Mon 23 Nov 11:00"]


def test_the_lead_times_and_quiet_hours_are_configurable():
    rules = BookingRules.from_config({"REMINDER_HOURS": "48", "QUIET_FROM": "21:00", "QUIET_UNTIL": "09:00"})
    now = oslo(2026, 11, 23, 8, 0)
    # 48 h before Friday 08:30 is Wednesday 08:30, still quiet until 09:00: then.
    assert local(reminder_times(oslo(2026, 11, 27, 8, 30), now, rules)) == ["Wed 25 Nov 09:00"]
    # 2 h before Friday 09:30 is 07:30; 09:00 would leave half an hour: Thursday 20:45.
    rules = BookingRules.from_config({"REMINDER_HOURS": "2", "QUIET_FROM": "21:00", "QUIET_UNTIL": "09:00"})
    assert local(reminder_times(oslo(2026, 11, 27, 9, 30), now, rules)) == ["Thu 26 Nov 20:45"]


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


# --- planned with the booking, sent by the worker --------------------------------------------

EARLY = {day: (time(8), time(16)) for day in range(5)}


def pending_reminders(db_session):
    return [m.due_at for m in fresh(db_session).scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "reminder", OutboxMessage.status == OutboxStatus.pending)
        .order_by(OutboxMessage.due_at))]


def test_a_24_hour_reminder_that_went_counts_when_she_is_moved_to_another_counselor(
        twilio_app, fake_twilio, db_session, make, now, rules, clock):
    make.opening_hours()
    service = make.service()
    amina = make.counselor(languages=["so"], services=[service], hours=EARLY)
    sana = make.counselor(languages=["so"], services=[service], hours=EARLY)
    caller = make.client("+4791234567", language_code="so")
    eight = oslo(2026, 11, 27, 8, 0)
    appointment = book_appointment(db_session, service_id=service.id, counselor_id=amina.id, start_at=eight,
                                   now=now, booked_via=BookedVia.sms, client=caller, rules=rules).appointment
    db_session.commit()
    assert pending_reminders(db_session) == [oslo(2026, 11, 26, 8, 0)]  # no evening one 11 h 45 later

    clock.set(oslo(2026, 11, 26, 8, 0))
    make_worker(twilio_app).tick()
    assert len(fake_twilio.messages) == 1

    # Thursday 09:00 the desk gives her time to Sana: the 24 h reminder of this very time
    # went at 08:00, so still no evening reminder.
    moved_at = oslo(2026, 11, 26, 9, 0)
    appointment = fresh(db_session).get(Appointment, appointment.id)
    reschedule_appointment(db_session, appointment, start_at=eight, counselor_id=sana.id, now=moved_at,
                           actor=Actor.staff, rules=rules)
    db_session.commit()
    assert pending_reminders(db_session) == []

    # Moved to 08:30 instead, a time no reminder named: the evening reminder goes.
    appointment = fresh(db_session).get(Appointment, appointment.id)
    reschedule_appointment(db_session, appointment, start_at=oslo(2026, 11, 27, 8, 30), now=moved_at,
                           actor=Actor.staff, rules=rules)
    db_session.commit()
    assert local(pending_reminders(db_session)) == ["Thu 26 Nov 19:45"]

