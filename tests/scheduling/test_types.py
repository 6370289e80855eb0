"""Instants survive a round trip through every database unchanged."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from scheduling.models import Absence
from tests.conftest import OSLO


def test_the_repeated_october_hour_reads_back_as_two_different_instants(db_session, make):
    counselor = make.counselor()
    first = datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)   # 02:30 summer time in Oslo
    second = datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc)  # 02:30 winter time in Oslo
    assert first.astimezone(OSLO).strftime("%H:%M") == second.astimezone(OSLO).strftime("%H:%M")
    db_session.add_all([
        Absence(staff_id=counselor.id, starts_at=first, ends_at=first + timedelta(minutes=1), reason="a"),
        Absence(staff_id=counselor.id, starts_at=second, ends_at=second + timedelta(minutes=1), reason="b"),
    ])
    db_session.commit()
    db_session.expunge_all()

    rows = dict(db_session.execute(select(Absence.reason, Absence.starts_at)).all())
    assert rows["a"] == first and rows["b"] == second
    assert rows["a"] != rows["b"]
    assert rows["a"].utcoffset() == timedelta(0) and rows["b"].utcoffset() == timedelta(0)


def test_an_instant_given_in_local_time_is_stored_as_the_same_instant(db_session, make):
    counselor = make.counselor()
    local = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=OSLO)  # the second 02:30
    db_session.add(Absence(staff_id=counselor.id, starts_at=local, ends_at=local + timedelta(hours=1)))
    db_session.commit()
    db_session.expunge_all()
    stored = db_session.scalars(select(Absence.starts_at)).one()
    assert stored == datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc)


def test_stored_instants_compare_in_queries_across_offsets(db_session, make):
    counselor = make.counselor()
    at = datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)
    db_session.add(Absence(staff_id=counselor.id, starts_at=at, ends_at=at + timedelta(hours=1)))
    db_session.commit()
    query = select(Absence.id).where(Absence.starts_at > datetime(2026, 10, 25, 2, 0, tzinfo=OSLO))
    assert db_session.scalars(query).all() != []  # 02:00+02:00 is 00:00Z, before 00:30Z


def test_a_naive_datetime_is_refused(db_session, make):
    counselor = make.counselor()
    db_session.add(Absence(staff_id=counselor.id, starts_at=datetime(2026, 11, 24, 9),
                           ends_at=datetime(2026, 11, 24, 10)))
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()
