"""A basic phone that talks to Linja's webhooks exactly as Twilio would: Twilio's
parameters, signed with X-Twilio-Signature, and the TwiML answer read back.

One piece of code for the phone simulator page, the `flask phone` command and the
end-to-end tests. It reaches the webhooks in-process (``WsgiTransport``) or over HTTP
(``HttpTransport``).
"""
from __future__ import annotations

import itertools
import secrets
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Protocol

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32  # what the simulator presents as the Twilio account
CENTRE_NUMBER = "+4722000000"  # the number she texts, as the simulator shows it


def sign(auth_token: str, url: str, params: dict) -> str:
    return RequestValidator(auth_token).compute_signature(url, params)


class Transport(Protocol):
    def post(self, path: str, params: dict, headers: dict) -> tuple[int, str]: ...


@dataclass
class WsgiTransport:
    """Straight into a Flask app, in this process."""

    app: object

    def post(self, path: str, params: dict, headers: dict) -> tuple[int, str]:
        response = self.app.test_client().post(path, data=params, headers=headers)
        return response.status_code, response.get_data(as_text=True)


@dataclass
class HttpTransport:
    """Over HTTP, to a running Linja."""

    base_url: str

    def post(self, path: str, params: dict, headers: dict) -> tuple[int, str]:
        request = urllib.request.Request(
            self.base_url.rstrip("/") + path, data=urllib.parse.urlencode(params).encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class WebhookRefused(RuntimeError):
    pass


def messages(xml: str) -> list[str]:
    """The texts of a messaging TwiML answer (``<Response><Message>...``)."""
    root = ET.fromstring(xml)
    if root.tag != "Response":
        raise ValueError(f"not TwiML: <{root.tag}>")
    return [(message.text or "") for message in root.iter("Message")]


@dataclass
class SimulatedPhone:
    transport: Transport
    number: str
    public_base_url: str
    auth_token: str
    to: str = CENTRE_NUMBER
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _sid(self, prefix: str) -> str:
        return f"{prefix}{secrets.token_hex(12)}{next(self._ids):08d}"

    def post(self, path: str, params: dict) -> tuple[int, str]:
        url = self.public_base_url.rstrip("/") + path
        headers = {"X-Twilio-Signature": sign(self.auth_token, url, params)}
        return self.transport.post(path, params, headers)

    def sms_params(self, body: str, **extra) -> dict:
        params = {
            "MessageSid": self._sid("SM"), "SmsSid": "", "AccountSid": ACCOUNT_SID, "From": self.number,
            "To": self.to, "Body": body, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01",
        }
        params["SmsSid"] = params["MessageSid"]
        params.update(extra)
        return params

    def text(self, body: str, **extra) -> list[str]:
        """Send a text; returns the texts Linja answers with."""
        status, xml = self.post("/hotline/sms", self.sms_params(body, **extra))
        if status != 200:
            raise WebhookRefused(f"/hotline/sms answered {status}")
        return messages(xml)


# --- calls --------------------------------------------------------------------------------------

VERBS = {"Say", "Play", "Gather", "Redirect", "Record", "Dial", "Hangup", "Pause", "Reject"}


@dataclass(frozen=True)
class Heard:
    """One thing that happened on the line: said, played, a pause, a dial, a beep, the end."""

    kind: str  # say, play, pause, dial, record, hangup
    text: str = ""
    language: str = ""
    voice: str = ""


@dataclass
class VoiceCall:
    """A call to Linja, driven by reading the voice TwiML it answers, as Twilio would:
    say and play what it says, wait at a Gather for keys, follow Redirects and actions,
    leave a message at a Record, and ring (unanswered, by default) at a Dial."""

    phone: SimulatedPhone
    sid: str = ""
    dial_outcome: str = "no-answer"  # what a <Dial> to the staff ends with
    entry: str = "/hotline/voice"  # the number's webhook: the line's, or the studio's
    max_steps: int = 200  # requests in one call before it is taken to go round in circles
    heard: list[Heard] = field(default_factory=list)
    ended: bool = False
    _waiting: ET.Element | None = None
    _after: list[ET.Element] = field(default_factory=list)
    _steps: int = 0

    def params(self, **extra) -> dict:
        params = {
            "CallSid": self.sid, "AccountSid": ACCOUNT_SID, "From": self.phone.number, "To": self.phone.to,
            "Caller": self.phone.number, "Called": self.phone.to, "CallStatus": "in-progress",
            "Direction": "inbound", "ApiVersion": "2010-04-01",
        }
        params.update(extra)
        return params

    def start(self) -> list[Heard]:
        self.sid = self.phone._sid("CA")
        return self._fetch(self.entry, self.params(CallStatus="ringing"))

    def answer(self, url: str, sid: str, answered_by: str = "human") -> list[Heard]:
        """Answer a call Linja placed (a reminder call): Twilio fetches ``url`` then."""
        self.sid = sid
        return self._fetch(url, self.params(Direction="outbound-api", From=self.phone.to, To=self.phone.number,
                                            Caller=self.phone.to, Called=self.phone.number, AnsweredBy=answered_by))

    def press(self, keys: str) -> list[Heard]:
        if self._waiting is None or self._waiting.tag != "Gather":
            raise RuntimeError("nothing is waiting for keys")
        return self._fetch(self._waiting.get("action"), self.params(Digits=keys, FinishedOnKey=""))

    def silence(self) -> list[Heard]:
        """Let the Gather time out."""
        gather = self._waiting
        if gather is None or gather.tag != "Gather":
            raise RuntimeError("nothing is waiting")
        self._waiting = None
        if gather.get("actionOnEmptyResult") == "true":
            return self._fetch(gather.get("action"), self.params(Digits=""))
        return self._run_verbs(self._after)

    def leave_message(self, recording_url: str = "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
                      seconds: int = 12) -> list[Heard]:
        record = self._waiting
        if record is None or record.tag != "Record":
            raise RuntimeError("nothing is recording")
        return self._fetch(record.get("action"), self.params(RecordingUrl=recording_url,
                                                             RecordingDuration=str(seconds), Digits="#"))

    def say_after_beep(self, recording_sid: str, account_sid: str = ACCOUNT_SID, seconds: int = 3, *,
                       ready_first: bool = False, recording_url: str | None = None,
                       ready_sent: bool = True) -> list[Heard]:
        """Speak at a <Record> (the studio's): Twilio posts the Record's action, and, before
        or after it, its recording status callback saying the recording is ready (unless
        not ``ready_sent``: a callback lost on its way)."""
        record = self._waiting
        if record is None or record.tag != "Record":
            raise RuntimeError("nothing is recording")
        url = recording_url or f"https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}"
        about = {"RecordingSid": recording_sid, "RecordingUrl": url, "RecordingDuration": str(seconds)}
        callback = record.get("recordingStatusCallback")

        def ready() -> None:
            if callback and ready_sent:
                self.phone.post(callback, self.params(RecordingStatus="completed", AccountSid=account_sid, **about))
        if ready_first:
            ready()
        heard = self._fetch(record.get("action"), self.params(Digits="#", **about))
        if not ready_first:
            ready()
        return heard

    def hang_up(self) -> None:
        self.ended = True
        self._waiting = None
        self.phone.post("/hotline/voice/status", self.params(CallStatus="completed", CallDuration="30"))

    @property
    def keys_wanted(self) -> tuple[int | None, str] | None:
        """At a Gather: how many keys end it (None: any number) and the key that ends it
        early ("" for none; Twilio's default is #)."""
        if self._waiting is None or self._waiting.tag != "Gather":
            return None
        digits = self._waiting.get("numDigits")
        return (int(digits) if digits else None), self._waiting.get("finishOnKey", "#")

    @property
    def record_limit(self) -> int | None:
        """The longest recording the waiting <Record> takes, in seconds (Twilio cuts it there)."""
        if self._waiting is None or self._waiting.tag != "Record":
            return None
        return int(self._waiting.get("maxLength") or 3600)

    @property
    def waiting_for(self) -> str | None:
        """"keys" at a Gather, "message" at a Record, None when the call has ended."""
        if self._waiting is None:
            return None
        return "keys" if self._waiting.tag == "Gather" else "message"

    def _fetch(self, url: str, params: dict) -> list[Heard]:
        self._steps += 1
        if self._steps > self.max_steps:
            raise RuntimeError("the call goes round in circles")
        status, xml = self.phone.post(url, params)
        if status != 200:
            raise WebhookRefused(f"{url} answered {status}")
        root = ET.fromstring(xml)
        if root.tag != "Response":
            raise ValueError(f"not TwiML: <{root.tag}>")
        start = len(self.heard)
        self._run_verbs(list(root))
        return self.heard[start:]

    def _speak(self, element: ET.Element) -> None:
        if element.tag == "Say":
            self.heard.append(Heard("say", element.text or "", element.get("language", ""), element.get("voice", "")))
        elif element.tag == "Play":
            self.heard.append(Heard("play", element.text or ""))
        elif element.tag == "Pause":
            self.heard.append(Heard("pause", element.get("length", "1")))

    def _run_verbs(self, verbs: list[ET.Element]) -> list[Heard]:
        for index, verb in enumerate(verbs):
            if verb.tag not in VERBS:
                raise ValueError(f"unknown verb <{verb.tag}>")
            if verb.tag in ("Say", "Play", "Pause"):
                self._speak(verb)
            elif verb.tag == "Gather":
                for inner in verb:
                    self._speak(inner)
                self._waiting, self._after = verb, verbs[index + 1:]
                return self.heard
            elif verb.tag == "Record":
                self.heard.append(Heard("record"))
                self._waiting, self._after = verb, verbs[index + 1:]
                return self.heard
            elif verb.tag == "Redirect":
                self._fetch(verb.text or "", self.params())
                return self.heard
            elif verb.tag == "Dial":
                number = "".join(n.text or "" for n in verb) or (verb.text or "")
                self.heard.append(Heard("dial", number.strip()))
                if verb.get("action"):
                    self._fetch(verb.get("action"), self.params(DialCallStatus=self.dial_outcome))
                    return self.heard
            elif verb.tag in ("Hangup", "Reject"):
                self.heard.append(Heard("hangup"))
                self.ended, self._waiting = True, None
                return self.heard
        self.ended, self._waiting = True, None  # the end of a document ends the call
        return self.heard

    def said(self) -> str:
        return " ".join(h.text for h in self.heard if h.kind == "say")


def call(phone: SimulatedPhone, **options) -> VoiceCall:
    voice_call = VoiceCall(phone, **options)
    voice_call.start()
    return voice_call
