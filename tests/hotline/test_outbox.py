"""Texts leave through the outbox: the real twilio client against a fake Twilio on 127.0.0.1."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.messaging import ConsoleSender
from scheduling.booking import book_appointment, cancel_appointment
from scheduling.models import Actor, BookedVia, Client, OutboxMessage, OutboxStatus
from scheduling.notifications import failed_texts, queue_text
from scheduling.sending import claim_due
from tests.conftest import fresh, oslo
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.hotline.test_sms_flows import say
from tests.hotline.twilio_client import Phone, sign
from web.worker import make_worker

NUMBER = "+4791234567"
START = oslo(2026, 11, 26, 13, 0)  # Thursday; now is Monday 08:00


@pytest.fixture
def booked(db_session, make, now, rules):
    """Her appointment on Thursday 13:00, booked by text on Monday morning, in Somali."""
    make.opening_hours()
    service = make.service()
    counselor = make.counselor(languages=["so"], services=[service])
    caller = make.client(NUMBER, language_code="so")
    appointment = book_appointment(db_session, service_id=service.id, counselor_id=counselor.id, start_at=START,
                                   now=now, booked_via=BookedVia.sms, client=caller, rules=rules).appointment
    db_session.commit()
    return appointment


def statuses(db_session):
    return [m.status for m in fresh(db_session).scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_reminders_are_sent_once_each_when_due_in_her_language(twilio_app, fake_twilio, booked, clock, db_session):
    worker = make_worker(twilio_app)
    worker.tick()
    assert fake_twilio.messages == []  # nothing due yet

    clock.set(START - timedelta(hours=24))
    worker.tick()
    worker.tick()  # a second tick sends nothing twice
    [first] = fake_twilio.messages
    assert first.to == NUMBER and first.sender == "+4759440000"
    assert first.body == say("reminder", "so", when=START)
    assert first.status_callback == "https://linja.test/hotline/sms/status"
    assert first.validity_period == 36000  # Twilio keeps a text at most 10 h, less than the 24 h left

    clock.set(START - timedelta(hours=2))
    worker.tick()
    assert [m.body for m in fake_twilio.messages] == [say("reminder", "so", when=START)] * 2
    assert fake_twilio.messages[1].validity_period == 2 * 3600
    assert statuses(db_session) == [OutboxStatus.queued, OutboxStatus.queued]


def test_a_reminder_is_not_sent_after_stop(twilio_app, client, fake_twilio, booked, clock, db_session):
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    phone.text("STOP")
    clock.set(START - timedelta(hours=2))
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == []
    assert statuses(db_session) == [OutboxStatus.withdrawn, OutboxStatus.withdrawn]


def test_no_reminder_for_a_cancelled_or_past_appointment(twilio_app, fake_twilio, booked, clock, db_session, now):
    cancel_appointment(db_session, booked, now=now, actor=Actor.caller)
    db_session.commit()
    clock.set(START + timedelta(hours=1))
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == []


def test_a_reminder_late_for_its_appointment_is_dropped(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START + timedelta(minutes=1))  # the worker was down all day
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == []
    assert {m.error_code for m in fresh(db_session).scalars(select(OutboxMessage))} == {"too-late"}


def test_busy_and_broken_twilio_is_tried_again_later(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START - timedelta(hours=24))
    fake_twilio.fail_next(429)
    worker = make_worker(twilio_app)
    worker.tick()
    assert fake_twilio.messages == [] and fake_twilio.requests == 1
    clock.advance(timedelta(seconds=31))
    fake_twilio.fail_next(500)
    worker.tick()
    assert fake_twilio.messages == [] and fake_twilio.requests == 2
    clock.advance(timedelta(seconds=61))  # the wait doubles
    worker.tick()
    assert len(fake_twilio.messages) == 1
    message = fresh(db_session).scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    assert message.status == OutboxStatus.queued and message.attempts == 3


def test_an_invalid_number_is_not_tried_again(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START - timedelta(hours=24))
    fake_twilio.fail_next(400, code=21211)
    worker = make_worker(twilio_app)
    worker.tick()
    clock.advance(timedelta(hours=1))
    worker.tick()
    assert fake_twilio.requests == 1
    message = fresh(db_session).scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    assert (message.status, message.error_code) == (OutboxStatus.failed, "21211")
    assert [m.id for m in failed_texts(db_session)] == [message.id]  # the receptionists see it


def test_unsubscribed_at_twilio_counts_as_stop(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START - timedelta(hours=24))
    fake_twilio.fail_next(400, code=21610)
    make_worker(twilio_app).tick()
    assert fresh(db_session).scalars(select(Client.is_opted_out)).one() is True


def test_after_the_last_try_the_text_is_marked_failed(twilio_app, fake_twilio, booked, clock, db_session):
    twilio_app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    clock.set(START - timedelta(hours=24))
    fake_twilio.fail_next(500, times=5)
    worker = make_worker(twilio_app)
    worker.tick()
    clock.advance(timedelta(minutes=2))
    worker.tick()
    clock.advance(timedelta(minutes=5))
    worker.tick()
    assert fake_twilio.requests == 2
    assert statuses(db_session)[0] == OutboxStatus.failed


def test_a_worker_whose_lease_ran_out_cannot_complete_a_row_claimed_since(sessions, db_session, make, now):
    caller = make.client()
    message = queue_text(db_session, caller, kind="notice", template="callback_requested", now=now)
    db_session.commit()
    with sessions() as session, session.begin():
        assert claim_due(session, now, limit=10, lease=timedelta(seconds=60), token="worker-a") == [message.id]
    with sessions() as session, session.begin():
        assert claim_due(session, now + timedelta(seconds=30), limit=10, lease=timedelta(seconds=60), token="b") == []
    with sessions() as session, session.begin():
        assert claim_due(session, now + timedelta(seconds=61), limit=10, lease=timedelta(seconds=60), token="b") == [message.id]
    from scheduling.sending import Handed, Outgoing, OutboxSender, Planned, SendingRules

    # Worker a sent it after all; its result must not overwrite the row b now holds.
    late = OutboxSender(sessions, ConsoleSender(), lambda *a: "words", SendingRules(per_second=0), lambda: now)
    sent = Planned(message.id, "notice", 1, Outgoing(caller.phone_e164, "words"), "words")
    late._record(Handed(sent, "SM-late"), "worker-a")
    row = fresh(db_session).get(OutboxMessage, message.id)
    assert (row.status, row.claim_token, row.attempts, row.provider_sid) == (OutboxStatus.sending, "b", 2, None)


def status_callback(app, sid, status, error_code=None):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID}
    if error_code:
        params["ErrorCode"] = error_code
    url = "https://linja.test/hotline/sms/status"
    return app.test_client().post("/hotline/sms/status", data=params,
                                  headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, params)})


def test_status_callbacks_move_a_text_forward_only(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    sid = fake_twilio.messages[0].sid
    assert status_callback(twilio_app, sid, "sent").status_code == 204
    assert status_callback(twilio_app, sid, "delivered").status_code == 204
    assert status_callback(twilio_app, sid, "sent").status_code == 204  # late, out of order
    assert statuses(db_session)[0] == OutboxStatus.delivered
    unsigned = twilio_app.test_client().post("/hotline/sms/status", data={"MessageSid": sid, "MessageStatus": "failed"})
    assert unsigned.status_code == 403
    assert status_callback(twilio_app, "SMunknown", "delivered").status_code == 204


def test_an_undelivered_reminder_lands_in_the_receptionists_queue(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    status_callback(twilio_app, fake_twilio.messages[0].sid, "undelivered", "30003")
    [failed] = failed_texts(fresh(db_session))
    assert (failed.kind, failed.status, failed.error_code) == ("reminder", OutboxStatus.undelivered, "30003")


def test_her_answer_to_a_reminder(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    assert phone.text("1") == say("appointment_confirmed", "so", when=START)
    clock.set(START - timedelta(hours=2))
    make_worker(twilio_app).tick()
    assert phone.text("2") == say("confirm_cancel", "so", when=START)
    assert phone.text("haa") == say("cancelled", "so", when=START)


def test_without_twilio_texts_go_to_the_console_sender(app, booked, clock):
    sender = app.extensions["linja.sender"]
    assert isinstance(sender, ConsoleSender)
    clock.set(START - timedelta(hours=24))
    make_worker(app).tick()
    [text] = sender.texts_to(NUMBER)
    assert text.body == say("reminder", "so", when=START)



# --- reminders as a phone call -----------------------------------------------------------------


def answer_reminder_call(app, placed, answered_by="human"):
    from hotline.phone import SimulatedPhone, VoiceCall
    from tests.hotline.test_voice import CheckedTransport

    # Every answer is checked as TwiML Twilio would accept.
    phone = SimulatedPhone(CheckedTransport(app), NUMBER, app.config["PUBLIC_BASE_URL"], AUTH_TOKEN, to="+4759440000")
    voice_call = VoiceCall(phone)
    path = placed.url.removeprefix(app.config["PUBLIC_BASE_URL"])
    voice_call.answer(path, placed.sid, answered_by)
    return voice_call


def call_status(app, sid, status, answered_by=None):
    params = {"CallSid": sid, "CallStatus": status, "AccountSid": ACCOUNT_SID}
    if answered_by:
        params["AnsweredBy"] = answered_by
    url = "https://linja.test/hotline/voice/status"
    response = app.test_client().post("/hotline/voice/status", data=params,
                                      headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, params)})
    assert response.status_code == 200


@pytest.fixture
def wants_calls(db_session, booked):
    client = db_session.get(Client, booked.client_id)
    client.wants_reminder_calls, client.language_code = True, "ar"
    db_session.commit()
    return booked


def test_a_reminder_can_come_as_a_phone_call_in_her_language(twilio_app, fake_twilio, wants_calls, clock,
                                                             db_session):
    from hotline.prompts import render, spoken_when
    from tests.conftest import OSLO

    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    assert fake_twilio.messages == []  # no text
    [placed] = fake_twilio.calls
    assert placed.to == NUMBER and placed.caller == "+4759440000" and placed.machine_detection == "Enable"
    assert placed.url.startswith("https://linja.test/hotline/voice/reminder?message=")
    assert placed.status_callback == "https://linja.test/hotline/voice/status"

    line = answer_reminder_call(twilio_app, placed)
    expected = render("v_reminder_call", "ar", when=spoken_when(START, "ar", OSLO))
    assert line.heard[0].text == expected and line.heard[0].voice == "Polly.Zeina"
    assert line.press("1")[0].text == render("v_confirmed", "ar")
    call_status(twilio_app, placed.sid, "completed")
    assert statuses(db_session)[0] == OutboxStatus.delivered


def test_a_reminder_call_in_a_language_a_call_cannot_be_heard_in_yet_comes_as_a_text(
        twilio_app, fake_twilio, wants_calls, clock, db_session):
    # She asked for reminder calls (by text, in Tigrinya); nothing of Tigrinya is recorded
    # yet, so a call could only tell her "not yet in your language": her reminder is a text.
    client = db_session.get(Client, wants_calls.client_id)
    client.language_code = "ti"
    db_session.commit()
    clock.set(START - timedelta(hours=24))
    make_worker(twilio_app).tick()
    assert fake_twilio.calls == []
    [text] = fake_twilio.messages
    assert text.to == NUMBER and statuses(db_session)[0] == OutboxStatus.queued


def test_an_unanswered_reminder_call_is_tried_once_more_then_left_to_the_receptionists(
        twilio_app, fake_twilio, wants_calls, clock, db_session):
    clock.set(START - timedelta(hours=24))
    worker = make_worker(twilio_app)
    worker.tick()
    call_status(twilio_app, fake_twilio.calls[0].sid, "no-answer")
    assert statuses(db_session)[0] == OutboxStatus.pending
    clock.advance(timedelta(minutes=31))
    worker.tick()
    assert len(fake_twilio.calls) == 2
    # A voicemail box answers the second call: it hears nothing and the try counts as failed.
    line = answer_reminder_call(twilio_app, fake_twilio.calls[1], answered_by="machine_start")
    assert [h.kind for h in line.heard] == ["hangup"]
    call_status(twilio_app, fake_twilio.calls[1].sid, "completed", answered_by="machine_start")
    clock.advance(timedelta(hours=1))
    worker.tick()
    assert len(fake_twilio.calls) == 2
    [failed] = failed_texts(fresh(db_session))
    assert (failed.kind, failed.error_code) == ("reminder", "machine")


def test_cancelling_from_a_reminder_call(twilio_app, fake_twilio, wants_calls, clock, db_session):
    from scheduling.models import Appointment, AppointmentStatus

    clock.set(START - timedelta(hours=2))
    make_worker(twilio_app).tick()
    line = answer_reminder_call(twilio_app, fake_twilio.calls[0])
    line.press("2")
    line.press("1")
    assert line.ended
    assert fresh(db_session).get(Appointment, wants_calls.id).status == AppointmentStatus.cancelled


def test_after_the_workers_were_down_only_the_latest_reminder_goes(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(START - timedelta(hours=1))  # both the 24 h and the 2 h reminder are overdue
    make_worker(twilio_app).tick()
    assert len(fake_twilio.messages) == 1
    codes = [m.error_code for m in fresh(db_session).scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert codes == ["superseded", None]


def test_an_overdue_text_waits_for_the_end_of_the_quiet_hours(twilio_app, fake_twilio, booked, clock, db_session):
    clock.set(oslo(2026, 11, 26, 1, 30))  # the night before: the 24 h reminder is overdue
    worker = make_worker(twilio_app)
    worker.tick()
    assert fake_twilio.messages == []
    due = [m.due_at for m in fresh(db_session).scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert due[0] == oslo(2026, 11, 26, 8, 0)
    clock.set(oslo(2026, 11, 26, 8, 0))
    worker.tick()
    assert len(fake_twilio.messages) == 1
