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
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import Integer, and_, bindparam, cast, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from scheduling.models import (
    Absence,
    Appointment,
    AppointmentStatus,
    SlotHold,
    Staff,
    StaffRole,
    WorkingHours,
    staff_languages,
    staff_services,
)
from scheduling.reference import reference

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
    # Reminder texts: how long before the appointment, and the local hours when no text
    # goes out (a reminder due then goes when they end or the evening before: scheduling.reminders).
    reminder_leads: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    quiet_from: time = time(20, 0)
    quiet_until: time = time(8, 0)

    @classmethod
    def from_config(cls, config: dict) -> BookingRules:
        return cls(
            tz=ZoneInfo(config.get("TZ_NAME", "Europe/Oslo")),
            min_notice=timedelta(minutes=config.get("MIN_NOTICE_MINUTES", 120)),
            horizon=timedelta(days=config.get("BOOKING_HORIZON_DAYS", 60)),
            step=timedelta(minutes=config.get("SLOT_STEP_MINUTES", 30)),
            reminder_leads=tuple(
                timedelta(hours=float(h)) for h in str(config.get("REMINDER_HOURS", "24,2")).split(",") if h.strip()
            ),
            quiet_from=time.fromisoformat(config.get("QUIET_FROM", "20:00")),
            quiet_until=time.fromisoformat(config.get("QUIET_UNTIL", "08:00")),
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


@lru_cache(maxsize=4096)
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
    seed: int = 0,
    not_at: tuple[datetime, int | None] | None = None,
) -> list[Slot]:
    """Every bookable start between two local days (inclusive), one counselor per start.

    A start is offered once; among the counselors free then, one who speaks the caller's
    language is chosen, and among those the one with the fewest appointments that day,
    so the load is spread instead of always filling the first counselor. ``not_at`` is a
    start never offered: (start, counselor) for that counselor only, (start, None) for all.
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
                               blocked[c.counselor_id], blocked_starts[c.counselor_id], day_load, best, seed,
                               not_at)
        day += timedelta(days=1)
    return [slot for _, (_, slot) in sorted(best.items())]


def _offer_day(c, day, opening, duration, buffer, earliest_at, latest_at, rules,
               blocked, blocked_starts, day_load, best, seed=0, not_at=None) -> None:
    stretches = [s for s in c.weekly if s.applies_on(day)]
    if not stretches:
        return
    skipped = None
    if not_at is not None and not_at[1] in (None, c.counselor_id):
        skipped = not_at[0]
    load = day_load[(c.counselor_id, day)]
    # Spread ties between equally loaded counselors differently from day to day, and from
    # caller to caller (``seed``), so two women asking at once are not both offered the
    # same counselor's first hour when another is free then too.
    rotation = hash((c.counselor_id, day.toordinal(), seed)) & 0xFFFF
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
        j = 0
        while start < grid_end and start < latest_at:
            end = start + duration
            # Starts only grow, so a free stretch ending before this slot ends is done with.
            while j < len(free) and free[j][1] < end:
                j += 1
            if j == len(free):
                break
            if free[j][0] <= start and start != skipped and not _overlaps_busy(blocked_starts, blocked, start,
                                                                                  end + buffer):
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


# The loaders' statements, built once: composing SQL expressions on every search costs
# more than running them. Rows are read as plain Core tuples, fetched all at once. A
# search takes two round trips: the counselors with their weekly hours, then everything
# busy in its first window (absences, other callers' holds, appointments) in one union.
_ids = bindparam("ids", expanding=True)
# Active counselors offering the service, whether each speaks the language, and each of
# her weekly stretches valid in the period (one row per stretch; none: she is left out).
_CALENDARS = (
    select(
        Staff.id,
        select(staff_languages.c.staff_id)
        .where(staff_languages.c.staff_id == Staff.id, staff_languages.c.language_code == bindparam("language"))
        .exists(),
        WorkingHours.weekday, WorkingHours.starts, WorkingHours.ends,
        WorkingHours.valid_from, WorkingHours.valid_until,
    )
    .join(staff_services, staff_services.c.staff_id == Staff.id)
    .join(WorkingHours, and_(
        WorkingHours.staff_id == Staff.id,
        WorkingHours.valid_from <= bindparam("last_day"),
        or_(WorkingHours.valid_until.is_(None), WorkingHours.valid_until >= bindparam("first_day")),
    ))
    .where(
        staff_services.c.service_id == bindparam("service_id"),
        Staff.is_active.is_(True),
        Staff.role == StaffRole.counselor,
    )
    .order_by(Staff.id)
)
# One counselor's calendar for checking a single slot (bookable_slot), with her absences
# around it in the same round trip: (0, id, speaks, weekly stretch..., NULL, NULL) rows,
# then (1, id, NULL..., absence start, absence end) rows.
_ONE_CALENDAR = union_all(
    _CALENDARS.order_by(None).where(Staff.id == bindparam("counselor_id")).add_columns(
        literal(0).label("kind"), cast(null(), Absence.starts_at.type), cast(null(), Absence.ends_at.type)),
    select(
        Absence.staff_id, literal(False), cast(null(), WorkingHours.weekday.type),
        cast(null(), WorkingHours.starts.type), cast(null(), WorkingHours.ends.type),
        cast(null(), WorkingHours.valid_from.type), cast(null(), WorkingHours.valid_until.type),
        literal(1), Absence.starts_at, Absence.ends_at,
    ).where(Absence.staff_id == bindparam("counselor_id"), Absence.starts_at < bindparam("span_end"),
            Absence.ends_at > bindparam("span_start")),
)
# What is busy, tagged by kind, each as (kind, counselor, start, end, holder).
AWAY, HELD, BOOKED = 0, 1, 2
_NO_HOLDER = cast(null(), Integer)
_ABSENCES = select(
    literal(AWAY).label("kind"), Absence.staff_id.label("counselor_id"), Absence.starts_at.label("starts"),
    Absence.ends_at.label("ends"), _NO_HOLDER.label("holder"),
).where(Absence.staff_id.in_(_ids), Absence.starts_at < bindparam("span_end"),
        Absence.ends_at > bindparam("span_start"))
_HOLDS = select(
    literal(HELD), SlotHold.counselor_id, SlotHold.start_at, SlotHold.busy_until_at, SlotHold.client_id,
).where(
    SlotHold.counselor_id.in_(_ids), SlotHold.expires_at > bindparam("now"),
    SlotHold.start_at < bindparam("span_end"), SlotHold.busy_until_at > bindparam("span_start"),
)
_APPOINTMENTS = select(
    literal(BOOKED), Appointment.counselor_id, Appointment.start_at, Appointment.busy_until_at, _NO_HOLDER,
).where(
    Appointment.counselor_id.in_(_ids),
    Appointment.status != AppointmentStatus.cancelled,
    Appointment.start_at < bindparam("end"),
    Appointment.start_at > bindparam("lowest_start"),
    Appointment.busy_until_at > bindparam("start"),
    Appointment.id != bindparam("moving"),
)
# In time order per counselor: the free-time search bisects the busy stretches.
_BUSY = _APPOINTMENTS.order_by(Appointment.counselor_id, Appointment.start_at)
_ALL_BUSY = union_all(_ABSENCES, _HOLDS, _APPOINTMENTS).order_by("counselor_id", "starts")

_MOVING = select(Appointment.start_at, Appointment.counselor_id).where(Appointment.id == bindparam("moving"))


def load_centre(session: Session, first_day: date, last_day: date) -> CentreCalendar:
    known = reference(session)
    return CentreCalendar(opening={day: list(hours) for day, hours in known.opening.items()},
                          closures=known.closures_between(first_day, last_day), holidays=_Holidays())


def _load_calendars(
    session: Session, service_id: int, language_code: str | None, counselor_ids: Iterable[int] | None,
    first_day: date, last_day: date,
) -> list[CounselorCalendar]:
    """Active counselors offering the service, with whether each speaks the language and
    their weekly hours valid between the two days; those without any are left out."""
    rows = session.connection().execute(_CALENDARS, {
        "service_id": service_id, "language": language_code, "first_day": first_day, "last_day": last_day,
    }).all()
    wanted = set(counselor_ids) if counselor_ids is not None else None
    by_id: dict[int, CounselorCalendar] = {}
    for cid, speaks_it, weekday, starts, ends, valid_from, valid_until in rows:
        if wanted is not None and cid not in wanted:
            continue
        calendar = by_id.get(cid)
        if calendar is None:
            calendar = by_id[cid] = CounselorCalendar(cid, bool(speaks_it), [])
        calendar.weekly.append(WeeklyStretch(weekday, starts, ends, valid_from, valid_until))
    return list(by_id.values())


# How many counselor-days of calendar the first window of a search reads: enough that a
# busy week's first window usually holds the times offered (each window is a round trip).
COUNSELOR_DAYS_PER_WINDOW = 180

# No appointment (with its buffer) lasts longer than this; it bounds the busy look-up from
# below, so the index scan does not read a counselor's whole history.
LONGEST_BUSY = timedelta(days=1)


def _load_busy(session: Session, calendars: list[CounselorCalendar], start: datetime, end: datetime,
               moving: int | None = None, *, span: tuple[datetime, datetime] | None = None,
               now: datetime | None = None, hold_owner_id: int | None = None) -> None:
    """Live appointments (with their buffers) that touch [start, end), but the one being
    moved. With ``span``, in the same round trip: absences and other callers' holds (not
    those of ``hold_owner_id``) that touch it, few rows read once for a whole search."""
    by_id = {c.counselor_id: c for c in calendars}
    for c in calendars:
        c.busy = []
    params = {"ids": list(by_id), "start": start, "end": end, "lowest_start": start - LONGEST_BUSY,
              "moving": moving or 0}
    if span is None:
        rows = session.connection().execute(_BUSY, params).all()
    else:
        for c in calendars:
            c.absences, c.holds = [], []
        rows = session.connection().execute(
            _ALL_BUSY, {**params, "span_start": span[0], "span_end": span[1], "now": now}).all()
    for kind, counselor_id, busy_start, busy_end, holder in rows:
        calendar = by_id[counselor_id]
        if kind == BOOKED:
            calendar.busy.append((busy_start, busy_end))
        elif kind == AWAY:
            calendar.absences.append((busy_start, busy_end))
        elif holder != hold_owner_id:
            calendar.holds.append((busy_start, busy_end))


@dataclass(frozen=True)
class _Search:
    """What stays the same while one search walks forward through the days."""

    session: Session
    centre: CentreCalendar
    duration: timedelta
    buffer: timedelta
    earliest_at: datetime
    latest_at: datetime
    now: datetime
    hold_owner_id: int | None
    rules: BookingRules
    moving: int | None = None
    not_at: tuple[datetime, int | None] | None = None

    def windows(self, calendars: list[CounselorCalendar]) -> Iterator[tuple[datetime, list[Slot]]]:
        """(end of window, its free slots) for windows that double in length, so the usual
        search reads a day or two of the calendar and a sparse one still ends soon. The
        first window is longer when few counselors are searched: a round trip to the
        database costs more than the few rows a week of theirs adds."""
        tz = self.rules.tz
        first_day = self.earliest_at.astimezone(tz).date()
        final_day = self.latest_at.astimezone(tz).date()
        span = (self.earliest_at - LONGEST_BUSY, self.latest_at + LONGEST_BUSY)
        size = max(1, min(7, COUNSELOR_DAYS_PER_WINDOW // max(1, len(calendars))))
        while calendars and first_day <= final_day:
            last_day = min(first_day + timedelta(days=size - 1), final_day)
            window_start = local_interval(first_day, time(0), time(0), tz)[0]
            window_end = local_interval(last_day + timedelta(days=1), time(0), time(0), tz)[0]
            # Nothing that ends before the earliest bookable start can be in the way. The
            # first window brings the absences and holds of the whole search with it.
            _load_busy(self.session, calendars, max(window_start, self.earliest_at),
                       window_end + self.duration + self.buffer, self.moving, span=span, now=self.now,
                       hold_owner_id=self.hold_owner_id)
            span = None
            yield window_end, free_slots(
                calendars, self.centre, duration=self.duration, buffer=self.buffer,
                first_day=first_day, last_day=last_day, earliest_at=self.earliest_at,
                latest_at=self.latest_at, rules=self.rules, seed=self.hold_owner_id or 0, not_at=self.not_at,
            )
            first_day = last_day + timedelta(days=1)
            size *= 2


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
    moving: int | None = None,
    same_time_with_another: bool = False,
) -> list[Slot]:
    """The next ``limit`` free slots for a service, in time order.

    Counselors who speak ``language_code`` come first: slots with an interpreter are
    offered only when fewer than ``limit`` slots with a speaker of her language exist
    within ``rules.language_wait``, and only at times no speaker has free. Slots other
    callers hold while confirming are left out; those of ``hold_owner_id`` are not. The
    appointment she is ``moving`` does not count as busy, so it can move by half an hour,
    and its own time is never offered as where to move it: for her it is no move. With
    ``same_time_with_another`` (the desk), that time is offered with another counselor.
    """
    service = reference(session).services.get(service_id)
    if service is None or not service.is_active:
        return []
    earliest_at = now + rules.min_notice
    if not_before is not None and not_before > earliest_at:
        earliest_at = not_before
    latest_at = now + rules.horizon
    calendars = _load_calendars(session, service_id, language_code, counselor_ids,
                                earliest_at.astimezone(rules.tz).date(), latest_at.astimezone(rules.tz).date())
    if not calendars:
        return []
    wait_until = earliest_at + rules.language_wait
    not_at = None
    if moving is not None:
        current = session.connection().execute(_MOVING, {"moving": moving}).first()
        if current is not None:
            not_at = (current.start_at, current.counselor_id if same_time_with_another else None)
    search = _Search(
        session=session,
        centre=load_centre(session, earliest_at.astimezone(rules.tz).date(), latest_at.astimezone(rules.tz).date()),
        duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes),
        earliest_at=earliest_at, latest_at=latest_at, now=now, hold_owner_id=hold_owner_id, rules=rules,
        moving=moving, not_at=not_at,
    )

    # Her language first, as far as the language wait reaches.
    matching: list[Slot] = []
    speakers = search.windows([c for c in calendars if c.speaks_language])
    for window_end, slots in speakers:
        matching.extend(slots)
        if len(matching) >= limit:
            return matching[:limit]
        if window_end >= wait_until:
            break

    # Then the earliest times at which only a counselor with an interpreter is free.
    spoken = {slot.start_at for slot in matching}
    others: list[Slot] = []
    for _, slots in search.windows([c for c in calendars if not c.speaks_language]):
        others.extend(slot for slot in slots if slot.start_at not in spoken)
        if len(matching) + len(others) >= limit:
            break

    # Too few of both: her language again, further ahead.
    for _, slots in speakers:
        if len(matching) + len(others) >= limit:
            break
        matching.extend(slots)
    chosen = matching[:limit] + others[: max(0, limit - len(matching))]
    return sorted(chosen, key=lambda slot: slot.start_at)


def bookable_slot(
    session: Session,
    *,
    service_id: int,
    counselor_id: int,
    start_at: datetime,
    now: datetime,
    rules: BookingRules = BookingRules(),
    language_code: str | None = None,
) -> Slot | None:
    """The slot at ``start_at`` if the counselor works then, the centre is open, and notice
    and horizon are kept, saying whether she needs an interpreter for ``language_code``;
    else None.

    Existing appointments are deliberately not looked at: whether the time is still free
    is decided by the database when the booking is written.
    """
    service = reference(session).services.get(service_id)
    if service is None or not service.is_active:
        return None
    day = start_at.astimezone(rules.tz).date()
    calendar = CounselorCalendar(counselor_id, False, [])
    for cid, speaks_it, weekday, starts, ends, valid_from, valid_until, kind, away_from, away_until in \
            session.connection().execute(_ONE_CALENDAR, {
                "service_id": service_id, "language": language_code, "first_day": day, "last_day": day,
                "counselor_id": counselor_id, "span_start": start_at - LONGEST_BUSY,
                "span_end": start_at + LONGEST_BUSY}).all():
        if kind == 0:
            calendar.speaks_language = bool(speaks_it)
            calendar.weekly.append(WeeklyStretch(weekday, starts, ends, valid_from, valid_until))
        else:
            calendar.absences.append((away_from, away_until))
    if not calendar.weekly:
        return None
    calendars = [calendar]
    slots = free_slots(
        calendars, load_centre(session, day, day),
        duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes),
        first_day=day, last_day=day,
        earliest_at=now + rules.min_notice, latest_at=now + rules.horizon, rules=rules,
    )
    return next((s for s in slots if s.start_at == start_at), None)
