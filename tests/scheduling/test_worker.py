from __future__ import annotations

from datetime import timedelta

from scheduling.models import WorkerHeartbeat
from scheduling.worker import Worker


def run_tick(sessions, clock_now, name):
    Worker(sessions, clock_now, name=name).tick()


def test_each_tick_records_that_the_worker_is_alive(sessions, db_session, now):
    run_tick(sessions, lambda: now, "worker-a")
    run_tick(sessions, lambda: now + timedelta(seconds=5), "worker-a")
    run_tick(sessions, lambda: now, "worker-b")
    beats = {b.name: b.seen_at for b in db_session.query(WorkerHeartbeat)}
    assert beats == {"worker-a": now + timedelta(seconds=5), "worker-b": now}


def test_a_failing_tick_does_not_stop_the_worker(sessions, caplog):
    def broken_clock():
        raise RuntimeError("clock broke")

    run_tick(sessions, broken_clock, "worker-a")  # logged, not raised
    assert "worker tick failed" in caplog.text


def test_the_tick_sweeps_expired_holds_and_old_message_records(sessions, db_session, make, now):
    from scheduling.models import InboundMessage, SlotHold
    from tests.conftest import fresh

    counselor = make.counselor()
    caller = make.client()
    db_session.add_all([
        SlotHold(client_id=caller.id, counselor_id=counselor.id, start_at=now + timedelta(days=1),
                 busy_until_at=now + timedelta(days=1, hours=1), expires_at=now - timedelta(seconds=1)),
        SlotHold(client_id=caller.id, counselor_id=counselor.id, start_at=now + timedelta(days=2),
                 busy_until_at=now + timedelta(days=2, hours=1), expires_at=now + timedelta(minutes=4)),
        InboundMessage(message_sid="SM-old", client_id=caller.id, received_at=now - timedelta(days=2), reply_twiml="<Response/>"),
        InboundMessage(message_sid="SM-new", client_id=caller.id, received_at=now - timedelta(hours=1), reply_twiml="<Response/>"),
    ])
    db_session.commit()
    run_tick(sessions, lambda: now, "worker-a")
    fresh(db_session)
    assert [h.expires_at for h in db_session.query(SlotHold)] == [now + timedelta(minutes=4)]
    assert [m.message_sid for m in db_session.query(InboundMessage)] == ["SM-new"]
