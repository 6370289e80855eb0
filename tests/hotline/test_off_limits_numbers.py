"""Where Linja texts and calls: never to a premium-rate, shared-cost, toll-free, UAN, pager
or voicemail-only number, nor to the centre's own numbers. A text from one gets no reply
(it is kept), a call from one is answered but never called or texted back."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from app import create_app
from scheduling.models import CallbackRequest, Client, InboundMessage, OutboxMessage, ReplyKind
from scheduling.notifications import queue_text
from tests.conftest import NOW, fresh
from tests.hotline.test_voice import transport  # noqa: F401 (fixture)
from tests.hotline.twilio_client import Phone

CENTRE = "+4722000000"  # the number she texts and calls (Twilio's To)
TWILIO_FROM = "+4740000000"
CENTRE_NUMBERS = "+47 41 00 00 00, 0047 4100 0001"  # the messaging service's, written any way
OWN_NUMBERS = [CENTRE, TWILIO_FROM, "+4741000000", "+4741000001"]
PREMIUM = "+4782012345"  # 820: premium rate
TOLL_FREE = "+4780012345"  # 800
UAN = "+4781012345"  # 810: one number for a company
OFF_LIMITS_TYPES = [PREMIUM, TOLL_FREE, UAN]
DANISH = "+4520123456"  # FIXED_LINE_OR_MOBILE, as every Danish number
LANDLINE = "+4723123456"  # FIXED_LINE: not texted, but called back
MOBILE = "+4791234567"


@pytest.fixture
def app(database_url, clock, sessions):
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "CLOCK": clock,
        "PUBLIC_BASE_URL": "https://linja.test", "TWILIO_FROM": TWILIO_FROM, "CENTRE_NUMBERS": CENTRE_NUMBERS,
    })
    yield app
    app.extensions["linja.engine"].dispose()


def count(db_session, model, *where) -> int:
    fresh(db_session)
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


# --- texts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("number", OFF_LIMITS_TYPES + OWN_NUMBERS)
def test_a_text_from_a_number_linja_never_texts_gets_no_reply_and_is_kept(app, client, centre, db_session, number):
    phone = Phone(client, app, number, to=CENTRE)
    assert phone.text("hei") == ""
    assert phone.text("1") == "" and phone.text("HELP") == ""
    assert count(db_session, InboundMessage, InboundMessage.reply_kind == ReplyKind.off_limits) == 3
    # Nothing of the sender is kept beyond her texts, and nothing waits to be sent to her.
    assert count(db_session, Client) == 0 and count(db_session, OutboxMessage) == 0


def test_a_retry_of_such_a_text_stays_silent(app, client, centre, db_session):
    phone = Phone(client, app, PREMIUM, to=CENTRE)
    assert phone.text("hei", sid="SM" + "9" * 32) == "" and phone.text("hei", sid="SM" + "9" * 32) == ""
    assert count(db_session, InboundMessage) == 1


@pytest.mark.parametrize("number", [DANISH, MOBILE])
def test_a_danish_number_and_a_norwegian_mobile_are_answered(app, client, centre, number):
    assert "English" in Phone(client, app, number, to=CENTRE).text("hei")


# --- calls ---------------------------------------------------------------------------------------

def voice(app, client, path: str, number: str, sid: str, **params):
    response = Phone(client, app, number, to=CENTRE).post(
        path, {"CallSid": sid, "From": number, "To": CENTRE, "CallStatus": "in-progress", **params})
    assert response.status_code == 200
    return ET.fromstring(response.get_data(as_text=True))


def keys_offered(root) -> str:
    return " ".join(say.text or "" for say in root.iter("Say"))


@pytest.mark.parametrize("number", [PREMIUM, TOLL_FREE, TWILIO_FROM, "+4741000001"])
def test_a_call_from_such_a_number_is_answered_but_never_called_or_texted_back(app, client, centre, db_session,
                                                                                number):
    sid = "CA" + "1" * 32
    menu = voice(app, client, "/hotline/voice", number, sid, CallStatus="ringing")
    # Answered: she can talk to someone now or leave a message, and nothing more.
    offered = keys_offered(menu)
    assert menu.find("Gather") is not None and "trykk 3" in offered and "trykk 6" in offered and "trykk 4" not in offered
    for pressed in ("4", "5", "1"):  # call me back, reminders by phone call, book
        voice(app, client, "/hotline/voice/hidden", number, sid, Digits=pressed)
    assert count(db_session, CallbackRequest) == 0 and count(db_session, Client) == 0
    assert count(db_session, OutboxMessage) == 0


@pytest.mark.parametrize("number", [PREMIUM, CENTRE, "+4741000001"])
def test_a_call_from_such_a_number_known_to_the_desk_is_still_answered_as_a_hidden_one(
        app, client, centre, make, db_session, number):
    """A caller row for the number (made before it was listed as the centre's own, say)
    changes nothing: the call hears the hidden number's menu and is not tied to her."""
    from scheduling.models import Call

    make.client(phone_e164=number, language_code="en")
    db_session.commit()
    sid = "CA" + "2" * 32
    menu = voice(app, client, "/hotline/voice", number, sid, CallStatus="ringing")
    offered = keys_offered(menu)
    assert menu.find("Gather") is not None and "trykk 3" in offered and "trykk 4" not in offered, offered
    assert fresh(db_session).get(Call, sid).client_id is None


def test_a_call_from_a_landline_can_ask_to_be_called_back(app, client, centre, db_session):
    sid = "CA" + "2" * 32
    menu = voice(app, client, "/hotline/voice", LANDLINE, sid, CallStatus="ringing")
    menu = voice(app, client, menu.find("Gather").get("action"), LANDLINE, sid, Digits="1")  # Norsk
    menu = voice(app, client, menu.find("Gather").get("action"), LANDLINE, sid, Digits="3")  # someone to talk to
    # No one is on duty: a call back (1) or a message (2).
    voice(app, client, menu.find("Gather").get("action"), LANDLINE, sid, Digits="1")
    assert count(db_session, CallbackRequest) == 1


@pytest.mark.parametrize("number", [PREMIUM, "+4741000000"])
def test_a_call_back_is_never_put_through_to_such_a_number(app, client, make, db_session, number):
    caller = make.client(number)
    request = CallbackRequest(client_id=caller.id, language_code="nb", requested_via="voice", requested_at=NOW)
    db_session.add(request)
    db_session.commit()
    response = Phone(client, app, CENTRE).post(
        "/hotline/voice/bridge", {"CallSid": "CA" + "3" * 32, "From": CENTRE, "To": "+4798765432",
                                  "CallStatus": "in-progress"}, query=f"request={request.id}")
    root = ET.fromstring(response.get_data(as_text=True))
    assert [verb.tag for verb in root] == ["Say", "Hangup"] and root.find("Dial") is None
    assert "spesialnummer" in root.find("Say").text


def test_a_call_back_to_a_landline_is_put_through(app, client, make, db_session):
    caller = make.client(LANDLINE)
    request = CallbackRequest(client_id=caller.id, language_code="nb", requested_via="voice", requested_at=NOW)
    db_session.add(request)
    db_session.commit()
    response = Phone(client, app, CENTRE).post(
        "/hotline/voice/bridge", {"CallSid": "CA" + "4" * 32, "From": CENTRE, "To": "+4798765432",
                                  "CallStatus": "in-progress"}, query=f"request={request.id}")
    assert LANDLINE in [n.text for n in ET.fromstring(response.get_data(as_text=True)).iter("Number")]


# --- the outbox ----------------------------------------------------------------------------------

def test_no_text_or_reminder_call_is_ever_queued_for_such_a_number(app, make, db_session):
    numbers = [PREMIUM, TOLL_FREE, UAN, "+4741000000", TWILIO_FROM, DANISH, MOBILE]
    for number in numbers:
        make.client(number)
    db_session.commit()
    with app.app_context():
        session = app.extensions["linja.sessions"]()  # carries the app's settings, as every request's does
        clients = {c.phone_e164: c for c in session.scalars(select(Client))}
        queued = [number for number in numbers
                  if queue_text(session, clients[number], kind="reminder", template="reminder", now=NOW)]
        session.rollback()
        session.close()
    assert queued == [DANISH, MOBILE]


def test_centre_numbers_are_read_in_any_format_and_a_wrong_one_stops_start_up():
    from web import config

    assert config.from_env({"CENTRE_NUMBERS": "22 00 00 01, +47 410 00 000,0046 70 123 45 67"})["CENTRE_NUMBERS"] \
        == ("+4722000001", "+4741000000", "+46701234567")
    assert config.from_env({})["CENTRE_NUMBERS"] == ()
    with pytest.raises(config.ConfigError, match="CENTRE_NUMBERS"):
        config.from_env({"CENTRE_NUMBERS": "+47 22 00 00 01, resepsjonen"})


# --- the desk's call-back ------------------------------------------------------------------------

@pytest.mark.parametrize("own_phone, is_rung", [(PREMIUM, False), (TWILIO_FROM, False), (MOBILE, True)])
def test_linja_rings_the_receptionist_first_only_on_a_number_it_may_call(app, make, db_session, own_phone, is_rung):
    from scheduling.models import StaffRole
    from staff.passwords import hash_password
    from tests.staff.support import PASSWORD, sign_in, tokens

    make.counselor(role=StaffRole.receptionist, email="ingrid@linja.test", phone_e164=own_phone,
                   password_hash=hash_password(PASSWORD))
    caller = make.client(MOBILE)
    request = CallbackRequest(client_id=caller.id, language_code="nb", requested_via="voice", requested_at=NOW)
    db_session.add(request)
    db_session.commit()
    browser = app.test_client()
    sign_in(browser, "ingrid@linja.test")
    sent_with = tokens(browser.get("/staff/callbacks").get_data(as_text=True))
    page = browser.post(f"/staff/callbacks/{request.id}/call", data=sent_with, follow_redirects=True)
    rung = [text.to for text in app.extensions["linja.sender"].sent]
    assert rung == ([own_phone] if is_rung else [])
    assert ("Linja ringer ikke nummeret ditt" in page.get_data(as_text=True)) is not is_rung


@pytest.mark.parametrize("duty_phone", ["+4782000000", "+4780012345", TWILIO_FROM, "+4741000000", "+4722000000"],
                         ids=["premium", "toll-free", "TWILIO_FROM", "CENTRE_NUMBERS", "the number she rang"])
def test_talk_to_someone_never_dials_an_off_limits_duty_phone(app, transport, centre, make, db_session, clock,
                                                              duty_phone):
    from datetime import time

    from hotline.phone import call
    from hotline.prompts import render
    from scheduling.models import DutyShift, StaffRole
    from tests.conftest import oslo
    from tests.hotline.test_voice import phone

    receptionist = make.counselor(role=StaffRole.receptionist, phone_e164=duty_phone)
    db_session.add(DutyShift(staff_id=receptionist.id, weekday=0, starts=time(8), ends=time(16)))
    db_session.commit()
    clock.set(oslo(2026, 11, 23, 10, 0))
    line = call(phone(app, transport))
    line.press("2")
    heard = line.press("3")
    assert [h.text for h in heard if h.kind == "dial"] == []
    # No one she can be put through to: a call back or a message, as she chooses.
    assert heard[-1].text == render("v_nobody", "en") and line.waiting_for == "keys"
    assert line.press("2")[-1].kind == "record"
