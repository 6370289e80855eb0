"""Every response carries the security headers; staff pages are never cached; HSTS only
behind TLS; the sign-in cookies are guarded and no remember-me cookie is ever set."""
from __future__ import annotations

import pytest

from scheduling.models import StaffRole
from web.security import CONTENT_SECURITY_POLICY
from tests.staff.support import PASSWORD_HASH, sign_in


def assert_secure(response):
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in headers["Permissions-Policy"]
    # Only the phone simulator's page may ask for the microphone (a studio take), and only here.
    microphone = "microphone=(self)" if response.request.path == "/simulator/" else "microphone=()"
    assert microphone in headers["Permissions-Policy"]


@pytest.mark.parametrize("path", ["/healthz", "/staff/login", "/simulator/", "/static/staff.css", "/nowhere"])
def test_every_response_carries_the_security_headers(client, path):
    assert_secure(client.get(path))


def test_twilio_webhooks_carry_them_too(client):
    response = client.post("/hotline/sms", data={"From": "+4790000000", "Body": "hi"})
    assert response.status_code == 403
    assert_secure(response)


def test_hsts_behind_tls_only(app, client, database_url):
    from app import create_app

    assert client.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
                        "PUBLIC_BASE_URL": "http://127.0.0.1:5000"})
    try:
        response = plain.test_client().get("/healthz")
        assert "Strict-Transport-Security" not in response.headers
        assert plain.config["SESSION_COOKIE_SECURE"] is False and plain.config["REMEMBER_COOKIE_SECURE"] is False
    finally:
        plain.extensions["linja.engine"].dispose()


def test_cookie_flags(app):
    config = app.config
    assert config["SESSION_COOKIE_SECURE"] is True  # PUBLIC_BASE_URL is https in the tests
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_HTTPONLY"] is True and config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_staff_pages_are_not_cached_and_sign_in_sets_no_remember_cookie(app, make, db_session):
    member = make.counselor(name="Kari", email="kari@linja.test", role=StaffRole.admin, password_hash=PASSWORD_HASH)
    db_session.commit()
    client = app.test_client()
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"
    response = sign_in(client, member.email)
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and not any(c.startswith("remember_token") for c in cookies)
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    for path in ("/staff/admin/", "/staff/search", "/staff/board"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["Cache-Control"] == "no-store", path
        assert_secure(page)


def test_pages_outside_staff_keep_their_own_caching(client):
    assert client.get("/static/staff.css").headers.get("Cache-Control") != "no-store"
