"""Who is signed in: a thin Flask-Login view of a staff member."""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort
from flask_login import UserMixin, current_user, login_required
from sqlalchemy import func, select

from scheduling.models import Staff, StaffRole
from staff.passwords import check_password
from webdb import db


@dataclass
class StaffUser(UserMixin):
    id: int
    name: str
    role: StaffRole

    def get_id(self) -> str:
        return str(self.id)


def _user(staff: Staff) -> StaffUser:
    return StaffUser(id=staff.id, name=staff.name, role=staff.role)


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
