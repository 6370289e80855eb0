"""Health checks for load balancers and process managers."""
from __future__ import annotations

from datetime import timedelta

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from scheduling.models import WorkerHeartbeat
from web.cli import alembic_config
from web.db import db

bp = Blueprint("health", __name__)


# A worker ticks every few seconds; one not seen for this long is not working.
WORKER_SILENT_AFTER = timedelta(minutes=2)


@bp.get("/healthz")
def healthz():
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready to take traffic: the schema is at the newest migration and a worker is alive."""
    problems = []
    try:
        session = db()
        current = set(MigrationContext.configure(session.connection()).get_current_heads())
        newest = set(ScriptDirectory.from_config(alembic_config(current_app.config["DATABASE_URL"])).get_heads())
        if current != newest:
            problems.append("database not migrated to the newest revision")
        now = current_app.extensions["linja.clock"].now()
        seen = session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
        if seen is None or now - seen > WORKER_SILENT_AFTER:
            problems.append("no worker seen recently")
    except SQLAlchemyError:
        problems.append("database unreachable")
    if problems:
        return jsonify(status="not ready", problems=problems), 503
    return jsonify(status="ready")
