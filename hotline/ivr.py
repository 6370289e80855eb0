"""The voice line: the one dialogue (``hotline.conversation``), spoken and answered by keypad.

A key press is the dialogue's input, as a texted digit is on the SMS line; what the
dialogue replies is spoken here, each reply as its voice prompt (``VOICE_OF``) with
``twilio.twiml.voice_response``, inside a ``<Gather>`` so the first key cuts it short.
What only a call has lives here too: the times read one by one, silence and wrong keys
(three tries, then a kind goodbye), being put through to the person on duty, voicemail,
callers whose number is hidden, and reminders by phone call. Where she is in the
dialogue is kept in the ``Call`` row, as an SMS conversation's is kept in its row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta
from collections.abc import Collection, Iterable
from typing import Callable

from babel import Locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline import conversation as dialogue
from hotline.abuse import CallerAtTheDoor
from hotline import prompts, voices
from hotline.conversation import Context, Inbound, Reply, State
from hotline.desk import DatabaseDesk
from scheduling import notifications
from scheduling.availability import BookingRules
from scheduling.clients import create_client, find_or_create_client
from scheduling.holds import release_holds
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    BookedVia,
    Call,
    CallbackRequest,
    Client,
    OutboxMessage,
    PromptRecording,
    Service,
    Voicemail,
)
from scheduling.phones import parse_phone
from scheduling.reference import read_version, reference, version_column

MAX_TRIES = 3
ENDED = {"completed", "busy", "failed", "no-answer", "canceled"}  # Twilio's CallStatus of a call that is over
FIRST_TIMEOUT = 10  # seconds to press a key, for a first-time caller
TIMEOUT = 8
DIAL_TIMEOUT = 25
VOICEMAIL_SECONDS = 120
HIDDEN_NUMBERS = {"", "anonymous", "restricted", "unknown", "private", "unavailable", "+266696687"}
IDLE = timedelta(minutes=30)  # as an SMS conversation's: a call's state expires the same way

Spoken = list[tuple[str, dict]]
IN_LANGUAGE = "in_language"  # a spoken value naming another language to say that prompt in


def _confirmed(prompt: str) -> Callable[[Reply, Line], Spoken]:
    """A booking or a move said aloud, with "you will also get a text" where one will come."""
    def say(item: Reply, line: Line) -> Spoken:
        return [(f"{prompt}_text" if line.is_texted() else prompt, {"when": item.values["when"]})]
    return say


# Each reply of the dialogue, as the voice line says it: its voice prompt, or a function
# of the reply and the line giving (prompt, values) pairs. None: a reply no key press can
# lead to (STOP and the like are words, texted).
VOICE_OF: dict[str, str | Callable[[Reply, "Line"], Spoken] | None] = {
    # With a code word a text says no more than the time; said aloud, nothing changes.
    "booked": _confirmed("v_booked"), "booked_private": _confirmed("v_booked"),
    "moved": _confirmed("v_moved"), "moved_private": _confirmed("v_moved"),
    "main_menu": "v_main_menu",
    "choose_service": lambda item, line: line.service_options(),
    "offer_slots": lambda item, line: [
        ("v_slots_intro", {}),
        *[("v_slot_option", {"when": at, "digit": i}) for i, at in enumerate(item.values["slots"], start=1)],
        ("v_later", {})],
    "no_slots": "v_no_slots",
    "confirm_slot": lambda item, line: [
        ("v_confirm_move" if item.values.get("moving") else "v_confirm", {"when": item.values["when"]})],
    "slot_taken": "v_taken",
    "appointment_menu": "v_your_time",
    "no_appointment": "v_no_appointment",
    "confirm_cancel": "v_confirm_cancel",
    "cancelled": "v_cancelled",
    "kept": "v_kept",
    "callback_requested": "v_callback",
    "help": "v_help",
    "not_understood": "v_wrong_key",
    "empty_message": "v_no_key",
    "timed_out": "v_timed_out",
    "contact_menu": "v_contact_menu",
    "contact_any": "v_contact_any",
    "contact_texts": "v_contact_texts",
    "contact_calls": "v_contact_calls",
    "contact_reminder_calls": "v_contact_reminder_calls",
    "contact_no_reminders": "v_contact_no_reminders",
    "contact_days": "v_contact_days",
    "contact_hours": "v_contact_hours",
    "contact_hours_format": "v_contact_hours_format",
    "contact_hours_quiet": "v_contact_hours_quiet",
    "contact_any_time": "v_contact_any_time",
    "contact_hours_every_day": "v_contact_hours_every_day",
    "contact_weekdays": "v_contact_weekdays",
    "contact_weekdays_hours": "v_contact_weekdays_hours",
    "appointment_confirmed": "v_confirmed",
    "reminder": "v_reminder_call",
    "code_choose": "v_code_choose",
    "code_repeat": "v_code_repeat",
    "code_mismatch": "v_code_mismatch",
    "code_set": "v_code_set",
    "code_ask": "v_code_ask",
    "code_format": "v_code_format",
    "code_wrong": "v_code_wrong",
    "code_locked": "v_code_locked",
    "nobody": "v_nobody",
    "closed": "v_closed",
    # Handled by the line itself: put through, or record a message.
    "put_through": None,
    "leave_message": None,
    # The waiting list's offer comes as a text, and is answered by text.
    "waitlist_offer": None, "offer_passed": None, "offer_gone": None,
    # Words she can only text.
    "stopped": None, "started": None, "deleted": None, "try_again": None, "over_limit": None,
    # Reminders by text; a reminder call says "reminder".
    "reminder_private": None, "reminder_today": None, "reminder_tomorrow": None,
}
# The prompts each of VOICE_OF's functions may say (checked by the menu walk), and those
# the line says itself for the replies it acts on and when she has tried three times.
PROMPTS_OF = {
    "booked": ("v_booked", "v_booked_text"), "booked_private": ("v_booked", "v_booked_text"),
    "moved": ("v_moved", "v_moved_text"), "moved_private": ("v_moved", "v_moved_text"),
    "choose_service": ("v_service_option",),
    "offer_slots": ("v_slots_intro", "v_slot_option", "v_later"),
    "confirm_slot": ("v_confirm", "v_confirm_move"),
    "put_through": ("v_connecting",),  # and, if nobody answers, where "3" leads when no one is free
    "leave_message": ("v_record", "v_message_saved"),
}
AFTER_TRIES = ("v_goodbye",)
# The values a prompt named in VOICE_OF says: a date and time, and the hours of a day.
SPOKEN_VALUES = ("when", "start", "end")


def prompts_of(reply_key: str) -> tuple[str, ...]:
    how = VOICE_OF.get(reply_key)
    return (how,) if isinstance(how, str) else PROMPTS_OF.get(reply_key, ())


@lru_cache(maxsize=None)
def prompts_heard() -> tuple[str, ...]:
    """Every voice prompt a call can say once she has chosen her language: those of every
    reply the dialogue table can reach from where a call in her language begins (her main
    menu; a reminder call's question), in the order the prompts are written. A prompt a new
    choice of the table says counts here without anyone listing it."""
    _states, replies = dialogue.reachable((dialogue.MAIN, dialogue.REMINDER), dialogue.VOICE)
    said = {prompt for key in replies for prompt in prompts_of(key)} | set(AFTER_TRIES)
    return tuple(key for key in prompts.VOICE_TEXTS if key in said)


def _all_recorded(language: str, recorded: Collection[str], service_slugs: Iterable[str]) -> bool:
    return all(key in recorded for key in voices.pieces_to_record(language, service_slugs, prompts_heard()))


def heard_on_a_call(session: Session, language: str | None) -> bool:
    """Whether a call in ``language`` can be heard (Line.can_be_heard), for the worker: a
    reminder call she asked for goes as a text until it can."""
    if language is None or voices.voice(language) is not None:
        return True
    recorded = {key for key, version in session.execute(
        select(PromptRecording.prompt_key, PromptRecording.text_version)
        .where(PromptRecording.language_code == language)) if voices.is_current(key, version)}
    slugs = session.scalars(select(Service.slug).where(Service.is_active.is_(True))).all()
    return _all_recorded(language, recorded, slugs)


# Replies after which the call has done what she called for: said, then goodbye.
ENDS_CALL = {"booked", "booked_private", "moved", "moved_private", "cancelled", "kept", "callback_requested",
             "appointment_confirmed"}
# Replies that ask her something; after any other, the question of where she is follows.
ASKING = {row.asks for row in dialogue.TABLE.values()} | {"language_menu", "closed"}
# A wrong key or silence: counted toward the three tries.
PUZZLED = {"not_understood", "empty_message", "code_format", "contact_hours_format", "contact_hours_quiet"}


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
    # What the first look at a new call read, in this transaction (hotline.abuse).
    door: CallerAtTheDoor | None = None
    _recordings: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    # Read once per request (the identity map holds rows only while someone does).
    _call: Call | None = field(default=None, repr=False)
    _client: Client | None = field(default=None, repr=False)
    _desk: DatabaseDesk | None = field(default=None, repr=False)

    # --- the call and where she is ---------------------------------------------------------
    def call(self) -> Call:
        if self._call is not None:
            return self._call
        door = self.door if self.door is not None and self.door.looked else None

        def new_call() -> Call:
            phone = parse_phone(self.caller)
            client = None
            # A number Linja never calls or texts back (premium rate, the centre's own...)
            # is answered as a hidden one: she can talk to someone or leave a message, and
            # nothing is ever sent to it.
            if phone.is_valid and self.caller.strip().lower() not in HIDDEN_NUMBERS \
                    and not self.is_off_limits(phone.e164):
                if door is None:
                    client = find_or_create_client(self.session, phone.e164, self.now)
                elif door.client_id is None:  # the first look found nobody with her number
                    client = create_client(self.session, phone.e164, self.now)
                else:
                    client = self.session.get(Client, door.client_id)
                    client.last_contact_at = self.now
            self._client = client
            return Call(call_sid=self.call_sid, data={}, status="in-progress", started_at=self.now,
                        updated_at=self.now, client_id=client.id if client else None,
                        language_code=client.language_code if client else None)

        row, _ = self.call_row(new_call, is_missing=door is not None and not door.call_exists)
        return row

    def call_row(self, new: Callable[[], Call], *, is_missing: bool = False) -> tuple[Call, bool]:
        """The call's row, locked, and whether this request wrote it (``new()``, when it had
        none; ``is_missing``: this transaction has already seen it has none). Two requests of
        one call at once are answered one after the other, each from the state the other
        left (as two texts of one conversation are); a first request Twilio repeats waits
        for the first one's row and goes on from it, and what ``new()`` wrote is undone."""
        row = None if is_missing else self._read_call()
        is_new = row is None
        if is_new:
            try:
                with self.session.begin_nested():
                    row = new()
                    self.session.add(row)
                    self.session.flush()
            except IntegrityError:
                row = self._read_call()
                if row is None:
                    raise
                is_new = False
        self._call = row
        return row, is_new

    def _read_call(self) -> Call | None:
        """The call's row, locked, with her client and the reference data's version in the
        same round trip."""
        found = self.session.execute(
            select(Call, Client, version_column())
            .outerjoin(Client, Client.id == Call.client_id)
            .where(Call.call_sid == self.call_sid)
            .with_for_update(of=Call)
            .execution_options(populate_existing=True)
        ).first()
        if found is None:
            return None
        row, self._client, version = found
        read_version(self.session, version)
        return row

    def is_off_limits(self, phone_e164: str) -> bool:
        return notifications.is_off_limits(self.session, phone_e164) or phone_e164 == parse_phone(self.centre_number).e164

    def client(self) -> Client | None:
        call = self.call()
        if call.client_id is None:
            return None
        if self._client is None or self._client.id != call.client_id:
            self._client = self.session.get(Client, call.client_id)
        return self._client

    def desk(self) -> DatabaseDesk:
        # A hidden number has no client: its desk only answers who is on duty.
        if self._desk is None or self._desk.client is not self.client():
            self._desk = DatabaseDesk(self.session, self.client(), self.now, self.rules, BookedVia.voice,
                                      centre_number=self.centre_number, owner=f"call:{self.call_sid}")
        return self._desk

    def language(self) -> str:
        return self.call().language_code or "nb"

    def saved(self) -> dict:
        """The call's row as kept; a damaged or older one reads as empty (a fresh start)."""
        data = self.call().data
        return data if isinstance(data, dict) else {}

    def state(self) -> State:
        call = self.call()
        saved = self.saved().get("dialogue")
        if not isinstance(saved, dict) or not saved:
            return State(language=call.language_code)
        return dialogue.kept(saved.get("name"), saved.get("data"), call.language_code, call.updated_at)

    def turn(self) -> int:
        return _count(self.saved().get("turn"))

    def tries(self) -> int:
        return _count(self.saved().get("tries"))

    def _keep(self, state: State, *, tries: int) -> None:
        call = self.call()
        call.data = {"dialogue": {"name": state.name, "data": state.data}, "turn": self.turn() + 1, "tries": tries}
        call.language_code = state.language
        call.updated_at = self.now

    def context(self) -> Context:
        # STOP is about texts: a caller who asked for no more texts can still call.
        return Context(now=self.now, desk=self.desk(), line=dialogue.VOICE, idle_timeout=IDLE,
                       offer_counts=lambda language: (3, 3))

    # --- the dialogue ----------------------------------------------------------------------
    def begin(self, state: State) -> VoiceResponse:
        """A call opens where ``state`` is: a new caller's language menu, a returning
        caller's main menu, a reminder's question."""
        if state.name == dialogue.NEW:
            if state.language and not self.can_be_heard(state.language):
                # Her language cannot be heard yet (or she pressed its key by mistake last
                # time): the language menu again, not a notice she cannot get past.
                state = dialogue.State(updated_at=state.updated_at)
            return self.step(dialogue.advance(state, Inbound(""), self.context()), tries=0, entering=True)
        return self.step(dialogue.Step(state, dialogue.prompt(state, self.context())), tries=0)

    def resume(self) -> VoiceResponse:
        """A call answered before this dialogue ran the voice line posts to the steps it had
        then: she hears where she can go on from (her main menu; a hidden number, its menu)."""
        if self.client() is None:
            return self.hidden_menu()
        return self.begin(self.state())

    def press(self, pressed: str, turn: int) -> VoiceResponse:
        """Her keys on the menu of ``turn``; a late retry for an earlier menu hears hers again."""
        if self.client() is None:  # a hidden number has no dialogue, only its own menu
            return self.hidden_menu()
        state = self.state()
        tries = self.tries()
        if turn != self.turn():  # changes nothing, not even the turn
            return self.step(dialogue.Step(state, dialogue.prompt(state, self.context())), tries=tries, keep=False)
        # Choosing her language is entering it: it is checked that a call can go on in it
        # before anything is done in it. Once in, what she presses is done and said (a
        # recording going stale mid-call must not undo her booking's confirmation).
        entering = state.name in (dialogue.NEW, dialogue.LANGUAGE)
        return self.step(dialogue.advance(state, Inbound(pressed), self.context()), tries=tries, entering=entering)

    def step(self, step: dialogue.Step, *, tries: int, keep: bool = True, entering: bool = False) -> VoiceResponse:
        keys = {item.key for item in step.replies}
        if keep:
            tries = tries + 1 if keys & PUZZLED else 0
            self._keep(step.state, tries=tries)
            if self.call().status in ENDED:
                # Her key arrived after Twilio said the call ended: what she pressed is
                # done, but nobody is left to confirm a time held now.
                self.desk().release()
        if tries >= MAX_TRIES:
            self.desk().release()
            return self.goodbye([("v_goodbye", {})])
        if "put_through" in keys:
            return self.put_through()
        if "leave_message" in keys:
            return self.voicemail([("v_record", {})])
        replies = list(step.replies)
        if not keys & (ASKING | ENDS_CALL):
            replies += dialogue.prompt(step.state, self.context())
        if entering and step.state.name not in (dialogue.NEW, dialogue.LANGUAGE) \
                and not self.can_be_heard(step.state.language):
            return self.cannot_hear()
        try:
            if step.state.name == dialogue.LANGUAGE and any(r.key == "language_menu" for r in replies):
                return self.language_menu([r for r in replies if r.key != "language_menu"])
            spoken = [part for item in replies for part in self.spoken(item)]
            if keys & ENDS_CALL:
                return self.goodbye(spoken)
            return self.menu(step.state.name, spoken)
        except voices.NotInHerLanguage:
            return self.cannot_hear()

    def spoken(self, item: Reply) -> Spoken:
        how = VOICE_OF[item.key]
        if how is None:
            raise LookupError(f"no key press leads to {item.key!r}")
        if callable(how):
            return how(item, self)
        return [(how, {name: value for name, value in item.values.items() if name in SPOKEN_VALUES})]

    def is_texted(self) -> bool:
        client = self.client()
        return client is not None and notifications.can_text(self.session, client) and not client.is_opted_out

    def service_options(self) -> Spoken:
        shown = self.state().data.get("services") or []
        services = reference(self.session).services
        language = self.language()
        spoken: Spoken = []
        for digit, sid in enumerate(shown, start=1):
            if sid not in services:
                continue
            service = services[sid]
            values = {"service": service.name_in(language), "service_slug": service.slug, "digit": digit}
            if voices.voice(language) is not None and not voices.can_read(language, values["service"]):
                # Not named in her language yet, and her voice cannot read the name it has:
                # said by the Norwegian voice, in Norwegian.
                values[IN_LANGUAGE] = "nb"
            spoken.append(("v_service_option", values))
        return spoken

    def can_be_heard(self, language: str | None) -> bool:
        """Whether a call can go on in ``language``: it has a voice, or a current recording of
        every piece of every prompt a call can reach once she has chosen it (``prompts_heard``,
        computed from the dialogue table), with the dates, digits and service names they say.
        Until then her language is not offered part-way: no menu she hears leads to one she
        cannot."""
        if language is None or voices.voice(language) is not None:
            return True
        return _all_recorded(language, self._recorded(language), self.desk().service_slugs())

    def cannot_hear(self) -> VoiceResponse:
        """Her language cannot yet be heard here: she is told so, by its recording of the
        notice where there is one, else in Norwegian and English, and someone who speaks her
        language calls her back; no key to press."""
        self.desk().request_callback()
        response = VoiceResponse()
        language = self.language()
        if "v_not_available" in self._recorded(language):
            self._add(response, "v_not_available", language)
        else:
            for fallback in voices.FALLBACK_VOICES:
                self._add(response, "v_not_available", fallback)
        response.hangup()
        return response

    # --- speaking ------------------------------------------------------------------------
    def _recorded(self, language: str) -> dict[str, str]:
        """prompt key -> token of the recordings in ``language``, read once per request;
        one made for an older wording of its prompt is left out, as if never made."""
        if language not in self._recordings:
            self._read_recordings([language])
        return self._recordings[language]

    def _read_recordings(self, languages: list[str]) -> None:
        index = reference(self.session).recordings
        for code in languages:
            self._recordings[code] = {key: token for key, (token, version) in index.get(code, {}).items()
                                      if voices.is_current(key, version)}

    def _add(self, target, key: str, language: str, /, **values) -> None:
        """Say or play one prompt; raises voices.NotInHerLanguage when she cannot hear it."""
        recorded = self._recorded(language)
        for part in voices.parts_for(key, language, values, tz=self.rules.tz, recorded=set(recorded)):
            if isinstance(part, voices.Say):
                target.say(part.text, voice=part.voice, language=part.language)
            else:
                target.play(self.recording_url(recorded[part.key]))

    def say(self, target, spoken: Spoken, language: str | None = None, *, or_fallback: bool = False) -> None:
        """Say ``spoken``; with ``or_fallback``, a prompt that cannot be heard in her language
        (a recording gone stale since the call began) is said by the Norwegian and English
        voices: what is done is done (a message saved, a goodbye) and she is not cut off."""
        for key, values in spoken:
            values = dict(values)
            language_of = values.pop(IN_LANGUAGE, None) or language or self.language()
            try:
                self._add(target, key, language_of, **values)
            except voices.NotInHerLanguage:
                if not or_fallback:
                    raise
                for fallback in voices.FALLBACK_VOICES:
                    self._add(target, key, fallback, **values)

    def menu(self, state_name: str, spoken: Spoken, *, first_time: bool = False) -> VoiceResponse:
        response = VoiceResponse()
        action = self.url("input", turn=self.turn())
        if state_name in dialogue.KEYED:  # a code word: several keys, ended with #
            gather = Gather(finish_on_key="#", action=action, method="POST", timeout=TIMEOUT,
                            action_on_empty_result=True)
        else:
            gather = Gather(num_digits=1, action=action, method="POST",
                            timeout=FIRST_TIMEOUT if first_time else TIMEOUT, action_on_empty_result=True)
        self.say(gather, spoken)
        response.append(gather)
        # Should a Gather end without calling its action, it is heard as silence.
        response.redirect(action, method="POST")
        return response

    def goodbye(self, spoken: Spoken, language: str | None = None) -> VoiceResponse:
        response = VoiceResponse()
        self.say(response, spoken, language, or_fallback=True)
        response.hangup()
        return response

    def language_menu(self, before: list[Reply]) -> VoiceResponse:
        response = VoiceResponse()
        action = self.url("input", turn=self.turn())
        gather = Gather(num_digits=1, action=action, method="POST", timeout=FIRST_TIMEOUT,
                        action_on_empty_result=True)
        for item in before:
            for key, values in self.spoken(item):
                self._add_or_fallback(gather, key, self.language(), values)
        self._read_recordings([code for code, _ in self.languages() if code not in self._recordings])
        for digit, (code, name) in enumerate(self.languages(), start=1):
            self._language_option(gather, code, name, digit)
        response.append(gather)
        response.redirect(action, method="POST")
        return response

    def _language_option(self, target, code: str, name: str, digit: int) -> None:
        """One option of the language menu, in its own language (its recording, else its
        voice); where it has neither yet, said by the Norwegian and English voices with the
        language's Norwegian and English names, never in a script those voices cannot read."""
        try:
            self._add(target, "v_language_option", code, language=name, digit=digit)
        except voices.NotInHerLanguage:
            for fallback in voices.FALLBACK_VOICES:
                self._add(target, "v_language_option", fallback, language=voices.spoken_name(code, fallback),
                          digit=digit)

    def _add_or_fallback(self, target, key: str, language: str, values: dict) -> None:
        try:
            self._add(target, key, language, **values)
        except voices.NotInHerLanguage:
            self._add(target, key, "en", **values)

    def languages(self) -> list[tuple[str, str]]:
        return self.desk().languages()

    # --- what only a call has: someone to talk to, a message, a hidden number ---------------
    def put_through(self) -> VoiceResponse:
        phone = self.desk().on_duty_phone()
        if phone is None:  # gone off duty between the menu and her key
            return self.step(dialogue.unanswered(self.state(), self.context()), tries=0)
        response = VoiceResponse()
        self.say(response, [("v_connecting", {})], or_fallback=True)
        dial = response.dial(action=self.url("after-dial"), method="POST", timeout=DIAL_TIMEOUT,
                             caller_id=self.centre_number or None)
        dial.number(phone)
        return response

    def voicemail(self, spoken: Spoken) -> VoiceResponse:
        response = VoiceResponse()
        self.say(response, spoken, or_fallback=True)
        response.record(action=self.url("recorded"), method="POST", max_length=VOICEMAIL_SECONDS,
                        finish_on_key="1234567890*#", play_beep=True, timeout=10)
        self.say(response, [("v_message_saved", {})], or_fallback=True)
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
        return self.goodbye([("v_message_saved", {})])

    def hidden_menu(self, tries: int = 0, before: Spoken = ()) -> VoiceResponse:
        """Her number is hidden: no booking (nothing could reach her), but someone to talk
        to or a message. Outside the dialogue, which needs a caller to book for."""
        call = self.call()
        call.data, call.updated_at = {"hidden": True, "tries": tries}, self.now
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=self.url("hidden"), method="POST", timeout=TIMEOUT,
                        action_on_empty_result=True)
        self.say(gather, [*before, ("v_hidden_number", {})])
        response.append(gather)
        response.redirect(self.url("hidden"), method="POST")
        return response

    def hidden_answer(self, pressed: str) -> VoiceResponse:
        if self.client() is not None:  # not a hidden number after all (a stale or forged step)
            return self.begin(self.state())
        tries = self.tries()
        choice = pressed.strip()[:1]
        if choice == "3":
            phone = self.desk().on_duty_phone()
            if phone is not None:
                return self.put_through()
            return self.voicemail([("v_leave_message", {})])
        if choice == "6":
            return self.voicemail([("v_leave_message", {})])
        if tries + 1 >= MAX_TRIES:
            return self.goodbye([("v_goodbye", {})])
        return self.hidden_menu(tries + 1, before=[("v_wrong_key" if pressed else "v_no_key", {})])


def _count(value) -> int:
    """A turn or a number of tries as kept in the call's row; anything else counts as 0."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# --- Twilio's webhooks, one function each ---------------------------------------------------


def incoming(line: Line) -> VoiceResponse:
    call = line.call()
    if call.client_id is None:
        return line.hidden_menu()
    return line.begin(State(language=call.language_code))


def reminder_call(line: Line, message_id: int | None, answered_by: str) -> VoiceResponse:
    """Linja called her to remind her of an appointment; this is what she hears on answering."""
    response = VoiceResponse()
    message = line.session.get(OutboxMessage, message_id) if message_id else None
    if message is None or answered_by.startswith(("machine", "fax")) or message.client_id is None:
        response.hangup()  # a voicemail box hears nothing: the call is tried again later
        return response
    client = line.session.get(Client, message.client_id)
    call, _ = line.call_row(lambda: Call(
        call_sid=line.call_sid, client_id=message.client_id, language_code=client.language_code if client else None,
        data={}, status="in-progress", started_at=line.now, updated_at=line.now))
    appointment = line.session.get(Appointment, message.appointment_id) if message.appointment_id else None
    if appointment is None or appointment.status != AppointmentStatus.booked or appointment.start_at <= line.now:
        response.hangup()
        return response
    return line.begin(State(name=dialogue.REMINDER, language=call.language_code, updated_at=line.now,
                            data={"appointment": appointment.id, "when": appointment.start_at.isoformat()}))


def after_dial(line: Line, dial_status: str) -> VoiceResponse:
    if dial_status in ("completed", "answered"):
        response = VoiceResponse()
        response.hangup()
        return response
    if line.client() is None:
        return line.voicemail([("v_leave_message", {})])
    return line.step(dialogue.unanswered(line.state(), line.context()), tries=0)


def call_ended(line: Line, status: str) -> None:
    """Twilio's call status callback: a call that ended mid-booking leaves nothing of its
    own held (a hold she has in a text conversation at the same time stays hers)."""
    call = line.session.get(Call, line.call_sid)
    if call is None:
        return
    call.status, call.updated_at = status[:20], line.now
    if status in ENDED and call.client_id:
        release_holds(line.session, client_id=call.client_id, owner=f"call:{line.call_sid}")


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
