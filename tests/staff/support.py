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


def once_token(html: str) -> str | None:
    """The one-time token of the first changing form on the page (staff.once), if any."""
    match = re.search(r'name="once_token" value="([^"]+)"', html)
    return match.group(1) if match else None


def tokens(html: str) -> dict:
    """What a browser sends with a form from this page: its CSRF and one-time tokens."""
    found = {"csrf_token": csrf_token(html)}
    if once_token(html):
        found["once_token"] = once_token(html)
    return found


def sign_in(client, email, password=PASSWORD):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={
        "email": email, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True)),
    })


def post_form(client, path: str, data: dict, page: str | None = None):
    """POST ``data`` to ``path`` with the CSRF token of ``page`` (default: ``path`` itself)."""
    html = client.get(page or path).get_data(as_text=True)
    return client.post(path, data={**data, **tokens(html)})
