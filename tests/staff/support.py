"""Helpers for the staff page tests: sign in with the form, read CSRF tokens."""
from __future__ import annotations

import re

from staff.passwords import hash_password

PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def sign_in(client, email, password=PASSWORD):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={
        "email": email, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True)),
    })


def post_form(client, path: str, data: dict, page: str | None = None):
    """POST ``data`` to ``path`` with the CSRF token of ``page`` (default: ``path`` itself)."""
    html = client.get(page or path).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_token(html)})
