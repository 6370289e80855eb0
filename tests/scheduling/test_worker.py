from __future__ import annotations

from datetime import timedelta

from scheduling.models import WorkerHeartbeat
from scheduling.worker import run_tick


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
