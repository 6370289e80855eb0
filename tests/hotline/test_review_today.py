"""Review of today's changes: the voice line's call row lock and cache, is_sound, the text a
move by keypad promises, and the old step URLs."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.phone import call
from hotline.prompts import format_when, render, spoken_when
from scheduling import codeword
from scheduling.booking import reschedule_appointment
from scheduling.clients import find_client
from scheduling.models import Actor, Appointment, OutboxMessage, OutboxStatus
from tests.conftest import OSLO, fresh
from tests.hotline.test_voice import CheckedTransport, phone

NUMBER = "+4791234567"


def appointments(db_session):
    return fresh(db_session).scalars(select(Appointment).order_by(Appointment.id)).all()


def changes(db_session):
    return fresh(db_session).execute(select(OutboxMessage.template, OutboxMessage.status, OutboxMessage.error_code)
                                     .where(OutboxMessage.kind == "change").order_by(OutboxMessage.id)).all()


def book_and_send(twilio_app, db_session):
    from web.worker import make_worker
    line = call(phone(twilio_app, CheckedTransport(twilio_app)))
    for key in "21111":
        line.press(key)
    make_worker(twilio_app).tick()


def move_by_keypad(twilio_app, slot="2"):
    """Her appointment; move it; the time ``slot``; yes: what she hears last."""
    line = call(phone(twilio_app, CheckedTransport(twilio_app)))
    for key in "22" + slot:
        line.press(key)
    return line.press("1")


def test_with_a_code_word_the_promised_moved_text_is_the_private_one(twilio_app, centre, db_session, fake_twilio):
    from web.worker import make_worker
    book_and_send(twilio_app, db_session)
    her = find_client(fresh(db_session), NUMBER)
    [booked] = appointments(db_session)
    codeword.set_code_word(db_session, db_session.merge(her), "4321", booked.created_at)
    db_session.commit()
    line = call(phone(twilio_app, CheckedTransport(twilio_app)))
    for key in ("2", "4321", "2", "2", "1"):
        line.press(key)
    [moved] = appointments(db_session)
    make_worker(twilio_app).tick()
    texts = fake_twilio.bodies_to(NUMBER)
    assert len(texts) == 2, (texts, changes(db_session))
    assert texts[-1] == render("moved_private", "en", when=format_when(moved.start_at, "en", OSLO))


def test_two_moves_by_keypad_before_the_text_goes_send_one_text_with_the_last(twilio_app, centre, db_session,
                                                                               fake_twilio):
    from web.worker import make_worker
    book_and_send(twilio_app, db_session)
    move_by_keypad(twilio_app, "2")
    move_by_keypad(twilio_app, "3")
    [moved] = appointments(db_session)
    make_worker(twilio_app).tick()
    texts = fake_twilio.bodies_to(NUMBER)
    assert len(texts) == 2, (texts, changes(db_session))
    assert format_when(moved.start_at, "en", OSLO) in texts[-1]


def test_a_staff_move_after_her_keypad_move_sends_one_text_with_the_staff_time(twilio_app, centre, db_session,
                                                                                fake_twilio, clock):
    from web.worker import make_worker
    book_and_send(twilio_app, db_session)
    move_by_keypad(twilio_app, "2")
    [moved] = appointments(db_session)
    appointment = db_session.get(Appointment, moved.id)
    reschedule_appointment(db_session, appointment, start_at=moved.start_at + timedelta(days=1),
                           now=clock.now(), actor=Actor.staff)
    db_session.commit()
    [moved] = appointments(db_session)
    make_worker(twilio_app).tick()
    texts = fake_twilio.bodies_to(NUMBER)
    assert len(texts) == 2, (texts, changes(db_session))
    assert format_when(moved.start_at, "en", OSLO) in texts[-1]


def test_staff_moving_it_away_and_back_keeps_the_promised_text(twilio_app, centre, db_session, fake_twilio, clock):
    from web.worker import make_worker
    book_and_send(twilio_app, db_session)
    move_by_keypad(twilio_app, "2")
    [moved] = appointments(db_session)
    keypad_time = moved.start_at
    appointment = db_session.get(Appointment, moved.id)
    reschedule_appointment(db_session, appointment, start_at=keypad_time + timedelta(days=1), now=clock.now(),
                           actor=Actor.staff)
    db_session.commit()
    appointment = db_session.get(Appointment, moved.id)
    reschedule_appointment(db_session, appointment, start_at=keypad_time, now=clock.now(), actor=Actor.staff)
    db_session.commit()
    make_worker(twilio_app).tick()
    texts = fake_twilio.bodies_to(NUMBER)
    assert len(texts) == 2, (texts, changes(db_session))
    assert format_when(keypad_time, "en", OSLO) in texts[-1]


# --- two first requests of one call at once ------------------------------------------------------


@pytest.mark.parametrize("answered", [False, True], ids=["her call", "a reminder call she answers"])
def test_two_first_requests_of_one_call_at_once_both_go_on_from_one_row(database_url, centre, db_session, now, make,
                                                                        answered):
    """Twilio asks again when an answer is slow: the second first request of a call waits
    for the first's row instead of failing on the duplicate (she would hear an apology and
    be hung up on). The same when Linja called her to remind her and she answers."""
    import threading

    from hotline.ivr import Line, reminder_call
    from scheduling.availability import BookingRules
    from scheduling.db import make_engine, make_session_factory
    from scheduling.models import Call

    her = make.client(NUMBER, "en")
    appointment = make.appointment(centre["counselors"]["so"], centre["talk"], now + timedelta(days=1),
                                   client_id=her.id)
    reminder = OutboxMessage(client_id=her.id, appointment_id=appointment.id, kind="reminder", template="reminder",
                             params={}, language_code="en", due_at=now, created_at=now, updated_at=now)
    db_session.add(reminder)
    db_session.commit()
    engine = make_engine(database_url) if database_url.startswith("sqlite") else make_engine(
        database_url, pool_size=2, max_overflow=0)
    factory = make_session_factory(engine)

    def line(session) -> Line:
        return Line(session=session, now=now, rules=BookingRules(), url=lambda step, **q: step,
                    recording_url=lambda token: token, call_sid="CA" + "1" * 32, caller=NUMBER,
                    centre_number="+4759440000")

    def first_request(session) -> str:
        if answered:
            return str(reminder_call(line(session), reminder.id, "human"))
        return line(session).call().call_sid

    first, second = factory(), factory()
    outcome: list = []
    try:
        first_request(first)  # inserted, not yet committed

        def other() -> None:
            try:
                outcome.append(first_request(second))
                second.commit()
            except Exception as error:  # shown by the assertion
                second.rollback()
                outcome.append(error)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=1.5)  # it waits for the first
        first.commit()
        thread.join(timeout=30)
    finally:
        first.close()
        second.close()
        engine.dispose()
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    if answered:
        assert "Gather" in outcome[0] and "Hangup" not in outcome[0]  # her reminder, asked
    else:
        assert outcome == ["CA" + "1" * 32]
    assert len(fresh(db_session).scalars(select(Call)).all()) == 1


def test_after_stop_a_move_by_keypad_promises_no_text_and_none_goes(twilio_app, centre, db_session, fake_twilio):
    from hotline.prompts import render as say_it
    from web.worker import make_worker
    book_and_send(twilio_app, db_session)
    session = fresh(db_session)
    find_client(session, NUMBER).is_opted_out = True
    session.commit()
    heard = move_by_keypad(twilio_app, "2")
    [moved] = appointments(db_session)
    assert heard[0].text == say_it("v_moved", "en", when=spoken_when(moved.start_at, "en", OSLO))
    make_worker(twilio_app).tick()
    assert len(fake_twilio.bodies_to(NUMBER)) == 1
    assert changes(db_session)[-1][1:] == (OutboxStatus.withdrawn, "opted-out")


# --- is_sound: every state the dialogue really keeps is sound ------------------------------------


def test_every_state_the_dialogue_keeps_is_sound_as_kept(app, db_session, make, centre):
    """Each state of the table as the walk reaches it, and each state any key leads to from
    there, read back as a row keeps it (JSON): never judged damaged (she would be thrown
    back to her main menu mid-booking)."""
    import json
    from dataclasses import replace

    from hotline.conversation import SMS, TABLE, VOICE, is_sound
    from tests.hotline.test_menu_walk import KEYPAD, NUMBER as WALK_NUMBER, Walk, scenarios

    make.client(WALK_NUMBER, language_code="en")
    db_session.flush()
    unsound, seen = [], set()
    for line in (SMS, VOICE):
        walk = Walk(app, db_session, make, centre, line, "en")
        for scenario in scenarios(line):
            outer = db_session.begin_nested()
            try:
                state = walk.reach(scenario)
                kept = [state]
                for text in ("1234", *KEYPAD):
                    trial = db_session.begin_nested()
                    try:
                        kept.append(walk.answer(state, text, scenario.now).state)
                    finally:
                        trial.rollback()
                seen.update(each.name for each in kept)
                for each in kept:
                    as_kept = replace(each, data=json.loads(json.dumps(each.data)))
                    if not is_sound(as_kept):
                        unsound.append((line, scenario.state, each.name, each.data))
            finally:
                outer.rollback()
    assert seen == set(TABLE)  # every state was kept and read back
    assert unsound == []
