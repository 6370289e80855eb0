"""The worker: APScheduler wakes it every few seconds; the database holds the truth.

There is exactly one interval job. Each tick sweeps what has expired, records a
heartbeat, and sends the texts that are due (``scheduling.sending``). Reminders are never
APScheduler jobs of their own: a job store cannot be shared between processes, and a job
that falls due during a restart would be dropped after a one-second grace.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from scheduling.db import transaction
from scheduling.holds import purge_expired_holds
from scheduling.models import FormToken, InboundMessage, WorkerHeartbeat
from scheduling.retention import BATCH as RETENTION_BATCH
from scheduling.retention import erase_expired_clients
from scheduling.sending import OutboxSender

log = logging.getLogger(__name__)

INBOUND_KEPT_FOR = timedelta(days=1)
# The number hash behind the keyword cap (hotline.abuse) is needed for its hour, no longer.
SENDER_HASH_KEPT_FOR = timedelta(hours=1)
# Callers whose time is up are erased at most this often per worker process.
RETENTION_EVERY = timedelta(hours=1)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def housekeeping(session: Session, now: datetime, name: str) -> None:
    purge_expired_holds(session, now)
    # Twilio retries a webhook within minutes; a day is plenty to recognise a retry, and
    # nothing of her messages is kept longer than it must be.
    session.execute(delete(InboundMessage).where(InboundMessage.received_at < now - INBOUND_KEPT_FOR))
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.sender_hash.is_not(None), InboundMessage.received_at <= now - SENDER_HASH_KEPT_FOR)
        .values(sender_hash=None)
    )
    # An expired token is refused by its signature alone (staff.once): its row can go.
    session.execute(delete(FormToken).where(FormToken.expires_at < now))
    heartbeat = session.get(WorkerHeartbeat, name)
    if heartbeat is None:
        session.add(WorkerHeartbeat(name=name, seen_at=now))
    else:
        heartbeat.seen_at = now
    session.flush()


@dataclass
class Worker:
    sessions: sessionmaker[Session]
    now: Callable[[], datetime]
    outbox: OutboxSender | None = None
    name: str = field(default_factory=worker_name)
    # A tick hands over texts for at most this long, then lets the next tick begin.
    tick_budget_seconds: float = 30.0
    # How long a caller's number and history are kept (scheduling.retention); None: forever.
    retention: timedelta | None = None
    # Further work on every tick, each in its own transaction (the studio's takes).
    jobs: tuple[Callable[[Session, datetime], object], ...] = ()
    # Work that queues texts (the waiting list's offers): before the outbox, so they go in
    # the same tick.
    before_sending: tuple[Callable[[Session, datetime], object], ...] = ()
    _retention_ran_at: datetime | None = field(default=None, init=False, repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    def stop(self) -> None:
        """Claim nothing more; the tick under way finishes the sends on the wire and gives
        back the rest (see scheduling.sending)."""
        self._stopped = True
        if self.outbox is not None:
            self.outbox.stopping.set()

    def tick(self) -> None:
        if self._stopped:
            return
        try:
            with transaction(self.sessions) as session:
                housekeeping(session, self.now(), self.name)
        except Exception:  # a failed tick must not stop the next one
            log.exception("worker tick failed")
        for job in self.before_sending:
            try:
                with transaction(self.sessions) as session:
                    job(session, self.now())
            except Exception:
                log.exception("worker job failed; tried again on the next tick")
        try:
            if self.outbox is not None:
                deadline = _time.monotonic() + self.tick_budget_seconds
                self.outbox.send_due(until=lambda: _time.monotonic() > deadline)
        except Exception:  # a failed tick must not stop the next one
            log.exception("worker tick failed")
        for job in self.jobs:
            if self._stopped:
                return
            try:
                with transaction(self.sessions) as session:
                    job(session, self.now())
            except Exception:
                log.exception("worker job failed; tried again on the next tick")
        if self._stopped:
            return
        try:
            self.erase_expired()
        except Exception:
            log.exception("retention failed; tried again in an hour")

    def erase_expired(self) -> int:
        """Erase the callers whose time is up, a batch per transaction; at most once an hour."""
        if self.retention is None:
            return 0
        now = self.now()
        if self._retention_ran_at is not None and now - self._retention_ran_at < RETENTION_EVERY:
            return 0
        self._retention_ran_at = now  # a run that fails is tried again an hour later
        erased, deadline = 0, _time.monotonic() + self.tick_budget_seconds
        while True:
            with transaction(self.sessions) as session:
                count = erase_expired_clients(session, now, self.retention)
            erased += count
            if count < RETENTION_BATCH:
                break
            if _time.monotonic() > deadline:
                self._retention_ran_at = None  # the next tick goes on where this one stopped
                break
        if erased:
            log.info("retention: erased %d callers", erased)
        return erased


def run_until_stopped(worker: Worker, *, interval_seconds: float, on_start: Callable[[], None] = lambda: None) -> None:
    """The worker process: tick every few seconds until SIGTERM (what a deploy sends) or
    SIGINT, then stop cleanly: no new claims, sends on the wire finished, the rest
    released at once for the other workers, and exit within a few seconds."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    scheduler = build_scheduler(worker, interval_seconds=interval_seconds)
    scheduler.start()
    on_start()
    while not stop.wait(1):
        pass
    log.info("stopping: finishing the sends under way")
    worker.stop()
    scheduler.shutdown(wait=True)
    log.info("stopped")


def build_scheduler(worker: Worker, *, interval_seconds: float, blocking: bool = False) -> BaseScheduler:
    scheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    scheduler.add_job(
        worker.tick,
        "interval",
        seconds=interval_seconds,
        id="linja-worker-tick",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler
