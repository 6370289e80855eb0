"""The SMS dialogue as a state machine: ``advance(state, inbound, ctx) -> Step``.

It knows nothing of HTTP, TwiML or SQL. What it needs from the calendar it asks of
``ctx.desk`` (see ``Desk``); what it says is a list of ``Reply`` values that
``hotline.replies`` turns into text in her language. Global keywords (STOP, START, HELP,
DELETE, the language menu) are handled before the state table, and so is a greeting.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from collections.abc import Callable
from typing import Protocol

from hotline import keywords as kw
from scheduling import codeword

# States
NEW = "new"
LANGUAGE = "language"
MAIN = "main"
SERVICE = "service"
SLOT = "slot"
CONFIRM = "confirm"
APPOINTMENT = "appointment"
CANCEL = "cancel"
MOVE_SLOT = "move_slot"
MOVE_CONFIRM = "move_confirm"
REMINDER = "reminder"
CODE = "code"  # her code word is asked before what she asked for
CODE_NEW = "code_new"  # choosing a code word
CODE_REPEAT = "code_repeat"  # the same code word again, to be sure

# States that do not time out: nothing is held, and a reminder's answer may come hours later.
RESTING = {NEW, LANGUAGE, MAIN, REMINDER}
LATER = 9  # "9 Later times"
CODE_WORD = 6  # "6 Code word" in the main menu
# States that show or change her appointment: with a code word, only once it was given.
GUARDED = {APPOINTMENT, CANCEL, MOVE_SLOT, MOVE_CONFIRM}
# States that take a yes or a no: there a word that is both a greeting and a yes (the
# Somali "haye") means yes.
YES_NO = {CONFIRM, MOVE_CONFIRM, CANCEL, REMINDER}


@dataclass(frozen=True)
class Offer:
    start_at: datetime
    counselor_id: int
    is_interpreter_needed: bool = False

    def to_data(self) -> dict:
        return {"start": self.start_at.isoformat(), "counselor": self.counselor_id,
                "interpreter": self.is_interpreter_needed}

    @classmethod
    def from_data(cls, data: dict) -> Offer:
        return cls(datetime.fromisoformat(data["start"]), int(data["counselor"]), bool(data["interpreter"]))


@dataclass(frozen=True)
class State:
    name: str = NEW
    language: str | None = None
    data: dict = field(default_factory=dict)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Inbound:
    body: str
    has_media: bool = False


@dataclass(frozen=True)
class Reply:
    key: str
    values: dict = field(default_factory=dict)


def reply(key: str, **values) -> Reply:
    return Reply(key, values)


@dataclass(frozen=True)
class Step:
    state: State
    replies: list[Reply]


@dataclass(frozen=True)
class Booking:
    ok: bool
    start_at: datetime | None = None  # what she has now (new time, or kept time)
    # A move to the time she has already: nothing changed.
    is_unchanged: bool = False


class Desk(Protocol):
    """What the dialogue may ask of the centre on the caller's behalf."""

    def languages(self) -> list[tuple[str, str]]: ...  # (code, name in itself), menu order
    def services(self, language: str) -> list[tuple[int, str]]: ...
    def set_language(self, language: str) -> None: ...
    def free_slots(self, service_id: int, language: str, limit: int, after: datetime | None = None,
                   moving: int | None = None) -> list[Offer]: ...
    # Holding and booking both refuse a slot someone else holds or has booked; when
    # ``moving`` an appointment, its own current time does not count against it.
    def hold(self, offer: Offer, service_id: int, moving: int | None = None) -> bool: ...
    def release(self) -> None: ...
    def book(self, offer: Offer, service_id: int, language: str) -> Booking: ...
    def next_appointment(self) -> tuple[int, datetime, int] | None: ...  # (id, start, service id)
    def appointment(self, appointment_id: int) -> tuple[int, datetime, int] | None: ...  # hers, still booked
    # She is being shown its time: texts about later changes name what she was shown.
    def shown(self, appointment_id: int) -> None: ...
    def cancel(self, appointment_id: int) -> bool: ...
    def move(self, appointment_id: int, offer: Offer) -> Booking: ...
    def request_callback(self) -> None: ...
    def set_reminder_calls(self, wanted: bool) -> None: ...
    def wants_reminder_calls(self) -> bool: ...
    def opt_out(self) -> None: ...
    def opt_in(self) -> None: ...
    def erase(self) -> None: ...
    # Her code word: "none", "set" or "locked" (too many wrong tries); a try is
    # "ok", "wrong" or "locked".
    def code_word_status(self) -> str: ...
    def set_code_word(self, code: str) -> None: ...
    def check_code_word(self, code: str) -> str: ...


@dataclass(frozen=True)
class Context:
    now: datetime
    desk: Desk
    is_opted_out: bool = False
    idle_timeout: timedelta = timedelta(minutes=30)
    # language -> how many slots fit one text: alone, and after "that time was taken"
    offer_counts: Callable[[str], tuple[int, int]] = lambda language: (3, 2)

    def offer_count(self, language: str, *, after_taken: bool = False) -> int:
        alone, after = self.offer_counts(language)
        return after if after_taken else alone


def advance(state: State, inbound: Inbound, ctx: Context) -> Step:
    text = kw.normalise(inbound.body)
    lang = state.language
    if state.data.get("unlocked") and (state.updated_at is None or ctx.now - state.updated_at > ctx.idle_timeout):
        # The code word she gave lasts while she keeps writing; a phone picked up later
        # has to give it again.
        state = replace(state, data={k: v for k, v in state.data.items() if k != "unlocked"})

    # Global keywords first, in every state.
    if text in kw.STOP:
        ctx.desk.release()
        ctx.desk.opt_out()
        return _to(state, MAIN if lang else NEW, ctx, [reply("stopped")])
    if ctx.is_opted_out and text in kw.OPT_IN:
        text = "START"  # Twilio lifts its own block on YES too; so does Linja
    if ctx.is_opted_out and text not in kw.START | kw.HELP | kw.DELETE:
        return Step(replace(state, updated_at=ctx.now), [])  # she asked for silence
    if text in kw.DELETE:
        ctx.desk.erase()
        # Nothing of her is kept; the language only says how to tell her so.
        return Step(State(language=lang), [reply("deleted")])
    if text in kw.START:
        if ctx.is_opted_out:
            ctx.desk.opt_in()
        if not lang:
            return _to(state, LANGUAGE, ctx, [_language_menu(ctx)], languages=_codes(ctx))
        return _to(state, MAIN, ctx, [reply("started"), reply("main_menu")])
    if text in kw.HELP:
        return Step(replace(state, updated_at=ctx.now), [reply("help")])
    if text in kw.MENU:
        ctx.desk.release()
        # "0 Menu" in a submenu leads back to her main menu; from there, and for the
        # words MENU/MENY, to the language menu.
        if text == "0" and lang and state.name not in RESTING:
            return _to(state, MAIN, ctx, [reply("main_menu")])
        return _to(state, LANGUAGE, ctx, [_language_menu(ctx)], languages=_codes(ctx))

    if not lang:
        chosen = _language_by_name(text, ctx)
        if chosen:
            return _choose_language(state, chosen, ctx)
        if state.name == LANGUAGE and text:
            return _language(state, text, ctx)
        return _to(state, LANGUAGE, ctx, [_language_menu(ctx)], languages=_codes(ctx))

    if kw.is_greeting(text) and not (state.name in YES_NO and text in kw.YES | kw.NO):
        # A returning caller saying hello ("hi", "hei", "salaam"), wherever she was: her
        # main menu, as after "0", with anything she held let go. (MENU is for languages.)
        ctx.desk.release()
        return _to(state, MAIN, ctx, [reply("main_menu")])

    if state.name not in RESTING and (
        state.updated_at is None or ctx.now - state.updated_at > ctx.idle_timeout
    ):
        ctx.desk.release()
        return _to(state, MAIN, ctx, [reply("timed_out"), reply("main_menu")])

    if state.name == NEW:
        return _to(state, MAIN, ctx, [reply("main_menu")])

    if not text:
        # With her code word not given, the prompt again must not show her time.
        hidden = (state.name in GUARDED or state.name == REMINDER) and _needs_code(state, ctx)
        prompt = [reply("main_menu")] if hidden else _prompt(state, ctx)
        return Step(replace(state, updated_at=ctx.now), [reply("empty_message"), *prompt])

    if state.name in GUARDED and _needs_code(state, ctx):
        return _ask_code(state, text, ctx)
    handler = _HANDLERS.get(state.name, _main)
    return handler(state, text, ctx)


# --- helpers ---------------------------------------------------------------------------------


def _to(state: State, name: str, ctx: Context, replies: list[Reply], **data) -> Step:
    if state.data.get("unlocked"):
        data["unlocked"] = True  # the code word she gave holds for the rest of this conversation
    return Step(State(name=name, language=state.language, data=data, updated_at=ctx.now), replies)


def _language_menu(ctx: Context) -> Reply:
    return reply("language_menu", languages=[name for _, name in ctx.desk.languages()])


def _codes(ctx: Context) -> list[str]:
    return [code for code, _ in ctx.desk.languages()]


def _language_by_name(text: str, ctx: Context) -> str | None:
    for code, name in ctx.desk.languages():
        if text in {kw.normalise(name), code.upper()} or text in {kw.normalise(n) for n in name.split("/")}:
            return code
    return None


def _choose_language(state: State, code: str, ctx: Context) -> Step:
    ctx.desk.set_language(code)
    return Step(State(name=MAIN, language=code, updated_at=ctx.now), [reply("main_menu")])


def _not_understood(state: State, ctx: Context) -> Step:
    return Step(replace(state, updated_at=ctx.now), [reply("not_understood"), *_prompt(state, ctx)])


def _offers(state: State) -> list[Offer]:
    return [Offer.from_data(o) for o in state.data.get("offers", [])]


def _prompt(state: State, ctx: Context) -> list[Reply]:
    """What the caller is being asked in ``state``, to repeat after a puzzling answer."""
    data = state.data
    if state.name == LANGUAGE:
        return [_language_menu(ctx)]
    if state.name == SERVICE:
        return [reply("choose_service", services=[name for _, name in ctx.desk.services(state.language)])]
    if state.name in (SLOT, MOVE_SLOT):
        return [reply("offer_slots", slots=[o.start_at for o in _offers(state)])]
    if state.name in (CONFIRM, MOVE_CONFIRM):
        return [reply("confirm_slot", when=Offer.from_data(data["offer"]).start_at)]
    if state.name == APPOINTMENT:
        return [reply("appointment_menu", when=datetime.fromisoformat(data["when"]))]
    if state.name == CANCEL:
        return [reply("confirm_cancel", when=datetime.fromisoformat(data["when"]))]
    if state.name == REMINDER:
        return [reply("reminder", when=datetime.fromisoformat(data["when"]))]
    if state.name == CODE:
        return [reply("code_ask")]
    if state.name == CODE_NEW:
        return [reply("code_choose")]
    if state.name == CODE_REPEAT:
        return [reply("code_repeat")]
    return [reply("main_menu")]


def _offer_slots(state: State, ctx: Context, service_id: int, *, moving: int | None = None,
                 after: datetime | None = None, before: list[Reply] = ()) -> Step:
    """Offer the next free slots; when ``moving`` an appointment, keep its id and time."""
    limit = ctx.offer_count(state.language, after_taken=bool(before))
    offers = ctx.desk.free_slots(service_id, state.language, limit, after, moving)
    if not offers:
        return _to(state, MAIN, ctx, [*before, reply("no_slots")])
    data = {"service": service_id, "offers": [o.to_data() for o in offers]}
    if moving is not None:
        data["appointment"] = moving
        data["when"] = state.data["when"]
    name = MOVE_SLOT if moving is not None else SLOT
    return _to(state, name, ctx, [*before, reply("offer_slots", slots=[o.start_at for o in offers])], **data)


def _choose_service(state: State, ctx: Context) -> Step:
    services = ctx.desk.services(state.language)
    if not services:
        return _to(state, MAIN, ctx, [reply("no_slots")])
    if len(services) == 1:
        return _offer_slots(state, ctx, services[0][0])
    return _to(state, SERVICE, ctx, [reply("choose_service", services=[name for _, name in services])],
               services=[service_id for service_id, _ in services])


def _show_appointment(state: State, ctx: Context, upcoming: tuple[int, datetime, int] | None) -> Step:
    if upcoming is None:
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    appointment_id, start_at, service_id = upcoming
    ctx.desk.shown(appointment_id)
    return _to(state, APPOINTMENT, ctx, [reply("appointment_menu", when=start_at)],
               appointment=appointment_id, when=start_at.isoformat(), service=service_id)


def _current(state: State, ctx: Context) -> tuple[int, datetime, int] | None:
    """The appointment this conversation is about, as it is now (staff may have moved or
    cancelled it since she was asked)."""
    return ctx.desk.appointment(state.data["appointment"])


# --- the state table -------------------------------------------------------------------------


def _language(state: State, text: str, ctx: Context) -> Step:
    languages = ctx.desk.languages()
    shown = state.data.get("languages") or [code for code, _ in languages]
    choice = kw.number(text)
    if choice is not None and 1 <= choice <= len(shown) and shown[choice - 1] in dict(languages):
        return _choose_language(state, shown[choice - 1], ctx)
    chosen = _language_by_name(text, ctx)
    if chosen:
        return _choose_language(state, chosen, ctx)
    return _not_understood(state, ctx)


def _main(state: State, text: str, ctx: Context) -> Step:
    choice = kw.number(text)
    if choice == 1:
        if _needs_code(state, ctx):
            # Booking reveals nothing; her appointment is shown only after the code word.
            return _choose_service(state, ctx)
        upcoming = ctx.desk.next_appointment()
        if upcoming is not None:
            # One appointment at a time: she sees hers, and can move or cancel it.
            return _show_appointment(state, ctx, upcoming)
        return _choose_service(state, ctx)
    if choice == 2:
        if _needs_code(state, ctx):
            return _ask_code(replace(state, name=MAIN), text, ctx)
        return _show_appointment(state, ctx, ctx.desk.next_appointment())
    if choice == 3:
        ctx.desk.request_callback()
        return _to(state, MAIN, ctx, [reply("callback_requested")])
    if choice == 4:
        return _to(state, MAIN, ctx, [reply("help")])
    if choice == 5:  # reminders as a phone call, or back to texts
        wanted = not ctx.desk.wants_reminder_calls()
        ctx.desk.set_reminder_calls(wanted)
        return _to(state, MAIN, ctx, [reply("reminder_calls_on" if wanted else "reminder_calls_off")])
    if choice == CODE_WORD:
        if ctx.desk.code_word_status() == "none":
            return _to(state, CODE_NEW, ctx, [reply("code_choose")])
        # Changing it takes the old one, every time.
        return _ask_code(replace(state, name=CODE_NEW), text, ctx)
    return _not_understood(replace(state, name=MAIN), ctx)


def _service(state: State, text: str, ctx: Context) -> Step:
    shown = state.data.get("services", [])
    active = {service_id for service_id, _ in ctx.desk.services(state.language)}
    choice = kw.number(text)
    if choice is not None and 1 <= choice <= len(shown):
        if shown[choice - 1] in active:
            return _offer_slots(state, ctx, shown[choice - 1])
        return _choose_service(state, ctx)  # the list changed since she saw it
    return _not_understood(state, ctx)


def _slot(state: State, text: str, ctx: Context) -> Step:
    offers = _offers(state)
    service_id = state.data["service"]
    moving = state.data.get("appointment")
    if moving is not None and _current(state, ctx) is None:
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    choice = kw.number(text)
    if choice == LATER and offers:
        return _offer_slots(state, ctx, service_id, moving=moving, after=offers[-1].start_at)
    if choice is None or not 1 <= choice <= len(offers):
        return _not_understood(state, ctx)
    offer = offers[choice - 1]
    if not ctx.desk.hold(offer, service_id, moving):
        return _offer_slots(state, ctx, service_id, moving=moving, before=[reply("slot_taken")])
    data = {"service": service_id, "offer": offer.to_data()}
    if moving is not None:
        data["appointment"] = moving
        data["when"] = state.data["when"]
    name = MOVE_CONFIRM if moving is not None else CONFIRM
    return _to(state, name, ctx, [reply("confirm_slot", when=offer.start_at)], **data)


def _confirm(state: State, text: str, ctx: Context) -> Step:
    offer = Offer.from_data(state.data["offer"])
    service_id = state.data["service"]
    moving = state.data.get("appointment")
    current = _current(state, ctx) if moving is not None else None
    if moving is not None and current is None:
        ctx.desk.release()
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    if text in kw.YES:
        if moving is None:
            result = ctx.desk.book(offer, service_id, state.language)
        else:
            result = ctx.desk.move(moving, offer)
        if result.ok:
            ctx.desk.release()
            key = "booked" if moving is None else "moved"
            if ctx.desk.code_word_status() != "none":
                key += "_private"  # with a code word, no address on her screen
            return _to(state, MAIN, ctx, [reply(key, when=result.start_at)])
        if result.is_unchanged:  # the time she chose is the one she has (staff moved her there)
            ctx.desk.release()
            return _to(state, MAIN, ctx, [reply("kept", when=result.start_at)])
        return _offer_slots(state, ctx, service_id, moving=moving, before=[reply("slot_taken")])
    if text in kw.NO:
        ctx.desk.release()
        if current is not None:
            return _to(state, MAIN, ctx, [reply("kept", when=current[1])])
        return _offer_slots(state, ctx, service_id, moving=moving)
    return _not_understood(state, ctx)


def _appointment(state: State, text: str, ctx: Context) -> Step:
    current = _current(state, ctx)
    if current is None:
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    if current[1].isoformat() != state.data["when"]:
        return _show_appointment(state, ctx, current)  # it was changed: show it as it is now
    choice = kw.number(text)
    if choice == 1:
        return _to(state, CANCEL, ctx, [reply("confirm_cancel", when=current[1])],
                   appointment=current[0], when=current[1].isoformat())
    if choice == 2:
        return _offer_slots(state, ctx, current[2], moving=current[0])
    return _not_understood(state, ctx)


def _cancel(state: State, text: str, ctx: Context) -> Step:
    current = _current(state, ctx)
    if current is None:
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    if current[1].isoformat() != state.data["when"]:
        # Moved since she was asked: ask again about the time it has now.
        return _to(state, CANCEL, ctx, [reply("confirm_cancel", when=current[1])],
                   appointment=current[0], when=current[1].isoformat())
    if text in kw.YES:
        if ctx.desk.cancel(current[0]):
            return _to(state, MAIN, ctx, [reply("cancelled", when=current[1])])
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    if text in kw.NO:
        return _to(state, MAIN, ctx, [reply("kept", when=current[1])])
    return _not_understood(state, ctx)


def _reminder(state: State, text: str, ctx: Context) -> Step:
    """Answers to a reminder text: 1 confirm, 2 cancel, 3 move."""
    choice = kw.number(text)
    if (choice in (1, 2, 3) or text in kw.YES) and _needs_code(state, ctx):
        return _ask_code(state, text, ctx)
    current = _current(state, ctx)
    if current is None and (choice in (1, 2, 3) or text in kw.YES):
        return _to(state, MAIN, ctx, [reply("no_appointment")])  # cancelled since
    if current is None or current[1] <= ctx.now:  # or already begun
        return _main(replace(state, name=MAIN, data={}), text, ctx)
    appointment_id, start_at, service_id = current
    if choice == 1 or (choice is None and text in kw.YES):
        return _to(state, MAIN, ctx, [reply("appointment_confirmed", when=start_at)])
    if choice == 2:
        return _to(state, CANCEL, ctx, [reply("confirm_cancel", when=start_at)],
                   appointment=appointment_id, when=start_at.isoformat())
    if choice == 3:
        moving = replace(state, data={**state.data, "when": start_at.isoformat()})
        return _offer_slots(moving, ctx, service_id, moving=appointment_id)
    return _main(replace(state, name=MAIN, data={}), text, ctx)


# --- the code word -----------------------------------------------------------------------------


def _needs_code(state: State, ctx: Context) -> bool:
    return not state.data.get("unlocked") and ctx.desk.code_word_status() != "none"


def _ask_code(state: State, text: str, ctx: Context) -> Step:
    """Ask for her code word; once given, ``text`` is answered in ``state`` as if just sent."""
    if ctx.desk.code_word_status() == "locked":
        return _to(state, MAIN, ctx, [reply("code_locked")])
    return _to(state, CODE, ctx, [reply("code_ask")], then=state.name, then_data=dict(state.data), then_text=text)


def _code(state: State, text: str, ctx: Context) -> Step:
    code = codeword.as_code(text)
    if code is None:
        return Step(replace(state, updated_at=ctx.now), [reply("code_format")])
    result = ctx.desk.check_code_word(code)
    if result == "locked":
        return _to(state, MAIN, ctx, [reply("code_locked")])
    if result != "ok":
        return Step(replace(state, updated_at=ctx.now), [reply("code_wrong")])
    then = state.data.get("then", MAIN)
    if then == CODE_NEW:
        return _to(state, CODE_NEW, ctx, [reply("code_choose")], unlocked=True)
    resumed = State(name=then, language=state.language,
                    data={**state.data.get("then_data", {}), "unlocked": True}, updated_at=ctx.now)
    return _HANDLERS.get(then, _main)(resumed, state.data.get("then_text", ""), ctx)


def _code_new(state: State, text: str, ctx: Context) -> Step:
    code = codeword.as_code(text)
    if code is None:
        return Step(replace(state, updated_at=ctx.now), [reply("code_format")])
    # Not kept in clear even for the minute until she repeats it.
    return _to(state, CODE_REPEAT, ctx, [reply("code_repeat")], pending=codeword.hash_code(code))


def _code_repeat(state: State, text: str, ctx: Context) -> Step:
    code = codeword.as_code(text)
    if code is None or not codeword.matches(state.data.get("pending"), code):
        return _to(state, CODE_NEW, ctx, [reply("code_mismatch")])
    ctx.desk.set_code_word(code)
    return _to(state, MAIN, ctx, [reply("code_set")], unlocked=True)


_HANDLERS = {
    LANGUAGE: _language,
    MAIN: _main,
    SERVICE: _service,
    SLOT: _slot,
    MOVE_SLOT: _slot,
    CONFIRM: _confirm,
    MOVE_CONFIRM: _confirm,
    APPOINTMENT: _appointment,
    CANCEL: _cancel,
    REMINDER: _reminder,
    CODE: _code,
    CODE_NEW: _code_new,
    CODE_REPEAT: _code_repeat,
}
