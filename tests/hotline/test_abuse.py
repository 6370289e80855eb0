"""The line's abuse limits: a number that floods it gets few replies, numbers abroad get
none, and no webhook body may be bigger than Twilio's."""
from __future__ import annotations

import io
import re
import logging
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduling.clients import find_client
from scheduling.models import AppointmentStatus, CallbackRequest, Client, InboundMessage, ReplyKind, StaffRole
from scheduling.notifications import queue_text
from tests.conftest import NOW, fresh, page_and_statements
from tests.hotline.twilio_client import Phone
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

RESUME_NOTICE = "Vi svarer igjen kl. "


def test_a_number_that_floods_the_line_gets_no_more_replies_this_hour(app, phone, centre, clock, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 3
    answered = [phone.text("hei") for _ in range(3)]
    assert all(answered) and not any(RESUME_NOTICE in text for text in answered)
    # One short notice of when answers resume (an hour after the first of the three:
    # 08:00 in Oslo, so 09:00), in Norwegian and English as she has no language yet;
    # then silence.
    notice = phone.text("hei")
    assert notice == "Du har sendt mange meldinger. Vi svarer igjen kl. 09:00.\n" \
                     "You have sent many texts. We will answer again at 09:00."
    assert phone.text("hei") == "" and phone.text("1") == ""
    # Every text is still kept (by its MessageSid), answered or not.
    assert count(db_session, InboundMessage) == 6
    assert count(db_session, InboundMessage, InboundMessage.reply_kind == ReplyKind.notice) == 1

    clock.advance(timedelta(minutes=61))
    assert phone.text("hei") not in ("", notice)


def test_the_notice_names_the_minute_her_answers_resume_in_her_language(app, phone, centre, clock):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 3
    phone.text("hei")
    phone.text("2")  # English
    clock.advance(timedelta(minutes=12, seconds=30))
    phone.text("4")
    clock.advance(timedelta(minutes=20))
    # The window holds 08:00, 08:00 and 08:12:30; the first two leave it at 09:00.
    assert phone.text("hello") == "You have sent many texts. We will answer again at 09:00."
    assert phone.text("hello") == ""
    clock.advance(timedelta(minutes=28))  # 09:00:30: only 08:12:30 is left in the window
    assert "STOP" in phone.text("4") and "STOP" in phone.text("4")
    # Over once more: a new notice, for the new time (08:12:30 + 1 h, said as 09:13).
    assert phone.text("hello") == "You have sent many texts. We will answer again at 09:13."
    assert phone.text("hello") == ""


def test_a_retry_of_a_text_gets_the_answer_it_had_even_past_the_limit(app, phone, centre, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    first = phone.text("hei", sid="SM" + "1" * 32)
    phone.text("hei")
    notice = phone.text("hei", sid="SM" + "3" * 32)
    assert RESUME_NOTICE in notice
    assert phone.text("hei", sid="SM" + "4" * 32) == ""
    assert phone.text("hei", sid="SM" + "1" * 32) == first  # Twilio retrying the first text
    assert phone.text("hei", sid="SM" + "3" * 32) == notice
    assert phone.text("hei", sid="SM" + "4" * 32) == ""
    assert count(db_session, InboundMessage) == 4


def test_stop_past_her_limit_takes_effect_and_is_confirmed_once_an_hour(app, phone, centre, clock, db_session):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    phone.text("hei")
    phone.text("1")
    assert phone.text("STOP") == "Du får ingen flere meldinger fra oss. Send START for å få meldinger igjen."
    fresh(db_session)
    assert db_session.scalars(select(Client.is_opted_out)).one() is True
    assert phone.text("hei") == ""  # she asked for silence: not even the notice
    assert phone.text("STOP") == ""  # in effect still, but not confirmed twice in the hour
    clock.advance(timedelta(minutes=61))
    assert phone.text("STOP") != ""


@pytest.mark.parametrize("again", ["START", "YES"])
def test_start_or_yes_past_the_limit_brings_the_texts_back(app, phone, centre, db_session, again):
    # Twilio lifts its own block on START (or YES after STOP): Linja must not stay silent.
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    phone.text("hei")
    phone.text("1")
    assert phone.text("STOP") != ""  # confirmed: the hour's one confirmation
    assert phone.text(again) == ""  # takes effect, but the hour's confirmation is spent
    fresh(db_session)
    assert db_session.scalars(select(Client.is_opted_out)).one() is False


def test_help_past_the_limit_is_answered_once_an_hour(app, phone, centre):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 2
    phone.text("hei")
    phone.text("1")
    phone.text("hei")  # the notice
    assert "STOP" in phone.text("HJELP")
    assert phone.text("HJELP") == "" and phone.text("HELP") == ""


def test_the_limit_is_logged_without_her_number(app, phone, centre, caplog):
    app.config["REPLIES_PER_NUMBER_PER_HOUR"] = 1
    phone.text("hei")
    with caplog.at_level(logging.INFO):
        assert RESUME_NOTICE in phone.text("hei")
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


# --- the line's limit: against unknown numbers, not against the centre's callers ----------------

LINE_LIMIT = 5


def _flood(app, client, clock, *, numbers: int, first: int = 0, every: int = 1) -> list[str]:
    """Texts from ``numbers`` numbers the line has never seen, one each, ``every`` seconds apart."""
    answers = []
    for n in range(first, first + numbers):
        answers.append(Phone(client, app, f"+479300{n:04d}").text("hei"))
        clock.advance(timedelta(seconds=every))
    return answers


def test_a_flood_of_unknown_numbers_silences_only_unknown_numbers(app, client, centre, clock, make, db_session):
    app.config["REPLIES_PER_MINUTE"] = LINE_LIMIT
    # A woman with a booked time still to come, one in the middle of a dialogue, and one
    # whose dialogue went idle before the flood.
    booked = Phone(client, app, "+4791111111")
    caller = make.client(booked.number)
    make.appointment(centre["counselors"]["so"], centre["talk"], NOW + timedelta(days=2), client_id=caller.id)
    db_session.commit()
    idle = Phone(client, app, "+4792222222")
    idle.text("hei")
    clock.advance(timedelta(minutes=31))
    talking = Phone(client, app, "+4793333333")
    assert "1 Norsk" in talking.text("hei")

    answers = _flood(app, client, clock, numbers=LINE_LIMIT + 3)
    assert all(answers[:LINE_LIMIT - 1]) and answers[LINE_LIMIT - 1:] == [""] * 4

    assert "1 Book a time" in talking.text("2")  # English, mid-dialogue: answered
    assert "Reply with a number" in talking.text("hello")
    assert booked.text("2") != ""  # her appointment: answered
    assert idle.text("1") == ""  # idle past SMS_IDLE_MINUTES, no appointment: no standing
    assert Phone(client, app, "+4794444444").text("hei") == ""
    # Unanswered texts are kept, and nobody unknown became a caller by flooding.
    assert count(db_session, InboundMessage, InboundMessage.reply_kind == ReplyKind.over_line_limit) == 6
    assert count(db_session, Client) == 3 + LINE_LIMIT - 1


def test_a_cancelled_or_past_appointment_gives_no_standing(app, client, centre, clock, make, db_session):
    app.config["REPLIES_PER_MINUTE"] = LINE_LIMIT
    cancelled, past = Phone(client, app, "+4791111111"), Phone(client, app, "+4792222222")
    counselor = centre["counselors"]["so"]
    make.appointment(counselor, centre["talk"], NOW + timedelta(days=2), client_id=make.client(cancelled.number).id,
                     status=AppointmentStatus.cancelled)
    make.appointment(counselor, centre["talk"], NOW - timedelta(days=2), client_id=make.client(past.number).id)
    db_session.commit()
    _flood(app, client, clock, numbers=LINE_LIMIT)
    assert cancelled.text("2") == "" and past.text("2") == ""


def test_stop_past_the_lines_limit_takes_effect_and_is_confirmed_once_an_hour(app, client, centre, clock,
                                                                               db_session):
    app.config["REPLIES_PER_MINUTE"] = LINE_LIMIT
    _flood(app, client, clock, numbers=LINE_LIMIT)
    stranger = Phone(client, app, "+4794444444")
    assert stranger.text("hei") == ""
    assert stranger.text("STOP") != ""
    fresh(db_session)
    assert find_client(db_session, stranger.number).is_opted_out is True
    assert stranger.text("STOPP") == ""  # in effect, not confirmed again this hour
    assert stranger.text("START") == ""
    fresh(db_session)
    assert find_client(db_session, stranger.number).is_opted_out is False
    assert count(db_session, InboundMessage, InboundMessage.reply_kind == ReplyKind.keyword) == 1


def test_delete_past_the_lines_limit_is_confirmed_once_an_hour_though_nothing_of_her_is_left(
        app, client, centre, clock, make, db_session, sessions):
    app.config["REPLIES_PER_MINUTE"] = LINE_LIMIT
    her = Phone(client, app, "+4791111111")
    make.client(her.number)
    db_session.commit()
    _flood(app, client, clock, numbers=LINE_LIMIT)
    assert her.text("SLETT") == "Nummeret ditt og meldingene dine er slettet."
    assert find_client(fresh(db_session), her.number) is None
    assert her.text("SLETT") == ""  # an unknown number now, yet still counted
    assert her.text("STOP") == ""
    assert find_client(fresh(db_session), her.number).is_opted_out is True

    # The number's hash, all that is left of her, is forgotten after the hour.
    from scheduling.worker import housekeeping

    clock.advance(timedelta(minutes=61))
    with sessions.begin() as session:
        housekeeping(session, clock.now(), "test")
    assert count(db_session, InboundMessage, InboundMessage.sender_hash.is_not(None)) == 0
    assert count(db_session, InboundMessage, InboundMessage.reply_kind == ReplyKind.keyword) == 1


def test_the_desk_sees_when_the_line_was_over_its_limit_for_how_long_and_how_many(app, client, centre, clock,
                                                                                 make, db_session):
    app.config["REPLIES_PER_MINUTE"] = LINE_LIMIT
    # A text every 5 seconds from 08:00:00 to 08:02:55: each minute the first five are
    # answered and the rest refused, from 08:00:25 to 08:02:55, 21 in all: one episode.
    answers = _flood(app, client, clock, numbers=36, every=5)
    assert answers.count("") == 21
    clock.advance(timedelta(minutes=5))  # 08:08:00: the minute is clear
    _flood(app, client, clock, numbers=LINE_LIMIT + 1, first=100)  # one refused at 08:08:05
    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    db_session.commit()

    sign_in(client, "ingrid@linja.test")
    html = client.get("/staff/limits").get_data(as_text=True)
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html)
    assert rows == [
        ("man. 23. nov. 08:08", "08:08", "under 1 min", "1"),
        ("man. 23. nov. 08:00", "08:02", "2 min", "21"),
    ]
    assert "9300" not in html


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
    assert ">3<" in html  # three texts past her limit: the notice, then two left unanswered
    assert "91234567" not in html and "…78" not in html


def test_the_limits_page_reads_as_much_for_six_numbers_over_their_limit_as_for_one(app, client, make, db_session):

    def over_limit(n: int) -> None:
        caller = make.client(phone_e164=f"+479123450{n}")
        for k in range(3):
            db_session.add(InboundMessage(message_sid=f"SM{n:02d}{k:030d}", client_id=caller.id, received_at=NOW,
                                          reply_twiml="<Response/>", reply_kind=ReplyKind.over_own_limit))

    def statements() -> tuple[int, str]:
        html, count = page_and_statements(client, "/staff/limits")
        return count, html

    make.counselor(name="Ingrid", email="ingrid@linja.test", role=StaffRole.receptionist, password_hash=PASSWORD_HASH)
    over_limit(0)
    db_session.commit()
    sign_in(client, "ingrid@linja.test")
    one, _html = statements()
    for n in range(1, 6):
        over_limit(n)
    db_session.commit()
    six, html = statements()
    assert six == one
    # Each number by its last two digits only, with its three texts.
    assert all(f"…0{n}" in html for n in range(6)) and "91234500" not in html
