"""The studio line: staff record the phone line's prompts in one call.

A second Twilio number points at ``/hotline/studio``. Whoever calls enters her personal
studio PIN, always (caller ID can be forged: her number alone opens nothing); wrong PINs
are braked as wrong passwords are (scheduling.brake), per calling number and for the line as a
whole. An admin may record every language, a recorder the languages she has.

She goes through what her language is missing in studio order (``studio_order``): the
language menu's option and the "coming soon, we will call you back" notice first, then
every piece a call needs before it can go on in the language (ivr.prompts_heard), then the
rest. For each she hears its Norwegian gloss, says it after the beep, hears it back, and
presses 1 keep, 2 again, 3 skip; # ends the session, and her next call in that language
resumes where she stopped.

A take stays at Twilio until the worker has it: a kept one is fetched by its RecordingSid
from TWILIO_API_BASE with the account's credentials (never from a URL posted to Linja),
stored as a take waiting for approval, and deleted at Twilio; a dropped one is deleted.
Callers hear a take only once an admin, or another recorder of the language, approved it
on the recordings page: until then they hear what they heard before.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline import ivr, prompts, voices
from scheduling import audit, brake
from scheduling.models import (
    Actor,
    Language,
    PromptRecording,
    Service,
    Staff,
    StaffRole,
    StudioCall,
    StudioTake,
    TakeStatus,
)

log = logging.getLogger(__name__)

PIN_DIGITS = 8
WRONG_PINS_PER_CALL = 3
# Wrong PINs braked like wrong passwords: per calling number, and on the line as a whole
# (a caller ID is easily changed), each past its limit waiting longer and longer.
FAILURES_PER_NUMBER = 5
FAILURES_ON_THE_LINE = 20
RECORD_SECONDS = 30
# Silence (or keys that mean nothing) this many times in a row at one step ends the call:
# a phone left off the hook must not go on asking for ever.
QUIET_TRIES = 3
# Another call that took a step this recently may be recording the piece it is at.
LIVE = timedelta(minutes=2)
# A take not chosen for, or not said to be ready, this long after it was made: settled.
ABANDONED = timedelta(hours=1)
# A fetch from Twilio that fails is tried again, each wait twice the last: 1, 2, 4 ... 64
# minutes, 8 tries in about two hours, before the take has failed and is asked for again.
FETCH_TRIES = 8
RETRY_FIRST = timedelta(minutes=1)
RETRY_MOST = timedelta(hours=6)
TWILIO_TIMEOUT = (5, 10)  # seconds to connect, and to wait for each read
# Who records: an admin every language, a recorder hers.
RECORDERS = (StaffRole.admin, StaffRole.recorder)
SID = re.compile(r"RE[0-9a-fA-F]{32}")


def sniff(head: bytes) -> str | None:
    """The audio type the file's first bytes show, or None when it is not MP3 or WAV."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:3] == b"ID3":
        return "audio/mpeg"
    # An MPEG audio frame without an ID3 tag: 11 sync bits, layer III.
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) == 0x02:
        return "audio/mpeg"
    return None


def pin_hash(secret_key: str, pin: str) -> str:
    """How a studio PIN is kept: an HMAC under the app's secret, so it can be looked up."""
    return hmac.new(secret_key.encode(), f"studio-pin:{pin}".encode(), hashlib.sha256).hexdigest()


def new_pin(session: Session, staff: Staff, secret_key: str) -> str:
    """Give ``staff`` a new studio PIN (shown to her once); her old one stops working."""
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))
        digest = pin_hash(secret_key, pin)
        if session.scalar(select(Staff.id).where(Staff.studio_pin_hash == digest)) is None:
            staff.studio_pin_hash = digest
            return pin


def may_record(staff: Staff, language: str) -> bool:
    if not staff.is_active or staff.role not in RECORDERS:
        return False
    return staff.role == StaffRole.admin or staff.speaks(language)


def studio_order(language: str, service_slugs: list[str]) -> list[str]:
    """Every piece to record in ``language``, in the order the studio asks for them."""
    option = voices.pieces_to_record(language, service_slugs, ["v_language_option"])
    first = [key for key in option if not key.startswith("digit:")] + ["v_not_available"] + option
    needed = voices.pieces_to_record(language, service_slugs, ivr.prompts_heard())
    return list(dict.fromkeys([*first, *needed, *voices.pieces_to_record(language, service_slugs)]))


# The values a sentence is cut at, as the gloss names them.
VALUE_NAMES = {"when": "tidspunktet", "digit": "tallet", "service": "tjenesten", "language": "språknavnet"}


def gloss(key: str, language: str) -> str:
    """What the piece means, in Norwegian, for the person recording it in ``language``: a
    piece of a sentence is named by where it stands in her language's sentence (its pieces
    need not match the Norwegian sentence's)."""
    base, _hash, index = key.partition("#")
    if base in prompts.VOICE_TEXTS:
        norwegian = "".join(part if isinstance(part, str) else "…" for part in voices.fragments(base, "nb")).strip()
        if not index:
            return norwegian
        parts = voices.fragments(base, language)
        fixed = [i for i, part in enumerate(parts) if isinstance(part, str)]
        if not index.isdigit() or int(index) >= len(fixed):
            return f"Del av setningen «{norwegian}»."
        at = fixed[int(index)]
        before = next((VALUE_NAMES.get(p[0], p[0]) for p in reversed(parts[:at]) if not isinstance(p, str)), None)
        after = next((VALUE_NAMES.get(p[0], p[0]) for p in parts[at + 1:] if not isinstance(p, str)), None)
        where = (f"mellom {before} og {after}" if before and after else f"etter {before}" if before
                 else f"før {after}" if after else "")
        return f"Del av setningen «{norwegian}»: ordene {where}.".replace(" .", ".")
    kind, _colon, value = key.partition(":")
    if kind in ("weekday", "month"):
        return ("Ukedagen " if kind == "weekday" else "Måneden ") + voices.script(key, "nb")
    if kind == "day":
        return f"Dag i måneden: {value}."
    if kind == "hour":
        return f"Klokka {value}."
    if kind == "minute":
        return f"Minuttene {value}." if value != "00" else "Hel time: null null."
    if kind == "digit":
        return f"Tallet {value}."
    if kind == "service":
        return f"Tjenesten {value.replace('-', ' ')}."
    if kind == "language":
        return "Navnet på språket ditt."
    return key


def _missing(session: Session, language: str, order: list[str]) -> list[str]:
    """The pieces of ``order`` with neither a current recording nor a take waiting for approval."""
    have = {key for key, version in session.execute(
        select(PromptRecording.prompt_key, PromptRecording.text_version)
        .where(PromptRecording.language_code == language)) if voices.is_current(key, version)}
    have |= {key for key, version in session.execute(
        select(StudioTake.prompt_key, StudioTake.text_version).where(
            StudioTake.language_code == language,
            StudioTake.status.in_((TakeStatus.kept, TakeStatus.waiting))))
        if voices.is_current(key, version)}
    return [key for key in order if key not in have]


@dataclass
class Studio:
    """One request's view of the studio line."""

    session: Session
    now: datetime
    secret_key: str
    account_sid: str  # the Twilio account whose recordings a take is played back from
    url: Callable[..., str]  # url(step, **query) -> path
    call_sid: str
    caller: str

    # --- the call's row ----------------------------------------------------------------
    def call(self) -> StudioCall:
        call = self.session.get(StudioCall, self.call_sid, with_for_update=True)
        if call is None:
            call = StudioCall(call_sid=self.call_sid, data={}, started_at=self.now, updated_at=self.now)
            self.session.add(call)
            try:
                with self.session.begin_nested():
                    self.session.flush()
            except IntegrityError:  # Twilio's retry of the first request, at the same moment
                call = self.session.get(StudioCall, self.call_sid, with_for_update=True, populate_existing=True)
        return call

    def staff(self) -> Staff | None:
        call = self.call()
        return self.session.get(Staff, call.staff_id) if call.staff_id else None

    def _still_allowed(self, call: StudioCall) -> bool:
        """Whether she may still record what she is recording: she may have been made
        inactive, given another role, or lost the language since she called."""
        staff = self.session.get(Staff, call.staff_id) if call.staff_id else None
        if staff is None or not staff.is_active or staff.role not in RECORDERS:
            return False
        code = call.language_code
        return code is None or (may_record(staff, code) and bool(self.session.scalar(
            select(Language.is_enabled).where(Language.code == code))))

    def _shut(self, call: StudioCall) -> VoiceResponse:
        """The studio closes for her mid-call: a take she has not kept is dropped."""
        self._drop_open_take(call)
        call.data, call.updated_at = {**call.data, "ended": True}, self.now
        return self.bye("Du kan ikke spille inn her nå. Ha det.")

    def _drop_open_take(self, call: StudioCall) -> None:
        sid = call.data.get("take")
        take = self.session.scalars(select(StudioTake).where(StudioTake.recording_sid == sid)).first() \
            if sid else None
        if take is not None and take.status == TakeStatus.recorded:
            take.status, take.updated_at = TakeStatus.dropped, self.now

    def _quiet(self, call: StudioCall) -> bool:
        """One more silence in a row; True when it is the last she gets."""
        quiet = int(call.data.get("quiet", 0)) + 1
        call.data, call.updated_at = {**call.data, "quiet": quiet}, self.now
        return quiet >= QUIET_TRIES

    def _heard(self, call: StudioCall) -> None:
        if call.data.get("quiet"):
            call.data = {**call.data, "quiet": 0}

    def _quiet_bye(self, call: StudioCall) -> VoiceResponse:
        self._drop_open_take(call)
        call.data = {**call.data, "ended": True}
        return self.bye("Vi hørte ingenting. Neste gang du ringer, fortsetter du her. Ha det.")

    # --- speaking -----------------------------------------------------------------------
    @staticmethod
    def say(target, text: str) -> None:
        name, code = voices.VOICES["nb"]
        target.say(text, voice=name, language=code)

    def gather(self, step: str, text: str, *, digits: int | None = 1, **query) -> VoiceResponse:
        response = VoiceResponse()
        options = {"num_digits": digits} if digits else {"finish_on_key": "#"}
        gather = Gather(action=self.url(step, **query), method="POST", timeout=10, action_on_empty_result=True,
                        **options)
        self.say(gather, text)
        response.append(gather)
        response.redirect(self.url(step, **query), method="POST")
        return response

    def bye(self, text: str) -> VoiceResponse:
        response = VoiceResponse()
        self.say(response, text)
        response.hangup()
        return response

    # --- the steps ----------------------------------------------------------------------
    def answer(self) -> VoiceResponse:
        self.call()
        return self.gather("pin", "Linja studio. Tast PIN-koden din, og avslutt med firkant.", digits=None)

    def pin(self, digits: str) -> VoiceResponse:
        call = self.call()
        if call.staff_id is not None:  # a retry after she was let in
            return self.next_prompt()
        digits = (digits or "").strip()
        if not digits:  # silence (a pocket dial, a robocall) guesses nothing: no brake
            return self._wrong_pin(call)
        counters = [brake.Counter("studio_number", self.caller[:64] or "hidden", FAILURES_PER_NUMBER),
                    brake.Counter(brake.NETWORK, "studio_line", FAILURES_ON_THE_LINE)]
        wait = brake.count_try(self.session, counters, self.now)
        if wait is not None:
            self.session.rollback()  # a try not checked is not counted
            log.warning("studio line: PIN tries braked for %s (the calling number, or the line as a whole)",
                        wait)
            return self.bye("For mange feil PIN-koder. Prøv igjen senere. Ha det.")
        staff = None
        # Only keypad digits: a star (or anything else) inside a PIN makes it wrong.
        if len(digits) == PIN_DIGITS and digits.isascii() and digits.isdecimal():
            staff = self.session.scalars(select(Staff).where(
                Staff.studio_pin_hash == pin_hash(self.secret_key, digits))).first()
        if staff is None or not staff.is_active or staff.role not in RECORDERS:
            return self._wrong_pin(call)
        brake.forget(self.session, counters)
        call.staff_id, call.updated_at = staff.id, self.now
        audit.record(self.session, at=self.now, actor=Actor.staff, actor_staff_id=staff.id, action="studio_opened",
                     details={"call": self.call_sid})
        languages = self.languages(staff)
        if not languages:
            return self.bye("Du har ingen språk å spille inn på. Ha det.")
        if len(languages) == 1:
            return self.choose(languages[0])
        return self.language_menu(languages)

    def _wrong_pin(self, call: StudioCall) -> VoiceResponse:
        tries = int(call.data.get("pin_tries", 0)) + 1
        call.data, call.updated_at = {**call.data, "pin_tries": tries}, self.now
        if tries >= WRONG_PINS_PER_CALL:
            return self.bye("PIN-koden er feil. Ha det.")
        return self.gather("pin", "PIN-koden er feil. Tast den igjen, og avslutt med firkant.", digits=None)

    def languages(self, staff: Staff) -> list[str]:
        enabled = self.session.scalars(select(Language.code).where(Language.is_enabled.is_(True))
                                       .order_by(Language.menu_order, Language.code)).all()
        # A language with a voice needs nothing recorded: what is missing is in the others.
        return [code for code in enabled if may_record(staff, code) and voices.voice(code) is None]

    def language_menu(self, languages: list[str]) -> VoiceResponse:
        text = " ".join(f"For {voices.spoken_name(code, 'nb')}, trykk {digit}." for digit, code in
                        enumerate(languages, start=1))
        return self.gather("language", "Velg språk. " + text)

    def language(self, digits: str) -> VoiceResponse:
        call = self.call()
        staff = self.staff()
        if staff is None:
            return self.answer()
        if not self._still_allowed(call):
            return self._shut(call)
        if call.language_code is not None:  # Twilio's retry of the choice she made: she goes on
            return self.next_prompt()
        languages = self.languages(staff)
        digits = digits.strip()
        choice = int(digits) if digits.isascii() and digits.isdecimal() and len(digits) < 3 else 0
        if not 1 <= choice <= len(languages):
            if self._quiet(call):
                return self._quiet_bye(call)
            return self.language_menu(languages)
        self._heard(call)
        return self.choose(languages[choice - 1])

    def choose(self, language: str) -> VoiceResponse:
        call = self.call()
        # Her last session in this language: she goes on from where she stopped.
        before = self.session.scalars(
            select(StudioCall).where(StudioCall.staff_id == call.staff_id, StudioCall.language_code == language,
                                     StudioCall.call_sid != call.call_sid)
            .order_by(StudioCall.updated_at.desc()).limit(1)).first()
        call.language_code = language
        call.data = {"at": (before.data or {}).get("at") if before else None, "skipped": []}
        call.updated_at = self.now
        audit.record(self.session, at=self.now, actor=Actor.staff, actor_staff_id=call.staff_id,
                     action="studio_session", details={"call": self.call_sid, "language": language})
        return self.next_prompt()

    def _order(self, language: str) -> list[str]:
        slugs = self.session.scalars(select(Service.slug).where(Service.is_active.is_(True))
                                     .order_by(Service.menu_order, Service.id)).all()
        return studio_order(language, slugs)

    def next_prompt(self, *, again: bool = False) -> VoiceResponse:
        call = self.call()
        staff = self.staff()
        if staff is None or call.language_code is None:
            return self.answer() if staff is None else self.language_menu(self.languages(staff))
        if not self._still_allowed(call):
            return self._shut(call)
        order = self._order(call.language_code)
        missing = [key for key in _missing(self.session, call.language_code, order)
                   if key not in call.data.get("skipped", [])]
        if not missing:
            call.data = {**call.data, "ended": True}
            return self.bye("Alt er spilt inn på dette språket. Takk! Ha det.")
        # A piece another call is recording right now (hers on a second phone, or a
        # colleague's) is left to it, unless nothing else is left.
        free = [key for key in missing if key not in self._busy(call)]
        if free and not (again and call.data.get("at") in missing):
            missing = free
        at = call.data.get("at")
        if at in order and not again:
            later = [key for key in missing if order.index(key) >= order.index(at)]
            key = (later or missing)[0]
        else:
            key = at if again and at in missing else missing[0]
        call.data, call.updated_at = {**call.data, "at": key}, self.now
        response = VoiceResponse()
        self.say(response, f"{len(missing)} igjen. {gloss(key, call.language_code)} "
                           "Si det etter pipetonen, og trykk firkant.")
        response.record(action=self.url("recorded", key=key), method="POST", max_length=RECORD_SECONDS,
                        finish_on_key="#", play_beep=True, timeout=5, trim="trim-silence",
                        recording_status_callback=self.url("take-ready", key=key),
                        recording_status_callback_method="POST", recording_status_callback_event="completed")
        response.redirect(self.url("recorded", key=key), method="POST")
        return response

    def _busy(self, call: StudioCall) -> set[str]:
        others = self.session.scalars(select(StudioCall).where(
            StudioCall.language_code == call.language_code, StudioCall.call_sid != call.call_sid,
            StudioCall.updated_at >= self.now - LIVE)).all()
        return {other.data.get("at") for other in others if not (other.data or {}).get("ended")} - {None}

    def _take(self, recording_sid: str, key: str) -> StudioTake | None:
        """The take with ``recording_sid`` (made once, whichever of Twilio's two requests about
        it comes first)."""
        call = self.call()
        if not SID.fullmatch(recording_sid) or call.staff_id is None or call.language_code is None:
            return None
        take = self.session.scalars(select(StudioTake).where(StudioTake.recording_sid == recording_sid)).first()
        if take is not None:
            return take
        take = StudioTake(recording_sid=recording_sid, call_sid=self.call_sid, staff_id=call.staff_id,
                          language_code=call.language_code, prompt_key=key, text_version=voices.text_version(key),
                          status=TakeStatus.recorded, is_ready=False, tries=0, recorded_at=self.now,
                          updated_at=self.now)
        self.session.add(take)
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError:
            take = self.session.scalars(select(StudioTake).where(StudioTake.recording_sid == recording_sid)).first()
        return take

    def recorded(self, key: str, recording_sid: str, recording_url: str, duration: str) -> VoiceResponse:
        call = self.call()
        if call.staff_id is None:
            return self.answer()
        if key != call.data.get("at"):  # a late retry for a piece she has left
            return self.next_prompt()
        take = self._take(recording_sid, key)
        if take is not None:
            call.data, call.updated_at = {**call.data, "take": take.recording_sid}, self.now
        if not self._still_allowed(call):
            return self._shut(call)
        if take is None or (duration or "0").strip() in ("", "0"):
            self._drop_open_take(call)
            if self._quiet(call):
                return self._quiet_bye(call)
            return self.next_prompt(again=True)
        self._heard(call)
        response = VoiceResponse()
        self.say(response, "Du sa:")
        # Played from Twilio's own address for this account's recording, never a posted host.
        response.play(_media_url(self.account_sid, take.recording_sid))
        return self._ask_choice(response, key)

    def _ask_choice(self, response: VoiceResponse, key: str) -> VoiceResponse:
        gather = Gather(action=self.url("choice", key=key), method="POST", num_digits=1, timeout=10,
                        action_on_empty_result=True, finish_on_key="")
        self.say(gather, "Trykk 1 for å beholde det, 2 for å si det igjen, 3 for å hoppe over. "
                         "Firkant avslutter.")
        response.append(gather)
        response.redirect(self.url("choice", key=key), method="POST")
        return response

    def choice(self, key: str, digits: str) -> VoiceResponse:
        call = self.call()
        if call.staff_id is None:
            return self.answer()
        sid = call.data.get("take")
        take = self.session.scalars(select(StudioTake).where(StudioTake.recording_sid == sid)).first() \
            if sid else None
        if not self._still_allowed(call):
            return self._shut(call)
        if key != call.data.get("at") or take is None or take.status != TakeStatus.recorded:
            return self.next_prompt()  # a late retry: she goes on where she is
        pressed = (digits or "").strip()[:1]
        if pressed in ("1", "2", "3", "#"):
            self._heard(call)
        elif self._quiet(call):
            return self._quiet_bye(call)
        if pressed == "1":
            take.status, take.updated_at = TakeStatus.kept, self.now
            return self.next_prompt()
        if pressed in ("2", "3", "#"):
            take.status, take.updated_at = TakeStatus.dropped, self.now
            if pressed == "2":
                return self.next_prompt(again=True)
            if pressed == "3":
                call.data = {**call.data, "skipped": [*call.data.get("skipped", []), key]}
                return self.next_prompt()
            call.data = {**call.data, "ended": True}
            return self.bye("Takk. Neste gang du ringer, fortsetter du her. Ha det.")
        return self._ask_choice(VoiceResponse(), key)

    def take_ready(self, key: str, recording_sid: str, status: str) -> None:
        """Twilio's recording status callback: the take can be fetched (or deleted) now."""
        if status != "completed":
            return
        call = self.session.get(StudioCall, self.call_sid)
        if call is None or call.staff_id is None:
            return
        take = self._take(recording_sid, key)
        if take is not None:
            take.is_ready, take.updated_at = True, self.now


def _media_url(account_sid: str, recording_sid: str) -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}"


# --- the worker: takes fetched from Twilio, or deleted there ----------------------------------


def settle_abandoned(session: Session, now: datetime) -> None:
    """A take she never chose for (the call dropped at "1 keep, 2 again") is dropped after
    ``ABANDONED``; one whose "ready" Twilio never sent is taken as ready then. Either way
    nothing is left at Twilio: the worker deletes it (or fetches it, if kept)."""
    stale = now - ABANDONED
    session.execute(update(StudioTake).where(StudioTake.status == TakeStatus.recorded, StudioTake.updated_at < stale)
                    .values(status=TakeStatus.dropped, is_ready=True, updated_at=now))
    session.execute(update(StudioTake).where(StudioTake.status.in_((TakeStatus.kept, TakeStatus.dropped)),
                                             StudioTake.is_ready.is_(False), StudioTake.updated_at < stale)
                    .values(is_ready=True, updated_at=now))


def _retry_later(take: StudioTake, now: datetime) -> None:
    """One more failure in a row: the next try waits twice as long as the last (at most RETRY_MOST)."""
    take.tries += 1
    take.next_try_at, take.updated_at = now + min(RETRY_FIRST * 2 ** (take.tries - 1), RETRY_MOST), now


def _settled(take: StudioTake, now: datetime, status: TakeStatus, **values) -> None:
    take.status, take.tries, take.next_try_at, take.updated_at = status, 0, None, now
    for name, value in values.items():
        setattr(take, name, value)


def _due(session: Session, now: datetime, limit: int, *where) -> list[StudioTake]:
    return session.scalars(select(StudioTake).where(
        StudioTake.is_ready.is_(True), StudioTake.at_twilio.is_(True),
        or_(StudioTake.next_try_at.is_(None), StudioTake.next_try_at <= now), *where)
        .order_by(StudioTake.id).limit(limit).with_for_update(skip_locked=True)).all()


def _recordings(twilio, api_base: str) -> tuple[requests.Session, tuple[str, str], str]:
    http = getattr(twilio.http_client, "session", None) or requests.Session()
    base = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{twilio.account_sid}/Recordings/"
    return http, (twilio.username, twilio.password), base


def fetch_takes(session: Session, twilio, api_base: str, now: datetime, *, until: Callable[[], bool] = lambda: False,
                limit: int = 20) -> int:
    """Fetch each kept take Twilio has ready, by its RecordingSid, from ``api_base`` with the
    account's credentials (never from a URL posted to Linja), and keep it for approval. It
    is deleted at Twilio by ``delete_at_twilio``, once the audio is stored. A fetch that
    fails is tried again later and later; after FETCH_TRIES the take has failed and its
    piece is asked for again. Stops early when ``until()``. Returns how many were fetched."""
    if twilio is None:
        return 0
    http, auth, base = _recordings(twilio, api_base)
    done = 0
    for take in _due(session, now, limit, StudioTake.status == TakeStatus.kept):
        if until():
            break
        try:
            answer = http.get(base + take.recording_sid + ".wav", auth=auth, timeout=TWILIO_TIMEOUT)
        except requests.RequestException:
            answer = None
        if answer is not None and answer.status_code == 200 and sniff(answer.content[:16]) == "audio/wav":
            _settled(take, now, TakeStatus.waiting, audio=answer.content, content_type="audio/wav")
            done += 1
        elif answer is not None and answer.status_code == 404:
            log.error("studio take %s: Twilio no longer has it; its piece is asked for again", take.recording_sid)
            _settled(take, now, TakeStatus.failed, at_twilio=False)
        else:
            _retry_later(take, now)
            log.warning("studio take %s not fetched (%s), try %d", take.recording_sid,
                        answer.status_code if answer is not None else "no answer", take.tries)
            if take.tries >= FETCH_TRIES:
                log.error("studio take %s given up; its piece is asked for again", take.recording_sid)
                _settled(take, now, TakeStatus.failed)  # still deleted at Twilio
    return done


def delete_at_twilio(session: Session, twilio, api_base: str, now: datetime, *,
                     until: Callable[[], bool] = lambda: False, limit: int = 20) -> int:
    """Delete at Twilio each take Linja holds now, or never will: fetched, dropped or failed.
    A delete that fails is tried again, later and later, until Twilio has it no more.
    Returns how many were deleted."""
    if twilio is None:
        return 0
    http, auth, base = _recordings(twilio, api_base)
    done = 0
    for take in _due(session, now, limit, StudioTake.status.not_in((TakeStatus.recorded, TakeStatus.kept))):
        if until():
            break
        try:
            gone = http.delete(base + take.recording_sid + ".json", auth=auth, timeout=TWILIO_TIMEOUT).status_code
        except requests.RequestException:
            gone = None
        if gone in (204, 404):
            status = TakeStatus.gone if take.status == TakeStatus.dropped else take.status
            _settled(take, now, status, at_twilio=False)
            done += 1
        else:
            _retry_later(take, now)
            log.log(logging.ERROR if take.tries >= FETCH_TRIES else logging.WARNING,
                    "studio take %s not deleted at Twilio (%s), try %d", take.recording_sid, gone or "no answer",
                    take.tries)
    return done


def settle_unreachable(session: Session, now: datetime) -> None:
    """Without a Twilio account (the phone simulator alone) a take the simulator no longer
    holds (lost in a restart, or pushed out) can be fetched from nowhere: ``ABANDONED``
    after it was last touched a kept one has failed, so its piece is asked for again, and a
    dropped one is gone."""
    stale = now - ABANDONED
    where = (StudioTake.at_twilio.is_(True), StudioTake.is_ready.is_(True), StudioTake.updated_at < stale)
    session.execute(update(StudioTake).where(*where, StudioTake.status == TakeStatus.kept)
                    .values(status=TakeStatus.failed, at_twilio=False, updated_at=now))
    session.execute(update(StudioTake).where(*where, StudioTake.status == TakeStatus.dropped)
                    .values(status=TakeStatus.gone, at_twilio=False, updated_at=now))
    session.execute(update(StudioTake).where(*where).values(at_twilio=False, updated_at=now))


def take_simulated(session: Session, store, now: datetime, limit: int = 20) -> int:
    """The phone simulator's takes (hotline.simulator), handled as Twilio's are: a kept one
    is taken from ``store`` (the audio the simulator page gave, kept in this process) and
    waits for approval, a dropped one is forgotten; each is then removed from ``store``.
    Only takes whose RecordingSid is in ``store`` are looked at, so Twilio's stay for
    ``fetch_takes``. Returns how many takes were handled."""
    sids = store.sids()
    if not sids:
        return 0
    done = 0
    for take in _due(session, now, limit, StudioTake.recording_sid.in_(sids),
                     StudioTake.status.not_in((TakeStatus.recorded,))):
        found = store.get(take.recording_sid) if take.status == TakeStatus.kept else None
        if take.status == TakeStatus.kept:
            if found is None:
                _settled(take, now, TakeStatus.failed, at_twilio=False)
            else:
                _settled(take, now, TakeStatus.waiting, audio=found[0], content_type=found[1],
                         at_twilio=False)
        else:
            _settled(take, now, TakeStatus.gone if take.status == TakeStatus.dropped else take.status,
                     at_twilio=False)
        store.discard(take.recording_sid)
        done += 1
    return done


# --- approval ------------------------------------------------------------------------------


def approve(session: Session, take: StudioTake, by: Staff, now: datetime) -> PromptRecording:
    """``take`` becomes what callers hear for its piece (the one before it is replaced)."""
    row = session.scalars(select(PromptRecording).where(
        PromptRecording.prompt_key == take.prompt_key, PromptRecording.language_code == take.language_code)).first()
    is_new = row is None
    if is_new:
        row = PromptRecording(prompt_key=take.prompt_key, language_code=take.language_code)
        session.add(row)
    row.token = secrets.token_urlsafe(32)
    row.content_type, row.audio, row.uploaded_at, row.text_version = (
        take.content_type or "audio/wav", take.audio, now, take.text_version)
    # The recording holds the audio now: the take keeps who made it and who approved it.
    take.status, take.decided_by_staff_id, take.updated_at, take.audio = TakeStatus.approved, by.id, now, None
    session.flush()
    audit.record(session, at=now, actor=Actor.staff, actor_staff_id=by.id, action="recording_approved",
                 details={"recording": row.id, "prompt_key": take.prompt_key, "language": take.language_code,
                          "recorded_by": take.staff_id})
    return row


def reject(session: Session, take: StudioTake, by: Staff, now: datetime) -> None:
    take.status, take.decided_by_staff_id, take.updated_at, take.audio = TakeStatus.rejected, by.id, now, None
    audit.record(session, at=now, actor=Actor.staff, actor_staff_id=by.id, action="recording_rejected",
                 details={"prompt_key": take.prompt_key, "language": take.language_code,
                          "recorded_by": take.staff_id})


def may_approve(staff: Staff, take: StudioTake) -> bool:
    """An admin, or another recorder of the take's language."""
    if not staff.is_active:
        return False
    if staff.role == StaffRole.admin:
        return True
    return staff.role == StaffRole.recorder and staff.speaks(take.language_code) and staff.id != take.staff_id

