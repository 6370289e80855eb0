"""HTTP security headers on every response, and the cookie flags of the staff sign-in.

The staff pages show callers' data: no page may be framed, cached, run inline script or
tell another site (by its Referer) which URL it came from; the calendar feed's URL is a
secret of its own.
"""
from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])
# Nothing on Linja's pages needs a sensor, the camera or payment; the voicemail player needs
# none of them either. The phone simulator's page alone may ask for the microphone (a studio
# take said into it).
FEATURES = ("accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb")


def permissions_policy(*allowed: str) -> str:
    """Every feature off, but ``allowed`` for this origin."""
    return ", ".join(f"{feature}=(self)" if feature in allowed else f"{feature}=()" for feature in FEATURES)


PERMISSIONS_POLICY = permissions_policy()
SIMULATOR_POLICY = permissions_policy("microphone")
HSTS = "max-age=31536000"
STAFF_PREFIX = "/staff/"


def init_app(app: Flask) -> None:
    is_https = app.config["PUBLIC_BASE_URL"].startswith("https://")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = is_https
    # Linja never offers "remember me" (login_user is called without remember=True); should
    # a remember cookie ever be set, it is as guarded as the session's.
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_SECURE"] = is_https
    app.config["REMEMBER_COOKIE_REFRESH_EACH_REQUEST"] = False

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        # The phone simulator's page may ask for the microphone (a studio take); nothing else.
        headers.setdefault("Permissions-Policy", SIMULATOR_POLICY if request.path == "/simulator/"
                           else PERMISSIONS_POLICY)
        if is_https:
            # Only behind the TLS proxy: over plain http a browser ignores it anyway, and a
            # local run must not pin 127.0.0.1 to https.
            headers["Strict-Transport-Security"] = HSTS
        if (request.path.startswith(STAFF_PREFIX) or request.path == STAFF_PREFIX.rstrip("/")) \
                and "Cache-Control" not in headers:
            # A view that chose its own caching (the calendar feed) keeps it.
            headers["Cache-Control"] = "no-store"
        return response
