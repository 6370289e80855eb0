"""The SMS line end to end: signed texts in, TwiML out, bookings in the database."""
from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline.conversation import Reply
from hotline.replies import render_reply
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AuditEntry,
    BookedVia,
    CallbackRequest,
    Client,
    Conversation,
    InboundMessage,
    SlotHold,
)
from tests.conftest import fresh, oslo
from tests.hotline.twilio_client import Phone

OSLO = ZoneInfo("Europe/Oslo")
ADDRESS = "Storgata 10, 0184 Oslo"
MENU_NUMBER = {"nb": 1, "en": 2, "ar": 3, "so": 4, "ur": 5, "ti": 6, "fa": 7, "pl": 8}


def say(key: str, language: str, **values) -> str:
    """The words Linja sends for ``key`` in ``language``."""
    return render_reply(Reply(key, values), language, tz=OSLO, address=ADDRESS)


@pytest.fixture
def phone(app, client):
    return Phone(client, app, "+4791234567")


def appointments(db_session):
    fresh(db_session)
    return db_session.scalars(select(Appointment).order_by(Appointment.id)).all()


def first_offers(db_session, phone_e164="+4791234567"):
    fresh(db_session)
    client = db_session.scalars(select(Client).where(Client.phone_e164 == phone_e164)).one()
    return db_session.get(Conversation, client.id).data["offers"]


@pytest.mark.parametrize("language, yes", [("so", "haa"), ("ar", "نعم"), ("ti", "ኣወ")])
def test_a_full_booking_in_her_language(phone, centre, db_session, language, yes, now):
    menu = phone.text("Hello")
    assert "Soomaali" in menu and "العربية" in menu and "ትግርኛ" in menu and "Norsk" in menu

    assert phone.text(str(MENU_NUMBER[language])) == say("main_menu", language)
    services = phone.text("1")
    assert services == say("choose_service", language, services=[
        centre["talk"].name_in(language), centre["family"].name_in(language)])

    offers = phone.text("1")
    offered = first_offers(db_session)
    starts = [oslo(2026, 11, 23, 10, 0) + timedelta(minutes=30 * i) for i in range(len(offered))]
    assert offers == say("offer_slots", language, slots=starts)
    assert all(o["counselor"] == centre["counselors"][language].id for o in offered)

    assert phone.text("2") == say("confirm_slot", language, when=starts[1])
    confirmation = phone.text(yes)
    assert confirmation == say("booked", language, when=starts[1])

    [booked] = appointments(db_session)
    assert booked.start_at == starts[1] and booked.status == AppointmentStatus.booked
    assert booked.counselor_id == centre["counselors"][language].id
    assert booked.language_code == language and not booked.is_interpreter_needed
    assert booked.booked_via == BookedVia.sms
    assert db_session.scalar(select(func.count()).select_from(SlotHold)) == 0


def test_a_returning_caller_goes_straight_to_her_main_menu(phone, centre):
    phone.text("hei")
    phone.text("4")
    assert phone.text("hello again") == say("not_understood", "so") + "\n" + say("main_menu", "so")
    assert phone.text("0").startswith("1 Norsk")  # the way back to the language menu


def book(phone, language="so", slot="1"):
    phone.text("hi")
    phone.text(str(MENU_NUMBER[language]))
    phone.text("1")
    phone.text("1")
    phone.text(slot)
    return phone.text("1")


def test_see_and_cancel_her_appointment(phone, centre, db_session):
    book(phone, "ar")
    [appointment] = appointments(db_session)
    assert phone.text("2") == say("appointment_menu", "ar", when=appointment.start_at)
    assert phone.text("1") == say("confirm_cancel", "ar", when=appointment.start_at)
    assert phone.text("١") == say("cancelled", "ar", when=appointment.start_at)  # Arabic-Indic one
    [appointment] = appointments(db_session)
    assert appointment.status == AppointmentStatus.cancelled
    assert phone.text("2") == say("no_appointment", "ar")


def test_saying_no_keeps_the_appointment(phone, centre, db_session):
    book(phone, "so")
    [appointment] = appointments(db_session)
    phone.text("2")
    phone.text("1")
    assert phone.text("maya") == say("kept", "so", when=appointment.start_at)
    assert appointments(db_session)[0].status == AppointmentStatus.booked


def test_move_her_appointment(phone, centre, db_session):
    book(phone, "ti")
    [appointment] = appointments(db_session)
    old_start = appointment.start_at
    phone.text("2")
    offers = phone.text("2")
    assert offers.startswith(say("offer_slots", "ti", slots=[]).split("\n")[0])
    phone.text("9")  # later times
    later = first_offers(db_session)
    assert all(o["start"] > old_start.isoformat() for o in later)
    phone.text("3")
    new_start = later[2]["start"]
    moved = phone.text("1")
    [appointment] = appointments(db_session)
    assert appointment.start_at.isoformat() == new_start and appointment.status == AppointmentStatus.booked
    assert moved == say("moved", "ti", when=appointment.start_at)
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["booked", "moved"]


def test_call_me_back_is_recorded_in_her_language(phone, centre, db_session):
    phone.text("hi")
    phone.text("4")
    assert phone.text("3") == say("callback_requested", "so")
    phone.text("3")  # asking twice makes one request
    fresh(db_session)
    [request] = db_session.scalars(select(CallbackRequest)).all()
    assert request.language_code == "so" and request.requested_via == BookedVia.sms


def test_stop_silences_the_line_and_start_resumes_it(phone, centre, db_session):
    phone.text("hi")
    phone.text("3")
    assert phone.text("stop") == say("stopped", "ar")
    fresh(db_session)
    assert db_session.scalars(select(Client.is_opted_out)).one() is True
    assert phone.text("1") == ""  # no reply after STOP
    assert phone.text("STOPP") == say("stopped", "ar")
    assert phone.text("ابدأ") == say("started", "ar") + "\n" + say("main_menu", "ar")
    fresh(db_session)
    assert db_session.scalars(select(Client.is_opted_out)).one() is False


@pytest.mark.parametrize("word", ["STOP", "STOPP", "Stop.", "jooji", "توقف", "UNSUBSCRIBE", "cancel", "END", "quit"])
def test_every_stop_word_opts_out(phone, centre, db_session, word):
    phone.text("hi")
    phone.text("4")
    phone.text(word)
    fresh(db_session)
    assert db_session.scalars(select(Client.is_opted_out)).one() is True


def test_help_explains_the_options_in_her_language(phone, centre):
    phone.text("hi")
    phone.text("4")
    assert phone.text("CAAWI") == say("help", "so")
    assert phone.text("4") == say("help", "so")


def test_delete_erases_her_number_and_keeps_the_slot_anonymous(phone, centre, db_session):
    book(phone, "so")
    phone.text("3")  # and a call-back request
    assert phone.text("TIRTIR", sid="SM-delete") == say("deleted", "so")
    fresh(db_session)
    assert db_session.scalar(select(func.count()).select_from(Client)) == 0
    assert db_session.scalar(select(func.count()).select_from(Conversation)) == 0
    assert db_session.scalar(select(func.count()).select_from(CallbackRequest)) == 0
    # Only the delete request itself is remembered, tied to no one, so that Twilio
    # retrying it is answered the same and does not make her a new record.
    assert db_session.scalars(select(InboundMessage.client_id)).all() == [None]
    assert phone.text("TIRTIR", sid="SM-delete") == say("deleted", "so")
    assert fresh(db_session).scalar(select(func.count()).select_from(Client)) == 0
    [appointment] = appointments(db_session)
    assert appointment.client_id is None and appointment.status == AppointmentStatus.booked
    # Texting again starts from nothing.
    assert phone.text("hi").startswith("1 Norsk")


def test_nonsense_at_every_step_is_answered_kindly_and_loses_nothing(phone, centre, db_session):
    assert phone.text("???").startswith("1 Norsk")
    assert phone.text("42").startswith("1 Norsk")  # no such language: the menu again
    phone.text("4")
    sorry = say("not_understood", "so")
    steps = [
        ("1", "choose_service"), ("1", "offer_slots"), ("2", "confirm_slot"),
    ]
    assert phone.text("banana") == sorry + "\n" + say("main_menu", "so")
    for answer, _ in steps:
        before = phone.text(answer)
        again = phone.text("xyz 🙈")
        assert again == sorry + "\n" + before
    assert phone.text("") == say("empty_message", "so") + "\n" + before
    assert phone.text("", NumMedia="1", MediaUrl0="https://example.com/a.jpg") == say("empty_message", "so") + "\n" + before
    assert phone.text("haa") == say("booked", "so", when=oslo(2026, 11, 23, 10, 30))
    assert len(appointments(db_session)) == 1


def test_an_answer_after_the_idle_timeout_starts_again_at_her_main_menu(phone, centre, clock, db_session):
    phone.text("hi")
    phone.text("4")
    phone.text("1")
    phone.text("1")
    phone.text("1")  # holds the slot
    clock.advance(timedelta(minutes=31))
    assert phone.text("1") == say("timed_out", "so") + "\n" + say("main_menu", "so")
    assert appointments(db_session) == []
    fresh(db_session)
    assert db_session.scalar(select(func.count()).select_from(SlotHold)) == 0
    assert phone.text("1") == say("choose_service", "so", services=["Wada-hadal", "Qoys"])


def test_the_same_message_sid_is_handled_once_with_the_same_answer(phone, centre, db_session):
    phone.text("hi")
    phone.text("4")
    phone.text("1")
    phone.text("1")
    phone.text("1")
    first = phone.text("1", sid="SM-retry-1")
    second = phone.text("1", sid="SM-retry-1")
    assert first == second == say("booked", "so", when=oslo(2026, 11, 23, 10, 0))
    assert len(appointments(db_session)) == 1
    assert phone.text("2").startswith(say("appointment_menu", "so", when=oslo(2026, 11, 23, 10, 0)).split("\n")[0])


def test_two_callers_racing_for_the_last_slot(app, client, make, db_session, now):
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    # One counselor with one free hour in the whole horizon, then one more a week later.
    make.counselor(languages=["so"], services=[service], hours={0: (time(10), time(11))},
                   valid_until=oslo(2026, 12, 1, 12, 0).date())
    db_session.commit()
    amina, hodan = Phone(client, app, "+4791111111"), Phone(client, app, "+4792222222")
    for caller in (amina, hodan):
        caller.text("hi")
        caller.text("4")
        assert caller.text("1").startswith(say("offer_slots", "so", slots=[]).split("\n")[0])

    assert amina.text("1") == say("confirm_slot", "so", when=oslo(2026, 11, 23, 10, 0))
    # Hodan picks the same slot a moment later: it is held for Amina; she is offered the next.
    assert hodan.text("1") == say("slot_taken", "so") + "\n" + say("offer_slots", "so", slots=[oslo(2026, 11, 30, 10, 0)])
    assert amina.text("1") == say("booked", "so", when=oslo(2026, 11, 23, 10, 0))
    assert hodan.text("1") == say("confirm_slot", "so", when=oslo(2026, 11, 30, 10, 0))
    assert hodan.text("1") == say("booked", "so", when=oslo(2026, 11, 30, 10, 0))
    assert [a.start_at for a in appointments(db_session)] == [oslo(2026, 11, 23, 10, 0), oslo(2026, 11, 30, 10, 0)]


def test_a_hold_that_expired_and_was_taken_is_not_booked_twice(app, client, make, db_session, clock):
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    make.counselor(languages=["so"], services=[service], hours={1: (time(10), time(12))})
    db_session.commit()
    amina, hodan = Phone(client, app, "+4791111111"), Phone(client, app, "+4792222222")
    for caller in (amina, hodan):
        caller.text("hi")
        caller.text("4")
        caller.text("1")
    amina.text("1")
    clock.advance(timedelta(minutes=6))  # Amina's hold runs out while she hesitates
    hodan.text("1")
    assert hodan.text("1") == say("booked", "so", when=oslo(2026, 11, 24, 10, 0))
    clock.advance(timedelta(minutes=1))
    answer = amina.text("1")
    assert answer.startswith(say("slot_taken", "so"))
    assert len(appointments(db_session)) == 1


def test_a_sender_without_a_valid_number_gets_an_empty_answer(app, client, db_session):
    response = Phone(client, app, "not-a-number").post("/hotline/sms", Phone(client, app, "x").sms_params("hei"))
    assert response.status_code == 200 and "<Message" not in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Client)) == 0
