"""A caller who says hello mid-dialogue ("hi", "hei", "salaam") gets her main menu, in her
language; a first-time caller gets the language menu; MENU still brings the languages."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from hotline import keywords as kw
from scheduling.models import AppointmentStatus, Conversation, SlotHold
from tests.conftest import ROOM_FOR_MANY, fresh
from tests.hotline.test_code_word import CODE, NUMBER, caller, set_code, shows_nothing
from tests.hotline.test_sms_flows import MENU_NUMBER, appointments, book, say
from tests.hotline.twilio_client import Phone

# Greetings as callers type them, in each language's own script and in Latin letters.
GREETINGS = {
    "nb": ["hei", "Hallo!", "heisann", "Hei hei", "HEIII"],
    "en": ["hi", "Hello", "hey!", "hiya", "Good morning"],
    "so": ["salaan", "Iska warran?", "haye", "Salaam", "See tahay"],
    "ar": ["مرحبا", "السلام عليكم", "سلام", "اهلا", "أهلاً", "مَرْحَبًا", "ﻣﺮﺣﺒﺎ", "marhaba"],
    "ur": ["سلام", "ہیلو", "assalam o alaikum", "Assalamu Alaikum!", "السلام علیکم", "AoA"],
    "ti": ["ሰላም", "ሰላም!", "selam", "ሰላማት"],
    "fa": ["سلام", "درود", "سلام!", "salam"],
    "pl": ["cześć", "Czesc!", "dzień dobry", "Dzien dobry", "hej"],
}


@pytest.fixture
def app_config():
    return ROOM_FOR_MANY


@pytest.fixture
def phone(app, client):
    return Phone(client, app, NUMBER)


def choose_language(phone, language):
    phone.text("hi")
    return phone.text(str(MENU_NUMBER[language]))


def conversation(db_session):
    return fresh(db_session).get(Conversation, caller(db_session).id)


@pytest.mark.parametrize("language", sorted(GREETINGS))
def test_a_greeting_while_choosing_a_service_brings_her_main_menu(phone, centre, db_session, language):
    assert choose_language(phone, language) == say("main_menu", language)
    for greeting in GREETINGS[language]:
        assert phone.text("1") != say("main_menu", language)  # choosing a service now
        assert conversation(db_session).state == "service"
        assert phone.text(greeting) == say("main_menu", language), greeting
        assert conversation(db_session).state == "main"


def test_a_greeting_in_the_main_menu_is_answered_with_it_not_with_sorry(phone, centre):
    choose_language(phone, "so")
    assert phone.text("salaan") == say("main_menu", "so")
    assert phone.text("Hei!") == say("main_menu", "so")  # a greeting in another language too
    assert phone.text("hello again") == say("not_understood", "so") + "\n" + say("main_menu", "so")


def test_a_first_time_caller_who_says_hello_gets_the_language_menu(phone, centre):
    for greeting in ("hei", "سلام", "cześć"):
        assert phone.text(greeting).startswith("1 Norsk")


def test_a_greeting_lets_go_of_the_time_she_held(phone, centre, db_session):
    choose_language(phone, "ar")
    phone.text("1")  # book
    phone.text("1")  # the first service
    offered = fresh(db_session).get(Conversation, caller(db_session).id).data["offers"]
    phone.text("1")  # the first time: held for her while she confirms
    assert fresh(db_session).scalar(select(func.count()).select_from(SlotHold)) == 1

    assert phone.text("السلام عليكم") == say("main_menu", "ar")
    assert fresh(db_session).scalar(select(func.count()).select_from(SlotHold)) == 0
    assert appointments(db_session) == []
    # And she can start again from her main menu: the same first time is offered.
    phone.text("1")
    phone.text("1")
    assert conversation(db_session).data["offers"][0] == offered[0]


def test_a_greeting_while_confirming_a_cancel_keeps_her_appointment(phone, centre, db_session):
    book(phone, "pl")
    [appointment] = appointments(db_session)
    assert phone.text("2") == say("appointment_menu", "pl", when=appointment.start_at)
    assert phone.text("1") == say("confirm_cancel", "pl", when=appointment.start_at)
    assert phone.text("Dzień dobry!") == say("main_menu", "pl")
    assert appointments(db_session)[0].status == AppointmentStatus.booked
    assert phone.text("1") == say("appointment_menu", "pl", when=appointment.start_at)  # one at a time


def test_while_moving_and_after_a_reminder_a_greeting_brings_her_main_menu(phone, centre, db_session):
    book(phone, "ti")
    [appointment] = appointments(db_session)
    phone.text("2")
    phone.text("2")  # move: the free times are offered
    assert conversation(db_session).state == "move_slot"
    assert phone.text("ሰላም") == say("main_menu", "ti")

    row = conversation(db_session)
    row.state = "reminder"  # as the worker leaves it after a reminder
    row.data = {"appointment": appointment.id, "when": appointment.start_at.isoformat(),
                "service": appointment.service_id}
    db_session.commit()
    assert phone.text("selam") == say("main_menu", "ti")
    assert appointments(db_session)[0].start_at == appointment.start_at


def test_a_somali_haye_means_yes_where_a_yes_is_asked(phone, centre, db_session):
    choose_language(phone, "so")
    assert phone.text("haye") == say("main_menu", "so")  # a greeting in the main menu
    phone.text("1")
    phone.text("1")
    phone.text("1")  # a time chosen: "is that right?"
    held = datetime.fromisoformat(conversation(db_session).data["offer"]["start"])
    assert phone.text("haye") == say("booked", "so", when=held)
    [appointment] = appointments(db_session)
    assert appointment.start_at == held and appointment.status == AppointmentStatus.booked


def test_menu_still_brings_the_language_menu_and_a_greeting_does_not(phone, centre):
    choose_language(phone, "ur")
    assert phone.text("MENU").startswith("1 Norsk")
    assert phone.text("سلام") == say("main_menu", "ur")
    assert phone.text("0").startswith("1 Norsk")  # from her main menu, 0 is the languages


def test_a_greeting_after_the_idle_timeout_brings_her_main_menu(phone, centre, clock):
    choose_language(phone, "nb")
    phone.text("1")
    clock.advance(timedelta(hours=3))
    assert phone.text("hei") == say("main_menu", "nb")


def test_with_a_code_word_a_greeting_shows_the_main_menu_and_nothing_of_her_time(
        phone, centre, db_session, clock):
    book(phone, "en")
    [appointment] = appointments(db_session)
    set_code(phone)
    clock.advance(timedelta(minutes=31))  # the phone was put down; the code word must be given again

    assert phone.text("2") == say("code_ask", "en")
    answer = phone.text("hello")
    assert answer == say("main_menu", "en") and shows_nothing(answer, appointment)
    assert phone.text("2") == say("code_ask", "en")  # a greeting opened nothing
    assert phone.text(CODE) == say("appointment_menu", "en", when=appointment.start_at)
    # Once given, it holds for the rest of the conversation, greeting or not.
    assert phone.text("hi") == say("main_menu", "en")
    assert phone.text("2") == say("appointment_menu", "en", when=appointment.start_at)


def test_after_stop_a_greeting_stays_unanswered(phone, centre):
    choose_language(phone, "nb")
    phone.text("STOP")
    assert phone.text("hei") == ""


# --- the words themselves -----------------------------------------------------------------------


@pytest.mark.parametrize("variant", [
    "hi", " HI ", "Hi!!!", "hi 👋", "ＨＩ", "hiii", "Hei, hei.", "hello hello",
    "Cześć", "czesc", "CZEŚĆ!", "dzien  dobry",
    "السلام عليكم", "اَلسَّلَامُ عَلَيْكُمْ", "السلام عليكم!", "ﺍﻟﺴﻼﻡ ﻋﻠﻴﻜﻢ", "سلام\u200c", "مرحبـــا",
    "As-salamu alaykum", "assalamualaikum", "Salaam aleikum", "salam alaikum", "Asalamu alaikum",
    "salaaam", "Marhaba!", "ሰላም።",
])
def test_greetings_are_recognised_however_they_are_typed(variant):
    assert kw.is_greeting(variant)


@pytest.mark.parametrize("text", [
    "", "1", "0", "9", "4711", "STOP", "STOPP", "HELP", "HJELP", "SLETT", "DELETE", "MENU", "MENY", "START",
    "NEI", "JA", "OK", "HA", "hello again", "hi " * 30, "hei jeg vil avbestille", "hjelp meg",
    "Norsk", "English",
])
def test_keywords_digits_code_words_and_sentences_are_not_greetings(text):
    assert not kw.is_greeting(text)


def test_no_keyword_of_any_language_is_a_greeting():
    words = kw.STOP | kw.START | kw.HELP | kw.DELETE | kw.MENU | kw.NO
    words |= {w for language in kw.LOCAL_KEYWORDS.values() for w in language.values()}
    assert [w for w in words if kw.is_greeting(w)] == []
    # Only Somali "haye" is both a yes and a greeting; a yes is asked for, it means yes.
    assert [w for w in kw.YES if kw.is_greeting(w)] == ["HAYE"]


# The greetings callers write most, as they write them: the Somali alphabet spells the
# Arabic ع with a C ("calaykum"), and the full Muslim greeting goes on "and God's mercy
# and blessings".
EVERYDAY = {
    "so": ["Asalaamu calaykum", "Assalamu Calaykum!", "Salaamu caleykum", "Subax wanaagsan",
           "Galab wanaagsan"],
    "ar": ["السلام عليكم ورحمة الله وبركاته", "السلام عليكم ورحمة الله", "السلام عليكم و رحمة الله و بركاته"],
    "ur": ["Assalamu alaikum wa rahmatullahi wa barakatuh", "Assalam o alaikum warahmatullah",
           "السلام علیکم ورحمۃ اللہ وبرکاتہ"],
    "fa": ["صبح بخیر", "روز بخیر"],
    "ti": ["ከመይ ሓዲርኪ", "ከመይ ኣለኺ"],
    "pl": ["Siema", "Hejka!"],
}


@pytest.mark.parametrize("language", sorted(EVERYDAY))
def test_the_everyday_greetings_of_each_language_bring_her_main_menu(phone, centre, db_session, language):
    choose_language(phone, language)
    for greeting in EVERYDAY[language]:
        phone.text("1")  # choosing a service now
        assert phone.text(greeting) == say("main_menu", language), greeting
        assert conversation(db_session).state == "main"
