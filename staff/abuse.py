"""The desk's view of the line's abuse limits: numbers that texted past their hourly limit of
replies in the last 24 hours (hotline.abuse), so someone can look at who it is."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from hotline.abuse import has_reply
from scheduling.models import Client, InboundMessage
from staff import nav
from staff.auth import DESK, role_required
from staff.db import db
from staff.labels import number_end, when
from staff.views import bp, now

DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)


def limited_numbers(session, at, limit: int) -> list[dict]:
    """Who was left unanswered because she had had ``limit`` replies in the hour before.
    Worked out from the texts themselves: a text answered with silence while the hour
    before it already held ``limit`` replies was one the limit silenced."""
    since = at - DAY - HOUR
    candidates = session.scalars(
        select(InboundMessage.client_id)
        .where(InboundMessage.client_id.is_not(None), InboundMessage.received_at > since, has_reply())
        .group_by(InboundMessage.client_id)
        .having(func.count() >= limit)
    ).all()
    found = []
    for client_id in candidates:
        rows = session.execute(
            select(InboundMessage.received_at, has_reply())
            .where(InboundMessage.client_id == client_id, InboundMessage.received_at > since)
            .order_by(InboundMessage.received_at)
        ).all()
        replies = [received_at for received_at, replied in rows if replied]
        silenced = [
            received_at for received_at, replied in rows
            if not replied and received_at > at - DAY
            and sum(1 for r in replies if received_at - HOUR < r <= received_at) >= limit
        ]
        if silenced:
            found.append({"client_id": client_id, "count": len(silenced), "last_at": max(silenced)})
    phones = dict(session.execute(
        select(Client.id, Client.phone_e164).where(Client.id.in_([f["client_id"] for f in found]))).all())
    for row in found:
        phone = phones.get(row["client_id"])
        row["number_end"] = number_end(phone)
        row["has_number"] = phone is not None
    return sorted(found, key=lambda row: row["last_at"], reverse=True)


@bp.get("/limits")
@role_required(*DESK)
def limited():
    limit = current_app.config["REPLIES_PER_NUMBER_PER_HOUR"]
    rows = limited_numbers(db(), now(), limit)
    for row in rows:
        row["last"] = when(row["last_at"])
    return render_template("staff/abuse.html", rows=rows, limit=limit)


nav.add("staff.limited", _l("Over grensen"), *DESK, order=45)
