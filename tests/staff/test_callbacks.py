"""The call-back queue: a receptionist calls a caller back without showing her own number."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import create_app
from hotline.phone import SimulatedPhone, VoiceCall
from scheduling.models import CallbackRequest, CallbackStatus, Client, Staff, StaffRole
from staff.passwords import hash_password
from tests.conftest import fresh
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.hotline.test_voice import CheckedTransport
from tests.hotline.twilio_client import Phone
from tests.staff.support import PASSWORD, sign_in, tokens

CENTRE = "+4759440000"


@pytest.fixture
def desk_app(database_url, clock, sessions, fake_twilio):
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "CLOCK": clock,
        "PUBLIC_BASE_URL": "https://linja.test", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": CENTRE, "TWILIO_API_BASE": fake_twilio.api_base,
    })
    yield app
    app.extensions["linja.engine"].dispose()


@pytest.fixture
def staff(make, db_session):
    password_hash = hash_password(PASSWORD)
    make.counselor(role=StaffRole.receptionist, email="ingrid@linja.test", phone_e164="+4798765432",
                   password_hash=password_hash)
    make.counselor(email="amina@linja.test", password_hash=password_hash)
    db_session.commit()


def test_calling_back_rings_the_receptionist_then_puts_her_through(desk_app, fake_twilio, centre, staff,
                                                                  db_session):
    caller = Phone(desk_app.test_client(), desk_app, "+4791234567")
    caller.text("hi")
    caller.text("4")
    caller.text("3")  # call me back, in Somali

    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/callbacks").get_data(as_text=True)
    assert "somali" in page and "Soomaali" not in page and "…67" in page and "+4791234567" not in page
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    response = browser.post(f"/staff/callbacks/{request.id}/call", data={**tokens(page)})
    assert response.status_code == 302

    [placed] = fake_twilio.calls
    assert placed.to == "+4798765432" and placed.caller == CENTRE and placed.machine_detection is None
    assert placed.url == f"https://linja.test/hotline/voice/bridge?request={request.id}"
    # The receptionist answers: Linja dials the caller, showing the centre's number.
    receptionist = SimulatedPhone(CheckedTransport(desk_app), "+4798765432", "https://linja.test", AUTH_TOKEN,
                                  to=CENTRE)
    line = VoiceCall(receptionist, dial_outcome="completed")
    heard = line.answer(placed.url.removeprefix("https://linja.test"), placed.sid)
    assert heard[0].voice == "Polly.Liv" and "somali" in heard[0].text
    assert [h for h in heard if h.kind == "dial"][0].text == "+4791234567"

    page = browser.get("/staff/callbacks").get_data(as_text=True)
    browser.post(f"/staff/callbacks/{request.id}/done", data={**tokens(page)})
    assert fresh(db_session).get(CallbackRequest, request.id).status == CallbackStatus.done
    assert "Ingen venter" in browser.get("/staff/callbacks").get_data(as_text=True)


def test_a_call_back_that_could_not_ring_out_can_be_tried_again_with_back(desk_app, fake_twilio, staff, db_session,
                                                                          monkeypatch):
    """Twilio refuses the call: nothing was done, so the form, sent again (Back and "Ring"
    again), rings; it is not refused as "already sent"."""
    from scheduling.sending import SendError

    caller = Phone(desk_app.test_client(), desk_app, "+4791234567")
    for words in ("hi", "4", "3"):
        caller.text(words)
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/callbacks").get_data(as_text=True)
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    sender = desk_app.extensions["linja.sender"]
    ring = sender.call

    def refused(call):
        monkeypatch.setattr(sender, "call", ring)
        raise SendError("busy")

    monkeypatch.setattr(sender, "call", refused)
    first = browser.post(f"/staff/callbacks/{request.id}/call", data={**tokens(page)})
    assert first.status_code == 302 and fake_twilio.calls == []
    again = browser.post(f"/staff/callbacks/{request.id}/call", data={**tokens(page)})
    assert again.status_code == 302, again.get_data(as_text=True)[:2000]
    assert len(fake_twilio.calls) == 1


def test_the_call_button_waits_for_her_hours_and_a_forged_call_is_refused(desk_app, fake_twilio, centre, staff,
                                                                          db_session, clock):
    from datetime import time

    from scheduling.contact import WEEKDAYS, ContactTerms, change_terms
    from scheduling.models import Actor
    from tests.conftest import oslo

    caller = Phone(desk_app.test_client(), desk_app, "+4791234567")
    for words in ("hi", "4", "3"):
        caller.text(words)
    her = fresh(db_session).scalars(select(Client)).one()
    change_terms(db_session, her, ContactTerms(days=WEEKDAYS, starts=time(10), ends=time(14)),
                 now=oslo(2026, 11, 23, 8, 0), actor=Actor.staff)
    db_session.commit()
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/callbacks").get_data(as_text=True)  # Monday 08:00
    assert "kontakt: hverdager 10–14, SMS og telefon" in page
    assert "Kan ringes fra man. 23. nov. 10:00" in page and ">Ring<" not in page
    [request] = fresh(db_session).scalars(select(CallbackRequest)).all()
    forged = browser.post(f"/staff/callbacks/{request.id}/call", data={**tokens(page)})
    assert forged.status_code == 302 and fake_twilio.calls == []
    assert "Kan ringes fra" in browser.get("/staff/callbacks").get_data(as_text=True)

    clock.set(oslo(2026, 11, 23, 10, 0))
    browser = desk_app.test_client()  # two hours on, her session has ended: she signs in again
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/callbacks").get_data(as_text=True)
    assert ">Ring<" in page
    browser.post(f"/staff/callbacks/{request.id}/call", data={**tokens(page)})
    assert len(fake_twilio.calls) == 1


def test_only_the_desk_sees_the_call_back_queue(desk_app, staff):
    browser = desk_app.test_client()
    assert browser.get("/staff/callbacks").status_code == 302  # a stranger: to sign-in
    sign_in(browser, "amina@linja.test")
    assert browser.get("/staff/callbacks").status_code == 403


def test_voicemails_and_undelivered_texts_wait_for_the_desk(desk_app, centre, staff, db_session, now):
    from datetime import timedelta

    from scheduling.models import OutboxMessage, OutboxStatus, Voicemail

    caller = Phone(desk_app.test_client(), desk_app, "+4791234567")
    caller.text("hi")
    client_id = fresh(db_session).scalars(select(Client.id)).one()
    db_session.add(Voicemail(call_sid="CA1", client_id=client_id, language_code="so", recording_url="https://x/RE1",
                             duration_seconds=40, received_at=now))
    db_session.add(OutboxMessage(client_id=client_id, kind="reminder", template="reminder", params={},
                                 language_code="so", status=OutboxStatus.undelivered, error_code="30003",
                                 due_at=now, created_at=now, updated_at=now + timedelta(minutes=1)))
    db_session.commit()
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/messages").get_data(as_text=True)
    assert "40 s" in page and "…67" in page and "+4791234567" not in page
    # Twilio's error code in words the desk can act on.
    assert "Telefonen hennes var ikke å nå (avslått eller uten dekning)" in page
    voicemail_id = fresh(db_session).scalars(select(Voicemail.id)).one()
    browser.post(f"/staff/voicemails/{voicemail_id}/done", data={**tokens(page)})
    assert "Ingen nye talebeskjeder" in browser.get("/staff/messages").get_data(as_text=True)


# --- voicemails played through the app ---------------------------------------------------------


def _voicemail(db_session, now, recording_url: str, client_id=None):
    from scheduling.models import Voicemail

    voicemail = Voicemail(call_sid=f"CA{abs(hash(recording_url))}", client_id=client_id, language_code="so",
                          recording_url=recording_url, duration_seconds=12, received_at=now)
    db_session.add(voicemail)
    db_session.commit()
    return voicemail.id


def test_a_voicemail_plays_through_the_app_from_twilio(desk_app, fake_twilio, staff, db_session, now):
    audio = b"ID3" + bytes(range(256)) * 200  # binary, as an mp3 is
    voicemail_id = _voicemail(db_session, now, fake_twilio.add_recording(audio))
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/messages").get_data(as_text=True)
    assert f'<audio controls preload="none" src="/staff/voicemails/{voicemail_id}/audio">' in page
    assert "12 s" in page and "somali" in page

    response = browser.get(f"/staff/voicemails/{voicemail_id}/audio")
    assert response.status_code == 200
    assert response.content_type == "audio/mpeg" and response.headers["Cache-Control"] == "no-store"
    assert response.get_data() == audio
    assert fake_twilio.recording_fetches == 1


def test_a_recording_twilio_does_not_have_gets_a_kind_page(desk_app, fake_twilio, staff, db_session, now):
    gone = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'0' * 32}"
    other_account = f"https://api.twilio.com/2010-04-01/Accounts/AC{'2' * 32}/Recordings/RE{'0' * 32}"
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    response = browser.get(f"/staff/voicemails/{_voicemail(db_session, now, gone)}/audio")
    assert response.content_type.startswith("text/html")
    assert "Opptaket er ikke tilgjengelig" in response.get_data(as_text=True)
    assert fake_twilio.recording_fetches == 1
    # Another account's recording is never asked for with this account's credentials.
    response = browser.get(f"/staff/voicemails/{_voicemail(db_session, now, other_account)}/audio")
    assert "Opptaket er ikke tilgjengelig" in response.get_data(as_text=True) and fake_twilio.recording_fetches == 1
    assert browser.get("/staff/voicemails/99999/audio").status_code == 404


def test_without_twilio_the_desk_is_told_recordings_cannot_be_played(client, staff, db_session, now):
    # The demo's simulator leaves a recording address that points nowhere.
    voicemail_id = _voicemail(db_session, now, "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1")
    sign_in(client, "ingrid@linja.test")
    page = client.get("/staff/messages").get_data(as_text=True)
    assert "Opptakene er ikke tilgjengelige her" in page and "<audio" not in page
    response = client.get(f"/staff/voicemails/{voicemail_id}/audio")
    assert response.status_code == 200 and "Opptaket er ikke tilgjengelig" in response.get_data(as_text=True)


def test_only_the_desk_hears_voicemails(desk_app, fake_twilio, staff, db_session, now):
    voicemail_id = _voicemail(db_session, now, fake_twilio.add_recording(b"ID3audio"))
    browser = desk_app.test_client()
    assert browser.get(f"/staff/voicemails/{voicemail_id}/audio").status_code == 302
    sign_in(browser, "amina@linja.test")
    assert browser.get(f"/staff/voicemails/{voicemail_id}/audio").status_code == 403
    assert fake_twilio.recording_fetches == 0


def failed_text(db_session, make, now, *, language: str, error_code: str) -> int:
    """A reminder to her that did not arrive; returns her client id."""
    from scheduling.models import OutboxMessage, OutboxStatus

    caller = make.client(phone_e164="+4791234567", language_code=language)
    db_session.add(OutboxMessage(client_id=caller.id, kind="reminder", template="reminder", params={},
                                 language_code=language, status=OutboxStatus.failed, error_code=error_code,
                                 due_at=now, created_at=now, updated_at=now))
    db_session.commit()
    return caller.id


def test_a_text_that_did_not_arrive_leads_to_the_caller(desk_app, make, staff, db_session, now):
    client_id = failed_text(db_session, make, now, language="ar", error_code="30006")
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/messages").get_data(as_text=True)
    assert "Påminnelse" in page and "arabisk" in page and "+4791234567" not in page
    link = f"/staff/search?client={client_id}"
    assert link in page
    assert "Innringer +47 91 23 45 67" in browser.get(link).get_data(as_text=True)


@pytest.mark.parametrize("code, locale, words", [
    ("30006", "nb", "Nummeret tar ikke imot SMS (fasttelefon eller utilgjengelig teleselskap)"),
    ("30006", "en", "The number does not take texts (a landline or an unreachable carrier)"),
    ("21610", "nb", "Hun har sagt STOPP til SMS"),
    ("63999", "nb", "Twilio-feil 63999"),
    ("63999", "en", "Twilio error 63999"),
])
def test_why_a_text_did_not_arrive_is_said_in_words(desk_app, make, staff, db_session, now, code, locale, words):
    failed_text(db_session, make, now, language="so", error_code=code)
    fresh(db_session).scalars(select(Staff).where(Staff.email == "ingrid@linja.test")).one().ui_locale = locale
    db_session.commit()
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/messages").get_data(as_text=True)
    assert f"<td>{words}</td>" in page


def test_a_text_whose_fate_twilio_could_not_tell_is_named_so_for_the_desk(desk_app, make, staff, db_session, now):
    failed_text(db_session, make, now, language="so", error_code="unknown")
    browser = desk_app.test_client()
    sign_in(browser, "ingrid@linja.test")
    page = browser.get("/staff/messages").get_data(as_text=True)
    assert "Uvisst om den kom fram: Twilio svarte ikke" in page
