"""Callers racing for overlapping times, each in her own transaction: the first to choose
a time can always confirm it, and nothing is ever booked twice."""
from __future__ import annotations

import threading
from datetime import time

import pytest
from sqlalchemy import select

from hotline.conversation import Offer
from hotline.desk import DatabaseDesk
from scheduling.availability import BookingRules
from scheduling.booking import Booked, SlotTaken, book_appointment
from scheduling.db import make_engine, make_session_factory
from scheduling.models import Actor, Appointment, AppointmentStatus, BookedVia, Client
from tests.conftest import fresh, oslo

# Three times on Tuesday that overlap: 10:30 overlaps both others, 10:00 and 11:00 fit together.
TIMES = [oslo(2026, 11, 24, 10, 0), oslo(2026, 11, 24, 10, 30), oslo(2026, 11, 24, 11, 0)]


@pytest.fixture
def one_counselor(make, db_session):
    """One counselor, free on Tuesdays 10:00-13:00, for a one-hour talk without a buffer."""
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    counselor = make.counselor(languages=["nb"], services=[service], hours={1: (time(10), time(13))})
    db_session.commit()
    return service, counselor


def run_together(database_url: str, count: int, work) -> list[Exception]:
    """Run ``work(i, factory, barrier)`` in ``count`` threads, each with its own session
    factory's connections, started together; returns what went wrong."""
    engine = (make_engine(database_url) if database_url.startswith("sqlite")
              else make_engine(database_url, pool_size=count, max_overflow=0))
    factory = make_session_factory(engine)
    barrier = threading.Barrier(count, timeout=120)
    errors: list[Exception] = []

    def run(i: int) -> None:
        try:
            work(i, factory, barrier)
        except Exception as error:  # pragma: no cover - shown by the assertion
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    engine.dispose()
    return errors


def live_appointments(session, counselor_id: int) -> list[Appointment]:
    return fresh(session).scalars(select(Appointment).where(
        Appointment.counselor_id == counselor_id, Appointment.status == AppointmentStatus.booked,
    ).order_by(Appointment.start_at)).all()


def assert_no_overlaps(booked: list[Appointment]) -> None:
    for earlier, later in zip(booked, booked[1:]):
        assert earlier.busy_until_at <= later.start_at, (earlier.start_at, later.start_at)


def test_45_callers_racing_for_three_overlapping_times_all_who_held_one_can_book(
    database_url, make, db_session, one_counselor, now,
):
    service, counselor = one_counselor
    callers = [make.client(language_code="nb").id for _ in range(45)]
    db_session.commit()
    outcome: dict[int, tuple[bool, bool | None]] = {}

    def caller(i, factory, barrier):
        offer = Offer(TIMES[i % 3], counselor.id, False)
        barrier.wait()  # all choose at once
        with factory() as session:
            desk = DatabaseDesk(session, session.get(Client, callers[i]), now, BookingRules())
            held = desk.hold(offer, service.id)
            session.commit()
        barrier.wait()  # and those who got it confirm at once
        booked = None
        if held:
            with factory() as session:
                desk = DatabaseDesk(session, session.get(Client, callers[i]), now, BookingRules())
                booked = desk.book(offer, service.id, "nb").ok
                session.commit()
        outcome[i] = (held, booked)

    assert run_together(database_url, 45, caller) == []
    assert len(outcome) == 45
    holders = [i for i, (held, _) in outcome.items() if held]
    refused = [(i, TIMES[i % 3]) for i in holders if not outcome[i][1]]
    assert refused == [], "a caller who held a time was refused when she confirmed it"
    booked = live_appointments(db_session, counselor.id)
    assert 1 <= len(booked) == len(holders) <= 2
    assert {a.client_id for a in booked} == {callers[i] for i in holders}
    assert_no_overlaps(booked)


def test_desk_bookings_racing_callers_never_take_a_time_a_caller_holds(
    database_url, make, db_session, one_counselor, now,
):
    service, counselor = one_counselor
    callers = [make.client(language_code="nb").id for _ in range(18)]
    db_session.commit()
    held_and_booked: dict[int, tuple[bool, bool | None]] = {}
    desk_results: list[Booked | SlotTaken] = []

    def actor(i, factory, barrier):
        start_at = TIMES[i % 3]
        barrier.wait()
        if i % 3 == 1 or i % 2:
            # A receptionist books this time on a caller's behalf.
            with factory() as session:
                result = book_appointment(
                    session, service_id=service.id, counselor_id=counselor.id, start_at=start_at, now=now,
                    booked_via=BookedVia.staff, client=session.get(Client, callers[i]), actor=Actor.staff,
                )
                session.commit()
            desk_results.append(result)
            barrier.wait()
            return
        with factory() as session:
            desk = DatabaseDesk(session, session.get(Client, callers[i]), now, BookingRules())
            held = desk.hold(Offer(start_at, counselor.id, False), service.id)
            session.commit()
        barrier.wait()
        booked = None
        if held:
            with factory() as session:
                desk = DatabaseDesk(session, session.get(Client, callers[i]), now, BookingRules())
                booked = desk.book(Offer(start_at, counselor.id, False), service.id, "nb").ok
                session.commit()
        held_and_booked[i] = (held, booked)

    assert run_together(database_url, 18, actor) == []
    refused = [i for i, (held, booked) in held_and_booked.items() if held and not booked]
    assert refused == [], "a desk booking took a time a caller was holding"
    booked = live_appointments(db_session, counselor.id)
    assert booked and len(booked) <= 2
    assert_no_overlaps(booked)
    assert all(isinstance(r, (Booked, SlotTaken)) for r in desk_results)


@pytest.fixture
def two_counselors(make, db_session):
    """Two counselors who fit, both free on Tuesdays 10:00-13:00."""
    make.opening_hours()
    service = make.service(minutes=60, buffer=0)
    counselors = [make.counselor(languages=["nb"], services=[service], hours={1: (time(10), time(13))})
                  for _ in range(2)]
    db_session.commit()
    return service, counselors


@pytest.mark.parametrize("count, free", [(2, 2), (2, 1), (10, 2)])
def test_callers_choosing_one_time_at_once_get_it_with_each_counselor_free_then(
    database_url, make, db_session, two_counselors, now, count, free,
):
    """All were offered 10:00 with the same counselor and choose it at once: as many as
    counselors are free then hold it, each with another, and all of them book it."""
    service, counselors = two_counselors
    if free == 1:
        make.appointment(counselors[1], service, TIMES[0])
    callers = [make.client(language_code="nb").id for _ in range(count)]
    db_session.commit()
    outcome: dict[int, tuple[Offer | None, bool | None]] = {}

    def caller(i, factory, barrier):
        barrier.wait()  # all choose at once
        with factory() as session:
            desk = DatabaseDesk(session, session.get(Client, callers[i]), now, BookingRules())
            held = desk.hold(Offer(TIMES[0], counselors[0].id, False), service.id)
            session.commit()
        barrier.wait()  # and those who got it confirm at once
        booked = None
        if held is not None:
            with factory() as session:
                desk = DatabaseDesk(session, session.get(Client, callers[i]), now, BookingRules())
                booked = desk.book(held, service.id, "nb").ok
                session.commit()
        outcome[i] = (held, booked)

    assert run_together(database_url, count, caller) == []
    assert len(outcome) == count
    held = [offer for offer, _ in outcome.values() if offer is not None]
    assert sorted(offer.counselor_id for offer in held) == [c.id for c in counselors[:free]]
    assert {offer.start_at for offer in held} == {TIMES[0]}
    assert all(booked for offer, booked in outcome.values() if offer is not None)
    for counselor in counselors[:free]:
        [appointment] = live_appointments(db_session, counselor.id)
        assert appointment.start_at == TIMES[0] and appointment.client_id in callers
