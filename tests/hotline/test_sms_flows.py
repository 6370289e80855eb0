"""The SMS line end to end: signed texts in, TwiML out, bookings in the database."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline.conversation import Reply
from hotline.replies import render_reply
from scheduling.clients import find_client
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AuditEntry,
    BookedVia,
    CallbackRequest,
    Client,
    Conversation,
    InboundMessage,
    ServiceName,
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
    client = find_client(db_session, phone_e164)
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
    # Now is 08:00: two hours' notice, kept for the minutes she takes to confirm, makes
    # 10:30 the first time offered.
    starts = [oslo(2026, 11, 23, 10, 30) + timedelta(minutes=30 * i) for i in range(len(offered))]
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


def test_a_service_renamed_between_her_texts_is_named_anew_in_her_next_answer(phone, centre, db_session):
    phone.text("hei")
    phone.text(str(MENU_NUMBER["so"]))
    assert centre["talk"].name_in("so") in phone.text("1")
    phone.text("0")  # back to her main menu
    # An admin renames it while she is in her dialogue (her dialogue's first statement
    # reads the reference data's version; the kept names must not outlive the change).
    db_session.get(ServiceName, (centre["talk"].id, "so")).name = "Wadahadal cusub"
    db_session.commit()
    assert "Wadahadal cusub" in phone.text("1")


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
    # The delete request is remembered, tied to no one, so that Twilio retrying it is
    # answered the same and does not make her a new record; her earlier texts stay only as
    # bare counts for the reply limit (no words, no one), and those go within the hour.
    rows = db_session.execute(select(InboundMessage.message_sid, InboundMessage.client_id,
                                     InboundMessage.reply_twiml)).all()
    assert {client_id for _, client_id, _ in rows} == {None}
    assert {twiml for sid, _, twiml in rows if sid != "SM-delete"} == {"<Response/>"}
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
    assert phone.text("haa") == say("booked", "so", when=oslo(2026, 11, 23, 11, 0))
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
    assert first == second == say("booked", "so", when=oslo(2026, 11, 23, 10, 30))
    assert len(appointments(db_session)) == 1
    assert phone.text("2").startswith(say("appointment_menu", "so", when=oslo(2026, 11, 23, 10, 30)).split("\n")[0])


def two_callers_at_the_slot_list(app, client, make, db_session, *, until_hour=11, valid_until=None):
    """One Somali-speaking counselor free on Tuesdays from 10:00 (until ``until_hour``), and
    two callers, Amina and Hodan, who have both just been offered her times."""
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    make.counselor(languages=["so"], services=[service], hours={1: (time(10), time(until_hour))},
                   valid_until=valid_until)
    db_session.commit()
    amina, hodan = Phone(client, app, "+4791111111"), Phone(client, app, "+4792222222")
    for caller in (amina, hodan):
        caller.text("hi")
        caller.text("4")
        assert caller.text("1").startswith(say("offer_slots", "so", slots=[]).split("\n")[0])
    return amina, hodan


def test_two_callers_racing_for_the_last_slot(app, client, make, db_session, now):
    # One free hour this week, then one more a week later.
    amina, hodan = two_callers_at_the_slot_list(app, client, make, db_session,
                                                valid_until=oslo(2026, 12, 1, 12, 0).date())

    assert amina.text("1") == say("confirm_slot", "so", when=oslo(2026, 11, 24, 10, 0))
    # Hodan picks the same slot a moment later: it is held for Amina; she is offered the next.
    assert hodan.text("1") == say("slot_taken", "so") + "\n" + say("offer_slots", "so", slots=[oslo(2026, 12, 1, 10, 0)])
    assert amina.text("1") == say("booked", "so", when=oslo(2026, 11, 24, 10, 0))
    assert hodan.text("1") == say("confirm_slot", "so", when=oslo(2026, 12, 1, 10, 0))
    assert hodan.text("1") == say("booked", "so", when=oslo(2026, 12, 1, 10, 0))
    assert [a.start_at for a in appointments(db_session)] == [oslo(2026, 11, 24, 10, 0), oslo(2026, 12, 1, 10, 0)]


def test_a_hold_that_expired_and_was_taken_is_not_booked_twice(app, client, make, db_session, clock):
    amina, hodan = two_callers_at_the_slot_list(app, client, make, db_session, until_hour=12)
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


# --- when the calendar changes behind her back ------------------------------------------------


def test_a_caller_with_an_appointment_sees_it_instead_of_booking_a_second(phone, centre, db_session):
    book(phone, "so")
    [appointment] = appointments(db_session)
    assert phone.text("1") == say("appointment_menu", "so", when=appointment.start_at)
    assert len(appointments(db_session)) == 1


def test_another_callers_live_hold_wins_when_hers_ran_out(app, client, make, db_session, clock):
    amina, hodan = two_callers_at_the_slot_list(app, client, make, db_session,
                                                valid_until=oslo(2026, 12, 1, 12, 0).date())
    amina.text("1")
    clock.advance(timedelta(minutes=6))  # Amina's hold runs out
    assert hodan.text("1") == say("confirm_slot", "so", when=oslo(2026, 11, 24, 10, 0))  # Hodan holds it now
    assert amina.text("1").startswith(say("slot_taken", "so"))
    assert hodan.text("1") == say("booked", "so", when=oslo(2026, 11, 24, 10, 0))
    assert [a.client.phone_e164 for a in appointments(db_session)] == ["+4792222222"]


def test_cancelling_asks_again_when_the_staff_moved_it_meanwhile(phone, centre, db_session, now):
    from scheduling.booking import reschedule_appointment
    from scheduling.models import Actor

    book(phone, "so")
    phone.text("2")
    phone.text("1")  # "Cancel your time Monday 10:30?"
    [appointment] = appointments(db_session)
    later = oslo(2026, 11, 27, 14, 0)
    reschedule_appointment(db_session, appointment, start_at=later, now=now, actor=Actor.staff)
    db_session.commit()
    assert phone.text("1") == say("confirm_cancel", "so", when=later)  # asked about the new time
    assert appointments(db_session)[0].status == AppointmentStatus.booked
    assert phone.text("1") == say("cancelled", "so", when=later)
    assert appointments(db_session)[0].status == AppointmentStatus.cancelled


def test_moving_an_appointment_the_staff_cancelled_meanwhile(phone, centre, db_session, now):
    from scheduling.booking import cancel_appointment
    from scheduling.models import Actor

    book(phone, "so")
    phone.text("2")
    phone.text("2")  # the free times to move to
    [appointment] = appointments(db_session)
    cancel_appointment(db_session, appointment, now=now, actor=Actor.staff)
    db_session.commit()
    assert phone.text("1") == say("no_appointment", "so")
    assert [a.status for a in appointments(db_session)] == [AppointmentStatus.cancelled]


def test_the_answer_to_a_reminder_of_a_cancelled_appointment(app, phone, centre, db_session, clock, now):
    from web.worker import make_worker
    from scheduling.booking import cancel_appointment
    from scheduling.models import Actor

    book(phone, "so")
    [appointment] = appointments(db_session)
    clock.set(appointment.start_at - timedelta(hours=2, minutes=-1))
    make_worker(app).tick()  # the reminder goes out; her next text answers it
    appointment = fresh(db_session).get(Appointment, appointment.id)
    cancel_appointment(db_session, appointment, now=clock.now(), actor=Actor.staff)
    db_session.commit()
    assert phone.text("1") == say("no_appointment", "so")


def test_moving_half_an_hour_later_overlapping_her_own_time(phone, centre, db_session):
    book(phone, "so")  # Monday 10:30-11:30 with the one counselor who speaks Somali
    [appointment] = appointments(db_session)
    phone.text("2")
    phone.text("2")
    later = appointment.start_at + timedelta(minutes=30)
    offered = [datetime.fromisoformat(o["start"]) for o in first_offers(db_session)]
    assert later in offered  # her own time does not stand in her way
    assert phone.text(str(offered.index(later) + 1)) == say("confirm_slot", "so", when=later)
    assert phone.text("1") == say("moved", "so", when=later)
    assert [(a.start_at, a.status) for a in appointments(db_session)] == [(later, AppointmentStatus.booked)]


def test_her_own_time_is_never_offered_as_where_to_move_it(phone, centre, db_session):
    book(phone, "so")  # the first time offered: Monday 10:30
    [appointment] = appointments(db_session)
    phone.text("2")
    offers = phone.text("2")
    offered = [datetime.fromisoformat(o["start"]) for o in first_offers(db_session)]
    assert appointment.start_at not in offered
    assert offered[0] == appointment.start_at + timedelta(minutes=30)  # the next time is, though it overlaps
    assert say("confirm_slot", "so", when=appointment.start_at).split(".")[0] not in offers
    later = phone.text("9")
    assert say("confirm_slot", "so", when=appointment.start_at).split(".")[0] not in later
    assert appointment.start_at not in [datetime.fromisoformat(o["start"]) for o in first_offers(db_session)]


def test_choosing_the_time_the_staff_just_moved_her_to_keeps_it_and_moves_nothing(phone, centre, db_session, now):
    from scheduling.booking import reschedule_appointment
    from scheduling.models import Actor, OutboxMessage

    book(phone, "so")
    phone.text("2")
    phone.text("2")  # the times to move to; meanwhile the desk moves her to the second one
    target = first_offers(db_session)[1]
    [appointment] = appointments(db_session)
    reschedule_appointment(db_session, appointment, start_at=datetime.fromisoformat(target["start"]),
                           counselor_id=target["counselor"], now=now, actor=Actor.staff)
    db_session.commit()
    when = datetime.fromisoformat(target["start"])
    assert phone.text("2") == say("confirm_slot", "so", when=when)
    assert phone.text("1") == say("kept", "so", when=when)  # not "moved": nothing changed
    [appointment] = appointments(db_session)
    assert appointment.start_at == when and appointment.version == 2  # the desk's move, and no other
    assert db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all() == ["booked", "moved"]
    assert db_session.scalars(select(OutboxMessage.template).where(OutboxMessage.kind == "change")).all() == ["moved"]
    assert db_session.scalar(select(func.count()).select_from(SlotHold)) == 0


def test_the_first_time_offered_can_still_be_booked_after_a_few_minutes(phone, centre, clock, db_session):
    phone.text("hi")
    phone.text("4")
    phone.text("1")
    phone.text("1")
    first = datetime.fromisoformat(first_offers(db_session)[0]["start"])
    clock.advance(timedelta(minutes=2))
    phone.text("1")
    clock.advance(timedelta(minutes=2, seconds=50))
    assert phone.text("1") == say("booked", "so", when=first)


def test_service_numbers_mean_the_list_she_was_shown(phone, centre, db_session):
    phone.text("hi")
    phone.text("4")
    phone.text("1")  # 1 Wada-hadal, 2 Qoys
    talk = db_session.get(type(centre["talk"]), centre["talk"].id)
    talk.is_active = False
    db_session.commit()
    phone.text("2")
    client = fresh(db_session).scalars(select(Client)).one()
    assert db_session.get(Conversation, client.id).data["service"] == centre["family"].id


def test_without_any_service_she_is_told_there_are_no_times(phone, centre, db_session):
    for service in (centre["talk"], centre["family"]):
        db_session.get(type(service), service.id).is_active = False
    db_session.commit()
    phone.text("hi")
    phone.text("4")
    assert phone.text("1") == say("no_slots", "so")


def test_zero_in_a_submenu_leads_to_her_main_menu_and_from_there_to_the_languages(phone, centre):
    phone.text("hi")
    phone.text("4")
    phone.text("1")
    assert phone.text("0") == say("main_menu", "so")
    assert phone.text("0").startswith("1 Norsk")
    phone.text("4")
    phone.text("1")
    assert phone.text("MENY").startswith("1 Norsk")


def test_yes_after_stop_starts_the_texts_again_as_twilio_does(phone, centre, db_session):
    phone.text("hi")
    phone.text("4")
    phone.text("STOP")
    assert phone.text("yes") == say("started", "so") + "\n" + say("main_menu", "so")
    assert fresh(db_session).scalars(select(Client.is_opted_out)).one() is False


def test_cancel_in_farsi_is_not_an_opt_out(phone, centre, db_session):
    phone.text("hi")
    phone.text("7")
    phone.text("لغو")
    assert fresh(db_session).scalars(select(Client.is_opted_out)).one() is False


def test_reminders_as_a_phone_call_chosen_by_text(phone, centre, db_session):
    phone.text("hi")
    phone.text("3")
    assert phone.text("5") == say("contact_menu", "ar")
    assert phone.text("4") == say("contact_reminder_calls", "ar")
    assert fresh(db_session).scalars(select(Client.wants_reminder_calls)).one() is True
    phone.text("5")
    assert phone.text("1") == say("contact_any", "ar")
    assert fresh(db_session).scalars(select(Client.wants_reminder_calls)).one() is False
