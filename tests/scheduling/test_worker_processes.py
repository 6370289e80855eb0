"""Real worker processes: several at once send each text exactly once, keep the rate
limit between them, and a worker stopped, killed or slowed down mid-send loses nothing and
sends nothing twice."""
from __future__ import annotations

import signal
from collections import Counter

import pytest
from sqlalchemy import func, select

from scheduling.models import OutboxMessage, OutboxStatus
from tests.conftest import fresh
from tests.scheduling import outbox_chaos
from tests.scheduling.outbox_chaos import due_texts, unsent, wait_until


def start_worker(database_url, fake, log_path, *, per_second: float, lease: int = 30):
    return outbox_chaos.start_worker(database_url, fake.api_base, log_path, per_second=per_second, lease=lease,
                                     timeout=min(10, lease / 2))


def test_several_workers_send_each_text_exactly_once_within_the_rate(database_url, sessions, db_session, fake_twilio,
                                                                    tmp_path):
    # SQLite has one writer at a time, so one worker; PostgreSQL gets three.
    workers, count, rate = (3, 2000, 250) if database_url.startswith("postgresql") else (1, 300, 150)
    numbers = due_texts(sessions, count)
    processes = [start_worker(database_url, fake_twilio, tmp_path / f"worker{i}.log", per_second=rate)
                 for i in range(workers)]
    try:
        assert wait_until(lambda: unsent(sessions) == 0, timeout=120), "the workers did not finish"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
    received = sorted(m.to for m in fake_twilio.messages)
    assert received == sorted(numbers)  # every caller once, nobody twice
    assert {m.body for m in fake_twilio.messages} == {"Takk. Noen som snakker ditt språk, ringer deg snart."}
    # The rate limit holds for all workers together: no second sees more than `rate`.
    times = sorted(m.at for m in fake_twilio.messages)
    busiest = max(sum(1 for t in times[i:i + rate + 5] if t - start < 1.0) for i, start in enumerate(times))
    assert busiest <= rate * 1.05 + 2, busiest
    assert times[-1] - times[0] >= (count - 1) / rate * 0.9


def test_a_worker_killed_mid_send_loses_nothing_and_resends_at_most_once(database_url, sessions, db_session, fake_twilio,
                                                                         tmp_path):
    numbers = due_texts(sessions, 150)
    fake_twilio.delay = 0.02
    first = start_worker(database_url, fake_twilio, tmp_path / "first.log", per_second=0, lease=4)
    assert wait_until(lambda: len(fake_twilio.messages) >= 40, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    in_flight = fresh(db_session).scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.sending))
    assert in_flight > 0  # it died holding claimed texts
    sent_before = len(fake_twilio.messages)
    assert sent_before < len(numbers)

    second = start_worker(database_url, fake_twilio, tmp_path / "second.log", per_second=0, lease=4)
    try:
        assert wait_until(lambda: unsent(sessions) == 0, timeout=60), "the second worker did not finish"
    finally:
        second.terminate()
        second.wait(timeout=10)
    received = Counter(m.to for m in fake_twilio.messages)
    assert set(received) == set(numbers)  # nothing lost
    # Only texts on the wire when it died (a worker keeps up to 8 in flight) could go twice,
    # and none more than twice; those whose send had begun are looked up at Twilio first.
    assert max(received.values()) <= 2
    assert sum(received.values()) - len(numbers) <= min(in_flight, 8)
    assert "claimed by a worker that stopped; taking it over" in (tmp_path / "second.log").read_text()


# --- the chaos runs: three workers, a slow Twilio, a shared rate, a short lease -----------------

def chaos_settings(database_url: str) -> dict:
    # SQLite has one writer at a time, so one worker runs there; PostgreSQL gets three.
    if database_url.startswith("postgresql"):
        return {"workers": 3, "texts": 120}
    return {"workers": 1, "texts": 40}


def test_workers_sharing_a_rate_against_a_slow_twilio_and_stopped_by_deploys_send_each_text_once(
        database_url, sessions, tmp_path):
    # 5 texts a second shared by the workers, an 8 s lease, Twilio answering each text after
    # 1-2 s: a worker holds far more than it can send within one lease unless it renews it.
    # Each worker is stopped once with SIGTERM, as a deploy does, and started again.
    figures = outbox_chaos.run(database_url, sessions, tmp_path, per_second=5, lease=8, timeout=3, stop="term",
                               **chaos_settings(database_url))
    print(figures.line())
    assert figures.finished, figures.line()
    assert (figures.duplicates, figures.lost) == (0, 0), figures.line()
    # Each stop: no new claims, the sends on the wire finish (1-2 s), the rest is given back.
    assert max(figures.stop_seconds) < 5, figures.line()


def test_a_worker_killed_among_others_loses_nothing_and_resends_no_more_than_it_had_in_flight(
        database_url, sessions, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL; the single SQLite worker is killed in the test above")
    figures = outbox_chaos.run(database_url, sessions, tmp_path, texts=90, per_second=5, lease=8, timeout=3,
                               stop="kill", workers=3)
    print(figures.line())
    assert figures.finished and figures.lost == 0, figures.line()
    assert figures.in_flight_at_kill > 0, figures.line()
    # At most the texts on the wire (8), and only once more; those begun are looked up first.
    assert figures.extra <= min(figures.in_flight_at_kill, 8), figures.line()


def test_a_twilio_that_repeats_one_sid_gets_each_text_once_from_worker_processes(database_url, sessions, tmp_path):
    figures = outbox_chaos.run(database_url, sessions, tmp_path, texts=20, workers=1, per_second=0, lease=4,
                               timeout=1, delay=(0, 0.05), stop="", same_sid="SM" + "e" * 32, finish_within=60)
    print(figures.line())
    assert figures.finished, figures.line()
    assert (figures.sent, figures.duplicates, figures.lost) == (20, 0, 0), figures.line()
