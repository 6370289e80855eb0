"""The dialogue's ``Desk``, answered from the database through the scheduling domain."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.conversation import Booking, Offer
from scheduling import audit, clients, codeword, holds, notifications, waitlist
from scheduling.availability import BookingRules, Slot, find_free_slots, load_centre, local_interval
from scheduling.contact import ContactTerms, change_terms, within_sending_day
from scheduling.booking import (
    Booked,
    Unchanged,
    book_appointment,
    cancel_appointment,
    reschedule_appointment,
    shown_to_her,
)
from scheduling.models import (
    Actor,
    Appointment,
    AppointmentStatus,
    BookedVia,
    Client,
    ContactMeans,
    DutyShift,
    Staff,
)
from scheduling.phones import parse_phone
from scheduling.reference import ServiceInfo, reference


@dataclass
class DatabaseDesk:
    session: Session
    client: Client
    now: datetime
    rules: BookingRules
    via: BookedVia = BookedVia.sms
    # On a call: the number she called (never put through to it: it would ring back into Linja).
    centre_number: str = ""
    # The dialogue she is in: its holds are the ones it makes and lets go of (scheduling.holds).
    owner: str = holds.SMS
    # Read once per request: the dialogue may ask several times.

    def languages(self) -> list[tuple[str, str]]:
        return list(reference(self.session).languages)

    def _active_services(self) -> dict[int, ServiceInfo]:
        return reference(self.session).active_services

    def service_slugs(self) -> list[str]:
        return [s.slug for s in self._active_services().values()]

    def services(self, language: str) -> list[tuple[int, str]]:
        return [(s.id, s.name_in(language)) for s in self._active_services().values()]

    def set_language(self, language: str) -> None:
        self.client.language_code = language

    def free_slots(self, service_id: int, language: str, limit: int, after: datetime | None = None,
                   moving: int | None = None) -> list[Offer]:
        # Offer only what will still meet the minimum notice when she confirms a few
        # minutes from now.
        not_before = self.now + self.rules.min_notice + holds.HOLD_FOR
        if after is not None:
            not_before = max(not_before, after + timedelta(minutes=1))
        slots = find_free_slots(
            self.session, service_id=service_id, language_code=language, now=self.now, rules=self.rules,
            limit=limit, not_before=not_before, hold_owner_id=self.client.id, moving=moving,
        )
        return [Offer(s.start_at, s.counselor_id, s.is_interpreter_needed) for s in slots]

    def _slot(self, offer: Offer, service: ServiceInfo) -> Slot:
        return Slot(offer.start_at, offer.start_at + timedelta(minutes=service.duration_minutes),
                    offer.counselor_id, offer.is_interpreter_needed)

    def hold(self, offer: Offer, service_id: int, moving: int | None = None) -> Offer | None:
        service = self._active_services().get(service_id)
        if service is None:
            return None
        slot = self._slot(offer, service)
        if moving is not None:  # a move keeps her counselor unless she chooses another time
            with self.session.begin_nested() as attempt:
                hold = holds.hold_slot(self.session, client_id=self.client.id, slot=slot, service_id=service_id,
                                       now=self.now, moving=moving, owner=self.owner)
                if hold is None:
                    attempt.rollback()
            if hold is None:
                self.release()  # holding nothing lets go of what this dialogue held, as hold_time does
            return offer if hold is not None else None
        held = holds.hold_time(self.session, client_id=self.client.id, slot=slot, service_id=service_id,
                               language_code=self.client.language_code, now=self.now, rules=self.rules,
                               owner=self.owner)
        return None if held is None else Offer(held.start_at, held.counselor_id, held.is_interpreter_needed)

    def release(self) -> None:
        holds.release_holds(self.session, client_id=self.client.id, owner=self.owner)

    def book(self, offer: Offer, service_id: int, language: str) -> Booking:
        # Her own hold does not stand in her way; another caller's live hold does (if hers
        # ran out and someone else holds the time now, it is theirs). Her hold is released
        # only afterwards: see scheduling.holds on the order of locks.
        if service_id not in self._active_services():
            return Booking(False)
        result = book_appointment(
            self.session, service_id=service_id, counselor_id=offer.counselor_id, start_at=offer.start_at,
            now=self.now, booked_via=self.via, client=self.client, language_code=language,
            actor=Actor.caller, rules=self.rules,
        )
        self.release()
        if isinstance(result, Booked):
            return Booking(True, result.appointment.start_at)
        return Booking(False)

    def _own(self, appointment_id: int) -> Appointment | None:
        """Her appointment, if it is still booked and not over."""
        appointment = self.session.get(Appointment, appointment_id)
        if (
            appointment is None
            or appointment.client_id != self.client.id
            or appointment.status != AppointmentStatus.booked
            or appointment.end_at <= self.now
        ):
            return None
        return appointment

    def appointment(self, appointment_id: int) -> tuple[int, datetime, int] | None:
        appointment = self._own(appointment_id)
        if appointment is None:
            return None
        return appointment.id, appointment.start_at, appointment.service_id

    def next_appointment(self) -> tuple[int, datetime, int] | None:
        appointment = clients.next_appointment(self.session, self.client.id, self.now)
        if appointment is None:
            return None
        return appointment.id, appointment.start_at, appointment.service_id

    def shown(self, appointment_id: int) -> None:
        appointment = self._own(appointment_id)
        if appointment is not None:
            shown_to_her(self.session, appointment, self.now)

    def cancel(self, appointment_id: int) -> bool:
        appointment = self._own(appointment_id)
        if appointment is None:
            return False
        return isinstance(cancel_appointment(self.session, appointment, now=self.now, actor=Actor.caller), Booked)

    def move(self, appointment_id: int, offer: Offer) -> Booking:
        appointment = self._own(appointment_id)
        if appointment is None or appointment.service_id not in self._active_services():
            return Booking(False)
        result = reschedule_appointment(
            self.session, appointment, start_at=offer.start_at, counselor_id=offer.counselor_id,
            now=self.now, actor=Actor.caller, rules=self.rules, via=self.via,
        )
        self.release()
        if isinstance(result, Booked):
            return Booking(True, result.appointment.start_at)
        if isinstance(result, Unchanged):  # her answer names the time it has: she is told
            shown_to_her(self.session, result.appointment, self.now)
            return Booking(False, result.appointment.start_at, is_unchanged=True)
        return Booking(False)

    def set_contact_means(self, means: str, reminder_calls: bool | None) -> None:
        terms = replace(ContactTerms.of(self.client), means=ContactMeans(means))
        change_terms(self.session, self.client, terms, now=self.now, actor=Actor.caller,
                     reminder_calls=reminder_calls)

    def contact_window(self, starts: time, ends: time) -> tuple[time, time] | None:
        return within_sending_day(starts, ends, self.rules.quiet_from, self.rules.quiet_until)

    def sending_day(self) -> tuple[time, time]:
        return self.rules.quiet_until, self.rules.quiet_from

    def set_contact_hours(self, days: str | None, starts: time | None, ends: time | None) -> None:
        terms = replace(ContactTerms.of(self.client), days=days, starts=starts, ends=ends)
        change_terms(self.session, self.client, terms, now=self.now, actor=Actor.caller)

    def take_offer(self, entry_id: int) -> Booking:
        entry = waitlist.offered_to(self.session, entry_id, self.client.id, self.now)
        if entry is None:
            return Booking(False)
        if entry.earlier_than_appointment_id is not None:  # her time moves to the earlier one
            appointment = self._own(entry.earlier_than_appointment_id)
            if appointment is None:
                return Booking(False)
            result = reschedule_appointment(
                self.session, appointment, start_at=entry.offer_start_at, counselor_id=entry.offer_counselor_id,
                now=self.now, actor=Actor.caller, rules=self.rules, via=self.via)
        else:
            result = book_appointment(
                self.session, service_id=entry.service_id, counselor_id=entry.offer_counselor_id,
                start_at=entry.offer_start_at, now=self.now, booked_via=self.via, client=self.client,
                language_code=entry.language_code, actor=Actor.caller, rules=self.rules)
        if not isinstance(result, Booked):
            return Booking(False)
        waitlist.taken(self.session, entry, self.now)
        return Booking(True, result.appointment.start_at, is_move=entry.earlier_than_appointment_id is not None)

    def pass_offer(self, entry_id: int) -> None:
        entry = waitlist.offered_to(self.session, entry_id, self.client.id, self.now)
        if entry is not None:
            waitlist.passes(self.session, entry, self.now)

    def request_callback(self) -> None:
        clients.request_callback(self.session, self.client, via=self.via, now=self.now)

    def opt_out(self) -> None:
        self.client.is_opted_out = True
        audit.record(self.session, at=self.now, actor=Actor.caller, action="opted_out")

    def opt_in(self) -> None:
        self.client.is_opted_out = False
        audit.record(self.session, at=self.now, actor=Actor.caller, action="opted_in")

    def erase(self) -> None:
        clients.erase_client(self.session, self.client, self.now)

    def code_word_status(self) -> str:
        return codeword.status(self.client).value

    def set_code_word(self, code: str) -> None:
        codeword.set_code_word(self.session, self.client, code, self.now)

    def check_code_word(self, code: str) -> str:
        return codeword.check_code_word(self.session, self.client, code, self.now).value

    # --- on a call: someone to talk to ---------------------------------------------------

    def on_duty_phone(self) -> str | None:
        """The phone of the person on duty now, if the centre is open and one is."""
        if not self._is_open():
            return None
        local = self.now.astimezone(self.rules.tz)
        rows = self.session.execute(
            select(Staff.phone_e164, DutyShift.starts, DutyShift.ends)
            .join(DutyShift, DutyShift.staff_id == Staff.id)
            .where(DutyShift.weekday == local.weekday(), Staff.is_active.is_(True), Staff.phone_e164.is_not(None))
            .order_by(DutyShift.starts)
        )
        allowed = notifications.allowed_countries(self.session)
        for phone, starts, ends in rows:
            start, end = local_interval(local.date(), starts, ends, self.rules.tz)
            # Never put her through to a number Linja does not call (premium rate, the
            # centre's own line) or one abroad.
            if start <= self.now < end and not self._is_off_limits(phone) \
                    and notifications.is_in_countries(phone, allowed):
                return phone
        return None

    def can_talk_now(self) -> bool:
        return self.on_duty_phone() is not None

    def opens_at(self) -> datetime | None:
        """When the centre opens next, if it is closed now (None when open, or when no
        opening is known in the next two weeks)."""
        if self._is_open():
            return None
        local = self.now.astimezone(self.rules.tz)
        centre = load_centre(self.session, local.date(), local.date() + timedelta(days=14))
        for offset in range(15):
            day = local.date() + timedelta(days=offset)
            if centre.is_closed(day):
                continue
            for opens, _ in sorted(centre.opening.get(day.weekday(), ())):
                start = local_interval(day, opens, time(23, 59), self.rules.tz)[0]
                if start > self.now:
                    return start
        return None

    def _is_open(self) -> bool:
        local = self.now.astimezone(self.rules.tz)
        centre = load_centre(self.session, local.date(), local.date())
        if centre.is_closed(local.date()):
            return False
        spans = (local_interval(local.date(), opens, closes, self.rules.tz)
                 for opens, closes in centre.opening.get(local.weekday(), ()))
        return any(start <= self.now < end for start, end in spans)

    def _is_off_limits(self, phone_e164: str) -> bool:
        return notifications.is_off_limits(self.session, phone_e164) or (
            bool(self.centre_number) and phone_e164 == parse_phone(self.centre_number).e164)
