"""Holds: a time a caller is confirming is busy for everyone else until her hold runs out,
guarded by the database; an expired hold never stands in anyone's way."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from scheduling.holds import HOLD_FOR
from scheduling.models import SlotHold
from tests.conftest import oslo

TUESDAY_10 = oslo(2026, 11, 24, 10, 0)


@pytest.fixture
def calendar(make):
    make.opening_hours()
    service = make.service(minutes=60, buffer=15)
    counselor = make.counselor(languages=["nb"], services=[service])
    other = make.counselor(languages=["nb"], services=[service])
    return service, counselor, other


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
