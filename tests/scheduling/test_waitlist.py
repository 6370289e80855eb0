"""The waiting list's core (scheduling.waitlist): a freed time is held for the first woman
on the list it fits, the database keeps everyone else from it while it is held, and a
pass or silence hands it to the next woman."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import delete, select

from scheduling import waitlist
from scheduling.availability import find_free_slots
from scheduling.booking import Booked, SlotTaken, book_appointment, cancel_appointment
from scheduling.clients import erase_client
from scheduling.holds import SMS, release_holds
from scheduling.models import Actor, Appointment, BookedVia, SlotHold, WaitingEntry, WaitingStatus
from tests.conftest import oslo

TUESDAY_10 = oslo(2026, 11, 24, 10, 0)  # now is Monday 23 November, 08:00


@pytest.fixture
def one_time(make):
    """A centre with one time for the service: Tuesday 24 November 10-11, in Somali (the
    counselor's only working hours)."""
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    counselor = make.counselor(languages=["so"], services=[service], hours={1: (time(10), time(11))},
                               valid_until=date(2026, 11, 24))
    return service, counselor


def book(session, service, counselor, client, now, start_at=TUESDAY_10):
    return book_appointment(session, service_id=service.id, counselor_id=counselor.id, start_at=start_at, now=now,
                            booked_via=BookedVia.sms, client=client, actor=Actor.caller)


def join(session, client, service, now, **kw):
    return waitlist.join(session, client=client, service_id=service.id, language_code="so", now=now, **kw)


def test_a_cancelled_time_is_held_for_the_first_woman_waiting_and_no_one_else_can_book_it(
        db_session, make, one_time, now, rules):
    service, counselor = one_time
    amina, hodan, sahra, newcomer = (make.client(language_code="so") for _ in range(4))
    booked = book(db_session, service, counselor, amina, now)
    assert isinstance(booked, Booked)
    first, second = join(db_session, hodan, service, now), join(db_session, sahra, service, now)
    assert (first.position, second.position) == (1, 2)
    assert waitlist.offer_free_times(db_session, now=now, rules=rules) == []  # nothing is free

    cancel_appointment(db_session, booked.appointment, now=now, actor=Actor.caller)
    [offered] = waitlist.offer_free_times(db_session, now=now, rules=rules)
    assert (offered.client_id, offered.slot.start_at) == (hodan.id, TUESDAY_10)
    assert offered.expires_at == now + waitlist.OFFER_HOLD
    assert (first.status, first.offers_made, second.status) == (WaitingStatus.offered, 1, WaitingStatus.waiting)
    db_session.commit()

    # Held for her: not offered to a new caller, and not bookable by one.
    assert find_free_slots(db_session, service_id=service.id, language_code="so", now=now, rules=rules) == []
    assert isinstance(book(db_session, service, counselor, newcomer, now), SlotTaken)
    # Her own SMS dialogue letting go of its holds does not let go of this one.
    release_holds(db_session, client_id=hodan.id, owner=SMS)
    assert db_session.scalars(select(SlotHold.owner)).all() == [waitlist.owner(first)]
    # Asked again in the same minute: nothing new is offered (one offer at a time each).
    assert waitlist.offer_free_times(db_session, now=now, rules=rules) == []


def test_a_pass_hands_the_time_to_the_next_woman_and_is_not_offered_to_her_again(
        db_session, make, one_time, now, rules):
    service, counselor = one_time
    hodan, sahra = make.client(language_code="so"), make.client(language_code="so")
    first, second = join(db_session, hodan, service, now), join(db_session, sahra, service, now)
    [offered] = waitlist.offer_free_times(db_session, now=now, rules=rules)
    assert offered.client_id == hodan.id
    waitlist.passes(db_session, first, now)
    assert first.status == WaitingStatus.waiting and first.position == 1  # her place is kept
    [offered] = waitlist.offer_free_times(db_session, now=now + timedelta(minutes=1), rules=rules)
    assert (offered.client_id, second.status) == (sahra.id, WaitingStatus.offered)


def test_silence_passes_when_the_hold_ends(db_session, make, one_time, now, rules):
    service, counselor = one_time
    hodan, sahra = make.client(language_code="so"), make.client(language_code="so")
    first, second = join(db_session, hodan, service, now), join(db_session, sahra, service, now)
    waitlist.offer_free_times(db_session, now=now, rules=rules)
    # Still held a minute before it ends: nobody else is offered it.
    assert waitlist.offer_free_times(db_session, now=now + timedelta(minutes=29), rules=rules) == []
    [offered] = waitlist.offer_free_times(db_session, now=now + waitlist.OFFER_HOLD, rules=rules)
    assert offered.client_id == sahra.id
    assert first.status == WaitingStatus.waiting and first.offer_start_at is None


def test_a_woman_who_cannot_be_reached_now_keeps_her_place_and_the_next_one_is_offered_it(
        db_session, make, one_time, now, rules):
    service, counselor = one_time
    hodan, sahra = make.client(language_code="so"), make.client(language_code="so")
    first, second = join(db_session, hodan, service, now), join(db_session, sahra, service, now)
    [offered] = waitlist.offer_free_times(db_session, now=now, rules=rules, reachable=lambda c: c.id != hodan.id)
    assert offered.client_id == sahra.id and first.status == WaitingStatus.waiting and first.position == 1


def test_she_waits_for_an_earlier_time_than_she_has_and_is_offered_only_earlier_ones(
        db_session, make, one_time, now, rules):
    service, counselor = one_time
    hodan = make.client(language_code="so")
    # She has a Tuesday a week later, with a counselor who works then; this Tuesday is free.
    other = make.counselor(languages=["so"], services=[service], hours={1: (time(10), time(11))},
                           valid_from=date(2026, 11, 30), valid_until=date(2026, 12, 1))
    later = book(db_session, service, other, hodan, now, start_at=TUESDAY_10 + timedelta(days=7)).appointment
    entry = join(db_session, hodan, service, now, earlier_than=later)
    [offered] = waitlist.offer_free_times(db_session, now=now, rules=rules)
    assert offered.slot.start_at == TUESDAY_10 and entry.earlier_than_appointment_id == later.id
    # Passed on: nothing else earlier than hers exists, so nothing more is offered.
    waitlist.passes(db_session, entry, now)
    assert waitlist.offer_free_times(db_session, now=now, rules=rules) == []


def test_joining_twice_keeps_her_place_and_leaving_lets_the_time_go(db_session, make, one_time, now, rules):
    service, counselor = one_time
    hodan, sahra = make.client(language_code="so"), make.client(language_code="so")
    entry = join(db_session, hodan, service, now)
    join(db_session, sahra, service, now)
    assert join(db_session, hodan, service, now + timedelta(hours=1)) is entry
    waitlist.offer_free_times(db_session, now=now, rules=rules)
    assert waitlist.leave(db_session, client_id=hodan.id, now=now) == 1
    assert entry.status == WaitingStatus.left and db_session.scalars(select(SlotHold)).all() == []
    [offered] = waitlist.offer_free_times(db_session, now=now, rules=rules)
    assert offered.client_id == sahra.id


def test_the_desk_reorders_the_list(db_session, make, one_time, now, rules):
    service, counselor = one_time
    women = [make.client(language_code="so") for _ in range(3)]
    entries = [join(db_session, woman, service, now) for woman in women]
    waitlist.reorder(db_session, entries[2], 1, now)
    assert [e.position for e in entries] == [2, 3, 1]
    [offered] = waitlist.offer_free_times(db_session, now=now, rules=rules)
    assert offered.client_id == women[2].id


def test_erasing_her_takes_her_off_the_list(db_session, make, one_time, now, rules):
    service, counselor = one_time
    hodan = make.client(language_code="so")
    join(db_session, hodan, service, now)
    waitlist.offer_free_times(db_session, now=now, rules=rules)
    erase_client(db_session, hodan, now)
    db_session.commit()
    assert db_session.scalars(select(WaitingEntry)).all() == [] and db_session.scalars(select(SlotHold)).all() == []


def test_the_waiting_list_s_hold_against_a_new_caller_choosing_the_same_time(database_url, db_session, make,
                                                                              one_time, now, rules):
    """The worker holding the freed time for the first woman waiting, while a new caller
    chooses that very time, again and again: one of them has it, never both, and the one
    who has it can book it."""
    from hotline.conversation import Offer
    from hotline.desk import DatabaseDesk
    from tests.hotline.test_hold_races import run_together

    service, counselor = one_time
    waiting, newcomer = make.client(language_code="so"), make.client(language_code="so")
    join(db_session, waiting, service, now)
    db_session.commit()
    for round_ in range(12):
        outcome: dict[str, object] = {}

        def race(i, factory, barrier):
            with factory() as session:
                barrier.wait()
                if i == 0:
                    outcome["offered"] = waitlist.offer_free_times(session, now=now, rules=rules)
                else:
                    desk = DatabaseDesk(session, session.get(type(waiting), newcomer.id), now, rules)
                    outcome["held"] = desk.hold(Offer(TUESDAY_10, counselor.id, False), service.id)
                session.commit()

        assert run_together(database_url, 2, race) == []
        offered, held = outcome["offered"], outcome["held"]
        assert bool(offered) != bool(held), (round_, offered, held)
        session = db_session
        session.expire_all()
        if held:  # the newcomer has it: she books it, and nothing is offered meanwhile
            desk = DatabaseDesk(session, session.get(type(waiting), newcomer.id), now, rules)
            assert desk.book(Offer(TUESDAY_10, counselor.id, False), service.id, "so").ok
            assert waitlist.offer_free_times(session, now=now, rules=rules) == []
        else:  # held for the woman waiting: the newcomer cannot book it
            assert isinstance(book(session, service, counselor, newcomer, now), SlotTaken)
        session.commit()
        # Back to where the round began: the time free, the woman waiting again.
        for appointment in session.scalars(select(Appointment)).all():
            session.delete(appointment)
        session.execute(delete(SlotHold))
        entry = session.scalars(select(WaitingEntry)).one()
        entry.status, entry.offer_start_at, entry.offer_counselor_id, entry.offer_expires_at = (
            WaitingStatus.waiting, None, None, None)
        session.commit()
