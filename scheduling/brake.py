"""The brake on password guessing: failed sign-ins counted per e-mail address and per
network, one database row each, so every web process sees the same count.

A try is counted as a failure before its password is checked (``count_try``) and taken
back when the password was right (``forget``). Counting is one INSERT ... ON CONFLICT DO
UPDATE ... RETURNING per counter: of any number of tries at once, only those the database
numbered within the limit have their password checked; the others wait, however fast they
came. Past the limit each further failure doubles the wait, up to ``LONGEST_WAIT``.

Tries from the centre's own networks (TRUSTED_NETWORKS) are counted apart from tries
from elsewhere, so a stranger guessing a receptionist's password never locks her out at
the centre; the per-network count only applies to networks outside the centre.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from sqlalchemy import case, delete, literal, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from scheduling.models import SignInCounter
from scheduling.types import UTCDateTime

FAILURES_PER_EMAIL = 5
FAILURES_PER_NETWORK = 20
# The first wait past the limit; each further failure doubles it, up to the longest.
FIRST_WAIT = timedelta(minutes=15)
LONGEST_WAIT = timedelta(hours=2)
# After a quarter of an hour without a failure (once any wait is over), the count is forgotten.
FAILURE_WINDOW = timedelta(minutes=15)

EMAIL, EMAIL_TRUSTED, NETWORK = "email", "email_trusted", "network"

@dataclass(frozen=True)
class Counter:
    scope: str
    subject: str
    limit: int


def counters(email: str, remote_addr: str | None, trusted: tuple = ()) -> list[Counter]:
    """What one try counts against: her address (apart for the centre's own networks) and,
    from elsewhere, the network it came from (IPv6: its /64, what one household gets)."""
    email = email.strip().lower()[:254]
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        address = None
    if address is not None and address.version == 6 and address.ipv4_mapped is not None:
        # An IPv4 client as a dual-stack socket or a proxy writes it (::ffff:a.b.c.d).
        address = address.ipv4_mapped
    if address is not None and any(address in network for network in trusted):
        return [Counter(EMAIL_TRUSTED, email, FAILURES_PER_EMAIL)]
    found = [Counter(EMAIL, email, FAILURES_PER_EMAIL)]
    if address is not None:
        prefix = 64 if address.version == 6 else 32
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        found.append(Counter(NETWORK, str(network), FAILURES_PER_NETWORK))
    return found


def wait_after(failures: int, limit: int) -> timedelta | None:
    """How long the next try waits after this many failures: nothing under the limit."""
    if failures < limit:
        return None
    return min(FIRST_WAIT * 2 ** (failures - limit), LONGEST_WAIT)


def count_try(session: Session, found: list[Counter], now: datetime) -> timedelta | None:
    """Count this try as a failure on each counter, or say how long she must wait (then
    the caller rolls back, so a try that was not checked is not counted anywhere)."""
    for counter in found:
        numbered = session.execute(_count(session, counter, now)).first()
        if numbered is None:
            locked_until = session.scalar(select(SignInCounter.locked_until).where(
                SignInCounter.scope == counter.scope, SignInCounter.subject == counter.subject))
            return max(locked_until - now, timedelta(seconds=1)) if locked_until else timedelta(seconds=1)
    return None


def forget(session: Session, found: list[Counter]) -> None:
    """The password was right: her address's failures are forgotten, and this try no longer
    counts against the network (others there may still be guessing)."""
    for counter in found:
        where = (SignInCounter.scope == counter.scope, SignInCounter.subject == counter.subject)
        if counter.scope == NETWORK:
            session.execute(update(SignInCounter).where(*where, SignInCounter.failures > 0).values(
                failures=SignInCounter.failures - 1, locked_until=None))
        else:
            session.execute(delete(SignInCounter).where(*where))


def prune(session: Session, now: datetime) -> None:
    """Forget counters whose time is up, passing over any a sign-in is counting right now
    (waiting for them, in another order than it takes them, could deadlock)."""
    stale = session.execute(
        select(SignInCounter.scope, SignInCounter.subject)
        .where(SignInCounter.forget_at <= now).with_for_update(skip_locked=True)
    ).all()
    for scope, subject in stale:
        session.execute(delete(SignInCounter).where(
            SignInCounter.scope == scope, SignInCounter.subject == subject))


def seconds(wait: timedelta) -> int:
    """A wait as Retry-After says it: whole seconds, rounded up."""
    return max(1, ceil(wait.total_seconds()))


def _count(session: Session, counter: Counter, now: datetime):
    table = SignInCounter.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    failures = case((table.c.forget_at <= now, 1), else_=table.c.failures + 1)

    def by_failures(instant):
        # The instants for each number of failures are worked out here, as values, so one
        # statement on either database decides them from the count it has just raised.
        levels = [counter.limit + step for step in range(_steps(counter.limit))]
        return case(
            (failures < counter.limit, _at(instant(None))),
            *((failures == level, _at(instant(wait_after(level, counter.limit)))) for level in levels),
            else_=_at(instant(LONGEST_WAIT)),
        )

    locked_until = by_failures(lambda wait: None if wait is None else now + wait)
    forget_at = by_failures(lambda wait: now + (wait or timedelta(0)) + FAILURE_WINDOW)
    first_wait = wait_after(1, counter.limit)
    return (
        insert(table)
        .values(scope=counter.scope, subject=counter.subject, failures=1,
                locked_until=None if first_wait is None else now + first_wait,
                forget_at=now + (first_wait or timedelta(0)) + FAILURE_WINDOW)
        .on_conflict_do_update(
            index_elements=[table.c.scope, table.c.subject],
            set_={"failures": failures, "locked_until": locked_until, "forget_at": forget_at},
            where=or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
        )
        .returning(table.c.failures)
    )


def _steps(limit: int) -> int:
    steps = 1
    while wait_after(limit + steps, limit) < LONGEST_WAIT:
        steps += 1
    return steps


def _at(instant: datetime | None):
    return null() if instant is None else literal(instant, UTCDateTime())
