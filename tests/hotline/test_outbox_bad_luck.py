"""Each text is sent once, whatever luck the workers have: a worker that stalls past its
lease, a provider that repeats its ids or answers too late, a worker that dies after
Twilio took a text, and a worker told to stop. The real twilio client talks to a fake
Twilio on 127.0.0.1."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from web.worker import make_worker
from web.config import ConfigError, from_env
from scheduling.models import OutboxMessage, OutboxStatus
from scheduling.notifications import failed_texts, queue_text
from scheduling.sending import wall_clock
from tests.conftest import fresh, make_twilio_app
from tests.fake_twilio import FakeTwilio
from tests.hotline.test_outbox import START, booked, wants_calls  # noqa: F401 (fixtures)

def texts_due(db_session, make, now, count: int) -> list[str]:
    numbers = [f"+4791{i:06d}" for i in range(count)]
    for number in numbers:
        queue_text(db_session, make.client(number), kind="notice", template="callback_requested", now=now)
    db_session.commit()
    return numbers


def rows(db_session) -> list[OutboxMessage]:
    return list(fresh(db_session).scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def later(minutes: float):
    """A worker whose real clock runs this far ahead: every lease of the others has run out."""
    return lambda: wall_clock() + timedelta(minutes=minutes)


@pytest.fixture
def slow_app(database_url, clock, sessions, fake_twilio):
    """The app with a short HTTP timeout towards Twilio (half a second)."""
    app = make_twilio_app(database_url, clock, fake_twilio, TWILIO_TIMEOUT_SECONDS=0.5)
    yield app
    app.extensions["linja.engine"].dispose()


class StallsOnce:
    """A sending rate that keeps the first worker waiting until its lease has run out and
    another worker has taken its texts over (as three workers sharing 1 text/s did)."""

    def __init__(self, other):
        self.other, self.lock, self.done = other, threading.Lock(), False

    def wait_turn(self):
        with self.lock:
            if not self.done:
                self.done = True
                self.other.send_due()


def test_a_worker_that_stalled_past_its_lease_does_not_send_what_another_took_over(
        twilio_app, fake_twilio, db_session, make, now):
    numbers = texts_due(db_session, make, now, 5)
    first, second = make_worker(twilio_app).outbox, make_worker(twilio_app).outbox
    second.wall = later(2)
    first.pace = StallsOnce(second)
    first.send_due()
    assert Counter(m.to for m in fake_twilio.messages) == Counter(numbers)  # each once, none twice
    assert {r.status for r in rows(db_session)} == {OutboxStatus.queued}


def test_a_provider_that_repeats_one_id_gets_each_text_once(twilio_app, fake_twilio, db_session, make, now, clock):
    fake_twilio.same_sid = "SM" + "a" * 32  # what a mock of Twilio's API description answers
    numbers = texts_due(db_session, make, now, 6)
    worker = make_worker(twilio_app)
    worker.tick()
    assert sorted(m.to for m in fake_twilio.messages) == sorted(numbers)
    stored = rows(db_session)
    assert {r.status for r in stored} == {OutboxStatus.queued}  # what Twilio took stays sent
    assert sorted(r.provider_sid or "" for r in stored) == [""] * 5 + [fake_twilio.same_sid]

    # Minutes later, with every lease long gone: nothing goes again, and a new text whose
    # id is already stored is recorded too.
    worker.outbox.wall = later(5)
    clock.advance(timedelta(minutes=5))
    texts_due_later = queue_text(db_session, make.client("+4792000001"), kind="notice",
                                 template="callback_requested", now=clock.now())
    db_session.commit()
    worker.tick()
    worker.tick()
    assert len(fake_twilio.messages) == 7
    assert fresh(db_session).get(OutboxMessage, texts_due_later.id).status == OutboxStatus.queued


def test_a_send_that_timed_out_after_twilio_took_it_is_looked_up_not_sent_again(
        slow_app, fake_twilio, db_session, make, now, clock):
    [number] = texts_due(db_session, make, now, 1)
    fake_twilio.stall_next(1.5)  # accepted, answered after the client gave up (0.5 s)
    worker = make_worker(slow_app)
    worker.tick()
    [sent] = fake_twilio.messages
    assert sent.to == number and fake_twilio.lookups == 1
    [row] = rows(db_session)
    assert (row.status, row.provider_sid) == (OutboxStatus.queued, sent.sid)
    clock.advance(timedelta(hours=1))
    worker.outbox.wall = later(60)
    worker.tick()
    assert len(fake_twilio.messages) == 1


def test_a_send_whose_fate_twilio_cannot_tell_goes_to_the_desk_not_out_again(
        slow_app, fake_twilio, db_session, make, now, clock):
    texts_due(db_session, make, now, 1)
    fake_twilio.stall_next(1.5)
    fake_twilio.fail_lookups = True
    worker = make_worker(slow_app)
    worker.tick()
    [row] = failed_texts(fresh(db_session))
    assert (row.status, row.error_code) == (OutboxStatus.failed, "unknown")
    clock.advance(timedelta(hours=1))
    worker.outbox.wall = later(60)
    worker.tick()
    assert len(fake_twilio.messages) == 1


def test_a_send_cut_off_before_twilio_took_it_is_tried_again_once(slow_app, fake_twilio, db_session, make, now, clock):
    [number] = texts_due(db_session, make, now, 1)
    fake_twilio.drop_next()  # the connection is cut after the request went out
    worker = make_worker(slow_app)
    worker.tick()
    assert fake_twilio.messages == [] and fake_twilio.lookups == 1  # looked up: not there
    [row] = rows(db_session)
    assert row.status == OutboxStatus.pending
    clock.advance(timedelta(minutes=1))
    worker.tick()
    worker.tick()
    assert [m.to for m in fake_twilio.messages] == [number]
    assert rows(db_session)[0].status == OutboxStatus.queued


class Died(BaseException):
    """The process ended between Twilio's answer and writing it down."""


class DiesAfterSending:
    def __init__(self, sender):
        self.sender = sender

    def send(self, message):
        self.sender.send(message)
        raise Died

    def find(self, outgoing, since):
        return self.sender.find(outgoing, since)


def test_a_text_sent_by_a_worker_that_died_before_recording_it_is_not_sent_again(
        twilio_app, fake_twilio, db_session, make, now):
    [number] = texts_due(db_session, make, now, 1)
    dying = make_worker(twilio_app).outbox
    dying.sender = DiesAfterSending(dying.sender)
    with pytest.raises(Died):
        dying.send_due()
    assert rows(db_session)[0].status == OutboxStatus.sending

    next_worker = make_worker(twilio_app).outbox
    next_worker.wall = later(2)  # its lease ran out
    next_worker.send_due()
    [sent] = fake_twilio.messages
    assert sent.to == number
    [row] = rows(db_session)
    assert (row.status, row.provider_sid) == (OutboxStatus.queued, sent.sid)


def test_a_worker_told_to_stop_finishes_what_is_on_the_wire_and_gives_back_the_rest(
        twilio_app, fake_twilio, db_session, make, now):
    numbers = texts_due(db_session, make, now, 5)
    worker = make_worker(twilio_app)
    worker.outbox.pace.per_second = 0.5  # one text every two seconds
    ticking = threading.Thread(target=worker.tick)
    ticking.start()
    deadline = time.monotonic() + 10
    while not fake_twilio.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    stopped_at = time.monotonic()
    worker.stop()
    ticking.join(timeout=10)
    assert not ticking.is_alive() and time.monotonic() - stopped_at < 1.5
    assert len(fake_twilio.messages) == 1
    left = [r for r in rows(db_session) if r.status != OutboxStatus.queued]
    assert len(left) == 4
    # Given back at once, not after the lease: the claim does not count as a try.
    assert {(r.status, r.claim_token, r.attempts) for r in left} == {(OutboxStatus.pending, None, 0)}

    make_worker(twilio_app).tick()
    assert sorted(m.to for m in fake_twilio.messages) == sorted(numbers)


def test_a_lease_shorter_than_twice_the_http_timeout_is_refused_at_start():
    with pytest.raises(ConfigError, match="OUTBOX_LEASE_SECONDS"):
        from_env({"OUTBOX_LEASE_SECONDS": "15", "TWILIO_TIMEOUT_SECONDS": "10"})
    assert from_env({"OUTBOX_LEASE_SECONDS": "20", "TWILIO_TIMEOUT_SECONDS": "10"})["TWILIO_TIMEOUT_SECONDS"] == 10


def test_a_reminder_call_whose_answer_timed_out_is_looked_up_not_placed_again(
        slow_app, fake_twilio, wants_calls, clock, db_session):
    clock.set(START - timedelta(hours=24))
    fake_twilio.stall_next(1.5)  # Twilio places the call, but answers after the client gave up
    worker = make_worker(slow_app)
    worker.tick()
    [placed] = fake_twilio.calls
    row = rows(db_session)[0]  # the 24 h reminder (the 2 h one is not due)
    assert (row.status, row.provider_sid) == (OutboxStatus.queued, placed.sid)
    clock.advance(timedelta(minutes=40))
    worker.outbox.wall = later(40)
    worker.tick()
    assert len(fake_twilio.calls) == 1


# --- a provider that answers badly after taking the text ----------------------------------------

class AcceptsThenAnswers(FakeTwilio):
    """Twilio (behind its gateway) takes the first text, then answers with an error."""

    answer_status = 500

    def _json(self, handler, status, payload):
        if status == 201 and not getattr(self, "answered_badly", False):
            self.answered_badly = True
            status, payload = self.answer_status, {"code": 20500, "message": "Internal Server Error",
                                                   "status": self.answer_status, "more_info": ""}
        return super()._json(handler, status, payload)


class CreatesAfterTheClientGaveUp(FakeTwilio):
    """Slow before it creates the first text: it is made after the client's timeout."""

    def _handle(self, handler):
        if not getattr(self, "slowed", False):
            self.slowed = True
            time.sleep(1.5)
        return super()._handle(handler)


@pytest.fixture
def other_twilio(database_url, clock, sessions):
    """The app against a fake Twilio of the test's choosing: ``other_twilio(FakeClass)``."""
    made = []

    def start(fake_class, **config):
        fake = fake_class().start()
        app = make_twilio_app(database_url, clock, fake, **config)
        made.append((fake, app))
        return fake, app

    yield start
    for fake, app in made:
        app.extensions["linja.engine"].dispose()
        fake.stop()


def test_a_server_error_after_twilio_took_the_text_is_looked_up_not_sent_again(
        other_twilio, db_session, make, now, clock):
    fake, app = other_twilio(AcceptsThenAnswers)
    [number] = texts_due(db_session, make, now, 1)
    worker = make_worker(app)
    worker.tick()
    [sent] = fake.messages
    [row] = rows(db_session)
    assert (row.status, row.provider_sid) == (OutboxStatus.queued, sent.sid)
    clock.advance(timedelta(hours=1))
    worker.outbox.wall = later(60)
    worker.tick()
    assert [m.to for m in fake.messages] == [number]


def test_a_text_twilio_made_only_after_the_client_gave_up_is_found_before_the_next_try(
        other_twilio, db_session, make, now, clock):
    fake, app = other_twilio(CreatesAfterTheClientGaveUp, TWILIO_TIMEOUT_SECONDS=0.5)
    [number] = texts_due(db_session, make, now, 1)
    worker = make_worker(app)
    worker.tick()  # no answer in time, and not in the list yet: tried again later
    time.sleep(1.2)  # meanwhile Twilio makes it
    assert rows(db_session)[0].status == OutboxStatus.pending
    clock.advance(timedelta(hours=1))
    worker.outbox.wall = later(60)
    worker.tick()
    assert [m.to for m in fake.messages] == [number]
    assert rows(db_session)[0].provider_sid == fake.messages[0].sid


class FirstSlowSecondCut(FakeTwilio):
    """Two texts at once: the first is taken at once and answered a second later; the
    second's connection is cut before anything is made."""

    def _handle(self, handler):
        with self._lock:
            self.seen = getattr(self, "seen", 0) + 1
            nth = self.seen
        if nth == 1:
            self.stall_next(1.0)
        elif nth == 2:
            time.sleep(0.2)  # the first one is made by now
            self.drop_next()
        return super()._handle(handler)


class ListIgnoresTo(FirstSlowSecondCut):
    """A Twilio-compatible service whose list does not filter by To."""

    def _list(self, handler):
        handler.path = handler.path.split("?")[0] + "?PageSize=50"
        return super()._list(handler)


@pytest.mark.parametrize("fake_class, one_number", [(FirstSlowSecondCut, True), (ListIgnoresTo, False)])
def test_a_look_up_never_takes_the_id_of_another_text(other_twilio, db_session, make, now, clock,
                                                      fake_class, one_number):
    fake, app = other_twilio(fake_class)
    first = make.client("+4791000003")
    second = first if one_number else make.client("+4791000004")
    for caller in (first, second):  # the same words, due at once
        queue_text(db_session, caller, kind="notice", template="callback_requested", now=now)
    db_session.commit()
    worker = make_worker(app)
    worker.tick()
    assert len(fake.messages) == 1
    # Only the text Twilio took is recorded as sent; the other is tried again, and goes once.
    assert sorted(r.status for r in rows(db_session)) == [OutboxStatus.pending, OutboxStatus.queued]
    clock.advance(timedelta(hours=1))
    worker.outbox.wall = later(60)
    worker.tick()
    assert sorted(m.to for m in fake.messages) == sorted([first.phone_e164, second.phone_e164])
    assert {r.status for r in rows(db_session)} == {OutboxStatus.queued}
