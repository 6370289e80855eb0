"""Benchmark: how long does the desk's day board take for 100 counselors?

The same busy calendar as ``bench/availability.py`` (100 counselors, 60 days, 20,000
booked appointments; about 480 of them on the day shown) is built in a throwaway database
migrated with the project's own Alembic migrations. A receptionist signs in through the
login form, then ``GET /staff/board`` is loaded again and again through the whole app
(routing, login check, queries, template), as her browser would, in a process that has
frozen what it loaded as a gunicorn worker does (web/serving.py); the time of each load
and the SQL statements it ran are printed beside the target.

SQLite always; PostgreSQL too when ``--postgres URL`` or ``BENCH_DATABASE_URL`` is given.

    .venv/bin/python bench/board.py
    .venv/bin/python bench/board.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

This is a benchmark, not a test: it prints figures and exits 0 whatever they are.
"""
from __future__ import annotations

import argparse
import gc
import random
import re
import statistics
import sys
import time as timer
from datetime import timedelta
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from bench.availability import NOW, build_data  # noqa: E402
from bench.databases import add_postgres_option, analyze, migrate, postgres_database, sqlite_database  # noqa: E402
from scheduling.clock import FixedClock  # noqa: E402
from scheduling.db import make_engine, make_session_factory  # noqa: E402
from scheduling.models import Appointment, Client, Staff, StaffRole  # noqa: E402
from staff.passwords import hash_password  # noqa: E402
from web import serving  # noqa: E402

TARGET_MS = 100.0  # p95 per load of the board for 100 counselors (issue 20)
EMAIL, PASSWORD = "desk@bench.example", "a board for a hundred"


@dataclass
class Result:
    backend: str
    timings: list[float]
    statements: list[int]
    columns: int
    cards: int
    kilobytes: float


def _build(url: str, seed: int) -> None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            build_data(session, random.Random(seed))
            # Every appointment on the day shown has a caller with a number (the card shows
            # its last two digits), as on a real board.
            day_start = NOW.replace(hour=0)
            shown = session.scalars(select(Appointment).where(
                Appointment.start_at >= day_start, Appointment.start_at < day_start + timedelta(days=1))).all()
            for n, appointment in enumerate(shown):
                appointment.client = Client(phone_e164=f"+47{40000000 + n}", language_code="nb", created_at=NOW)
            session.add(Staff(name="Desk", email=EMAIL, role=StaffRole.receptionist, is_active=True,
                              created_at=NOW, password_hash=hash_password(PASSWORD)))
        analyze(engine, "VACUUM ANALYZE")
    finally:
        engine.dispose()


def _signed_in_client(app):
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    answer = client.post("/staff/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    if answer.status_code != 302:
        raise SystemExit(f"signing in failed: {answer.status_code}")
    return client


def run_backend(backend: str, url: str, args) -> Result:
    from app import create_app

    migrate(url)
    app = create_app({
        "TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench-board", "CLOCK": FixedClock(NOW),
        "PUBLIC_BASE_URL": "https://linja.test", "LOG_JSON": False, "LOG_LEVEL": "WARNING",
    })
    _build(url, args.seed)  # after create_app, which sets the keys phone numbers are stored with
    engine = app.extensions["linja.engine"]
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_):
        statements[0] += 1

    try:
        client = _signed_in_client(app)
        # As a gunicorn worker does once it has loaded the app (web/serving.py).
        serving.post_worker_init(worker=None)
        for _ in range(args.warmup):
            client.get("/staff/board")
        timings, counts = [], []
        for _ in range(args.loads):
            statements[0] = 0
            t0 = timer.perf_counter()
            page = client.get("/staff/board")
            timings.append((timer.perf_counter() - t0) * 1000)
            counts.append(statements[0])
            if page.status_code != 200:
                raise SystemExit(f"the board answered {page.status_code}")
        html = page.get_data(as_text=True)
        return Result(backend, timings, counts, html.count('class="board-column'),
                      html.count('class="slot-card'), len(page.get_data()) / 1024)
    finally:
        gc.unfreeze()
        engine.dispose()


def report(results: list[Result]) -> None:
    print(f"The day board, GET /staff/board, 100 counselors, {NOW.date()} (a Monday), "
          f"signed in as a receptionist; target p95 < {TARGET_MS:.0f} ms")
    print(f"{'database':<12}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'SQL':>6}{'columns':>9}"
          f"{'cards':>7}{'KiB':>7}  verdict")
    for r in results:
        ordered = sorted(r.timings)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        sql = "/".join(str(n) for n in sorted(set(r.statements)))
        verdict = "met" if p95 < TARGET_MS else "MISSED"
        print(f"{r.backend:<12}{statistics.median(ordered):>9.1f}{p95:>9.1f}{ordered[-1]:>9.1f}{sql:>6}"
              f"{r.columns:>9}{r.cards:>7}{r.kilobytes:>7.0f}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    add_postgres_option(parser)
    args = parser.parse_args(argv)
    results = []
    with sqlite_database("linja_board_") as url:
        results.append(run_backend("SQLite", url, args))
    if args.postgres:
        with postgres_database(args.postgres, "linja_board") as url:
            results.append(run_backend("PostgreSQL", url, args))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
