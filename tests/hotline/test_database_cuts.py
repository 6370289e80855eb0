"""A cut database connection never leaves her unanswered: every webhook answers TwiML, a
request that changed nothing yet is tried once more on a fresh connection, and when the
database stays away she is asked kindly, in her language where it is known, to try
again; Twilio's retry of the same text is then answered as if nothing had happened."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduling.models import InboundMessage, OutboxMessage, OutboxStatus, PromptRecording
from scheduling.notifications import failed_texts
from tests.conftest import NOW, fresh
from tests.database_cuts import cuts, terminate_app_connections  # noqa: F401  (a fixture)
from tests.hotline.twilio_client import Phone, messages

NUMBER = "+4791234567"
CENTRE = "+4722000000"
TRY_AGAIN = {
    None: "Beklager, noe gikk galt. Prøv igjen om litt.\nSorry, something went wrong. Please try again in a moment.",
    "en": "Sorry, something went wrong. Please try again in a moment.",
}
SID_LOOK_UP = "inbound_messages.message_sid ="  # the MessageSid look-up at the top of the SMS webhook


@pytest.fixture
def phone(app, client):
    return Phone(client, app, NUMBER, to=CENTRE)


def sms(phone, body: str, sid: str):
    """Her text as Twilio sends it; the status and the texts of the answer."""
    response = phone.post("/hotline/sms", phone.sms_params(body, sid))
    xml = response.get_data(as_text=True)
    return response.status_code, messages(xml) if response.status_code == 200 else xml


def recorded(db_session) -> int:
    fresh(db_session)
    return db_session.scalar(select(func.count()).select_from(InboundMessage))


# --- SMS -----------------------------------------------------------------------------------------

def test_a_connection_cut_at_the_message_sid_look_up_is_tried_again_and_she_is_answered(
        phone, centre, cuts, db_session):
    cuts.on(SID_LOOK_UP)
    status, texts = sms(phone, "hei", "SM" + "1" * 32)
    assert cuts.made == 1
    assert status == 200 and len(texts) == 1 and "English" in texts[0]  # the language menu
    assert recorded(db_session) == 1


def test_a_database_that_stays_away_gets_her_a_kind_try_again_and_twilios_retry_is_answered(
        phone, centre, cuts, db_session):
    sid = "SM" + "2" * 32
    cuts.always(SID_LOOK_UP)
    status, texts = sms(phone, "hei", sid)
    assert status == 200 and texts == [TRY_AGAIN[None]]
    assert cuts.made >= 2  # tried once more on a fresh connection before giving up
    cuts.stop()
    assert recorded(db_session) == 0  # nothing was kept: the same text is handled anew
    status, texts = sms(phone, "hei", sid)
    assert status == 200 and "English" in texts[0]
    assert sms(phone, "hei", sid) == (200, texts)  # and from then on it is answered once


def test_a_cut_in_the_middle_of_her_dialogue_is_retried_and_a_lasting_one_answered_in_her_language(
        phone, centre, cuts, db_session):
    phone.text("hei")
    phone.text("2")  # English
    cuts.on("INSERT INTO inbound_messages")  # her text recorded with its answer
    status, texts = sms(phone, "2", "SM" + "3" * 32)
    assert cuts.made == 1 and status == 200
    assert texts and texts[0] != TRY_AGAIN["en"]  # her answer, as if nothing had happened

    sid = "SM" + "4" * 32
    cuts.always("INSERT INTO inbound_messages")
    assert sms(phone, "0", sid) == (200, [TRY_AGAIN["en"]])
    cuts.stop()
    status, texts = sms(phone, "0", sid)
    assert status == 200 and texts != [TRY_AGAIN["en"]] and "English" in texts[0]  # the language menu


def test_a_cut_status_callback_is_recorded_on_a_fresh_connection(phone, make, cuts, db_session, now):
    client = make.client(NUMBER)
    db_session.add(OutboxMessage(client_id=client.id, kind="reminder", template="reminder", params={},
                                 language_code="nb", status=OutboxStatus.sent, due_at=now, attempts=1,
                                 provider_sid="SM" + "5" * 32, created_at=now, updated_at=now, sent_at=now))
    db_session.commit()
    cuts.on("FROM outbox_messages")
    response = phone.post("/hotline/sms/status", {"MessageSid": "SM" + "5" * 32, "MessageStatus": "undelivered",
                                                 "ErrorCode": "30003"})
    assert cuts.made == 1 and response.status_code < 500
    fresh(db_session)
    assert [m.provider_sid for m in failed_texts(db_session)] == ["SM" + "5" * 32]  # the desk sees it


def test_a_status_callback_with_no_database_is_no_server_error(phone, cuts):
    cuts.always("FROM outbox_messages")
    response = phone.post("/hotline/sms/status", {"MessageSid": "SM" + "6" * 32, "MessageStatus": "delivered"})
    assert response.status_code == 200
    assert ET.fromstring(response.get_data(as_text=True)).tag == "Response"


# --- voice ---------------------------------------------------------------------------------------

def voice(phone, path: str, sid: str, **params):
    response = phone.post(path, {"CallSid": sid, "From": NUMBER, "To": CENTRE, "CallStatus": "in-progress",
                                 **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.get_data(as_text=True))


def next_step(root) -> str:
    """Where her next key goes: the action of the menu she hears."""
    return root.find("Gather").get("action")


def said(root) -> list[tuple[str, str]]:
    return [(say.get("language"), say.text) for say in root.iter("Say")]


def test_a_cut_voice_step_is_retried_and_a_lasting_cut_says_try_again_in_her_language(phone, centre, cuts):
    sid = "CA" + "1" * 32
    languages = voice(phone, "/hotline/voice", sid, CallStatus="ringing")
    main = voice(phone, next_step(languages), sid, Digits="2")  # English
    assert main.find("Gather") is not None

    cuts.on("FROM calls")
    again = voice(phone, next_step(main), sid, Digits="9")  # 9: the main menu once more
    assert cuts.made == 1
    assert said(again) == said(main)  # she heard her menu, not an apology

    cuts.always("FROM calls")
    sorry = voice(phone, next_step(again), sid, Digits="9")
    assert said(sorry) == [("en-GB", TRY_AGAIN["en"])]
    assert [verb.tag for verb in sorry] == ["Say", "Hangup"]
    cuts.stop()
    assert said(voice(phone, next_step(again), sid, Digits="9")) == said(main)


def test_a_first_call_with_no_database_hears_try_again_in_norwegian_and_english(phone, centre, cuts):
    cuts.always("FROM ")
    root = voice(phone, "/hotline/voice", "CA" + "2" * 32, CallStatus="ringing")
    assert [text for _, text in said(root)] == TRY_AGAIN[None].split("\n")
    for step in ("status", "after-dial", "recorded", "reminder", "bridge"):
        root = voice(phone, f"/hotline/voice/{step}", "CA" + "2" * 32, CallStatus="completed")
        assert root.tag == "Response"


def test_a_recording_is_read_again_on_a_fresh_connection_and_never_a_server_error(client, db_session, cuts):
    db_session.add(PromptRecording(prompt_key="v_main_menu", language_code="so", token="t" * 40,
                                   content_type="audio/mpeg", audio=b"ID3 audio", uploaded_at=NOW))
    db_session.commit()
    cuts.on("FROM prompt_recordings")
    response = client.get("/hotline/recordings/" + "t" * 40)
    assert cuts.made == 1 and response.status_code == 200 and response.data == b"ID3 audio"

    cuts.always("FROM prompt_recordings")
    response = client.get("/hotline/recordings/" + "t" * 40)
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"  # Twilio keeps no copy of the failure


# --- between requests ----------------------------------------------------------------------------

def test_after_the_database_restarts_between_texts_she_is_answered(phone, centre, engine, database_url, clock):
    if not database_url.startswith("postgresql"):
        pytest.skip("terminating backends is PostgreSQL's")
    phone.text("hei")
    clock.advance(timedelta(seconds=30))
    assert terminate_app_connections(engine) >= 1  # the app's pooled connection among them
    assert "1 Book a time" in phone.text("2")  # English: her main menu, not an apology


@pytest.mark.parametrize("known", [False, True])
@pytest.mark.parametrize("cut", ["AS one", "INSERT INTO calls"])  # the first look; the call's row
def test_a_cut_at_a_new_calls_first_look_or_its_row_is_tried_again_and_she_hears_her_menu(
        phone, centre, cuts, make, db_session, known, cut):
    from scheduling.models import Call, Client

    if known:
        make.client(phone_e164=NUMBER, language_code="en")
        db_session.commit()
    cuts.on(cut)
    sid = "CA" + "3" * 32
    root = voice(phone, "/hotline/voice", sid, CallStatus="ringing")
    assert cuts.made == 1
    assert root.find("Gather") is not None, ET.tostring(root)
    if known:  # a returning caller goes straight to her main menu, in her language
        assert all(language == "en-GB" for language, _ in said(root)), said(root)
    session = fresh(db_session)
    [call] = session.scalars(select(Call)).all()
    assert call.client_id == session.scalars(select(Client.id)).one()
