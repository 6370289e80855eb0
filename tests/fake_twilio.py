"""A small Twilio-compatible REST server on 127.0.0.1, for the real ``twilio`` client.

It accepts ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` as Twilio's own API
description (shared/twilio/twilio_api_v2010.json) has it: HTTP basic auth with the
account SID and auth token, form-encoded parameters (``To`` required, ``From`` or
``MessagingServiceSid``, ``Body``, ``StatusCallback``, ``ValidityPeriod``), and a 201 with
the message resource as JSON. Failures can be scripted: ``fail_next(429)``,
``fail_next(400, code=21211)`` ...

It also serves recordings as Twilio does, ``GET .../Recordings/{RecordingSid}.mp3`` (or
``.wav``) with the same basic auth: ``add_recording(audio)`` stores one and returns the
``RecordingUrl`` Twilio would have sent to the voice webhook; ``DELETE
.../Recordings/{RecordingSid}.json`` deletes one. ``fail_recordings("GET", 500)`` and
``stall_recordings("DELETE", seconds)`` script the next such requests.

It lists messages and calls as Twilio does, ``GET .../Messages.json?To=...`` (newest
first, with ``PageSize``), which Linja asks when a send's outcome is unknown.

For bad luck: ``delay`` (or ``delay_range``) makes every create answer late, *after* it
was accepted, as a slow Twilio would; ``stall_next(n, seconds)`` accepts the next n texts
and answers only after ``seconds`` (past the client's timeout); ``same_sid`` answers every
create with one sid, as a mock built from Twilio's API description does;
``drop_next()`` cuts the connection of the next create before taking it;
``fail_lookups`` makes every list request fail with 500.

Run it in-process (``FakeTwilio().start()``) or as a process of its own
(``python -m tests.fake_twilio --port N --log FILE``), which the benchmarks do.
"""
from __future__ import annotations

import argparse
import base64
import json
import random
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
ERROR_MESSAGES = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    401: (20003, "Authenticate"),
}


@dataclass
class Received:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str | None
    validity_period: int | None
    at: float  # time.time()


@dataclass
class PlacedCall:
    sid: str
    to: str
    caller: str
    url: str
    status_callback: str | None
    machine_detection: str | None
    at: float


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    delay: float = 0.0  # seconds each accepted message takes
    delay_range: tuple[float, float] | None = None  # or a random delay in this range
    same_sid: str | None = None  # answer every create with this sid
    fail_lookups: bool = False
    lookups: int = 0
    messages: list[Received] = field(default_factory=list)
    calls: list[PlacedCall] = field(default_factory=list)
    requests: int = 0
    log_path: str | None = None
    # Recording SID -> (audio bytes, content type); fetched with GET, counted apart.
    recordings: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    recording_fetches: int = 0
    deleted_recordings: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._script: deque[tuple[int, int | None]] = deque()
        self._stalls: deque[float] = deque()
        self._drops = 0
        # Scripted answers to recording requests, per method: ("fail", status) or ("stall", seconds).
        self._recording_script: dict[str, deque[tuple[str, float]]] = {"GET": deque(), "DELETE": deque()}
        self._server: ThreadingHTTPServer | None = None

    # -- scripting ---------------------------------------------------------------------------
    def fail_next(self, status: int, *, code: int | None = None, times: int = 1) -> None:
        with self._lock:
            self._script.extend([(status, code)] * times)

    def stall_next(self, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` texts are accepted, but answered only after ``seconds``."""
        with self._lock:
            self._stalls.extend([seconds] * times)

    def drop_next(self, *, times: int = 1) -> None:
        """The next ``times`` creates are read and then the connection is cut: nothing sent."""
        with self._lock:
            self._drops += times

    def fail_recordings(self, method: str, status: int, *, times: int = 1) -> None:
        """The next ``times`` recording requests with ``method`` (GET or DELETE) answer ``status``."""
        with self._lock:
            self._recording_script[method].extend([("fail", status)] * times)

    def stall_recordings(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` recording requests with ``method`` are answered after ``seconds``."""
        with self._lock:
            self._recording_script[method].extend([("stall", seconds)] * times)

    def _recording_scripted(self, handler: BaseHTTPRequestHandler, method: str) -> bool:
        """Play the next scripted answer for a recording request; True when it answered."""
        with self._lock:
            scripted = self._recording_script[method].popleft() if self._recording_script[method] else None
        if scripted is None:
            return False
        kind, value = scripted
        if kind == "stall":
            time.sleep(value)
            return False
        self._error(handler, int(value), 20500 if value >= 500 else 20001, "Scripted failure")
        return True

    def add_recording(self, audio: bytes, content_type: str = "audio/mpeg") -> str:
        """Keep a recording to serve; returns its URL as Twilio's RecordingUrl has it (on
        Twilio's own host: the app must send the request to its TWILIO_API_BASE)."""
        sid = "RE" + uuid.uuid4().hex
        with self._lock:
            self.recordings[sid] = (audio, content_type)
        return f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    @property
    def api_base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def bodies_to(self, number: str) -> list[str]:
        with self._lock:
            return [m.body for m in self.messages if m.to == number]

    # -- serving -----------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep connections open, as Twilio's API does
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                fake._handle(self)

            def do_DELETE(self):
                fake._delete_recording(self)

            def do_GET(self):
                if self.path.split("?")[0].endswith(("/Messages.json", "/Calls.json")):
                    fake._list(self)
                else:
                    fake._recording(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # A client that gave up (timed out, killed) is bad luck being tested, not a fault.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
        base = f"/2010-04-01/Accounts/{self.account_sid}"
        path = handler.path.split("?")[0]
        if path not in (f"{base}/Messages.json", f"{base}/Calls.json"):
            return self._error(handler, 404, 20404, "The requested resource was not found")
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {credentials}":
            return self._error(handler, 401, *ERROR_MESSAGES[401])
        if "application/x-www-form-urlencoded" not in handler.headers.get("Content-Type", ""):
            return self._error(handler, 400, 20001, "Expected form-encoded parameters")
        length = int(handler.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode("utf-8")).items()}
        with self._lock:
            scripted = self._script.popleft() if self._script else None
            drop = self._drops > 0
            self._drops -= drop
        if drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if scripted is not None:
            status, code = scripted
            default_code, message = ERROR_MESSAGES.get(status, (code, "Scripted failure"))
            return self._error(handler, status, code or default_code, message)
        if not form.get("To"):
            return self._error(handler, 400, 21604, "A 'To' phone number is required.")
        if path.endswith("/Calls.json"):
            return self._call(handler, form)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(handler, 400, 21603, "A 'From' phone number is required.")
        sid = self.same_sid or "SM" + uuid.uuid4().hex
        received = Received(sid, form["To"], form.get("From") or form["MessagingServiceSid"], form.get("Body", ""),
                            form.get("StatusCallback"), int(form["ValidityPeriod"]) if form.get("ValidityPeriod") else None,
                            time.time())
        with self._lock:
            self.messages.append(received)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as log:
                    log.write(json.dumps(received.__dict__, ensure_ascii=False) + "\n")
            stall = self._stalls.popleft() if self._stalls else None
        # Accepted, then answered late: a client that gives up waiting does not know it went.
        delay = stall if stall is not None else (random.uniform(*self.delay_range) if self.delay_range else self.delay)
        if delay:
            time.sleep(delay)
        now = formatdate(usegmt=True, timeval=received.at)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        self._json(handler, 201, {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": received.body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1",
            "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")}, "to": received.to, "uri": uri,
        })

    def _list(self, handler: BaseHTTPRequestHandler) -> None:
        """GET .../Messages.json or Calls.json, filtered by To: a page, newest first."""
        with self._lock:
            self.lookups += 1
        parts = handler.path.split("?", 1)
        path, query = parts[0], parse_qs(parts[1] if len(parts) > 1 else "")
        base = f"/2010-04-01/Accounts/{self.account_sid}"
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {credentials}":
            return self._error(handler, 401, *ERROR_MESSAGES[401])
        if path not in (f"{base}/Messages.json", f"{base}/Calls.json"):
            return self._error(handler, 404, 20404, "The requested resource was not found")
        if self.fail_lookups:
            return self._error(handler, 500, *ERROR_MESSAGES[500])
        to = query.get("To", [None])[0]
        size = int(query.get("PageSize", ["50"])[0])
        is_calls = path.endswith("/Calls.json")
        with self._lock:
            items = list(self.calls if is_calls else self.messages)
        items = [item for item in reversed(items) if to is None or item.to == to][:size]
        key = "calls" if is_calls else "messages"
        records = []
        for item in items:
            created = formatdate(item.at, usegmt=True)
            record = {"account_sid": self.account_sid, "sid": item.sid, "to": item.to, "date_created": created,
                      "date_updated": created, "direction": "outbound-api", "status": "queued",
                      "uri": f"{base}/{key.capitalize()}/{item.sid}.json"}
            if not is_calls:
                record.update(body=item.body, date_sent=None, num_segments="1", **{"from": item.sender})
            else:
                record.update(**{"from": item.caller})
            records.append(record)
        uri = handler.path
        self._json(handler, 200, {key: records, "end": max(len(records) - 1, 0), "first_page_uri": uri,
                                  "next_page_uri": None, "page": 0, "page_size": size, "previous_page_uri": None,
                                  "start": 0, "uri": uri})

    def _recording(self, handler: BaseHTTPRequestHandler) -> None:
        """GET .../Recordings/{sid}.mp3 or .wav: the audio, for the account's basic auth."""
        with self._lock:
            self.recording_fetches += 1
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/Recordings/"
        path = handler.path.split("?")[0]
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {credentials}":
            return self._error(handler, 401, *ERROR_MESSAGES[401])
        if self._recording_scripted(handler, "GET"):
            return
        name = path.removeprefix(prefix) if path.startswith(prefix) else ""
        sid, _, extension = name.partition(".")
        with self._lock:
            stored = self.recordings.get(sid)
        if stored is None or extension not in ("mp3", "wav"):
            return self._error(handler, 404, 20404, "The requested resource was not found")
        audio, content_type = stored
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(audio)))
        handler.end_headers()
        handler.wfile.write(audio)

    def _delete_recording(self, handler: BaseHTTPRequestHandler) -> None:
        """DELETE .../Recordings/{sid}.json: 204, and the recording is gone."""
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/Recordings/"
        path = handler.path.split("?")[0]
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {credentials}":
            return self._error(handler, 401, *ERROR_MESSAGES[401])
        if self._recording_scripted(handler, "DELETE"):
            return
        sid = path.removeprefix(prefix).removesuffix(".json") if path.startswith(prefix) else ""
        with self._lock:
            stored = self.recordings.pop(sid, None)
            if stored is not None:
                self.deleted_recordings.append(sid)
        if stored is None:
            return self._error(handler, 404, 20404, "The requested resource was not found")
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _call(self, handler, form: dict) -> None:
        """POST .../Calls.json: Url (the TwiML to fetch when answered), To, From."""
        if not form.get("From") or not (form.get("Url") or form.get("Twiml")):
            return self._error(handler, 400, 21205, "Url parameter is required.")
        sid = "CA" + uuid.uuid4().hex
        with self._lock:
            self.calls.append(PlacedCall(sid, form["To"], form["From"], form.get("Url", ""),
                                         form.get("StatusCallback"), form.get("MachineDetection"), time.time()))
            stall = self._stalls.popleft() if self._stalls else None
        if stall:
            time.sleep(stall)
        now = formatdate(usegmt=True)
        self._json(handler, 201, {
            "account_sid": self.account_sid, "annotation": None, "answered_by": None, "api_version": "2010-04-01",
            "caller_name": None, "date_created": now, "date_updated": now, "direction": "outbound-api",
            "duration": None, "end_time": None, "forwarded_from": None, "from": form["From"],
            "from_formatted": form["From"], "group_sid": None, "parent_call_sid": None, "phone_number_sid": None,
            "price": None, "price_unit": "USD", "sid": sid, "start_time": None, "status": "queued",
            "subresource_uris": {}, "to": form["To"], "to_formatted": form["To"], "trunk_sid": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json", "queue_time": "0",
        })

    def _error(self, handler, status: int, code: int, message: str) -> None:
        self._json(handler, status, {"code": code, "message": message, "status": status,
                                     "more_info": f"https://www.twilio.com/docs/errors/{code}"})

    @staticmethod
    def _json(handler, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append each accepted message as a JSON line")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--delay-range", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"))
    parser.add_argument("--same-sid", default=None, help="answer every create with this sid")
    args = parser.parse_args()
    fake = FakeTwilio(delay=args.delay, delay_range=tuple(args.delay_range) if args.delay_range else None,
                      same_sid=args.same_sid, log_path=args.log).start(args.port)
    print(fake.api_base, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
