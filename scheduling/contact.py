"""Contact on her terms: the means by which, and the hours in which, Linja may reach her.

The first rule of safety planning with a woman who lives with the person she needs
protection from: contact only by the means and at the times she chose. Her terms are
kept on her client row (set by the desk after speaking with her), and every text and
call Linja sends goes through the outbox (scheduling.sending), which asks here before it
sends: whether the means is one she allows, and if not now, when her hours next open.

Hours are a daily window in the centre's time zone, on the weekdays she gave; a window
that has not opened yet today, or has closed, opens next on her next day. A text that
would only arrive after it stopped being useful is not sent at all, and the desk sees
that she was not told (``NOT_TOLD``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from scheduling import audit
from scheduling.models import Actor, Client, ContactMeans, OutboxMessage, OutboxStatus

# Why an outbox row was not sent, as the desk sees it (OutboxMessage.error_code). A row
# still pending with OUTSIDE_HOURS waits for her hours to open (and is looked at again at
# once when her terms change).
OUTSIDE_HOURS = "contact-hours"
NOT_BY_THESE_MEANS = "contact-means"
NO_REMINDERS = "no-reminders"
NOT_TOLD = frozenset({OUTSIDE_HOURS, NOT_BY_THESE_MEANS})

WEEKDAYS = "01234"
EVERY_DAY = "0123456"
# How far ahead her next opening is looked for (a window on one weekday opens within 7).
LOOK_AHEAD_DAYS = 8


@dataclass(frozen=True)
class ContactTerms:
    means: ContactMeans = ContactMeans.any
    days: str | None = None  # weekday digits, Monday "0"; None: every day
    starts: time | None = None  # her window, both or neither; None: any hour
    ends: time | None = None

    @classmethod
    def of(cls, client: Client | None) -> ContactTerms:
        if client is None:
            return cls()
        has_hours = client.contact_from is not None and client.contact_until is not None
        return cls(
            means=ContactMeans(client.contact_means or ContactMeans.any),
            days=client.contact_days or None,
            starts=client.contact_from if has_hours else None,
            ends=client.contact_until if has_hours else None,
        )

    @property
    def is_open_ended(self) -> bool:
        """Any means, any time: what every caller has until she or the desk says otherwise."""
        return self.means == ContactMeans.any and not self.has_hours

    @property
    def has_hours(self) -> bool:
        return (self.starts is not None and self.ends is not None) or (self.days or EVERY_DAY) != EVERY_DAY

    @property
    def allows_texts(self) -> bool:
        return self.means != ContactMeans.calls

    @property
    def allows_calls(self) -> bool:
        return self.means != ContactMeans.texts

    @property
    def allows_reminders(self) -> bool:
        return self.means != ContactMeans.no_reminders

    def _window(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        if str(day.weekday()) not in (self.days or EVERY_DAY):
            return None
        starts, ends = self.starts or time(0), self.ends
        opens = datetime.combine(day, starts, tzinfo=tz)
        closes = datetime.combine(day, ends, tzinfo=tz) if ends else datetime.combine(
            day + timedelta(days=1), time(0), tzinfo=tz)
        return opens, closes

    def is_open(self, at: datetime, tz: ZoneInfo) -> bool:
        window = self._window(at.astimezone(tz).date(), tz)
        return window is not None and window[0] <= at < window[1]

    def next_opening(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """``at`` if her window is open then, else when it next opens; None if it never does."""
        first = at.astimezone(tz).date()
        for offset in range(LOOK_AHEAD_DAYS):
            window = self._window(first + timedelta(days=offset), tz)
            if window is None or window[1] <= at:
                continue
            return max(window[0], at)
        return None


def within_sending_day(starts: time, ends: time, quiet_from: time, quiet_until: time) -> tuple[time, time] | None:
    """Her window as Linja can keep it: no text or call leaves in the centre's quiet hours
    (scheduling.reminders), so a window reaching into them is the part outside them, and one
    wholly inside them is none at all (nothing would ever reach her)."""
    if not quiet_until < quiet_from:  # quiet hours that are not over midnight: kept as she gave it
        return starts, ends
    starts, ends = max(starts, quiet_until), min(ends, quiet_from)
    return (starts, ends) if starts < ends else None


def change_terms(session: Session, client: Client, terms: ContactTerms, *, now: datetime, actor: Actor,
                 staff_id: int | None = None, reminder_calls: bool | None = None) -> None:
    """Her new terms, set by her from the menu or by the desk after speaking with her, from
    this moment on: written on her row, kept in the audit trail (who, from what, to what),
    and whatever was waiting for her old hours is looked at again now (the outbox sends it,
    waits for her new hours, or holds it back by her new means)."""
    before = describe_for_audit(ContactTerms.of(client), client.wants_reminder_calls)
    client.contact_means = terms.means
    client.contact_days = terms.days if terms.days and terms.days != EVERY_DAY else None
    client.contact_from, client.contact_until = terms.starts, terms.ends
    if reminder_calls is not None:
        client.wants_reminder_calls = reminder_calls
    audit.record(session, at=now, actor=actor, actor_staff_id=staff_id, action="contact_terms_changed",
                 details={"client": client.id, "from": before,
                          "to": describe_for_audit(ContactTerms.of(client), client.wants_reminder_calls)})
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.client_id == client.id, OutboxMessage.status == OutboxStatus.pending,
               OutboxMessage.error_code == OUTSIDE_HOURS, OutboxMessage.due_at > now)
        .values(due_at=now, error_code=None)
        .execution_options(synchronize_session=False))


def describe_for_audit(terms: ContactTerms, reminder_calls: bool | None = None) -> dict:
    """Her terms as the audit trail keeps them: words a person can read, no number."""
    return {
        "means": terms.means.value,
        "days": terms.days or EVERY_DAY,
        "hours": f"{terms.starts:%H:%M}-{terms.ends:%H:%M}" if terms.starts and terms.ends else None,
        "reminder_calls": bool(reminder_calls),
    }
