"""The audit trail: who changed which appointment, and when. Never a phone number."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scheduling.models import Actor, AuditEntry


def record(
    session: Session,
    *,
    at: datetime,
    actor: Actor,
    action: str,
    appointment_id: int | None = None,
    actor_staff_id: int | None = None,
    details: dict | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at, actor=actor, actor_staff_id=actor_staff_id, action=action,
        appointment_id=appointment_id, details=details,
    )
    session.add(entry)
    return entry
