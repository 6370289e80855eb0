"""What the edge answers when something below it fails: a path with a control character
is not found (404), and a database that stops answering gives a page that says so (503),
never Werkzeug's bare 500. The webhooks answer Twilio with TwiML of their own
(hotline.webhooks); this is for everything else.
"""
from __future__ import annotations

import logging
import re
from contextlib import suppress

from flask import Flask, abort, current_app, request, url_for
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import InternalServerError, NotFound
from werkzeug.routing import IntegerConverter

from scheduling.db import is_connection_lost
from staff.labels import MAX_ID

log = logging.getLogger(__name__)

# C0 controls (NUL among them), DEL and the C1 controls: no URL of Linja's has one, and
# neither a database nor a log line should ever be handed one from a path.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
RETRY_AFTER_SECONDS = 10


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a whole number a database id can be (a larger one is
    simply not found, where PostgreSQL would refuse it as out of range)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: the routes' converters are chosen when added."""
    app.url_map.converters["int"] = IdConverter
    # First of all the app's before_request functions: nothing else sees such a path.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_control_characters)
    # A value the database cannot hold (an id out of range, from a query string): not found.
    app.register_error_handler(DataError, not_found)
    app.register_error_handler(OverflowError, not_found)
    app.register_error_handler(SQLAlchemyError, database_error)
    app.register_error_handler(InternalServerError, server_error)


def refuse_control_characters() -> None:
    if CONTROL_CHARACTERS.search(request.path):
        abort(404)


def not_found(error: Exception):
    with suppress(Exception):
        current_app.extensions["linja.db"]().rollback()
    log.info("a value the database cannot hold: %s", type(error).__name__)
    return NotFound()


def database_error(error: SQLAlchemyError) -> tuple[str, int, dict]:
    with suppress(Exception):
        current_app.extensions["linja.db"]().rollback()
    if is_connection_lost(error):
        log.warning("database unavailable: %s", type(error).__name__)
        return error_page("database"), 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    log.error("database error", exc_info=error)
    return error_page("error"), 500, {"Cache-Control": "no-store"}


def server_error(error: InternalServerError) -> tuple[str, int, dict]:
    return error_page("error"), 500, {"Cache-Control": "no-store"}


def error_page(reason: str) -> str:
    """The page, rendered without the app's context processors: they would load the
    signed-in staff member, and the database may be what failed."""
    template = current_app.jinja_env.get_template("error.html")
    return template.render(reason=reason, request=request, url_for=url_for)
