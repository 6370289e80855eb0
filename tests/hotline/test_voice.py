"""The voice line end to end: signed calls in, keys pressed, TwiML read back as Twilio would."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import time

import pytest
from sqlalchemy import func, select

from hotline.phone import SimulatedPhone, WsgiTransport, call
from hotline.prompts import format_when, render, spoken_clock, spoken_when
from scheduling.clients import find_client
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    BookedVia,
    CallbackRequest,
    Client,
    DutyShift,
    OutboxMessage,
    OutboxStatus,
    PromptRecording,
    SlotHold,
    StaffRole,
    Voicemail,
)
from tests.conftest import OSLO, fresh, oslo

# Twilio's documented voice verbs, their attributes, and what may nest in them.
ALLOWED = {
    "Response": set(),
    "Say": {"voice", "language", "loop"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {"action", "method", "timeout", "numDigits", "finishOnKey", "input", "actionOnEmptyResult",
               "language", "hints", "speechTimeout", "partialResultCallback"},
    "Redirect": {"method"},
    "Record": {"action", "method", "timeout", "maxLength", "finishOnKey", "playBeep", "trim",
               "recordingStatusCallback", "transcribe"},
    "Dial": {"action", "method", "timeout", "callerId", "record", "hangupOnStar", "timeLimit", "answerOnBridge"},
    "Number": {"sendDigits", "url", "method", "statusCallback"},
    "Hangup": set(),
}
NESTING = {"Response": {"Say", "Play", "Pause", "Gather", "Redirect", "Record", "Dial", "Hangup"},
           "Gather": {"Say", "Play", "Pause"}, "Dial": {"Number"}}


def check_twiml(xml: str) -> None:
    root = ET.fromstring(xml)
    assert root.tag == "Response"

    def walk(element):
        assert element.tag in ALLOWED, element.tag
        assert set(element.attrib) <= ALLOWED[element.tag], (element.tag, element.attrib)
        for child in element:
            assert child.tag in NESTING.get(element.tag, set()), (element.tag, child.tag)
            walk(child)

    walk(root)


@dataclass
class CheckedTransport:
    """Posts into the app and checks every voice answer is TwiML Twilio would accept."""

    app: object
    answers: list[str] = field(default_factory=list)

    def post(self, path, params, headers):
        status, body = WsgiTransport(self.app).post(path, params, headers)
        assert status == 200, (path, status, body)
        check_twiml(body)
        self.answers.append(body)
        return status, body


@pytest.fixture
def transport(app):
    return CheckedTransport(app)


def phone(app, transport, number="+4791234567"):
    return SimulatedPhone(transport, number, app.config["PUBLIC_BASE_URL"], app.config["TWILIO_AUTH_TOKEN"])


def spoken(key, language, **values):
    if "when" in values:
        values["when"] = spoken_when(values["when"], language, OSLO)
    for hour in ("start", "end"):
        if hour in values:
            values[hour] = spoken_clock(values[hour], language)
    return render(key, language, **values)


def appointments(db_session):
    return fresh(db_session).scalars(select(Appointment).order_by(Appointment.id)).all()


def test_a_booking_by_keypad_in_english(app, transport, centre, db_session):
    line = call(phone(app, transport))
    said = line.said()
    assert "For English, press 2." in said and "For Norsk, trykk 1." in said
    assert any(h.voice == "Polly.Liv" and h.language == "nb-NO" for h in line.heard)  # each in its own voice
    assert line.waiting_for == "keys"

    heard = line.press("2")
    assert heard[0].text == spoken("v_main_menu", "en") and heard[0].voice == "Polly.Amy"
    line.press("1")  # book
    line.press("2")  # the second service
    slots = line.said()
    first = oslo(2026, 11, 23, 10, 30)
    assert spoken("v_slot_option", "en", when=first, digit=1) in slots
    assert spoken("v_confirm", "en", when=first) in " ".join(h.text for h in line.press("1"))
    heard = line.press("1")
    assert heard[0].text == spoken("v_booked_text", "en", when=first)
    assert line.ended

    [booked] = appointments(db_session)
    assert (booked.start_at, booked.booked_via, booked.language_code) == (first, BookedVia.voice, "en")
    assert booked.service_id == centre["family"].id
    texts = fresh(db_session).scalars(select(OutboxMessage.template).where(OutboxMessage.kind == "change")).all()
    assert texts == ["booked"]  # a confirmation text follows, to her mobile


def test_a_landline_gets_no_confirmation_text(app, transport, centre, db_session):
    line = call(phone(app, transport, "+4722123456"))
    line.press("2")
    line.press("1")
    line.press("1")
    line.press("1")
    assert line.press("1")[0].text.startswith(spoken("v_booked", "en", when=oslo(2026, 11, 23, 10, 30))[:10])
    assert "text" not in line.heard[-2].text
    assert fresh(db_session).scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "change")) == 0


def test_a_move_by_keypad_is_confirmed_by_the_text_she_is_promised(app, transport, centre, db_session):
    line = call(phone(app, transport))
    for key in "21111":  # English; book; a talk; the first time; yes
        line.press(key)
    [first] = [a.start_at for a in appointments(db_session)]
    line = call(phone(app, transport))
    line.press("2")  # her appointment
    line.press("2")  # move it
    line.press("2")  # the second time offered
    assert [a.start_at for a in appointments(db_session)] == [first]  # not yet: she is asked first
    heard = line.press("1")
    [moved] = appointments(db_session)
    assert moved.start_at != first
    assert heard[0].text == spoken("v_moved_text", "en", when=moved.start_at) and line.ended
    texts = fresh(db_session).execute(select(OutboxMessage.template, OutboxMessage.status).where(
        OutboxMessage.kind == "change").order_by(OutboxMessage.id)).all()
    # The booking's text had not gone yet: one text tells her where her time is now.
    assert texts == [("booked", OutboxStatus.withdrawn), ("moved", OutboxStatus.pending)]


def test_the_text_a_move_by_keypad_promised_arrives(twilio_app, centre, db_session, fake_twilio):
    from web.worker import make_worker

    transport = CheckedTransport(twilio_app)
    line = call(phone(twilio_app, transport))
    for key in "21111":
        line.press(key)
    make_worker(twilio_app).tick()  # the booking's text goes
    line = call(phone(twilio_app, transport))
    for key in "2221":  # her appointment; move it; the second time; yes
        line.press(key)
    [moved] = appointments(db_session)
    make_worker(twilio_app).tick()
    booked_text, moved_text = fake_twilio.bodies_to("+4791234567")
    assert "moved" in moved_text.lower() and format_when(moved.start_at, "en", OSLO) in moved_text


def test_a_move_by_keypad_from_a_landline_promises_no_text(app, transport, centre, db_session):
    line = call(phone(app, transport, "+4722123456"))
    for key in "21111":
        line.press(key)
    line = call(phone(app, transport, "+4722123456"))
    for key in "222":
        line.press(key)
    assert line.press("1")[0].text == spoken("v_moved", "en", when=oslo(2026, 11, 23, 11, 30))
    assert fresh(db_session).scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "change")) == 0


def test_a_returning_caller_skips_the_language_menu(app, transport, centre, db_session):
    first = call(phone(app, transport))
    first.press("3")  # Arabic
    first.hang_up()
    again = call(phone(app, transport))
    assert again.heard[0].text == spoken("v_main_menu", "ar") and again.heard[0].voice == "Polly.Zeina"
    again.press("0")
    assert "For English, press 2." in again.said()


def somali_recordings(db_session, now):
    """Recordings of every piece the Somali voice line needs."""
    from hotline.voices import pieces_to_record, text_version
    from scheduling.models import Service

    slugs = fresh(db_session).scalars(select(Service.slug)).all()
    for index, key in enumerate(pieces_to_record("so", slugs)):
        db_session.add(PromptRecording(prompt_key=key, language_code="so", token=f"so-{index:04d}",
                                       content_type="audio/mpeg", audio=b"ID3", uploaded_at=now,
                                       text_version=text_version(key)))
    db_session.commit()


def test_a_booking_in_somali_is_played_from_recordings(app, transport, centre, db_session, now):
    somali_recordings(db_session, now)
    line = call(phone(app, transport))
    assert any(h.kind == "play" for h in line.heard)  # "Soomaali" option from its recording
    heard = line.press("4")
    assert [h.kind for h in heard] == ["play"] and heard[0].text.startswith("/hotline/recordings/so-")
    for key in "1111":
        heard += line.press(key)
    assert line.ended and [a.language_code for a in appointments(db_session)] == ["so"]
    # After the language menu, every prompt of her call is a recording: nothing is said
    # by a voice in a language she may not speak.
    assert heard and {h.kind for h in heard} == {"play", "hangup"}
    token = heard[0].text.rsplit("/", 1)[-1]
    response = app.test_client().get(f"/hotline/recordings/{token}")
    assert response.status_code == 200 and response.mimetype == "audio/mpeg"
    assert app.test_client().get("/hotline/recordings/guess").status_code == 404


def record(db_session, now, language, *keys):
    from hotline.voices import text_version

    for key in keys:
        db_session.add(PromptRecording(prompt_key=key, language_code=language, token=f"{language}-{key}",
                                       content_type="audio/mpeg", audio=b"ID3", uploaded_at=now,
                                       text_version=text_version(key)))
    db_session.commit()


def test_with_only_some_recordings_her_language_is_not_offered_part_way(app, transport, centre, db_session, now):
    record(db_session, now, "so", "v_main_menu")  # the main menu alone: what follows could not be heard
    line = call(phone(app, transport))
    heard = line.press("4")
    assert [h.kind for h in heard] == ["say", "say", "hangup"]  # no Somali main menu that leads nowhere
    assert [h.voice for h in heard if h.kind == "say"] == ["Polly.Liv", "Polly.Amy"] and line.ended
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    assert request.language_code == "so"
    # She calls again: the language menu, not a notice she cannot get past (had she pressed
    # 4 by mistake, 2 is English); 4 again tells her the same, and asks for no second call-back.
    again = call(phone(app, transport))
    assert "For English, press 2." in again.said() and not again.ended
    heard = again.press("4")
    assert [h.voice for h in heard if h.kind == "say"] == ["Polly.Liv", "Polly.Amy"] and again.ended
    assert len(fresh(db_session).scalars(select(CallbackRequest)).all()) == 1
    assert appointments(db_session) == []
    by_mistake = call(phone(app, transport))
    assert by_mistake.press("2")[0].text == spoken("v_main_menu", "en")


def test_her_language_is_offered_once_every_prompt_a_call_can_reach_in_it_is_recorded(app, transport, centre,
                                                                                     db_session, now):
    from hotline.ivr import prompts_heard
    from hotline.voices import pieces_to_record
    from scheduling.models import Service

    slugs = fresh(db_session).scalars(select(Service.slug)).all()
    needed = pieces_to_record("ti", slugs, prompts_heard())
    # Worked out from the dialogue table: what her main menu's choices lead to, not what
    # only a hidden number or the language menu hears.
    assert {"v_main_menu", "v_code_set", "v_slot_option#0", "v_connecting", "minute:10"} <= set(needed)
    assert not {"v_hidden_number", "v_language_option#0", "v_not_available"} & set(needed)
    record(db_session, now, "ti", *[key for key in needed if key != "v_code_set"])
    line = call(phone(app, transport))
    assert [h.kind for h in line.press("6")] == ["say", "say", "hangup"]  # one prompt short: not yet
    record(db_session, now, "ti", "v_code_set")
    line = call(phone(app, transport))
    heard = line.heard[-1:] if line.heard and line.heard[-1].kind == "play" else []
    for key in "1111":
        heard += line.press(key)
    assert line.ended and [a.language_code for a in appointments(db_session)] == ["ti"]
    assert {h.kind for h in heard} == {"play", "hangup"}


@pytest.mark.parametrize("app_config", [{"VOICES_OFF": ("ur",)}])
def test_a_voice_the_centre_switched_off_leaves_its_language_to_recordings_as_somali(app, transport, centre,
                                                                                    db_session):
    line = call(phone(app, transport))
    assert not [h for h in line.heard if h.voice == "Google.ur-IN-Standard-A"]
    urdu = [h.text for h in line.heard if h.kind == "say" and ("Urdu" in h.text)]
    assert urdu == ["For Urdu, trykk 5.", "For Urdu, press 5."]
    heard = line.press("5")
    assert [h.kind for h in heard] == ["say", "say", "hangup"]  # coming soon, in Norwegian and English
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    assert request.language_code == "ur" and appointments(db_session) == []


def test_her_language_s_recorded_notice_is_what_she_hears_until_it_is_complete(app, transport, centre, db_session,
                                                                               now):
    record(db_session, now, "ti", "v_not_available")
    line = call(phone(app, transport))
    heard = line.press("6")
    assert [(h.kind, h.text) for h in heard] == [("play", "/hotline/recordings/ti-v_not_available"), ("hangup", "")]
    assert line.ended
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    assert request.language_code == "ti"


def test_without_recordings_somali_hears_in_norwegian_and_english_that_it_is_not_ready(app, transport, centre,
                                                                                      db_session):
    line = call(phone(app, transport))
    # The option, by the Norwegian and English voices, with the names they can read.
    options = [(h.voice, h.text) for h in line.heard if "4" in h.text]
    assert options == [("Polly.Liv", "For Somali, trykk 4."), ("Polly.Amy", "For Somali, press 4.")]
    heard = [h for h in line.press("4") if h.kind == "say"]
    assert [h.voice for h in heard] == ["Polly.Liv", "Polly.Amy"]
    assert heard[1].text == spoken("v_not_available", "en")
    # No key she could not understand: the call back is registered as it is said.
    assert line.ended
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    assert (request.language_code, request.requested_via) == ("so", BookedVia.voice)
    assert appointments(db_session) == []


def test_hanging_up_in_the_middle_leaves_no_half_booking(app, transport, centre, db_session):
    line = call(phone(app, transport))
    line.press("2")
    line.press("1")
    line.press("1")
    line.press("1")  # the slot is held for her while she confirms
    assert fresh(db_session).scalar(select(func.count()).select_from(SlotHold)) == 1
    line.hang_up()
    assert fresh(db_session).scalar(select(func.count()).select_from(SlotHold)) == 0
    assert appointments(db_session) == []


def test_three_wrong_keys_or_silences_end_the_call_kindly(app, transport, centre):
    line = call(phone(app, transport))
    line.press("2")
    heard = line.press("7")
    assert heard[0].text == spoken("v_wrong_key", "en") and heard[1].text == spoken("v_main_menu", "en")
    heard = line.silence()
    assert heard[0].text == spoken("v_no_key", "en")
    heard = line.press("8")
    assert heard[0].text == spoken("v_goodbye", "en") and line.ended


def test_a_hidden_number_can_leave_a_message_but_not_book(app, transport, centre, db_session):
    line = call(phone(app, transport, "anonymous"))
    assert line.heard[0].text == spoken("v_hidden_number", "nb")
    line.press("1")  # booking is not on offer
    assert line.heard[-1].text == spoken("v_hidden_number", "nb")
    assert line.press("6")[-1].kind == "record"
    line.leave_message()
    [message] = fresh(db_session).scalars(select(Voicemail)).all()
    assert message.client_id is None and message.recording_url.endswith("/RE1")
    assert fresh(db_session).scalar(select(func.count()).select_from(Client)) == 0


def on_duty(make, db_session):
    receptionist = make.counselor(role=StaffRole.receptionist, phone_e164="+4798765432")
    db_session.add(DutyShift(staff_id=receptionist.id, weekday=0, starts=time(8), ends=time(16)))
    db_session.commit()


def test_talk_to_someone_in_opening_hours_then_voicemail(app, transport, centre, make, db_session, clock):
    on_duty(make, db_session)
    clock.set(oslo(2026, 11, 23, 10, 0))
    line = call(phone(app, transport))
    line.press("2")
    heard = line.press("3")
    assert [h.kind for h in heard[:2]] == ["say", "dial"] and heard[1].text == "+4798765432"
    assert "Dial" in transport.answers[-2] and 'callerId="+4722000000"' in transport.answers[-2]
    assert 'timeout="25"' in transport.answers[-2]
    # Nobody answered: a call back or a message, as she chooses.
    assert heard[-1].text == spoken("v_nobody", "en") and line.waiting_for == "keys"
    assert line.press("2")[-1].kind == "record"
    line.leave_message(seconds=40)
    [message] = fresh(db_session).scalars(select(Voicemail)).all()
    assert (message.language_code, message.duration_seconds) == ("en", 40)
    assert 'maxLength="120"' in transport.answers[-2]
    assert fresh(db_session).scalars(select(CallbackRequest)).all() == []  # nothing she did not ask for


def test_outside_opening_hours_she_hears_when_we_open_and_asks_to_be_called_back(
        app, transport, centre, make, db_session, clock):
    on_duty(make, db_session)
    clock.set(oslo(2026, 11, 23, 19, 0))  # Monday evening; the centre opens 08:00
    line = call(phone(app, transport))
    line.press("2")
    heard = line.press("3")
    assert heard[0].text == spoken("v_closed", "en", when=oslo(2026, 11, 24, 8, 0))
    assert line.press("1")[0].text == spoken("v_callback", "en") and line.ended
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    assert (request.language_code, request.requested_via) == ("en", BookedVia.voice)


def test_reminders_by_phone_call_switch_on_and_off_as_by_text(app, transport, centre, db_session):
    line = call(phone(app, transport, "+4792222222"))
    line.press("2")
    assert [h.text for h in line.press("5")] == [spoken("v_contact_menu", "en")]
    # Said, then her main menu again: she may want to choose her hours too.
    heard = line.press("4")
    assert [h.text for h in heard] == [spoken("v_contact_reminder_calls", "en"), spoken("v_main_menu", "en")]
    assert not line.ended and find_client(fresh(db_session), "+4792222222").wants_reminder_calls
    line.press("5")
    assert line.press("1")[0].text == spoken("v_contact_any", "en")
    assert not find_client(fresh(db_session), "+4792222222").wants_reminder_calls


def test_hear_and_cancel_her_appointment(app, transport, centre, db_session):
    line = call(phone(app, transport))
    line.press("2")
    for key in "1111":
        line.press(key)
    [booked] = appointments(db_session)
    line = call(phone(app, transport))
    assert line.press("2")[0].text == spoken("v_your_time", "en", when=booked.start_at)
    line.press("1")
    assert line.press("1")[0].text == spoken("v_cancelled", "en")
    assert appointments(db_session)[0].status == AppointmentStatus.cancelled


def test_an_unsigned_call_is_refused(client):
    assert client.post("/hotline/voice", data={"CallSid": "CA1", "From": "+4791234567"}).status_code == 403
    assert client.post("/hotline/voice/input?turn=1", data={"CallSid": "CA1", "Digits": "1"}).status_code == 403


def test_prompts_missing_lists_what_each_language_needs(runner, centre):
    result = runner.invoke(args=["prompts", "missing"])
    assert result.exit_code == 0
    assert "so: " in result.output and "ti: " in result.output and "fa: " in result.output
    assert "weekday:0" in result.output and "v_main_menu" in result.output
    assert "Isniin" in result.output  # Monday, as the Somali word to record
    # A piece of a sentence is shown inside its whole sentence.
    assert "in: " in result.output and "[" in result.output.split("in: ", 1)[1].splitlines()[0]
    assert "nb: nothing missing" in result.output
    # What a call needs first is listed first, marked; the hidden number's menu after it.
    somali = result.output.split("so: ", 1)[1].split("\nti: ", 1)[0].splitlines()
    keys = [line[2:].split()[0] for line in somali[1:] if line[2:3].strip() and not line.startswith("   ")]
    marked = [line.startswith(" *") for line in somali[1:] if line[2:3].strip() and not line.startswith("   ")]
    assert marked == sorted(marked, reverse=True) and True in marked and False in marked
    assert marked[keys.index("v_main_menu")] and not marked[keys.index("v_hidden_number")]


def test_a_late_key_press_for_a_menu_she_has_left_hears_her_menu_and_changes_nothing(app, transport, centre,
                                                                                     db_session):
    line = call(phone(app, transport))
    line.press("2")
    line.press("1")  # book: the services
    # A retry of her first key (the language menu's, turn 0) arrives late.
    heard = line._fetch("/hotline/voice/input?turn=0", line.params(Digits="1"))
    first = centre["talk"].name_in("en")
    assert [h.text for h in heard] == [spoken("v_service_option", "en", service=first, digit=1),
                                       spoken("v_service_option", "en", service=centre["family"].name_in("en"),
                                              digit=2)]
    assert appointments(db_session) == [] and line.press("2")[0].text == spoken("v_slots_intro", "en")


# --- a language recorded in full, and a recording going stale or a service added mid-call -----------


def test_once_in_her_language_what_she_presses_is_done_and_said_though_a_service_was_added(
        app, transport, centre, db_session, now, make):
    somali_recordings(db_session, now)
    line = call(phone(app, transport))
    line.press("4")
    for key in "111":
        line.press(key)
    # Meanwhile an admin adds a service, whose name nobody has recorded in Somali yet.
    make.service(slug="new-service", names={"nb": "Ny tjeneste"})
    db_session.commit()
    heard = line.press("1")
    assert [a.language_code for a in appointments(db_session)] == ["so"]
    assert heard[0].kind == "play" and "v_not_available" not in heard[0].text and line.ended
    assert fresh(db_session).scalars(select(CallbackRequest)).all() == []


def test_her_message_is_saved_though_the_goodbye_went_stale_while_she_spoke(app, transport, centre, db_session,
                                                                           now):
    somali_recordings(db_session, now)
    line = call(phone(app, transport))
    line.press("4")
    line.press("3")  # nobody on duty: a call back or a message
    line.press("2")
    saved = fresh(db_session).scalars(select(PromptRecording).where(
        PromptRecording.language_code == "so", PromptRecording.prompt_key == "v_message_saved")).one()
    saved.text_version = "older"
    db_session.merge(saved)
    db_session.commit()
    heard = line.leave_message()
    assert len(fresh(db_session).scalars(select(Voicemail)).all()) == 1
    # Said by the Norwegian and English voices, rather than not at all.
    assert [h.voice for h in heard if h.kind == "say"] == ["Polly.Liv", "Polly.Amy"] and line.ended


def test_every_hour_of_the_day_can_be_recorded():
    from hotline.voices import pieces_to_record

    assert {f"hour:{h}" for h in range(24)} <= set(pieces_to_record("so", []))


@pytest.mark.parametrize("app_config", [{"VOICES_OFF": ("nb", "en", "ur")}])
def test_the_voices_that_speak_for_every_language_cannot_be_switched_off(app, transport, centre):
    from cryptography.fernet import Fernet

    from web.config import ConfigError, from_env

    line = call(phone(app, transport))
    assert {"Polly.Liv", "Polly.Amy"} <= {h.voice for h in line.heard}
    assert [h.voice for h in line.press("4") if h.kind == "say"] == ["Polly.Liv", "Polly.Amy"]
    with pytest.raises(ConfigError, match="VOICES_OFF"):
        from_env({"VOICES_OFF": "ur,nb", "PHONE_KEYS": Fernet.generate_key().decode(), "PHONE_HASH_KEY": "h"})
