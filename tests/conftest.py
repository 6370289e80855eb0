"""Shared fixtures: real databases (SQLite always, PostgreSQL when one answers), a fixed
clock, factories for the calendar, and the Flask app and client.

Every database test runs once per backend. The PostgreSQL runs use the server
TEST_DATABASE_URL names or, when it is unset, the local one (LOCAL_POSTGRES: database
``test`` on 127.0.0.1:5432), never any other. When it does not answer, they are skipped
with the reason in one line; CI sets LINJA_REQUIRE_POSTGRES=1, which turns that skip into
a failure. The run ends with a short summary of what was skipped and how to enable it.
"""
from __future__ import annotations

import functools
import os
import uuid
from collections import Counter
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, delete, event, make_url, text
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from scheduling.availability import BookingRules
from scheduling.clock import FixedClock
from scheduling.db import make_engine, make_session_factory
from scheduling.models import (
    Absence,
    Appointment,
    AppointmentStatus,
    Base,
    BookedVia,
    Client,
    Closure,
    Language,
    OpeningHours,
    Service,
    ServiceName,
    Staff,
    StaffRole,
    WorkingHours,
)
from web.cli import upgrade_database

# CI gates on the same fuzz examples every run, so a landing never hangs on a chance find;
# every other run explores anew (HYPOTHESIS_PROFILE=ci in .ci/run).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

OSLO = ZoneInfo("Europe/Oslo")
# Monday 23 November 2026, 08:00 in Oslo.
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
BACKENDS = ["sqlite", "postgresql"]


def next_noon_in_oslo() -> str:
    """An instant outside the quiet hours and after now, for worker processes that run on
    a real clock: texts never leave at night, whenever the tests happen to run."""
    from datetime import timedelta

    tomorrow = datetime.now(OSLO).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(12), tzinfo=OSLO).isoformat()


def oslo(*args) -> datetime:
    """An instant given as Oslo wall-clock time."""
    return datetime(*args, tzinfo=OSLO).astimezone(timezone.utc)


# The PostgreSQL server the tests use when TEST_DATABASE_URL is unset: a local one with a
# database `test` and trust authentication, as Debian's package and CI's set-up have it.
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_SECONDS = 2


def _postgres() -> tuple[str | None, str]:
    """(the admin URL, "") when the PostgreSQL tests can run; (None, why not) otherwise."""
    return probe_postgres(os.environ.get("TEST_DATABASE_URL") or LOCAL_POSTGRES)


@functools.cache
def probe_postgres(url: str) -> tuple[str | None, str]:
    """Does this server answer? Asked once a run, quickly: a server that does not answer
    costs at most two seconds."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not shown: what it holds may be a password
        return None, f"PostgreSQL: TEST_DATABASE_URL is not a database URL (such as {LOCAL_POSTGRES})"
    try:
        engine = create_engine(url, poolclass=NullPool,
                               connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as error:  # refused, unknown database, no driver, bad URL: all say why
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()
        first = cause[0] if cause else type(error).__name__
        why = " ".join(first.removeprefix("connection failed: ").split())
        return None, f"PostgreSQL: cannot connect to {shown} ({why[:200]})"
    return url, ""


def _postgres_admin_url() -> str | None:
    return _postgres()[0]


def _skip_or_fail_without_postgres() -> None:
    reason = _postgres()[1]
    if os.environ.get("LINJA_REQUIRE_POSTGRES"):
        pytest.fail(reason + ", but LINJA_REQUIRE_POSTGRES=1 requires them")
    pytest.skip(reason)


def pytest_report_header(config) -> str:
    url, why_not = _postgres()
    if url is None:
        required = os.environ.get("LINJA_REQUIRE_POSTGRES")
        return why_not + (": its tests fail (LINJA_REQUIRE_POSTGRES=1)" if required else ": its tests are skipped")
    shown = make_url(url).render_as_string(hide_password=True)
    return f"PostgreSQL: {shown}: the database tests run on it too"


def _how_to_enable(reason: str) -> dict[str, str]:
    """How to run what was skipped, by the start of the skip's reason."""
    if not os.environ.get("TEST_DATABASE_URL"):
        postgres = ("create the database test: createdb -h 127.0.0.1 -U postgres test"
                    if "does not exist" in reason else
                    "start PostgreSQL on 127.0.0.1:5432 with a database test (user postgres, trust "
                    "authentication), or set TEST_DATABASE_URL to a server's URL")
    elif "does not exist" in reason:  # the server answers
        postgres = "create the database TEST_DATABASE_URL names, or unset it to use a local one"
    elif "is not a database URL" in reason:
        postgres = "correct TEST_DATABASE_URL, or unset it to use a local one"
    else:
        postgres = "start the server TEST_DATABASE_URL names, or unset it to use a local one"
    return {
        "PostgreSQL:": postgres,
        "browser:": "apt-get install chromium fonts-sil-abyssinica fonts-sil-scheherazade (Debian's Chromium "
                    "at /usr/bin/chromium; the fonts show Tigrinya and Urdu)",
    }


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """What was skipped, grouped by reason with counts, and how to run it: in place of
    pytest's line per skipped test (pyproject's -rfE still lists failures and errors)."""
    reasons = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if not reasons:
        return
    terminalreporter.section("skipped", sep="-")
    width = len(str(max(reasons.values())))
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:>{width}} {reason}")
        hints = _how_to_enable(reason).items()
        hint = next((hint for start, hint in hints if reason.startswith(start)), None)
        if hint:
            terminalreporter.write_line(f"{'':>{width}}   to run them: {hint}")


class FreshDatabases:
    """Creates empty databases for the session and drops them at the end."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.created: list[str] = []

    def new(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / f'{uuid.uuid4().hex}.sqlite3'}"
        admin_url = _postgres_admin_url()
        if admin_url is None:
            _skip_or_fail_without_postgres()
        name = f"linja_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.created.append(name)
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        admin_url = _postgres_admin_url()
        if not self.created or admin_url is None:
            return
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def fresh_databases(tmp_path_factory):
    databases = FreshDatabases(tmp_path_factory.mktemp("db"))
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, fresh_databases) -> str:
    """A migrated database per backend, shared by the session; tables emptied per test."""
    url = fresh_databases.new(request.param)
    upgrade_database(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    # The tests' own session inspects what the app wrote; on SQLite it must not hold the
    # write lock the app's requests need (see scheduling.db).
    engine = make_engine(database_url, serialise_sqlite=False)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    yield make_session_factory(engine)
    _empty_tables(engine)


def _empty_tables(engine) -> None:
    # Languages are reference data seeded by the migration, and the reference version only
    # ever rises (scheduling.reference); everything else goes.
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in (Language.__tablename__, "reference_version"):
                connection.execute(delete(table))


@pytest.fixture
def db_session(sessions):
    session = sessions()
    yield session
    session.rollback()
    session.close()


def page_and_statements(browser, path: str) -> tuple[str, int]:
    """The page at ``path`` and how many SQL statements the app ran to answer it."""
    seen = []
    listen = lambda *args: seen.append(1)  # noqa: E731
    engine = browser.application.extensions["linja.engine"]
    event.listen(engine, "before_cursor_execute", listen)
    try:
        html = browser.get(path).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return html, len(seen)


def fresh(session):
    """End the test session's transaction so its next read sees what the app committed."""
    session.commit()
    session.expire_all()
    return session


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def rules() -> BookingRules:
    return BookingRules()


class Factory:
    """Builds calendar rows with sensible defaults; every argument can be overridden."""

    def __init__(self, session):
        self.session = session
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def service(self, slug=None, minutes=60, buffer=15, names=None, **overrides) -> Service:
        n = self._next()
        service = Service(
            slug=slug or f"service-{n}", duration_minutes=minutes, buffer_minutes=buffer,
            is_active=True, menu_order=n, **overrides,
        )
        service.names = [
            ServiceName(language_code=code, name=name)
            for code, name in (names or {"nb": f"Tjeneste {n}", "en": f"Service {n}"}).items()
        ]
        self.session.add(service)
        self.session.flush()
        return service

    def counselor(
        self, *, languages=("nb",), services=(), hours=None, name=None,
        role=StaffRole.counselor, valid_from=date(2026, 1, 1), valid_until=None, **overrides,
    ) -> Staff:
        """``hours``: {weekday: (start, end)} in local time; default Mon-Fri 09-16."""
        n = self._next()
        staff = Staff(
            name=name or f"Counselor {n}", role=role, created_at=NOW,
            **{"email": f"staff{n}-{uuid.uuid4().hex[:6]}@linja.test", "is_active": True, **overrides},
        )
        staff.languages = [self.session.get(Language, code) for code in languages]
        staff.services = list(services)
        self.session.add(staff)
        self.session.flush()
        if hours is None and role == StaffRole.counselor:
            hours = {day: (time(9), time(16)) for day in range(5)}
        for weekday, (starts, ends) in (hours or {}).items():
            self.session.add(WorkingHours(
                staff_id=staff.id, weekday=weekday, starts=starts, ends=ends,
                valid_from=valid_from, valid_until=valid_until,
            ))
        self.session.flush()
        return staff

    def opening_hours(self, hours=None) -> None:
        """Default: the centre is open Mon-Fri 08:00-18:00."""
        for weekday, (opens, closes) in (hours or {d: (time(8), time(18)) for d in range(5)}).items():
            self.session.add(OpeningHours(weekday=weekday, opens=opens, closes=closes))
        self.session.flush()

    def closure(self, first_day: date, last_day: date) -> Closure:
        closure = Closure(first_day=first_day, last_day=last_day, reason="test")
        self.session.add(closure)
        self.session.flush()
        return closure

    def absence(self, counselor: Staff, starts_at: datetime, ends_at: datetime) -> Absence:
        absence = Absence(staff_id=counselor.id, starts_at=starts_at, ends_at=ends_at)
        self.session.add(absence)
        self.session.flush()
        return absence

    def client(self, phone_e164=None, language_code="nb") -> Client:
        client = Client(
            phone_e164=phone_e164 or f"+47900{self._next():05d}", language_code=language_code,
            is_opted_out=False, created_at=NOW,
        )
        self.session.add(client)
        self.session.flush()
        return client

    def appointment(self, counselor: Staff, service: Service, start_at: datetime, **overrides) -> Appointment:
        from datetime import timedelta

        end_at = start_at + timedelta(minutes=service.duration_minutes)
        values = dict(
            counselor_id=counselor.id, service_id=service.id, start_at=start_at, end_at=end_at,
            busy_until_at=end_at + timedelta(minutes=service.buffer_minutes),
            status=AppointmentStatus.booked, booked_via=BookedVia.staff, created_at=NOW,
            updated_at=NOW, language_code="nb",
        )
        values.update(overrides)
        if values["booked_via"] in (BookedVia.sms, BookedVia.voice):
            # She booked it herself, so she was told its time (scheduling.booking).
            values = {"told_start_at": values["start_at"], "told_counselor_id": values["counselor_id"],
                      "told_at": values["created_at"], **values}
        appointment = Appointment(**values)
        self.session.add(appointment)
        self.session.flush()
        return appointment


@pytest.fixture
def make(db_session) -> Factory:
    return Factory(db_session)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


# Room for the many texts and calls a test makes in one (fixed) hour.
ROOM_FOR_MANY = {"REPLIES_PER_NUMBER_PER_HOUR": 1000, "CALLS_PER_NUMBER_PER_HOUR": 1000}


@pytest.fixture
def app_config() -> dict:
    """What a test module adds to the test app's configuration (it overrides this)."""
    return {}


@pytest.fixture
def app(database_url, clock, sessions, app_config):
    from app import create_app

    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "CLOCK": clock,
        "PUBLIC_BASE_URL": "https://linja.test",
        **app_config,
    })
    yield app
    app.extensions["linja.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def centre(make, db_session):
    """Two services and three counselors: one each speaking Somali, Arabic and Tigrinya."""
    make.opening_hours()
    talk = make.service(minutes=60, buffer=15, names={"nb": "Samtale", "so": "Wada-hadal", "ar": "حديث", "ti": "ዘተ"})
    family = make.service(minutes=45, buffer=15, names={"nb": "Familie", "so": "Qoys", "ar": "عائلة", "ti": "ስድራ"})
    counselors = {
        "so": make.counselor(languages=["so", "nb"], services=[talk, family]),
        "ar": make.counselor(languages=["ar", "nb"], services=[talk, family]),
        "ti": make.counselor(languages=["ti", "nb"], services=[talk, family]),
    }
    db_session.commit()
    return {"talk": talk, "family": family, "counselors": counselors}


def make_twilio_app(database_url, clock, fake_twilio, **config):
    """The app with the real twilio client pointed at the fake server, sending without a limit."""
    from app import create_app
    from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

    return create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "CLOCK": clock,
        "PUBLIC_BASE_URL": "https://linja.test", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM": "+4759440000", "TWILIO_API_BASE": fake_twilio.api_base,
        "SMS_PER_SECOND": 0, **config,
    })


@pytest.fixture
def twilio_app(database_url, clock, sessions, fake_twilio):
    app = make_twilio_app(database_url, clock, fake_twilio)
    yield app
    app.extensions["linja.engine"].dispose()


@pytest.fixture
def fake_twilio():
    """A Twilio-compatible REST server on 127.0.0.1 for the real twilio client."""
    from tests.fake_twilio import FakeTwilio

    fake = FakeTwilio().start()
    yield fake
    fake.stop()
