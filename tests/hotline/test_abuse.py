"""The line's abuse limits: a number that floods it gets few replies, numbers abroad get
none, and no webhook body may be bigger than Twilio's."""
from __future__ import annotations

import io
import logging
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduling.clients import find_client
from scheduling.models import CallbackRequest, Client, InboundMessage, StaffRole
from scheduling.notifications import queue_text
from tests.conftest import NOW, fresh
from tests.hotline.twilio_client import Phone, sign
from tests.staff.support import PASSWORD_HASH, sign_in

NUMBER = "+4791234567"
ABROAD = "+447700900123"  # a British mobile number
SWEDISH = "+46701234567"


@pytest.fixture
def phone(app, client):
    return Phone(client, app, NUMBER)


def count(db_session, model, *where) -> int:
    fresh(db_session)
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


# --- replies per number --------------------------------------------------------------------------

def test_a_number_that_floods_the_line_gets_no_more_replies_this_hour(app, phone, centre, clock, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 3
    answered = [phone.text("hei") for _ in range(3)]
    assert all(answered)
    assert phone.text("hei") == "" and phone.text("1") == ""
    # Every text is still kept (by its MessageSid), answered or not.
    assert count(db_session, InboundMessage) == 5

    clock.advance(timedelta(minutes=61))
    assert phone.text("hei") != ""


def test_a_retry_of_a_text_gets_the_answer_it_had_even_past_the_limit(app, phone, centre, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    first = phone.text("hei", sid="SM" + "1" * 32)
    phone.text("hei")
    assert phone.text("hei", sid="SM" + "3" * 32) == ""
    assert phone.text("hei", sid="SM" + "1" * 32) == first  # Twilio retrying the first text
    assert phone.text("hei", sid="SM" + "3" * 32) == ""
    assert count(db_session, InboundMessage) == 3


def test_stop_past_the_limit_still_stops_the_texts(app, phone, centre, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    phone.text("hei")
    phone.text("1")
    assert phone.text("STOP") == ""
    fresh(db_session)
    assert db_session.scalars(select(Client.is_opted_out)).one() is True


@pytest.mark.parametrize("again", ["START", "YES"])
def test_start_or_yes_past_the_limit_brings_the_texts_back(app, phone, centre, db_session, again):
    # Twilio lifts its own block on START (or YES after STOP): Linja must not stay silent.
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    phone.text("hei")
    phone.text("1")
    assert phone.text("STOP") == ""
    assert phone.text(again) == ""
    fresh(db_session)
    assert db_session.scalars(select(Client.is_opted_out)).one() is False


def test_the_limit_is_logged_without_her_number(app, phone, centre, caplog):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 1
    phone.text("hei")
    with caplog.at_level(logging.INFO):
        assert phone.text("hei") == ""
    warnings = [r for r in caplog.records if r.name == "hotline.abuse"]
    assert warnings, "the limit left no trace in the log"
    assert not any("91234567" in r.getMessage() for r in caplog.records)


def test_the_line_as_a_whole_answers_at_most_so_many_texts_a_minute(app, client, centre, clock):
    app.config["REPLIES_PER_MINUTE"] = 2
    phones = [Phone(client, app, f"+479123456{n}") for n in range(3)]
    assert phones[0].text("hei") and phones[1].text("hei")
    assert phones[2].text("hei") == ""
    clock.advance(timedelta(seconds=61))
    assert phones[2].text("hei") != ""


# --- countries -----------------------------------------------------------------------------------

def test_a_text_from_abroad_gets_no_reply_and_leaves_no_trace(app, client, centre, db_session):
    assert Phone(client, app, ABROAD).text("hello") == ""
    assert count(db_session, Client) == 0 and count(db_session, InboundMessage) == 0


def test_a_text_from_a_neighbouring_country_is_answered(app, client, centre):
    assert Phone(client, app, SWEDISH).text("hello") != ""


def test_the_countries_are_configurable(app, client, centre):
    app.config["ALLOWED_COUNTRIES"] = ("NO",)
    assert Phone(client, app, SWEDISH).text("hello") == ""
    assert Phone(client, app, NUMBER).text("hello") != ""


def test_no_text_is_queued_to_a_number_abroad(db_session, make):
    at_home, abroad = make.client(NUMBER), make.client(ABROAD)
    assert queue_text(db_session, at_home, kind="reminder", template="reminder", now=NOW) is not None
    assert queue_text(db_session, abroad, kind="reminder", template="reminder", now=NOW) is None


def test_the_apps_sessions_carry_its_countries_to_the_outbox(database_url, clock, sessions):
    from app import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "CLOCK": clock, "TESTING": True,
                      "ALLOWED_COUNTRIES": ("NO",)})
    session = app.extensions["linja.sessions"]()
    try:
        swede = Client(phone_e164=SWEDISH, is_opted_out=False, created_at=NOW)
        norwegian = Client(phone_e164=NUMBER, is_opted_out=False, created_at=NOW)
        session.add_all([swede, norwegian])
        session.flush()
        assert queue_text(session, swede, kind="change", template="moved", now=NOW) is None
        assert queue_text(session, norwegian, kind="change", template="moved", now=NOW) is not None
    finally:
        session.rollback()
        session.close()
        app.extensions["linja.engine"].dispose()


def test_a_call_back_is_not_put_through_to_a_number_abroad(app, phone, make, db_session):
    caller = make.client(ABROAD)
    request = CallbackRequest(client_id=caller.id, language_code="en", requested_via="voice", requested_at=NOW)
    db_session.add(request)
    db_session.commit()
    params = {"CallSid": "CA" + "7" * 32, "From": "+4722000000", "To": "+4798765432", "CallStatus": "in-progress"}
    response = phone.post("/hotline/voice/bridge", params, query=f"request={request.id}")
    root = ET.fromstring(response.get_data(as_text=True))
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert "+44" not in response.get_data(as_text=True)


def test_a_call_back_at_home_is_put_through(app, phone, make, db_session):
    caller = make.client(NUMBER)
    request = CallbackRequest(client_id=caller.id, language_code="nb", requested_via="voice", requested_at=NOW)
    db_session.add(request)
    db_session.commit()
    params = {"CallSid": "CA" + "8" * 32, "From": "+4722000000", "To": "+4798765432", "CallStatus": "in-progress"}
    response = phone.post("/hotline/voice/bridge", params, query=f"request={request.id}")
    assert NUMBER in [n.text for n in ET.fromstring(response.get_data(as_text=True)).iter("Number")]


# --- calls ---------------------------------------------------------------------------------------

def _ring(phone, sid: str):
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone.number, "To": phone.to,
              "CallStatus": "ringing", "Direction": "inbound"}
    return ET.fromstring(phone.post("/hotline/voice", params).get_data(as_text=True))


def test_a_number_that_keeps_calling_hears_busy_and_costs_nothing(app, phone, centre, clock):
    app.config["CALLS_PER_NUMBER_PER_HOUR"] = 2
    first, second = _ring(phone, "CA" + "1" * 32), _ring(phone, "CA" + "2" * 32)
    assert first.find("Gather") is not None and second.find("Gather") is not None
    third = _ring(phone, "CA" + "3" * 32)
    assert [(verb.tag, verb.get("reason")) for verb in third] == [("Reject", "busy")]
    # Twilio asking again about a call already answered is answered as before.
    assert _ring(phone, "CA" + "2" * 32).find("Gather") is not None
    clock.advance(timedelta(minutes=61))
    assert _ring(phone, "CA" + "4" * 32).find("Gather") is not None


def test_a_call_from_abroad_is_still_answered(app, client, centre):
    assert _ring(Phone(client, app, ABROAD), "CA" + "5" * 32).find("Gather") is not None


# --- body size -----------------------------------------------------------------------------------

def test_a_body_bigger_than_twilio_sends_is_refused_before_it_is_read(app, phone, db_session):
    params = phone.sms_params("x" * (70 * 1024))
    response = phone.post("/hotline/sms", params)
    assert response.status_code == 413
    assert count(db_session, InboundMessage) == 0 and count(db_session, Client) == 0


def test_the_longest_text_twilio_sends_is_accepted(phone, centre):
    # 1600 characters of Arabic: about 19 KiB once percent-encoded.
    response = phone.post("/hotline/sms", phone.sms_params("ب" * 1600, FromCity="OSLO", MediaUrl0="https://x/" + "m" * 500))
    assert response.status_code == 200


def test_a_body_of_no_stated_length_is_cut_off_at_the_limit(app, client):
    # A chunked body, as a server (gunicorn) hands it on: terminated, of no stated length.
    body = b"Body=" + b"x" * (70 * 1024)
    response = client.post("/hotline/sms", input_stream=io.BytesIO(body),
                           content_type="application/x-www-form-urlencoded",
                           headers={"Transfer-Encoding": "chunked", "X-Twilio-Signature": "x"},
                           environ_base={"wsgi.input_terminated": True})
    assert response.status_code == 413


def test_staff_pages_keep_the_apps_own_limit(app):
    # The hotline's cap is per request: the admin's 5 MB recording uploads are not touched.
    assert app.config.get("MAX_CONTENT_LENGTH") is None


# --- the desk sees it ----------------------------------------------------------------------------

def test_the_desk_sees_numbers_over_the_limit_by_their_last_two_digits(app, client, phone, centre, make, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    quiet = Phone(client, app, "+4792345678")
    quiet.text("hei")
    for _ in range(5):
        phone.text("hei")
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    db_session.commit()
    caller_id = find_client(fresh(db_session), NUMBER).id

    sign_in(client, "ingrid@linja.test")
    page = client.get("/staff/limits")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "…67" in html and f"/staff/search?client={caller_id}" in html
    assert ">3<" in html  # three texts left unanswered
    assert "91234567" not in html and "…78" not in html
