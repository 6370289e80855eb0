"""This request's database session, as the staff pages reach it: web.db opens it on first
use and closes it at teardown (staff sits below web and does not import it)."""
from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session


def db() -> Session:
    """This request's session. Views commit it once, at the end, when all went well."""
    return current_app.extensions["linja.db"]()
