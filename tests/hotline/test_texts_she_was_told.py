"""Texts that overtake each other: whatever is withdrawn before it goes, every text she gets
names only times she was told of (a text Twilio accepted counts as told). The real app, its
worker and the twilio client against the fake Twilio; what she received is what is asserted."""
from __future__ import annotations

import threading
import time
from html import unescape
from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduling.booking import book_appointment, cancel_appointment, reschedule_appointment
from scheduling.clients import find_client
from scheduling.models import Actor, Appointment, BookedVia, Client, OutboxMessage, OutboxStatus, StaffRole
from tests.conftest import fresh, make_twilio_app, oslo
from tests.fake_twilio import FakeTwilio
from tests.hotline.test_sms_flows import book, say
from tests.hotline.twilio_client import Phone
from tests.staff.support import PASSWORD_HASH, sign_in, tokens
from web.worker import make_worker

NUMBER = "+4791234567"
A = oslo(2026, 11, 25, 12, 0)  # Wednesday 12:00; now is Monday 08:00
B = oslo(2026, 11, 26, 10, 0)
C = oslo(2026, 11, 27, 14, 0)


@pytest.fixture
def centre(make, db_session):
    make.opening_hours()
    talk = make.service(names={"nb": "Samtale", "so": "Wada-hadal"})
    make.service(names={"nb": "Familie", "so": "Qoys"})  # two, so booking by text asks which
    amina = make.counselor(name="Amina", languages=["so", "nb"], services=[talk])
    hodan = make.counselor(name="Hodan", languages=["so", "nb"], services=[talk])
    make.counselor(role=StaffRole.receptionist, name="Ingrid", email="ingrid@linja.test",
                   password_hash=PASSWORD_HASH)
    db_session.commit()
    return {"talk": talk, "amina": amina, "hodan": hodan}


@pytest.fixture
def worker(twilio_app):
    return make_worker(twilio_app)


def received(fake_twilio) -> list[str]:
    return fake_twilio.bodies_to(NUMBER)


def booked_at_the_desk(db_session, centre, now, start_at=A):
    """Booked for her by a receptionist (she called): the booking is texted to her."""
    caller = find_client(db_session, NUMBER)
    if caller is None:
        caller = Client(phone_e164=NUMBER, language_code="so", is_opted_out=False, created_at=now)
        db_session.add(caller)
    appointment = book_appointment(
        db_session, service_id=centre["talk"].id, counselor_id=centre["amina"].id, start_at=start_at, now=now,
        booked_via=BookedVia.staff, client=caller, actor=Actor.staff,
    ).appointment
    db_session.commit()
    return appointment


def desk(db_session, appointment_id: int, clock, change: str, start_at=None, counselor=None):
    """What the desk's move and cancel do, a few seconds after the last change."""
    clock.advance(timedelta(seconds=3))
    appointment = fresh(db_session).get(Appointment, appointment_id)
    if change == "cancel":
        cancel_appointment(db_session, appointment, now=clock.now(), actor=Actor.staff, reason="test")
    else:
        reschedule_appointment(db_session, appointment, start_at=start_at, now=clock.now(), actor=Actor.staff,
                               counselor_id=counselor.id if counselor else None)
    db_session.commit()


def test_moved_then_cancelled_at_the_desk_names_the_time_she_booked(twilio_app, fake_twilio, centre, db_session,
                                                                    worker, clock):
    """The issue's report, through the desk's own pages: booked by text, moved and cancelled
    at the desk a few seconds apart, before the worker sent the move."""
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    booked = book(phone, "so")
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    assert booked == say("booked", "so", when=appointment.start_at)
    browser = twilio_app.test_client()
    assert sign_in(browser, "ingrid@linja.test").status_code == 302
    path = f"/staff/appointments/{appointment.id}"
    html = browser.get(path).get_data(as_text=True)
    other = next(value for value in _slot_values(html) if appointment.start_at.isoformat() not in value)
    response = browser.post(f"{path}/move", data={"slot": other, "version": _version(html), "confirm": "1",
                                                  **tokens(html)})
    assert response.status_code == 303
    clock.advance(timedelta(seconds=4))
    html = browser.get(path).get_data(as_text=True)
    cancel = {"reason": "Hun ringte", "version": _version(html)}
    # The confirmation shows the text the worker will write: the time she booked, not the new one.
    confirmation = browser.post(f"{path}/cancel/ask", data={**cancel, **tokens(html)},
                                follow_redirects=True).get_data(as_text=True)
    assert say("cancelled", "so", when=appointment.start_at) in unescape(confirmation)
    response = browser.post(f"{path}/cancel", data={**cancel, "confirm": "1", **tokens(confirmation)})
    assert response.status_code == 303
    worker.tick()
    assert received(fake_twilio) == [say("cancelled", "so", when=appointment.start_at)]


def test_a_time_cancelled_before_she_was_told_of_it_is_not_texted_about(fake_twilio, centre, db_session, worker,
                                                                       clock, now):
    appointment = booked_at_the_desk(db_session, centre, now)
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == []
    assert {m.status for m in fresh(db_session).scalars(select(OutboxMessage))} == {OutboxStatus.withdrawn}


def test_moved_twice_quickly_she_hears_of_the_last_time_only(fake_twilio, centre, db_session, worker, clock, now):
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    desk(db_session, appointment.id, clock, "move", C)
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A), say("moved", "so", when=C)]
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio)[-1] == say("cancelled", "so", when=C)


def test_moved_and_moved_back_before_a_text_went_she_hears_nothing(fake_twilio, centre, db_session, worker, clock,
                                                                  now):
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    desk(db_session, appointment.id, clock, "move", A)
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A)]


def test_a_move_before_the_booking_text_went_is_told_as_the_booking(fake_twilio, centre, db_session, worker, clock,
                                                                   now):
    appointment = booked_at_the_desk(db_session, centre, now)
    desk(db_session, appointment.id, clock, "move", B)
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=B)]
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=B), say("cancelled", "so", when=B)]


def test_a_move_whose_text_twilio_refused_is_not_named_by_the_cancellation(fake_twilio, centre, db_session, worker,
                                                                          clock, now):
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    fake_twilio.fail_next(400, code=21612)  # Twilio refuses this one text for good
    worker.tick()
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A), say("cancelled", "so", when=A)]


def test_a_booking_whose_text_twilio_refused_is_not_cancelled_by_text(fake_twilio, centre, db_session, worker, clock,
                                                                     now):
    appointment = booked_at_the_desk(db_session, centre, now)
    fake_twilio.fail_next(400, code=21612)
    worker.tick()
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == []


def test_another_counselor_at_the_same_time_is_a_move_she_is_told_of(fake_twilio, centre, db_session, worker, clock,
                                                                    now):
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", A, centre["hodan"])
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A), say("moved", "so", when=A)]
    # And back again before that text went: nothing, she knows that one.
    desk(db_session, appointment.id, clock, "move", A, centre["amina"])
    desk(db_session, appointment.id, clock, "move", A, centre["hodan"])
    worker.tick()
    assert len(received(fake_twilio)) == 2


def test_a_cancellation_while_the_move_is_being_sent_waits_for_it(twilio_app, fake_twilio, centre, db_session,
                                                                  worker, clock, now):
    """The move's text is on its way (claimed, handed to Twilio, not yet answered) when the
    desk cancels: the cancellation is composed once it is known whether she got the move."""
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    fake_twilio.stall_next(1.5)
    sending = threading.Thread(target=worker.tick)
    sending.start()
    other = make_worker(twilio_app)
    try:
        _wait_until(lambda: len(received(fake_twilio)) == 2)  # Twilio has it; the worker waits for the answer
        desk(db_session, appointment.id, clock, "cancel")
        other.tick()  # a second worker must not compose the cancellation yet
        assert len(received(fake_twilio)) == 2
    finally:
        sending.join()
    clock.advance(timedelta(seconds=10))
    other.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A), say("moved", "so", when=B),
                                     say("cancelled", "so", when=B)]


def test_moved_back_while_the_move_is_being_sent_she_is_told_she_is_back(twilio_app, fake_twilio, centre,
                                                                         db_session, worker, clock, now):
    """Moved A to B, and back to A while "moved to B" is on its way: had the second text been
    composed before Twilio answered, it would have seemed she knew A, and nothing would
    have told her that B was off."""
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    fake_twilio.stall_next(1.5)
    sending = threading.Thread(target=worker.tick)
    sending.start()
    other = make_worker(twilio_app)
    try:
        _wait_until(lambda: len(received(fake_twilio)) == 2)
        desk(db_session, appointment.id, clock, "move", A)
        other.tick()
        assert len(received(fake_twilio)) == 2
    finally:
        sending.join()
    clock.advance(timedelta(seconds=10))
    other.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A), say("moved", "so", when=B),
                                     say("moved", "so", when=A)]


def test_her_own_move_by_text_is_what_she_was_told(twilio_app, fake_twilio, centre, db_session, worker, clock, now):
    """The desk moved her (text not yet sent), then she moved it herself by text: the desk's
    text is not sent, and a cancellation names the time the answer to her text named."""
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    book(phone, "so")
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    desk(db_session, appointment.id, clock, "move", B)
    assert phone.text("2") == say("appointment_menu", "so", when=B)
    phone.text("2")
    phone.text("1")
    moved = phone.text("1")
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    assert moved == say("moved", "so", when=appointment.start_at) and appointment.start_at != B
    worker.tick()
    assert received(fake_twilio) == []  # "moved to B" would name a time she no longer has
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == [say("cancelled", "so", when=appointment.start_at)]


def test_a_time_she_was_shown_by_text_is_what_she_was_told(twilio_app, fake_twilio, centre, db_session, worker,
                                                           clock):
    """Moved at the desk, and before that text went she asked to see her time: she saw the
    new one, so the desk's text has nothing new for her, and a cancellation names it."""
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    book(phone, "so")
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    desk(db_session, appointment.id, clock, "move", B)
    assert phone.text("2") == say("appointment_menu", "so", when=B)
    assert phone.text("0") == say("main_menu", "so")
    worker.tick()
    assert received(fake_twilio) == []
    assert fresh(db_session).get(Appointment, appointment.id).version == 2  # seeing it changed nothing
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == [say("cancelled", "so", when=B)]


def test_what_a_change_will_say_can_be_known_before_it_is_made():
    """The desk can show the text before the change (scheduling.sending.change_text)."""
    from scheduling.sending import change_text

    assert change_text("cancelled", told=(A, 1), current=(B, 1)) == (
        "cancelled", {"when": A.isoformat(), "counselor": 1})
    assert change_text("cancelled", told=(None, None), current=(B, 1)) == "never-told"
    assert change_text("moved", told=(A, 1), current=(B, 2)) == ("moved", {"when": B.isoformat(), "counselor": 2})
    assert change_text("moved", told=(A, 1), current=(A, 2))[0] == "moved"  # only the counselor changes
    assert change_text("moved", told=(A, 1), current=(A, 1)) == "already-told"
    assert change_text("moved", told=(None, None), current=(B, 1))[0] == "booked"
    assert change_text("booked", told=(B, 1), current=(B, 1))[0] == "booked"  # the text a call promised


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _slot_values(html: str) -> list[str]:
    import re

    return re.findall(r'name="slot" value="([^"]+)"', html)


def _version(html: str) -> str:
    import re

    return re.search(r'name="version" (?:type="hidden" )?value="(\d+)"', html).group(1)


class Died(BaseException):
    """The worker's process was killed mid-send."""


class DiesSending:
    """A sender in a process killed while its request was with Twilio: after Twilio took the
    text (``took``), or before the request went out."""

    def __init__(self, sender, *, took: bool):
        self.sender, self.took = sender, took

    def send(self, message):
        if self.took:
            self.sender.send(message)
        raise Died

    def find(self, outgoing, since):
        return self.sender.find(outgoing, since)


def _killed_sending_the_move(twilio_app, *, took: bool) -> None:
    dying = make_worker(twilio_app).outbox
    dying.sender = DiesSending(dying.sender, took=took)
    with pytest.raises(Died):
        dying.send_due()


def _taken_over(twilio_app) -> None:
    """The next worker, once the killed one's lease ran out (its real clock runs ahead)."""
    from scheduling.sending import wall_clock

    worker = make_worker(twilio_app)
    worker.outbox.wall = lambda: wall_clock() + timedelta(minutes=2)
    worker.tick()


def _moves_herself_by_text(phone, db_session) -> Appointment:
    for text in ("hi", "2", "2", "1", "1"):  # her main menu, her time, move, the first time, yes
        phone.text(text)
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    return appointment


def test_a_move_taken_over_from_a_killed_worker_does_not_undo_what_she_was_told_since(
        twilio_app, fake_twilio, centre, db_session, worker, clock, now):
    """Twilio took "moved to B", and the worker was killed before it wrote that down. She
    then moved it herself by text, to C. The next worker finds the text at Twilio: she was
    told B before she chose C, so a cancellation names C, the time she has."""
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    _killed_sending_the_move(twilio_app, took=True)
    clock.advance(timedelta(seconds=10))
    moved = _moves_herself_by_text(phone, db_session)
    assert moved.start_at not in (A, B)
    clock.advance(timedelta(seconds=10))
    _taken_over(twilio_app)
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A), say("moved", "so", when=B),
                                     say("cancelled", "so", when=moved.start_at)]


def test_a_move_a_killed_worker_never_sent_is_not_sent_once_it_is_out_of_date(
        twilio_app, fake_twilio, centre, db_session, worker, clock, now):
    """Killed before "moved to B" reached Twilio; meanwhile she moved it herself to C. The
    next worker looks for it at Twilio, does not find it, and does not send it: B is no
    longer her time."""
    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    _killed_sending_the_move(twilio_app, took=False)
    clock.advance(timedelta(seconds=10))
    moved = _moves_herself_by_text(phone, db_session)
    assert moved.start_at not in (A, B)
    clock.advance(timedelta(seconds=10))
    _taken_over(twilio_app)
    assert received(fake_twilio) == [say("booked", "so", when=A)]
    desk(db_session, appointment.id, clock, "cancel")
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A), say("cancelled", "so", when=moved.start_at)]


class SlowToTakeOne(FakeTwilio):
    """After ``slow_next()``, the next text is taken only after the client gave up waiting."""

    slow = False

    def slow_next(self):
        self.slow = True

    def _handle(self, handler):
        if self.slow:
            self.slow = False
            time.sleep(1.5)
        return super()._handle(handler)


@pytest.fixture
def slow_twilio(database_url, clock, sessions):
    fake = SlowToTakeOne().start()
    app = make_twilio_app(database_url, clock, fake, TWILIO_TIMEOUT_SECONDS=0.5)
    yield fake, app
    app.extensions["linja.engine"].dispose()
    fake.stop()


@pytest.mark.parametrize("then", ["cancel", "move"])
def test_a_move_twilio_took_after_the_worker_gave_up_is_what_the_next_text_builds_on(
        slow_twilio, centre, db_session, clock, now, then):
    """"Moved to B" timed out, and Twilio was not yet listing it: it is looked up again
    before another try. The desk cancels (or moves her on to C) meanwhile; Twilio did make
    the text. That text is not withdrawn as if it had never gone: what follows waits for
    its look-up, and names B."""
    fake, app = slow_twilio
    worker = make_worker(app)
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    desk(db_session, appointment.id, clock, "move", B)
    fake.slow_next()
    worker.tick()  # no answer in time, and not at Twilio yet: looked up again before a new try
    time.sleep(1.3)  # meanwhile Twilio makes it
    desk(db_session, appointment.id, clock, then, C)
    worker.tick()
    clock.advance(timedelta(minutes=2))
    worker.tick()
    clock.advance(timedelta(minutes=2))
    worker.tick()
    after = say("cancelled", "so", when=B) if then == "cancel" else say("moved", "so", when=C)
    assert fake.bodies_to(NUMBER) == [say("booked", "so", when=A), say("moved", "so", when=B), after]


def test_a_reminder_a_killed_worker_never_sent_still_goes_when_her_time_is_unchanged(
        twilio_app, fake_twilio, centre, db_session, worker, clock, now):
    """Booked at the desk in Oslo time (as its form gives it): the reminder names the time
    with Oslo's offset. Killed before it reached Twilio, it is still true, so it goes."""
    from tests.conftest import OSLO

    appointment = booked_at_the_desk(db_session, centre, now, start_at=A.astimezone(OSLO))
    worker.tick()
    clock.advance(A - timedelta(hours=2) - clock.now())
    _killed_sending_the_move(twilio_app, took=False)
    _taken_over(twilio_app)
    assert received(fake_twilio) == [say("booked", "so", when=A), say("reminder", "so", when=A)]
    assert fresh(db_session).get(Appointment, appointment.id).start_at == A


def test_moved_at_the_desk_to_the_time_she_is_choosing_the_answer_tells_her_and_no_text_follows(
        twilio_app, fake_twilio, centre, db_session, worker, clock, now):
    """She is moving her time by text and has chosen X; before she says yes, the desk moves
    her to X. Her yes is answered "your time is kept: X": that answer told her, so the
    desk's "moved to X" has nothing new for her."""
    from scheduling.models import Conversation

    phone = Phone(twilio_app.test_client(), twilio_app, NUMBER)
    appointment = booked_at_the_desk(db_session, centre, now)
    worker.tick()
    for text in ("hi", "2", "2", "1"):  # her main menu, her time, move, the first time
        phone.text(text)
    client = find_client(fresh(db_session), NUMBER)
    offer = fresh(db_session).get(Conversation, client.id).data["offer"]
    from datetime import datetime as _datetime

    x = _datetime.fromisoformat(offer["start"])
    counselor = next(c for c in (centre["amina"], centre["hodan"]) if c.id == offer["counselor"])
    desk(db_session, appointment.id, clock, "move", x, counselor)
    assert fresh(db_session).get(Appointment, appointment.id).start_at == x
    assert phone.text("1") == say("kept", "so", when=x)
    worker.tick()
    assert received(fake_twilio) == [say("booked", "so", when=A)]
