"""What the edge answers when something below it fails: a path with a control character
is not found (404), and a database that stops answering gives a page that says so (503),
never Werkzeug's bare 500. A page a person asked for that cannot be shown (403, 404, 405,
a refused form, a failure) is Linja's own error page in her page language
(staff.error_pages). The webhooks answer Twilio with TwiML and status codes of their own
(hotline.webhooks), and machines (the simulator's API, health checks, static files) get
the bare status they always got.
"""
from __future__ import annotations

import logging
import re
from contextlib import suppress

from flask import Flask, abort, current_app, request, url_for
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound
from werkzeug.routing import IntegerConverter

from scheduling.db import is_connection_lost
from staff.error_pages import render_error_page
from staff.labels import MAX_ID

log = logging.getLogger(__name__)

# C0 controls (NUL among them), DEL and the C1 controls: no URL of Linja's has one, and
# neither a database nor a log line should ever be handed one from a path.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
RETRY_AFTER_SECONDS = 10
# Requests a machine makes: Twilio, the simulator's page script, health checks, browsers
# fetching a file. They keep their bare status codes.
MACHINE_PATHS = ("/hotline/", "/simulator/", "/static/", "/healthz", "/readyz")
MACHINE_ENDPOINTS = {"staff.calendar_feed"}


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
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, server_error)


def refuse_control_characters() -> None:
    if CONTROL_CHARACTERS.search(request.path):
        abort(404)


def not_found(error: Exception):
    with suppress(Exception):
        current_app.extensions["linja.db"]().rollback()
    log.info("a value the database cannot hold: %s", type(error).__name__)
    return http_error(NotFound())


def is_for_a_person() -> bool:
    return not request.path.startswith(MACHINE_PATHS) and request.endpoint not in MACHINE_ENDPOINTS


def http_error(error: HTTPException):
    """Linja's page for a 4xx a person meets; the same status and headers (Allow after
    a 405, Retry-After after a 429). Never stored, as no staff page is: at any address
    it may name her and carry her sign-out form."""
    if error.code is None or not is_for_a_person():
        return error
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    headers.append(("Cache-Control", "no-store"))
    try:
        return render_error_page(error), error.code, headers
    except Exception as failure:  # the page names her and speaks her language: both need the database
        return page_failed(failure)


def page_failed(failure: Exception) -> tuple[str, int, dict]:
    if isinstance(failure, SQLAlchemyError):
        return database_error(failure)
    with suppress(Exception):
        current_app.extensions["linja.db"]().rollback()
    log.error("the error page failed", exc_info=failure)
    return error_page("error"), 500, {"Cache-Control": "no-store"}


def database_error(error: SQLAlchemyError) -> tuple[str, int, dict]:
    with suppress(Exception):
        current_app.extensions["linja.db"]().rollback()
    if is_connection_lost(error):
        log.warning("database unavailable: %s", type(error).__name__)
        return error_page("database"), 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    log.error("database error", exc_info=error)
    return error_page("error"), 500, {"Cache-Control": "no-store"}


def server_error(error: InternalServerError) -> tuple[str, int, dict]:
    if is_for_a_person():
        # What failed may have left the request's transaction broken; the page reads her.
        with suppress(Exception):
            current_app.extensions["linja.db"]().rollback()
        try:
            return render_error_page(error, try_again=try_again_url()), 500, {"Cache-Control": "no-store"}
        except Exception as failure:
            return page_failed(failure)
    return error_page("error"), 500, {"Cache-Control": "no-store"}


def try_again_url() -> str:
    """After a form was sent, "again" must not send it twice: back to the start instead."""
    return request.url if request.method == "GET" else url_for("staff.home")


def error_page(reason: str) -> str:
    """The page, rendered without the app's context processors: they would load the
    signed-in staff member, and the database may be what failed."""
    template = current_app.jinja_env.get_template("error.html")
    return template.render(reason=reason, request=request, url_for=url_for)
