"""Senders of outbound texts, behind one small interface.

``TwilioSender`` uses the real ``twilio`` REST client; ``TWILIO_API_BASE`` points it at
any Twilio-compatible server (the fake one in tests). ``ConsoleSender`` is what runs
without Twilio credentials: it logs the text and keeps it for the phone simulator.
"""
from __future__ import annotations

import itertools
import logging
import os
import threading
import unicodedata
import urllib.request
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from scheduling.sending import Outgoing, OutgoingCall, SendError

log = logging.getLogger(__name__)

# Twilio error codes that no retry can fix.
PERMANENT_ERRORS = {
    21211,  # invalid 'To' number
    21214,  # 'To' number cannot be reached
    21408,  # region not enabled
    21610,  # the recipient replied STOP
    21612,  # cannot route to this number
    21614,  # 'To' is not a mobile number
    21617,  # body too long
    30004,  # blocked
    30005,  # unknown destination
    30006,  # landline or unreachable carrier
}


class _ApiBaseHttpClient(TwilioHttpClient):
    """Sends every request to ``api_base`` instead of Twilio's own host (whatever region
    or edge the client would otherwise pick), keeping path and query."""

    def __init__(self, api_base: str, *, pool_size: int = 10, **kwargs):
        # The environment's proxies and CA bundle are read once here, not on every
        # request as requests would (that scan cost more than Linja's own work per text).
        proxies = {scheme: url for scheme, url in urllib.request.getproxies().items() if scheme in ("http", "https")}
        super().__init__(proxy=proxies, **kwargs)
        self.session.trust_env = False
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # One kept-alive connection per text in flight, so none is opened again.
        for scheme in ("https://", "http://"):
            self.session.mount(scheme, HTTPAdapter(pool_connections=1, pool_maxsize=pool_size))
        self._base = urlsplit(api_base)

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        url = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


class TwilioSender:
    """``timeout`` bounds each request to Twilio (connecting, then each wait for its answer);
    the outbox's lease outlasts it (see scheduling.sending)."""

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str = "",
                 messaging_service_sid: str = "", api_base: str = "https://api.twilio.com", timeout: float = 10,
                 concurrency: int = 8):
        self.timeout = timeout
        http_client = _ApiBaseHttpClient(api_base, timeout=timeout, pool_size=max(concurrency, 1))
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number, self.messaging_service_sid = from_number, messaging_service_sid

    def send(self, message: Outgoing) -> str:
        kwargs = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self.from_number
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        if message.validity_seconds:
            kwargs["validity_period"] = message.validity_seconds
        return self._twilio(lambda: self.client.messages.create(**kwargs).sid)

    def call(self, call: OutgoingCall) -> str:
        kwargs = {"to": call.to, "from_": self.from_number, "url": call.url, "method": "POST", "timeout": 30}
        if call.detect_machine:
            kwargs["machine_detection"] = "Enable"
        if call.status_callback:
            kwargs.update(status_callback=call.status_callback, status_callback_method="POST",
                          status_callback_event=["completed"])
        return self._twilio(lambda: self.client.calls.create(**kwargs).sid)

    def find(self, outgoing: Outgoing | OutgoingCall, since: datetime) -> list[str]:
        """Texts (calls) to her number that Twilio created since ``since`` and that say the
        same, newest first. Twilio's list is filtered by ``To``; the time is compared on
        ``date_created``, since a text still queued has no ``date_sent``."""
        def matches(record) -> bool:
            if _number(record.to) != _number(outgoing.to):
                return False  # a list that did not filter by To
            created = record.date_created
            if created is None or created.astimezone(timezone.utc) < since:
                return False
            if (record.direction or "outbound-api") != "outbound-api":
                return False  # her own texts, and the line's replies to them
            return isinstance(outgoing, OutgoingCall) or _words(record.body or "") == _words(outgoing.body)

        listing = self.client.calls if isinstance(outgoing, OutgoingCall) else self.client.messages
        records = self._twilio(lambda: listing.list(to=outgoing.to, limit=50, page_size=50), looking=True)
        return [record.sid for record in records if record.sid and matches(record)]

    @staticmethod
    def _twilio(request, *, looking: bool = False):
        try:
            return request()
        except TwilioRestException as error:
            code = int(error.code) if error.code else None
            permanent = code in PERMANENT_ERRORS or (400 <= error.status < 500 and error.status != 429)
            # A 5xx may come after Twilio (behind its gateway) created the text: as unknown
            # as no answer at all. A 4xx, 429 included, is answered before anything is made.
            unknown = error.status >= 500 and not looking
            raise SendError(f"Twilio answered {error.status} ({code})", code=code, permanent=permanent,
                            unknown=unknown) from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError) as error:
            # The request never reached Twilio: worth another try.
            raise SendError(f"could not reach Twilio: {error.__class__.__name__}") from None
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as error:
            if looking or _never_sent(error):
                raise SendError(f"could not reach Twilio: {error.__class__.__name__}") from None
            # The request went out and no answer came: Twilio may have taken it.
            raise SendError(f"no answer from Twilio: {error.__class__.__name__}", unknown=True) from None
        except Exception as error:  # anything else: worth another try
            raise SendError(f"could not reach Twilio: {error.__class__.__name__}") from None


def _number(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def _words(text: str) -> str:
    """The letters and digits of a text: what Twilio keeps of it even where it replaced
    quotes, dashes or spaces (a Messaging Service's smart encoding)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if ch.isalnum()).casefold()


def _never_sent(error: Exception) -> bool:
    """Did the connection fail before the request could go out (refused, no route, name
    not found)? Then Twilio surely never saw it."""
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


@dataclass(frozen=True)
class ConsoleText:
    sid: str
    to: str
    body: str
    at: datetime


class ConsoleSender:
    """Without Twilio: the text goes to the log and to the simulator's phones."""

    def __init__(self, clock_now=None, keep: int = 500):
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._now = clock_now
        self.sent: deque[ConsoleText] = deque(maxlen=keep)

    def send(self, message: Outgoing) -> str:
        with self._lock:
            sid = f"SMconsole{next(self._ids):024d}"
            at = self._now() if self._now else datetime.now().astimezone()
            self.sent.append(ConsoleText(sid, message.to, message.body, at))
        # No phone number in the log: the log is read by more people than the database.
        log.info("console text %s: %s", sid, message.body.replace("\n", " / "))
        return sid

    def call(self, call: OutgoingCall) -> str:
        with self._lock:
            sid = f"CAconsole{next(self._ids):024d}"
            at = self._now() if self._now else datetime.now().astimezone()
            self.sent.append(ConsoleText(sid, call.to, f"(Linja calls this phone: {call.url})", at))
        log.info("console call %s", sid)
        return sid

    def find(self, outgoing: Outgoing | OutgoingCall, since: datetime) -> list[str]:
        """Nothing sent to the console is ever in doubt; this answers as Twilio would."""
        body = None if isinstance(outgoing, OutgoingCall) else outgoing.body
        with self._lock:
            return [text.sid for text in reversed(self.sent)
                    if text.to == outgoing.to and (body is None or text.body == body)]

    def texts_to(self, number: str) -> list[ConsoleText]:
        with self._lock:
            return [text for text in self.sent if text.to == number]
