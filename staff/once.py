"""Forms that act once: every staff form that changes something carries a one-time token,
and a form sent a second time (the browser's Back and the button again, a double click,
a re-sent POST) does nothing and says so, with a link to what the first send did.

A CSRF token can be sent many times, so this is a token of its own. The page carries a
signed token (a random part, who it is for, when it was made); nothing is written when
a page is shown. When the form is sent, its random part becomes a row of form_tokens in
the same transaction as what the form does: a second send finds the row (on PostgreSQL a
send racing the first waits for it, then finds it) and acts no more. A refused form commits
nothing, and its token is not used (whether it rolled back or led elsewhere with a word of
why), so it can be sent again once corrected or once what stood in its way is gone. The
worker deletes the rows of expired tokens, which the signature check refuses anyway.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from contextlib import suppress
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, current_app, make_response, render_template, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup, escape
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from scheduling.models import FormToken
from staff.db import db

FIELD = "once_token"
# Long enough for a page left open over a working day; a page older than this is refused
# kindly (load it again), since its token's row may already be gone.
LIFETIME = timedelta(hours=12)
_SALT = "linja-staff-form-once"
# A second send racing the first (a double click) finds the token the moment the first has
# committed what it did, a moment before the first notes where it led: it waits this long
# at most for that, so that its page links to what was done.
DONE_WAIT = timedelta(seconds=2)

log = logging.getLogger(__name__)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def _now() -> datetime:
    return current_app.extensions["linja.clock"].now()


def _seeded(seed: str) -> str:
    key = current_app.secret_key
    digest = hmac.new(key.encode() if isinstance(key, str) else key,
                      f"{_SALT}:{int(current_user.id)}:{seed}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode().rstrip("=")


def new_token(seed: str | None = None) -> str:
    """A token for one form, for the signed-in staff member: fresh each time, or, with a
    ``seed``, the same for the same seed and person. A page the browser's Back loads anew
    (staff pages are never cached) then carries the token it had, so what was sent from it
    is not done again: a booking's step 2 is seeded by its own reference in the address,
    a change to an appointment by its id and version (a version is changed once)."""
    nonce = secrets.token_urlsafe(18) if seed is None else _seeded(seed)
    return _serializer().dumps([nonce, int(current_user.id), int(_now().timestamp())])


def sent_page(seed: str):
    """The page that says a form was sent already, if this staff member sent the form
    seeded by ``seed``; else None. A page the browser's Back loads anew shows it at once,
    rather than a form that would be refused."""
    row = db().get(FormToken, _seeded(seed))
    if row is None or row.staff_id != int(current_user.id):
        return None
    return _page("sent", done=row.done_path), 409


def token_field(seed: str | None = None) -> Markup:
    """The hidden field a changing form carries (a Jinja global, ``once_field()``)."""
    return Markup('<input type="hidden" name="%s" value="%s">') % (FIELD, escape(new_token(seed)))


def new_flow() -> str:
    """A reference for one booking's step 2, carried in its address (nothing of her)."""
    return secrets.token_urlsafe(9)


def _read(raw: str | None) -> tuple[str, datetime] | None:
    """(random part, expiry) of a genuine token for this staff member, still valid; or None."""
    if not raw or len(raw) > 300:
        return None
    try:
        nonce, staff_id, issued = _serializer().loads(raw)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(nonce, str) or staff_id != int(current_user.id) or not isinstance(issued, int):
        return None
    at = _now()
    expires_at = datetime.fromtimestamp(issued, at.tzinfo) + LIFETIME
    return (nonce, expires_at) if at < expires_at else None


def once(view):
    """Decorate a view that changes something (inside ``role_required``): it runs only for
    a valid token not used before, and the token is used with what it commits."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method != "POST":
            return view(*args, **kwargs)
        read = _read(request.form.get(FIELD))
        if read is None:
            return _page("stale"), 400
        nonce, expires_at = read
        session = db()
        session.add(FormToken(token=nonce, staff_id=int(current_user.id), used_at=_now(), expires_at=expires_at))
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return _page("sent", done=_done_path(nonce)), 409
        commits = []

        def committed(_session) -> None:
            commits.append(True)

        event.listen(session, "after_commit", committed)
        try:
            response = make_response(view(*args, **kwargs))
        finally:
            event.remove(session, "after_commit", committed)
        location = response.headers.get("Location") if 300 <= response.status_code < 400 else None
        if not commits:
            # The view did nothing (it refused, and said why on the page it leads to): the
            # token is not used, so the form sent again (Back, and the button) is tried again.
            session.rollback()
        elif location:
            # What the form led to is what a second send links to.
            try:
                session.execute(update(FormToken).where(FormToken.token == nonce)
                                .values(done_path=(_local_path(location) or "")[:500] or None))
                session.commit()
            except SQLAlchemyError:
                # What the form did is committed: the answer says so. Only a second send's
                # link to it is lost, not worth a page that says it may not be saved.
                log.warning("where a staff form led could not be noted", exc_info=True)
                with suppress(SQLAlchemyError):
                    session.rollback()
        return response

    wrapped.is_once = True
    return wrapped


def _done_path(nonce: str) -> str | None:
    """Where the first send of a form led, waiting a moment for a first send that has just
    committed and is about to note it. Each look is a transaction of its own (on SQLite,
    one that holds no lock the first send needs)."""
    session = db()
    give_up_at = time.monotonic() + DONE_WAIT.total_seconds()
    while True:
        row = session.execute(select(FormToken.done_path, FormToken.used_at)
                              .where(FormToken.token == nonce)).first()
        session.rollback()
        if row is None or row.done_path is not None or time.monotonic() >= give_up_at \
                or _now() - row.used_at > DONE_WAIT:
            return row.done_path if row is not None else None
        time.sleep(0.05)


def _local_path(url: str | None) -> str | None:
    """``url`` as a path inside this site, or None if it leads elsewhere."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    if not parts.path.startswith("/staff/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def _page(kind: str, *, done: str | None = None):
    return render_template("staff/once.html", kind=kind, done=done)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["once_field"] = token_field
