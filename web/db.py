"""The database as the web tier sees it: one session per request, closed at teardown.

The views in hotline and staff reach this session through ``app.extensions["linja.db"]``
(``hotline.webhooks.db``, ``staff.db.db``), as they reach the clock: those packages sit
below this one and do not import it.
"""
from __future__ import annotations

import logging
from contextlib import suppress

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from scheduling.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["linja.engine"] = engine
    app.extensions["linja.sessions"] = make_session_factory(engine)
    app.extensions["linja.db"] = db
    app.teardown_appcontext(_close_session)


def db() -> Session:
    """This request's session. Views commit it once, at the end, when all went well."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["linja.sessions"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.rollback()
        session.close()
    except Exception:
        # A connection cut mid-request must not turn the answer already made into a 500:
        # the pool throws such a connection away.
        log.warning("the request's database session could not be closed cleanly", exc_info=True)
        with suppress(Exception):
            session.invalidate()
