"""Retention: the worker erases a caller's number and history RETENTION_DAYS after her
last appointment (or her last contact), keeps the appointments anonymous, and keeps no
number in the audit trail."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduling.clients import find_client, request_callback
from scheduling.clock import FixedClock
from scheduling.models import (
    Actor,
    Appointment,
    AuditEntry,
    BookedVia,
    Call,
    CallbackRequest,
    Client,
    Conversation,
    OutboxMessage,
    Voicemail,
)
from scheduling.worker import Worker
from tests.conftest import NOW, fresh

KEPT = timedelta(days=180)


@pytest.fixture
def worker(sessions):
    clock = FixedClock(NOW)
    return Worker(sessions, clock.now, retention=KEPT), clock


def caller_with_history(make, db_session, number, *, last_contact_at, appointment_end_at=None, service=None,
                        counselor=None):
    caller = make.client(phone_e164=number)
    caller.created_at = caller.last_contact_at = last_contact_at
    appointment = None
    if appointment_end_at is not None:
        appointment = make.appointment(counselor, service, appointment_end_at - timedelta(hours=1),
                                       client_id=caller.id)
    db_session.add(Conversation(client_id=caller.id, state="main", data={"said": number}, updated_at=last_contact_at))
    request_callback(db_session, caller, via=BookedVia.sms, now=last_contact_at)
    db_session.add(Voicemail(call_sid=f"CA{caller.id:032d}", client_id=caller.id, recording_url="https://x/r",
                             received_at=last_contact_at))
    db_session.add(Call(call_sid=f"CB{caller.id:032d}", client_id=caller.id, data={}, started_at=last_contact_at,
                        updated_at=last_contact_at))
    db_session.add(OutboxMessage(client_id=caller.id, kind="notice", template="callback_requested", params={},
                                 due_at=last_contact_at, created_at=last_contact_at, updated_at=last_contact_at,
                                 body=f"call {number}"))
    db_session.flush()
    return caller, appointment


def count(db_session, model, client_id):
    return db_session.scalar(select(func.count()).select_from(model).where(model.client_id == client_id))


def test_the_worker_erases_callers_whose_time_is_up_and_keeps_the_others(make, db_session, worker):
    worker, _clock = worker
    service, counselor = make.service(), make.counselor()
    day = timedelta(days=1)
    long_ago, _ = caller_with_history(make, db_session, "+4790000001", last_contact_at=NOW - KEPT - 2 * day,
                                      appointment_end_at=NOW - KEPT - day, service=service, counselor=counselor)
    never_booked, _ = caller_with_history(make, db_session, "+4790000002", last_contact_at=NOW - KEPT - day)
    recent_visit, _ = caller_with_history(make, db_session, "+4790000003", last_contact_at=NOW - 300 * day,
                                          appointment_end_at=NOW - KEPT + day, service=service, counselor=counselor)
    came_back, _ = caller_with_history(make, db_session, "+4790000004", last_contact_at=NOW - 10 * day,
                                       appointment_end_at=NOW - 400 * day, service=service, counselor=counselor)
    coming_up, _ = caller_with_history(make, db_session, "+4790000005", last_contact_at=NOW - 400 * day,
                                       appointment_end_at=NOW + 3 * day, service=service, counselor=counselor)
    erased_ids = [long_ago.id, never_booked.id]
    kept_ids = [recent_visit.id, came_back.id, coming_up.id]
    db_session.commit()

    worker.tick()

    fresh(db_session)
    assert find_client(db_session, "+4790000001") is None and find_client(db_session, "+4790000002") is None
    for client_id in erased_ids:
        assert db_session.get(Client, client_id) is None
        for model in (Conversation, CallbackRequest, Voicemail, Call, OutboxMessage, Appointment):
            assert count(db_session, model, client_id) == 0, model
    for client_id in kept_ids:
        assert db_session.get(Client, client_id) is not None
        assert count(db_session, Voicemail, client_id) == count(db_session, CallbackRequest, client_id) == 1
    # The staff keep her old appointment, without her.
    assert db_session.scalar(select(func.count()).select_from(Appointment).where(Appointment.client_id.is_(None))) == 1
    [entry] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "caller_erased")).all()
    assert entry.actor == Actor.system and entry.appointment_id is not None


def test_retention_runs_at_most_once_an_hour_per_worker(make, db_session, worker):
    worker, clock = worker
    caller_with_history(make, db_session, "+4790000001", last_contact_at=NOW - KEPT - timedelta(days=1))
    db_session.commit()
    worker.tick()
    caller_with_history(make, db_session, "+4790000002", last_contact_at=NOW - KEPT - timedelta(days=1))
    db_session.commit()

    clock.advance(timedelta(minutes=59))
    worker.tick()
    assert find_client(fresh(db_session), "+4790000002") is not None

    clock.advance(timedelta(minutes=1))
    worker.tick()
    assert find_client(fresh(db_session), "+4790000002") is None


def test_many_expired_callers_are_erased_in_batches(db_session, worker):
    worker, _clock = worker
    old = NOW - KEPT - timedelta(days=1)
    db_session.add_all([Client(phone_e164=f"+479100{i:04d}", is_opted_out=False, created_at=old,
                               last_contact_at=old) for i in range(450)])
    db_session.commit()
    assert worker.erase_expired() == 450
    assert fresh(db_session).scalar(select(func.count()).select_from(Client)) == 0


def test_retention_days_come_from_the_configuration(app):
    from web.worker import make_worker

    assert make_worker(app).retention == timedelta(days=180)  # the default
    app.config["RETENTION_DAYS"] = 30
    assert make_worker(app).retention == timedelta(days=30)


def test_no_audit_entry_keeps_a_phone_number(app, make, db_session, worker):
    """Erasing, booking and cancelling through the domain leave ids in the audit trail, never a number."""
    from scheduling.booking import cancel_appointment

    worker, _clock = worker
    service, counselor = make.service(), make.counselor()
    caller, appointment = caller_with_history(
        make, db_session, "+4790000001", last_contact_at=NOW - timedelta(days=2),
        appointment_end_at=NOW + timedelta(days=2), service=service, counselor=counselor)
    cancel_appointment(db_session, appointment, now=NOW, actor=Actor.caller)
    db_session.commit()
    worker.retention = timedelta(days=1)  # her cancelled appointment is in the future, her contact is not
    worker.tick()

    details = [json.dumps(entry.details) for entry in fresh(db_session).scalars(select(AuditEntry))]
    assert len(details) >= 2
    assert not [d for d in details if "90000001" in d]
