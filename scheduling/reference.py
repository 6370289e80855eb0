"""The reference data every text and call reads, kept per process.

The enabled languages, the services with their names, the opening hours, the closures and
the index of recorded prompts change a few times a year and are read on nearly every
request. Each process keeps them
as plain values (never ORM objects, which belong to one session), together with the
number in ``reference_version`` they were read at. Triggers raise that number in the
transaction that changes any of those tables (migration 0017), whoever writes, so a
request reads one small row and loads the rest only when it has changed.

The number is read before the data, in the request's own transaction: data read after a
change committed is at worst kept under the number before it, and read again by the next
request, never kept stale under the new one. A transaction that has itself written to
those tables sees its own changes, which may yet be rolled back: what it reads is used
for it alone, never kept.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from scheduling.models import (
    Closure,
    Language,
    OpeningHours,
    PromptRecording,
    ReferenceVersion,
    Service,
    ServiceName,
)

_SESSION_KEY = "linja.reference"
_VERSION_KEY = "linja.reference_version"
_WROTE = "linja.reference_written"
TABLES = frozenset({"languages", "services", "service_names", "opening_hours", "closures", "prompt_recordings"})


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    slug: str
    duration_minutes: int
    buffer_minutes: int
    is_active: bool
    names: Mapping[str, str]

    def name_in(self, language_code: str, fallback: str = "nb") -> str:
        return self.names.get(language_code) or self.names.get(fallback) or self.slug


@dataclass(frozen=True)
class Reference:
    version: int | None
    languages: tuple[tuple[str, str], ...]  # enabled (code, name in itself), in menu order
    services: Mapping[int, ServiceInfo]  # every service by id, active or not, in menu order
    opening: Mapping[int, tuple[tuple[time, time], ...]]  # weekday -> (opens, closes), in order
    closures: tuple[tuple[date, date], ...]  # first and last day, inclusive
    # language -> prompt key -> (token, the wording's version it was made for); whether
    # that is the present wording is hotline.voices' to say
    recordings: Mapping[str, Mapping[str, tuple[str, str | None]]]

    @property
    def active_services(self) -> dict[int, ServiceInfo]:
        return {id_: s for id_, s in self.services.items() if s.is_active}

    def closures_between(self, first_day: date, last_day: date) -> list[tuple[date, date]]:
        return [(a, b) for a, b in self.closures if b >= first_day and a <= last_day]


# Per database (the tests run two in one process).
_kept: dict[str, Reference] = {}
_lock = threading.Lock()


def reference(session: Session) -> Reference:
    """The reference data as ``session``'s transaction sees it (read once per transaction)."""
    transaction = session.get_transaction()
    memo = session.info.get(_SESSION_KEY)
    if memo is not None and transaction is not None and memo[0] is transaction:
        return memo[1]
    database = str(session.get_bind().url)
    read = session.info.get(_VERSION_KEY)
    if read is not None and transaction is not None and read[0] is transaction:
        version = read[1]
    else:
        version = session.scalar(select(ReferenceVersion.version).where(ReferenceVersion.id == 1))
    kept = _kept.get(database)
    if kept is None or version is None or kept.version != version:
        kept = _load(session, version)
        if version is not None and not session.info.get(_WROTE):
            with _lock:
                _kept[database] = kept
    session.info[_SESSION_KEY] = (session.get_transaction(), kept)
    return kept


def version_column():
    """SQL: the number in ``reference_version``, for a request that reads it together with
    what it reads first anyway and hands it to ``read_version``."""
    return select(ReferenceVersion.version).where(ReferenceVersion.id == 1).scalar_subquery()


def read_version(session: Session, version: int | None) -> None:
    """``version_column()`` as this transaction read it, so that ``reference`` need not read
    it again. Read before the data, like the number ``reference`` reads itself."""
    if not session.info.get(_WROTE):
        session.info[_VERSION_KEY] = (session.get_transaction(), version)


def forget() -> None:
    """Drop what this process keeps (tests that swap databases under one process)."""
    with _lock:
        _kept.clear()


def _load(session: Session, version: int | None) -> Reference:
    languages = tuple((code, name) for code, name in session.execute(
        select(Language.code, Language.name_native).where(Language.is_enabled.is_(True))
        .order_by(Language.menu_order, Language.code)))
    names: dict[int, dict[str, str]] = {}
    for service_id, code, name in session.execute(
            select(ServiceName.service_id, ServiceName.language_code, ServiceName.name)):
        names.setdefault(service_id, {})[code] = name
    services = {row.id: ServiceInfo(row.id, row.slug, row.duration_minutes, row.buffer_minutes, row.is_active,
                                    names.get(row.id, {}))
                for row in session.execute(
                    select(Service.id, Service.slug, Service.duration_minutes, Service.buffer_minutes,
                           Service.is_active).order_by(Service.menu_order, Service.id))}
    opening: dict[int, list[tuple[time, time]]] = {}
    for weekday, opens, closes in session.execute(
            select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
            .order_by(OpeningHours.weekday, OpeningHours.opens)):
        opening.setdefault(weekday, []).append((opens, closes))
    closures = tuple((a, b) for a, b in session.execute(
        select(Closure.first_day, Closure.last_day).order_by(Closure.first_day)))
    recordings: dict[str, dict[str, tuple[str, str | None]]] = {}
    for code, key, token, text_version in session.execute(
            select(PromptRecording.language_code, PromptRecording.prompt_key, PromptRecording.token,
                   PromptRecording.text_version)):
        recordings.setdefault(code, {})[key] = (token, text_version)
    return Reference(version, languages, services, {k: tuple(v) for k, v in opening.items()}, closures, recordings)


# --- which transactions wrote to the reference tables themselves ------------------------------


def _is_reference(thing) -> bool:
    table = getattr(thing, "__table__", None)
    return table is not None and table.name in TABLES


def _wrote(session: Session) -> None:
    """Her own changes: from now on this transaction reads the data anew, for itself."""
    session.info[_WROTE] = True
    session.info.pop(_SESSION_KEY, None)
    session.info.pop(_VERSION_KEY, None)


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, _context, _instances) -> None:
    if any(_is_reference(obj) for obj in (*session.new, *session.dirty, *session.deleted)):
        _wrote(session)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is not None and getattr(table, "name", None) in TABLES:
            _wrote(state.session)


@event.listens_for(Session, "after_transaction_end")
def _transaction_over(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint: the transaction around it, and what it read, go on
    session.info.pop(_WROTE, None)
    session.info.pop(_SESSION_KEY, None)
    session.info.pop(_VERSION_KEY, None)
