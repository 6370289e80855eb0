"""The pure availability calculation: no database, plain values in, slots out."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from scheduling.availability import (
    BookingRules,
    CentreCalendar,
    CounselorCalendar,
    WeeklyStretch,
    free_slots,
    intersect,
    subtract,
)
from tests.conftest import OSLO, oslo

HOUR = timedelta(hours=1)
ALL_WEEK_OPEN = {d: [(time(0), time(23, 59))] for d in range(7)}


def calendar(cid=1, *, speaks=True, days=range(7), starts=time(9), ends=time(12), **kw):
    weekly = [WeeklyStretch(d, starts, ends) for d in days]
    return CounselorCalendar(cid, speaks, weekly, **kw)


def slots_on(day, counselors, centre=None, *, duration=HOUR, buffer=timedelta(0),
             now=None, rules=BookingRules(min_notice=timedelta(0))):
    now = now or datetime(2000, 1, 1, tzinfo=timezone.utc)
    return free_slots(
        counselors, centre or CentreCalendar(ALL_WEEK_OPEN), duration=duration, buffer=buffer,
        first_day=day, last_day=day, earliest_at=now + rules.min_notice,
        latest_at=now + timedelta(days=100_000), rules=rules,
    )


def local_starts(slots):
    return [s.start_at.astimezone(OSLO).strftime("%H:%M%z") for s in slots]


def test_working_hours_give_slots_on_the_half_hour_grid():
    slots = slots_on(date(2026, 11, 24), [calendar()])
    assert local_starts(slots) == ["09:00+0100", "09:30+0100", "10:00+0100", "10:30+0100", "11:00+0100"]
    assert all(s.end_at - s.start_at == HOUR for s in slots)


def test_spring_forward_day_has_no_slot_in_the_missing_hour():
    # Sunday 29 March 2026: 02:00 jumps to 03:00 in Oslo.
    early_shift = calendar(starts=time(1), ends=time(5))
    slots = slots_on(date(2026, 3, 29), [early_shift], duration=timedelta(minutes=30))
    starts = local_starts(slots)
    assert not any(s.startswith("02:") for s in starts)
    assert starts == ["01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200", "04:00+0200", "04:30+0200"]
    # The stretch 01:00-05:00 is only three real hours long on that day.
    assert slots[-1].end_at - slots[0].start_at == timedelta(hours=3)


def test_fall_back_day_offers_both_occurrences_of_the_repeated_hour_as_different_instants():
    # Sunday 25 October 2026: 03:00 summer time falls back to 02:00 winter time.
    early_shift = calendar(starts=time(1), ends=time(4))
    slots = slots_on(date(2026, 10, 25), [early_shift], duration=timedelta(minutes=30))
    utc = [s.start_at for s in slots]
    assert len(utc) == len(set(utc)) == 8  # four wall-clock hours, one of them twice
    assert datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc) in utc  # 02:30 summer time
    assert datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc) in utc  # 02:30 winter time
    assert local_starts(slots).count("02:30+0200") == 1
    assert local_starts(slots).count("02:30+0100") == 1


def test_daylight_saving_keeps_office_hours_on_the_wall_clock():
    before = slots_on(date(2026, 3, 27), [calendar()])  # Friday, winter time
    after = slots_on(date(2026, 3, 30), [calendar()])  # Monday, summer time
    assert local_starts(before)[0] == "09:00+0100"
    assert local_starts(after)[0] == "09:00+0200"
    assert after[0].start_at.hour == 7 and before[0].start_at.hour == 8  # UTC hours differ


def test_public_holiday_and_closure_have_no_slots():
    centre = CentreCalendar(ALL_WEEK_OPEN, closures=[(date(2026, 12, 21), date(2026, 12, 22))],
                            holidays={date(2026, 12, 25)})
    assert slots_on(date(2026, 12, 25), [calendar()], centre) == []
    assert slots_on(date(2026, 12, 21), [calendar()], centre) == []
    assert slots_on(date(2026, 12, 22), [calendar()], centre) == []
    assert slots_on(date(2026, 12, 23), [calendar()], centre) != []


def test_opening_hours_cut_working_hours():
    centre = CentreCalendar({1: [(time(10), time(11, 30))]})  # Tuesday only
    slots = slots_on(date(2026, 11, 24), [calendar()], centre)
    assert local_starts(slots) == ["10:00+0100", "10:30+0100"]
    assert slots_on(date(2026, 11, 25), [calendar()], centre) == []  # closed on Wednesday


def test_absence_removes_the_slots_it_touches():
    away = (oslo(2026, 11, 24, 10, 15), oslo(2026, 11, 24, 11, 0))
    slots = slots_on(date(2026, 11, 24), [calendar(absences=[away])])
    assert local_starts(slots) == ["09:00+0100", "11:00+0100"]


def test_buffer_after_an_appointment_keeps_the_next_slot_free():
    first = (oslo(2026, 11, 24, 9, 0), oslo(2026, 11, 24, 10, 15))  # 60 min + 15 min buffer
    second = (oslo(2026, 11, 24, 11, 45), oslo(2026, 11, 24, 13, 0))
    slots = slots_on(date(2026, 11, 24), [calendar(ends=time(13), busy=[first, second])],
                     buffer=timedelta(minutes=15))
    # 10:00 would start inside the first one's buffer; 11:00 would end at 12:00 and its
    # own buffer would reach into the second appointment. 10:30 ends with its buffer at
    # 11:45, exactly when the second one starts.
    assert local_starts(slots) == ["10:30+0100"]


def test_minimum_notice_and_horizon():
    now = oslo(2026, 11, 24, 8, 40)
    rules = BookingRules(min_notice=timedelta(hours=1))
    slots = free_slots(
        [calendar()], CentreCalendar(ALL_WEEK_OPEN), duration=HOUR, buffer=timedelta(0),
        first_day=date(2026, 11, 24), last_day=date(2026, 11, 24),
        earliest_at=now + rules.min_notice, latest_at=oslo(2026, 11, 24, 10, 30), rules=rules,
    )
    assert local_starts(slots) == ["10:00+0100"]


def test_working_hours_outside_their_validity_give_nothing():
    limited = CounselorCalendar(1, True, [WeeklyStretch(1, time(9), time(12), date(2026, 12, 1), None)])
    assert slots_on(date(2026, 11, 24), [limited]) == []
    assert slots_on(date(2026, 12, 1), [limited]) != []


def test_a_counselor_who_speaks_her_language_is_chosen_over_one_who_does_not():
    slots = slots_on(date(2026, 11, 24), [calendar(1, speaks=False), calendar(2, speaks=True)])
    assert {s.counselor_id for s in slots} == {2}
    assert not any(s.is_interpreter_needed for s in slots)


def test_without_a_speaker_the_slot_needs_an_interpreter():
    slots = slots_on(date(2026, 11, 24), [calendar(1, speaks=False)])
    assert slots and all(s.is_interpreter_needed for s in slots)


def test_load_is_spread_to_the_counselor_with_fewer_appointments_that_day():
    busy_day = [(oslo(2026, 11, 24, 13), oslo(2026, 11, 24, 14)), (oslo(2026, 11, 24, 14), oslo(2026, 11, 24, 15))]
    slots = slots_on(date(2026, 11, 24), [calendar(1, busy=busy_day), calendar(2)])
    assert {s.counselor_id for s in slots} == {2}


def test_equally_loaded_counselors_share_the_days():
    counselors = [calendar(i) for i in range(1, 6)]
    chosen = {slots_on(date(2026, 11, 2) + timedelta(days=d), counselors)[0].counselor_id for d in range(20)}
    assert len(chosen) > 1


def test_each_start_time_is_offered_once():
    slots = slots_on(date(2026, 11, 24), [calendar(1), calendar(2), calendar(3)])
    assert len({s.start_at for s in slots}) == len(slots) == 5


def test_interval_helpers():
    t = lambda h: oslo(2026, 11, 24, h)  # noqa: E731
    assert intersect([(t(8), t(12)), (t(13), t(17))], [(t(10), t(14))]) == [(t(10), t(12)), (t(13), t(14))]
    assert subtract([(t(8), t(17))], [(t(10), t(11)), (t(12), t(13))]) == [
        (t(8), t(10)), (t(11), t(12)), (t(13), t(17))
    ]


def test_two_callers_asking_at_once_are_offered_different_counselors_when_they_can():
    def first_offer(seed):
        return free_slots(
            [calendar(i) for i in range(1, 6)], CentreCalendar(ALL_WEEK_OPEN), duration=HOUR, buffer=timedelta(0),
            first_day=date(2026, 11, 24), last_day=date(2026, 11, 24),
            earliest_at=datetime(2000, 1, 1, tzinfo=timezone.utc), latest_at=oslo(2027, 1, 1, 0, 0),
            rules=BookingRules(min_notice=timedelta(0)), seed=seed,
        )[0]
    offers = [first_offer(caller) for caller in range(1, 11)]
    assert len({o.start_at for o in offers}) == 1  # the same earliest time ...
    assert len({o.counselor_id for o in offers}) > 1  # ... with different counselors
