"""Retention: a caller's number and history are erased a while (RETENTION_DAYS, default
180) after her last appointment, or after her last contact when that came later or she
never booked. The staff keep the appointments, anonymous (``clients.erase_client``)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from scheduling.clients import erase_client
from scheduling.models import Actor, Appointment, AppointmentStatus, Client

BATCH = 200


def expired_clients(session: Session, now: datetime, kept_for: timedelta, *, limit: int = BATCH) -> list[Client]:
    """Callers with no appointment (cancelled ones aside) ending and no contact within
    ``kept_for`` before now."""
    cutoff = now - kept_for
    recent_appointment = exists().where(
        Appointment.client_id == Client.id, Appointment.end_at > cutoff,
        Appointment.status != AppointmentStatus.cancelled,
    )
    return list(session.scalars(
        select(Client)
        .where(func.coalesce(Client.last_contact_at, Client.created_at) <= cutoff, ~recent_appointment)
        .order_by(Client.id)
        .limit(limit)
        # Two workers never erase the same caller at once (PostgreSQL; SQLite has one worker).
        .with_for_update(skip_locked=True)
    ))


def erase_expired_clients(session: Session, now: datetime, kept_for: timedelta, *, limit: int = BATCH) -> int:
    """Erase one batch of expired callers; returns how many. Flushes, the caller commits."""
    clients = expired_clients(session, now, kept_for, limit=limit)
    for client in clients:
        erase_client(session, client, now, actor=Actor.system)
    return len(clients)
