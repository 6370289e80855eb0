"""The phone simulator: a basic phone in the browser, for trying Linja without Twilio.

Calls work the same way: ``hotline.phone.VoiceCall`` reads the voice TwiML Linja answers
(Say, Play, Gather, Redirect, Record, Dial, Hangup, Pause), and the page shows what is said
and sends the keys she presses.

Registered only outside production, and only without Twilio credentials unless
SIMULATOR_ENABLED=1. Texting goes through ``hotline.phone`` to the real, signed webhook;
texts the worker sends to that number (reminders, changes by staff) show in the thread.
The page can move Linja's clock forward ("one day later") to see a reminder arrive.

It can also call the studio line (hotline.studio): at each <Record> the page gives the take
(a WAV or MP3 file, or the microphone's sound as a WAV made in the page), the simulator keeps
it in this process under a RecordingSid of its own (``Takes``) and posts what Twilio would,
and the worker takes a kept one from there (hotline.studio.take_simulated).
"""
from __future__ import annotations

import io
import math
import secrets
import threading
import wave
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from babel.dates import format_datetime
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from hotline.phone import CENTRE_NUMBER, SimulatedPhone, VoiceCall, WebhookRefused, WsgiTransport
from hotline.webhooks import db
from scheduling.models import PromptRecording, StudioTake
from hotline.studio import sniff
from scheduling.phones import parse_phone

if TYPE_CHECKING:
    from scheduling.worker import Worker

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

DEMO_NUMBERS = ["+4791234567", "+4792345678", "+4741234567", "+4746123456"]
MAX_BODY = 1600
# What she may type for a hidden number; Twilio sends "anonymous" as its From.
HIDDEN = ("anonymous", "hidden")
STUDIO_NUMBER = "+4722000001"  # the studio line's number, as the simulator shows it
MAX_TAKE_BYTES = 5 * 1024 * 1024
TAKES_KEPT = 60  # takes kept in memory at most; the oldest is forgotten first
TAKE_TYPES = ("audio/wav", "audio/mpeg")


def is_enabled(config: dict) -> bool:
    if config["IS_PRODUCTION"]:
        return False
    return config.get("SIMULATOR_ENABLED") or not config["TWILIO_ACCOUNT_SID"]


@dataclass
class Entry:
    number: str
    direction: str  # "sent" by her, or "received" from Linja
    text: str
    at: datetime
    seq: int


@dataclass
class Thread:
    """What each simulated phone sent and was answered, kept in this process only."""

    entries: list[Entry] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, number: str, direction: str, text: str, at: datetime) -> None:
        with self.lock:
            self.entries.append(Entry(number, direction, text, at, len(self.entries)))

    def of(self, number: str) -> list[Entry]:
        with self.lock:
            return [e for e in self.entries if e.number == number]


class Takes:
    """The studio takes given on the page, by RecordingSid, kept in this process only (as
    Twilio keeps a recording until the worker has fetched it)."""

    def __init__(self, limit: int = TAKES_KEPT):
        self._takes: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def add(self, audio: bytes, content_type: str) -> str:
        sid = "RE" + secrets.token_hex(16)
        with self._lock:
            self._takes[sid] = (audio, content_type)
            while len(self._takes) > self._limit:
                self._takes.popitem(last=False)
        return sid

    def get(self, sid: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._takes.get(sid)

    def discard(self, sid: str) -> None:
        with self._lock:
            self._takes.pop(sid, None)

    def sids(self) -> list[str]:
        with self._lock:
            return list(self._takes)


def init_app(app: Flask, make_worker: Callable[[Flask], Worker]) -> None:
    """``make_worker`` builds the worker the page runs once after moving the clock (the
    app's own, so that what she sees is what the worker process would send)."""
    if not is_enabled(app.config):
        return
    app.extensions["linja.simulator"] = Thread()
    app.extensions["linja.simulator.make_worker"] = make_worker
    app.extensions["linja.simulator.calls"] = {}
    app.extensions["linja.simulator.takes"] = Takes()
    app.register_blueprint(bp)


@bp.errorhandler(HTTPException)
def _error(error: HTTPException):
    """The page's requests are answered in JSON, errors too: the page shows the reason."""
    return jsonify(error=error.description), error.code


def _is_hidden(raw) -> bool:
    return str(raw or "").strip().lower() in HIDDEN


def _number(raw: str | None) -> str:
    parsed = parse_phone(raw, current_app.config["DEFAULT_PHONE_REGION"])
    if not parsed.is_valid:
        abort(400, description=parsed.message)
    return parsed.e164


def _clock():
    return current_app.extensions["linja.clock"]


def _local(at: datetime) -> str:
    rules = current_app.extensions["linja.rules"]
    return format_datetime(at, "EEE d. MMM HH:mm", tzinfo=rules.tz, locale="nb_NO")


@bp.get("/")
def page():
    # A studio take may come from the microphone: web.security lets this page, and only it, ask.
    return Response(render_template("simulator/phone.html", numbers=DEMO_NUMBERS,
                                    can_travel=hasattr(_clock(), "advance")))


@bp.post("/api/sms")
def send_sms():
    if not request.is_json:  # a JSON body cannot be posted across sites without asking
        abort(415)
    payload = request.get_json(silent=True) or {}
    if _is_hidden(payload.get("from")):
        abort(400, description="A hidden number cannot text (Twilio delivers no text from one); "
                               "it can call. Choose a number to text from.")
    number = _number(payload.get("from"))
    body = str(payload.get("body", ""))[:MAX_BODY]
    thread = current_app.extensions["linja.simulator"]
    thread.add(number, "sent", body, _clock().now())
    phone = SimulatedPhone(WsgiTransport(current_app._get_current_object()), number,
                           current_app.config["PUBLIC_BASE_URL"], current_app.config["TWILIO_AUTH_TOKEN"])
    try:
        replies = phone.text(body)
    except WebhookRefused as error:
        return jsonify(error=str(error)), 502
    for text in replies:
        thread.add(number, "received", text, _clock().now())
    return jsonify(replies=replies)


@bp.get("/api/thread")
def thread():
    now = _clock().now()
    if _is_hidden(request.args.get("number")):  # nothing is texted to a hidden number
        return jsonify(messages=[], now=now.isoformat(), now_local=_local(now))
    number = _number(request.args.get("number"))
    entries = [
        {"direction": e.direction, "text": e.text, "at": e.at.isoformat(), "when": _local(e.at), "order": (e.at, 0, e.seq)}
        for e in current_app.extensions["linja.simulator"].of(number)
    ]
    sender = current_app.extensions["linja.sender"]
    if hasattr(sender, "texts_to"):  # the console sender: what the worker sent her
        entries += [
            {"direction": "received", "text": t.body, "at": t.at.isoformat(), "when": _local(t.at),
             "order": (t.at, 1, i)}
            for i, t in enumerate(sender.texts_to(number))
        ]
    entries.sort(key=lambda e: e.pop("order"))
    return jsonify(messages=entries, now=now.isoformat(), now_local=_local(now))


def _calls() -> dict[str, VoiceCall]:
    return current_app.extensions["linja.simulator.calls"]


def _takes() -> Takes:
    return current_app.extensions["linja.simulator.takes"]


def _is_studio(voice_call: VoiceCall) -> bool:
    return voice_call.entry == "/hotline/studio"


def _take_audio(url: str) -> str | None:
    """Where the page plays a studio take the line plays back (Twilio's address for it is no
    use without Twilio), or None when it is no take of the simulator's."""
    sid = url.rsplit("/", 1)[-1]
    if _takes().get(sid) is None:
        return None
    return url_for("simulator.take_audio", sid=sid)


def _call_state(call_id: str, voice_call: VoiceCall, heard) -> dict:
    tokens = [h.text.rsplit("/", 1)[-1] for h in heard if h.kind == "play"]
    names = dict(db().execute(
        select(PromptRecording.token, PromptRecording.prompt_key).where(PromptRecording.token.in_(tokens))
    ).all()) if tokens else {}
    return {
        "id": call_id, "ended": voice_call.ended, "waiting_for": voice_call.waiting_for,
        "line": "studio" if _is_studio(voice_call) else "voice",
        # How the page sends keys: each at once, or gathered until the finishing key.
        "keys": dict(zip(("digits", "finish"), voice_call.keys_wanted)) if voice_call.keys_wanted else None,
        "heard": [
            {"kind": h.kind, "text": h.text, "language": h.language, "voice": h.voice,
             "recording": names.get(h.text.rsplit("/", 1)[-1]) if h.kind == "play" else None,
             "audio": _take_audio(h.text) if h.kind == "play" else None}
            for h in heard
        ],
    }


@bp.post("/api/call")
def start_call():
    """Call Linja from a number; returns what the line says until it waits for her."""
    if not request.is_json:
        abort(415)
    payload = request.get_json(silent=True) or {}
    raw = str(payload.get("from", ""))
    number = "anonymous" if _is_hidden(raw) else _number(raw)
    studio = payload.get("line") == "studio"
    phone = SimulatedPhone(WsgiTransport(current_app._get_current_object()), number,
                           current_app.config["PUBLIC_BASE_URL"], current_app.config["TWILIO_AUTH_TOKEN"],
                           to=STUDIO_NUMBER if studio else CENTRE_NUMBER)
    if studio:  # a session goes through every piece a language misses: many requests
        voice_call = VoiceCall(phone, entry="/hotline/studio", max_steps=5000)
    else:
        voice_call = VoiceCall(phone, dial_outcome=str(payload.get("dial_outcome", "no-answer")))
    try:
        heard = voice_call.start()
    except WebhookRefused as error:
        return jsonify(error=str(error)), 502
    calls = _calls()
    calls[voice_call.sid] = voice_call
    while len(calls) > 50:  # forget the oldest calls
        calls.pop(next(iter(calls)))
    return jsonify(_call_state(voice_call.sid, voice_call, heard))


@bp.post("/api/call/<call_id>/<action>")
def call_action(call_id: str, action: str):
    voice_call = _calls().get(call_id)
    if voice_call is None:
        abort(404)
    payload = request.get_json(silent=True) or {}
    try:
        if action == "press":
            keys = str(payload.get("digits", ""))[:20]
            if not keys or any(key not in "0123456789*#" for key in keys):
                abort(400, description="digits: keys of the keypad")
            heard = voice_call.press(keys)
        elif action == "silence":
            heard = voice_call.silence()
        elif action == "message":
            heard = voice_call.leave_message()
        elif action == "hangup":
            voice_call.hang_up()
            heard = []
        else:
            abort(404)
    except RuntimeError as error:  # nothing waiting for that
        return jsonify(error=str(error)), 409
    except WebhookRefused as error:
        return jsonify(error=str(error)), 502
    return jsonify(_call_state(call_id, voice_call, heard))


def _duration(audio: bytes, kind: str) -> int:
    """How long the take is, in whole seconds as Twilio gives RecordingDuration (0: nothing said)."""
    if kind == "audio/wav":
        try:
            with wave.open(io.BytesIO(audio)) as sound:
                frames, rate = sound.getnframes(), sound.getframerate()
        except (wave.Error, EOFError):
            abort(400, description="This WAV file cannot be read. Save the take as a PCM WAV or an MP3.")
        return math.ceil(frames / rate) if rate and frames else 0
    return max(1, round(len(audio) * 8 / 128_000))  # an MP3, taken as 128 kbit/s


@bp.post("/api/call/<call_id>/take")
def give_take(call_id: str):
    """The take said at the studio's <Record>: the request's body is the WAV or MP3 itself.
    It is kept here under a new RecordingSid, and the line hears of it as from Twilio: the
    Record's action, then the recording status callback (completed)."""
    voice_call = _calls().get(call_id)
    if voice_call is None:
        abort(404)
    # Only audio may be posted: a page elsewhere cannot send this type without asking.
    if request.mimetype not in (*TAKE_TYPES, "audio/x-wav", "audio/wave", "audio/mp3"):
        abort(415, description="Give the take as a WAV or MP3 file.")
    if request.content_length is not None and request.content_length > MAX_TAKE_BYTES:
        abort(413, description="The take is too large: 5 MB at most.")
    audio = request.stream.read(MAX_TAKE_BYTES + 1)
    if len(audio) > MAX_TAKE_BYTES:
        abort(413, description="The take is too large: 5 MB at most.")
    kind = sniff(audio[:16])
    if kind is None:
        abort(400, description="This is not a WAV or MP3 file.")
    if voice_call.waiting_for != "message" or not _is_studio(voice_call):
        return jsonify(error="nothing is recording a take"), 409
    seconds = min(_duration(audio, kind), voice_call.record_limit or 0)
    takes = _takes()
    sid = takes.add(audio, kind)
    try:
        heard = voice_call.say_after_beep(sid, seconds=seconds,
                                          recording_url=url_for("simulator.take_audio", sid=sid, _external=True))
    except WebhookRefused as error:
        takes.discard(sid)
        return jsonify(error=str(error)), 502
    return jsonify(_call_state(call_id, voice_call, heard))


@bp.get("/api/take/<sid>")
def take_audio(sid: str):
    """A take given on the page, to play back: from memory, or once the worker has taken it,
    from the take waiting for approval."""
    found = _takes().get(sid)
    if found is None:
        take = db().scalars(select(StudioTake).where(StudioTake.recording_sid == sid)).first()
        if take is None or take.audio is None or take.call_sid not in _calls():  # the simulator's only
            abort(404)
        found = (take.audio, take.content_type or "audio/wav")
    audio, kind = found
    response = Response(audio, mimetype=kind)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/clock")
def travel():
    if not request.is_json:
        abort(415)
    clock = _clock()
    if not hasattr(clock, "advance"):
        abort(409, description="this clock cannot be moved")
    minutes = (request.get_json(silent=True) or {}).get("minutes")
    if not isinstance(minutes, int) or not 0 < minutes <= 60 * 24 * 60:
        abort(400, description="minutes: a whole number between 1 and 86400")
    clock.advance(timedelta(minutes=minutes))
    # Let the worker look at once, so a reminder now due arrives while she watches.
    make_worker = current_app.extensions["linja.simulator.make_worker"]
    make_worker(current_app._get_current_object()).tick()
    now = clock.now()
    return jsonify(now=now.isoformat(), now_local=_local(now))
