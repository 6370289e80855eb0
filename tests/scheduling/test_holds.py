"""Holds: a time a caller is confirming is busy for everyone else until her hold runs out,
guarded by the database; an expired hold never stands in anyone's way."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from scheduling.availability import Slot
from scheduling.booking import Booked, SlotTaken, book_appointment, reschedule_appointment
from scheduling.holds import HOLD_FOR, hold_slot, hold_time, purge_expired_holds, release_holds
from scheduling.db import make_engine, make_session_factory
from scheduling.models import Actor, Appointment, BookedVia, Client, SlotHold
from tests.conftest import oslo

TUESDAY_10 = oslo(2026, 11, 24, 10, 0)


@pytest.fixture
def calendar(make):
    make.opening_hours()
    service = make.service(minutes=60, buffer=15)
    counselor = make.counselor(languages=["nb"], services=[service])
    other = make.counselor(languages=["nb"], services=[service])
    return service, counselor, other


def hold(session, caller, service, counselor, start_at, now, **kw):
    slot = Slot(start_at, start_at + timedelta(minutes=service.duration_minutes), counselor.id, False)
    return hold_slot(session, client_id=caller.id, slot=slot, service_id=service.id, now=now, **kw)


def book(session, service, counselor, start_at, now, client=None, **kw):
    return book_appointment(session, service_id=service.id, counselor_id=counselor.id, start_at=start_at,
                            now=now, booked_via=BookedVia.staff, client=client, actor=Actor.staff, **kw)


def test_the_database_itself_refuses_two_overlapping_holds(db_session, make, calendar, now):
    service, counselor, other = calendar
    amina, hodan = make.client(), make.client()
    row = dict(start_at=TUESDAY_10, busy_until_at=TUESDAY_10 + timedelta(minutes=75), expires_at=now + HOLD_FOR)
    db_session.add(SlotHold(client_id=amina.id, counselor_id=counselor.id, **row))
    db_session.add(SlotHold(client_id=hodan.id, counselor_id=other.id, **row))  # another counselor: fine
    db_session.flush()
    db_session.commit()
    with pytest.raises(IntegrityError, match="slot_holds_no_overlap"):
        db_session.add(SlotHold(client_id=hodan.id, counselor_id=counselor.id, start_at=TUESDAY_10 + timedelta(minutes=30),
                                busy_until_at=TUESDAY_10 + timedelta(minutes=105), expires_at=now + HOLD_FOR))
        db_session.flush()
    db_session.rollback()
    # Touching ends do not overlap.
    db_session.add(SlotHold(client_id=hodan.id, counselor_id=counselor.id, start_at=TUESDAY_10 + timedelta(minutes=75),
                            busy_until_at=TUESDAY_10 + timedelta(minutes=150), expires_at=now + HOLD_FOR))
    db_session.commit()


def test_an_overlapping_time_another_caller_holds_cannot_be_held(db_session, make, calendar, now):
    service, counselor, _ = calendar
    amina, hodan = make.client(), make.client()
    assert hold(db_session, amina, service, counselor, TUESDAY_10, now) is not None
    assert hold(db_session, hodan, service, counselor, TUESDAY_10 + timedelta(minutes=30), now) is None
    assert hold(db_session, hodan, service, counselor, TUESDAY_10 - timedelta(minutes=30), now) is None
    assert hold(db_session, hodan, service, counselor, TUESDAY_10 + timedelta(minutes=75), now) is not None


def test_an_expired_hold_never_blocks_a_hold_or_a_booking(db_session, make, calendar, now):
    service, counselor, _ = calendar
    amina, hodan, leila = make.client(), make.client(), make.client()
    assert hold(db_session, amina, service, counselor, TUESDAY_10, now) is not None
    assert hold(db_session, leila, service, counselor, TUESDAY_10 + timedelta(hours=4), now) is not None
    db_session.commit()
    later = now + HOLD_FOR + timedelta(seconds=1)  # both ran out; the worker has not swept them yet
    # Another caller holds (and books) an overlapping time...
    assert hold(db_session, hodan, service, counselor, TUESDAY_10 + timedelta(minutes=30), later) is not None
    db_session.commit()
    result = book_appointment(db_session, service_id=service.id, counselor_id=counselor.id,
                              start_at=TUESDAY_10 + timedelta(minutes=30), now=later, booked_via=BookedVia.sms,
                              client=hodan)
    assert isinstance(result, Booked)
    # ...and the desk books over the other expired one.
    assert isinstance(book(db_session, service, counselor, TUESDAY_10 + timedelta(hours=4, minutes=30), later,
                           client=make.client()), Booked)
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Appointment)) == 2


def test_a_live_hold_is_refused_to_the_desk_but_not_to_the_caller_who_holds_it(db_session, make, calendar, now):
    service, counselor, _ = calendar
    amina, hodan = make.client(), make.client()
    assert hold(db_session, amina, service, counselor, TUESDAY_10, now) is not None
    db_session.commit()

    refused = book(db_session, service, counselor, TUESDAY_10 + timedelta(minutes=30), now, client=hodan)
    assert isinstance(refused, SlotTaken) and refused.reason == "held"
    assert all(not (s.counselor_id == counselor.id and s.start_at < TUESDAY_10 + timedelta(minutes=75)
                    and s.start_at + timedelta(minutes=75) > TUESDAY_10) for s in refused.alternatives)
    elsewhere = make.appointment(counselor, service, TUESDAY_10 + timedelta(hours=3), client=hodan)
    db_session.commit()
    moved = reschedule_appointment(db_session, elsewhere, start_at=TUESDAY_10, now=now, actor=Actor.staff)
    assert isinstance(moved, SlotTaken) and moved.reason == "held"
    db_session.rollback()
    assert db_session.get(Appointment, elsewhere.id).start_at == TUESDAY_10 + timedelta(hours=3)

    mine = book(db_session, service, counselor, TUESDAY_10, now, client=amina)
    assert isinstance(mine, Booked)


def test_a_caller_moving_her_appointment_by_half_an_hour_can_hold_the_new_time(db_session, make, calendar, now):
    service, counselor, _ = calendar
    amina = make.client()
    appointment = make.appointment(counselor, service, TUESDAY_10, client=amina)
    db_session.commit()
    half_an_hour_later = TUESDAY_10 + timedelta(minutes=30)
    assert hold(db_session, amina, service, counselor, half_an_hour_later, now) is None
    assert hold(db_session, amina, service, counselor, half_an_hour_later, now, moving=appointment.id) is not None
    moved = reschedule_appointment(db_session, appointment, start_at=half_an_hour_later, now=now, actor=Actor.caller)
    assert isinstance(moved, Booked)


def test_the_sweep_removes_only_expired_holds(db_session, make, calendar, now):
    service, counselor, _ = calendar
    assert hold(db_session, make.client(), service, counselor, TUESDAY_10, now) is not None
    assert hold(db_session, make.client(), service, counselor, TUESDAY_10 + timedelta(hours=2),
                now + timedelta(minutes=3)) is not None
    assert purge_expired_holds(db_session, now + HOLD_FOR) == 1
    assert [h.start_at for h in db_session.scalars(select(SlotHold))] == [TUESDAY_10 + timedelta(hours=2)]


class PauseAfter:
    """Stops the first statement of ``engine`` that ``matches`` right after it ran, until
    ``go_on`` is set (or two seconds pass): a transaction caught between its look at the
    calendar and its write."""

    def __init__(self, engine, matches):
        self.matches = matches
        self.reached, self.go_on = threading.Event(), threading.Event()
        event.listen(engine, "after_cursor_execute", self._after)

    def _after(self, _connection, _cursor, statement, *_args):
        if not self.reached.is_set() and self.matches(statement):
            self.reached.set()
            self.go_on.wait(timeout=2)


@pytest.mark.parametrize("paused", ["desk booking", "caller's hold"])
def test_a_hold_and_a_desk_booking_of_one_time_at_once_never_both_win(
    database_url, make, db_session, calendar, now, paused,
):
    service, counselor, _ = calendar
    amina_id, hodan_id = make.client().id, make.client().id
    db_session.commit()
    desk_engine, caller_engine = make_engine(database_url), make_engine(database_url)
    results = {}

    def desk():
        with make_session_factory(desk_engine)() as session:
            results["desk"] = book(session, service, counselor, TUESDAY_10 + timedelta(minutes=30), now,
                                   client=session.get(Client, hodan_id))
            session.commit()

    def caller():
        with make_session_factory(caller_engine)() as session:
            results["hold"] = hold(session, session.get(Client, amina_id), service, counselor, TUESDAY_10, now)
            session.commit()

    if paused == "desk booking":  # right after it looked for other callers' holds
        pause = PauseAfter(desk_engine, lambda sql: "FROM slot_holds" in sql)
        first, then = threading.Thread(target=desk), threading.Thread(target=caller)
    else:  # right after it looked for appointments in the way
        pause = PauseAfter(caller_engine, lambda sql: "FROM appointments" in sql and "EXISTS" in sql)
        first, then = threading.Thread(target=caller), threading.Thread(target=desk)
    first.start()
    assert pause.reached.wait(timeout=30)
    then.start()
    then.join(timeout=1)  # it must wait for the first to finish, not slip in between
    pause.go_on.set()
    first.join(timeout=30)
    then.join(timeout=30)
    desk_engine.dispose()
    caller_engine.dispose()

    held, booked = results["hold"] is not None, isinstance(results["desk"], Booked)
    assert held != booked, "the desk booked a time a caller was holding" if held else "neither got the time"
    assert db_session.scalar(select(func.count()).select_from(Appointment)) == int(booked)


# --- holds belong to the dialogue that made them -----------------------------------------


def held(session):
    return sorted((h.client_id, h.owner, h.start_at) for h in session.scalars(select(SlotHold)))


def test_a_call_that_ends_lets_go_of_its_hold_and_not_of_the_one_she_is_confirming_by_text(
    db_session, make, calendar, now,
):
    service, counselor, other = calendar
    amina = make.client()
    assert hold(db_session, amina, service, counselor, TUESDAY_10, now) is not None  # by text
    assert hold(db_session, amina, service, other, TUESDAY_10 + timedelta(hours=3), now, owner="call:CA1") is not None
    assert held(db_session) == [(amina.id, "call:CA1", TUESDAY_10 + timedelta(hours=3)), (amina.id, "sms", TUESDAY_10)]

    release_holds(db_session, client_id=amina.id, owner="call:CA1")
    assert held(db_session) == [(amina.id, "sms", TUESDAY_10)]
    release_holds(db_session, client_id=amina.id)  # with no dialogue named: all of hers
    assert held(db_session) == []


def test_a_new_hold_replaces_only_the_hold_of_the_same_dialogue(db_session, make, calendar, now):
    service, counselor, _ = calendar
    amina = make.client()
    assert hold(db_session, amina, service, counselor, TUESDAY_10, now) is not None
    assert hold(db_session, amina, service, counselor, TUESDAY_10 + timedelta(hours=2), now, owner="call:CA1")
    assert hold(db_session, amina, service, counselor, TUESDAY_10 + timedelta(hours=4), now, owner="call:CA1")
    assert held(db_session) == [(amina.id, "call:CA1", TUESDAY_10 + timedelta(hours=4)),
                                (amina.id, "sms", TUESDAY_10)]


def test_her_second_dialogue_choosing_her_held_time_takes_the_hold_over(db_session, make, calendar, now):
    service, counselor, _ = calendar
    amina, hodan = make.client(), make.client()
    assert hold(db_session, amina, service, counselor, TUESDAY_10, now) is not None  # by text
    # On the phone at the same time, she chooses it again (or a time overlapping it).
    assert hold(db_session, amina, service, counselor, TUESDAY_10 + timedelta(minutes=30), now,
                owner="call:CA1") is not None
    assert held(db_session) == [(amina.id, "call:CA1", TUESDAY_10 + timedelta(minutes=30))]
    db_session.commit()
    # The time is still hers alone: nobody else can hold it, and she can confirm it by text.
    assert hold(db_session, hodan, service, counselor, TUESDAY_10 + timedelta(minutes=30), now) is None
    booked = book(db_session, service, counselor, TUESDAY_10 + timedelta(minutes=30), now, client=amina)
    assert isinstance(booked, Booked)


# --- she chooses a time, not a counselor ---------------------------------------------------


def choose(session, caller, service, counselor, start_at, now, rules, is_interpreter_needed=False, **kw):
    slot = Slot(start_at, start_at + timedelta(minutes=service.duration_minutes), counselor.id, is_interpreter_needed)
    return hold_time(session, client_id=caller.id, slot=slot, service_id=service.id,
                     language_code=caller.language_code, now=now, rules=rules, **kw)


def test_a_time_taken_with_one_counselor_is_held_with_another_free_then(db_session, make, calendar, now, rules):
    service, counselor, other = calendar
    amina, hodan, leila = make.client(), make.client(), make.client()
    assert choose(db_session, amina, service, counselor, TUESDAY_10, now, rules).counselor_id == counselor.id
    got = choose(db_session, hodan, service, counselor, TUESDAY_10, now, rules)
    assert got == Slot(TUESDAY_10, TUESDAY_10 + timedelta(hours=1), other.id, False)
    # Both counselors held then: the third is refused, and what she held before goes.
    assert choose(db_session, leila, service, counselor, TUESDAY_10 + timedelta(hours=4), now, rules)
    assert choose(db_session, leila, service, counselor, TUESDAY_10, now, rules) is None
    assert [h.client_id for h in db_session.scalars(select(SlotHold))] == [amina.id, hodan.id]


def test_a_speaker_of_her_language_is_not_swapped_for_an_interpreter(db_session, make, now, rules):
    make.opening_hours()
    service = make.service(minutes=60, buffer=15)
    speaker = make.counselor(languages=["so", "nb"], services=[service])
    interpreted = make.counselor(languages=["nb"], services=[service])
    also_interpreted = make.counselor(languages=["ar"], services=[service])
    amina, hodan, leila = (make.client(language_code="so") for _ in range(3))
    assert choose(db_session, amina, service, speaker, TUESDAY_10, now, rules) is not None
    assert choose(db_session, hodan, service, speaker, TUESDAY_10, now, rules) is None
    # Offered with an interpreter in the first place, any counselor who fits will do.
    assert choose(db_session, leila, service, interpreted, TUESDAY_10, now, rules, is_interpreter_needed=True)
    got = choose(db_session, hodan, service, interpreted, TUESDAY_10, now, rules, is_interpreter_needed=True)
    assert got == Slot(TUESDAY_10, TUESDAY_10 + timedelta(hours=1), also_interpreted.id, True)


def test_a_counselor_who_is_not_at_work_then_is_not_a_fallback(db_session, make, calendar, now, rules):
    service, counselor, other = calendar
    make.absence(other, TUESDAY_10 - timedelta(hours=1), TUESDAY_10 + timedelta(hours=2))
    amina, hodan = make.client(), make.client()
    assert choose(db_session, amina, service, counselor, TUESDAY_10, now, rules) is not None
    assert choose(db_session, hodan, service, counselor, TUESDAY_10, now, rules) is None
