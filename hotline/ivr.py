"""The voice line: every menu by keypad, answered with TwiML from ``twilio.twiml.voice_response``.

Each step is one webhook (``/hotline/voice/<step>``); where she is between steps (the
slots she heard, the appointment she is hearing about) is kept in a ``Call`` row. Every
menu's prompt sits inside its ``<Gather>``, so the first key press cuts it short. A wrong
key or silence repeats the menu with a hint; the third time the call ends kindly. The
booking itself goes through the same desk as the SMS line (``hotline.desk``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Callable

from babel import Locale
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline import voices
from hotline.conversation import Offer
from hotline.desk import DatabaseDesk
from scheduling import codeword, notifications
from scheduling.notifications import allowed_countries, is_in_countries
from scheduling.availability import BookingRules, load_centre, local_interval
from scheduling.clients import find_or_create_client
from scheduling.holds import release_holds
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    BookedVia,
    Call,
    CallbackRequest,
    OutboxMessage,
    Client,
    DutyShift,
    Language,
    PromptRecording,
    Service,
    Staff,
    Voicemail,
)
from scheduling.phones import parse_phone

MAX_TRIES = 3
CODE_WORD = 6  # "To set or change your code word, press 6" in the main menu
CODE_STEPS = {"code", "code-new", "code-repeat"}  # keys ended with #, not one key
FIRST_TIMEOUT = 10  # seconds to press a key, for a first-time caller
TIMEOUT = 8
DIAL_TIMEOUT = 25
VOICEMAIL_SECONDS = 120
HIDDEN_NUMBERS = {"", "anonymous", "restricted", "unknown", "private", "unavailable", "+266696687"}


@dataclass
class Line:
    """One request's view of the voice line."""

    session: Session
    now: datetime
    rules: BookingRules
    url: Callable[..., str]  # url(step, **query) -> path
    recording_url: Callable[[str], str]  # token -> path
    call_sid: str
    caller: str  # Twilio's From
    centre_number: str  # Twilio's To: shown as caller ID when she is put through
    _recordings: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    # --- state ---------------------------------------------------------------------------
    def call(self) -> Call:
        row = self.session.get(Call, self.call_sid)
        if row is None:
            row = Call(call_sid=self.call_sid, data={}, status="in-progress", started_at=self.now, updated_at=self.now)
            self.session.add(row)
            phone = parse_phone(self.caller)
            # A number Linja never calls or texts back (premium rate, the centre's own...)
            # is answered as a hidden one: she can talk to someone or leave a message, and
            # nothing is ever sent to it.
            if phone.is_valid and self.caller.strip().lower() not in HIDDEN_NUMBERS \
                    and not self.is_off_limits(phone.e164):
                client = find_or_create_client(self.session, phone.e164, self.now)
                row.client_id, row.language_code = client.id, client.language_code
            self.session.flush()
        return row

    def is_off_limits(self, phone_e164: str) -> bool:
        return notifications.is_off_limits(self.session, phone_e164) or phone_e164 == parse_phone(self.centre_number).e164

    def client(self) -> Client | None:
        call = self.call()
        return self.session.get(Client, call.client_id) if call.client_id else None

    def desk(self) -> DatabaseDesk | None:
        client = self.client()
        return DatabaseDesk(self.session, client, self.now, self.rules, BookedVia.voice) if client else None

    def language(self) -> str:
        return self.call().language_code or "nb"

    def remember(self, **data) -> None:
        call = self.call()
        call.data = {**(call.data or {}), **data}
        call.updated_at = self.now

    # --- speaking ------------------------------------------------------------------------
    def _recorded(self, language: str) -> dict[str, str]:
        """prompt key -> token of the recordings in ``language``, read once per request."""
        if language not in self._recordings:
            self._recordings[language] = dict(self.session.execute(
                select(PromptRecording.prompt_key, PromptRecording.token)
                .where(PromptRecording.language_code == language)
            ).all())
        return self._recordings[language]

    def _add(self, target, key: str, language: str, /, **values) -> None:
        """Say or play one prompt; raises voices.NotInHerLanguage when she cannot hear it."""
        recorded = self._recorded(language)
        parts = voices.parts_for(key, language, values, tz=self.rules.tz, recorded=set(recorded))
        for part in parts:
            if isinstance(part, voices.Say):
                target.say(part.text, voice=part.voice, language=part.language)
            else:
                target.play(self.recording_url(recorded[part.key]))

    def say(self, target, *items: tuple) -> None:
        """Say each (key, values) in her language; where her language cannot say it, tell
        her so in Norwegian and English and offer a call back."""
        language = self.language()
        try:
            for key, values in items:
                self._add(target, key, language, **values)
        except voices.NotInHerLanguage:
            for fallback in ("nb", "en"):
                self._add(target, "v_not_available", fallback)

    def menu(self, step: str, items: list[tuple], *, tries: int = 0, before: list[tuple] = (),
             first_time: bool = False) -> VoiceResponse:
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self.url(step, tries=tries), method="POST",
                        timeout=FIRST_TIMEOUT if first_time else TIMEOUT, action_on_empty_result=True)
        self.say(gather, *before, *items)
        response.append(gather)
        # Should a Gather end without calling its action, ask again the same way.
        response.redirect(self.url(step, tries=tries), method="POST")
        return response

    def goodbye(self, *items: tuple) -> VoiceResponse:
        response = VoiceResponse()
        self.say(response, *items)
        response.hangup()
        return response

    # --- menus ---------------------------------------------------------------------------
    def language_menu(self, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self.url("language", tries=tries), method="POST",
                        timeout=FIRST_TIMEOUT, action_on_empty_result=True)
        for key, values in before:
            self._add_or_fallback(gather, key, self.language(), values)
        for digit, (code, name) in enumerate(self.languages(), start=1):
            # Each option in its own language; where that language has neither a voice
            # nor recordings yet, in English, with the language's own name.
            self._add_or_fallback(gather, "v_language_option", code, {"language": name, "digit": digit})
        response.append(gather)
        response.redirect(self.url("language", tries=tries), method="POST")
        return response

    def _add_or_fallback(self, target, key: str, language: str, values: dict) -> None:
        try:
            self._add(target, key, language, **values)
        except voices.NotInHerLanguage:
            self._add(target, key, "en", **values)

    def languages(self) -> list[tuple[str, str]]:
        return [(row.code, row.name_native) for row in self.session.execute(
            select(Language.code, Language.name_native).where(Language.is_enabled.is_(True))
            .order_by(Language.menu_order, Language.code))]

    def main_menu(self, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        self.remember(step="main")
        return self.menu("main", [("v_main_menu", {})], tries=tries, before=before)

    def services_menu(self, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        services = self.services()
        if not services:
            return self.menu("main", [("v_no_slots", {})])
        if len(services) == 1:
            return self.slots_menu(services[0].id)
        self.remember(step="service", services=[s.id for s in services])
        items = [("v_service_option", {"service": s.name_in(self.language()), "service_slug": s.slug, "digit": i})
                 for i, s in enumerate(services, start=1)]
        return self.menu("service", items, tries=tries, before=before)

    def services(self) -> list[Service]:
        return list(self.session.scalars(
            select(Service).where(Service.is_active.is_(True)).order_by(Service.menu_order, Service.id)))

    def slots_menu(self, service_id: int, *, after: datetime | None = None, before: list[tuple] = (),
                   tries: int = 0) -> VoiceResponse:
        desk = self.desk()
        offers = desk.free_slots(service_id, self.language(), 3, after) if desk else []
        if not offers:
            self.remember(step="main")
            return self.menu("main", [("v_no_slots", {})], before=before)
        self.remember(step="slot", service=service_id, offers=[o.to_data() for o in offers])
        items = [("v_slots_intro", {})]
        items += [("v_slot_option", {"when": o.start_at, "digit": i}) for i, o in enumerate(offers, start=1)]
        items.append(("v_later", {}))
        return self.menu("slot", items, tries=tries, before=before)

    def your_time(self, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        desk = self.desk()
        upcoming = desk.next_appointment() if desk else None
        if upcoming is None:
            self.remember(step="main")
            return self.menu("main", [("v_no_appointment", {})], tries=tries, before=before)
        appointment_id, start_at, _ = upcoming
        desk.shown(appointment_id)
        self.remember(step="appointment", appointment=appointment_id, when=start_at.isoformat())
        return self.menu("appointment", [("v_your_time", {"when": start_at})], tries=tries, before=before)

    def needs_code(self) -> bool:
        """She has a code word and has not given it in this call."""
        client = self.client()
        return (client is not None and codeword.status(client) is not codeword.Status.none
                and not (self.call().data or {}).get("unlocked"))

    def code_menu(self, then: str, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        """Ask for her code word by keypad (ended with #); ``then`` is where it leads."""
        client = self.client()
        if client is not None and codeword.status(client) is codeword.Status.locked:
            return self.main_menu(before=[("v_code_locked", {})])
        self.remember(step="code", then=then)
        return self.keys("code", [("v_code_ask", {})], tries=tries, before=before)

    def code_new_menu(self, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        """Her new code word by keypad: chosen here, then once more (``code_repeat_menu``)."""
        self.remember(step="code-new", pending=None)
        return self.keys("code-new", [("v_code_choose", {})], tries=tries, before=before)

    def code_repeat_menu(self, pending: str, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        """The same code word again; ``pending`` is the first one's hash, never the digits."""
        self.remember(step="code-repeat", pending=pending)
        return self.keys("code-repeat", [("v_code_repeat", {})], tries=tries, before=before)

    def keys(self, step: str, items: list[tuple], *, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        """A prompt answered with several keys, ended with #."""
        response = VoiceResponse()
        gather = Gather(finish_on_key="#", action=self.url(step, tries=tries), method="POST",
                        timeout=TIMEOUT, action_on_empty_result=True)
        self.say(gather, *before, *items)
        response.append(gather)
        response.redirect(self.url(step, tries=tries), method="POST")
        return response

    def hidden_menu(self, tries: int = 0, before: list[tuple] = ()) -> VoiceResponse:
        self.remember(step="hidden")
        return self.menu("hidden", [("v_hidden_number", {})], tries=tries, before=before)

    # --- talking to someone ----------------------------------------------------------------
    def on_duty_phone(self) -> str | None:
        local = self.now.astimezone(self.rules.tz)
        rows = self.session.execute(
            select(Staff.phone_e164, DutyShift.starts, DutyShift.ends)
            .join(DutyShift, DutyShift.staff_id == Staff.id)
            .where(DutyShift.weekday == local.weekday(), Staff.is_active.is_(True), Staff.phone_e164.is_not(None))
            .order_by(DutyShift.starts)
        )
        for phone, starts, ends in rows:
            start, end = local_interval(local.date(), starts, ends, self.rules.tz)
            # Never put her through to a number Linja does not call (premium rate, the
            # centre's own line, which would ring back into Linja) or one abroad.
            if start <= self.now < end and not self.is_off_limits(phone) and is_in_countries(
                    phone, allowed_countries(self.session)):
                return phone
        return None

    def is_open(self) -> bool:
        local = self.now.astimezone(self.rules.tz)
        centre = load_centre(self.session, local.date(), local.date())
        if centre.is_closed(local.date()):
            return False
        spans = (local_interval(local.date(), opens, closes, self.rules.tz)
                 for opens, closes in centre.opening.get(local.weekday(), ()))
        return any(start <= self.now < end for start, end in spans)

    def next_opening(self) -> datetime | None:
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

    def transfer(self) -> VoiceResponse:
        phone = self.on_duty_phone() if self.is_open() else None
        if phone is None:
            opening = self.next_opening()
            if opening is None:
                return self.voicemail([("v_leave_message", {})])
            return self.voicemail([("v_closed", {"when": opening})])
        response = VoiceResponse()
        self.say(response, ("v_connecting", {}))
        dial = response.dial(action=self.url("after-dial"), method="POST", timeout=DIAL_TIMEOUT,
                             caller_id=self.centre_number or None)
        dial.number(phone)
        return response

    def voicemail(self, items: list[tuple]) -> VoiceResponse:
        self.remember(step="voicemail")
        response = VoiceResponse()
        self.say(response, *items)
        response.record(action=self.url("recorded"), method="POST", max_length=VOICEMAIL_SECONDS,
                        finish_on_key="1234567890*#", play_beep=True, timeout=10)
        self.say(response, ("v_message_saved", {}))
        response.hangup()
        return response

    def save_voicemail(self, recording_url: str, duration: str | None) -> VoiceResponse:
        if recording_url and self.session.scalars(
            select(Voicemail.id).where(Voicemail.call_sid == self.call_sid)
        ).first() is None:
            call = self.call()
            self.session.add(Voicemail(
                call_sid=self.call_sid, client_id=call.client_id, language_code=call.language_code,
                recording_url=recording_url[:500], duration_seconds=_int(duration), received_at=self.now,
            ))
        return self.goodbye(("v_message_saved", {}))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# Menus whose answer needs what was said in them (the slots offered, the appointment heard).
STATEFUL_STEPS = {"service", "slot", "confirm", "appointment", "cancel", "reminder-answer", "code", "code-new",
                  "code-repeat"}


def digits(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value[0]) if value[:1].isascii() and value[:1].isdigit() else None  # not "²"


def offers_of(call: Call) -> list[Offer]:
    return [Offer.from_data(o) for o in (call.data or {}).get("offers", [])]


# --- the steps ---------------------------------------------------------------------------------


def incoming(line: Line) -> VoiceResponse:
    call = line.call()
    if call.client_id is None:
        return line.hidden_menu()
    if call.language_code:
        return line.main_menu()  # a returning caller skips the language menu; 0 brings it back
    line.remember(step="language")
    return line.language_menu()


def reminder_call(line: Line, message_id: int | None, answered_by: str) -> VoiceResponse:
    """Linja called her to remind her of an appointment; this is what she hears on answering."""
    response = VoiceResponse()
    message = line.session.get(OutboxMessage, message_id) if message_id else None
    if message is None or answered_by.startswith(("machine", "fax")) or message.client_id is None:
        response.hangup()  # a voicemail box hears nothing: the call is tried again later
        return response
    call = line.session.get(Call, line.call_sid)
    if call is None:
        client = line.session.get(Client, message.client_id)
        call = Call(call_sid=line.call_sid, client_id=message.client_id,
                    language_code=client.language_code if client else None, data={}, status="in-progress",
                    started_at=line.now, updated_at=line.now)
        line.session.add(call)
        line.session.flush()
    appointment = line.session.get(Appointment, message.appointment_id) if message.appointment_id else None
    if appointment is None or appointment.status != AppointmentStatus.booked or appointment.start_at <= line.now:
        response.hangup()
        return response
    line.remember(step="reminder-answer", appointment=appointment.id, when=appointment.start_at.isoformat())
    return line.menu("reminder-answer", [("v_reminder_call", {"when": appointment.start_at})])


def _again(line: Line, step: str, tries: int, pressed: str) -> VoiceResponse:
    """A wrong key or silence: the same menu once more with a hint, or after three tries, goodbye."""
    if tries + 1 >= MAX_TRIES:
        return line.goodbye(("v_goodbye", {}))
    wrong = "v_code_format" if step in CODE_STEPS else "v_wrong_key"  # too few or many digits
    hint = [("v_no_key" if not pressed else wrong, {})]
    call = line.call()
    data = call.data or {}
    if step == "language":
        return line.language_menu(tries + 1, before=hint)
    if step == "service":
        return line.services_menu(tries + 1, before=hint)
    if step == "slot":
        offers = offers_of(call)
        items = [("v_slots_intro", {})] + [("v_slot_option", {"when": o.start_at, "digit": i})
                                           for i, o in enumerate(offers, start=1)] + [("v_later", {})]
        return line.menu("slot", items, tries=tries + 1, before=hint)
    if step == "confirm":
        offer = Offer.from_data(data["offer"])
        return line.menu("confirm", [("v_confirm", {"when": offer.start_at})], tries=tries + 1, before=hint)
    if step == "appointment":
        return line.menu("appointment", [("v_your_time", {"when": datetime.fromisoformat(data["when"])})],
                         tries=tries + 1, before=hint)
    if step == "cancel":
        return line.menu("cancel", [("v_confirm_cancel", {"when": datetime.fromisoformat(data["when"])})],
                         tries=tries + 1, before=hint)
    if step == "hidden":
        return line.hidden_menu(tries + 1, before=hint)
    if step == "code":
        return line.code_menu(data.get("then", "appointment"), tries + 1, before=hint)
    if step == "code-new":
        return line.code_new_menu(tries + 1, before=hint)
    if step == "code-repeat":
        return line.code_repeat_menu(data.get("pending"), tries + 1, before=hint)
    if step == "reminder-answer":
        return line.menu("reminder-answer", [("v_reminder_call", {"when": datetime.fromisoformat(data["when"])})],
                         tries=tries + 1, before=hint)
    return line.main_menu(tries + 1, before=hint)


def answer(line: Line, step: str, pressed: str, tries: int) -> VoiceResponse:
    """Her key press on a menu ``step``."""
    choice = digits(pressed)
    call = line.call()
    data = call.data or {}
    desk = line.desk()
    if step in STATEFUL_STEPS and data.get("step") != step:
        # A key press for a menu she is no longer in (a late retry): start again from hers.
        return line.main_menu() if desk is not None else line.hidden_menu()

    if step == "language":
        languages = line.languages()
        if choice is not None and 1 <= choice <= len(languages) and desk is not None:
            code = languages[choice - 1][0]
            desk.set_language(code)
            call.language_code = code
            return line.main_menu()
        return _again(line, step, tries, pressed)

    if step == "hidden":
        if choice == 3:
            return line.transfer()
        if choice == 6:
            return line.voicemail([("v_leave_message", {})])
        return _again(line, step, tries, pressed)

    if desk is None:  # a hidden number reached a booking menu
        return line.hidden_menu()

    if step == "reminder-answer":
        current = desk.appointment(data["appointment"])
        if current is None:
            return line.goodbye(("v_cancelled", {}))
        if choice == 1:
            return line.goodbye(("v_confirmed", {}))
        if choice == 2:
            if line.needs_code():
                return line.code_menu("cancel")
            line.remember(step="cancel", when=current[1].isoformat())
            return line.menu("cancel", [("v_confirm_cancel", {"when": current[1]})])
        if choice == 3:
            return line.transfer()
        return _again(line, step, tries, pressed)

    if step == "code":
        code = codeword.as_code(pressed)
        if code is None:
            return _again(line, step, tries, pressed)
        result = desk.check_code_word(code)
        if result == "locked":
            return line.main_menu(before=[("v_code_locked", {})])
        if result != "ok":
            return line.code_menu(data.get("then", "appointment"), tries, before=[("v_code_wrong", {})])
        line.remember(unlocked=True)
        if data.get("then") == "code-new":  # the old code word given: now the new one
            return line.code_new_menu()
        current = desk.appointment(data["appointment"]) if data.get("then") == "cancel" and data.get("appointment") \
            else None
        if current is not None:  # she was asked about this one by a reminder call
            line.remember(step="cancel", when=current[1].isoformat())
            return line.menu("cancel", [("v_confirm_cancel", {"when": current[1]})])
        return line.your_time()

    if step in ("appointment", "cancel") and line.needs_code():
        return line.code_menu("appointment")

    if step in ("code-new", "code-repeat") and line.needs_code():
        return line.code_menu("code-new")  # only reached after the old code word, but be sure

    if step == "code-new":
        code = codeword.as_code(pressed)
        if code is None:
            return _again(line, step, tries, pressed)
        # Not kept in clear even for the moment until she repeats it.
        return line.code_repeat_menu(codeword.hash_code(code))

    if step == "code-repeat":
        if not pressed:
            return _again(line, step, tries, pressed)
        code = codeword.as_code(pressed)
        if code is None or not codeword.matches(data.get("pending"), code):
            return line.code_new_menu(before=[("v_code_mismatch", {})])  # start again, as by text
        desk.set_code_word(code)
        line.remember(unlocked=True, pending=None)
        return line.main_menu(before=[("v_code_set", {})])

    if step == "main":
        if choice == 1:
            # With a code word, booking goes ahead: it shows nothing of her time.
            return line.your_time() if desk.next_appointment() and not line.needs_code() else line.services_menu()
        if choice == 2:
            return line.code_menu("appointment") if line.needs_code() else line.your_time()
        if choice == 3:
            return line.transfer()
        if choice == 4:
            desk.request_callback()
            return line.goodbye(("v_callback", {}))
        if choice == 5:
            line.client().wants_reminder_calls = True
            return line.goodbye(("v_reminder_calls_on", {}))
        if choice == CODE_WORD:
            if desk.code_word_status() == "none":
                return line.code_new_menu()
            # Changing it takes the old one, every time, as by text (locked: she is told so).
            return line.code_menu("code-new")
        if choice == 9:
            return line.main_menu()
        if choice == 0:
            line.remember(step="language")
            return line.language_menu()
        return _again(line, step, tries, pressed)

    if step == "service":
        shown = data.get("services", [])
        if choice == 0:
            return line.main_menu()
        if choice is not None and 1 <= choice <= len(shown):
            return line.slots_menu(shown[choice - 1])
        return _again(line, step, tries, pressed)

    if step == "slot":
        offers = offers_of(call)
        if choice == 0:
            desk.release()
            return line.main_menu()
        if choice == 9 and offers:
            return line.slots_menu(data["service"], after=offers[-1].start_at)
        if choice is not None and 1 <= choice <= len(offers):
            offer = offers[choice - 1]
            if not desk.hold(offer, data["service"]):
                return line.slots_menu(data["service"], before=[("v_taken", {})])
            line.remember(step="confirm", offer=offer.to_data())
            return line.menu("confirm", [("v_confirm", {"when": offer.start_at})])
        return _again(line, step, tries, pressed)

    if step == "confirm":
        offer = Offer.from_data(data["offer"])
        if choice == 1:
            result = desk.book(offer, data["service"], line.language())
            if not result.ok:
                return line.slots_menu(data["service"], before=[("v_taken", {})])
            desk.release()
            client = line.client()
            texted = notifications.can_text(line.session, client) and not client.is_opted_out
            return line.goodbye(("v_booked_text" if texted else "v_booked", {"when": result.start_at}))
        if choice == 2:
            desk.release()
            return line.slots_menu(data["service"])
        return _again(line, step, tries, pressed)

    if step == "appointment":
        current = desk.appointment(data["appointment"])
        if current is None:
            return line.your_time()
        if choice == 1:
            line.remember(step="cancel", when=current[1].isoformat())
            return line.menu("cancel", [("v_confirm_cancel", {"when": current[1]})])
        if choice == 0:
            return line.main_menu()
        return _again(line, step, tries, pressed)

    if step == "cancel":
        current = desk.appointment(data["appointment"])
        if current is None:
            return line.your_time()
        if choice == 1:
            desk.cancel(current[0])
            return line.goodbye(("v_cancelled", {}))
        if choice == 2:
            return line.goodbye(("v_kept", {}))
        return _again(line, step, tries, pressed)

    return line.main_menu()


def after_dial(line: Line, dial_status: str) -> VoiceResponse:
    if dial_status in ("completed", "answered"):
        response = VoiceResponse()
        response.hangup()
        return response
    return line.voicemail([("v_leave_message", {})])


def call_ended(line: Line, status: str) -> None:
    """Twilio's call status callback: a call that ended mid-booking leaves nothing held."""
    call = line.session.get(Call, line.call_sid)
    if call is None:
        return
    call.status, call.updated_at = status[:20], line.now
    if status in ("completed", "busy", "failed", "no-answer", "canceled") and call.client_id:
        release_holds(line.session, client_id=call.client_id)


def bridge(line: Line, request_id: int | None) -> VoiceResponse:
    """A receptionist answered Linja's call about a call-back request: put her through to
    the caller, who sees the centre's number, not the receptionist's own."""
    response = VoiceResponse()
    request = line.session.get(CallbackRequest, request_id) if request_id else None
    client = line.session.get(Client, request.client_id) if request and request.client_id else None
    if client is None or client.phone_e164 is None:
        response.say("Denne personen kan ikke ringes lenger.", voice="Polly.Liv", language="nb-NO")
        response.hangup()
        return response
    language = Locale("nb").languages.get(request.language_code or "", request.language_code or "ukjent språk")
    response.say(f"Du kobles nå til en som ba om å bli ringt opp, på {language}.", voice="Polly.Liv", language="nb-NO")
    dial = response.dial(caller_id=line.caller or None, timeout=DIAL_TIMEOUT)
    dial.number(client.phone_e164)
    return response
