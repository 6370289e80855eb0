"""The staff pages' menu: each page module adds its own entry, for the roles it serves."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_login import current_user

from scheduling.models import StaffRole


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy gettext string
    roles: frozenset[StaffRole]
    order: int


MENU: list[NavItem] = []
# Where "/staff/" takes each role: her own day for a counselor, the board for the desk.
HOME: dict[StaffRole, str] = {}


def add(endpoint: str, label, *roles: StaffRole, order: int = 50) -> None:
    MENU.append(NavItem(endpoint, label, frozenset(roles), order))
    MENU.sort(key=lambda item: item.order)


def init_app(app: Flask) -> None:
    @app.context_processor
    def staff_menu():
        if not (current_user and current_user.is_authenticated):
            return {"staff_menu": []}
        return {"staff_menu": [item for item in MENU if current_user.role in item.roles]}
