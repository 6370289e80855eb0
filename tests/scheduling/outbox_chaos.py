"""Bad luck for the outbox, as real processes meet it: several `flask worker` processes
share a rate and a short lease against a slow fake Twilio, and are stopped (SIGTERM, as a
deploy does) or killed (SIGKILL) mid-send. Used by tests/scheduling/test_worker_processes.py
and by `make bench` (bench/outbox.py), which prints the same figures."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from scheduling.models import Client, OutboxMessage, OutboxStatus
from tests.conftest import next_noon_in_oslo
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
CALLBACK_TEXT = "Takk. Noen som snakker ditt språk, ringer deg snart."


def due_texts(sessions: sessionmaker[Session], count: int, first: int = 0) -> list[str]:
    """``count`` callers, each with one text due a minute ago (the workers use the real clock)."""
    now = datetime.now(timezone.utc)
    numbers = [f"+479{i:07d}" for i in range(first, first + count)]
    with sessions() as session, session.begin():
        session.execute(insert(Client), [
            {"phone_e164": n, "language_code": "nb", "is_opted_out": False, "created_at": now} for n in numbers])
        ids = session.execute(select(Client.id).order_by(Client.id.desc()).limit(count)).scalars().all()
        session.execute(insert(OutboxMessage), [
            {"client_id": cid, "kind": "notice", "template": "callback_requested", "params": {},
             "language_code": "nb", "status": OutboxStatus.pending, "due_at": now - timedelta(minutes=1),
             "attempts": 0, "created_at": now, "updated_at": now} for cid in ids])
    return numbers


def start_worker(database_url: str, api_base: str, log_path: Path, *, per_second: float, lease: float,
                 timeout: float) -> subprocess.Popen:
    env = {
        **os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test", "PUBLIC_BASE_URL": "https://linja.test",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM": "+4759440000",
        "TWILIO_API_BASE": api_base, "SMS_PER_SECOND": str(per_second), "OUTBOX_LEASE_SECONDS": str(int(lease)),
        "TWILIO_TIMEOUT_SECONDS": str(timeout), "WORKER_INTERVAL_SECONDS": "0.2",
        "LINJA_CLOCK": next_noon_in_oslo(),
    }
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log_path.open("a"))


def unsent(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.sending))))


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@dataclass
class Figures:
    texts: int
    workers: int
    sent: int = 0  # texts Twilio accepted
    duplicates: int = 0  # callers who got the text more than once
    extra: int = 0  # texts accepted beyond one per caller
    lost: int = 0  # callers who got nothing
    finished: bool = False
    seconds: float = 0.0
    stop_seconds: list[float] = field(default_factory=list)  # SIGTERM to exit, per stop
    in_flight_at_kill: int = 0  # texts claimed by all workers when one was killed
    lookups: int = 0  # list requests: sends whose fate was looked up

    def line(self) -> str:
        stops = ", ".join(f"{s:.1f}" for s in self.stop_seconds) or "-"
        return (f"{self.texts} texts, {self.workers} workers: {self.sent} sent, {self.duplicates} duplicates, "
                f"{self.lost} lost, in {self.seconds:.1f} s; exits after SIGTERM (s): {stops}; "
                f"claimed when one was killed: {self.in_flight_at_kill}; look-ups: {self.lookups}")


def run(database_url: str, sessions: sessionmaker[Session], logs: Path, *, texts: int = 120, workers: int = 3,
        per_second: float = 5, lease: float = 8, timeout: float = 3, delay: tuple[float, float] = (1, 2),
        stop: str = "term", same_sid: str | None = None, finish_within: float = 120) -> Figures:
    """Send ``texts`` due texts with ``workers`` worker processes; ``stop``: "term" stops each
    worker once with SIGTERM (and starts it again), "kill" kills one with SIGKILL, "" none."""
    fake = FakeTwilio(delay_range=delay, same_sid=same_sid).start()
    logs.mkdir(parents=True, exist_ok=True)
    figures = Figures(texts, workers)
    numbers = due_texts(sessions, texts)
    spawn = 0

    def new_worker() -> subprocess.Popen:
        nonlocal spawn
        spawn += 1
        return start_worker(database_url, fake.api_base, logs / f"worker{spawn}.log", per_second=per_second,
                            lease=lease, timeout=timeout)

    processes = [new_worker() for _ in range(workers)]
    started = time.monotonic()
    try:
        # Let them get going: the first texts are on the wire.
        wait_until(lambda: len(fake.messages) >= min(10, texts // 4), timeout=60)
        if stop == "term":
            for index in range(workers):
                process = processes[index]
                process.send_signal(signal.SIGTERM)
                stopped_at = time.monotonic()
                process.wait(timeout=30)
                figures.stop_seconds.append(time.monotonic() - stopped_at)
                processes[index] = new_worker()
                time.sleep(2)
        elif stop == "kill":
            processes[0].send_signal(signal.SIGKILL)
            processes[0].wait(timeout=10)
            with sessions() as session:
                figures.in_flight_at_kill = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.status == OutboxStatus.sending))
            processes[0] = new_worker()
        figures.finished = wait_until(lambda: unsent(sessions) == 0, timeout=finish_within)
        figures.seconds = time.monotonic() - started
        # A lease and a bit more: anything a worker would wrongly send again has gone by now.
        if same_sid:
            time.sleep(lease + 2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        fake.stop()
    received = Counter(m.to for m in fake.messages)
    figures.sent = sum(received.values())
    figures.duplicates = sum(1 for n in numbers if received[n] > 1)
    figures.extra = sum(received[n] - 1 for n in numbers if received[n] > 1)
    figures.lost = sum(1 for n in numbers if received[n] == 0)
    figures.lookups = fake.lookups
    return figures
