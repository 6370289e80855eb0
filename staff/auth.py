"""Who is signed in: a thin Flask-Login view of a staff member, roles, and the record of
failed sign-ins (the brake on guessing itself is staff.brake)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from flask import abort
from flask_login import UserMixin, current_user, login_required
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from scheduling.models import LoginAttempt, Staff, StaffRole
from staff.db import db
from staff.passwords import check_password

# Failed sign-ins are kept this long, as a record of what was tried (never the password);
# the limits themselves are counted by staff.brake.
FAILURE_RECORD_KEPT = timedelta(hours=24)

DESK = (StaffRole.receptionist, StaffRole.admin)


@dataclass
class StaffUser(UserMixin):
    id: int
    name: str
    role: StaffRole
    ui_locale: str = "nb"

    def get_id(self) -> str:
        return str(self.id)


def _user(staff: Staff) -> StaffUser:
    return StaffUser(id=staff.id, name=staff.name, role=staff.role, ui_locale=staff.ui_locale or "nb")


def load_user(user_id: str) -> StaffUser | None:
    if not user_id.isdigit():
        return None
    staff = db().get(Staff, int(user_id))
    if staff is None or not staff.is_active:
        return None
    return _user(staff)


def find_staff(session: Session, email: str) -> Staff | None:
    return session.scalars(select(Staff).where(func.lower(Staff.email) == email.strip().lower())).first()


def authenticate(staff: Staff | None, password: str) -> StaffUser | None:
    """Checks her password (slow on purpose: keep no transaction open around it)."""
    if staff is None or not staff.is_active or not check_password(staff.password_hash, password):
        return None
    return _user(staff)


def record_failure(session: Session, email: str, remote_addr: str | None, now: datetime) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - FAILURE_RECORD_KEPT))
    session.add(LoginAttempt(email=email.strip().lower()[:254], remote_addr=(remote_addr or "")[:64] or None, at=now))


def forget_failures(session: Session, email: str) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email.strip().lower()))


def role_required(*roles: StaffRole):
    """A view for signed-in staff with one of ``roles``; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
