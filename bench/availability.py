"""Benchmark: how long does find_free_slots take to find the next 5 free slots?

A realistic, busy calendar (100 counselors, 60 days, 20,000 booked appointments) is built
in a throwaway database migrated with the project's own Alembic migrations; then
``find_free_slots(..., limit=5)`` is called a few hundred times with varying language and
service, each call in a fresh session (as a web request or a worker tick would), and
p50 / p95 / max / mean are printed beside the target.

SQLite always; PostgreSQL too when ``--postgres URL`` or ``BENCH_DATABASE_URL`` is given
(a database ``linja_bench_<pid>`` is created on that server and dropped at the end).

    .venv/bin/python bench/availability.py
    .venv/bin/python bench/availability.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

This is a benchmark, not a test: it prints figures and exits 0 whatever they are.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import random
import sqlite3
import statistics
import sys
import time as timer
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

import scheduling.availability as availability  # noqa: E402
from scheduling.availability import BookingRules, find_free_slots, norwegian_holidays  # noqa: E402
from bench.databases import add_postgres_option, analyze, migrate, postgres_database, sqlite_database  # noqa: E402
from scheduling.db import make_engine, make_session_factory  # noqa: E402
from scheduling.demo import SERVICES  # noqa: E402
from scheduling.models import (  # noqa: E402
    Appointment,
    AppointmentStatus,
    BookedVia,
    Language,
    OpeningHours,
    Service,
    ServiceName,
    Staff,
    StaffRole,
    WorkingHours,
    staff_languages,
    staff_services,
)

TARGET_MS = 10.0  # p95 per call, on each database (issue 20)
# Monday 23 November 2026, 08:00 in Oslo: the start of a working week.
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
RULES = BookingRules()
TZ = RULES.tz
LIMIT = 5

N_COUNSELORS = 100
N_DAYS = 60
N_APPOINTMENTS = 20_000
OTHER_LANGUAGES = ["en", "ar", "so", "ur", "ti", "fa", "pl"]
# How often each second language is spoken (English most, the rarer ones less).
LANGUAGE_WEIGHTS = [6, 3, 2, 2, 2, 2, 2]
OPENING = (time(8), time(17))  # Mon-Fri
WORK_STARTS = [time(8), time(8), time(8, 30), time(9)]
WORK_HOURS = [7.5, 8, 8, 8.5]
# Share of each working day a counselor would be busy, by week (before exact scaling to
# N_APPOINTMENTS): the next two weeks are all but full, then it thins out.
WEEKLY_FILL = [0.96, 0.90, 0.84, 0.78, 0.72, 0.66, 0.60, 0.55, 0.50]


# --- the data set -------------------------------------------------------------------------


@dataclass
class DataSet:
    service_ids: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    weekly_fill: list[float] = field(default_factory=list)  # busy share of working time
    speakers: dict[str, int] = field(default_factory=dict)  # counselors per language
    build_s: float = 0.0


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TZ).astimezone(timezone.utc)


def _open_days() -> list[date]:
    first = NOW.astimezone(TZ).date()
    days = [first + timedelta(days=i) for i in range(N_DAYS)]
    return [
        d for d in days
        if d.weekday() < 5 and d not in norwegian_holidays(d.year)
    ]


def build_data(session, rng: random.Random) -> DataSet:
    """Fill an empty, migrated database; returns what was built."""
    data = DataSet()
    services = []
    for order, (slug, (minutes, buffer, names)) in enumerate(SERVICES.items()):
        service = Service(slug=slug, duration_minutes=minutes, buffer_minutes=buffer, menu_order=order)
        service.names = [ServiceName(language_code=c, name=n) for c, n in names.items()]
        session.add(service)
        services.append(service)
    for weekday in range(5):
        session.add(OpeningHours(weekday=weekday, opens=OPENING[0], closes=OPENING[1]))
    session.flush()
    data.service_ids = [s.id for s in services]

    languages = {lang.code: lang for lang in session.scalars(select(Language))}
    counselors: list[tuple[Staff, list[Service], list[str], time, time]] = []
    for n in range(N_COUNSELORS):
        k = 1 if rng.random() < 0.6 else 2
        extra: list[str] = []
        while len(extra) < k:
            code = rng.choices(OTHER_LANGUAGES, LANGUAGE_WEIGHTS)[0]
            if code not in extra:
                extra.append(code)
        offered = rng.sample(services, rng.randint(2, 4))
        member = Staff(
            name=f"Counselor {n + 1}", email=f"counselor{n + 1}@bench.example",
            role=StaffRole.counselor, is_active=True, created_at=NOW - timedelta(days=400),
        )
        member.languages = [languages["nb"]] + [languages[c] for c in extra]
        member.services = offered
        session.add(member)
        starts = rng.choice(WORK_STARTS)
        ends_dt = datetime.combine(date.min, starts) + timedelta(hours=rng.choice(WORK_HOURS))
        ends = min(ends_dt.time(), OPENING[1])
        counselors.append((member, offered, ["nb"] + extra, starts, ends))
        for code in ["nb"] + extra:
            data.speakers[code] = data.speakers.get(code, 0) + 1
    # A few staff who are not counselors, as in a real centre; they must be filtered out.
    session.add(Staff(name="Reception", email="reception@bench.example", role=StaffRole.receptionist,
                      is_active=True, created_at=NOW))
    session.add(Staff(name="Admin", email="admin@bench.example", role=StaffRole.admin,
                      is_active=True, created_at=NOW))
    session.flush()
    for member, _, _, starts, ends in counselors:
        for weekday in range(5):
            session.add(WorkingHours(staff_id=member.id, weekday=weekday, starts=starts, ends=ends,
                                     valid_from=date(2026, 1, 1)))
    session.flush()

    # Every counselor's day packed back to back with her own services (some with a short
    # pause between), then a subset kept: the candidates of one counselor never overlap,
    # so any subset is a valid calendar. Each candidate gets the key u / fill(week) and the
    # N_APPOINTMENTS smallest keys are kept, which keeps the weekly profile and the exact
    # count at once.
    days = _open_days()
    first_day = days[0]
    candidates = []  # (key, row, week, busy minutes)
    working_minutes: dict[int, float] = defaultdict(float)
    for member, offered, langs, starts, ends in counselors:
        for day in days:
            week = (day - first_day).days // 7
            fill = WEEKLY_FILL[min(week, len(WEEKLY_FILL) - 1)]
            day_start, day_end = _local(day, starts), _local(day, ends)
            working_minutes[week] += (day_end - day_start).total_seconds() / 60
            cursor = day_start
            while True:
                service = rng.choice(offered)
                end = cursor + timedelta(minutes=service.duration_minutes)
                if end > day_end:
                    break
                busy_until = end + timedelta(minutes=service.buffer_minutes)
                created = NOW - timedelta(days=rng.randint(1, 30))
                language = "nb" if rng.random() < 0.6 else rng.choice(langs)
                row = dict(
                    counselor_id=member.id, service_id=service.id, language_code=language,
                    start_at=cursor, end_at=end, busy_until_at=busy_until,
                    status=AppointmentStatus.booked, is_interpreter_needed=False,
                    booked_via=rng.choice([BookedVia.sms, BookedVia.voice, BookedVia.staff]),
                    version=1, created_at=created, updated_at=created,
                )
                key = rng.random() / fill
                candidates.append((key, row, week, (busy_until - cursor).total_seconds() / 60))
                cursor = busy_until + (timedelta(minutes=15) if rng.random() < 0.15 else timedelta(0))
    if len(candidates) < N_APPOINTMENTS:
        raise SystemExit(f"only {len(candidates)} candidate appointments fit; cannot place {N_APPOINTMENTS}")
    candidates.sort(key=lambda c: c[0])
    kept = candidates[:N_APPOINTMENTS]
    busy_minutes: dict[int, float] = defaultdict(float)
    for _, _, week, minutes in kept:
        busy_minutes[week] += minutes
    data.weekly_fill = [busy_minutes[w] / working_minutes[w] for w in sorted(working_minutes)]
    rows = sorted((c[1] for c in kept), key=lambda r: (r["counselor_id"], r["start_at"]))
    for i in range(0, len(rows), 5000):
        session.execute(insert(Appointment), rows[i:i + 5000])
    session.flush()

    for name, model in [("services", Service), ("staff", Staff), ("working_hours", WorkingHours),
                        ("appointments", Appointment)]:
        data.rows[name] = session.scalar(select(func.count()).select_from(model))
    data.rows["staff_languages"] = session.scalar(select(func.count()).select_from(staff_languages))
    data.rows["staff_services"] = session.scalar(select(func.count()).select_from(staff_services))
    return data


# --- databases ----------------------------------------------------------------------------


# --- measuring ----------------------------------------------------------------------------


class Breakdown:
    """Times the steps of find_free_slots by wrapping the module's helpers while timing.

    find_free_slots looks its helpers up as module globals, so replacing them on the
    module (and putting them back afterwards) is enough; each wrapper costs a couple of
    perf_counter calls, microseconds against a budget of milliseconds.
    """

    STEPS = ("_load_calendars", "load_centre", "_load_busy", "free_slots")

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.windows = 0
        self.busy_rows = 0

    def _wrap(self, name, fn):
        def timed(*args, **kwargs):
            t0 = timer.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += timer.perf_counter() - t0
                if name == "_load_busy":
                    self.windows += 1
                    self.busy_rows += sum(len(c.busy) for c in args[1])
        return timed

    @contextlib.contextmanager
    def installed(self):
        # Only the helpers that exist: the module may be refactored under the benchmark.
        originals = {name: getattr(availability, name) for name in self.STEPS if hasattr(availability, name)}
        try:
            for name, fn in originals.items():
                setattr(availability, name, self._wrap(name, fn))
            yield self
        finally:
            for name, fn in originals.items():
                setattr(availability, name, fn)


@dataclass
class Result:
    backend: str
    version: str
    data: DataSet
    timings_ms: list[float]
    first_slot_days: list[float]
    interpreter_share: float
    short_results: int
    breakdown: Breakdown
    by_language: dict[str, list[float]]
    profile: str | None = None


def _workload(service_ids: list[int], calls: int, rng: random.Random) -> list[tuple[int, str]]:
    combos = [(s, lang) for s in service_ids for lang in ["nb"] + OTHER_LANGUAGES]
    work = [combos[i % len(combos)] for i in range(calls)]
    rng.shuffle(work)
    return work


def run_backend(backend: str, url: str, args) -> Result:
    rng = random.Random(args.seed)
    started = timer.perf_counter()
    migrate(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            data = build_data(session, rng)
        analyze(engine, "VACUUM ANALYZE")
        data.build_s = timer.perf_counter() - started

        def call(service_id: int, language: str):
            # A fresh session per call, as a web request or a worker tick gets one. The
            # connection checkout and BEGIN (BEGIN IMMEDIATE on SQLite) happen lazily
            # inside find_free_slots and are therefore part of the figure.
            with factory() as session:
                t0 = timer.perf_counter()
                slots = find_free_slots(session, service_id=service_id, language_code=language,
                                        now=NOW, rules=RULES, limit=LIMIT)
                elapsed = timer.perf_counter() - t0
                session.rollback()
            return elapsed * 1000, slots

        for service_id, language in _workload(data.service_ids, args.warmup, random.Random(args.seed + 1)):
            call(service_id, language)

        timings, first_days, interpreter, total, short = [], [], 0, 0, 0
        by_language: dict[str, list[float]] = defaultdict(list)
        breakdown = Breakdown()
        with breakdown.installed():
            measured = [
                (language, call(service_id, language))
                for service_id, language in _workload(data.service_ids, args.calls, random.Random(args.seed + 2))
            ]
        for language, (ms, slots) in measured:
            timings.append(ms)
            by_language[language].append(ms)
            if len(slots) < LIMIT:
                short += 1
            if slots:
                first_days.append((slots[0].start_at - NOW).total_seconds() / 86400)
            interpreter += sum(s.is_interpreter_needed for s in slots)
            total += len(slots)

        profile_text = None
        if args.profile:
            profiler = cProfile.Profile()
            work = _workload(data.service_ids, args.profile, random.Random(args.seed + 3))
            profiler.enable()
            for service_id, language in work:
                call(service_id, language)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(20)
            profile_text = out.getvalue()
        version = (f"SQLite {sqlite3.sqlite_version}" if engine.dialect.name == "sqlite" else
                   "PostgreSQL " + ".".join(map(str, engine.dialect.server_version_info or ())))
        return Result(backend, version, data, timings, first_days, interpreter / max(total, 1), short,
                      breakdown, dict(by_language), profile_text)
    finally:
        engine.dispose()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def report(results: list[Result], args) -> None:
    first = results[0].data
    print()
    print(f"find_free_slots(limit={LIMIT}), now = {NOW:%Y-%m-%d %H:%M} UTC, "
          f"{args.calls} timed calls after {args.warmup} warm-up, fresh session per call, seed {args.seed}")
    print(f"python {sys.version.split()[0]}, " + ", ".join(r.version for r in results))
    print("data: " + ", ".join(f"{v:,} {k}" for k, v in first.rows.items()))
    print("      counselors per language: " + " ".join(
        f"{code} {first.speakers.get(code, 0)}" for code in ["nb"] + OTHER_LANGUAGES))
    print("      busy share of working time by week: "
          + " ".join(f"{f * 100:.0f}%" for f in first.weekly_fill))
    print()
    head = (f"{'database':<11}{'build s':>8}{'calls':>7}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}"
            f"{'mean ms':>9}  target < {TARGET_MS:.0f} ms (p95)")
    print(head)
    print("-" * len(head))
    for r in results:
        t = r.timings_ms
        p95 = _pct(t, 0.95)
        verdict = "target met" if p95 < TARGET_MS else f"target MISSED ({p95 / TARGET_MS:.1f}x)"
        print(f"{r.backend:<11}{r.data.build_s:>8.1f}{len(t):>7}{_pct(t, 0.5):>8.1f}{p95:>8.1f}"
              f"{max(t):>8.1f}{statistics.fmean(t):>9.1f}  {verdict}")
    print()
    for r in results:
        days = r.first_slot_days
        print(f"{r.backend}: first slot found {min(days):.1f} / {statistics.median(days):.1f} / "
              f"{max(days):.1f} days after now (min / median / max); "
              f"{r.interpreter_share * 100:.0f}% of offered slots need an interpreter; "
              f"{r.short_results} calls returned fewer than {LIMIT}")
    print()
    print("where the time goes (mean per call):")
    for r in results:
        b, n = r.breakdown, len(r.timings_ms)
        parts = [(step.lstrip("_"), b.seconds[step] * 1000 / n) for step in Breakdown.STEPS]
        rest = statistics.fmean(r.timings_ms) - sum(ms for _, ms in parts)
        print(f"  {r.backend:<11}" + "  ".join(f"{name} {ms:.1f} ms" for name, ms in parts)
              + f"  other {rest:.1f} ms  | {b.windows / n:.1f} windows, {b.busy_rows / n:,.0f} busy rows")
    print("p50 by language (ms):")
    for r in results:
        print(f"  {r.backend:<11}" + "  ".join(
            f"{lang} {_pct(r.by_language[lang], 0.5):.0f}" for lang in ["nb"] + OTHER_LANGUAGES
            if lang in r.by_language))
    for r in results:
        if r.profile:
            print(f"\n=== cProfile, {r.backend}, {args.profile} calls ===")
            print(r.profile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_postgres_option(parser)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per database (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls first (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of data and workload (default 1)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after timing, run N more calls under cProfile and print the top functions")
    args = parser.parse_args(argv)

    results = []
    backends = [("sqlite", sqlite_database, ())]
    if args.postgres:
        backends.append(("postgresql", postgres_database, (args.postgres,)))
    for backend, database, db_args in backends:
        print(f"{backend}: building data set and measuring ...", file=sys.stderr, flush=True)
        with database(*db_args) as url:
            results.append(run_backend(backend, url, args))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
