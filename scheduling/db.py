"""Engine and sessions: one place that knows how Linja talks to SQLite and PostgreSQL.

Sessions are handed out per web request (see ``web.db``) and per worker tick; domain
functions receive a session and flush, the edge commits once.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, serialise_sqlite: bool = True, **kwargs) -> Engine:
    """``serialise_sqlite=False`` is for a session that only inspects while others write
    (the tests' own): its reads then take no lock, as WAL allows."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, serialise=serialise_sqlite, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql"):
        # Sessions in UTC: instants come back already in UTC, with nothing to convert.
        kwargs.setdefault("connect_args", {"options": "-c timezone=UTC"})
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, *, serialise: bool, **kwargs) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        # Every transaction takes SQLite's write lock when it starts, so writers queue up
        # one after another instead of failing half-way with "database is locked" when a
        # read lock cannot be upgraded. This is what serialises bookings on SQLite.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if serialise else "BEGIN")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for one unit of work outside a web request: commit on success."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_connection_lost(error: BaseException) -> bool:
    """Did this error come from the connection to the database (cut, restarted, locked
    for too long) rather than from what was asked of it? Such a unit of work, rolled back,
    may be tried once more on a fresh connection."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError))
