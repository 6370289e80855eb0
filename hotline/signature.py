"""Every /hotline request must be signed by Twilio (X-Twilio-Signature)."""
from __future__ import annotations

from functools import wraps
from urllib.parse import quote

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

# Characters that may stand unescaped in a URL path (RFC 3986 pchar and "/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def signed_url(base_url: str) -> str:
    """The URL Twilio signed: the base URL, the path, and the query string exactly as it
    arrived. (``request.url`` would decode %27 and the like, and then the signature
    would never match.)"""
    url = base_url.rstrip("/") + quote(request.path, safe=_PATH_SAFE)
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def is_signed_by_twilio() -> bool:
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    params = request.form if request.method == "POST" else {}
    validator = RequestValidator(token)
    # PUBLIC_BASE_URL is what Twilio calls. Outside production the request's own host is
    # accepted too, so a local client that calls http://localhost:5000 is not refused for
    # naming the host differently. In production only PUBLIC_BASE_URL counts: a
    # signature made for another app on the same account must not open this one.
    candidates = {current_app.config["PUBLIC_BASE_URL"]}
    if not current_app.config["IS_PRODUCTION"]:
        candidates.add(request.host_url)
    return any(validator.validate(signed_url(base), params, signature) for base in candidates)


def twilio_signed(view):
    """Refuse (403) any request Twilio did not sign, before it can change anything."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not is_signed_by_twilio():
            abort(403)
        return view(*args, **kwargs)

    return wrapped
