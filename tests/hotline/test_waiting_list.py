"""The waiting list by text, end to end: a freed time is held for the first woman waiting
and offered to her in her language by the worker (real twilio client, fake Twilio); her
answer takes it or passes, and silence passes when the hold ends."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from scheduling import waitlist
from scheduling.booking import book_appointment, cancel_appointment
from scheduling.clients import find_client
from scheduling.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    BookedVia,
    Client,
    WaitingEntry,
    WaitingStatus,
)
from tests.conftest import fresh, oslo
from tests.hotline.test_sms_flows import say
from tests.hotline.twilio_client import Phone
from web.worker import make_worker

TUESDAY_10 = oslo(2026, 11, 24, 10, 0)  # now is Monday 23 November, 08:00
HODAN, SAHRA, AMINA = "+4791111111", "+4792222222", "+4793333333"


@pytest.fixture
def one_time(twilio_app, db_session, make, now):
    """One time for a talk: Tuesday 10-11 in Somali, booked by Amina; Hodan (Somali) and
    Sahra (Arabic) wait for it, in that order."""
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    counselor = make.counselor(languages=["so", "ar"], services=[service], hours={1: (time(10), time(11))},
                               valid_until=date(2026, 11, 24))
    amina = make.client(AMINA, language_code="so")
    hodan, sahra = make.client(HODAN, language_code="so"), make.client(SAHRA, language_code="ar")
    booked = book_appointment(db_session, service_id=service.id, counselor_id=counselor.id, start_at=TUESDAY_10,
                              now=now, booked_via=BookedVia.staff, client=amina, actor=Actor.staff).appointment
    for woman in (hodan, sahra):
        waitlist.join(db_session, client=woman, service_id=service.id, language_code=woman.language_code, now=now)
    db_session.commit()
    return {"service": service, "counselor": counselor, "booked": booked}


def free_it(db_session, one_time, now):
    cancel_appointment(db_session, db_session.get(Appointment, one_time["booked"].id), now=now, actor=Actor.staff)
    db_session.commit()


def texts_to(fake_twilio, number):
    return [m.body for m in fake_twilio.messages if m.to == number]


def test_a_cancelled_time_is_offered_to_the_first_woman_waiting_and_she_takes_it(
        twilio_app, fake_twilio, one_time, db_session, now, clock):
    worker = make_worker(twilio_app)
    worker.tick()
    assert texts_to(fake_twilio, HODAN) == []  # nothing is free yet
    free_it(db_session, one_time, now)
    worker.tick()
    until = now + waitlist.OFFER_HOLD
    assert texts_to(fake_twilio, HODAN) == [say("waitlist_offer", "so", when=TUESDAY_10, time=until)]
    assert texts_to(fake_twilio, SAHRA) == []
    # A new caller looking for a time meanwhile finds none.
    newcomer = Phone(twilio_app.test_client(), twilio_app, "+4794444444")
    for words in ("hi", "4"):
        newcomer.text(words)
    assert newcomer.text("1") == say("no_slots", "so")

    hodan = Phone(twilio_app.test_client(), twilio_app, HODAN)
    clock.advance(timedelta(minutes=10))
    assert hodan.text("1") == say("booked", "so", when=TUESDAY_10)
    [booked] = fresh(db_session).scalars(select(Appointment).where(Appointment.status == AppointmentStatus.booked))
    assert booked.client_id == find_client(db_session, HODAN).id and booked.start_at == TUESDAY_10
    assert [e.status for e in db_session.scalars(select(WaitingEntry).order_by(WaitingEntry.id))] == [
        WaitingStatus.booked, WaitingStatus.waiting]


def test_she_passes_and_the_next_woman_is_offered_it_in_her_language(twilio_app, fake_twilio, one_time,
                                                                    db_session, now, clock):
    free_it(db_session, one_time, now)
    worker = make_worker(twilio_app)
    worker.tick()
    hodan = Phone(twilio_app.test_client(), twilio_app, HODAN)
    assert hodan.text("2") == say("offer_passed", "so")
    clock.advance(timedelta(minutes=1))
    worker.tick()
    assert texts_to(fake_twilio, SAHRA) == [
        say("waitlist_offer", "ar", when=TUESDAY_10, time=clock.now() + waitlist.OFFER_HOLD)]
    # Not offered to Hodan again.
    assert len(texts_to(fake_twilio, HODAN)) == 1


def test_silence_passes_and_a_late_yes_is_told_kindly_and_she_stays_on_the_list(twilio_app, fake_twilio, one_time,
                                                                               db_session, now, clock):
    free_it(db_session, one_time, now)
    worker = make_worker(twilio_app)
    worker.tick()
    clock.advance(waitlist.OFFER_HOLD)
    worker.tick()  # her hold ended: Sahra's turn
    assert len(texts_to(fake_twilio, SAHRA)) == 1
    hodan = Phone(twilio_app.test_client(), twilio_app, HODAN)
    assert hodan.text("1") == say("offer_gone", "so")
    assert fresh(db_session).scalars(select(Appointment).where(Appointment.status == AppointmentStatus.booked)
                                     ).all() == []
    entry = db_session.scalars(select(WaitingEntry).where(
        WaitingEntry.client_id == find_client(db_session, HODAN).id)).one()
    assert entry.status == WaitingStatus.waiting


def test_her_answer_goes_to_the_offer_when_a_reminder_came_before_it(twilio_app, fake_twilio, one_time, make,
                                                                     db_session, now, clock):
    # Hodan has a family talk on Tuesday at 14:00; its reminder comes first, then the offer.
    family = make.service(minutes=60, buffer=0)
    other = make.counselor(languages=["so"], services=[family], hours={1: (time(14), time(15))})
    afternoon = oslo(2026, 11, 24, 14, 0)
    book_appointment(db_session, service_id=family.id, counselor_id=other.id, start_at=afternoon, now=now,
                     booked_via=BookedVia.staff, client=db_session.get(Client, find_client(db_session, HODAN).id),
                     actor=Actor.staff)
    db_session.commit()
    worker = make_worker(twilio_app)
    worker.tick()  # the desk's "booked" text
    clock.set(afternoon - timedelta(hours=24))  # Monday 14:00: her reminder
    worker.tick()
    assert texts_to(fake_twilio, HODAN)[-1] == say("reminder", "so", when=afternoon)
    clock.advance(timedelta(minutes=5))
    free_it(db_session, one_time, clock.now())
    worker.tick()
    assert texts_to(fake_twilio, HODAN)[-1] == say("waitlist_offer", "so", when=TUESDAY_10,
                                                     time=clock.now() + waitlist.OFFER_HOLD)
    # The most recent question is the one her "1" answers.
    hodan = Phone(twilio_app.test_client(), twilio_app, HODAN)
    assert hodan.text("1") == say("booked", "so", when=TUESDAY_10)
    starts = fresh(db_session).scalars(select(Appointment.start_at).where(
        Appointment.status == AppointmentStatus.booked).order_by(Appointment.start_at)).all()
    assert starts == [TUESDAY_10, afternoon]


def test_a_woman_outside_her_contact_hours_keeps_her_place_and_the_next_one_is_offered_it(
        twilio_app, fake_twilio, one_time, db_session, now):
    from scheduling.contact import ContactTerms, change_terms

    hodan = db_session.get(Client, find_client(db_session, HODAN).id)
    change_terms(db_session, hodan, ContactTerms(starts=time(15), ends=time(18)), now=now, actor=Actor.caller)
    free_it(db_session, one_time, now)
    make_worker(twilio_app).tick()
    assert texts_to(fake_twilio, HODAN) == []
    assert len(texts_to(fake_twilio, SAHRA)) == 1
