"""Free slots: working hours ∩ opening hours − absences − closures − public holidays
− existing appointments (with their buffers) − minimum notice − booking horizon.

``free_slots`` is a pure function over plain values; ``find_free_slots`` loads those
values from the database a window of days at a time, so the next few slots are found
without reading the whole calendar. Wall-clock rules are turned into UTC instants day by
day in the centre's zone, which is what makes daylight-saving days come out right: on
the spring day the hour 02:00-03:00 does not exist, so no slot starts in it, and on the
autumn day the repeated hour gives two different instants.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import (
    Absence,
    Appointment,
    AppointmentStatus,
    Closure,
    OpeningHours,
    Service,
    SlotHold,
    Staff,
    StaffRole,
    WorkingHours,
    staff_languages,
    staff_services,
)

UTC = timezone.utc
Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class BookingRules:
    tz: ZoneInfo = ZoneInfo("Europe/Oslo")
    min_notice: timedelta = timedelta(hours=2)
    horizon: timedelta = timedelta(days=60)
    step: timedelta = timedelta(minutes=30)
    # How far ahead to look for a counselor who speaks her language before offering
    # slots with an interpreter instead.
    language_wait: timedelta = timedelta(days=14)

    @classmethod
    def from_config(cls, config: dict) -> BookingRules:
        return cls(
            tz=ZoneInfo(config.get("TZ_NAME", "Europe/Oslo")),
            min_notice=timedelta(minutes=config.get("MIN_NOTICE_MINUTES", 120)),
            horizon=timedelta(days=config.get("BOOKING_HORIZON_DAYS", 60)),
            step=timedelta(minutes=config.get("SLOT_STEP_MINUTES", 30)),
        )


@dataclass(frozen=True)
class Slot:
    start_at: datetime
    end_at: datetime
    counselor_id: int
    is_interpreter_needed: bool


@dataclass(frozen=True)
class WeeklyStretch:
    weekday: int  # 0 = Monday
    starts: time
    ends: time
    valid_from: date = date.min
    valid_until: date | None = None  # inclusive

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_until is None or day <= self.valid_until)
        )


@dataclass
class CounselorCalendar:
    counselor_id: int
    speaks_language: bool
    weekly: list[WeeklyStretch]
    absences: list[Interval] = field(default_factory=list)
    busy: list[Interval] = field(default_factory=list)  # appointments incl. buffer
    holds: list[Interval] = field(default_factory=list)  # slots other callers are confirming


@dataclass
class CentreCalendar:
    opening: dict[int, list[tuple[time, time]]]
    closures: list[tuple[date, date]] = field(default_factory=list)
    holidays: Container[date] = field(default_factory=frozenset)

    def is_closed(self, day: date) -> bool:
        return day in self.holidays or any(a <= day <= b for a, b in self.closures)


# --- interval arithmetic on sorted, non-overlapping [start, end) lists --------------------


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    out = list(a)
    for cut_start, cut_end in cuts:
        pieces = []
        for start, end in out:
            if cut_end <= start or end <= cut_start:
                pieces.append((start, end))
                continue
            if start < cut_start:
                pieces.append((start, cut_start))
            if cut_end < end:
                pieces.append((cut_end, end))
        out = pieces
    return out


def local_interval(day: date, starts: time, ends: time, tz: ZoneInfo) -> Interval:
    """The instants a wall-clock stretch of ``day`` covers in ``tz``.

    A wall time that does not exist (spring) is read with the offset in force before the
    change, so 02:30 becomes 03:30 summer time; a wall time that happens twice (autumn)
    is read as its first occurrence.
    """
    return (
        datetime.combine(day, starts, tzinfo=tz).astimezone(UTC),
        datetime.combine(day, ends, tzinfo=tz).astimezone(UTC),
    )


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlaps_busy(busy_starts: list[datetime], busy: list[Interval], start: datetime, end: datetime) -> bool:
    # One counselor's busy ranges never overlap each other (the database sees to that),
    # so sorted by start they are sorted by end too: only the last range that starts
    # before `end` can reach past `start`.
    i = bisect.bisect_left(busy_starts, end) - 1
    return i >= 0 and busy[i][1] > start


# --- the pure calculation -------------------------------------------------------------------


def free_slots(
    counselors: Sequence[CounselorCalendar],
    centre: CentreCalendar,
    *,
    duration: timedelta,
    buffer: timedelta,
    first_day: date,
    last_day: date,
    earliest_at: datetime,
    latest_at: datetime,
    rules: BookingRules,
) -> list[Slot]:
    """Every bookable start between two local days (inclusive), one counselor per start.

    A start is offered once; among the counselors free then, one who speaks the caller's
    language is chosen, and among those the one with the fewest appointments that day,
    so the load is spread instead of always filling the first counselor.
    """
    tz = rules.tz
    blocked = {c.counselor_id: _merge(c.busy + c.holds) if c.holds else c.busy for c in counselors}
    blocked_starts = {cid: [b[0] for b in ranges] for cid, ranges in blocked.items()}
    day_load: dict[tuple[int, date], int] = defaultdict(int)
    for c in counselors:
        for b_start, _ in c.busy:
            day_load[(c.counselor_id, b_start.astimezone(tz).date())] += 1

    best: dict[datetime, tuple[tuple, Slot]] = {}
    day = first_day
    while day <= last_day:
        if not centre.is_closed(day):
            opening = _merge(local_interval(day, a, b, tz) for a, b in centre.opening.get(day.weekday(), ()))
            if opening:
                for c in counselors:
                    _offer_day(c, day, opening, duration, buffer, earliest_at, latest_at, rules,
                               blocked[c.counselor_id], blocked_starts[c.counselor_id], day_load, best)
        day += timedelta(days=1)
    return [slot for _, (_, slot) in sorted(best.items())]


def _offer_day(c, day, opening, duration, buffer, earliest_at, latest_at, rules,
               blocked, blocked_starts, day_load, best) -> None:
    stretches = [s for s in c.weekly if s.applies_on(day)]
    if not stretches:
        return
    load = day_load[(c.counselor_id, day)]
    # Spread ties between equally loaded counselors differently from day to day.
    rotation = hash((c.counselor_id, day.toordinal())) & 0xFFFF
    for stretch in stretches:
        grid_start, grid_end = local_interval(day, stretch.starts, stretch.ends, rules.tz)
        free = subtract(intersect([(grid_start, grid_end)], opening), c.absences)
        if not free:
            continue
        # Slots start on a grid counted in real elapsed time from the start of the
        # stretch, so the grid keeps its rhythm across a daylight-saving change.
        start = grid_start
        if start < earliest_at:
            steps = -(-(earliest_at - start) // rules.step)
            start += steps * rules.step
        while start < grid_end and start < latest_at:
            end = start + duration
            if any(a <= start and end <= b for a, b in free) and not _overlaps_busy(
                blocked_starts, blocked, start, end + buffer
            ):
                key = (not c.speaks_language, load, rotation, c.counselor_id)
                held = best.get(start)
                if held is None or key < held[0]:
                    best[start] = (key, Slot(start, end, c.counselor_id, not c.speaks_language))
            start += rules.step


# --- loading from the database -------------------------------------------------------------


@lru_cache(maxsize=8)
def norwegian_holidays(year: int) -> frozenset[date]:
    # include_sundays=False: the package otherwise counts every Sunday as a holiday.
    return frozenset(holidays.Norway(years=year, include_sundays=False))


class _Holidays:
    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and day in norwegian_holidays(day.year)


def load_centre(session: Session, first_day: date, last_day: date) -> CentreCalendar:
    opening: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for row in session.execute(select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)):
        opening[row.weekday].append((row.opens, row.closes))
    closures = [
        (row.first_day, row.last_day)
        for row in session.execute(
            select(Closure.first_day, Closure.last_day).where(
                Closure.last_day >= first_day, Closure.first_day <= last_day
            )
        )
    ]
    return CentreCalendar(opening=dict(opening), closures=closures, holidays=_Holidays())


def _load_counselors(
    session: Session, service_id: int, language_code: str | None, counselor_ids: Iterable[int] | None
) -> list[CounselorCalendar]:
    query = (
        select(Staff.id)
        .join(staff_services, staff_services.c.staff_id == Staff.id)
        .where(
            staff_services.c.service_id == service_id,
            Staff.is_active.is_(True),
            Staff.role == StaffRole.counselor,
        )
    )
    if counselor_ids is not None:
        query = query.where(Staff.id.in_(list(counselor_ids)))
    ids = list(session.scalars(query))
    if not ids:
        return []
    speakers = set(
        session.scalars(
            select(staff_languages.c.staff_id).where(
                staff_languages.c.staff_id.in_(ids), staff_languages.c.language_code == language_code
            )
        )
    )
    weekly: dict[int, list[WeeklyStretch]] = defaultdict(list)
    for row in session.execute(
        select(
            WorkingHours.staff_id, WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends,
            WorkingHours.valid_from, WorkingHours.valid_until,
        ).where(WorkingHours.staff_id.in_(ids))
    ):
        weekly[row.staff_id].append(
            WeeklyStretch(row.weekday, row.starts, row.ends, row.valid_from, row.valid_until)
        )
    return [CounselorCalendar(cid, cid in speakers, weekly[cid]) for cid in ids if weekly[cid]]


def _load_busy(
    session: Session, calendars: list[CounselorCalendar], start: datetime, end: datetime,
    now: datetime | None = None, hold_owner_id: int | None = None,
) -> None:
    by_id = {c.counselor_id: c for c in calendars}
    ids = list(by_id)
    for c in calendars:
        c.absences, c.busy, c.holds = [], [], []
    if now is not None:
        holds = select(SlotHold.counselor_id, SlotHold.start_at, SlotHold.busy_until_at).where(
            SlotHold.counselor_id.in_(ids), SlotHold.expires_at > now,
            SlotHold.start_at < end, SlotHold.busy_until_at > start,
        )
        if hold_owner_id is not None:
            holds = holds.where(SlotHold.client_id != hold_owner_id)
        for row in session.execute(holds):
            by_id[row.counselor_id].holds.append((row.start_at, row.busy_until_at))
    for row in session.execute(
        select(Absence.staff_id, Absence.starts_at, Absence.ends_at).where(
            Absence.staff_id.in_(ids), Absence.starts_at < end, Absence.ends_at > start
        )
    ):
        by_id[row.staff_id].absences.append((row.starts_at, row.ends_at))
    for row in session.execute(
        select(Appointment.counselor_id, Appointment.start_at, Appointment.busy_until_at)
        .where(
            Appointment.counselor_id.in_(ids),
            Appointment.status != AppointmentStatus.cancelled,
            Appointment.start_at < end,
            Appointment.busy_until_at > start,
        )
        .order_by(Appointment.counselor_id, Appointment.start_at)
    ):
        by_id[row.counselor_id].busy.append((row.start_at, row.busy_until_at))


def find_free_slots(
    session: Session,
    *,
    service_id: int,
    language_code: str | None,
    now: datetime,
    rules: BookingRules = BookingRules(),
    limit: int = 5,
    counselor_ids: Iterable[int] | None = None,
    not_before: datetime | None = None,
    hold_owner_id: int | None = None,
) -> list[Slot]:
    """The next ``limit`` free slots for a service, in time order.

    Counselors who speak ``language_code`` come first: slots with an interpreter are
    offered only when fewer than ``limit`` slots with a speaker of her language exist
    within ``rules.language_wait``. Slots other callers hold while confirming are left
    out; those of ``hold_owner_id`` are not.
    """
    service = session.get(Service, service_id)
    if service is None or not service.is_active:
        return []
    calendars = _load_counselors(session, service_id, language_code, counselor_ids)
    if not calendars:
        return []
    duration = timedelta(minutes=service.duration_minutes)
    buffer = timedelta(minutes=service.buffer_minutes)
    earliest_at = now + rules.min_notice
    if not_before is not None and not_before > earliest_at:
        earliest_at = not_before
    latest_at = now + rules.horizon
    wait_until = earliest_at + rules.language_wait
    tz = rules.tz

    matching: list[Slot] = []
    others: list[Slot] = []
    first_day = earliest_at.astimezone(tz).date()
    final_day = latest_at.astimezone(tz).date()
    centre = load_centre(session, first_day, final_day)
    window = 1
    while first_day <= final_day:
        last_day = min(first_day + timedelta(days=window - 1), final_day)
        window_start = local_interval(first_day, time(0), time(0), tz)[0]
        window_end = local_interval(last_day + timedelta(days=1), time(0), time(0), tz)[0]
        _load_busy(session, calendars, window_start - timedelta(days=1), window_end + duration + buffer,
                   now=now, hold_owner_id=hold_owner_id)
        for slot in free_slots(
            calendars, centre, duration=duration, buffer=buffer, first_day=first_day,
            last_day=last_day, earliest_at=earliest_at, latest_at=latest_at, rules=rules,
        ):
            (others if slot.is_interpreter_needed else matching).append(slot)
        if len(matching) >= limit:
            return matching[:limit]
        if window_end >= wait_until and len(matching) + len(others) >= limit:
            break
        first_day = last_day + timedelta(days=1)
        window *= 2
    chosen = matching + others[: limit - len(matching)]
    return sorted(chosen, key=lambda s: s.start_at)


def is_bookable(
    session: Session,
    *,
    service_id: int,
    counselor_id: int,
    start_at: datetime,
    now: datetime,
    rules: BookingRules = BookingRules(),
    language_code: str | None = None,
) -> bool:
    """Does the counselor work, is the centre open, and are notice and horizon kept?

    Existing appointments are deliberately not looked at: whether the time is still free
    is decided by the database when the booking is written.
    """
    service = session.get(Service, service_id)
    if service is None or not service.is_active:
        return False
    calendars = _load_counselors(session, service_id, language_code, [counselor_id])
    if not calendars:
        return False
    day = start_at.astimezone(rules.tz).date()
    end = start_at + timedelta(minutes=service.duration_minutes)
    _load_busy(session, calendars, start_at - timedelta(days=1), end + timedelta(days=1))
    calendars[0].busy = []
    slots = free_slots(
        calendars, load_centre(session, day, day),
        duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes),
        first_day=day, last_day=day,
        earliest_at=now + rules.min_notice, latest_at=now + rules.horizon, rules=rules,
    )
    return any(s.start_at == start_at for s in slots)
