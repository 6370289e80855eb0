"""Benchmark: webhook throughput and latency of the SMS and voice lines under gunicorn,
against a signed endpoint (and a bare one) under the same gunicorn settings.

A throwaway database (migrated with the project's Alembic migrations) gets a centre with
60 counselors who speak all 8 languages and offer every service, Mon-Fri 08:00-17:00, so
thousands of callers can book. Linja's clock is set to the next Monday 08:00 in Oslo.
Linja is started with gunicorn on 127.0.0.1 (``app:create_app()``), and so is
``bench/bare_app.py`` twice: a Flask app that answers the same paths with a fixed TwiML
document of the same size as Linja's typical answer, once bare and once signed (it parses
the form and checks Twilio's signature with Linja's token and public URL: the least any
webhook must do, and the yardstick of the targets). Linja's abuse limits are set
explicitly, so high that nobody is silenced. Then ``wrk`` (a process of its own,
loopback only) sends precomputed, correctly signed requests for a fixed time:

- ``POST /hotline/sms``: a full booking dialogue per caller ("hi", "4" Somali, "1" book,
  "1" first service, "1" first slot, "haa" yes), many callers;
- ``POST /hotline/voice`` and the Gather actions of a booking by keypad (English, book,
  first service, first slot, confirm);
- the signed and the bare app, with exactly the same requests, once for each;
- each line again with new callers, paced at half the requests/s it reached (wrk's
  ``delay()``), for p99 at a load it can carry.

One wrk thread per connection, and each caller's messages in order on one connection;
the SMS dialogue also on a single connection, for the latency without queueing.
Requests/s, p50 and p99 come from wrk; the ratios Linja/signed and the paced p99 are
printed beside the targets. After each run the database says how many dialogues
finished, how many booked and how many replies were silenced; a line with fewer than
90 % booked or any silence gets INVALID instead of a ratio. Then the dialogues are timed
step by step in this process (``--steps``; ``--profile`` for cProfile), with the SQL and
CPU targets. See bench/README.md.

PostgreSQL when ``--postgres URL`` or ``BENCH_DATABASE_URL`` is given or a server answers
on 127.0.0.1:5432 (a database ``linja_bench_webhooks_<pid>`` is created and dropped);
otherwise, or with ``--sqlite``, SQLite in a temporary file.

    .venv/bin/python bench/webhooks.py
    .venv/bin/python bench/webhooks.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/webhooks.py --duration 5 --workers 4 --threads 2 --profile 50

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
import re
import pstats
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time as timer
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, make_url, select  # noqa: E402

from hotline.phone import ACCOUNT_SID, CENTRE_NUMBER, SimulatedPhone, VoiceCall, sign  # noqa: E402
from bench.databases import analyze, migrate, postgres_database, sqlite_database  # noqa: E402
from scheduling.db import make_engine, make_session_factory  # noqa: E402
from scheduling.demo import SERVICES  # noqa: E402
from scheduling.models import (  # noqa: E402
    Appointment,
    BookedVia,
    Call,
    InboundMessage,
    Language,
    OpeningHours,
    ReplyKind,
    Service,
    ServiceName,
    Staff,
    StaffRole,
    WorkingHours,
)

OSLO = ZoneInfo("Europe/Oslo")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AUTH_TOKEN = "linja-bench-auth-token"
SECRET_KEY = "linja-bench-secret-key-not-for-production"

# Issue 20's targets. The yardstick is the signed endpoint (bench/bare_app.py with
# BARE_SIGNED=1): what any webhook must do to keep Twilio's contract.
TARGET_RATIO = 0.2  # each line at no less than a fifth of the signed endpoint's requests/s
PACE_SHARE = 0.5  # then paced at half the requests/s it reached in that run ...
TARGET_P99_MS = 50.0  # ... with p99 under this
TARGET_BOOKED = 0.9  # below this share of finished dialogues booked, no ratio is printed
TARGET_SQL_MEDIAN = 5  # SQL statements per text, median over the dialogue's texts
TARGET_SQL_BOOKING = 10  # SQL statements of the booking step
TARGET_CPU_MS = 1.5  # CPU per text in-process, mean over the dialogue
TARGET_TEXT = (f"each line >= {TARGET_RATIO:.2f}x the signed endpoint's requests/s, and p99 < "
               f"{TARGET_P99_MS:.0f} ms paced at {PACE_SHARE:.0%} of the requests/s it reached; "
               f"valid only if >= {TARGET_BOOKED:.0%} of finished dialogues booked and no reply was silent")

# The abuse limits (web/config.py), set explicitly so high that no caller of the benchmark is
# ever silenced; the checks themselves still run on every text and call, as in production.
LIMITS = {"REPLIES_PER_NUMBER_PER_HOUR": "1000", "REPLIES_PER_MINUTE": "1000000",
          "CALLS_PER_NUMBER_PER_HOUR": "1000"}

N_COUNSELORS = 60
ALL_LANGUAGES = ["nb", "en", "ar", "so", "ur", "ti", "fa", "pl"]
HOURS = (time(8), time(17))  # Mon-Fri, for the centre and every counselor

SMS_BODIES = ["hi", "4", "1", "1", "1", "haa"]  # language menu, Somali, book, service 1, slot 1, yes
VOICE_KEYS = ["2", "1", "1", "1", "1"]  # English, book, service 1, slot 1, yes
# Number ranges (+47 9xxxxxxx are Norwegian mobiles), one per use, so nobody is a returning caller.
SMS_NUMBERS, VOICE_NUMBERS = 90_000_000, 91_000_000
SMS_WARM_NUMBERS, VOICE_WARM_NUMBERS = 93_000_000, 94_000_000
SINGLE_NUMBERS, REHEARSAL_NUMBER, PROFILE_NUMBERS = 92_000_000, 99_000_000, 95_000_000
SMS_PACED_NUMBERS, VOICE_PACED_NUMBERS = 96_000_000, 97_000_000


def next_monday_morning(today: date) -> datetime:
    """08:00 in Oslo on the first Monday after ``today``: a working day with every slot free."""
    monday = today + timedelta(days=(7 - today.weekday()) or 7)
    return datetime.combine(monday, time(8), tzinfo=OSLO)


# --- processes: everything started here is stopped here ----------------------------------


class Processes:
    """Every child process (gunicorn, wrk) in a process group of its own, so that stopping
    it stops its workers too; ``stop_all`` runs on exit, also after an error or a signal."""

    def __init__(self):
        self.running: list[subprocess.Popen] = []

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen, grace: float = 5.0) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(reversed(self.running)):
            self.stop(process)


def _raise_on_signal(signum, _frame):
    raise SystemExit(f"stopped by signal {signum}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- databases (as in bench/availability.py) ----------------------------------------------


def postgres_answers(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()




def database_version(engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect():
        pass
    return "PostgreSQL " + ".".join(map(str, engine.dialect.server_version_info or ()))


def build_centre(engine, now: datetime) -> None:
    """The demo services; the centre and 60 counselors (all languages, all services) Mon-Fri
    08:00-17:00; a receptionist and an admin."""
    session = make_session_factory(engine)()
    try:
        services = []
        for order, (slug, (minutes, buffer, names)) in enumerate(SERVICES.items()):
            service = Service(slug=slug, duration_minutes=minutes, buffer_minutes=buffer, menu_order=order)
            service.names = [ServiceName(language_code=c, name=n) for c, n in names.items()]
            session.add(service)
            services.append(service)
        for weekday in range(5):
            session.add(OpeningHours(weekday=weekday, opens=HOURS[0], closes=HOURS[1]))
        languages = [session.get(Language, code) for code in ALL_LANGUAGES]
        created = now - timedelta(days=365)
        for n in range(N_COUNSELORS):
            member = Staff(name=f"Counselor {n + 1}", email=f"counselor{n + 1}@bench.example",
                           role=StaffRole.counselor, is_active=True, created_at=created)
            member.languages = list(languages)
            member.services = list(services)
            session.add(member)
            session.flush()
            for weekday in range(5):
                session.add(WorkingHours(staff_id=member.id, weekday=weekday, starts=HOURS[0], ends=HOURS[1],
                                         valid_from=date(now.year - 1, 1, 1)))
        session.add(Staff(name="Reception", email="reception@bench.example", role=StaffRole.receptionist,
                          is_active=True, created_at=created))
        session.add(Staff(name="Admin", email="admin@bench.example", role=StaffRole.admin,
                          is_active=True, created_at=created))
        session.commit()
    finally:
        session.close()
    analyze(engine)


@dataclass(frozen=True)
class Tally:
    sms_booked: int
    voice_booked: int
    inbound: int
    calls: int
    silent: int  # inbound_messages answered with silence, or with a limit's notice


def silent_texts():
    """SQL: a text that got no answer of the dialogue's own: an empty reply (no
    ``<Message``), or a reply_kind other than ``answered`` (a limit silenced it, or
    answered it with its notice; hotline.abuse)."""
    return (InboundMessage.reply_kind != ReplyKind.answered) | ~InboundMessage.reply_twiml.contains("<Message")


def settle(engine, timeout: float = 15.0) -> Tally:
    """Wait until the requests still in flight when wrk stopped have been answered: until the
    counts stop changing for half a second."""
    deadline = timer.monotonic() + timeout
    last = tally(engine)
    while timer.monotonic() < deadline:
        timer.sleep(0.5)
        now = tally(engine)
        if now == last:
            break
        last = now
    return last


def tally(engine) -> Tally:
    with engine.connect() as connection:
        booked = dict(connection.execute(
            select(Appointment.booked_via, func.count()).group_by(Appointment.booked_via)).all())
        inbound = connection.scalar(select(func.count()).select_from(InboundMessage))
        calls = connection.scalar(select(func.count()).select_from(Call))
        silent = connection.scalar(select(func.count()).select_from(InboundMessage).where(silent_texts()))
        connection.rollback()
    return Tally(booked.get(BookedVia.sms, 0), booked.get(BookedVia.voice, 0), inbound, calls, silent)


def finished_dialogues(engine, kind: str, number: int, final_turn: int | None) -> int | None:
    """Callers of one run (the number range ``number``) whose last request was answered,
    from the database: for texts, an inbound_messages row for the last text's MessageSid;
    for calls, a calls row whose turn counter reached the one the rehearsal's call ended
    on (None when the rehearsal did not show one)."""
    with engine.connect() as connection:
        if kind == "sms":
            last = f"SM{number:010d}" + "_" * 12 + f"{len(SMS_BODIES) - 1:010d}"
            found = connection.scalar(select(func.count()).select_from(InboundMessage)
                                      .where(InboundMessage.message_sid.like(last)))
        elif final_turn is None:
            found = None
        else:
            rows = connection.scalars(select(Call.data).where(Call.call_sid.like(f"CA{number:010d}%"))).all()
            found = sum(1 for data in rows if isinstance(data, dict) and _turn(data) >= final_turn)
        connection.rollback()
    return found


def _turn(data: dict) -> int:
    try:
        return int(data.get("turn") or 0)
    except (TypeError, ValueError):
        return 0


# --- the app in this process: one rehearsal, and the profile ------------------------------


def linja_env(url: str, base_url: str, clock: datetime) -> dict[str, str]:
    return {
        "DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": base_url, "LINJA_CLOCK": clock.isoformat(), "LOG_LEVEL": "WARNING",
        "LINJA_ENV": "development", "TWILIO_ACCOUNT_SID": "", **LIMITS,
    }


@contextlib.contextmanager
def app_in_process(env: dict[str, str]):
    """``create_app()`` in this process with the environment gunicorn gets; the script's
    own environment and logging are put back afterwards."""
    saved_env = dict(os.environ)
    root = logging.getLogger()
    saved_logging = (list(root.handlers), root.level)
    os.environ.update(env)
    try:
        from app import create_app

        app = create_app({"LOG_JSON": False})
        try:
            yield app
        finally:
            app.extensions["linja.engine"].dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:], root.level = saved_logging


@dataclass
class Recorded:
    """What the rehearsal posted and got back."""

    posts: list[tuple[str, dict, int, str]] = field(default_factory=list)  # path, params, status, body

    def transport(self, app):
        recorded = self

        class Transport:
            def post(self, path, params, headers):
                response = app.test_client().post(path, data=params, headers=headers)
                body = response.get_data(as_text=True)
                recorded.posts.append((path, dict(params), response.status_code, body))
                return response.status_code, body

        return Transport()


@dataclass
class Rehearsal:
    sms_sizes: list[int]
    voice_sizes: list[int]
    voice_paths: list[str]  # the incoming call, then each Gather action, as Twilio would post them
    problems: list[str]
    final_turn: int | None = None  # the calls row's turn counter once the call has booked


def rehearse(app, engine, base_url: str) -> Rehearsal:
    """One SMS dialogue and one call, through the Flask test client, signed for
    ``base_url``: checks that both book, and records the answers' sizes and the
    Gather action URLs the call followed."""
    problems = []
    before = tally(engine)
    sms = Recorded()
    phone = SimulatedPhone(sms.transport(app), f"+47{REHEARSAL_NUMBER}", base_url, AUTH_TOKEN)
    for body in SMS_BODIES:
        phone.text(body)
    after_sms = tally(engine)
    if after_sms.sms_booked != before.sms_booked + 1:
        problems.append("the SMS dialogue did not book: " + " | ".join(b[-160:] for *_, b in sms.posts[-2:]))

    voice = Recorded()
    line = VoiceCall(SimulatedPhone(voice.transport(app), f"+47{REHEARSAL_NUMBER + 1}", base_url, AUTH_TOKEN))
    line.start()
    for key in VOICE_KEYS:
        if line.waiting_for != "keys":
            problems.append(f"the call was not waiting for a key before pressing {key!r}")
            break
        line.press(key)
    after_voice = tally(engine)
    if after_voice.voice_booked != after_sms.voice_booked + 1:
        problems.append("the call did not book: " + (voice.posts[-1][3][-200:] if voice.posts else "no answer"))
    if not line.ended:
        problems.append("the call did not end after the confirmation")
    for path, _, status, _ in sms.posts + voice.posts:
        if status != 200:
            problems.append(f"{path} answered {status} in the rehearsal")
    if after_voice.silent != before.silent:
        problems.append(f"{after_voice.silent - before.silent} texts were answered with silence in the rehearsal")
    with engine.connect() as connection:
        rows = connection.scalars(select(Call.data)).all()  # the rehearsal's call is the only one yet
        connection.rollback()
    turns = [_turn(data) for data in rows if isinstance(data, dict)]
    return Rehearsal(
        sms_sizes=[len(body.encode()) for *_, body in sms.posts],
        voice_sizes=[len(body.encode()) for *_, body in voice.posts],
        voice_paths=[path for path, *_ in voice.posts],
        problems=problems,
        final_turn=max(turns) if len(turns) == 1 and max(turns) > 0 else None,
    )


# --- precomputed, signed requests ----------------------------------------------------------


def sms_dialogue(base_url: str, number: int, caller: int) -> list[tuple[str, str, str]]:
    url = base_url + "/hotline/sms"
    out = []
    for index, body in enumerate(SMS_BODIES):
        sid = f"SM{number:010d}{caller:012d}{index:010d}"
        params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": f"+47{number + caller}",
                  "To": CENTRE_NUMBER, "Body": body, "NumMedia": "0", "NumSegments": "1",
                  "ApiVersion": "2010-04-01"}
        out.append(("/hotline/sms", sign(AUTH_TOKEN, url, params), urllib.parse.urlencode(params)))
    return out


def voice_dialogue(base_url: str, paths: list[str], number: int, caller: int) -> list[tuple[str, str, str]]:
    """The incoming call, then one key press per Gather action, as VoiceCall posts them."""
    sid = f"CA{number:010d}{caller:022d}"
    phone = f"+47{number + caller}"
    common = {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": phone, "To": CENTRE_NUMBER, "Caller": phone,
              "Called": CENTRE_NUMBER, "CallStatus": "in-progress", "Direction": "inbound",
              "ApiVersion": "2010-04-01"}
    out = []
    for index, path in enumerate(paths):
        if index == 0:
            params = {**common, "CallStatus": "ringing"}
        else:
            params = {**common, "Digits": VOICE_KEYS[index - 1], "FinishedOnKey": ""}
        out.append((path, sign(AUTH_TOKEN, base_url + path, params), urllib.parse.urlencode(params)))
    return out


FILLER = 500_000  # the one-request fillers' numbers: this far into a range, past every caller


def staggered(kind: str, base_url: str, number: int, connections: int, steps: int) -> list[list]:
    """Per wrk thread, the requests that put it out of step with the others: thread t first
    sends ``t * steps // connections`` single requests from callers of their own (a "hi",
    or an incoming call), so that the threads are at different steps of their dialogues.
    In step, every thread would ask for slots at the same moment, be offered the same
    first slot and try to hold it at once; all but one would be told it was taken."""
    out = []
    for t in range(connections):
        fillers = []
        for k in range(t * steps // connections):
            caller = FILLER + t * steps + k
            fillers.append(sms_dialogue(base_url, number, caller)[0] if kind == "sms"
                           else voice_dialogue(base_url, ["/hotline/voice"], number, caller)[0])
        out.append(fillers)
    return out


def write_request_files(directory: Path, dialogues, connections: int,
                        prefixes: list[list] | None = None) -> list[int]:
    """One file per wrk thread (``<thread>.req``, a line ``path TAB signature TAB body`` per
    request): first the thread's ``prefixes``, then callers dealt round-robin, each
    caller's requests together and in order. Returns the number of requests per file."""
    directory.mkdir(parents=True, exist_ok=True)
    files = [(directory / f"{t}.req").open("w", encoding="ascii") for t in range(connections)]
    counts = [0] * connections

    def write(t, requests):
        for path, signature, body in requests:
            files[t].write(f"{path}\t{signature}\t{body}\n")
            counts[t] += 1

    try:
        for t, prefix in enumerate(prefixes or []):
            write(t, prefix)
        for caller, requests in enumerate(dialogues):
            write(caller % connections, requests)
    finally:
        for f in files:
            f.close()
    return counts


# --- wrk -----------------------------------------------------------------------------------

LUA = r"""
-- Written by bench/webhooks.py. Each thread (one connection) sends the requests of its own
-- file, in order; with "wrap" it starts again at the end, otherwise it sends GET /healthz
-- and counts an overrun (the file was too short for the duration).
local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   pace_args = args
   wrap = args[2] == "wrap"
   reqs = {}
   for line in io.lines(args[1] .. "/" .. id .. ".req") do
      local path, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
         ["Content-Type"] = "application/x-www-form-urlencoded",
         ["X-Twilio-Signature"] = signature,
      }, body)
   end
   fallback = wrk.format("GET", "/healthz", {}, nil)
   sent = 0
   overrun = 0
end

function request()
   sent = sent + 1
   local n = #reqs
   if sent <= n then
      return reqs[sent]
   end
   if wrap and n > 0 then
      return reqs[(sent - 1) % n + 1]
   end
   overrun = overrun + 1
   return fallback
end

function done(summary, latency, requests)
   local per_thread = {}
   local overruns = 0
   for _, thread in ipairs(threads) do
      per_thread[#per_thread + 1] = tostring(thread:get("sent"))
      overruns = overruns + thread:get("overrun")
   end
   local e = summary.errors
   io.write(string.format(
      'WRK-RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "overrun": %d, "sent_per_thread": [%s]}\n',
      summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout,
      overruns, table.concat(per_thread, ", ")))
end
"""


LUA_PACED = LUA + r"""
-- Paced (args[3] ms between requests on each connection, args[4] connections): wrk asks
-- delay() before each request. Each connection keeps a schedule of its own, the
-- connections spread over one interval; one that falls more than an interval behind
-- starts its schedule again instead of sending a burst, so the rate never exceeds the one
-- asked for (the output gives the rate reached). wrk's latency starts after the delay.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } linja_bench_timespec;
int clock_gettime(int clk_id, linja_bench_timespec *tp);
]]
local clock = ffi.new("linja_bench_timespec")

local function now_ms()
   ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
   return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local next_at = nil

function delay()
   local interval = tonumber(pace_args[3])
   local now = now_ms()
   if next_at == nil then
      next_at = now + interval * id / tonumber(pace_args[4])
   elseif now > next_at + interval then
      next_at = now
   end
   local wait = next_at - now
   next_at = next_at + interval
   if wait < 0 then
      return 0
   end
   return math.floor(wait + 0.5)
end
"""


@dataclass
class WrkResult:
    target: str
    connections: int = 0
    requests: int = 0
    seconds: float = 0.0
    bytes: int = 0
    p50_ms: float = float("nan")
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    errors: dict[str, int] = field(default_factory=dict)
    overrun: int = 0
    sent_per_thread: list[int] = field(default_factory=list)
    problem: str = ""
    asked_per_second: float = 0.0  # a paced run: the rate asked for

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def non_2xx(self) -> int:
        return self.errors.get("status", 0)

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.get(k, 0) for k in ("connect", "read", "write", "timeout"))


def run_wrk(processes: Processes, wrk: str, target: str, port: int, script: Path, directory: Path,
            connections: int, seconds: float, wrap: bool, pace_ms: float = 0.0) -> WrkResult:
    """wrk with the given request files; with ``pace_ms``, each connection sends a request
    every ``pace_ms`` ms at most (``script`` must then be LUA_PACED)."""
    cmd = [wrk, "-t", str(connections), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
           "-s", str(script), f"http://127.0.0.1:{port}", "--", str(directory), "wrap" if wrap else "once"]
    if pace_ms:
        cmd += [f"{pace_ms:.3f}", str(connections)]
    process = processes.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        processes.stop(process)
        return WrkResult(target, connections, problem="wrk did not finish in time; stopped")
    processes.stop(process)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK-RESULT ")), None)
    if process.returncode != 0 or line is None:
        return WrkResult(target, connections, problem=f"wrk failed (exit {process.returncode}): {(err or out).strip()[-300:]}")
    data = json.loads(line.removeprefix("WRK-RESULT "))
    return WrkResult(
        target=target, connections=connections, requests=data["requests"], seconds=data["duration_us"] / 1e6, bytes=data["bytes"],
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors={k: data[k] for k in ("connect", "read", "write", "status", "timeout")},
        overrun=data["overrun"], sent_per_thread=data["sent_per_thread"],
    )


# --- gunicorn ------------------------------------------------------------------------------


SILENCE_MARKERS = ("limit reached", "per minute reached")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    def errors(self) -> dict[str, int]:
        """What the app logged at ERROR so far, by message and exception (e.g. "SMS webhook
        failed (KeyError: 'offer')"): the webhooks answer 200 with an apology when something
        breaks, so wrk cannot see those."""
        found: dict[str, int] = defaultdict(int)
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return {}
        for line in lines:
            if '"level": "error"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                found["(unreadable log line)"] += 1
                continue
            error = (entry.get("error") or "").strip().splitlines()
            found[f"{entry.get('message', '?')!r}" + (f" ({error[-1]})" if error else "")] += 1
        return dict(found)

    def silenced(self) -> int:
        """The warnings the app logged when a limit silenced someone (hotline.abuse: "SMS
        reply limit reached", "SMS replies per minute reached", "call limit reached"). For
        the voice line this is the count of silence: a refused call leaves no row."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return 0
        return sum(1 for line in lines if '"level": "warning"' in line
                   and any(marker in line for marker in SILENCE_MARKERS))

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_gunicorn(processes: Processes, name: str, spec: str, port: int, env: dict[str, str], args,
                   logs: Path, pythonpath: Path) -> Server:
    log = logs / f"{name}-gunicorn.log"
    # The Procfile's settings module, for Linja and the endpoints it is measured against alike.
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:web.serving", spec, "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
           "--threads", str(args.threads), "--pythonpath", str(pythonpath), "--log-level", "warning"]
    with log.open("w") as out:
        process = processes.start(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    return Server(name, port, process, log)


def wait_healthy(server: Server, timeout: float = 60.0) -> str | None:
    """None once GET /healthz answers 200; otherwise what went wrong."""
    deadline = timer.monotonic() + timeout
    while timer.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"{server.name}: gunicorn exited ({server.process.returncode}):\n{server.log_tail()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return None
        except (urllib.error.URLError, OSError):
            pass
        timer.sleep(0.1)
    return f"{server.name}: /healthz did not answer within {timeout:.0f} s:\n{server.log_tail()}"


def process_tree_cpu(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (gunicorn's master and workers), Linux only."""
    total = 0.0
    tck = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tck
    return total


# --- in this process: where the time goes ------------------------------------------------

SMS_STEP_LABELS = ["hi (language menu)", "4 (Somali: main menu)", "1 (book: services)", "1 (service: slots)",
                   "1 (slot: hold; sure?)", "haa (yes: book)"]
VOICE_STEP_LABELS = ["incoming (language menu)", "2 (English: main menu)", "1 (book: services)",
                     "1 (service: slots)", "1 (slot: hold; sure?)", "1 (yes: book)"]


def _poster(app):
    client = app.test_client()

    def post(path, signature, body):
        response = client.post(path, data=body, headers={
            "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")

    return post


def step_table(app, title: str, labels: list[str], dialogues: list[list], warmup: list[list], kind: str,
               show_sql: bool = False) -> str:
    """Each step of the dialogues, one request at a time through the Flask test client (no
    HTTP, no gunicorn, nothing else running): wall and CPU time, SQL statements. The
    ``warmup`` dialogues go first, untimed (SQLAlchemy compiles and caches each statement
    on first use). Below the table, issue 20's targets with a verdict: SQL statements per
    request (median over every request of the dialogues), those of the booking step (the
    last), and CPU per request (mean over the dialogue). A silenced dialogue is cheap, so
    the verdict is INVALID unless the timed dialogues booked (TARGET_BOOKED) and no text
    was answered with silence."""
    from sqlalchemy import event

    engine = app.extensions["linja.engine"]
    post = _poster(app)
    for requests in warmup:
        for request in requests:
            post(*request)
    before = tally(engine)
    counts = {"statements": 0}
    said: list[list[str]] = []  # the last dialogue's statements, step by step (show_sql)

    def on_execute(_connection, _cursor, statement, *_):
        counts["statements"] += 1
        if said:
            said[-1].append(" ".join(statement.split())[:160])

    rows = defaultdict(list)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        for number, requests in enumerate(dialogues):
            for index, request in enumerate(requests):
                if show_sql and number == len(dialogues) - 1:
                    said.append([])
                counts["statements"] = 0
                t0, c0 = timer.perf_counter(), timer.process_time()
                post(*request)
                rows[index].append((timer.perf_counter() - t0, timer.process_time() - c0, counts["statements"]))
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    out = io.StringIO()
    out.write(f"{title}, {len(dialogues)} callers one after another, in this process (Flask test client: "
              "no HTTP, no gunicorn, no other load)\n")
    out.write(f"  {'step':<27}{'p50 ms':>8}{'mean ms':>9}{'CPU ms':>8}{'SQL':>6}\n")
    wall = cpu = 0.0
    for index, label in enumerate(labels):
        times = [r[0] for r in rows[index]]
        cpus = [r[1] for r in rows[index]]
        wall += statistics.mean(times)
        cpu += statistics.mean(cpus)
        out.write(f"  {label:<27}{statistics.median(times) * 1000:>8.1f}{statistics.mean(times) * 1000:>9.1f}"
                  f"{statistics.mean(cpus) * 1000:>8.1f}{statistics.mean(r[2] for r in rows[index]):>6.1f}\n")
    n = len(labels)
    for label, statements in zip(labels, said):
        out.write(f"  SQL of '{label}' (the last dialogue):\n")
        out.writelines(f"    {statement}\n" for statement in statements)
    out.write(f"  mean per request: {wall * 1000 / n:.1f} ms, of which {cpu * 1000 / n:.1f} ms CPU in Python "
              f"(this process); one thread alone: at most {n / wall:.0f} requests/s\n")
    after = tally(engine)
    booked = (after.sms_booked - before.sms_booked) if kind == "sms" else (after.voice_booked - before.voice_booked)
    silent = after.silent - before.silent
    out.write(f"  {booked} of {len(dialogues)} dialogues booked"
              + (f"; {silent} texts answered with silence or a notice\n" if kind == "sms" else "\n"))
    reasons = []
    if booked < TARGET_BOOKED * len(dialogues):
        reasons.append(f"{booked} of {len(dialogues)} dialogues booked (< {TARGET_BOOKED:.0%})")
    if silent:
        reasons.append(f"{silent} replies silenced by a limit")
    if reasons:
        out.write("  INVALID, no verdict: " + "; ".join(reasons) + "\n")
        return out.getvalue()
    sql_median = statistics.median(r[2] for index in rows for r in rows[index])
    sql_booking = statistics.mean(r[2] for r in rows[n - 1])
    cpu_mean = cpu * 1000 / n
    for what, figure, target, ok in (
            ("SQL statements per request, median", f"{sql_median:g}", f"<= {TARGET_SQL_MEDIAN}",
             sql_median <= TARGET_SQL_MEDIAN),
            (f"SQL statements of the booking step ({labels[-1]})", f"{sql_booking:.1f}", f"<= {TARGET_SQL_BOOKING}",
             sql_booking <= TARGET_SQL_BOOKING),
            ("CPU per request, mean over the dialogue", f"{cpu_mean:.2f} ms", f"<= {TARGET_CPU_MS} ms",
             cpu_mean <= TARGET_CPU_MS)):
        out.write(f"  {what}: {figure} (target {target})   {'target met' if ok else 'target MISSED'}\n")
    return out.getvalue()


def profile_sms(app, dialogues: list[list]) -> str:
    """The SMS dialogues under cProfile (CPU time): time by package, then the top functions."""
    post = _poster(app)
    profiler = cProfile.Profile(timer.process_time)
    profiler.enable()
    for requests in dialogues:
        for request in requests:
            post(*request)
    profiler.disable()
    out = io.StringIO()
    texts = sum(len(r) for r in dialogues)
    stats = pstats.Stats(profiler, stream=out)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():
        if "site-packages/" in filename:
            key = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif filename.startswith(str(ROOT) + "/"):
            key = filename[len(str(ROOT)) + 1:]
        elif filename == "~":
            key = "(built-ins)"
        else:
            key = "(standard library)"
        by_package[key] += tottime
    total = sum(by_package.values())
    out.write(f"--- cProfile, CPU time, {len(dialogues)} SMS dialogues ({texts} texts); the profiler itself "
              "makes everything about 2-3 times slower ---\n")
    out.write(f"CPU by package or file, ms per text (of {total * 1000 / texts:.1f} under the profiler):\n")
    for key, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:15]:
        out.write(f"  {seconds * 1000 / texts:7.2f}  {seconds / total:6.1%}  {key}\n")
    out.write("\n")
    ours = re.escape(str(ROOT)) + r"/(hotline|scheduling|web/db|web/jsonlog)|sqlalchemy/orm/session"
    stats.sort_stats("cumulative").print_stats(ours, 40)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


# --- report --------------------------------------------------------------------------------


@dataclass
class Sanity:
    booked: int
    dialogues: int  # callers whose last request was sent
    rows: int  # inbound_messages or calls added
    rows_expected: int
    errors: dict[str, int]  # what the app logged at ERROR, by message and exception
    cpu_s: float | None
    silent: int = 0  # replies a limit silenced (texts: from the database; calls: from the log)


ROWS = [("sms", "POST /hotline/sms"), ("sms-paced", "  the same, paced"), ("sms-1", "  the same, 1 connection"),
        ("signed-sms", "signed, SMS-size TwiML"), ("bare-sms", "bare, SMS-size TwiML"),
        ("voice", "POST /hotline/voice*"), ("voice-paced", "  the same, paced"),
        ("signed-voice", "signed, voice-size TwiML"), ("bare-voice", "bare, voice-size TwiML")]
LINES = {"sms": ("SMS", ["sms", "sms-paced", "sms-1"]), "voice": ("voice", ["voice", "voice-paced"])}


def invalid_because(runs: list[str], results: dict[str, WrkResult], sanity: dict[str, Sanity]) -> list[str]:
    """Why a line's figures measure something other than a booking line at work: in any of
    its runs, fewer than TARGET_BOOKED of the finished dialogues booked, or a reply was
    silenced. Empty: the figures stand."""
    reasons = []
    for key in runs:
        s, r = sanity.get(key), results.get(key)
        if not s or not r or r.problem:
            continue
        if s.dialogues == 0:
            reasons.append(f"{key}: no dialogue finished")
        elif s.booked < TARGET_BOOKED * s.dialogues:
            reasons.append(f"{key}: {s.booked} of {s.dialogues} finished dialogues booked "
                           f"({s.booked / s.dialogues:.0%} < {TARGET_BOOKED:.0%})")
        if s.silent:
            reasons.append(f"{key}: {s.silent} replies silenced by a limit")
    return reasons


def report(results: dict[str, WrkResult], sanity: dict[str, Sanity], info: list[str], args) -> None:
    print()
    print(f"webhooks under gunicorn on 127.0.0.1 (-w {args.workers} --threads {args.threads}), load from "
          f"wrk -t {args.connections} -c {args.connections} (one connection per wrk thread), "
          f"{args.duration:g} s per target after {args.warmup:g} s of warm-up (none before a paced run)")
    for line in info:
        print(line)
    print("limits set for Linja: " + ", ".join(f"{k}={v}" for k, v in LIMITS.items())
          + " (set so high that no caller here is silenced, the checks still running; the counts below check it)")
    print()
    head = (f"{'target':<26}{'conns':>6}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}"
            f"{'max ms':>8}{'non-2xx':>8}{'sockerr':>8}{'CPU ms/req':>11}")
    print(head)
    print("-" * len(head))
    for key, label in ROWS:
        r = results.get(key)
        if r is None:
            continue
        if r.problem:
            print(f"{label:<26}  {r.problem}")
            continue
        s = sanity.get(key)
        cpu = f"{s.cpu_s * 1000 / r.requests:.2f}" if s and s.cpu_s is not None and r.requests else "-"
        print(f"{label:<26}{r.connections:>6}{r.requests:>9}{r.per_second:>8.0f}{r.p50_ms:>8.1f}{r.p90_ms:>8.1f}"
              f"{r.p99_ms:>8.1f}{r.max_ms:>8.1f}{r.non_2xx:>8}{r.socket_errors:>8}{cpu:>11}")
    print()
    for kind, (name, runs) in LINES.items():
        r, signed, bare = results.get(kind), results.get(f"signed-{kind}"), results.get(f"bare-{kind}")
        if not r or r.problem:
            continue
        reasons = invalid_because(runs, results, sanity)
        if reasons:
            print(f"{name:<5} INVALID, no ratio and no verdict: " + "; ".join(reasons))
            continue
        parts, missed = [], []
        if signed and not signed.problem and signed.per_second:
            ratio = r.per_second / signed.per_second
            parts.append(f"{ratio:.2f}x the signed endpoint's requests/s (target >= {TARGET_RATIO:.2f}x)")
            if ratio < TARGET_RATIO:
                missed.append(f"throughput {ratio:.2f}x < {TARGET_RATIO:.2f}x")
        else:
            missed.append("no signed endpoint run")
        paced = results.get(f"{kind}-paced")
        if paced and not paced.problem:
            parts.append(f"paced at {paced.per_second:.0f} req/s (asked {paced.asked_per_second:.0f}): p99 "
                         f"{paced.p99_ms:.1f} ms (target < {TARGET_P99_MS:.0f} ms)")
            if not paced.p99_ms < TARGET_P99_MS:
                missed.append(f"paced p99 {paced.p99_ms:.0f} ms >= {TARGET_P99_MS:.0f} ms")
        else:
            missed.append("no paced run")
        if bare and not bare.problem and bare.per_second:
            parts.append(f"bare {r.per_second / bare.per_second:.2f}x (no target)")
        verdict = "target met" if not missed else "target MISSED: " + ", ".join(missed)
        print(f"{name:<5} " + "; ".join(parts) + f"   {verdict}")
    print(f"target: {TARGET_TEXT}")
    print()
    for key, label in ROWS:
        s, r = sanity.get(key), results.get(key)
        if not s or not r or r.problem or key.startswith(("bare", "signed")):
            continue
        is_sms = key.startswith("sms")
        notes = [f"{s.booked} appointments booked, {s.dialogues} callers had an answer to their last "
                 f"{'text' if is_sms else 'key press'}",
                 f"{s.silent} {'texts answered with silence or a notice' if is_sms else 'calls refused by a limit'}",
                 f"{s.rows} new {'inbound_messages' if is_sms else 'calls'} rows (expected about {s.rows_expected})"]
        for what, n in sorted(s.errors.items(), key=lambda kv: -kv[1]):
            notes.append(f"logged {n} x {what}")
        if r.overrun:
            notes.append(f"{r.overrun} requests beyond the precomputed ones (sent as GET /healthz): "
                         "raise --max-rate")
        print(f"{label.strip()} ({key}): " + "; ".join(notes))
    print("finished dialogues: from the database (the last text's MessageSid recorded; a call's turn counter at "
          "the rehearsal's last). A call's key presses are precomputed, so a caller told her slot was just taken "
          "still presses the confirm key (as Twilio never would).")
    print("paced: wrk's delay() holds each connection to (rate asked / connections); a connection that falls "
          "behind does not send a burst to catch up, so the rate reached can be lower than asked")
    print("non-2xx: responses with status >= 400 as wrk counts them (the signed endpoint answers 403 to a bad "
          "signature); sockerr: connect, read and write errors and timeouts (10 s)")
    print("CPU ms/req: user+sys CPU of gunicorn's master and workers during the run / requests "
          "(wrk and the database server are not in it)")


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL server for the throwaway database (default: $BENCH_DATABASE_URL, "
                             f"else {DEFAULT_POSTGRES} if it answers, else SQLite)")
    parser.add_argument("--sqlite", action="store_true", help="use SQLite even if PostgreSQL answers")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per target (default 10; 0: no load runs, only the "
                             "in-process tables)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of untimed load first (default 2)")
    parser.add_argument("--single", type=float, default=5.0,
                        help="seconds of the SMS dialogue on 1 connection, for latency without queueing "
                             "(default 5; 0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--connections", type=int, default=0,
                        help="wrk threads = connections (default: workers x threads)")
    parser.add_argument("--max-rate", type=float, default=3000.0,
                        help="requests/s the precomputed dialogues must last for (default 3000)")
    parser.add_argument("--steps", type=int, default=20, metavar="N",
                        help="N SMS and N voice dialogues in this process, timed per step (default 20; 0: skip)")
    parser.add_argument("--show-sql", action="store_true",
                        help="with --steps: print the SQL statements of each step of the last dialogue")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="and N SMS dialogues in this process under cProfile: where the CPU goes")
    parser.add_argument("--logs", metavar="DIR", help="keep gunicorn's logs (and the request files) in DIR")
    args = parser.parse_args(argv)
    args.connections = args.connections or args.workers * args.threads

    signal.signal(signal.SIGTERM, _raise_on_signal)
    processes = Processes()
    if args.logs:
        logs = Path(args.logs)
        logs.mkdir(parents=True, exist_ok=True)
    else:
        logs = Path(tempfile.mkdtemp(prefix="linja_bench_webhooks_"))
    try:
        return run(args, processes, logs)
    except Exception:
        traceback.print_exc()
        print("webhooks benchmark: stopped by the error above; no figures")
        return 0
    finally:
        processes.stop_all()
        if not args.logs:
            shutil.rmtree(logs, ignore_errors=True)


@dataclass
class Load:
    """One timed wrk run."""

    target: str
    server: Server
    files: str  # request files: sms, sms-1, sms-paced, voice, voice-paced
    connections: int
    seconds: float
    warm: str | None  # request files for the warm-up, if any
    paced_from: str | None = None  # paced at PACE_SHARE of this run's requests/s


@dataclass
class RequestFiles:
    directory: Path
    per_thread: list[int]  # requests in each thread's file
    offsets: list[int]  # fillers at the start of each thread's file
    steps: int  # requests per dialogue
    number: int  # the callers' number range


def run(args, processes: Processes, logs: Path) -> int:
    postgres = None if args.sqlite else args.postgres
    if not args.sqlite and not postgres and postgres_answers(DEFAULT_POSTGRES):
        postgres = DEFAULT_POSTGRES
    database = postgres_database(postgres) if postgres else sqlite_database()
    wrk = shutil.which("wrk") if args.duration > 0 else None
    clock = next_monday_morning(datetime.now(OSLO).date())
    port, bare_port, signed_port = free_port(), free_port(), free_port()
    base_url = f"http://127.0.0.1:{port}"

    with database as url:
        backend = "PostgreSQL" if postgres else "SQLite"
        print(f"{backend}: migrating and building the centre ...", file=sys.stderr, flush=True)
        t0 = timer.perf_counter()
        migrate(url)
        engine = make_engine(url, **({"serialise_sqlite": False} if url.startswith("sqlite") else {}))
        try:
            version = database_version(engine)
            build_centre(engine, clock)
            build_s = timer.perf_counter() - t0
            env = linja_env(url, base_url, clock)
            with app_in_process(env) as app:
                rehearsal = rehearse(app, engine, base_url)
            if rehearsal.problems:
                print("webhooks benchmark: the rehearsal through the Flask test client failed, no load run:")
                for problem in rehearsal.problems:
                    print("  " + problem)
                return 0
            sms_bytes = round(statistics.mean(rehearsal.sms_sizes))
            voice_bytes = round(statistics.mean(rehearsal.voice_sizes))
            where = (f"a throwaway database on {make_url(postgres).render_as_string()}" if postgres
                     else "a temporary file")
            info = [
                f"database: {version} ({where}), built in {build_s:.1f} s: {N_COUNSELORS} counselors "
                f"(all {len(ALL_LANGUAGES)} languages, all {len(SERVICES)} services, "
                f"Mon-Fri {HOURS[0]:%H:%M}-{HOURS[1]:%H:%M}); LINJA_CLOCK={clock.isoformat()}",
                f"SMS dialogue: {' / '.join(SMS_BODIES)}; answers {'/'.join(map(str, rehearsal.sms_sizes))} "
                f"bytes, bare answer {sms_bytes} bytes (their mean)",
                f"call: {' -> '.join(rehearsal.voice_paths)} (keys {' '.join(VOICE_KEYS)}); answers "
                f"{'/'.join(map(str, rehearsal.voice_sizes))} bytes, bare answer {voice_bytes} bytes",
                f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs shared by wrk, gunicorn and the database",
            ]
            if wrk is None:
                print()
                for line in info:
                    print(line)
                if args.duration > 0:
                    print("wrk is not installed (not on PATH): the load runs are skipped, no throughput "
                          "figures. Install it (e.g. apt-get install wrk) and run again.")
            else:
                results, sanity = load_runs(args, processes, logs, engine, env, base_url, port, bare_port,
                                            signed_port, rehearsal, sms_bytes, voice_bytes, wrk)
                if results:
                    report(results, sanity, info, args)

            if args.steps or args.profile:
                print("timing the dialogues in this process ...", file=sys.stderr, flush=True)
                with app_in_process(env) as app:
                    if args.steps:
                        print()
                        sms = [sms_dialogue(base_url, PROFILE_NUMBERS, i) for i in range(args.steps + 2)]
                        print(step_table(app, "SMS dialogue", SMS_STEP_LABELS, sms[2:], sms[:2], "sms",
                                         args.show_sql))
                        calls = [voice_dialogue(base_url, rehearsal.voice_paths, PROFILE_NUMBERS + 100_000, i)
                                 for i in range(args.steps + 2)]
                        print(step_table(app, "call", VOICE_STEP_LABELS, calls[2:], calls[:2], "voice",
                                         args.show_sql))
                    if args.profile:
                        print(profile_sms(app, [sms_dialogue(base_url, PROFILE_NUMBERS, 200_000 + i)
                                                for i in range(args.profile)]))
        finally:
            engine.dispose()
    return 0


def load_runs(args, processes, logs, engine, env, base_url, port, bare_port, signed_port, rehearsal, sms_bytes,
              voice_bytes, wrk):
    print("signing requests ...", file=sys.stderr, flush=True)
    c = args.connections
    sms_steps, voice_steps = len(SMS_BODIES), len(rehearsal.voice_paths)

    def sms_files(name, number, connections, seconds) -> RequestFiles:
        callers = int(seconds * args.max_rate / sms_steps) + 2 * connections
        directory = logs / name
        per_thread = write_request_files(
            directory, (sms_dialogue(base_url, number, i) for i in range(callers)), connections,
            staggered("sms", base_url, number, connections, sms_steps))
        return RequestFiles(directory, per_thread, [t * sms_steps // connections for t in range(connections)],
                            sms_steps, number)

    def voice_files(name, number, connections, seconds) -> RequestFiles:
        callers = int(seconds * args.max_rate / voice_steps) + 2 * connections
        directory = logs / name
        per_thread = write_request_files(
            directory, (voice_dialogue(base_url, rehearsal.voice_paths, number, i) for i in range(callers)),
            connections, staggered("voice", base_url, number, connections, voice_steps))
        return RequestFiles(directory, per_thread, [t * voice_steps // connections for t in range(connections)],
                            voice_steps, number)

    warm = max(args.warmup, 0.5)
    files = {
        "sms": sms_files("sms", SMS_NUMBERS, c, args.duration),
        "voice": voice_files("voice", VOICE_NUMBERS, c, args.duration),
        "sms-warm": sms_files("sms-warm", SMS_WARM_NUMBERS, c, warm),
        "voice-warm": voice_files("voice-warm", VOICE_WARM_NUMBERS, c, warm),
        "sms-paced": sms_files("sms-paced", SMS_PACED_NUMBERS, c, args.duration),
        "voice-paced": voice_files("voice-paced", VOICE_PACED_NUMBERS, c, args.duration),
    }
    if args.single > 0:
        files["sms-1"] = sms_files("sms-1", SINGLE_NUMBERS, 1, args.single)
    script, paced_script = logs / "webhooks.lua", logs / "webhooks-paced.lua"
    script.write_text(LUA)
    paced_script.write_text(LUA_PACED)

    print("starting gunicorn ...", file=sys.stderr, flush=True)
    linja = start_gunicorn(processes, "linja", "app:create_app()", port, env, args, logs, ROOT)
    sizes = {"BARE_SMS_BYTES": str(sms_bytes), "BARE_VOICE_BYTES": str(voice_bytes)}
    bare = start_gunicorn(processes, "bare", "bare_app:create_app()", bare_port, sizes, args, logs, BENCH)
    # The signed endpoint checks the signatures Linja checks: the same token and public URL.
    signed = start_gunicorn(processes, "signed", "bare_app:create_app()", signed_port,
                            {**sizes, "BARE_SIGNED": "1", "TWILIO_AUTH_TOKEN": env["TWILIO_AUTH_TOKEN"],
                             "PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"]}, args, logs, BENCH)
    for server in (linja, bare, signed):
        problem = wait_healthy(server)
        if problem:
            print("webhooks benchmark: " + problem)
            return {}, {}

    plan = [Load("bare-sms", bare, "sms", c, args.duration, "sms-warm"),
            Load("signed-sms", signed, "sms", c, args.duration, "sms-warm"),
            Load("sms", linja, "sms", c, args.duration, "sms-warm"),
            Load("sms-paced", linja, "sms-paced", c, args.duration, None, paced_from="sms")]
    if args.single > 0:
        plan.append(Load("sms-1", linja, "sms-1", 1, args.single, None))
    plan += [Load("bare-voice", bare, "voice", c, args.duration, "voice-warm"),
             Load("signed-voice", signed, "voice", c, args.duration, "voice-warm"),
             Load("voice", linja, "voice", c, args.duration, "voice-warm"),
             Load("voice-paced", linja, "voice-paced", c, args.duration, None, paced_from="voice")]
    results: dict[str, WrkResult] = {}
    sanity: dict[str, Sanity] = {}
    for load in plan:
        is_bare = load.server is not linja
        pace_ms = 0.0
        if load.paced_from:
            reached = results.get(load.paced_from)
            if reached is None or reached.problem or not reached.per_second:
                results[load.target] = WrkResult(load.target, load.connections,
                                                 problem=f"not run: no requests/s from {load.paced_from}")
                continue
            # Each connection's share of PACE_SHARE x the requests/s reached: ms between requests.
            pace_ms = 1000 * load.connections / (reached.per_second * PACE_SHARE)
        if load.warm and args.warmup > 0:
            print(f"{load.target}: warming up {args.warmup:g} s ...", file=sys.stderr, flush=True)
            run_wrk(processes, wrk, load.target, load.server.port, script, files[load.warm].directory,
                    load.connections, args.warmup, wrap=True)
        before, errors_before = settle(engine), load.server.errors()
        silenced_before = load.server.silenced()
        cpu_before = process_tree_cpu(load.server.process.pid)
        print(f"{load.target}: {load.seconds:g} s" + (f", a request every {pace_ms:.1f} ms per connection"
                                                      if pace_ms else "") + " ...", file=sys.stderr, flush=True)
        request_files = files[load.files]
        # The bare app may start its files again; Linja must not (the dialogues would repeat).
        result = run_wrk(processes, wrk, load.target, load.server.port, paced_script if pace_ms else script,
                         request_files.directory, load.connections, load.seconds, wrap=is_bare, pace_ms=pace_ms)
        cpu = process_tree_cpu(load.server.process.pid) - cpu_before
        result.asked_per_second = load.connections * 1000 / pace_ms if pace_ms else 0.0
        results[load.target] = result
        if is_bare or result.problem:
            sanity[load.target] = Sanity(0, 0, 0, 0, {}, cpu)
            continue
        after = settle(engine)
        steps = request_files.steps
        # Requests sent per thread (those beyond its file were GET /healthz), and past its
        # fillers, the requests of whole dialogues.
        sent = [min(n, limit) for n, limit in zip(result.sent_per_thread, request_files.per_thread)]
        in_dialogues = [max(n - off, 0) for n, off in zip(sent, request_files.offsets)]
        is_sms = load.files.startswith("sms")
        errors = load.server.errors()
        finished = finished_dialogues(engine, "sms" if is_sms else "voice", request_files.number,
                                      rehearsal.final_turn)
        sanity[load.target] = Sanity(
            booked=(after.sms_booked - before.sms_booked) if is_sms else (after.voice_booked - before.voice_booked),
            dialogues=sum(n // steps for n in in_dialogues) if finished is None else finished,
            rows=(after.inbound - before.inbound) if is_sms else (after.calls - before.calls),
            # A text: one inbound_messages row. A call: one calls row, at its first request.
            rows_expected=sum(sent) if is_sms else sum(
                min(n, off) + -(-d // steps) for n, off, d in zip(sent, request_files.offsets, in_dialogues)),
            errors={k: n - errors_before.get(k, 0) for k, n in errors.items() if n > errors_before.get(k, 0)},
            cpu_s=cpu,
            # Texts: from the database. Calls: a refused call leaves no row, only its warning.
            silent=(after.silent - before.silent) if is_sms else load.server.silenced() - silenced_before,
        )
    for server in (linja, bare, signed):
        processes.stop(server.process)
    return results, sanity


if __name__ == "__main__":
    sys.exit(main())
