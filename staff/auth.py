"""Who is signed in: a thin Flask-Login view of a staff member, her sessions, roles, and
the record of failed sign-ins (the brake on guessing itself is scheduling.brake)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, logout_user
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden

from scheduling.models import LoginAttempt, Staff, StaffRole
from staff.db import db
from staff.passwords import check_password, take_as_long_as_a_check

# Failed sign-ins are kept this long, as a record of what was tried (never the password);
# the limits themselves are counted by scheduling.brake.
FAILURE_RECORD_KEPT = timedelta(hours=24)

DESK = (StaffRole.receptionist, StaffRole.admin)


@dataclass
class StaffUser(UserMixin):
    id: int
    name: str
    role: StaffRole
    ui_locale: str = "nb"
    session_generation: int = 0

    def get_id(self) -> str:
        # The generation travels in the session: raising it in the database (sign-out,
        # a new password, deactivation, "Logg ut overalt") ends every session she has.
        return f"{self.id}.{self.session_generation}"


def user_of(staff: Staff) -> StaffUser:
    return StaffUser(id=staff.id, name=staff.name, role=staff.role, ui_locale=staff.ui_locale or "nb",
                     session_generation=staff.session_generation or 0)


def load_user(user_id: str) -> StaffUser | None:
    staff_id, _, generation = user_id.partition(".")
    if not (staff_id.isdigit() and generation.isdigit()):
        return None
    staff = db().get(Staff, int(staff_id))
    if staff is None or not staff.is_active or staff.session_generation != int(generation):
        return None
    return user_of(staff)


def signed_out_when_idle(at: datetime) -> bool:
    """Signs her out when she has done nothing for STAFF_IDLE_MINUTES, on Linja's own
    clock, and says so on the next page: True when she was."""
    seen = session.get("seen_at")
    idle = timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    if not (seen and current_user.is_authenticated and at - datetime.fromisoformat(seen) > idle):
        return False
    logout_user()
    session.pop("seen_at", None)
    flash(_("Du ble logget ut fordi du ikke hadde gjort noe på en stund. Logg inn igjen."), "info")
    return True


def end_sessions(session: Session, staff_id: int) -> None:
    """End every session she has, on every device, at once (one atomic UPDATE)."""
    session.execute(update(Staff).where(Staff.id == staff_id)
                    .values(session_generation=Staff.session_generation + 1))
    session.expire_all()


def find_staff(session: Session, email: str) -> Staff | None:
    return session.scalars(select(Staff).where(func.lower(Staff.email) == email.strip().lower())).first()


def authenticate(staff: Staff | None, password: str) -> StaffUser | None:
    """Checks her password (slow on purpose: keep no transaction open around it)."""
    if staff is None or not staff.is_active:
        take_as_long_as_a_check(password)
        return None
    if not check_password(staff.password_hash, password):
        return None
    return user_of(staff)


def record_failure(session: Session, email: str, remote_addr: str | None, now: datetime) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - FAILURE_RECORD_KEPT))
    session.add(LoginAttempt(email=email.strip().lower()[:254], remote_addr=(remote_addr or "")[:64] or None, at=now))


def forget_failures(session: Session, email: str) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email.strip().lower()))


class NotForHerRole(Forbidden):
    """A page for other roles than hers: the error page says whom it is for."""

    def __init__(self, roles: tuple[StaffRole, ...]):
        super().__init__()
        self.roles = frozenset(roles)


def role_required(*roles: StaffRole):
    """A view for signed-in staff with one of ``roles``; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                raise NotForHerRole(roles)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def send_to_sign_in():
    """A page she may not see yet: the sign-in page, then back to that page's path only.
    Its query string may hold a caller's number, which must not travel in an address."""
    flash(_("Logg inn for å se denne siden."), "message")
    return redirect(url_for("staff.login", next=request.path))
