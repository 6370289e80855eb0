"""The studio line: an interpreter records the line's prompts by phone, an admin approves
them, and a caller hears them."""
from __future__ import annotations

import csv
import io
import wave

import pytest
from sqlalchemy import select

from hotline import studio as studio_line
from hotline.phone import SimulatedPhone, VoiceCall, WsgiTransport, call
from scheduling.models import Appointment, AuditEntry, PromptRecording, StaffRole, StudioTake, TakeStatus
from tests.conftest import fresh
from tests.fake_twilio import ACCOUNT_SID
from tests.staff.support import PASSWORD_HASH, post_form, sign_in
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


def recording(fake_twilio) -> str:
    """A recording the fake Twilio holds, as if just said after the beep: its RecordingSid."""
    return fake_twilio.add_recording(wav(), "audio/wav").rsplit("/", 1)[-1]


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
    sid = recording(fake_twilio)
    heard = line.say_after_beep(sid, ACCOUNT_SID, ready_first=ready_first)
    assert heard[0].text == "Du sa:" and heard[1].kind == "play" and heard[1].text.endswith(sid)
    line.press("1")
    return sid


def test_a_studio_session_records_what_tigrinya_needs_and_after_approval_a_caller_hears_only_recordings(
        twilio_app, fake_twilio, db_session, recorder, centre, make):
    staff, pin = recorder
    admin = make.counselor(role=StaffRole.admin, name="Admin", password_hash=PASSWORD_HASH)
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

    # The admin listens on the recordings page and approves each take.
    web = twilio_app.test_client()
    sign_in(web, admin.email)
    page = web.get("/staff/admin/recordings/ti/takes").get_data(as_text=True)
    assert page.count("<audio") == len(kept)
    take_ids = [t.id for t in fresh(db_session).scalars(select(StudioTake).order_by(StudioTake.id))]
    audio = web.get(f"/staff/admin/recordings/takes/{take_ids[0]}/audio")
    assert audio.status_code == 200 and audio.data.startswith(b"RIFF")
    for take_id in take_ids:
        answer = post_form(web, f"/staff/admin/recordings/takes/{take_id}/approve", {},
                           page="/staff/admin/recordings/ti/takes")
        assert answer.status_code == 302
    assert {t.status for t in fresh(db_session).scalars(select(StudioTake))} == {TakeStatus.approved}

    caller = call(SimulatedPhone(WsgiTransport(twilio_app), "+4791234999", twilio_app.config["PUBLIC_BASE_URL"],
                                 twilio_app.config["TWILIO_AUTH_TOKEN"]))
    heard = caller.press("6")
    for key in "1111":
        heard += caller.press(key)
    assert caller.ended and {h.kind for h in heard} == {"play", "hangup"}
    assert [a.language_code for a in fresh(db_session).scalars(select(Appointment))] == ["ti"]
    actions = [e.action for e in fresh(db_session).scalars(select(AuditEntry))]
    assert "studio_opened" in actions and "studio_session" in actions and "recording_approved" in actions


def test_a_wrong_pin_or_her_number_alone_opens_nothing_and_wrong_pins_are_braked(twilio_app, db_session, recorder):
    staff, pin = recorder
    wrong = "0" * 8 if pin != "0" * 8 else "1" * 8
    line = studio_call(twilio_app)
    line.press(wrong)
    line.press("")  # her caller ID alone, no PIN
    heard = line.press(pin[:-1])  # too short
    assert line.ended and "PIN-koden er feil" in heard[0].text
    for _ in range(3):  # five wrong PINs from this number in all (silence guesses nothing)
        studio_call(twilio_app).press(wrong)
    # Now even her right PIN waits: a guesser cannot go on trying from this number.
    heard = studio_call(twilio_app).press(pin)
    assert line.ended and "For mange feil" in heard[0].text
    from scheduling.models import StudioCall
    assert [c.staff_id for c in fresh(db_session).scalars(select(StudioCall))] == [None] * 5
    # From another number her PIN opens the studio.
    other = studio_call(twilio_app, "+4795550002")
    assert "igjen" in other.press(pin)[0].text and other.waiting_for == "message"


def test_a_take_is_fetched_by_its_sid_from_twilio_never_from_a_url_posted(twilio_app, fake_twilio, db_session,
                                                                          recorder):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    sid = recording(fake_twilio)
    heard = line.say_after_beep(sid, ACCOUNT_SID, recording_url="https://attacker.example/voice.wav")
    played = [h.text for h in heard if h.kind == "play"]
    assert played == [f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"]
    line.press("1")
    # A RecordingSid that is no Twilio SID is no take.
    line.say_after_beep("../../Messages", ACCOUNT_SID)
    make_worker(twilio_app).tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    assert take.recording_sid == sid and take.status == TakeStatus.waiting and fake_twilio.recording_fetches == 1


def test_again_skip_and_hash_and_her_next_call_goes_on_where_she_stopped(twilio_app, fake_twilio, db_session,
                                                                         recorder):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    first = line.heard[-2].text
    sid = recording(fake_twilio)
    line.say_after_beep(sid)
    assert line.press("2")[0].text == first  # again: the same piece
    line.say_after_beep(recording(fake_twilio))
    second = line.press("3")[0].text  # skipped: the next piece
    assert second != first
    line.say_after_beep(recording(fake_twilio))
    line.press("1")
    third = line.heard[-2].text
    line.say_after_beep(recording(fake_twilio))
    assert "fortsetter du her" in line.press("#")[0].text and line.ended
    again = studio_call(twilio_app)
    again.press(pin)
    assert again.heard[-2].text.split(". ", 1)[1] == third.split(". ", 1)[1]  # where she stopped
    make_worker(twilio_app).tick()
    statuses = sorted(t.status.value for t in fresh(db_session).scalars(select(StudioTake)))
    assert statuses == ["gone", "gone", "gone", "waiting"]


def test_who_may_approve_and_the_script_to_read(twilio_app, fake_twilio, db_session, make, centre):
    from tests.conftest import NOW

    # A name an admin typed that a spreadsheet would run as a formula.
    make.service(slug="trap", names={"nb": "Felle", "so": "\t=HYPERLINK(\"http://x\")"})
    somali = make.counselor(languages=["so"], role=StaffRole.recorder, name="Tolk A", password_hash=PASSWORD_HASH)
    other = make.counselor(languages=["so"], role=StaffRole.recorder, name="Tolk B", password_hash=PASSWORD_HASH)
    arabic = make.counselor(languages=["ti"], role=StaffRole.recorder, name="Tolk C", password_hash=PASSWORD_HASH)
    take = StudioTake(recording_sid="RE" + "a" * 32, call_sid="CA1", staff_id=somali.id, language_code="so",
                      prompt_key="v_main_menu", text_version=studio_line.voices.text_version("v_main_menu"),
                      status=TakeStatus.waiting, is_ready=True, content_type="audio/wav", audio=wav(), tries=1,
                      recorded_at=NOW, updated_at=NOW)
    db_session.add(take)
    db_session.commit()
    path = f"/staff/admin/recordings/takes/{take.id}/approve"
    # Her own take has no button for her (a form sent anyway is refused); another's has.
    for who, expected in ((arabic, 404), (somali, 400), (other, 302)):
        web = twilio_app.test_client()
        sign_in(web, who.email)
        if expected == 404:
            assert web.get("/staff/admin/recordings/so/takes").status_code == 404
            continue
        answer = post_form(web, path, {}, page="/staff/admin/recordings/so/takes")
        assert answer.status_code == expected
        status = fresh(db_session).get(StudioTake, take.id).status
        # Her own take waits for another; the other recorder's approval makes it heard.
        assert status == (TakeStatus.waiting if who is somali else TakeStatus.approved)
    assert fresh(db_session).scalars(select(PromptRecording.prompt_key)).all() == ["v_main_menu"]
    web = twilio_app.test_client()
    sign_in(web, other.email)
    csv_text = web.get("/staff/admin/recordings/so/script.csv").get_data(as_text=True)
    lines = csv_text.splitlines()
    assert lines[0].lstrip("\ufeff") == "nr,name,text,in_sentence,gloss_nb,state"
    assert lines[1].startswith("1,v_language_option#0,")
    assert any(line.startswith(tuple(f"{n},weekday:0,Isniin," for n in range(300))) and "Ukedagen mandag" in line
               for line in lines)
    assert any(",v_main_menu," in line and line.endswith(",recorded") for line in lines)
    [trap] = [row for row in csv.reader(io.StringIO(csv_text)) if row[1] == "service:trap"]
    assert trap[2] == "'\t=HYPERLINK(\"http://x\")"
    page = web.get("/staff/admin/recordings/so/script").get_data(as_text=True)
    assert "Isniin" in page and "Ukedagen mandag" in page
    assert web.get("/staff/admin/recordings/ti/script").status_code == 404  # not her language


def test_a_take_left_undecided_when_the_call_dropped_is_deleted_at_twilio_an_hour_later(
        twilio_app, fake_twilio, db_session, recorder, clock):
    from datetime import timedelta

    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    sid = recording(fake_twilio)
    line.say_after_beep(sid)
    line.hang_up()  # at "1 keep, 2 again": she chose nothing
    worker = make_worker(twilio_app)
    worker.tick()
    assert sid in fake_twilio.recordings  # not yet: the call may only be slow
    clock.advance(timedelta(hours=1, minutes=1))
    worker.tick()
    worker.tick()
    assert fake_twilio.deleted_recordings == [sid]
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    assert take.status == TakeStatus.gone and take.audio is None


def test_the_gloss_of_a_piece_says_where_it_stands_in_her_language_s_sentence():
    # Tigrinya says the key after the number ("… 1 ጠውቒ"): its one piece comes after the number,
    # though the Norwegian sentence has its words before it.
    assert studio_line.gloss("v_slot_option#0", "ti") == "Del av setningen «…, trykk …»: ordene etter tallet."
    assert studio_line.gloss("v_booked#0", "so").endswith("ordene før tidspunktet.")
    assert studio_line.gloss("weekday:0", "so") == "Ukedagen mandag"


def kept_take(twilio_app, fake_twilio, pin: str, **say) -> tuple[VoiceCall, str]:
    line = studio_call(twilio_app)
    line.press(pin)
    sid = recording(fake_twilio)
    line.say_after_beep(sid, **say)
    line.press("1")
    return line, sid


def piece_at(db_session) -> str:
    """The piece the latest studio call is asking for."""
    from scheduling.models import StudioCall
    return fresh(db_session).scalars(select(StudioCall).order_by(StudioCall.started_at.desc(),
                                                                  StudioCall.updated_at.desc())).first().data["at"]


def test_silence_at_any_step_ends_the_call_after_three_times_and_drops_the_take_she_did_not_keep(
        twilio_app, fake_twilio, db_session, recorder):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    first = line.heard[-2].text
    sid = recording(fake_twilio)
    line.say_after_beep(sid)
    assert "Trykk 1" in line.press("")[0].text  # asked again, twice
    line.press("7")
    heard = line.press("")
    assert line.ended and "Vi hørte ingenting" in heard[0].text
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    assert take.status == TakeStatus.dropped
    make_worker(twilio_app).tick()
    assert fake_twilio.deleted_recordings == [sid]

    # Saying nothing after the beep, three times: the same piece each time, then goodbye.
    line = studio_call(twilio_app)
    line.press(pin)
    assert line.heard[-2].text == first
    for n in range(3):
        heard = line.say_after_beep(recording(fake_twilio), seconds=0)
        if n < 2:
            assert heard[0].text == first
    assert line.ended and "Vi hørte ingenting" in heard[0].text


def test_a_take_twilio_will_not_give_is_tried_later_and_later_then_deleted_and_its_piece_asked_again(
        twilio_app, fake_twilio, db_session, recorder, clock):
    staff, pin = recorder
    line, sid = kept_take(twilio_app, fake_twilio, pin)
    line.hang_up()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    fake_twilio.fail_recordings("GET", 500, times=studio_line.FETCH_TRIES)
    worker = make_worker(twilio_app)
    for attempt in range(studio_line.FETCH_TRIES):
        worker.tick()
        worker.tick()  # too soon: not asked again
        assert fake_twilio.recording_fetches == attempt + 1
        clock.advance(studio_line.RETRY_FIRST * 2 ** attempt)
    # She calls while it is still being tried: it counts as kept, she is asked the next piece.
    studio_call(twilio_app).press(pin)
    assert piece_at(db_session) != take.prompt_key
    worker.tick()
    take = fresh(db_session).get(StudioTake, take.id)
    assert take.status == TakeStatus.failed and not take.at_twilio
    assert fake_twilio.deleted_recordings == [sid]  # nothing of hers left at Twilio
    # The piece is missing again: the studio asks for it (once she has gone round).
    assert studio_line._missing(fresh(db_session), "ti", [take.prompt_key]) == [take.prompt_key]


def test_a_take_is_stored_before_it_is_deleted_and_a_delete_that_fails_is_tried_again(
        twilio_app, fake_twilio, db_session, recorder, clock):
    staff, pin = recorder
    line, sid = kept_take(twilio_app, fake_twilio, pin)
    line.hang_up()
    fake_twilio.fail_recordings("DELETE", 503, times=2)
    worker = make_worker(twilio_app)
    worker.tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    # Stored and waiting for approval, though Twilio still has it.
    assert take.status == TakeStatus.waiting and take.audio.startswith(b"RIFF") and take.at_twilio
    assert sid in fake_twilio.recordings
    worker.tick()  # too soon after the failure
    clock.advance(studio_line.RETRY_FIRST)
    worker.tick()  # the second failure: waits twice as long
    clock.advance(studio_line.RETRY_FIRST)
    worker.tick()
    assert sid in fake_twilio.recordings
    clock.advance(studio_line.RETRY_FIRST)
    worker.tick()
    assert fake_twilio.deleted_recordings == [sid]
    take = fresh(db_session).get(StudioTake, take.id)
    assert take.status == TakeStatus.waiting and not take.at_twilio and take.audio.startswith(b"RIFF")


def test_a_ready_that_never_came_is_fetched_an_hour_later_and_a_slow_twilio_holds_up_no_tick(
        twilio_app, fake_twilio, db_session, recorder, clock):
    from datetime import timedelta

    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    sids = []
    for _ in range(3):
        sids.append(recording(fake_twilio))
        line.say_after_beep(sids[-1], ready_sent=False)
        line.press("1")
    line.hang_up()
    worker = make_worker(twilio_app)
    worker.tick()
    assert fake_twilio.recording_fetches == 0  # Twilio has not said it is ready
    clock.advance(timedelta(hours=1, minutes=1))
    # A job that is told to stop takes no next take: one fetched, the rest on the next tick.
    session = fresh(db_session)
    studio_line.settle_abandoned(session, clock.now())
    calls = iter([False, True])
    fetched = studio_line.fetch_takes(session, twilio_app.extensions["linja.sender"].client,
                                      fake_twilio.api_base, clock.now(), until=lambda: next(calls, True))
    session.commit()
    assert fetched == 1 and fake_twilio.recording_fetches == 1
    worker.tick()
    worker.tick()
    statuses = [t.status for t in fresh(db_session).scalars(select(StudioTake).order_by(StudioTake.id))]
    assert statuses == [TakeStatus.waiting] * 3 and sorted(fake_twilio.deleted_recordings) == sorted(sids)


def test_the_studio_closes_mid_call_for_a_recorder_made_inactive_or_who_lost_the_language(
        twilio_app, fake_twilio, db_session, recorder):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    sid = recording(fake_twilio)
    line.say_after_beep(sid)
    session = fresh(db_session)
    session.get(type(staff), staff.id).is_active = False
    session.commit()
    heard = line.press("1")
    assert line.ended and "kan ikke spille inn" in heard[0].text
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    assert take.status == TakeStatus.dropped  # not kept: it is deleted at Twilio


def test_two_calls_in_one_language_are_not_given_the_same_piece(twilio_app, fake_twilio, db_session, recorder):
    staff, pin = recorder
    first, second = studio_call(twilio_app), studio_call(twilio_app, "+4795550009")
    first.press(pin)
    second.press(pin)
    from scheduling.models import StudioCall
    calls = fresh(db_session).scalars(select(StudioCall)).all()
    assert len({c.data["at"] for c in calls}) == 2 and {c.staff_id for c in calls} == {staff.id}


@pytest.mark.parametrize("digits", ["²", "١", "", "99", "1"])
def test_the_language_menu_takes_only_keypad_digits(twilio_app, db_session, make, digits):
    admin = make.counselor(role=StaffRole.admin, name="Admin")
    pin = studio_line.new_pin(db_session, admin, twilio_app.config["SECRET_KEY"])
    db_session.commit()
    line = studio_call(twilio_app)
    heard = line.press(pin)
    assert "Velg språk" in heard[0].text
    heard = line.press(digits)
    assert ("Velg språk" in heard[0].text) == (digits != "1")


def test_silent_calls_guess_no_pin_and_a_star_inside_a_pin_makes_it_wrong(twilio_app, db_session, recorder):
    staff, pin = recorder
    # Pocket dials and robocalls from many numbers: each ends after three silences ...
    for n in range(10):
        line = studio_call(twilio_app, f"+4741{n:06d}")
        for _ in range(studio_line.WRONG_PINS_PER_CALL):
            line.press("")
        assert line.ended
    line = studio_call(twilio_app)
    heard = line.press(pin[:4] + "*" + pin[4:])
    assert "PIN-koden er feil" in heard[0].text
    # ... and the studio is still open to her.
    assert "Si det etter pipetonen" in line.press(pin)[0].text


def test_twilio_s_retry_of_her_language_choice_keeps_her_place_and_what_she_skipped(
        twilio_app, fake_twilio, db_session, make):
    admin = make.counselor(role=StaffRole.admin, name="Admin")
    pin = studio_line.new_pin(db_session, admin, twilio_app.config["SECRET_KEY"])
    db_session.commit()
    line = studio_call(twilio_app)
    line.press(pin)
    choice = line.params(Digits="1")
    line.press("1")
    first = piece_at(db_session)
    line.say_after_beep(recording(fake_twilio))
    line.press("3")  # skipped
    assert line.phone.post("/hotline/studio/language", choice)[0] == 200
    from scheduling.models import StudioCall
    data = fresh(db_session).scalars(select(StudioCall)).one().data
    assert data["at"] != first and data["skipped"] == [first]


def test_without_twilio_a_take_the_simulator_lost_fails_and_its_piece_is_asked_again(app, db_session, clock):
    from datetime import timedelta

    from tests.conftest import NOW

    take = StudioTake(recording_sid="RE" + "b" * 32, call_sid="CA1", staff_id=None, language_code="so",
                      prompt_key="v_main_menu", text_version=studio_line.voices.text_version("v_main_menu"),
                      status=TakeStatus.kept, is_ready=True, tries=0, recorded_at=NOW, updated_at=NOW)
    db_session.add(take)
    db_session.commit()
    worker = make_worker(app)
    worker.tick()
    assert studio_line._missing(fresh(db_session), "so", ["v_main_menu"]) == []  # kept: may still come
    clock.advance(studio_line.ABANDONED + timedelta(minutes=1))
    worker.tick()
    take = fresh(db_session).get(StudioTake, take.id)
    assert take.status == TakeStatus.failed and not take.at_twilio
    assert studio_line._missing(fresh(db_session), "so", ["v_main_menu"]) == ["v_main_menu"]
