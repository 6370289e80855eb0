"""The waiting list: when a time frees up, it goes to a woman who was waiting for it.

A caller joins the list for one service in her language when nothing suits her (no free
time within the horizon, or she wants an earlier one than she has). The worker looks at
the list in order (``position``, lower first) and, for the first woman a free time fits,
holds that time for her and offers it: the hold is a ``SlotHold`` like any other, owned by
her entry (``owner``), so the database keeps everyone else from booking it, and her own
dialogues, which let go only of their own holds, never release it. Her answer takes the
time or passes; silence passes when the hold ends. A time she passed on is not offered to
her again, and the next woman gets her chance.

Only a woman who can be reached right now is offered a time (her contact terms, STOP,
quiet hours: ``reachable``): the hold runs from the moment the offer is sent, and a text
that waited for her hours would spend it. She keeps her place for the next time.

The worker's job (``job``) holds the times and queues the offers ("waitlist_offer": the
time, and until when it is kept); the text's sending makes it the question her next text
answers (scheduling.sending), and the dialogue's WAITLIST_OFFER state takes it or passes
(``take`` / ``passes``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import holds, notifications
from scheduling.availability import BookingRules, Slot, find_free_slots
from scheduling.contact import ContactTerms
from scheduling.models import Appointment, AppointmentStatus, Client, WaitingEntry, WaitingStatus
from scheduling.reminders import quiet_span

# How long a time offered to her is held: from the moment the offer is sent.
OFFER_HOLD = timedelta(minutes=30)
LIVE = (WaitingStatus.waiting, WaitingStatus.offered)
# How many free times are looked at for one woman: a few she passed on may come first.
LOOK_AT = 5


def owner(entry: WaitingEntry) -> str:
    """Whose hold it is: her place on the list, not any dialogue of hers."""
    return f"waitlist:{entry.id}"


def _passed_key(counselor_id: int, start_at: datetime) -> str:
    return f"{counselor_id}@{start_at.isoformat()}"


@dataclass(frozen=True)
class Offered:
    entry_id: int
    client_id: int
    slot: Slot
    expires_at: datetime


def join(session: Session, *, client: Client, service_id: int, language_code: str, now: datetime,
         earlier_than: Appointment | None = None) -> WaitingEntry:
    """Put her on the list for ``service_id`` (last in line); if she is on it already, her
    place is kept (a time she now waits to have earlier is noted)."""
    entry = session.scalar(select(WaitingEntry).where(
        WaitingEntry.client_id == client.id, WaitingEntry.service_id == service_id,
        WaitingEntry.status.in_(LIVE)))
    if entry is not None:
        if earlier_than is not None:
            entry.earlier_than_appointment_id, entry.updated_at = earlier_than.id, now
        return entry
    last = session.scalar(select(func.max(WaitingEntry.position)).where(WaitingEntry.service_id == service_id))
    entry = WaitingEntry(
        client_id=client.id, service_id=service_id, language_code=language_code, status=WaitingStatus.waiting,
        position=(last or 0) + 1, earlier_than_appointment_id=earlier_than.id if earlier_than else None,
        joined_at=now, updated_at=now, offers_made=0, passed=[])
    session.add(entry)
    session.flush()
    return entry


def leave(session: Session, *, client_id: int, now: datetime, status: WaitingStatus = WaitingStatus.left) -> int:
    """Take her off the list (``removed`` when the desk does it); a time held for her goes
    back to everyone. Returns how many entries she had."""
    entries = session.scalars(select(WaitingEntry).where(
        WaitingEntry.client_id == client_id, WaitingEntry.status.in_(LIVE))).all()
    for entry in entries:
        _let_go(session, entry, now, status)
    return len(entries)


def passes(session: Session, entry: WaitingEntry, now: datetime) -> None:
    """She said no to the time held for her (or let it lapse): it is not offered to her
    again, she keeps her place, and the time goes back to everyone."""
    if entry.status != WaitingStatus.offered:
        return
    if entry.offer_counselor_id is not None and entry.offer_start_at is not None:
        entry.passed = [*entry.passed, _passed_key(entry.offer_counselor_id, entry.offer_start_at)]
    _let_go(session, entry, now, WaitingStatus.waiting)


def _let_go(session: Session, entry: WaitingEntry, now: datetime, status: WaitingStatus) -> None:
    holds.release_holds(session, client_id=entry.client_id, owner=owner(entry))
    entry.status, entry.updated_at = status, now
    entry.offer_counselor_id = entry.offer_start_at = entry.offer_expires_at = None


def lapse(session: Session, now: datetime) -> int:
    """Offers whose hold has ended without an answer: passed, so the next woman can have
    the time."""
    lapsed = session.scalars(select(WaitingEntry).where(
        WaitingEntry.status == WaitingStatus.offered, WaitingEntry.offer_expires_at <= now)
        .with_for_update(skip_locked=True)).all()
    for entry in lapsed:
        passes(session, entry, now)
    return len(lapsed)


def _earliest_fit(session: Session, entry: WaitingEntry, now: datetime, rules: BookingRules) -> Slot | None:
    """The first free time for her that she has not passed on (before the time she has,
    if she waits for an earlier one)."""
    before = None
    moving = None
    if entry.earlier_than_appointment_id is not None:
        current = session.get(Appointment, entry.earlier_than_appointment_id)
        if current is None or current.status != AppointmentStatus.booked or current.start_at <= now:
            return None
        before, moving = current.start_at, current.id
    passed = set(entry.passed or ())
    slots = find_free_slots(session, service_id=entry.service_id, language_code=entry.language_code, now=now,
                            rules=rules, limit=LOOK_AT + len(passed), moving=moving)
    for slot in slots:
        if before is not None and slot.start_at >= before:
            return None
        if _passed_key(slot.counselor_id, slot.start_at) not in passed:
            return slot
    return None


def offer_free_times(session: Session, *, now: datetime, rules: BookingRules,
                     reachable: Callable[[Client], bool] = lambda client: True,
                     hold_for: timedelta = OFFER_HOLD) -> list[Offered]:
    """For each woman waiting, in list order, with no time held for her yet: the first free
    time that fits her, held for her entry. Returns what was held, for the offers to be
    sent. A woman who cannot be reached now (``reachable``) keeps her place."""
    lapse(session, now)
    waiting = session.execute(
        select(WaitingEntry, Client).join(Client, Client.id == WaitingEntry.client_id)
        .where(WaitingEntry.status == WaitingStatus.waiting)
        .order_by(WaitingEntry.service_id, WaitingEntry.position, WaitingEntry.id)).all()
    offered: list[Offered] = []
    for entry, client in waiting:
        if not reachable(client):
            continue
        slot = _earliest_fit(session, entry, now, rules)
        if slot is None:
            continue
        with session.begin_nested() as attempt:
            hold = holds.hold_slot(session, client_id=client.id, slot=slot, service_id=entry.service_id, now=now,
                                   hold_for=hold_for, owner=owner(entry),
                                   moving=entry.earlier_than_appointment_id)
            if hold is None:
                attempt.rollback()
                continue
        entry.status, entry.updated_at = WaitingStatus.offered, now
        entry.offer_counselor_id, entry.offer_start_at = slot.counselor_id, slot.start_at
        entry.offer_expires_at = now + hold_for
        entry.offers_made += 1
        offered.append(Offered(entry.id, client.id, slot, entry.offer_expires_at))
    return offered


def reorder(session: Session, entry: WaitingEntry, position: int, now: datetime) -> None:
    """The desk puts her at ``position`` (1 is first) among those waiting for her service."""
    others = session.scalars(select(WaitingEntry).where(
        WaitingEntry.service_id == entry.service_id, WaitingEntry.status.in_(LIVE), WaitingEntry.id != entry.id)
        .order_by(WaitingEntry.position, WaitingEntry.id)).all()
    place = max(1, min(position, len(others) + 1))
    ordered = [*others[:place - 1], entry, *others[place - 1:]]
    for number, row in enumerate(ordered, start=1):
        if row.position != number:
            row.position, row.updated_at = number, now



def reachable_now(session: Session, client: Client, now: datetime, rules: BookingRules) -> bool:
    """Can a text reach her now: a number that takes texts, no STOP, outside the quiet
    hours, and inside her own contact terms (scheduling.contact)."""
    terms = ContactTerms.of(client)
    return (not client.is_opted_out and client.language_code is not None and terms.allows_texts
            and (not terms.has_hours or terms.is_open(now, rules.tz)) and quiet_span(now, rules) is None
            and notifications.can_text(session, client))


def job(rules: BookingRules) -> Callable[[Session, datetime], None]:
    """The worker's turn at the list: offers that lapsed are passed, and each time held for
    a woman is offered to her by text, kept until its hold ends."""
    def run(session: Session, now: datetime) -> None:
        for offered in offer_free_times(session, now=now, rules=rules,
                                        reachable=lambda client: reachable_now(session, client, now, rules)):
            notifications.queue_text(
                session, session.get(Client, offered.client_id), kind="offer", template="waitlist_offer", now=now,
                params={"entry": offered.entry_id, "when": offered.slot.start_at.isoformat(),
                        "time": offered.expires_at.isoformat()},
                expires_at=offered.expires_at)
    return run


def offered_to(session: Session, entry_id: int, client_id: int, now: datetime) -> WaitingEntry | None:
    """Her entry, if a time is held for it still."""
    entry = session.get(WaitingEntry, entry_id, with_for_update=True)
    if entry is None or entry.client_id != client_id or entry.status != WaitingStatus.offered \
            or entry.offer_expires_at is None or entry.offer_expires_at <= now:
        return None
    return entry


def taken(session: Session, entry: WaitingEntry, now: datetime) -> None:
    """She took the time held for her: off the list, the hold gone (the booking has it)."""
    _let_go(session, entry, now, WaitingStatus.booked)
