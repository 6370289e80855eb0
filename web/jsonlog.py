"""One JSON line per request: method, path, status, duration. Never a phone number: the
query string (where a number could be) and form fields are not logged, nor the secret in
a calendar feed's address."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request

log = logging.getLogger("linja.request")
# A counselor's calendar feed is reached by a secret in its path: anyone reading the logs
# could otherwise follow her appointments.
SECRET_IN_PATH = re.compile(r"^(/staff/calendar/)[^/]+(\.ics)$")


def loggable_path(path: str) -> str:
    return SECRET_IN_PATH.sub(r"\1(secret)\2", path)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname.lower(),
                 "logger": record.name}
        if isinstance(record.msg, dict):
            entry.update(record.msg)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its own access lines carry query strings
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # The twilio client logs every request and its headers at INFO: eleven lines a text.
    logging.getLogger("twilio").setLevel(logging.WARNING)
    quiet_alembic_plugins()


def quiet_alembic_plugins() -> None:
    """Alembic announces each of its autogenerate plugins at INFO when it is imported:
    seven lines at the start of every command, none of them news."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("request_started")
        log.info({
            "event": "request", "id": g.get("request_id"), "method": request.method,
            "path": loggable_path(request.path) if request.url_rule is not None else "(unknown path)",
            "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        })
        return response
