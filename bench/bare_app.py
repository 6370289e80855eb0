"""The baselines for bench/webhooks.py: a Flask app with Linja's webhook paths that
answers every POST with a fixed TwiML document of a given size.

- Bare (the default): it does nothing else (no database, no signature check, no form
  parsing, no logging).
- Signed (``BARE_SIGNED=1``): the yardstick of issue 20, what any webhook must do to keep
  Twilio's contract. It parses the form and checks the ``X-Twilio-Signature`` of every
  request with ``twilio.request_validator.RequestValidator``, for ``PUBLIC_BASE_URL`` +
  path + query string and ``TWILIO_AUTH_TOKEN``, the same values Linja gets; a request
  that fails the check is answered 403 (wrk counts it as non-2xx). Still no database.

It runs under the same gunicorn settings as Linja and receives the very same requests, so
the difference between the two is what Linja's own work costs.

    BARE_SMS_BYTES=300 BARE_VOICE_BYTES=1500 \\
        gunicorn --pythonpath bench "bare_app:create_app()" -b 127.0.0.1:8001 -w 2 --threads 4
    BARE_SIGNED=1 TWILIO_AUTH_TOKEN=... PUBLIC_BASE_URL=http://127.0.0.1:8000 BARE_SMS_BYTES=300 \\
        gunicorn --pythonpath bench "bare_app:create_app()" -b 127.0.0.1:8002 -w 2 --threads 4
"""
from __future__ import annotations

import os

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

SMS_FRAME = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>', "</Message></Response>")
VOICE_FRAME = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/hotline/voice/main?tries=0" '
               'actionOnEmptyResult="true" method="POST" numDigits="1" timeout="8">'
               '<Say language="en-GB" voice="Polly.Amy">', "</Say></Gather></Response>")


def padded_twiml(frame: tuple[str, str], size: int) -> bytes:
    """A TwiML document of exactly ``size`` bytes (or the bare frame, if that is longer)."""
    head, tail = frame
    filler = max(size - len(head) - len(tail), 0)
    text = (("Lorem ipsum dolor sit amet. " * (filler // 28 + 1))[:filler])
    return (head + text + tail).encode()


def create_app() -> Flask:
    app = Flask(__name__)
    sms_body = padded_twiml(SMS_FRAME, int(os.environ.get("BARE_SMS_BYTES", "300")))
    voice_body = padded_twiml(VOICE_FRAME, int(os.environ.get("BARE_VOICE_BYTES", "1500")))
    if os.environ.get("BARE_SIGNED") == "1":
        validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
        base_url = os.environ["PUBLIC_BASE_URL"].rstrip("/")

        @app.before_request
        def check_signature():
            # As hotline.signature does it: the URL Twilio signed, with the query string as
            # it arrived, and the parsed form.
            if request.method != "POST":
                return None
            query = request.query_string.decode("latin-1")
            url = base_url + request.path + (f"?{query}" if query else "")
            if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
                abort(403)
            return None

    @app.post("/hotline/sms")
    def sms():
        return Response(sms_body, mimetype="text/xml")

    @app.post("/hotline/voice")
    @app.post("/hotline/voice/<step>")
    def voice(step: str | None = None):
        return Response(voice_body, mimetype="text/xml")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
