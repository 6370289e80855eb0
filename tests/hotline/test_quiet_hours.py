"""Reminders of a time booked by text go out when the quiet hours allow: the worker on the
fake Twilio, ticking through the evening, the night and the morning before."""
from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from scheduling.booking import book_appointment
from scheduling.models import Appointment, BookedVia, OutboxMessage, OutboxStatus
from tests.conftest import OSLO, fresh, oslo
from tests.hotline.test_sms_flows import say
from tests.hotline.twilio_client import Phone
from web.worker import make_worker

EARLY = {day: (time(8), time(16)) for day in range(5)}  # a counselor who starts at 08:00


def book_by_text(app) -> str:
    """She books her first free time by text; returns the answer."""
    phone = Phone(app.test_client(), app, "+4791234567")
    phone.text("hei")
    phone.text("1")  # Norsk
    phone.text("1")  # book: the one service's first times are offered
    phone.text("1")  # the first
    return phone.text("ja")


def sent_at_each_tick(app, fake_twilio, clock, ticks):
    worker = make_worker(app)
    sent = {}
    for at in ticks:
        clock.set(at)
        before = len(fake_twilio.messages)
        worker.tick()
        sent[at.astimezone(OSLO).strftime("%a %H:%M")] = len(fake_twilio.messages) - before
    return sent


@pytest.mark.parametrize("hours, booked_at, first_time, reminded", [
    # The case: booked Thursday 16:13, her first time Friday 09:00: reminded at 08:00.
    (None, oslo(2026, 11, 26, 16, 13), oslo(2026, 11, 27, 9, 0), "Fri 08:00"),
    # Booked in the quiet hours for 09:00: the same.
    (None, oslo(2026, 11, 26, 22, 30), oslo(2026, 11, 27, 9, 0), "Fri 08:00"),
    # Booked in the quiet hours for 08:00: no reminder in the night, none at her time.
    (EARLY, oslo(2026, 11, 26, 22, 30), oslo(2026, 11, 27, 8, 0), None),
    # Booked Thursday afternoon for 08:00: the evening before.
    (EARLY, oslo(2026, 11, 26, 16, 13), oslo(2026, 11, 27, 8, 0), "Thu 19:45"),
], ids=["issue", "quiet-9", "quiet-8", "evening-8"])
def test_a_time_booked_by_text_is_reminded_outside_the_quiet_hours(
        twilio_app, fake_twilio, db_session, make, clock, hours, booked_at, first_time, reminded):
    make.opening_hours()
    service = make.service()
    make.counselor(languages=["nb"], services=[service], hours=hours)
    db_session.commit()
    clock.set(booked_at)
    assert book_by_text(twilio_app) == say("booked", "nb", when=first_time)
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    assert appointment.start_at == first_time

    ticks = [oslo(2026, 11, 26, 16, 30), oslo(2026, 11, 26, 19, 45), oslo(2026, 11, 26, 20, 0),
             oslo(2026, 11, 26, 23, 0), oslo(2026, 11, 27, 7, 59), oslo(2026, 11, 27, 8, 0),
             oslo(2026, 11, 27, 8, 15), oslo(2026, 11, 27, 10, 0)]
    sent = sent_at_each_tick(twilio_app, fake_twilio, clock, [t for t in ticks if t > booked_at])
    assert {at: n for at, n in sent.items() if n} == ({reminded: 1} if reminded else {})
    if reminded:
        assert [m.body for m in fake_twilio.messages] == [say("reminder", "nb", when=first_time)]


def test_an_evening_reminder_the_workers_missed_waits_for_morning_only_with_an_hour_to_spare(
        twilio_app, fake_twilio, db_session, make, clock):
    make.opening_hours()
    service = make.service()
    half_past_eight = {day: (time(8, 30), time(16)) for day in range(5)}
    make.counselor(languages=["nb"], services=[service], hours=half_past_eight)
    db_session.commit()
    clock.set(oslo(2026, 11, 26, 16, 13))
    assert book_by_text(twilio_app) == say("booked", "nb", when=oslo(2026, 11, 27, 8, 30))
    # The workers were down from 19:40 to 20:10: the 19:45 reminder is found in the quiet
    # hours. 08:00 would leave her half an hour: it is not sent then, nor in the night.
    ticks = [oslo(2026, 11, 26, 20, 10), oslo(2026, 11, 27, 7, 59), oslo(2026, 11, 27, 8, 0),
             oslo(2026, 11, 27, 8, 20)]
    sent = sent_at_each_tick(twilio_app, fake_twilio, clock, ticks)
    assert sent == {"Thu 20:10": 0, "Fri 07:59": 0, "Fri 08:00": 0, "Fri 08:20": 0}
    [reminder] = fresh(db_session).scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "reminder")).all()
    assert (reminder.status, reminder.error_code) == (OutboxStatus.withdrawn, "quiet-hours")


def book_through(twilio_app, db_session, make, booked_via, start_at, booked_at, *, calls=False):
    """Her time at ``start_at``, booked at ``booked_at`` by text, by phone or at the desk
    (``calls``: she has her reminders as phone calls)."""
    make.opening_hours()
    service = make.service()
    counselor = make.counselor(languages=["nb"], services=[service], hours=EARLY)
    caller = make.client("+4791234567")
    caller.wants_reminder_calls = calls
    book_appointment(db_session, service_id=service.id, counselor_id=counselor.id, start_at=start_at,
                     now=booked_at, booked_via=booked_via, client=caller,
                     rules=twilio_app.extensions["linja.rules"])
    db_session.commit()


def test_a_24_hour_reminder_the_workers_missed_does_not_go_with_the_2_hour_one_at_eight(
        twilio_app, fake_twilio, db_session, make, clock):
    nine = oslo(2026, 11, 27, 9, 0)
    book_through(twilio_app, db_session, make, BookedVia.sms, nine, oslo(2026, 11, 23, 8, 0))
    # The workers were down from Thursday morning to 21:00: the 24 h reminder (Thursday
    # 09:00) is found in the quiet hours and waits for 08:00, when the 2 h one goes too.
    ticks = [oslo(2026, 11, 26, 21, 0), oslo(2026, 11, 27, 7, 59), oslo(2026, 11, 27, 8, 0),
             oslo(2026, 11, 27, 8, 1), oslo(2026, 11, 27, 8, 30)]
    sent = sent_at_each_tick(twilio_app, fake_twilio, clock, ticks)
    assert {at: n for at, n in sent.items() if n} == {"Fri 08:00": 1}
    assert [m.body for m in fake_twilio.messages] == [say("reminder", "nb", when=nine)]


@pytest.mark.parametrize("booked_via", [BookedVia.voice, BookedVia.staff])
def test_booked_by_phone_in_the_quiet_hours_her_confirmation_at_eight_is_not_doubled_by_a_reminder(
        twilio_app, fake_twilio, db_session, make, clock, booked_via):
    # Booked by phone at 22:30 for Friday 09:00: her confirmation is a text, and it waits
    # for 08:00; a reminder at 08:00 would tell her the same, at the same minute.
    nine = oslo(2026, 11, 27, 9, 0)
    book_through(twilio_app, db_session, make, booked_via, nine, oslo(2026, 11, 26, 22, 30))
    ticks = [oslo(2026, 11, 26, 22, 31), oslo(2026, 11, 27, 8, 0), oslo(2026, 11, 27, 8, 1),
             oslo(2026, 11, 27, 8, 30)]
    sent = sent_at_each_tick(twilio_app, fake_twilio, clock, ticks)
    assert {at: n for at, n in sent.items() if n} == {"Fri 08:00": 1}
    assert [m.body for m in fake_twilio.messages] == [say("booked", "nb", when=nine)]


def test_booked_by_phone_in_the_quiet_hours_she_still_gets_her_reminder_call_if_she_wants_calls(
        twilio_app, fake_twilio, db_session, make, clock):
    # Her reminders come as phone calls (she may not read): the text at 08:00 is no reminder.
    nine = oslo(2026, 11, 27, 9, 0)
    book_through(twilio_app, db_session, make, BookedVia.voice, nine, oslo(2026, 11, 26, 22, 30), calls=True)
    sent_at_each_tick(twilio_app, fake_twilio, clock, [oslo(2026, 11, 27, 8, 0), oslo(2026, 11, 27, 8, 1)])
    assert [m.body for m in fake_twilio.messages] == [say("booked", "nb", when=nine)]
    assert len(fake_twilio.calls) == 1


def test_a_desk_booking_the_workers_missed_goes_at_eight_without_a_reminder_before_or_with_it(
        twilio_app, fake_twilio, db_session, make, clock):
    # Booked at the desk Thursday 15:30 for Friday 09:00, while the workers were down until
    # 21:00: her confirmation waits for 08:00, when her 2 h reminder is due too.
    nine = oslo(2026, 11, 27, 9, 0)
    book_through(twilio_app, db_session, make, BookedVia.staff, nine, oslo(2026, 11, 26, 15, 30))
    sent = sent_at_each_tick(twilio_app, fake_twilio, clock, [
        oslo(2026, 11, 26, 21, 0), oslo(2026, 11, 27, 8, 0), oslo(2026, 11, 27, 8, 1)])
    assert {at: n for at, n in sent.items() if n} == {"Fri 08:00": 1}
    assert [m.body for m in fake_twilio.messages] == [say("booked", "nb", when=nine)]
