"""Health checks for load balancers and process managers."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webdb import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="database unreachable"), 503
    return jsonify(status="ok")
