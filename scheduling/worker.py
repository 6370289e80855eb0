"""The worker: APScheduler wakes it every few seconds; the database holds the truth.

There is exactly one interval job. Each tick opens a session, does the due work (later
issues add sending the outbox here), records a heartbeat and commits once, so a restart
loses nothing. Reminders are never APScheduler jobs of their own.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from scheduling.db import transaction
from scheduling.holds import purge_expired_holds
from scheduling.models import InboundMessage, WorkerHeartbeat

log = logging.getLogger(__name__)

INBOUND_KEPT_FOR = timedelta(days=1)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def tick(session: Session, now: datetime, name: str) -> None:
    purge_expired_holds(session, now)
    # Twilio retries a webhook within minutes; a day is plenty to recognise a retry, and
    # nothing of her messages is kept longer than it must be.
    session.execute(delete(InboundMessage).where(InboundMessage.received_at < now - INBOUND_KEPT_FOR))
    heartbeat = session.get(WorkerHeartbeat, name)
    if heartbeat is None:
        session.add(WorkerHeartbeat(name=name, seen_at=now))
    else:
        heartbeat.seen_at = now
    session.flush()


def run_tick(sessions: sessionmaker[Session], clock_now: Callable[[], datetime], name: str) -> None:
    try:
        with transaction(sessions) as session:
            tick(session, clock_now(), name)
    except Exception:  # a failed tick must not stop the next one
        log.exception("worker tick failed")


def build_scheduler(
    sessions: sessionmaker[Session],
    clock_now: Callable[[], datetime],
    *,
    interval_seconds: float,
    blocking: bool = False,
) -> BaseScheduler:
    scheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    scheduler.add_job(
        run_tick,
        "interval",
        seconds=interval_seconds,
        args=(sessions, clock_now, worker_name()),
        id="linja-worker-tick",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler
