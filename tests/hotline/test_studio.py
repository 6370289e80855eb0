"""The studio line: an interpreter records the line's prompts by phone, an admin approves
them, and a caller hears them."""
from __future__ import annotations

import io
import wave

import pytest
from sqlalchemy import select

from hotline import studio as studio_line
from hotline.phone import SimulatedPhone, VoiceCall, WsgiTransport, call
from scheduling.models import Appointment, AuditEntry, PromptRecording, StaffRole, StudioTake, TakeStatus
from tests.conftest import fresh
from tests.fake_twilio import ACCOUNT_SID
from web.worker import make_worker

INTERPRETER = "+4795550001"
CALLER = "+4791234567"


def wav(seconds: float = 0.2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


@pytest.fixture
def recorder(make, db_session, twilio_app, centre):
    staff = make.counselor(languages=["ti", "nb"], role=StaffRole.recorder, name="Tolk")
    pin = studio_line.new_pin(db_session, staff, twilio_app.config["SECRET_KEY"])
    db_session.commit()
    return staff, pin


def studio_call(app, number: str = INTERPRETER) -> VoiceCall:
    phone = SimulatedPhone(WsgiTransport(app), number, app.config["PUBLIC_BASE_URL"], app.config["TWILIO_AUTH_TOKEN"])
    line = VoiceCall(phone, entry="/hotline/studio", max_steps=5000)
    line.start()
    return line


def say_and_keep(line: VoiceCall, fake_twilio, *, ready_first: bool = False) -> str:
    sid = fake_twilio.add_recording(wav(), "audio/wav").rsplit("/", 1)[-1]
    heard = line.say_after_beep(sid, ACCOUNT_SID, ready_first=ready_first)
    assert heard[0].text == "Du sa:" and heard[1].kind == "play" and heard[1].text.endswith(sid)
    line.press("1")
    return sid


def test_a_studio_session_records_what_tigrinya_needs_and_after_approval_a_caller_hears_only_recordings(
        twilio_app, fake_twilio, db_session, recorder, centre, make):
    staff, pin = recorder
    admin = make.counselor(role=StaffRole.admin, name="Admin")
    db_session.commit()
    slugs = [s for s in fresh(db_session).scalars(select(studio_line.Service.slug))]
    order = studio_line.studio_order("ti", slugs)
    needed = set(studio_line.voices.pieces_to_record("ti", slugs, studio_line.ivr.prompts_heard()))
    # The language menu's option and the "coming soon" notice come first.
    assert order[:4] == ["v_language_option#0", "v_language_option#1", "language:ti", "v_not_available"]
    first_part = [key for key in order if key in needed or order.index(key) < 4]

    fresh(db_session)
    line = studio_call(twilio_app)
    assert "PIN" in line.said()
    line.press(pin)  # her one language: straight to the first piece
    kept = []
    for index, key in enumerate(first_part):
        assert line.waiting_for == "message", (index, key)
        kept.append(say_and_keep(line, fake_twilio, ready_first=index % 2 == 0))
    line.hang_up()

    worker = make_worker(twilio_app)
    for _ in range(len(kept) // 20 + 2):
        worker.tick()
    takes = fresh(db_session).scalars(select(StudioTake).order_by(StudioTake.id)).all()
    assert [t.prompt_key for t in takes] == first_part
    assert {t.status for t in takes} == {TakeStatus.waiting} and all(t.audio.startswith(b"RIFF") for t in takes)
    assert sorted(fake_twilio.deleted_recordings) == sorted(kept) and fake_twilio.recordings == {}

    # Nothing reaches callers before it is approved: Tigrinya still cannot be heard.
    assert fresh(db_session).scalars(select(PromptRecording)).all() == []
    caller = call(SimulatedPhone(WsgiTransport(twilio_app), CALLER, twilio_app.config["PUBLIC_BASE_URL"],
                                 twilio_app.config["TWILIO_AUTH_TOKEN"]))
    assert [h.kind for h in caller.press("6")] == ["say", "say", "hangup"]

    session = fresh(db_session)
    for take in session.scalars(select(StudioTake)).all():
        studio_line.approve(session, take, admin, take.recorded_at)
    session.commit()

    caller = call(SimulatedPhone(WsgiTransport(twilio_app), "+4791234999", twilio_app.config["PUBLIC_BASE_URL"],
                                 twilio_app.config["TWILIO_AUTH_TOKEN"]))
    heard = caller.press("6")
    for key in "1111":
        heard += caller.press(key)
    assert caller.ended and {h.kind for h in heard} == {"play", "hangup"}
    assert [a.language_code for a in fresh(db_session).scalars(select(Appointment))] == ["ti"]
    actions = [e.action for e in fresh(db_session).scalars(select(AuditEntry))]
    assert "studio_opened" in actions and "studio_session" in actions and "recording_approved" in actions
