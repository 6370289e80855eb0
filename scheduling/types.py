"""Column types that keep instants honest on every database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_ZERO = timedelta(0)

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An instant, always written and read back as timezone-aware UTC.

    PostgreSQL stores it as ``timestamptz``. SQLite has no such type and SQLAlchemy's
    ``DateTime(timezone=True)`` silently drops the offset there, so two different instants
    of the October night that happens twice would read back equal. Here every value is
    converted to UTC before it is written (as naive UTC text on SQLite, which also sorts
    correctly as a string) and tagged as UTC when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored as an instant")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        if value.utcoffset() == _ZERO:
            return value if value.tzinfo is timezone.utc else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
