"""Who is signed in: a thin Flask-Login view of a staff member, roles, and a brake on
password guessing."""
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

# After this many failed sign-ins within the window, for one e-mail address or from one
# network address, further tries are refused until the window has passed.
FAILURES_PER_EMAIL = 5
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)

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


def authenticate(email: str, password: str) -> StaffUser | None:
    staff = db().scalars(select(Staff).where(func.lower(Staff.email) == email.strip().lower())).first()
    if staff is None or not staff.is_active or not check_password(staff.password_hash, password):
        return None
    return _user(staff)


def retry_after(session: Session, email: str, remote_addr: str | None, now: datetime) -> timedelta | None:
    """How long she must wait before trying again, or None when she may try now."""
    since = now - FAILURE_WINDOW
    email = email.strip().lower()
    checks = [(LoginAttempt.email == email, FAILURES_PER_EMAIL)]
    if remote_addr:
        checks.append((LoginAttempt.remote_addr == remote_addr, FAILURES_PER_ADDRESS))
    waits = []
    for condition, limit in checks:
        times = session.scalars(
            select(LoginAttempt.at).where(condition, LoginAttempt.at > since)
            .order_by(LoginAttempt.at.desc()).limit(limit)
        ).all()
        if len(times) >= limit:
            waits.append(times[-1] + FAILURE_WINDOW - now)
    return max(waits) if waits else None


def record_failure(session: Session, email: str, remote_addr: str | None, now: datetime) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - FAILURE_WINDOW))
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
