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
