# Probes a breaker wrote against the studio line (issue 19); each failing one is a fault still
# to mend. Move one into tests/hotline/test_studio.py as its fault is fixed. Not collected here.
"""Breaker probes for the studio line."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline import studio as studio_line
from scheduling.models import AuditEntry, Staff, StaffRole, StudioCall, StudioTake, TakeStatus
from tests.conftest import fresh
from tests.fake_twilio import ACCOUNT_SID
from tests.hotline.test_studio import recorder, studio_call, say_and_keep, wav  # noqa: F401
from web.worker import make_worker


def new_sid(fake_twilio):
    return fake_twilio.add_recording(wav(), "audio/wav").rsplit("/", 1)[-1]


def test_hang_up_during_choice_take_is_deleted_at_twilio(twilio_app, fake_twilio, db_session, recorder):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    sid = new_sid(fake_twilio)
    line.say_after_beep(sid)          # she hears it back ...
    line.hang_up()                    # ... and hangs up before pressing 1/2/3
    worker = make_worker(twilio_app)
    for _ in range(6):
        worker.tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    print("status", take.status, "ready", take.is_ready)
    assert sid in fake_twilio.deleted_recordings, "take left at Twilio forever"


def test_status_callback_never_arrives(twilio_app, fake_twilio, db_session, recorder, monkeypatch):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    first = line.heard[-2].text
    # Record's action arrives, the status callback is lost.
    rec = line._waiting
    del rec.attrib["recordingStatusCallback"]
    sid = new_sid(fake_twilio)
    line.say_after_beep(sid)
    line.press("1")
    line.hang_up()
    worker = make_worker(twilio_app)
    for _ in range(6):
        worker.tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    print("status", take.status, "ready", take.is_ready)
    again = studio_call(twilio_app, "+4795550002")
    again.press(pin)
    print("next call asks:", again.heard[-2].text, "| first was:", first)
    assert take.status == TakeStatus.waiting or again.heard[-2].text == first, \
        "kept take never fetched, and the piece is never asked again"


def test_fetch_fails_five_ticks_then_twilio_is_back(twilio_app, fake_twilio, db_session, recorder, monkeypatch):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    first = line.heard[-2].text
    sid = say_and_keep(line, fake_twilio)
    line.hang_up()
    from tests.fake_twilio import FakeTwilio
    real = FakeTwilio._recording
    monkeypatch.setattr(FakeTwilio, "_recording", lambda self, h: self._error(h, 500, 20500, "Internal"))
    worker = make_worker(twilio_app)
    for _ in range(5):   # five ticks of Twilio trouble (a few seconds each)
        worker.tick()
    monkeypatch.setattr(FakeTwilio, "_recording", real)
    for _ in range(5):
        worker.tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    print("status", take.status, "tries", take.tries, "at twilio", sid in fake_twilio.recordings)
    again = studio_call(twilio_app, "+4795550002")
    again.press(pin)
    print("next call asks:", again.heard[-2].text, "| first was:", first)
    assert take.status == TakeStatus.waiting, "take abandoned after FETCH_TRIES, piece never asked again"


def test_delete_fails_for_kept_take(twilio_app, fake_twilio, db_session, recorder, monkeypatch):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    sid = say_and_keep(line, fake_twilio)
    line.hang_up()
    from tests.fake_twilio import FakeTwilio
    real = FakeTwilio._delete_recording
    monkeypatch.setattr(FakeTwilio, "_delete_recording", lambda self, h: self._error(h, 500, 20500, "Internal"))
    worker = make_worker(twilio_app)
    worker.tick()
    monkeypatch.setattr(FakeTwilio, "_delete_recording", real)
    for _ in range(5):
        worker.tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    print("status", take.status, "at twilio", sid in fake_twilio.recordings)
    assert sid not in fake_twilio.recordings, "kept take fetched but never deleted at Twilio"


def test_deactivated_mid_session_keeps_recording(twilio_app, fake_twilio, db_session, recorder):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    s = fresh(db_session).get(Staff, staff.id)
    s.is_active = False
    db_session.commit()
    sid = new_sid(fake_twilio)
    line.say_after_beep(sid)
    line.press("1")
    takes = fresh(db_session).scalars(select(StudioTake)).all()
    print([(t.status, t.staff_id) for t in takes], line.heard[-2:])
    assert not [t for t in takes if t.status == TakeStatus.kept], "deactivated staff still records"


def test_two_calls_at_once(twilio_app, fake_twilio, db_session, recorder):
    staff, pin = recorder
    a = studio_call(twilio_app)
    a.press(pin)
    b = studio_call(twilio_app, "+4795550002")
    b.press(pin)
    print("A:", a.heard[-2].text, "\nB:", b.heard[-2].text)
    sa = say_and_keep(a, fake_twilio)
    sb = say_and_keep(b, fake_twilio)
    make_worker(twilio_app).tick()
    takes = fresh(db_session).scalars(select(StudioTake)).all()
    print([(t.prompt_key, t.status) for t in takes])
    assert len({t.prompt_key for t in takes}) == 2, "both calls recorded the same piece"


def test_unsigned_studio_requests_are_403(twilio_app):
    web = twilio_app.test_client()
    for path in ("/hotline/studio", "/hotline/studio/pin", "/hotline/studio/recorded?key=x",
                 "/hotline/studio/choice?key=x", "/hotline/studio/take-ready?key=x", "/hotline/studio/language"):
        answer = web.post(path, data={"CallSid": "CA1", "Digits": "12345678#", "RecordingSid": "RE" + "a" * 32})
        assert answer.status_code == 403, (path, answer.status_code)


def test_odd_signed_parameters_never_500(twilio_app, fake_twilio, db_session, recorder):
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    p = line.phone
    for step, extra in (("recorded?key=%00", {}), ("recorded?key=" + "x" * 500, {"RecordingDuration": "abc"}),
                        ("choice?key=", {"Digits": "9" * 100}), ("language", {"Digits": "\u00b2"}),
                        ("take-ready?key=v_not_available", {"RecordingSid": "RE" + "b" * 32,
                                                            "RecordingStatus": "completed"}),
                        ("pin", {"Digits": "\u0661" * 8})):
        r = p.post("/hotline/studio/" + step, line.params(**extra))
        print(step, getattr(r, "status_code", r))


def test_recorder_of_other_language_by_id(twilio_app, db_session, make, centre):
    from tests.conftest import NOW
    from tests.staff.support import PASSWORD_HASH, post_form, sign_in
    somali = make.counselor(languages=["so"], role=StaffRole.recorder, password_hash=PASSWORD_HASH)
    ti = make.counselor(languages=["ti"], role=StaffRole.recorder, password_hash=PASSWORD_HASH)
    take = StudioTake(recording_sid="RE" + "c" * 32, call_sid="CA1", staff_id=somali.id, language_code="so",
                      prompt_key="v_main_menu", text_version=studio_line.voices.text_version("v_main_menu"),
                      status=TakeStatus.waiting, is_ready=True, content_type="audio/wav", audio=wav(), tries=1,
                      recorded_at=NOW, updated_at=NOW)
    db_session.add(take)
    db_session.commit()
    web = twilio_app.test_client()
    sign_in(web, ti.email)
    assert web.get(f"/staff/admin/recordings/takes/{take.id}/audio").status_code == 404
    r = post_form(web, f"/staff/admin/recordings/takes/{take.id}/approve", {}, page="/staff/admin/recordings/ti/takes")
    assert fresh(db_session).get(StudioTake, take.id).status == TakeStatus.waiting, r.status_code
    assert web.get("/staff/admin/recordings/so/script.csv").status_code == 404


def test_csv_injection(twilio_app, db_session, make, centre):
    from scheduling.models import Language, Service
    from tests.staff.support import PASSWORD_HASH, sign_in
    admin = make.counselor(role=StaffRole.admin, password_hash=PASSWORD_HASH)
    so = db_session.get(Language, "so")
    so.name_native = "\t=HYPERLINK(\"http://evil\")"
    db_session.commit()
    web = twilio_app.test_client()
    sign_in(web, admin.email)
    text = web.get("/staff/admin/recordings/so/script.csv").get_data(as_text=True)
    bad = [l for l in text.splitlines() if "HYPERLINK" in l]
    print(bad)
    assert all("'" in l.split(",", 2)[2][:3] for l in bad), bad


def test_commit_lost_after_delete_at_twilio_loses_the_take(twilio_app, fake_twilio, db_session, recorder, monkeypatch):
    """Twilio's copy is deleted inside the job's transaction, before the audio is committed."""
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    first = line.heard[-2].text
    sid = say_and_keep(line, fake_twilio)
    line.hang_up()
    import web.worker as ww
    real = ww.fetch_takes

    def then_commit_fails(*a, **k):
        real(*a, **k)
        raise RuntimeError("database connection lost at commit")
    monkeypatch.setattr(ww, "fetch_takes", then_commit_fails)
    make_worker(twilio_app).tick()
    monkeypatch.setattr(ww, "fetch_takes", real)
    worker = make_worker(twilio_app)
    for _ in range(6):
        worker.tick()
    [take] = fresh(db_session).scalars(select(StudioTake)).all()
    again = studio_call(twilio_app, "+4795550002")
    again.press(pin)
    print("status", take.status, "tries", take.tries, "audio", take.audio is not None,
          "deleted", sid in fake_twilio.deleted_recordings, "| next call asks:", again.heard[-2].text[:40])
    assert take.status == TakeStatus.waiting and take.audio, "take deleted at Twilio but never stored"


def test_stalled_twilio_blocks_the_worker_tick(twilio_app, fake_twilio, db_session, recorder, monkeypatch):
    import time
    staff, pin = recorder
    line = studio_call(twilio_app)
    line.press(pin)
    for _ in range(3):
        say_and_keep(line, fake_twilio)
    line.hang_up()
    from tests.fake_twilio import FakeTwilio
    real = FakeTwilio._recording
    monkeypatch.setattr(FakeTwilio, "_recording", lambda self, h: (time.sleep(11), real(self, h)))
    t = time.monotonic()
    make_worker(twilio_app).tick()
    took = time.monotonic() - t
    print("one tick took", round(took, 1), "s for 3 takes")
    assert took < 30
