"""A test phone: posts to the webhooks exactly as Twilio would, signed."""
from __future__ import annotations

import itertools

from hotline.phone import messages, sign
from hotline.segments import segments

__all__ = ["Phone", "messages", "sign"]

_sids = itertools.count(1)


class Phone:
    def __init__(self, client, app, number: str, to: str = "+4722000000"):
        self.client, self.app, self.number, self.to = client, app, number, to

    def post(self, path: str, params: dict, *, signed: bool = True, query: str = ""):
        url = self.app.config["PUBLIC_BASE_URL"] + path + (f"?{query}" if query else "")
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = sign(self.app.config["TWILIO_AUTH_TOKEN"], url, params)
        return self.client.post(path + (f"?{query}" if query else ""), data=params, headers=headers)

    def sms_params(self, body: str, sid: str | None = None, **extra) -> dict:
        params = {
            "MessageSid": sid or f"SM{next(_sids):032d}", "AccountSid": "AC" + "0" * 32,
            "From": self.number, "To": self.to, "Body": body, "NumMedia": "0",
        }
        params.update(extra)
        return params

    def text(self, body: str, sid: str | None = None, **extra) -> str:
        """Send a text; returns the reply's words ("" when Linja stays silent)."""
        response = self.post("/hotline/sms", self.sms_params(body, sid, **extra))
        assert response.status_code == 200, response.get_data(as_text=True)
        texts = messages(response.get_data(as_text=True))
        assert len(texts) <= 1, "one answer is one text"
        # Every answer in every test keeps the budget: at most two SMS segments.
        assert all(segments(text) <= 2 for text in texts), texts
        return "\n".join(texts)
