"""Cutting the app's database connection the way a network or a database restart does,
without touching Linja's own code: right before a chosen statement the connection dies
(PostgreSQL: its backend is terminated; SQLite: the connection is closed under it), so
that statement fails as a cut connection's would."""
from __future__ import annotations

import math

import pytest
from sqlalchemy import event, text


class Cuts:
    def __init__(self, app, admin_engine):
        self.engine = app.extensions["linja.engine"]
        self.admin = admin_engine
        self.pattern: str | None = None
        self.left = 0.0
        self.made = 0
        event.listen(self.engine, "before_cursor_execute", self._before)

    def on(self, pattern: str, times: float = 1) -> Cuts:
        """Cut the connection before each of the next ``times`` statements containing ``pattern``."""
        self.pattern, self.left = pattern, times
        return self

    def always(self, pattern: str) -> Cuts:
        return self.on(pattern, math.inf)

    def stop(self) -> None:
        self.pattern, self.left = None, 0

    def _before(self, connection, cursor, statement, parameters, context, executemany):
        if self.pattern is None or self.left <= 0 or self.pattern not in statement:
            return
        self.left -= 1
        self.made += 1
        raw = connection.connection.dbapi_connection
        if connection.dialect.name == "postgresql":
            with self.admin.connect() as admin:
                # With a timeout, pg_terminate_backend waits until the backend is gone.
                admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": raw.info.backend_pid})
        else:
            raw.close()

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)


def terminate_app_connections(admin_engine) -> int:
    """Kill every other connection to the test database (the app's pooled ones among them),
    as a database restart or a cut network between two requests would."""
    with admin_engine.connect() as admin:
        return len(admin.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())


@pytest.fixture
def cuts(app, engine):
    cutter = Cuts(app, engine)
    yield cutter
    cutter.remove()
