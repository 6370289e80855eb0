"""Benchmark: how many due texts a second do the outbox workers hand to Twilio?

A throwaway database, migrated with the project's own Alembic migrations, gets N callers
with one text each due a minute ago. A fake Twilio server (``tests.fake_twilio``) runs as
a process of its own and logs every text it accepts with the time; then K real worker
processes (``flask --app app send-due``, which sends everything due and exits) are
started with the rate limit off (``SMS_PER_SECOND=0``). Throughput is counted from the
fake server's log, from its first text to its last, so process start-up is left out.
The workers' CPU time per text is taken from ``getrusage(RUSAGE_CHILDREN)``.

PostgreSQL with 1 and with 3 workers when ``--postgres URL`` or ``BENCH_DATABASE_URL`` is
given (a database ``linja_bench_reminders_<pid>`` is created there and dropped at the
end); SQLite with 1 worker always, for reference.

    .venv/bin/python bench/reminders.py
    .venv/bin/python bench/reminders.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

This is a benchmark, not a test: it prints figures and exits 0 whatever they are.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time as timer
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
OSLO = ZoneInfo("Europe/Oslo")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bench.databases import add_postgres_option, analyze, migrate, postgres_database, sqlite_database  # noqa: E402
from scheduling.crypto import phone_hash  # noqa: E402
from scheduling.db import make_engine  # noqa: E402
from scheduling.models import Client, OutboxMessage, OutboxStatus  # noqa: E402
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN  # noqa: E402

TARGET_PER_SECOND = 500.0
TARGET_TEXT = ("limited by the configured rate, not by Linja: with the limit off at least "
               f"{TARGET_PER_SECOND:.0f} texts a second")
WORKER_TIMEOUT_S = 120.0


# --- databases (as in bench/availability.py) ----------------------------------------------




def database_version(engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect():  # the server's version is known once connected
        pass
    return "PostgreSQL " + ".".join(map(str, engine.dialect.server_version_info or ()))


def add_due_texts(engine, batch: int, count: int) -> list[str]:
    """``count`` callers, each with one text due a minute ago (the workers use the real
    clock); as tests/scheduling/test_worker_processes.py does. Returns their numbers."""
    now = datetime.now(timezone.utc)
    prefix = f"+47{batch + 1:02d}"  # a number range of its own for every batch
    numbers = [f"{prefix}{i:07d}" for i in range(count)]
    with engine.begin() as connection:
        before = connection.execute(select(func.coalesce(func.max(Client.id), 0))).scalar_one()
        for i in range(0, count, 2000):
            connection.execute(insert(Client), [
                {"phone_e164": n, "phone_hash": phone_hash(n), "language_code": "nb", "is_opted_out": False,
                 "created_at": now}
                for n in numbers[i:i + 2000]])
        # Numbers are encrypted (scheduling.crypto): this batch's callers are the rows just added.
        ids = connection.execute(select(Client.id).where(Client.id > before).order_by(Client.id)).scalars().all()
        rows = [{"client_id": cid, "kind": "notice", "template": "callback_requested", "params": {},
                 "language_code": "nb", "status": OutboxStatus.pending, "due_at": now - timedelta(minutes=1),
                 "attempts": 0, "created_at": now, "updated_at": now} for cid in ids]
        for i in range(0, len(rows), 2000):
            connection.execute(insert(OutboxMessage), rows[i:i + 2000])
    # Fresh statistics, so the planner sees the table as it is (autovacuum would, later).
    analyze(engine, "ANALYZE clients, outbox_messages")
    return numbers


def outbox_left(engine) -> dict[str, int]:
    """Texts not handed over: anything still pending, sending, failed or withdrawn."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.status != OutboxStatus.queued)
            .group_by(OutboxMessage.status)).all()
        connection.rollback()
    return {(s.value if hasattr(s, "value") else str(s)): n for s, n in rows}


# --- processes ----------------------------------------------------------------------------


def _cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU of a running process (Linux /proc), None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs together (Linux /proc/stat), None where unavailable."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return None
    total = sum(values[:8])  # guest time is already counted in user
    return total - values[3] - values[4], total  # minus idle and iowait


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class FakeTwilioProcess:
    """``python -m tests.fake_twilio`` in a process of its own, so its CPU is not the workers'."""

    def __init__(self, log_path: Path, delay: float = 0.0):
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_twilio", "--port", "0", "--log", str(log_path),
             "--delay", str(delay)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.api_base = self.process.stdout.readline().strip()
        if not self.api_base.startswith("http"):
            self.stop()
            raise RuntimeError("the fake Twilio server did not start")
        self.cpu_at_start = _cpu_seconds_of(self.process.pid)

    def cpu_since_start(self) -> float | None:
        now = _cpu_seconds_of(self.process.pid)
        return None if now is None or self.cpu_at_start is None else now - self.cpu_at_start

    def received(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        with self.log_path.open(encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def worker_env(database_url: str, api_base: str, lease: int) -> dict[str, str]:
    # As tests/scheduling/test_worker_processes.py starts them; SMS_PER_SECOND=0: no limit.
    return {
        **os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench", "PUBLIC_BASE_URL": "https://linja.test",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM": "+4759440000",
        "TWILIO_API_BASE": api_base, "SMS_PER_SECOND": "0", "OUTBOX_LEASE_SECONDS": str(lease),
        "OUTBOX_MAX_ATTEMPTS": "5", "LINJA_ENV": "development",
        # Noon tomorrow: no text leaves in the quiet hours, whenever the benchmark runs.
        "LINJA_CLOCK": datetime.combine(datetime.now(OSLO).date() + timedelta(days=1), time(12), tzinfo=OSLO).isoformat(),
    }


@dataclass
class WorkerRun:
    wall_s: float
    cpu_s: float
    machine_busy: float | None  # share of all CPUs busy meanwhile (workers, database, fake server, anything else)
    exit_codes: list[int]
    stderr_tails: list[str]
    timed_out: bool


def run_workers(count: int, env: dict[str, str], logs: Path, label: str) -> WorkerRun:
    """Start ``count`` `flask send-due` processes at once and wait for all of them; the CPU
    is what RUSAGE_CHILDREN gains meanwhile (only these are reaped in between)."""
    paths = [logs / f"{label}-worker{i}.log" for i in range(count)]
    cpu_before, machine_before = _children_cpu(), _machine_cpu()
    started = timer.perf_counter()
    processes = []
    for path in paths:
        with path.open("w") as stderr:
            processes.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "send-due"],
                                              cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=stderr))
    timed_out = False
    deadline = started + WORKER_TIMEOUT_S
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - timer.perf_counter()))
        except subprocess.TimeoutExpired:
            timed_out = True
            process.kill()
            process.wait()
    wall = timer.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    machine_after = _machine_cpu()
    busy = None
    if machine_before and machine_after and machine_after[1] > machine_before[1]:
        busy = (machine_after[0] - machine_before[0]) / (machine_after[1] - machine_before[1])
    tails = []
    for process, path in zip(processes, paths):
        if process.returncode != 0:
            tails.append(f"worker {path.name} exited {process.returncode}:\n"
                         + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
    return WorkerRun(wall, cpu, busy, [p.returncode for p in processes], tails, timed_out)


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    workers: int
    messages: int  # texts the fake server accepted
    expected: int
    seconds: float  # first accepted text to last
    mid_per_second: float  # the middle 80 % of the texts, when every worker is surely running
    cpu_raw_s: float
    startup_cpu_s: float
    fake_cpu_s: float | None
    machine_busy: float | None
    duplicates: int  # texts beyond the first to one number
    missing: int  # callers who got nothing
    strangers: int  # texts to numbers not in this batch
    wrong_bodies: int  # empty, or other words than the rest
    left: dict[str, int]
    wall_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def cpu_ms(self, net: bool) -> float:
        cpu = self.cpu_raw_s - (self.startup_cpu_s * self.workers if net else 0.0)
        return cpu * 1000 / self.messages if self.messages else float("nan")


def measure(backend: str, url: str, engine, workers: int, count: int, batch: int, startup_cpu: float,
            logs: Path, args) -> Run:
    numbers = add_due_texts(engine, batch, count)
    label = f"{backend}-{workers}w-{batch}"
    fake = FakeTwilioProcess(logs / f"{label}-twilio.jsonl", args.twilio_delay)
    try:
        result = run_workers(workers, worker_env(url, fake.api_base, args.lease), logs, label)
        fake_cpu = fake.cpu_since_start()
        received = fake.received()
    finally:
        fake.stop()
    times = sorted(m["at"] for m in received)
    seconds = times[-1] - times[0] if len(times) > 1 else 0.0
    mid_rate = 0.0
    if len(times) >= 10:
        lo, hi = int(len(times) * 0.1), int(len(times) * 0.9)
        if times[hi] > times[lo]:
            mid_rate = (hi - lo) / (times[hi] - times[lo])
    per_number = Counter(m["to"] for m in received)
    # Every text has the same words (one template, one language, no values).
    usual_body = Counter(m["body"] for m in received).most_common(1)[0][0] if received else ""
    expected = set(numbers)
    problems = list(result.stderr_tails)
    if result.timed_out:
        problems.append(f"{label}: workers still running after {WORKER_TIMEOUT_S:.0f} s; killed")
    return Run(
        backend=backend, workers=workers, messages=len(received), expected=count, seconds=seconds,
        mid_per_second=mid_rate, cpu_raw_s=result.cpu_s, startup_cpu_s=startup_cpu, fake_cpu_s=fake_cpu,
        machine_busy=result.machine_busy,
        duplicates=sum(n - 1 for n in per_number.values() if n > 1),
        missing=len(expected - per_number.keys()), strangers=sum(n for k, n in per_number.items() if k not in expected),
        wrong_bodies=sum(1 for m in received if not m["body"] or m["body"] != usual_body),
        left=outbox_left(engine), wall_s=result.wall_s, problems=problems,
    )


def startup_cpu(url: str, logs: Path, lease: int) -> tuple[float, float]:
    """CPU and wall time of one `flask send-due` on an empty outbox: the start-up cost
    (imports, app factory, connecting, housekeeping) of one worker."""
    fake = FakeTwilioProcess(logs / "startup-twilio.jsonl")
    try:
        result = run_workers(1, worker_env(url, fake.api_base, lease), logs, "startup")
    finally:
        fake.stop()
    return result.cpu_s, result.wall_s


# --- profiling one worker in-process --------------------------------------------------------


@contextlib.contextmanager
def worker_logging(path: Path):
    """Log as `flask send-due` does (its handlers, its level), but into ``path`` instead of
    this script's stderr; put the script's own logging back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {name: logging.getLogger(name).level for name in ("apscheduler", "werkzeug")})
    stream = path.open("a", encoding="utf-8")
    try:
        yield lambda: _redirect_stderr_handlers(root, stream)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
        stream.close()


def _redirect_stderr_handlers(root, stream) -> None:
    from web import cli

    # What `flask send-due` does after the app factory (a no-op when the app configured
    # logging already).
    getattr(cli, "_log_to_stderr", lambda: None)()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in (
                sys.stderr, sys.__stderr__):
            handler.setStream(stream)


@dataclass
class Counts:
    statements: int = 0
    commits: int = 0
    checkouts: int = 0


def profile_worker(url: str, engine, count: int, batch: int, logs: Path, args) -> str:
    """The send-due logic of one worker, in this process, against the same database and a
    fake Twilio process: first a batch timed with sender.send wrapped (CPU and wall inside
    it, SQL statements, commits and pool checkouts counted by engine events), then a second
    batch under cProfile."""
    from sqlalchemy import event

    out = io.StringIO()
    fake = FakeTwilioProcess(logs / f"profile-{batch}-twilio.jsonl", args.twilio_delay)
    saved_env = dict(os.environ)
    try:
        with worker_logging(logs / f"profile-{batch}-worker.log") as redirect:
            os.environ.update(worker_env(url, fake.api_base, args.lease))
            from app import create_app  # imported here: the app reads the environment
            from web.worker import make_worker

            app = create_app()
            redirect()
            with app.app_context():
                worker = make_worker(app)
            worker.tick_budget_seconds = float("inf")
            sender = worker.outbox.sender
            original_send = sender.send
            inside = {"wall": 0.0, "cpu": 0.0, "n": 0}

            def timed_send(message):
                t0, c0 = timer.perf_counter(), timer.process_time()
                try:
                    return original_send(message)
                finally:
                    inside["wall"] += timer.perf_counter() - t0
                    inside["cpu"] += timer.process_time() - c0
                    inside["n"] += 1

            counts = Counts()
            app_engine = app.extensions["linja.engine"]

            def on_execute(*_):
                counts.statements += 1

            def on_commit(*_):
                counts.commits += 1

            def on_checkout(*_):
                counts.checkouts += 1

            event.listen(app_engine, "before_cursor_execute", on_execute)
            event.listen(app_engine, "commit", on_commit)
            event.listen(app_engine.pool, "checkout", on_checkout)
            sender.send = timed_send
            add_due_texts(engine, batch, count)
            t0, c0 = timer.perf_counter(), timer.process_time()
            worker.tick()
            wall, cpu = timer.perf_counter() - t0, timer.process_time() - c0
            sender.send = original_send
            event.remove(app_engine, "before_cursor_execute", on_execute)
            event.remove(app_engine, "commit", on_commit)
            event.remove(app_engine.pool, "checkout", on_checkout)
            n = max(inside["n"], 1)
            rest_wall, rest_cpu = wall - inside["wall"], cpu - inside["cpu"]
            out.write(
                f"one worker in-process, {inside['n']} texts: {inside['n'] / wall:.0f} texts/s, "
                f"{wall * 1000 / n:.2f} ms wall and {cpu * 1000 / n:.2f} ms CPU per text\n"
                f"  sender.send (twilio client, requests, its logging, HTTP to the fake server): "
                f"{inside['wall'] * 1000 / n:.2f} ms wall, {inside['cpu'] * 1000 / n:.2f} ms CPU per text\n"
                f"  everything else (claim, load, render, record; SQLAlchemy and the database): "
                f"{rest_wall * 1000 / n:.2f} ms wall, {rest_cpu * 1000 / n:.2f} ms CPU per text\n"
                f"  per text: {counts.statements / n:.1f} SQL statements, {counts.commits / n:.1f} commits, "
                f"{counts.checkouts / n:.1f} pool checkouts (each a pre-ping round trip on PostgreSQL)\n")

            add_due_texts(engine, batch + 1, count)
            profiler = cProfile.Profile()
            profiler.enable()
            worker.tick()
            profiler.disable()
            out.write(f"\n--- cProfile of a second batch of {count} texts ---\n")
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(25)
            app_engine.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        fake.stop()
    return out.getvalue()


# --- report -------------------------------------------------------------------------------


def report(runs: list[Run], versions: list[str], startups: dict[str, tuple[float, float]], args) -> None:
    print()
    print("outbox throughput, rate limit off (SMS_PER_SECOND=0): `flask --app app send-due` worker processes "
          "against a fake Twilio server in its own process"
          + (f" answering after {args.twilio_delay * 1000:.0f} ms" if args.twilio_delay else ""))
    print(f"python {sys.version.split()[0]}, {', '.join(versions)}, {os.cpu_count()} CPUs on this machine "
          "(workers, database server and fake Twilio share them)")
    print("texts: kind notice, template callback_requested, nb, one per caller, due a minute ago; "
          "texts/s = texts / (last accepted - first accepted) at the fake server")
    for backend, (cpu, wall) in startups.items():
        print(f"  start-up of one worker on {backend} (empty outbox): {cpu * 1000:.0f} ms CPU, {wall:.2f} s wall")
    print()
    head = (f"{'database':<11}{'workers':>8}{'texts':>7}{'seconds':>9}{'texts/s':>9}{'mid80/s':>9}"
            f"{'CPU ms/text':>13}{'net':>6}{'fake ms':>9}{'box CPU':>9}{'dup':>5}{'miss':>6}"
            f"  target >= {TARGET_PER_SECOND:.0f}/s")
    print(head)
    print("-" * len(head))
    for r in runs:
        rate = r.per_second
        verdict = "ok" if rate >= TARGET_PER_SECOND else f"UNDER ({rate / TARGET_PER_SECOND:.2f}x)"
        fake = f"{r.fake_cpu_s * 1000 / r.messages:.2f}" if r.fake_cpu_s is not None and r.messages else "-"
        box = f"{r.machine_busy * 100:.0f}%" if r.machine_busy is not None else "-"
        print(f"{r.backend:<11}{r.workers:>8}{r.messages:>7}{r.seconds:>9.2f}{rate:>9.0f}{r.mid_per_second:>9.0f}"
              f"{r.cpu_ms(net=False):>13.2f}{r.cpu_ms(net=True):>6.2f}{fake:>9}{box:>9}{r.duplicates:>5}"
              f"{r.missing:>6}  {verdict}")
    print()
    print("mid80/s: the middle 80 % of the texts only (every worker past its start-up)")
    print("CPU ms/text: the workers' user+sys CPU (RUSAGE_CHILDREN) / texts; net: minus one empty run's start-up "
          "CPU per worker")
    print("fake ms: the fake Twilio server's CPU per text; box CPU: share of all CPUs busy while the workers ran")
    print("dup: texts beyond the first to one caller; miss: callers who got none")
    print(f"target: {TARGET_TEXT}")
    for r in runs:
        notes = []
        if r.messages != r.expected:
            notes.append(f"{r.messages} of {r.expected} texts accepted")
        if r.strangers:
            notes.append(f"{r.strangers} texts to unknown numbers")
        if r.wrong_bodies:
            notes.append(f"{r.wrong_bodies} texts with unexpected words")
        if r.left:
            notes.append("outbox not queued: " + ", ".join(f"{n} {s}" for s, n in sorted(r.left.items())))
        notes.extend(r.problems)
        if notes:
            print(f"  {r.backend} x{r.workers}: " + "; ".join(notes))
    if all(not (r.duplicates or r.missing or r.strangers or r.wrong_bodies or r.left or r.problems
                or r.messages != r.expected) for r in runs):
        print("every caller got exactly one text, with the expected words; nothing left in the outbox")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_postgres_option(parser)
    parser.add_argument("--texts", type=int, default=3000, help="due texts per PostgreSQL run (default 3000)")
    parser.add_argument("--sqlite-texts", type=int, default=1000, help="due texts for the SQLite run (default 1000)")
    parser.add_argument("--workers", default="1,3", help="worker counts on PostgreSQL (default 1,3)")
    parser.add_argument("--lease", type=int, default=60, help="OUTBOX_LEASE_SECONDS (default 60)")
    parser.add_argument("--twilio-delay", type=float, default=0.0, metavar="S",
                        help="the fake Twilio server answers after S seconds, like the real API's "
                             "round trip (default 0: as fast as it can)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="afterwards, send N more texts (twice) with one worker in this process: "
                             "timed, then under cProfile, and print where the time goes")
    args = parser.parse_args(argv)

    backends = [("sqlite", sqlite_database, (), [1], args.sqlite_texts)]
    if args.postgres:
        counts = [int(k) for k in args.workers.split(",") if k.strip()]
        backends.append(("postgresql", postgres_database, (args.postgres,), counts, args.texts))

    runs, versions, startups, profiles = [], [], {}, []
    logs = Path(tempfile.mkdtemp(prefix="linja_bench_reminders_"))
    try:
        for backend, database, db_args, worker_counts, count in backends:
            print(f"{backend}: migrating and measuring ...", file=sys.stderr, flush=True)
            with database(*db_args) as url:
                migrate(url)
                engine = make_engine(url, **({"serialise_sqlite": False} if url.startswith("sqlite") else {}))
                try:
                    versions.append(database_version(engine))
                    startups[backend] = startup_cpu(url, logs, args.lease)
                    for batch, workers in enumerate(worker_counts):
                        print(f"  {workers} worker(s), {count} texts ...", file=sys.stderr, flush=True)
                        runs.append(measure(backend, url, engine, workers, count, batch, startups[backend][0],
                                            logs, args))
                    if args.profile:
                        print(f"  one worker in-process, 2 x {args.profile} texts ...", file=sys.stderr, flush=True)
                        profiles.append((backend, profile_worker(url, engine, args.profile, len(worker_counts),
                                                                 logs, args)))
                finally:
                    engine.dispose()
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    report(runs, versions, startups, args)
    for backend, text_ in profiles:
        print(f"\n=== one worker in-process, {backend} ===")
        print(text_)
    return 0


if __name__ == "__main__":
    sys.exit(main())
