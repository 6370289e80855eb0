"""Contact on her terms: every text and call Linja sends her keeps to the means and the
hours she chose (scheduling.contact), through the real worker and the real twilio client
against a fake Twilio on 127.0.0.1."""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from scheduling.booking import book_appointment, cancel_appointment, reschedule_appointment
from scheduling.contact import EVERY_DAY, WEEKDAYS, ContactTerms, change_terms
from scheduling.models import Actor, BookedVia, Client, ContactMeans, OutboxMessage, OutboxStatus
from tests.conftest import OSLO, fresh, oslo
from tests.hotline.test_sms_flows import say
from web.worker import make_worker

NUMBER = "+4791234567"
START = oslo(2026, 11, 26, 13, 0)  # Thursday 13:00; now is Monday 23 November, 08:00


@pytest.fixture
def centre(db_session, make):
    make.opening_hours()
    service = make.service()
    counselor = make.counselor(languages=["so", "ar", "nb"], services=[service])
    caller = make.client(NUMBER, language_code="so")
    db_session.commit()
    return {"service": service, "counselor": counselor, "caller": caller}


def her_terms(db_session, caller, **terms) -> None:
    change_terms(db_session, db_session.get(Client, caller.id), ContactTerms(**terms), now=oslo(2026, 11, 23, 8, 0),
                 actor=Actor.staff)
    db_session.commit()


def book(db_session, centre, now, rules, start=START, via=BookedVia.sms):
    appointment = book_appointment(
        db_session, service_id=centre["service"].id, counselor_id=centre["counselor"].id, start_at=start, now=now,
        booked_via=via, client=db_session.get(Client, centre["caller"].id), rules=rules,
        actor=Actor.caller if via != BookedVia.staff else Actor.staff).appointment
    db_session.commit()
    return appointment


def outbox(db_session) -> list[tuple[str, OutboxStatus, str | None]]:
    return [(m.kind, m.status, m.error_code)
            for m in fresh(db_session).scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_reminders_inside_her_hours_go_as_always(twilio_app, fake_twilio, centre, clock,
                                                                  db_session, now, rules):
    her_terms(db_session, centre["caller"], days=WEEKDAYS, starts=time(10), ends=time(14))
    book(db_session, centre, now, rules)
    worker = make_worker(twilio_app)
    clock.set(START - timedelta(hours=24))  # Wednesday 13:00: inside her hours
    worker.tick()
    assert [m.body for m in fake_twilio.messages] == [say("reminder", "so", when=START)]
    clock.set(START - timedelta(hours=2))  # Thursday 11:00: inside
    worker.tick()
    assert len(fake_twilio.messages) == 2


def test_a_reminder_waits_for_her_window_and_goes_when_it_opens(twilio_app, fake_twilio, centre, clock,
                                                                db_session, now, rules):
    her_terms(db_session, centre["caller"], days=WEEKDAYS, starts=time(9), ends=time(11))
    book(db_session, centre, now, rules)
    worker = make_worker(twilio_app)
    clock.set(START - timedelta(hours=24))  # Wednesday 13:00: her window closed at 11:00
    worker.tick()
    assert fake_twilio.messages == []
    due = fresh(db_session).scalars(select(OutboxMessage.due_at).order_by(OutboxMessage.id)).first()
    assert due == oslo(2026, 11, 26, 9, 0)  # Thursday, when her window opens
    clock.set(oslo(2026, 11, 26, 9, 0))
    worker.tick()
    assert [m.body for m in fake_twilio.messages] == [say("reminder", "so", when=START)]


def test_a_reminder_her_window_opens_too_late_for_is_not_sent_and_the_desk_sees_it(
        twilio_app, fake_twilio, centre, clock, db_session, now, rules):
    # Evenings only: Wednesday's window has closed by the 24-hour reminder, Thursday's
    # opens after the appointment.
    her_terms(db_session, centre["caller"], days=EVERY_DAY, starts=time(18), ends=time(19, 30))
    book(db_session, centre, now, rules)
    clock.set(START - timedelta(hours=2))  # Thursday 11:00 (the worker was down since Wednesday)
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == [] and fake_twilio.calls == []
    # The earlier reminder gives way to the later one, which her window opens too late for.
    assert outbox(db_session) == [("reminder", OutboxStatus.withdrawn, "superseded"),
                                  ("reminder", OutboxStatus.withdrawn, "contact-hours")]


def test_texts_only_a_reminder_call_she_once_asked_for_comes_as_a_text(twilio_app, fake_twilio, centre, clock,
                                                                       db_session, now, rules):
    caller = db_session.get(Client, centre["caller"].id)
    caller.wants_reminder_calls, caller.language_code = True, "ar"
    db_session.commit()
    her_terms(db_session, caller, means=ContactMeans.texts)
    book(db_session, centre, now, rules)
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    assert fake_twilio.calls == []
    assert [m.body for m in fake_twilio.messages] == [say("reminder", "ar", when=START)]


def test_calls_only_a_reminder_is_a_call_and_a_change_by_the_desk_is_not_texted(
        twilio_app, fake_twilio, centre, clock, db_session, now, rules):
    caller = db_session.get(Client, centre["caller"].id)
    caller.language_code = "ar"  # a call can be heard in Arabic
    db_session.commit()
    her_terms(db_session, caller, means=ContactMeans.calls)
    appointment = book(db_session, centre, now, rules, via=BookedVia.staff)
    worker = make_worker(twilio_app)
    worker.tick()
    assert fake_twilio.messages == []  # the desk's "booked" text: not by text
    assert outbox(db_session)[-1] == ("change", OutboxStatus.withdrawn, "contact-means")
    clock.set(START - timedelta(hours=24))
    worker.tick()
    [placed] = fake_twilio.calls
    assert placed.to == NUMBER and "reminder?message=" in placed.url
    assert fake_twilio.messages == []
    assert appointment.id


def test_calls_only_in_a_language_a_call_cannot_be_heard_in_gets_no_reminder_and_the_desk_sees_it(
        twilio_app, fake_twilio, centre, clock, db_session, now, rules):
    caller = db_session.get(Client, centre["caller"].id)
    caller.language_code = "ti"  # nothing of Tigrinya recorded: no call can be heard
    db_session.commit()
    her_terms(db_session, caller, means=ContactMeans.calls)
    book(db_session, centre, now, rules)
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == [] and fake_twilio.calls == []
    assert ("reminder", OutboxStatus.withdrawn, "contact-means") in outbox(db_session)


def test_no_reminders_means_none_but_the_desks_change_still_reaches_her(twilio_app, fake_twilio, centre, clock,
                                                                      db_session, now, rules):
    her_terms(db_session, centre["caller"], means=ContactMeans.no_reminders)
    appointment = book(db_session, centre, now, rules)
    reschedule_appointment(db_session, appointment, start_at=START + timedelta(hours=1), now=now, actor=Actor.staff,
                           rules=rules)
    db_session.commit()
    worker = make_worker(twilio_app)
    worker.tick()
    assert len(fake_twilio.messages) == 1  # the move, by text
    clock.set(START + timedelta(hours=1) - timedelta(hours=2))
    worker.tick()
    assert len(fake_twilio.messages) == 1
    reminders = [(status, why) for kind, status, why in outbox(db_session) if kind == "reminder"]
    assert OutboxStatus.queued not in {status for status, _ in reminders}
    assert (OutboxStatus.withdrawn, "no-reminders") in reminders


def test_a_cancellation_outside_her_hours_waits_and_is_dropped_once_the_time_has_passed(
        twilio_app, fake_twilio, centre, clock, db_session, now, rules):
    her_terms(db_session, centre["caller"], days=WEEKDAYS, starts=time(10), ends=time(12))
    appointment = book(db_session, centre, now, rules, start=oslo(2026, 11, 23, 14, 0))  # today 14:00
    clock.set(oslo(2026, 11, 23, 13, 0))
    cancel_appointment(db_session, db_session.get(type(appointment), appointment.id), now=clock.now(),
                       actor=Actor.staff)
    db_session.commit()
    make_worker(twilio_app).tick()
    # Her window opens again on Tuesday at 10:00: after the time she would have come.
    assert fake_twilio.messages == []
    assert ("change", OutboxStatus.withdrawn, "contact-hours") in outbox(db_session)


def test_her_window_on_the_day_the_clocks_go_back_is_in_oslo_time():
    terms = ContactTerms(days=EVERY_DAY, starts=time(10), ends=time(14))
    before = oslo(2026, 10, 25, 9, 30)  # Sunday, the last Sunday of October: 02:00 came twice
    assert not terms.is_open(before, OSLO)
    assert terms.next_opening(before, OSLO) == oslo(2026, 10, 25, 10, 0)
    assert terms.is_open(oslo(2026, 10, 25, 13, 59), OSLO) and not terms.is_open(oslo(2026, 10, 25, 14, 0), OSLO)


def test_weekdays_only_skips_the_weekend():
    terms = ContactTerms(days=WEEKDAYS, starts=time(10), ends=time(14))
    friday_evening = oslo(2026, 11, 27, 15, 0)
    assert terms.next_opening(friday_evening, OSLO) == oslo(2026, 11, 30, 10, 0)  # Monday
    assert ContactTerms(days="").next_opening(friday_evening, OSLO) == friday_evening  # no days given: any
