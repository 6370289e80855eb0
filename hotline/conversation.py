"""The one dialogue of both lines: ``advance(state, inbound, ctx) -> Step``.

The SMS line and the voice line run this same conversation: a texted digit and a key
pressed are the same input, and the same digit means the same thing on both lines in
every state. It knows nothing of HTTP, TwiML or SQL. What it needs from the calendar it
asks of ``ctx.desk`` (see ``Desk``); what it says is a list of ``Reply`` values that each
line renders (``hotline.replies`` as a text, ``hotline.ivr`` as speech). Global keywords
(STOP, START, HELP, DELETE, the language menu) are handled before the state table, and so
is a greeting. The table itself is ``TABLE``: state x what she sent -> what happens and
where she is next; ``docs/dialogue.md`` is generated from it (``flask dialogue-table``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from collections.abc import Callable, Iterable
from typing import Protocol

from hotline import keywords as kw
from scheduling import codeword

# The two lines. What a line cannot do (a text cannot put her through to someone) is
# done the nearest way it can, by the same choice.
SMS = "sms"
VOICE = "voice"
BOTH = frozenset({SMS, VOICE})

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
TALK_LATER = "talk_later"  # on a call, no one free to talk: a call back or a message
CONTACT = "contact"  # how Linja may reach her (scheduling.contact)
CONTACT_DAYS = "contact_days"  # ...on which days
CONTACT_HOURS = "contact_hours"  # ...between which hours
WAITLIST_OFFER = "waitlist_offer"  # a time the waiting list holds for her: take it or pass

# States that do not time out: nothing is held, and a reminder's answer may come hours later.
RESTING = {NEW, LANGUAGE, MAIN, REMINDER, TALK_LATER, WAITLIST_OFFER}
# Where "0" brings the language menu: her main menu, or where she has none to go back to
# (a reminder's answer is read as a choice from the main menu). Anywhere else, a submenu
# (TALK_LATER's "For the menu, press 0" too), "0" is her main menu.
TOP = {NEW, LANGUAGE, MAIN, REMINDER, WAITLIST_OFFER}
LATER = 9  # "9 Later times"
CODE_WORD = 6  # "6 Code word" in the main menu
# States that show or change her appointment, or how she may be reached: with a code word,
# only once it was given.
GUARDED = {APPOINTMENT, CANCEL, MOVE_SLOT, MOVE_CONFIRM, CONTACT, CONTACT_DAYS, CONTACT_HOURS}
# States that take a yes or a no: there a word that is both a greeting and a yes (the
# Somali "haye") means yes.
YES_NO = {CONFIRM, MOVE_CONFIRM, CANCEL, REMINDER, WAITLIST_OFFER}
# States answered with several digits (a code word, her hours): on a call, ended with the # key.
KEYED = {CODE, CODE_NEW, CODE_REPEAT, CONTACT_HOURS}
MONDAY_TO_FRIDAY = "01234"  # weekday digits, as scheduling.contact keeps them


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
    # Her time was moved (a waiting-list offer of an earlier time), not a new one booked.
    is_move: bool = False
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
    # ``moving`` an appointment, its own current time does not count against it. A hold
    # answers with what it held: the same time, perhaps with another counselor who fits
    # (never another counselor for a move), or None.
    def hold(self, offer: Offer, service_id: int, moving: int | None = None) -> Offer | None: ...
    def release(self) -> None: ...
    def book(self, offer: Offer, service_id: int, language: str) -> Booking: ...  # lets go of her hold
    def next_appointment(self) -> tuple[int, datetime, int] | None: ...  # (id, start, service id)
    def appointment(self, appointment_id: int) -> tuple[int, datetime, int] | None: ...  # hers, still booked
    # She is being shown its time: texts about later changes name what she was shown.
    def shown(self, appointment_id: int) -> None: ...
    def cancel(self, appointment_id: int) -> bool: ...
    def move(self, appointment_id: int, offer: Offer) -> Booking: ...  # lets go of her hold
    def request_callback(self) -> None: ...
    # How and when Linja may reach her (scheduling.contact): the means ("any", "texts",
    # "calls", "no_reminders"), with her reminders as a call or not (None: as they were);
    # and the days (weekday digits, None: every day) and hours (None: any hour).
    def set_contact_means(self, means: str, reminder_calls: bool | None) -> None: ...
    def set_contact_hours(self, days: str | None, starts: time | None, ends: time | None) -> None: ...
    # Her hours as Linja can keep them (none in the centre's quiet hours); None: never. And
    # the hours in which anything is sent at all.
    def contact_window(self, starts: time, ends: time) -> tuple[time, time] | None: ...
    def sending_day(self) -> tuple[time, time]: ...
    # A time the waiting list holds for her (scheduling.waitlist): taken (booked, or her
    # time moved to it) or passed; not ok when the hold has ended or the time is gone.
    def take_offer(self, entry_id: int) -> Booking: ...
    def pass_offer(self, entry_id: int) -> None: ...
    def opt_out(self) -> None: ...
    def opt_in(self) -> None: ...
    def erase(self) -> None: ...
    # Her code word: "none", "set" or "locked" (too many wrong tries); a try is
    # "ok", "wrong" or "locked".
    def code_word_status(self) -> str: ...
    def set_code_word(self, code: str) -> None: ...
    def check_code_word(self, code: str) -> str: ...
    # Only the voice line asks these: can she be put through now, and if the centre is
    # closed, when does it open again (None: open now, or no opening known).
    def can_talk_now(self) -> bool: ...
    def opens_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Context:
    now: datetime
    desk: Desk
    line: str = SMS
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
        if text == "0" and lang and state.name not in TOP:
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
        asked = [reply("main_menu")] if hidden else prompt(state, ctx)
        return Step(replace(state, updated_at=ctx.now), [reply("empty_message"), *asked])

    if state.name in GUARDED and _needs_code(state, ctx):
        return _ask_code(state, text, ctx)
    return answer(state, text, ctx)


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
    return Step(replace(state, updated_at=ctx.now), [reply("not_understood"), *prompt(state, ctx)])


def _offers(state: State) -> list[Offer]:
    return [Offer.from_data(o) for o in state.data.get("offers", [])]


def kept(name, data, language: str | None, updated_at: datetime | None) -> State:
    """The state a line kept (a conversation's row, a call's), as the dialogue goes on from
    it: a damaged or foreign one (not a state of the table, data that does not fit it) is
    begun afresh, from her main menu."""
    state = State(name=str(name or NEW), language=language, data=dict(data) if isinstance(data, dict) else {},
                  updated_at=updated_at)
    return state if is_sound(state) else State(language=language)


def is_sound(state: State) -> bool:
    """Whether a kept state can be gone on from: a known state whose data holds what it
    needs (a damaged or foreign row cannot be asked again, and is begun afresh)."""
    if state.name != NEW and state.name not in TABLE:
        return False
    data = state.data
    try:
        if state.name in (SLOT, MOVE_SLOT):
            _offers(state)
        elif state.name in (CONFIRM, MOVE_CONFIRM):
            Offer.from_data(data["offer"])
        elif state.name in (APPOINTMENT, CANCEL, REMINDER):
            datetime.fromisoformat(data["when"])
        elif state.name == WAITLIST_OFFER:
            int(data["entry"]), datetime.fromisoformat(data["when"]), datetime.fromisoformat(data["until"])
        elif state.name == CONTACT_HOURS and data.get("days") not in (None, MONDAY_TO_FRIDAY):
            return False
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return True


def prompt(state: State, ctx: Context) -> list[Reply]:
    """What the caller is being asked in ``state``, to repeat after a puzzling answer (and
    on a call, after a reply that leaves her where she was)."""
    data = state.data
    if state.name == LANGUAGE:
        return [_language_menu(ctx)]
    if state.name == SERVICE:
        return [reply("choose_service", services=[name for _, name in ctx.desk.services(state.language)])]
    if state.name in (SLOT, MOVE_SLOT):
        return [reply("offer_slots", slots=[o.start_at for o in _offers(state)])]
    if state.name in (CONFIRM, MOVE_CONFIRM):
        return [reply("confirm_slot", when=Offer.from_data(data["offer"]).start_at, moving=state.name == MOVE_CONFIRM)]
    if state.name == APPOINTMENT:
        return [reply("appointment_menu", when=datetime.fromisoformat(data["when"]))]
    if state.name == CANCEL:
        return [reply("confirm_cancel", when=datetime.fromisoformat(data["when"]))]
    if state.name == REMINDER:
        return [reply("reminder", when=datetime.fromisoformat(data["when"]))]
    if state.name == WAITLIST_OFFER:
        return [reply("waitlist_offer", when=datetime.fromisoformat(data["when"]),
                      time=datetime.fromisoformat(data["until"]))]
    if state.name == CODE:
        return [reply("code_ask")]
    if state.name == CODE_NEW:
        return [reply("code_choose")]
    if state.name == CODE_REPEAT:
        return [reply("code_repeat")]
    if state.name == TALK_LATER:
        return [_nobody_free(ctx)]
    if state.name in (CONTACT, CONTACT_DAYS, CONTACT_HOURS):
        return [reply(TABLE[state.name].asks)]
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
    return answer(resumed, state.data.get("then_text", ""), ctx)


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



# --- the state table -------------------------------------------------------------------------
#
# Each state's row says what she is asked there and what each answer does. ``Choice.keys``
# is what she sends or presses ("1"; a word list for yes and no); ``otherwise`` takes
# anything else (a number from a list she was given, a code word). ``leads_to`` names the
# states an answer can leave her in, for the readable table and the menu walk test.

Handler = Callable[[State, str, Context], Step]


@dataclass(frozen=True)
class Choice:
    key: str  # what she sends: a digit, or a description ("a number from the list")
    does: str  # what happens, in words, for the readable table
    act: Handler
    leads_to: tuple[str, ...]
    words: frozenset[str] = frozenset()  # other words that mean the same (yes, no)
    lines: frozenset[str] = BOTH  # where it is offered
    # What it may answer besides the question of the state it leads to ("booked", "no_slots")...
    says: tuple[str, ...] = ()
    # ...and the states whose choices it may answer as (her code word given, what she
    # asked for before it is answered where she asked it).
    answers_as: tuple[str, ...] = ()

    def matches(self, text: str, ctx: Context) -> bool:
        digit = _digit(self.key)
        return ctx.line in self.lines and ((digit is not None and kw.number(text) == digit) or text in self.words)


def _digit(key: str) -> int | None:
    return int(key) if key.isdigit() else None


@dataclass(frozen=True)
class Row:
    asks: str  # the reply that asks this state's question
    choices: tuple[Choice, ...] = ()
    otherwise: Choice | None = None
    lines: frozenset[str] = BOTH


def answer(state: State, text: str, ctx: Context) -> Step:
    """Her answer in ``state``, by the table."""
    row = TABLE.get(state.name, TABLE[MAIN])
    for choice in row.choices:
        if choice.matches(text, ctx):
            return choice.act(state, text, ctx)
    if row.otherwise is not None:
        return row.otherwise.act(state, text, ctx)
    return _not_understood(state, ctx)


# -- the language menu


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


# -- the main menu


def _book(state: State, text: str, ctx: Context) -> Step:
    if _needs_code(state, ctx):
        # Booking reveals nothing; her appointment is shown only after the code word.
        return _choose_service(state, ctx)
    upcoming = ctx.desk.next_appointment()
    if upcoming is not None:
        # One appointment at a time: she hears hers, and can move or cancel it.
        return _show_appointment(state, ctx, upcoming)
    return _choose_service(state, ctx)


def _my_appointment(state: State, text: str, ctx: Context) -> Step:
    if _needs_code(state, ctx):
        return _ask_code(replace(state, name=MAIN), text, ctx)
    return _show_appointment(state, ctx, ctx.desk.next_appointment())


def _talk(state: State, text: str, ctx: Context) -> Step:
    """Someone to talk to: on a call, put through now if someone is free; by text, and on a
    call when no one is, a call back (asked for, never registered unasked)."""
    if ctx.line == VOICE:
        if ctx.desk.can_talk_now():
            return _to(state, MAIN, ctx, [reply("put_through")])
        return _to(state, TALK_LATER, ctx, [_nobody_free(ctx)])
    return _call_back(state, text, ctx)


def _nobody_free(ctx: Context) -> Reply:
    opens_at = ctx.desk.opens_at()
    return reply("closed", when=opens_at) if opens_at is not None else reply("nobody")


def unanswered(state: State, ctx: Context) -> Step:
    """On a call, no one picked up where she was put through: a call back or a message."""
    return _to(state, TALK_LATER, ctx, [_nobody_free(ctx)])


def _call_back(state: State, text: str, ctx: Context) -> Step:
    ctx.desk.request_callback()
    return _to(state, MAIN, ctx, [reply("callback_requested")])


def _leave_message(state: State, text: str, ctx: Context) -> Step:
    return _to(state, MAIN, ctx, [reply("leave_message")])


def _help(state: State, text: str, ctx: Context) -> Step:
    return _to(state, MAIN, ctx, [reply("help")])


def _contact(state: State, text: str, ctx: Context) -> Step:
    """How and when Linja may reach her: changed only by her, so her code word first."""
    if _needs_code(state, ctx):
        return _ask_code(replace(state, name=MAIN), text, ctx)
    return _to(state, CONTACT, ctx, [reply("contact_menu")])


def _code_word(state: State, text: str, ctx: Context) -> Step:
    if ctx.desk.code_word_status() == "none":
        return _to(state, CODE_NEW, ctx, [reply("code_choose")])
    # Changing it takes the old one, every time.
    return _ask_code(replace(state, name=CODE_NEW), text, ctx)


def _main_menu(state: State, text: str, ctx: Context) -> Step:
    return _to(state, MAIN, ctx, [reply("main_menu")])


def _puzzled_in_main(state: State, text: str, ctx: Context) -> Step:
    return _not_understood(replace(state, name=MAIN), ctx)


# -- booking


def _service(state: State, text: str, ctx: Context) -> Step:
    shown = state.data.get("services", [])
    active = {service_id for service_id, _ in ctx.desk.services(state.language)}
    choice = kw.number(text)
    if choice is not None and 1 <= choice <= len(shown):
        if shown[choice - 1] in active:
            return _offer_slots(state, ctx, shown[choice - 1])
        return _choose_service(state, ctx)  # the list changed since she saw it
    return _not_understood(state, ctx)


def _moved_away(state: State, ctx: Context) -> Step | None:
    """Moving an appointment that is no longer hers to move (cancelled since, or over)."""
    if state.data.get("appointment") is not None and _current(state, ctx) is None:
        ctx.desk.release()
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    return None


def _later(state: State, text: str, ctx: Context) -> Step:
    offers = _offers(state)
    if not offers:
        return _not_understood(state, ctx)
    return _moved_away(state, ctx) or _offer_slots(
        state, ctx, state.data["service"], moving=state.data.get("appointment"), after=offers[-1].start_at)


def _slot(state: State, text: str, ctx: Context) -> Step:
    offers = _offers(state)
    service_id = state.data["service"]
    moving = state.data.get("appointment")
    gone = _moved_away(state, ctx)
    if gone is not None:
        return gone
    choice = kw.number(text)
    if choice is None or not 1 <= choice <= len(offers):
        return _not_understood(state, ctx)
    offer = offers[choice - 1]
    held = ctx.desk.hold(offer, service_id, moving)
    if held is None:
        return _offer_slots(state, ctx, service_id, moving=moving, before=[reply("slot_taken")])
    offer = held  # the same time, perhaps with another counselor who fits
    data = {"service": service_id, "offer": offer.to_data()}
    if moving is not None:
        data["appointment"] = moving
        data["when"] = state.data["when"]
    name = MOVE_CONFIRM if moving is not None else CONFIRM
    return _to(state, name, ctx, [reply("confirm_slot", when=offer.start_at, moving=moving is not None)], **data)


def _confirm_yes(state: State, text: str, ctx: Context) -> Step:
    offer = Offer.from_data(state.data["offer"])
    service_id = state.data["service"]
    moving = state.data.get("appointment")
    gone = _moved_away(state, ctx)
    if gone is not None:
        return gone
    # Booking or moving lets go of her hold, whatever came of it.
    result = ctx.desk.book(offer, service_id, state.language) if moving is None else ctx.desk.move(moving, offer)
    if result.ok:
        key = "booked" if moving is None else "moved"
        if ctx.desk.code_word_status() != "none":
            key += "_private"  # with a code word, no address on her screen
        return _to(state, MAIN, ctx, [reply(key, when=result.start_at)])
    if result.is_unchanged:  # the time she chose is the one she has (staff moved her there)
        return _to(state, MAIN, ctx, [reply("kept", when=result.start_at)])
    return _offer_slots(state, ctx, service_id, moving=moving, before=[reply("slot_taken")])


def _confirm_no(state: State, text: str, ctx: Context) -> Step:
    gone = _moved_away(state, ctx)
    if gone is not None:
        return gone
    ctx.desk.release()
    moving = state.data.get("appointment")
    if moving is not None:
        return _to(state, MAIN, ctx, [reply("kept", when=_current(state, ctx)[1])])
    return _offer_slots(state, ctx, state.data["service"])


# -- her appointment


def _still_as_shown(state: State, ctx: Context) -> tuple[int, datetime, int] | Step:
    """Her appointment as it is now, or what she is told when staff changed it since she
    was shown it: gone, or shown again as it is now."""
    current = _current(state, ctx)
    if current is None:
        return _to(state, MAIN, ctx, [reply("no_appointment")])
    if current[1].isoformat() != state.data["when"]:
        return _show_appointment(state, ctx, current)
    return current


def _ask_cancel(state: State, text: str, ctx: Context) -> Step:
    current = _still_as_shown(state, ctx)
    if isinstance(current, Step):
        return current
    return _to(state, CANCEL, ctx, [reply("confirm_cancel", when=current[1])],
               appointment=current[0], when=current[1].isoformat())


def _ask_move(state: State, text: str, ctx: Context) -> Step:
    current = _still_as_shown(state, ctx)
    if isinstance(current, Step):
        return current
    return _offer_slots(state, ctx, current[2], moving=current[0])


def _puzzled_about_appointment(state: State, text: str, ctx: Context) -> Step:
    current = _still_as_shown(state, ctx)
    return current if isinstance(current, Step) else _not_understood(state, ctx)


def _cancel_checked(then: Callable[[State, tuple[int, datetime, int], Context], Step]) -> Handler:
    def act(state: State, text: str, ctx: Context) -> Step:
        current = _current(state, ctx)
        if current is None:
            return _to(state, MAIN, ctx, [reply("no_appointment")])
        if current[1].isoformat() != state.data["when"]:
            # Moved since she was asked: ask again about the time it has now.
            return _to(state, CANCEL, ctx, [reply("confirm_cancel", when=current[1])],
                       appointment=current[0], when=current[1].isoformat())
        return then(state, current, ctx)
    return act


def _cancel_yes(state: State, current: tuple[int, datetime, int], ctx: Context) -> Step:
    if ctx.desk.cancel(current[0]):
        return _to(state, MAIN, ctx, [reply("cancelled", when=current[1])])
    return _to(state, MAIN, ctx, [reply("no_appointment")])


def _cancel_no(state: State, current: tuple[int, datetime, int], ctx: Context) -> Step:
    return _to(state, MAIN, ctx, [reply("kept", when=current[1])])


# -- a reminder's answer (a text or a call reminding her; 1 confirm, 2 cancel, 3 move)


def _reminded(then: Callable[[State, tuple[int, datetime, int], Context], Step]) -> Handler:
    def act(state: State, text: str, ctx: Context) -> Step:
        if _needs_code(state, ctx):
            return _ask_code(state, text, ctx)
        current = _current(state, ctx)
        if current is None:
            return _to(state, MAIN, ctx, [reply("no_appointment")])  # cancelled since
        if current[1] <= ctx.now:  # already begun: her digit is for the main menu
            return _as_main(state, text, ctx)
        return then(state, current, ctx)
    return act


def _reminder_ok(state: State, current: tuple[int, datetime, int], ctx: Context) -> Step:
    return _to(state, MAIN, ctx, [reply("appointment_confirmed", when=current[1])])


def _reminder_cancel(state: State, current: tuple[int, datetime, int], ctx: Context) -> Step:
    return _to(state, CANCEL, ctx, [reply("confirm_cancel", when=current[1])],
               appointment=current[0], when=current[1].isoformat())


def _reminder_move(state: State, current: tuple[int, datetime, int], ctx: Context) -> Step:
    moving = replace(state, data={**state.data, "when": current[1].isoformat()})
    return _offer_slots(moving, ctx, current[2], moving=current[0])


def _as_main(state: State, text: str, ctx: Context) -> Step:
    """Anything else after a reminder is read as a choice from the main menu."""
    return answer(replace(state, name=MAIN, data={}), text, ctx)


# -- how and when she may be contacted (scheduling.contact)

# Her choice in the contact menu: (means, her reminders as a call or None: as they were,
# what she is told). Texts only puts her reminders back to texts, so a later "texts and
# calls" brings them as texts; calls only brings them as calls.
MEANS = {
    1: ("any", False, "contact_any"),
    2: ("texts", False, "contact_texts"),
    3: ("calls", True, "contact_calls"),
    4: ("any", True, "contact_reminder_calls"),
    5: ("no_reminders", None, "contact_no_reminders"),
}


def _means(state: State, text: str, ctx: Context) -> Step:
    means, reminder_calls, told = MEANS[kw.number(text)]
    ctx.desk.set_contact_means(means, reminder_calls)
    return _to(state, MAIN, ctx, [reply(told)])


def _ask_days(state: State, text: str, ctx: Context) -> Step:
    return _to(state, CONTACT_DAYS, ctx, [reply("contact_days")])


def _days(days: str | None) -> Handler:
    def choose(state: State, text: str, ctx: Context) -> Step:
        return _to(state, CONTACT_HOURS, ctx, [reply("contact_hours")], days=days)
    return choose


# Her hours, as she sends or keys them: "1014", "10-14", "10 14", "9-15", "10:00-14:00".
_HOURS = re.compile(r"(\d{2})(\d{2})|(\d{1,2})(?:[:.]00)? ?(?:-|–|—| ) ?(\d{1,2})(?:[:.]00)?")


def hours_of(text: str) -> tuple[time, time] | None:
    """Her window from what she sent: from one whole hour to a later one the same day."""
    match = _HOURS.fullmatch(text)
    if match is None:
        return None
    starts, ends = (int(g) for g in match.groups() if g is not None)
    if not 0 <= starts < ends <= 23:
        return None
    return time(starts), time(ends)


def _any_hour(state: State, text: str, ctx: Context) -> Step:
    days = state.data.get("days")
    ctx.desk.set_contact_hours(days, None, None)
    return _to(state, MAIN, ctx, [reply("contact_weekdays" if days else "contact_any_time")])


def _hours(state: State, text: str, ctx: Context) -> Step:
    window = hours_of(text)
    if window is None:
        return Step(replace(state, updated_at=ctx.now), [reply("contact_hours_format")])
    window = ctx.desk.contact_window(*window)  # what she is told saved is when she can be reached
    if window is None:  # wholly in the hours nothing is sent: she is told when something can be
        opens, closes = ctx.desk.sending_day()
        return Step(replace(state, updated_at=ctx.now), [reply("contact_hours_quiet", start=opens, end=closes)])
    days = state.data.get("days")
    ctx.desk.set_contact_hours(days, *window)
    told = "contact_weekdays_hours" if days else "contact_hours_every_day"
    return _to(state, MAIN, ctx, [reply(told, start=window[0], end=window[1])])


# -- a time the waiting list holds for her


def _take_offer(state: State, text: str, ctx: Context) -> Step:
    result = ctx.desk.take_offer(int(state.data["entry"]))
    if not result.ok:  # its hold ended, or the time went: she stays on the list
        return _to(state, MAIN, ctx, [reply("offer_gone")])
    key = "moved" if result.is_move else "booked"
    if ctx.desk.code_word_status() != "none":
        key += "_private"  # with a code word, no address on her screen
    return _to(state, MAIN, ctx, [reply(key, when=result.start_at)])


def _pass_offer(state: State, text: str, ctx: Context) -> Step:
    ctx.desk.pass_offer(int(state.data["entry"]))
    return _to(state, MAIN, ctx, [reply("offer_passed")])


_BACK = "0 (or MENU)"
# What a choice about a time she has may find: the time gone (cancelled or moved since she
# was shown it), no free time to move to, the time she chose just taken.
_GONE = ("no_appointment",)
_BOOKED = ("booked", "booked_private", "moved", "moved_private", "kept", "slot_taken", "no_slots", *_GONE)

TABLE: dict[str, Row] = {
    LANGUAGE: Row("language_menu", otherwise=Choice(
        "a number from the list, or a language's name", "she chooses her language; her main menu follows",
        _language, (MAIN, LANGUAGE))),
    MAIN: Row("main_menu", (
        Choice("1", "book a time; if she has one already, she is shown it (one appointment at a time)",
               _book, (SERVICE, SLOT, APPOINTMENT, MAIN), says=("no_slots",)),
        Choice("2", "her appointment: shown, to cancel or move (her code word first, if she has one)",
               _my_appointment, (APPOINTMENT, CODE, MAIN), says=(*_GONE, "code_locked")),
        Choice("3", "someone to talk to: on a call, put through to the person on duty; by text, and when no "
                    "one is free, a call back", _talk, (MAIN, TALK_LATER),
               says=("put_through", "closed", "callback_requested")),
        Choice("4", "help", _help, (MAIN,), says=("help",)),
        Choice("5", "how and when she may be contacted (her code word first, if she has one)", _contact,
               (CONTACT, CODE, MAIN), says=("code_locked",)),
        Choice(str(CODE_WORD), "choose or change her code word (the old one first)", _code_word,
               (CODE_NEW, CODE, MAIN), says=("code_locked",)),
        # Said on a call only ("To hear this again, press 9"): a text stays on her screen.
        Choice("9", "the menu again", _main_menu, (MAIN,), lines=frozenset({VOICE})),
    ), otherwise=Choice("anything else", "not understood: the menu again", _puzzled_in_main, (MAIN,))),
    SERVICE: Row("choose_service", otherwise=Choice(
        "a number from the list", "the next free times for that service", _service, (SLOT, SERVICE, MAIN),
        says=("no_slots",))),
    SLOT: Row("offer_slots", (
        Choice(str(LATER), "later times", _later, (SLOT, MAIN), says=("no_slots", *_GONE)),
    ), otherwise=Choice("a number from the list", "that time is held for her a few minutes (if another caller "
                        "took it a moment ago, the same time with another counselor who fits)", _slot,
                        (CONFIRM, SLOT, MAIN), says=("slot_taken", "no_slots", *_GONE))),
    CONFIRM: Row("confirm_slot", (
        Choice("1", "yes: booked", _confirm_yes, (MAIN, SLOT), words=kw.YES, says=_BOOKED),
        Choice("2", "no: other times", _confirm_no, (SLOT, MAIN), words=kw.NO, says=("no_slots", "kept", *_GONE)),
    )),
    APPOINTMENT: Row("appointment_menu", (
        Choice("1", "cancel it (asked once more)", _ask_cancel, (CANCEL, APPOINTMENT, MAIN), says=_GONE),
        Choice("2", "move it: other times, with her counselor", _ask_move, (MOVE_SLOT, APPOINTMENT, MAIN),
               says=("no_slots", *_GONE)),
    ), otherwise=Choice("anything else", "not understood: her time again", _puzzled_about_appointment,
                        (APPOINTMENT, MAIN), says=_GONE)),
    MOVE_SLOT: Row("offer_slots", (
        Choice(str(LATER), "later times", _later, (MOVE_SLOT, MAIN), says=("no_slots", *_GONE)),
    ), otherwise=Choice("a number from the list", "that time is held for her move a few minutes", _slot,
                        (MOVE_CONFIRM, MOVE_SLOT, MAIN), says=("slot_taken", "no_slots", *_GONE))),
    MOVE_CONFIRM: Row("confirm_slot", (
        Choice("1", "yes: moved", _confirm_yes, (MAIN, MOVE_SLOT), words=kw.YES, says=_BOOKED),
        Choice("2", "no: her time is kept", _confirm_no, (MAIN,), words=kw.NO, says=("kept", *_GONE)),
    )),
    CANCEL: Row("confirm_cancel", (
        Choice("1", "yes: cancelled", _cancel_checked(_cancel_yes), (MAIN, CANCEL), words=kw.YES,
               says=("cancelled", *_GONE)),
        Choice("2", "no: kept", _cancel_checked(_cancel_no), (MAIN, CANCEL), words=kw.NO, says=("kept", *_GONE)),
    ), otherwise=Choice("anything else", "not understood: asked again",
                        _cancel_checked(lambda state, current, ctx: _not_understood(state, ctx)), (CANCEL, MAIN),
                        says=_GONE)),
    # Her time already begun, a reminder's digit is a choice from the main menu.
    REMINDER: Row("reminder", (
        Choice("1", "her time is confirmed", _reminded(_reminder_ok), (MAIN, CODE), words=kw.YES,
               says=("appointment_confirmed", "code_locked", *_GONE), answers_as=(MAIN,)),
        Choice("2", "cancel it (asked once more)", _reminded(_reminder_cancel), (CANCEL, CODE, MAIN),
               says=("code_locked", *_GONE), answers_as=(MAIN,)),
        Choice("3", "move it: other times, with her counselor", _reminded(_reminder_move),
               (MOVE_SLOT, CODE, MAIN), says=("no_slots", "code_locked", *_GONE), answers_as=(MAIN,)),
    ), otherwise=Choice("anything else", "read as a choice from the main menu", _as_main,
                        (MAIN, SERVICE, SLOT, APPOINTMENT, TALK_LATER, CODE, CODE_NEW, CONTACT), answers_as=(MAIN,))),
    # A text from the waiting list (scheduling.waitlist); anything else is a choice from
    # the main menu, as after a reminder. By text only: the offer comes as a text.
    WAITLIST_OFFER: Row("waitlist_offer", (
        Choice("1", "take it: booked (or her time moved to it)", _take_offer, (MAIN,), words=kw.YES,
               says=("booked", "booked_private", "moved", "moved_private", "offer_gone")),
        Choice("2", "pass: she stays on the waiting list", _pass_offer, (MAIN,), words=kw.NO,
               says=("offer_passed",)),
    ), otherwise=Choice("anything else", "read as a choice from the main menu", _as_main,
                        (MAIN, SERVICE, SLOT, APPOINTMENT, CODE, CODE_NEW, CONTACT), answers_as=(MAIN,)),
        lines=frozenset({SMS})),
    CODE: Row("code_ask", otherwise=Choice(
        "her code word (on a call, ended with #)", "right: what she asked for; wrong: asked again; too many "
        "wrong tries: locked, and she is asked to call", _code, (APPOINTMENT, CANCEL, CODE, CODE_NEW, MAIN,
                                                                    SERVICE, SLOT, MOVE_SLOT, TALK_LATER, CONTACT),
        says=("code_format", "code_wrong", "code_locked"), answers_as=(*GUARDED, MAIN, REMINDER))),
    CODE_NEW: Row("code_choose", otherwise=Choice(
        "a new code word of 4 to 8 digits", "asked once more, to be sure", _code_new, (CODE_REPEAT, CODE_NEW),
        says=("code_format",))),
    CODE_REPEAT: Row("code_repeat", otherwise=Choice(
        "the same code word again", "the same: saved; not the same: chosen again", _code_repeat,
        (MAIN, CODE_NEW), says=("code_mismatch", "code_set"))),
    CONTACT: Row("contact_menu", tuple(
        Choice(str(digit), f"{what}: saved at once", _means, (MAIN,), says=(told,))
        for digit, what, told in (
            (1, "texts and calls, her reminders as texts", "contact_any"),
            (2, "texts only (her reminders as texts)", "contact_texts"),
            (3, "calls only (her reminders as a call, where her language can be heard on one)", "contact_calls"),
            (4, "texts and calls, her reminders as a call", "contact_reminder_calls"),
            (5, "no reminders", "contact_no_reminders"))
    ) + (Choice("6", "days and hours", _ask_days, (CONTACT_DAYS,)),)),
    CONTACT_DAYS: Row("contact_days", (
        Choice("1", "every day", _days(None), (CONTACT_HOURS,)),
        Choice("2", "Monday to Friday", _days(MONDAY_TO_FRIDAY), (CONTACT_HOURS,)),
    )),
    CONTACT_HOURS: Row("contact_hours", (
        Choice("1", "any hour: saved at once", _any_hour, (MAIN,), says=("contact_any_time", "contact_weekdays")),
    ), otherwise=Choice(
        "her hours as 4 digits, 1014 for 10 to 14 (on a call, ended with #)", "saved at once; anything else: "
        "asked again", _hours, (MAIN, CONTACT_HOURS),
        says=("contact_hours_format", "contact_hours_quiet", "contact_hours_every_day", "contact_weekdays_hours"))),
    TALK_LATER: Row("nobody", (
        Choice("1", "a call back in her language", _call_back, (MAIN,), says=("callback_requested",)),
        Choice("2", "leave a message after the tone", _leave_message, (MAIN,), says=("leave_message",)),
    ), lines=frozenset({VOICE})),
}
# Answered before the table, in every state: STOP, START, HELP, DELETE; 0 (or MENU) goes
# back to her main menu, and from there (or with the words MENU/MENY) to the language menu.
GLOBAL = (
    ("0", "back: from a submenu to her main menu; from the main menu to the language menu"),
    ("STOP", "no more texts (anything held is let go)"),
    ("START", "texts again"),
    ("HELP", "what she can send"),
    ("DELETE", "her number and her messages are deleted"),
    ("a greeting (hi, hei, salaam...)", "her main menu, anything held let go"),
)

# What any state may answer, before or besides its table: a wrong digit, an empty message,
# a conversation left too long, "0" back to her main menu.
ALWAYS = ("not_understood", "empty_message", "timed_out", "main_menu")


def replies_of(choice: Choice) -> frozenset[str]:
    """Every reply ``choice`` may answer with: what it says, the question of each state it
    leads to, and whatever a choice of a state it answers as may answer."""
    found: set[str] = set()
    seen: set[str] = set()
    todo = [choice]
    while todo:
        current = todo.pop()
        found |= set(current.says) | {TABLE[name].asks for name in current.leads_to if name in TABLE}
        for name in current.answers_as:
            if name not in seen:
                seen.add(name)
                todo.extend(choices(name))
    return frozenset(found | set(ALWAYS))


def choices(name: str, line: str | None = None) -> list[Choice]:
    row = TABLE[name]
    return [c for c in (*row.choices, *([row.otherwise] if row.otherwise else [])) if line is None or line in c.lines]


def reachable(starts: Iterable[str], line: str) -> tuple[frozenset[str], frozenset[str]]:
    """The states of ``line`` a dialogue begun in ``starts`` can reach, and every reply it
    can answer with there: what "everything she can be told" is, computed from the table."""
    states: set[str] = set()
    replies: set[str] = set(ALWAYS)
    todo = [name for name in starts if line in TABLE[name].lines]
    while todo:
        name = todo.pop()
        if name in states:
            continue
        states.add(name)
        replies.add(TABLE[name].asks)
        for choice in choices(name, line):
            replies |= replies_of(choice)
            todo.extend(n for n in (*choice.leads_to, *choice.answers_as) if n in TABLE and line in TABLE[n].lines)
    return frozenset(states), frozenset(replies)
