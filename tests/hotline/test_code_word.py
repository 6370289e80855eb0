"""Her code word: whoever holds her phone can read and write as her, so with a code word set
nothing about her appointment is shown, cancelled or moved, by text or by phone, until
the code is given. What she (and anyone with her phone) would notice is asserted here."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.phone import SimulatedPhone, call
from hotline.prompts import format_time, format_when, render, spoken_when
from scheduling import codeword
from scheduling.clients import find_client
from scheduling.models import Appointment, AppointmentStatus, AuditEntry, Call, Client, Conversation, InboundMessage
from tests.conftest import OSLO, ROOM_FOR_MANY, fresh, oslo
from tests.hotline.test_sms_flows import ADDRESS, MENU_NUMBER, appointments, say
from tests.hotline.test_voice import CheckedTransport
from tests.hotline.twilio_client import Phone
from web.worker import make_worker

NUMBER = "+4791234567"
CODE = "4711"


@pytest.fixture
def app_config():
    return ROOM_FOR_MANY


@pytest.fixture
def phone(app, client):
    return Phone(client, app, NUMBER)


def caller(db_session) -> Client:
    return find_client(fresh(db_session), NUMBER)


def book(phone, language="en"):
    phone.text("hi")
    phone.text(str(MENU_NUMBER[language]))
    phone.text("1")  # book
    phone.text("1")  # the first service
    phone.text("1")  # the first time
    return phone.text("1")  # yes


def set_code(phone, code=CODE):
    assert phone.text("6") == say("code_choose", "en")
    assert phone.text(code) == say("code_repeat", "en")
    assert phone.text(code) == say("code_set", "en")


def later(clock, minutes=31):
    """She put the phone down: the conversation times out."""
    clock.advance(timedelta(minutes=minutes))


def shows_nothing(text: str, appointment: Appointment, language: str = "en") -> bool:
    local = appointment.start_at.astimezone(OSLO)
    return (format_when(appointment.start_at, language, OSLO) not in text
            and local.strftime("%H:%M") not in text and ADDRESS not in text)


# --- setting it -----------------------------------------------------------------------------


def test_setting_a_code_word_asks_twice_and_keeps_only_a_hash(phone, centre, db_session):
    phone.text("hi")
    assert "6" in phone.text("2")  # the main menu offers it
    assert phone.text("6") == say("code_choose", "en")
    assert phone.text("12") == say("code_format", "en")  # too short
    assert phone.text("12 34") == say("code_repeat", "en")  # spaces as on a keypad phone
    assert phone.text("1243") == say("code_mismatch", "en")
    assert fresh(db_session).get(Conversation, caller(db_session).id).state == "code_new"
    assert phone.text("١٢٣٤") == say("code_repeat", "en")  # Arabic-Indic digits are digits
    assert phone.text("1234") == say("code_set", "en")

    her = caller(db_session)
    assert her.code_word_hash and "1234" not in her.code_word_hash and codeword.matches(her.code_word_hash, "1234")
    assert her.code_word_failures == 0
    # Not in clear anywhere: not in her conversation, not in the stored answers.
    assert "1234" not in str(db_session.get(Conversation, her.id).data)
    assert all("1234" not in row.reply_twiml for row in db_session.scalars(select(InboundMessage)))
    assert db_session.scalars(select(AuditEntry.action)).all() == ["code_word_set"]


def test_changing_the_code_word_takes_the_old_one(phone, centre, db_session):
    phone.text("hi")
    phone.text("2")
    set_code(phone)
    assert phone.text("6") == say("code_ask", "en")  # even right after setting it
    assert phone.text("9999") == say("code_wrong", "en")
    assert phone.text(CODE) == say("code_choose", "en")
    phone.text("86420")
    assert phone.text("86420") == say("code_set", "en")
    her = caller(db_session)
    assert codeword.matches(her.code_word_hash, "86420") and not codeword.matches(her.code_word_hash, CODE)
    assert her.code_word_failures == 0  # the right code forgave the wrong try


# --- what it protects ---------------------------------------------------------------------------


def test_my_appointment_shows_nothing_until_the_code_is_given(phone, centre, db_session, clock):
    book(phone)
    [appointment] = appointments(db_session)
    set_code(phone)
    later(clock)

    asked = phone.text("2")
    assert asked == say("code_ask", "en") and shows_nothing(asked, appointment)
    assert phone.text(CODE) == say("appointment_menu", "en", when=appointment.start_at)
    # For the rest of this conversation she is not asked again.
    assert phone.text("0") == say("main_menu", "en")
    assert phone.text("2") == say("appointment_menu", "en", when=appointment.start_at)
    # Until it times out, even in the main menu, which otherwise never times out.
    phone.text("0")
    later(clock)
    assert phone.text("2") == say("code_ask", "en")


def test_three_wrong_codes_reveal_nothing_change_nothing_and_lock(phone, centre, db_session, clock):
    book(phone, "ar")
    [appointment] = appointments(db_session)
    phone.text("6")
    phone.text(CODE)
    phone.text(CODE)
    later(clock)

    answers = [phone.text("2"), phone.text("1111"), phone.text("2222"), phone.text("3333")]
    assert answers == [say("code_ask", "ar"), say("code_wrong", "ar"), say("code_wrong", "ar"),
                       say("code_locked", "ar")]
    # Locked: even the right code opens nothing now; she is told kindly to call.
    assert phone.text("2") == say("code_locked", "ar")
    assert phone.text("6") == say("code_locked", "ar")
    assert all(shows_nothing(text, appointment, "ar") for text in answers)
    [still] = appointments(db_session)
    assert still.status == AppointmentStatus.booked and still.start_at == appointment.start_at
    assert caller(db_session).code_word_failures == 3
    assert "code_word_locked" in db_session.scalars(select(AuditEntry.action)).all()


def test_the_staff_clear_a_forgotten_code_word(phone, centre, db_session, clock, now):
    book(phone)
    [appointment] = appointments(db_session)
    set_code(phone)
    later(clock)
    for wrong in ("1111", "2222", "3333"):
        phone.text("2")
        phone.text(wrong)
    her = caller(db_session)
    codeword.clear_code_word(db_session, her, staff_id=None, now=now)
    db_session.commit()
    assert phone.text("2") == say("appointment_menu", "en", when=appointment.start_at)
    her = caller(db_session)
    assert her.code_word_hash is None and her.code_word_failures == 0
    assert db_session.scalars(select(AuditEntry).where(AuditEntry.action == "code_word_cleared")).one()


def test_cancel_and_move_from_a_reminder_ask_for_the_code(phone, centre, db_session, clock):
    book(phone)
    [appointment] = appointments(db_session)
    set_code(phone)
    later(clock)
    her = caller(db_session)
    reminder = {"appointment": appointment.id, "when": appointment.start_at.isoformat(),
                "service": appointment.service_id}
    row = db_session.get(Conversation, her.id)
    row.state, row.data = "reminder", dict(reminder)  # as the worker leaves it after a reminder
    db_session.commit()

    assert phone.text("2") == say("code_ask", "en")
    assert phone.text("5555") == say("code_wrong", "en")
    assert appointments(db_session)[0].status == AppointmentStatus.booked
    assert phone.text(CODE) == say("confirm_cancel", "en", when=appointment.start_at)
    assert phone.text("1") == say("cancelled", "en", when=appointment.start_at)
    assert appointments(db_session)[0].status == AppointmentStatus.cancelled

    # "3 Move" and "1 OK" ask too.
    for answer in ("3", "1"):
        later(clock)
        row = fresh(db_session).get(Conversation, her.id)
        row.state, row.data = "reminder", dict(reminder)
        db_session.commit()
        assert phone.text(answer) == say("code_ask", "en")


def test_an_empty_text_or_a_picture_after_a_reminder_shows_nothing(phone, centre, db_session, clock):
    book(phone)
    [appointment] = appointments(db_session)
    set_code(phone)
    later(clock, minutes=24 * 60)  # a day later, someone else holds her phone
    her = caller(db_session)
    row = db_session.get(Conversation, her.id)
    row.state = "reminder"
    row.data = {"appointment": appointment.id, "when": appointment.start_at.isoformat(),
                "service": appointment.service_id}
    db_session.commit()
    for body, media in (("", "1"), ("   ", "0")):
        answer = phone.text(body, NumMedia=media)
        assert answer and shows_nothing(answer, appointment), answer
    assert phone.text("2") == say("code_ask", "en")


def test_booking_a_new_time_needs_no_code_and_repeats_nothing(phone, centre, db_session, clock):
    book(phone)
    [first] = appointments(db_session)
    set_code(phone)
    later(clock)
    # "1 Book" no longer shows the appointment she has: it goes straight to booking.
    services = phone.text("1")
    assert services.startswith(say("choose_service", "en", services=["Service x"]).split("\n")[0])
    assert shows_nothing(services, first)
    phone.text("2")
    phone.text("3")
    confirmation = phone.text("1")
    second = appointments(db_session)[-1]
    assert confirmation == say("booked_private", "en", when=second.start_at)
    assert ADDRESS not in confirmation and shows_nothing(confirmation, first)


def test_stop_and_delete_work_without_the_code(phone, centre, db_session, clock):
    book(phone)
    set_code(phone)
    later(clock)
    assert phone.text("STOP") == say("stopped", "en")
    assert phone.text("START").startswith(say("started", "en"))
    assert phone.text("HELP") == say("help", "en")
    assert phone.text("DELETE") == say("deleted", "en")
    assert fresh(db_session).scalars(select(Client)).all() == []
    assert appointments(db_session)[0].client_id is None


# --- reminders ---------------------------------------------------------------------------------


def book_thursday(db_session, centre, now, rules) -> Appointment:
    """Her appointment on Thursday 13:00 (now is Monday 08:00), booked for her by the staff."""
    from scheduling.booking import book_appointment
    from scheduling.models import BookedVia

    appointment = book_appointment(
        db_session, service_id=centre["talk"].id, counselor_id=centre["counselors"]["so"].id,
        start_at=oslo(2026, 11, 26, 13, 0), now=now, booked_via=BookedVia.staff, client=caller(db_session),
        rules=rules).appointment
    db_session.commit()
    return appointment


def test_with_a_code_word_the_reminder_says_only_the_time(app, phone, centre, db_session, clock, now, rules):
    phone.text("hi")
    phone.text(str(MENU_NUMBER["so"]))
    phone.text("6")
    phone.text(CODE)
    phone.text(CODE)
    start = book_thursday(db_session, centre, now, rules).start_at
    sender = app.extensions["linja.sender"]
    make_worker(app).tick()
    # The staff's booking: the time, no address.
    assert [t.body for t in sender.texts_to(NUMBER)] == [say("booked_private", "so", when=start)]

    clock.set(start - timedelta(hours=24))
    make_worker(app).tick()
    reminder = say("reminder_tomorrow", "so", time=start)
    assert sender.texts_to(NUMBER)[-1].body == reminder
    assert format_time(start, "so", OSLO) in reminder
    assert ADDRESS not in reminder and "1" not in reminder.replace(format_time(start, "so", OSLO), "")

    clock.set(start - timedelta(hours=2))
    make_worker(app).tick()
    assert sender.texts_to(NUMBER)[-1].body == say("reminder_today", "so", time=start)
    # Her answer to it asks for the code first.
    assert phone.text("2") == say("code_ask", "so")


def test_without_a_code_word_the_reminder_is_as_before(app, phone, centre, db_session, clock, now, rules):
    phone.text("hi")
    phone.text(str(MENU_NUMBER["so"]))
    start = book_thursday(db_session, centre, now, rules).start_at
    make_worker(app).tick()
    clock.set(start - timedelta(hours=24))
    make_worker(app).tick()
    texts = app.extensions["linja.sender"].texts_to(NUMBER)
    assert [t.body for t in texts] == [say("booked", "so", when=start), say("reminder", "so", when=start)]


def test_private_texts_further_off_give_the_date_and_no_address():
    from hotline.replies import render_outbound

    when = oslo(2026, 11, 26, 13, 0)
    params = {"when": when.isoformat(), "private": True, "sent_at": oslo(2026, 11, 23, 9, 0).isoformat()}
    assert render_outbound("reminder", "nb", params, tz=OSLO, address=ADDRESS) == say(
        "reminder_private", "nb", when=when)
    assert render_outbound("moved", "nb", params, tz=OSLO, address=ADDRESS) == say("moved_private", "nb", when=when)
    assert ADDRESS not in render_outbound("booked", "nb", params, tz=OSLO, address=ADDRESS)


# --- the voice line ------------------------------------------------------------------------------


def voice_phone(app):
    return SimulatedPhone(CheckedTransport(app), NUMBER, app.config["PUBLIC_BASE_URL"],
                          app.config["TWILIO_AUTH_TOKEN"])


def spoken(key, language="en", **values):
    if "when" in values:
        values["when"] = spoken_when(values["when"], language, OSLO)
    return render(key, language, **values)


def test_on_the_phone_her_time_is_heard_only_after_the_code(app, phone, centre, db_session, clock):
    book(phone)
    [appointment] = appointments(db_session)
    set_code(phone)

    line = call(voice_phone(app))
    heard = line.press("2")
    assert [h.text for h in heard] == [spoken("v_code_ask")]
    assert line.waiting_for == "keys"
    heard = line.press("1111")
    assert [h.text for h in heard] == [spoken("v_code_wrong"), spoken("v_code_ask")]
    assert all(spoken("v_your_time", when=appointment.start_at) != h.text for h in heard)
    heard = line.press(CODE)
    assert heard[0].text == spoken("v_your_time", when=appointment.start_at)
    line.press("1")
    line.press("1")
    assert line.ended and appointments(db_session)[0].status == AppointmentStatus.cancelled
    assert caller(db_session).code_word_failures == 0


def test_on_the_phone_wrong_codes_lock_and_change_nothing(app, phone, centre, db_session):
    book(phone)
    [appointment] = appointments(db_session)
    set_code(phone)

    line = call(voice_phone(app))
    line.press("2")
    line.press("1111")
    line.press("2222")
    heard = line.press("3333")
    assert [h.text for h in heard] == [spoken("v_code_locked"), spoken("v_main_menu")]
    heard = line.press("2")  # she is not asked again: nothing opens it now
    assert [h.text for h in heard] == [spoken("v_code_locked"), spoken("v_main_menu")]
    heard = line.press("1")  # booking still works, and shows nothing of her time
    assert all(spoken("v_your_time", when=appointment.start_at) != h.text for h in heard)
    assert appointments(db_session)[0].status == AppointmentStatus.booked
    assert caller(db_session).code_word_failures == 3


def test_on_the_phone_silence_at_the_code_repeats_then_ends_kindly(app, phone, centre, db_session):
    book(phone)
    set_code(phone)
    line = call(voice_phone(app))
    line.press("2")
    heard = line.silence()
    assert [h.text for h in heard] == [spoken("v_no_key"), spoken("v_code_ask")]
    line.press("#")
    line.silence()
    assert line.ended
    assert caller(db_session).code_word_failures == 0  # silence is not a wrong code


def test_a_reminder_call_asks_for_the_code_before_cancelling(app, phone, centre, db_session, clock, now, rules):
    from hotline.phone import VoiceCall
    from scheduling.models import OutboxMessage

    phone.text("hi")
    phone.text("2")
    set_code(phone)
    her = caller(db_session)
    her.wants_reminder_calls = True
    db_session.commit()
    appointment = book_thursday(db_session, centre, now, rules)
    clock.set(appointment.start_at - timedelta(hours=2))
    make_worker(app).tick()
    message = fresh(db_session).scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                                        .order_by(OutboxMessage.id.desc())).first()
    answered = VoiceCall(voice_phone(app))
    answered.answer(f"/hotline/voice/reminder?message={message.id}", "CA" + "7" * 32)
    assert answered.heard[0].text == spoken("v_reminder_call", when=appointment.start_at)
    assert [h.text for h in answered.press("2")] == [spoken("v_code_ask")]
    assert appointments(db_session)[0].status == AppointmentStatus.booked
    heard = answered.press(CODE)
    assert heard[0].text == spoken("v_confirm_cancel", when=appointment.start_at)
    answered.press("1")
    assert appointments(db_session)[0].status == AppointmentStatus.cancelled


# --- setting and changing it by keypad ------------------------------------------------------------


def keypad(app):
    """A call from her phone, every answer checked as TwiML; the answers are kept."""
    transport = CheckedTransport(app)
    line = call(SimulatedPhone(transport, NUMBER, app.config["PUBLIC_BASE_URL"], app.config["TWILIO_AUTH_TOKEN"]))
    return line, transport


def texts(heard):
    return [h.text for h in heard]


def test_on_the_phone_she_sets_a_code_word_and_it_holds_by_text(app, phone, centre, db_session, clock):
    book(phone)
    [appointment] = appointments(db_session)
    line, transport = keypad(app)
    assert texts(line.heard) == [spoken("v_main_menu")] and "press 6" in line.heard[0].text
    assert texts(line.press("6")) == [spoken("v_code_choose")]  # no code word yet: no old one to give
    assert line.waiting_for == "keys" and 'finishOnKey="#"' in transport.answers[-1]
    assert texts(line.press(CODE)) == [spoken("v_code_repeat")]
    assert 'finishOnKey="#"' in transport.answers[-1]
    assert texts(line.press(CODE)) == [spoken("v_code_set"), spoken("v_main_menu")]

    her = caller(db_session)
    assert codeword.matches(her.code_word_hash, CODE) and her.code_word_failures == 0
    assert db_session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("code_word%"))).all() == [
        "code_word_set"]
    # Never read back, never kept in clear: not in what she heard, not in the call's row.
    assert all(CODE not in answer for answer in transport.answers)
    assert all(CODE not in str(row.data) for row in fresh(db_session).scalars(select(Call)))
    # Having just chosen it, she hears her time in this call without being asked again.
    assert line.press("2")[0].text == spoken("v_your_time", when=appointment.start_at)
    line.hang_up()

    # By text, her appointment now waits for the same digits.
    later(clock)
    asked = phone.text("2")
    assert asked == say("code_ask", "en") and shows_nothing(asked, appointment)
    assert phone.text(CODE) == say("appointment_menu", "en", when=appointment.start_at)


def test_on_the_phone_two_different_codes_start_again(app, phone, centre, db_session):
    phone.text("hi")
    phone.text(str(MENU_NUMBER["ar"]))
    line, transport = keypad(app)
    line.press("6")
    assert texts(line.press("12#")) == [spoken("v_code_format", "ar"), spoken("v_code_choose", "ar")]
    assert texts(line.press("1234")) == [spoken("v_code_repeat", "ar")]
    assert texts(line.press("1243")) == [spoken("v_code_mismatch", "ar"), spoken("v_code_choose", "ar")]
    assert caller(db_session).code_word_hash is None
    line.press("5678")
    assert texts(line.press("1234")) == [spoken("v_code_mismatch", "ar"), spoken("v_code_choose", "ar")]
    line.press("2468")
    assert texts(line.press("2468")) == [spoken("v_code_set", "ar"), spoken("v_main_menu", "ar")]
    assert codeword.matches(caller(db_session).code_word_hash, "2468")
    assert not any(code in answer for answer in transport.answers for code in ("1234", "1243", "5678", "2468"))


def test_on_the_phone_changing_the_code_word_takes_the_old_one(app, phone, centre, db_session, clock):
    book(phone)
    [appointment] = appointments(db_session)
    set_code(phone)
    line, transport = keypad(app)
    # Even once she gave it in this call, changing it asks again, as by text.
    line.press("2")
    line.press(CODE)
    line.press("0")
    assert texts(line.press("6")) == [spoken("v_code_ask")]
    assert texts(line.press("9999")) == [spoken("v_code_wrong"), spoken("v_code_ask")]
    assert caller(db_session).code_word_failures == 1  # counted as by text
    assert texts(line.press(CODE)) == [spoken("v_code_choose")]
    assert caller(db_session).code_word_failures == 0
    line.press("86420")
    assert texts(line.press("86420")) == [spoken("v_code_set"), spoken("v_main_menu")]
    her = caller(db_session)
    assert codeword.matches(her.code_word_hash, "86420") and not codeword.matches(her.code_word_hash, CODE)
    assert not any(code in answer for answer in transport.answers for code in (CODE, "86420"))
    line.hang_up()
    # The old code opens nothing by text now; the new one does.
    later(clock)
    phone.text("2")
    assert phone.text(CODE) == say("code_wrong", "en")
    assert phone.text("86420") == say("appointment_menu", "en", when=appointment.start_at)


def test_on_the_phone_a_new_code_word_is_reached_only_through_the_old_one(app, phone, centre, db_session):
    phone.text("hi")
    phone.text("2")
    set_code(phone)
    line, _ = keypad(app)
    # A code word keyed in for a menu she is not in (a late retry, a replay) sets nothing:
    # she hears the menu she is in.
    for turn in ("0", "5", "x"):
        heard = line._fetch(f"/hotline/voice/input?turn={turn}", line.params(Digits="1111"))
        assert texts(heard) == [spoken("v_main_menu")]
    assert codeword.matches(caller(db_session).code_word_hash, CODE)


def test_on_the_phone_three_wrong_old_codes_lock_it(app, phone, centre, db_session):
    phone.text("hi")
    phone.text("2")
    set_code(phone)
    line, _ = keypad(app)
    line.press("6")
    assert texts(line.press("1111")) == [spoken("v_code_wrong"), spoken("v_code_ask")]
    assert texts(line.press("2222")) == [spoken("v_code_wrong"), spoken("v_code_ask")]
    assert texts(line.press("3333")) == [spoken("v_code_locked"), spoken("v_main_menu")]
    assert texts(line.press("6")) == [spoken("v_code_locked"), spoken("v_main_menu")]  # nothing opens it now
    her = caller(db_session)
    assert her.code_word_failures == codeword.MAX_FAILURES and codeword.matches(her.code_word_hash, CODE)
    assert "code_word_locked" in db_session.scalars(select(AuditEntry.action)).all()
    line.hang_up()
    assert phone.text("6") == say("code_locked", "en")  # locked by text too


def test_on_the_phone_silence_while_choosing_repeats_then_ends_kindly(app, phone, centre, db_session):
    phone.text("hi")
    phone.text("2")
    line, _ = keypad(app)
    line.press("6")
    assert texts(line.silence()) == [spoken("v_no_key"), spoken("v_code_choose")]
    assert texts(line.press("12")) == [spoken("v_code_format"), spoken("v_code_choose")]  # too short
    assert line.silence()[0].text == spoken("v_goodbye") and line.ended

    line, _ = keypad(app)
    line.press("6")
    line.press(CODE)
    assert texts(line.silence()) == [spoken("v_no_key"), spoken("v_code_repeat")]
    assert texts(line.press("1")) == [spoken("v_code_mismatch"), spoken("v_code_choose")]  # she starts again
    line.press(CODE)
    line.silence()
    line.silence()
    assert line.silence()[0].text == spoken("v_goodbye") and line.ended
    assert caller(db_session).code_word_hash is None


def test_in_somali_choosing_a_code_word_is_played_from_recordings(app, phone, centre, db_session, now, runner):
    from hotline.voices import pieces_to_record
    from tests.hotline.test_voice import somali_recordings

    new = ["v_code_choose", "v_code_repeat", "v_code_mismatch", "v_code_format", "v_code_set"]
    for language in ("so", "ti", "fa"):
        assert set(new) <= set(pieces_to_record(language, []))
    missing = runner.invoke(args=["prompts", "missing"]).output
    assert all(key in missing for key in new)

    somali_recordings(db_session, now)
    phone.text("hi")
    phone.text(str(MENU_NUMBER["so"]))
    line, _ = keypad(app)
    for keys in ("6", CODE, CODE):
        heard = line.press(keys)
        assert heard and all(h.kind == "play" for h in heard)
    assert codeword.matches(caller(db_session).code_word_hash, CODE)
