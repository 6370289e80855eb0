"""Contact on her terms, chosen by herself: main menu 5 on both lines, in every language,
behind her code word, confirmed in her language, and kept from that moment by every text
and call the worker sends (through the real twilio client and a fake Twilio)."""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from hotline.phone import SimulatedPhone, WsgiTransport, call
from scheduling.clients import find_client
from scheduling.models import Actor, AuditEntry, Client, ContactMeans, OutboxMessage, OutboxStatus
from tests.conftest import fresh, oslo
from tests.hotline.test_contact_terms import START, book, centre, her_terms, outbox  # noqa: F401 (a fixture)
from tests.hotline.test_sms_flows import MENU_NUMBER, say
from tests.hotline.test_voice import spoken
from tests.hotline.twilio_client import Phone
from web.worker import make_worker

NUMBER = "+4791234567"  # the caller of test_contact_terms' centre, in Somali


def her(db_session) -> Client:
    return find_client(fresh(db_session), NUMBER)


def terms_of(client: Client) -> tuple:
    return (client.contact_means, client.contact_days, client.contact_from, client.contact_until)


@pytest.mark.parametrize("language", list(MENU_NUMBER))
def test_she_chooses_her_means_and_hours_by_text_in_her_language(app, client, db_session, language):
    phone = Phone(client, app, "+4798765432")
    phone.text("hi")
    assert phone.text(str(MENU_NUMBER[language])) == say("main_menu", language)
    assert phone.text("5") == say("contact_menu", language)
    assert phone.text("2") == say("contact_texts", language)
    phone.text("5")
    assert phone.text("6") == say("contact_days", language)
    assert phone.text("2") == say("contact_hours", language)
    assert phone.text("1014") == say("contact_weekdays_hours", language, start=time(10), end=time(14))
    client_row = fresh(db_session).scalars(select(Client)).one()
    assert terms_of(client_row) == (ContactMeans.texts, "01234", time(10), time(14))
    # Who changed them is kept: she did, from her phone (no number in the trail).
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "contact_terms_changed")).all()
    assert [(e.actor, e.details["client"]) for e in entries] == [(Actor.caller, client_row.id)] * 2
    assert entries[-1].details["to"] == {"means": "texts", "days": "01234", "hours": "10:00-14:00",
                                         "reminder_calls": False}
    assert "98765432" not in str([e.details for e in entries])


@pytest.mark.parametrize("sent, start, end", [("10-14", 10, 14), ("9 15", 9, 15), ("٠٩١٥", 9, 15),
                                              ("10:00-14:00", 10, 14), ("0820", 8, 20)])
def test_her_hours_as_she_writes_them(app, client, db_session, sent, start, end):
    phone = Phone(client, app, "+4798765432")
    for words in ("hi", "2", "5", "6", "1"):
        phone.text(words)
    assert phone.text(sent) == say("contact_hours_every_day", "en", start=time(start), end=time(end))
    assert terms_of(fresh(db_session).scalars(select(Client)).one())[1:] == (None, time(start), time(end))


@pytest.mark.parametrize("sent", ["1410", "1010", "2024", "2500", "10", "101", "10145", "abc", "ten to two"])
def test_hours_that_are_no_window_are_asked_again_kindly_and_nothing_is_saved(app, client, db_session, sent):
    phone = Phone(client, app, "+4798765432")
    for words in ("hi", "2", "5", "6", "2"):
        phone.text(words)
    assert phone.text(sent) == say("contact_hours_format", "en")
    assert terms_of(fresh(db_session).scalars(select(Client)).one()) == (ContactMeans.any, None, None, None)
    assert phone.text("1") == say("contact_weekdays", "en")  # still asked, and still answered
    assert terms_of(fresh(db_session).scalars(select(Client)).one()) == (ContactMeans.any, "01234", None, None)


def test_her_code_word_guards_her_terms(app, client, db_session, clock):
    phone = Phone(client, app, "+4798765432")
    for words in ("hi", "2", "6", "4711", "4711"):
        phone.text(words)
    clock.advance(timedelta(minutes=31))  # the phone picked up later: her code word is asked again
    phone.text("hi")
    assert phone.text("5") == say("code_ask", "en")
    assert phone.text("1111") == say("code_wrong", "en")
    assert phone.text("3") == say("code_format", "en")  # not read as "only calls"
    assert phone.text("4711") == say("contact_menu", "en")
    assert phone.text("3") == say("contact_calls", "en")
    assert fresh(db_session).scalars(select(Client.contact_means)).one() == ContactMeans.calls


def test_by_keypad_she_sets_her_hours_and_hears_them_then_her_menu(app, client, db_session):
    phone = SimulatedPhone(WsgiTransport(app), "+4798765432", app.config["PUBLIC_BASE_URL"],
                           app.config["TWILIO_AUTH_TOKEN"])
    line = call(phone)
    line.press("2")  # English
    assert [h.text for h in line.press("5")] == [spoken("v_contact_menu", "en")]
    assert [h.text for h in line.press("6")] == [spoken("v_contact_days", "en")]
    assert [h.text for h in line.press("2")] == [spoken("v_contact_hours", "en")]
    heard = line.press("0914")
    assert [h.text for h in heard] == [
        spoken("v_contact_weekdays_hours", "en", start=time(9), end=time(14)), spoken("v_main_menu", "en")]
    assert "from 09:00 to 14:00" in heard[0].text and not line.ended
    assert terms_of(fresh(db_session).scalars(select(Client)).one())[1:] == ("01234", time(9), time(14))
    assert [h.text for h in line.press("5")] == [spoken("v_contact_menu", "en")]
    line.press("5")
    assert fresh(db_session).scalars(select(Client.contact_means)).one() == ContactMeans.no_reminders


def test_by_keypad_three_hours_that_are_none_end_the_call_kindly_and_save_nothing(app, client, db_session):
    phone = SimulatedPhone(WsgiTransport(app), "+4798765432", app.config["PUBLIC_BASE_URL"],
                           app.config["TWILIO_AUTH_TOKEN"])
    line = call(phone)
    for key in ("2", "5", "6", "1"):
        line.press(key)
    assert [h.text for h in line.press("99")] == [spoken("v_contact_hours_format", "en"),
                                                   spoken("v_contact_hours", "en")]
    line.press("1410")
    heard = line.press("")
    assert heard[0].text == spoken("v_goodbye", "en") and line.ended
    assert terms_of(fresh(db_session).scalars(select(Client)).one()) == (ContactMeans.any, None, None, None)


def test_a_reminder_waiting_for_her_hours_goes_at_once_when_she_opens_them(twilio_app, fake_twilio, centre, clock,
                                                                           db_session, now, rules):
    her_terms(db_session, centre["caller"], days="01234", starts=time(9), ends=time(11))
    book(db_session, centre, now, rules)
    worker = make_worker(twilio_app)
    clock.set(START - timedelta(hours=24))  # Wednesday 13:00: her window closed at 11:00
    worker.tick()
    assert fake_twilio.messages == []
    assert ("reminder", OutboxStatus.pending, "contact-hours") in outbox(db_session)
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    for words in ("hi", "5", "6", "1"):
        phone.text(words)
    assert phone.text("1") == say("contact_any_time", "so")
    worker.tick()  # the same minute
    assert [m.body for m in fake_twilio.messages] == [say("reminder", "so", when=START)]


def test_a_reminder_waiting_for_her_hours_waits_for_the_new_ones_she_chose(twilio_app, fake_twilio, centre, clock,
                                                                           db_session, now, rules):
    her_terms(db_session, centre["caller"], days="01234", starts=time(9), ends=time(11))
    book(db_session, centre, now, rules)
    worker = make_worker(twilio_app)
    clock.set(START - timedelta(hours=24))  # Wednesday 13:00
    worker.tick()
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    for words in ("hi", "5", "6", "1"):
        phone.text(words)
    phone.text("1516")  # from 15 to 16, every day
    worker.tick()
    assert fake_twilio.messages == []
    assert fresh(db_session).scalars(select(OutboxMessage.due_at).where(
        OutboxMessage.status == OutboxStatus.pending).order_by(OutboxMessage.due_at)).first() == oslo(2026, 11, 25, 15, 0)
    clock.set(oslo(2026, 11, 25, 15, 0))
    worker.tick()
    assert [m.body for m in fake_twilio.messages] == [say("reminder", "so", when=START)]


def test_no_reminders_chosen_by_text_holds_back_the_next_one(twilio_app, fake_twilio, centre, clock, db_session,
                                                             now, rules):
    book(db_session, centre, now, rules)
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    phone.text("hi")
    phone.text("5")
    assert phone.text("5") == say("contact_no_reminders", "so")
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == [] and fake_twilio.calls == []
    assert ("reminder", OutboxStatus.withdrawn, "no-reminders") in outbox(db_session)


def test_only_calls_chosen_by_keypad_brings_her_reminder_as_a_call(twilio_app, fake_twilio, centre, clock,
                                                                   db_session, now, rules):
    caller = db_session.get(Client, centre["caller"].id)
    caller.language_code = "ar"  # a call can be heard in Arabic
    db_session.commit()
    book(db_session, centre, now, rules)
    phone = SimulatedPhone(WsgiTransport(twilio_app), NUMBER, twilio_app.config["PUBLIC_BASE_URL"],
                           twilio_app.config["TWILIO_AUTH_TOKEN"])
    line = call(phone)
    line.press("5")
    assert line.press("3")[0].text == spoken("v_contact_calls", "ar")
    assert her(db_session).wants_reminder_calls and her(db_session).contact_means == ContactMeans.calls
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == []
    [placed] = fake_twilio.calls
    assert placed.to == NUMBER and "reminder?message=" in placed.url


@pytest.mark.parametrize("sent", ["0507", "2123", "0008", "2023"])
def test_hours_wholly_in_the_quiet_hours_are_asked_again_as_nothing_would_ever_reach_her(app, client, db_session,
                                                                                          sent):
    # No text or call leaves between 20:00 and 08:00: "Saved: every day from 05:00 to 07:00"
    # would promise her reminders, changes and cancellations that never come.
    phone = Phone(client, app, "+4798765432")
    for words in ("hi", "2", "5", "6", "1"):
        phone.text(words)
    # She is told when anything can reach her, and asked again.
    assert phone.text(sent) == say("contact_hours_quiet", "en", start=time(8), end=time(20))
    assert "from 08:00 to 20:00" in phone.text(sent)
    assert terms_of(fresh(db_session).scalars(select(Client)).one()) == (ContactMeans.any, None, None, None)


@pytest.mark.parametrize("sent, start, end", [("0709", 8, 9), ("1923", 19, 20), ("0023", 8, 20)])
def test_hours_reaching_into_the_quiet_hours_are_saved_and_told_as_she_can_be_reached(app, client, db_session,
                                                                                       sent, start, end):
    phone = Phone(client, app, "+4798765432")
    for words in ("hi", "2", "5", "6", "1"):
        phone.text(words)
    assert phone.text(sent) == say("contact_hours_every_day", "en", start=time(start), end=time(end))
    assert terms_of(fresh(db_session).scalars(select(Client)).one())[1:] == (None, time(start), time(end))


def test_by_keypad_hours_in_the_quiet_hours_are_asked_again(app, client, db_session):
    phone = SimulatedPhone(WsgiTransport(app), "+4798765432", app.config["PUBLIC_BASE_URL"],
                           app.config["TWILIO_AUTH_TOKEN"])
    line = call(phone)
    for key in ("2", "5", "6", "1"):
        line.press(key)
    assert [h.text for h in line.press("0507")] == [
        spoken("v_contact_hours_quiet", "en", start=time(8), end=time(20)), spoken("v_contact_hours", "en")]
    assert terms_of(fresh(db_session).scalars(select(Client)).one()) == (ContactMeans.any, None, None, None)
