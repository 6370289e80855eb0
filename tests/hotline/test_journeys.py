"""Every journey a caller makes is one list of choices, and it ends the same way whether she
texts the digits or presses them on a call: the same appointment, the same call-back, the
same code word. After each choice both lines are in the same place of the one dialogue.

A journey is a list of visits. The first visit starts with her language; each later visit
is a new call, or on the SMS line a new text ("hi") to the same conversation. REMINDED is
a visit that starts with Linja reminding her of her appointment: a text on the SMS line, a
reminder call she answers on the voice line. A key written ``(key, VOICE)`` is only pressed
on a call: after "3 someone to talk to", a call that finds nobody free asks "1 call back or
2 leave a message", while a text simply registers the call-back (``TALK_LATER`` is a voice
row of the table).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from hotline import conversation as dialogue
from hotline.conversation import SMS, VOICE
from hotline.phone import SimulatedPhone, VoiceCall, WsgiTransport, call
from scheduling.clients import find_client
from scheduling.models import (
    Appointment,
    Call,
    CallbackRequest,
    ContactMeans,
    Conversation,
    OutboxMessage,
    SlotHold,
    Voicemail,
)
from scheduling import codeword
from tests.conftest import ROOM_FOR_MANY, fresh, oslo
from tests.hotline.twilio_client import Phone
from web.worker import make_worker

NUMBER = "+4791234567"
ENGLISH = "2"
REMINDED = "reminded"
PUT_DOWN = timedelta(minutes=31)  # longer than a conversation or a call stays open
# The first time offered for a talk, in English or Polish (no counselor speaks them: the
# earliest with an interpreter) and in Somali (its counselor).
FIRST_OFFERED = {"en": oslo(2026, 11, 23, 10, 30), "pl": oslo(2026, 11, 23, 10, 30), "so": oslo(2026, 11, 23, 10, 30)}

BOOK = [ENGLISH, "1", "1", "1", "1"]  # English; book; a talk; the first time; yes
CODE = "4711"

FIRST, LATER = "the first time offered", "a later time"
BOOKED, CANCELLED = "booked", "cancelled"

# Each journey, and what it leaves: her appointments (status, which time), and whatever
# else it changes (call-backs, her code word, reminder calls, language). Both lines end so.
JOURNEYS = {
    "book the first time offered": ([BOOK], {"appointments": [(BOOKED, FIRST)]}),
    "say no to a time, then take another": ([[ENGLISH, "1", "1", "1", "2", "3", "1"]],
                                            {"appointments": [(BOOKED, LATER)]}),
    "book, then hear her appointment": ([BOOK, ["2"]], {"appointments": [(BOOKED, FIRST)]}),
    "book, then cancel": ([BOOK, ["2", "1", "1"]], {"appointments": [(CANCELLED, FIRST)]}),
    "book, then keep it after all": ([BOOK, ["2", "1", "2"]], {"appointments": [(BOOKED, FIRST)]}),
    "book, then move it": ([BOOK, ["2", "2", "2", "1"]], {"appointments": [(BOOKED, LATER)]}),
    "book, then say no to the move": ([BOOK, ["2", "2", "2", "2"]], {"appointments": [(BOOKED, FIRST)]}),
    "book twice: shown the one she has": ([BOOK, ["1"]], {"appointments": [(BOOKED, FIRST)]}),
    "a call back": ([[ENGLISH, "3", ("1", VOICE)]], {"appointments": [], "call-backs": [("en", "open")]}),
    "help, the menu again, then book": ([[ENGLISH, "4", "9", "1", "1", "1", "1"]],
                                        {"appointments": [(BOOKED, FIRST)]}),
    "reminders as a phone call": ([[ENGLISH, "5", "4"]], {"reminder calls": True}),
    "reminders as a call, then as texts again": ([[ENGLISH, "5", "4"], ["5", "1"]], {"reminder calls": False}),
    "only texts": ([[ENGLISH, "5", "2"]], {"contact": ("texts", None, None, None)}),
    "only calls": ([[ENGLISH, "5", "3"]], {"contact": ("calls", None, None, None), "reminder calls": True}),
    "no reminders": ([[ENGLISH, "5", "5"]], {"contact": ("no_reminders", None, None, None)}),
    "weekdays from 10 to 14": ([[ENGLISH, "5", "6", "2", "1014"]], {"contact": ("any", "01234", "10:00", "14:00")}),
    "her hours, then any day and hour again": ([[ENGLISH, "5", "6", "2", "1014"], ["5", "6", "1", "1"]], {}),
    "hours mistyped, then right": ([[ENGLISH, "5", "6", "1", "2510", "14", "0914"]],
                                   {"contact": ("any", None, "09:00", "14:00")}),
    "only texts, then her hours: both kept": ([[ENGLISH, "5", "2"], ["5", "6", "2", "1117"]],
                                              {"contact": ("texts", "01234", "11:00", "17:00")}),
    "her code word before her terms": ([[ENGLISH, "6", CODE, CODE], ["5", CODE, "2"]],
                                       {"contact": ("texts", None, None, None), "code word": CODE}),
    "a wrong code word keeps her terms": ([[ENGLISH, "6", CODE, CODE], ["5", "1111", "0", "5", "2222"]],
                                          {"code word": CODE, "wrong code words": 2}),
    "back from how we contact her, then book": ([[ENGLISH, "5", "0", "1", "1", "1", "1"]],
                                                {"appointments": [(BOOKED, FIRST)]}),
    "choose a code word": ([[ENGLISH, "6", CODE, CODE]], {"code word": CODE}),
    "a code word chosen twice differently, then the same": ([[ENGLISH, "6", CODE, "1234", CODE, CODE]],
                                                            {"code word": CODE}),
    "a code word, then her appointment with it": ([BOOK, ["6", CODE, CODE], ["2", CODE, "1", "1"]],
                                                  {"appointments": [(CANCELLED, FIRST)], "code word": CODE}),
    "a code word, three wrong tries": ([BOOK, ["6", CODE, CODE], ["2", "1111"], ["2", "2222"], ["2", "3333"]],
                                       {"appointments": [(BOOKED, FIRST)], "code word": CODE, "wrong code words": 3}),
    "change the code word": ([[ENGLISH, "6", CODE, CODE], ["6", CODE, "8642", "8642"]], {"code word": "8642"}),
    "another language, then book in it": ([[ENGLISH, "0", "8", "1", "1", "1", "1"]],  # Polish
                                          {"appointments": [(BOOKED, FIRST)], "language": "pl"}),
    "back to the main menu from the times": ([[ENGLISH, "1", "1", "0", "1", "1", "1", "1"]],
                                             {"appointments": [(BOOKED, FIRST)]}),
    "a reminder, confirmed": ([BOOK, [REMINDED, "1"]], {"appointments": [(BOOKED, FIRST)]}),
    "a reminder, then cancel": ([BOOK, [REMINDED, "2", "1"]], {"appointments": [(CANCELLED, FIRST)]}),
    "a reminder, then move": ([BOOK, [REMINDED, "3", "2", "1"]], {"appointments": [(BOOKED, LATER)]}),
    "a reminder, with a code word, then cancel": ([BOOK, ["6", CODE, CODE], [REMINDED, "2", CODE, "1"]],
                                                  {"appointments": [(CANCELLED, FIRST)], "code word": CODE}),
}


@pytest.fixture
def app_config():
    return ROOM_FOR_MANY


class Texts:
    """The SMS line: every visit is a text to the same conversation."""

    line = SMS

    def __init__(self, app, client, db_session, clock):
        self.phone = Phone(client, app, NUMBER)
        self.app, self.db_session, self.clock = app, db_session, clock

    def visit(self, first: bool) -> None:
        self.phone.text("hi")  # a new caller is asked her language; a known one hears her menu

    def reminded(self) -> None:
        remind(self.app, self.db_session, self.clock)  # the reminder text; her next text answers it

    def press(self, key: str) -> None:
        self.phone.text(key)

    def where(self) -> str:
        return self.conversation().state

    def offered(self) -> list[datetime]:
        return [datetime.fromisoformat(o["start"]) for o in self.conversation().data["offers"]]

    def conversation(self) -> Conversation:
        her = find_client(fresh(self.db_session), NUMBER)
        return fresh(self.db_session).get(Conversation, her.id)

    def end(self) -> None:
        pass


class Calls:
    """The voice line: every visit is a new call, the keys pressed on its menus."""

    line = VOICE

    def __init__(self, app, client, db_session, clock):
        self.app, self.db_session, self.clock = app, db_session, clock
        self.phone = SimulatedPhone(WsgiTransport(app), NUMBER, app.config["PUBLIC_BASE_URL"],
                                    app.config["TWILIO_AUTH_TOKEN"])
        self.current: VoiceCall | None = None

    def visit(self, first: bool) -> None:
        self.current = call(self.phone)

    def reminded(self) -> None:
        her = find_client(fresh(self.db_session), NUMBER)
        wanted = her.wants_reminder_calls
        her.wants_reminder_calls = True  # she is reached by a call on this line
        self.db_session.commit()
        message = remind(self.app, self.db_session, self.clock)
        her = find_client(fresh(self.db_session), NUMBER)
        her.wants_reminder_calls = wanted
        self.db_session.commit()
        self.current = VoiceCall(self.phone)
        self.current.answer(f"/hotline/voice/reminder?message={message.id}", self.phone._sid("CA"))

    def press(self, key: str) -> None:
        assert not self.current.ended, f"the call ended before {key!r} could be pressed"
        self.current.press(key)

    def where(self) -> str:
        return self.dialogue()["name"]

    def offered(self) -> list[datetime]:
        return [datetime.fromisoformat(o["start"]) for o in self.dialogue()["data"]["offers"]]

    def dialogue(self) -> dict:
        return fresh(self.db_session).get(Call, self.current.sid).data["dialogue"]

    def end(self) -> None:
        if not self.current.ended:
            self.current.hang_up()


def remind(app, db_session, clock) -> OutboxMessage:
    """The worker reminds her of her appointment two hours before it."""
    [appointment] = fresh(db_session).scalars(select(Appointment)).all()
    clock.set(appointment.start_at - timedelta(hours=2))
    make_worker(app).tick()
    return fresh(db_session).scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                                     .order_by(OutboxMessage.id.desc())).first()


def walk(line, journey: list[list], clock) -> list[tuple[str, str]]:
    """Makes the journey on the line; returns each key with where the dialogue is after it.
    Between visits she puts the phone down for a while: each visit is a conversation of its
    own, as each call is (a code word given once is not remembered into the next one)."""
    path: list[tuple[str, str]] = []
    for number, visit in enumerate(journey):
        if number:
            clock.advance(PUT_DOWN)
        keys = list(visit)
        if keys[0] == REMINDED:
            line.reminded()
            keys = keys[1:]
        else:
            line.visit(first=number == 0)
        for key in keys:
            key, lines = key if isinstance(key, tuple) else (key, dialogue.BOTH)
            if line.line not in lines:
                continue
            line.press(key)
            if lines == dialogue.BOTH:
                path.append((key, line.where()))
            else:  # a key only this line asks for completes the choice before it
                path[-1] = (path[-1][0], line.where())
        line.end()
    return path


def outcome(db_session) -> dict:
    """What the journey left behind, as the centre sees it."""
    session = fresh(db_session)
    her = find_client(session, NUMBER)
    return {
        "appointments": [(a.status.value, FIRST if a.start_at == FIRST_OFFERED[a.language_code] else LATER)
                         for a in session.scalars(select(Appointment).order_by(Appointment.id))],
        "where": [(a.start_at, a.counselor_id, a.service_id)
                  for a in session.scalars(select(Appointment).order_by(Appointment.id))],
        "call-backs": [(r.language_code, r.status.value) for r in session.scalars(select(CallbackRequest))],
        "voicemails": len(session.scalars(select(Voicemail)).all()),
        "held": len(session.scalars(select(SlotHold)).all()),
        "language": her.language_code,
        "code word": next((code for code in (CODE, "8642", "1234") if codeword.matches(her.code_word_hash, code)),
                          None),
        "wrong code words": her.code_word_failures,
        "reminder calls": her.wants_reminder_calls,
        "contact": (her.contact_means.value, her.contact_days,
                    *(f"{at:%H:%M}" if at else None for at in (her.contact_from, her.contact_until))),
    }


def make(line_class, app, client, db_session, clock, journey):
    line = line_class(app, client, db_session, clock)
    return walk(line, journey, clock), outcome(db_session)


@pytest.mark.parametrize("name", JOURNEYS)
def test_a_journey_ends_the_same_by_text_and_by_keypad(name, app, client, centre, db_session, clock):
    start = clock.now()
    journey, expected = JOURNEYS[name]
    by_text, texted = make(Texts, app, client, db_session, clock, journey)

    # The same woman starts again from nothing, at the same moment, and calls instead.
    forget_her(db_session)
    clock.set(start)
    by_call, called = make(Calls, app, client, db_session, clock, journey)

    assert by_call == by_text, "after the same key, the two lines are in different places of the dialogue"
    assert called == texted
    assert {key: texted[key] for key in expected} == expected
    nothing = {"appointments": [], "call-backs": [], "voicemails": 0, "language": "en", "code word": None,
               "wrong code words": 0, "reminder calls": False, "contact": ("any", None, None, None)}
    assert {key: texted[key] for key in nothing if key not in expected and key != "where"} == {
        key: value for key, value in nothing.items() if key not in expected}  # and nothing else
    assert texted["held"] == 0


def forget_her(db_session) -> None:
    """Everything the first journey left, gone: the centre is as it was before it. She keeps
    her row (the counselor a time goes to is spread between callers by who she is)."""
    from scheduling.models import Base

    hers = {"appointments", "audit_entries", "conversations", "inbound_messages", "slot_holds",
            "callback_requests", "outbox_messages", "sending_pace", "calls", "voicemails", "worker_heartbeats"}
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in hers:
            db_session.execute(table.delete())
    her = find_client(db_session, NUMBER)
    her.language_code, her.code_word_hash, her.code_word_failures = None, None, 0
    her.wants_reminder_calls, her.is_opted_out, her.last_contact_at = False, False, None
    her.contact_means, her.contact_days, her.contact_from, her.contact_until = ContactMeans.any, None, None, None
    db_session.commit()


def test_a_language_without_a_voice(app, client, centre, db_session, clock):
    """Somali has no voice yet and, here, no recordings: by text she books in Somali; on a
    call choosing Somali registers a call-back in Somali and the call ends, no blind booking."""
    somali = ["4", "1", "1", "1", "1"]
    texts = Texts(app, client, db_session, clock)
    walk(texts, [somali], clock)
    texted = outcome(db_session)
    assert texted["appointments"] == [(BOOKED, FIRST)] and texted["call-backs"] == []
    assert texted["where"][0][1] == centre["counselors"]["so"].id and texted["language"] == "so"

    forget_her(db_session)
    calls = Calls(app, client, db_session, clock)
    calls.visit(first=True)
    calls.press("4")
    assert calls.current.ended
    called = outcome(db_session)
    assert called["appointments"] == [] and called["call-backs"] == [("so", "open")]
    assert called["language"] == "so"
