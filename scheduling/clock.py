"""Where "now" comes from: the system clock in production, a settable one in tests and demos."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that stands still until told to move; tests and demos use it."""

    def __init__(self, at: datetime):
        self._lock = threading.Lock()
        self._at = require_aware(at).astimezone(timezone.utc)

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = require_aware(at).astimezone(timezone.utc)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._at += delta
            return self._at


def require_aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: every instant in Linja carries its offset")
    return at


class TravelClock:
    """Real time, shifted: it may start at a chosen instant and be moved forward, and it
    runs on like a real clock in between. The phone simulator uses it outside production
    to show a reminder arriving "one day later"."""

    def __init__(self, start: datetime | None = None):
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if start is not None:
            self._offset = require_aware(start) - datetime.now(timezone.utc)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time travel goes forward only")
        with self._lock:
            self._offset += delta
        return self.now()
