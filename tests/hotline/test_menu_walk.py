"""The menu walk: every option a menu names works where it is named, in every language, on
both lines; every option a state has is named; whatever the dialogue answers, each line
can say.

For each state of the table (``hotline.conversation.TABLE``), reached by driving the real
dialogue over the test database, the walk takes the words she is given there: by SMS the
text ``render_replies`` makes of the state's prompt, on a call what ``ivr.Line`` says for
it, read from each language's catalog. The digits those words name (dates and times, and
the code word's "4 to 8 digits", are not options) are each answered in that state by the
real dialogue, in a savepoint rolled back afterwards: each must be taken (no "not
understood") and lead where the table says that choice leads. The other way round, every
choice the state has on that line, and every number of a list she is shown, must be
named. Then every digit of the keypad, named or not, is answered in every state: by SMS
nothing may lead to what only a call has, and on a call nothing may be left unsaid.
"""
from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hotline import conversation as dialogue
from hotline import ivr, prompts
from hotline import keywords as kw
from hotline.conversation import (
    APPOINTMENT,
    CANCEL,
    CODE,
    CODE_NEW,
    CODE_REPEAT,
    CONFIRM,
    CONTACT,
    CONTACT_DAYS,
    CONTACT_HOURS,
    LANGUAGE,
    WAITLIST_OFFER,
    MAIN,
    MOVE_CONFIRM,
    MOVE_SLOT,
    REMINDER,
    SERVICE,
    SLOT,
    SMS,
    TABLE,
    TALK_LATER,
    VOICE,
    Context,
    Inbound,
    Reply,
    State,
    Step,
    advance,
    prompt,
)
from hotline.desk import DatabaseDesk
from hotline.phone import SimulatedPhone, WsgiTransport, call
from hotline.replies import offers_per_text, render_replies
from hotline.voices import NotInHerLanguage
from scheduling import codeword, waitlist
from scheduling.clients import find_client
from scheduling.models import BookedVia, Language
from tests.conftest import NOW, oslo
from tests.hotline.twilio_client import Phone

LANGUAGES = ("nb", "en", "so", "ar", "ur", "ti", "fa", "pl")
NUMBER = "+4791234567"
CENTRE_NUMBER = "+4722000000"
CALL_SID = "CA" + "7" * 32
CLOSED = oslo(2026, 11, 23, 19, 0)  # Monday evening: the centre opens again Tuesday 08:00
HER_TIME = oslo(2026, 11, 25, 10, 0)  # her appointment, where a state is about one
HER_CODE = "4711"
KEYPAD = tuple("0123456789")
# A wrong key or silence, and a code word that is not one: not an answer taken.
PUZZLED = ivr.PUZZLED
# "0", answered before the table (conversation.GLOBAL): from a submenu her main menu,
# from her main menu the language menu.
BACK = {MAIN: (LANGUAGE,)}
# The number of the code word's length ("4 to 8 digits" in every language) is no option.
CODE_LENGTH = re.compile(rf"(?<!\d){codeword.MIN_DIGITS}\s+\S+\s+{codeword.MAX_DIGITS}(?!\d)")
# The example of her contact hours ("4 digits: 1014 means 10 to 14") names no option:
# where it is given, its numbers are left out.
HOURS_EXAMPLE = re.compile(r"(?<!\d)1 ?0 ?1 ?4(?!\d)")
HOURS_EXAMPLE_NUMBERS = re.compile(r"(?<!\d)(?:1 ?0 ?1 ?4|10|14|4)(?!\d)")
# What only a call has: replies no text can carry.
VOICE_ONLY_REPLIES = {key for key in ivr.VOICE_OF if key not in prompts.TEXTS}
# Replies the voice line acts on itself instead of saying them (Line.step).
LINE_HANDLED = {"put_through", "leave_message"}


@dataclass(frozen=True)
class Scenario:
    """A state of the table, and how she gets there from her main menu."""

    state: str
    path: tuple[str, ...] = ()
    appointment: bool = False  # she has a time booked
    code_word: bool = False  # she has a code word
    now: datetime = NOW
    reminded: bool = False  # the dialogue opens with a reminder of her time
    offered: bool = False  # the dialogue opens with a time the waiting list holds for her


SCENARIOS = (
    Scenario(LANGUAGE, ("0",)),
    Scenario(MAIN),
    Scenario(SERVICE, ("1",)),
    Scenario(SLOT, ("1", "1")),
    Scenario(CONFIRM, ("1", "1", "1")),
    Scenario(APPOINTMENT, ("2",), appointment=True),
    Scenario(CANCEL, ("2", "1"), appointment=True),
    Scenario(MOVE_SLOT, ("2", "2"), appointment=True),
    Scenario(MOVE_CONFIRM, ("2", "2", "1"), appointment=True),
    Scenario(REMINDER, appointment=True, reminded=True),
    Scenario(CODE, ("2",), appointment=True, code_word=True),
    Scenario(CODE_NEW, ("6",)),
    Scenario(CODE_REPEAT, ("6", HER_CODE)),
    # On a call, with no one free: while the centre is open ("nobody"), and closed ("closed").
    Scenario(TALK_LATER, ("3",)),
    Scenario(TALK_LATER, ("3",), now=CLOSED),
    Scenario(WAITLIST_OFFER, offered=True),
    Scenario(CONTACT, ("5",)),
    Scenario(CONTACT_DAYS, ("5", "6")),
    Scenario(CONTACT_HOURS, ("5", "6", "2")),
)


def scenarios(line: str) -> list[Scenario]:
    return [s for s in SCENARIOS if line in TABLE[s.state].lines]


def test_the_walk_visits_every_state_of_the_table_on_every_line_it_has():
    for line in (SMS, VOICE):
        has = {name for name, row in TABLE.items() if line in row.lines}
        assert {s.state for s in scenarios(line)} == has


class Walk:
    """One woman, on one line, in one language, walked through every state."""

    def __init__(self, app, session, make, centre, line: str, language: str):
        self.app, self.session, self.make, self.centre = app, session, make, centre
        self.line, self.language = line, language
        self.rules = app.extensions["linja.rules"]
        self.tz = self.rules.tz
        self.address = app.config["CENTRE_ADDRESS"]
        self.faults: list[str] = []

    # --- the line, as each webhook sets it up ---------------------------------------------
    def client(self):
        return find_client(self.session, NUMBER)

    def voice(self, now: datetime) -> ivr.Line:
        return ivr.Line(session=self.session, now=now, rules=self.rules,
                        url=lambda step, **query: f"/hotline/voice/{step}",
                        recording_url=lambda token: f"/recordings/{token}", call_sid=CALL_SID, caller=NUMBER,
                        centre_number=CENTRE_NUMBER)

    def context(self, now: datetime) -> Context:
        if self.line == VOICE:
            return self.voice(now).context()
        config = self.app.config
        return Context(
            now=now, desk=DatabaseDesk(self.session, self.client(), now, self.rules),
            idle_timeout=timedelta(minutes=config["SMS_IDLE_MINUTES"]),
            offer_counts=lambda code: (offers_per_text(code, config["TZ_NAME"]),
                                       offers_per_text(code, config["TZ_NAME"], after_taken=True)),
        )

    def answer(self, state: State, text: str, now: datetime) -> Step:
        return advance(state, Inbound(text), self.context(now))

    # --- getting there -----------------------------------------------------------------------
    def reach(self, scenario: Scenario) -> State:
        client = self.client()
        start = State(name=MAIN, language=self.language, updated_at=scenario.now)
        if scenario.appointment:
            counselor = self.centre["counselors"]["so"]
            appointment = self.make.appointment(counselor, self.centre["talk"], HER_TIME, client_id=client.id,
                                                language_code=self.language, booked_via=BookedVia.sms)
            if scenario.reminded:  # as the reminder's text or call leaves her (scheduling.sending, ivr)
                start = State(name=REMINDER, language=self.language, updated_at=scenario.now,
                              data={"appointment": appointment.id, "when": appointment.start_at.isoformat()})
        if scenario.offered:  # as the waiting list's offer leaves her (scheduling.waitlist, sending)
            entry = waitlist.join(self.session, client=client, service_id=self.centre["talk"].id,
                                  language_code=self.language, now=scenario.now)
            [held] = waitlist.offer_free_times(self.session, now=scenario.now, rules=self.rules)
            start = State(name=WAITLIST_OFFER, language=self.language, updated_at=scenario.now,
                          data={"entry": entry.id, "when": held.slot.start_at.isoformat(),
                                "until": held.expires_at.isoformat()})
        if scenario.code_word:
            codeword.set_code_word(self.session, client, HER_CODE, scenario.now)
        self.session.flush()
        state = start
        for text in scenario.path:
            state = self.answer(state, text, scenario.now).state
        assert state.name == scenario.state, (self.line, self.language, scenario, state)
        return state

    # --- what she is given there ---------------------------------------------------------------
    def words(self, state: State, now: datetime) -> tuple[str, list[datetime]]:
        """The words that ask her the question of ``state`` on this line, and the instants in them."""
        replies = prompt(state, self.context(now))
        instants = [at for r in replies for name, value in r.values.items() if name in ("when", "slots")
                    for at in (value if isinstance(value, list) else [value]) if at is not None]
        # Times of day ("kept for you until 08:30") name no option either.
        self.clocks = [prompts.format_time(value, self.language, self.tz) for r in replies
                       for name, value in r.values.items() if name == "time"]
        if self.line == SMS:
            return render_replies(replies, self.language, tz=self.tz, address=self.address), instants
        line = self.voice(now)
        if state.name == LANGUAGE:  # the line says the language menu itself, each option in its language
            line._keep(state, tries=0)
            said = line.language_menu([r for r in replies if r.key != "language_menu"])
            return " ".join(e.text or "" for e in ET.fromstring(str(said)).iter("Say")), instants
        return " ".join(self.spoken(line, state, replies)), instants

    def spoken(self, line: ivr.Line, state: State, replies: list[Reply]) -> list[str]:
        """What the voice line says for ``replies`` in her language: the words a voice
        speaks, or a recording says (from the same translated sentence)."""
        line._keep(state, tries=0)  # the service options are read from where the call is
        texts = []
        for item in replies:
            for key, _values in line.spoken(item):
                if key not in ivr.prompts_of(item.key):
                    self.faults.append(f"{item.key!r} is said with {key!r}, not among ivr.prompts_of it")
        for key, values in (part for item in replies for part in line.spoken(item)):
            words = {name: value for name, value in values.items() if not name.endswith("_slug")}
            if "when" in words:
                words["when"] = prompts.spoken_when(words["when"], self.language, self.tz)
            texts.append(prompts.render(key, self.language, **words))
        return texts

    def named(self, words: str, instants: list[datetime]) -> list[str]:
        """The numbers ``words`` name as options: dates and times and the code word's length left out."""
        as_said = prompts.spoken_when if self.line == VOICE else prompts.format_when
        dates = {as_said(at, self.language, self.tz) for at in instants}
        for date in sorted(dates, key=len, reverse=True):
            if date not in words:
                self.faults.append(f"the date {date!r} is not found in {words!r}")
            words = words.replace(date, " ")
        for clock in getattr(self, "clocks", ()):
            words = words.replace(clock, " ")
        words = CODE_LENGTH.sub(" ", words)
        if HOURS_EXAMPLE.search(kw.ascii_digits(words)):
            words = HOURS_EXAMPLE_NUMBERS.sub(" ", kw.ascii_digits(words))
        return list(dict.fromkeys(re.findall(r"\d+", kw.ascii_digits(words))))

    # --- the checks --------------------------------------------------------------------------------
    def fault(self, scenario: Scenario, message: str) -> None:
        self.faults.append(f"{self.line} {self.language} {scenario.state}"
                           f"{' (closed)' if scenario.now != NOW else ''}: {message}")

    def choice(self, state: State, text: str, ctx: Context) -> dialogue.Choice | None:
        row = TABLE[state.name]
        for choice in row.choices:
            if choice.matches(text, ctx):
                return choice
        return row.otherwise

    def where_it_leads(self, state: State, text: str, ctx: Context) -> tuple[str, ...] | None:
        """Where the table says ``text`` leads in ``state`` on this line; None: nowhere."""
        if text == "0":
            return BACK.get(state.name, (MAIN,))
        choice = self.choice(state, text, ctx)
        return choice.leads_to if choice is not None else None

    def declared(self, state: State, text: str, ctx: Context) -> set[str]:
        """What the table says ``text`` may be answered with in ``state`` (what the voice
        line's prompts_heard is computed from): the choice's replies, the state's own
        question again, and "0"'s menus."""
        choice = self.choice(state, text, ctx) if text != "0" else None
        own = {r.key for r in prompt(state, ctx)}
        return (set(dialogue.replies_of(choice)) if choice else set(dialogue.ALWAYS)) | own | {"language_menu"}

    def listed(self, state: State, ctx: Context) -> int:
        """How many numbered items she is shown, each answered by its number."""
        if state.name == LANGUAGE:
            return len(state.data.get("languages") or ctx.desk.languages())
        if state.name == SERVICE:
            return len(state.data["services"])
        if state.name in (SLOT, MOVE_SLOT):
            return len(state.data["offers"])
        return 0

    def said(self, scenario: Scenario, text: str, step: Step) -> None:
        """What the dialogue answered can be said on this line, and leads nowhere the line has not."""
        keys = [r.key for r in step.replies]
        if not keys:
            self.fault(scenario, f"{text!r} is answered with silence")
        if step.state.name != dialogue.NEW and self.line not in TABLE[step.state.name].lines:
            self.fault(scenario, f"{text!r} leads to {step.state.name}, which this line does not have")
        if self.line == SMS:
            if set(keys) & VOICE_ONLY_REPLIES:
                self.fault(scenario, f"{text!r} by text is answered with what only a call has: {keys}")
                return
            render_replies(step.replies, step.state.language, tz=self.tz, address=self.address)
            return
        if "language_menu" in keys and step.state.name != LANGUAGE:
            self.fault(scenario, f"{text!r}: the language menu outside the language state is never said")
        if set(keys) & LINE_HANDLED:
            return
        line = self.voice(scenario.now)
        try:
            self.spoken(line, step.state, [r for r in step.replies if r.key != "language_menu"])
        except (KeyError, LookupError, NotInHerLanguage) as error:
            self.fault(scenario, f"{text!r} is answered with {keys}, which a call cannot say ({error!r})")

    def walk(self, scenario: Scenario) -> None:
        outer = self.session.begin_nested()
        try:
            state = self.reach(scenario)
            ctx = self.context(scenario.now)
            words, instants = self.words(state, scenario.now)
            named = self.named(words, instants)
            # Every choice there is on this line, and every number of her list, is named.
            offered = [c.key for c in TABLE[state.name].choices if self.line in c.lines and c.key.isdigit()]
            offered += [str(n) for n in range(1, self.listed(state, ctx) + 1)]
            for key in offered:
                if key not in named:
                    self.fault(scenario, f"{key} is an option here, but {words!r} does not name it")
            # Every number named is taken, and leads where the table says; every key is answered.
            for text in dict.fromkeys([*named, *KEYPAD]):
                leads_to = None
                if text in named:
                    leads_to = self.where_it_leads(state, text, self.context(scenario.now))
                if text in named and leads_to is None:
                    self.fault(scenario, f"{words!r} names {text}, but no choice here takes it")
                trial = self.session.begin_nested()
                try:
                    step = self.answer(state, text, scenario.now)
                    self.said(scenario, text, step)
                    undeclared = {r.key for r in step.replies} - self.declared(state, text, ctx)
                    if undeclared:
                        self.fault(scenario, f"{text!r} is answered with {sorted(undeclared)}, which the "
                                             f"table does not say that choice may answer")
                    if text not in named:
                        continue
                    puzzled = {r.key for r in step.replies} & PUZZLED
                    if puzzled:
                        self.fault(scenario, f"{words!r} names {text}, but it is answered with "
                                             f"{sorted(puzzled)}")
                    elif leads_to is not None and step.state.name not in leads_to:
                        self.fault(scenario, f"{text} leads to {step.state.name}, not to one of {leads_to}")
                finally:
                    trial.rollback()
        finally:
            outer.rollback()


@pytest.fixture
def her(make, db_session, centre):
    """The caller, her language set; nobody is on duty to take a call."""
    return make.client(NUMBER, language_code="nb")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("line", [SMS, VOICE])
def test_every_option_named_works_and_every_option_is_named(app, db_session, make, centre, her, line,
                                                            language):
    assert db_session.get(Language, language).is_enabled
    her.language_code = language
    db_session.flush()
    walk = Walk(app, db_session, make, centre, line, language)
    for scenario in scenarios(line):
        walk.walk(scenario)
    assert not walk.faults, "\n".join(walk.faults)


# --- every reply the dialogue has can be said on a call ------------------------------------------


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def dialogue_reply_keys() -> set[str]:
    """Every reply key hotline/conversation.py can answer with: ``reply("key")``, including
    a key chosen in an ``if`` or put together (``key = "booked"...; key += "_private"``)."""
    tree = ast.parse(Path(dialogue.__file__).read_text(encoding="utf-8"))
    keys: set[str] = set()
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        assigned: dict[str, set[str]] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                assigned.setdefault(node.targets[0].id, set()).update(_strings(node.value))
        for node in ast.walk(function):
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
                    and isinstance(node.value, ast.Constant):
                base = assigned.get(node.target.id, set())
                assigned[node.target.id] = base | {b + node.value.value for b in base}
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "reply" \
                    and node.args:
                first = node.args[0]
                keys |= assigned.get(first.id, set()) if isinstance(first, ast.Name) else _strings(first)
    return keys


def test_the_reply_keys_are_all_found():
    keys = dialogue_reply_keys()
    assert {"main_menu", "language_menu", "booked", "booked_private", "moved_private", "contact_weekdays_hours",
            "put_through", "leave_message", "nobody", "closed", "code_locked"} <= keys
    assert keys <= set(prompts.TEXTS) | set(ivr.VOICE_OF) | {"language_menu"}, "a reply with no words at all"


def test_every_reply_of_the_dialogue_is_one_the_table_says_a_choice_may_answer():
    # What a call in her language needs recorded is computed from the table (ivr.prompts_heard):
    # a reply the dialogue has that no choice declares would be missed there.
    _states, replies = dialogue.reachable((MAIN, REMINDER), VOICE)
    words_only = {"stopped", "started", "deleted"}  # no keypad sends them
    # The waiting list's offer comes as a text, and only a text answers it.
    _states, by_text = dialogue.reachable((MAIN, REMINDER, WAITLIST_OFFER), SMS)
    texts_only = {"waitlist_offer", "offer_passed", "offer_gone"}
    assert texts_only <= by_text
    assert dialogue_reply_keys() - replies == words_only | texts_only | {"language_menu"}


def test_every_reply_of_the_dialogue_has_its_words_on_a_call():
    keys = dialogue_reply_keys()
    # The language menu is said by the line itself, option by option (Line.language_menu).
    missing = sorted(k for k in keys - {"language_menu"} if k not in ivr.VOICE_OF)
    assert missing == [], "replies a call would answer with silence"
    unsaid = {k for k in keys if ivr.VOICE_OF.get(k, "") is None}
    # Unsaid are only what the line acts on itself, and what only words lead to (STOP,
    # START, DELETE), which no keypad can send.
    assert unsaid - LINE_HANDLED == {"stopped", "started", "deleted", "waitlist_offer", "offer_passed", "offer_gone"}
    assert not [w for w in kw.STOP | kw.START | kw.DELETE if re.fullmatch(r"[0-9*#]*", w)]


def test_what_the_line_acts_on_itself_is_never_silence(app, db_session, make, centre, her):
    walk = Walk(app, db_session, make, centre, VOICE, "en")
    line = walk.voice(NOW)
    state = State(name=MAIN, language="nb", updated_at=NOW)
    for key, verb in (("put_through", "Say"), ("leave_message", "Record")):
        twiml = str(line.step(Step(state, [Reply(key)]), tries=0))
        assert verb in twiml and "<Say" in twiml, (key, twiml)


def test_what_only_a_call_has_is_never_worded_as_a_text():
    for name, row in TABLE.items():
        if SMS not in row.lines:
            assert row.asks not in prompts.TEXTS, name
    assert VOICE_ONLY_REPLIES >= {"put_through", "leave_message", "nobody", "closed"}
    assert not VOICE_ONLY_REPLIES & set(prompts.TEXTS)


# --- what the walk found, end to end through the webhooks -------------------------------------


def test_on_a_call_with_no_one_free_0_for_the_menu_is_her_main_menu(app, centre):
    line = call(SimulatedPhone(WsgiTransport(app), "+4791111111", app.config["PUBLIC_BASE_URL"],
                               app.config["TWILIO_AUTH_TOKEN"]))
    line.press("2")  # English
    assert line.press("3")[-1].text == prompts.render("v_nobody", "en")  # "... For the menu, press 0."
    assert [h.text for h in line.press("0")] == [prompts.render("v_main_menu", "en")]


def test_by_text_9_is_not_on_her_main_menu(app, client, centre):
    texts = Phone(client, app, "+4791111111")
    texts.text("hi")
    main_menu = texts.text("2")  # English
    assert main_menu == prompts.render("main_menu", "en") and "9" not in main_menu
    assert texts.text("9") == "\n".join([prompts.render("not_understood", "en"), main_menu])
