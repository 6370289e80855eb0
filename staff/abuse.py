"""The desk's view of the line's abuse limits over the last 24 hours: the numbers that texted
past their own hourly limit (so someone can look at who it is), and the times the line as a
whole was past its limit of replies a minute (when, for how long, how many went unanswered)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from scheduling.models import Client, InboundMessage, ReplyKind
from staff import nav
from staff.auth import DESK, role_required
from staff.db import db
from staff.labels import hm, number_end, when
from staff.views import bp, now

DAY = timedelta(hours=24)
# The line's limit counts the last minute: refusals further apart than that were two episodes.
EPISODE_GAP = timedelta(minutes=1)


def limited_numbers(session, at: datetime) -> list[dict]:
    """Who texted past her own limit: the notice she got and the texts left unanswered."""
    rows = session.execute(
        select(InboundMessage.client_id, func.count(), func.max(InboundMessage.received_at))
        .where(InboundMessage.client_id.is_not(None), InboundMessage.received_at > at - DAY,
               InboundMessage.reply_kind.in_([ReplyKind.notice, ReplyKind.over_own_limit]))
        .group_by(InboundMessage.client_id)
    ).all()
    found = [{"client_id": client_id, "count": count, "last_at": last_at} for client_id, count, last_at in rows]
    phones = dict(session.execute(
        select(Client.id, Client.phone_e164).where(Client.id.in_([f["client_id"] for f in found]))).all())
    for row in found:
        phone = phones.get(row["client_id"])
        row["number_end"] = number_end(phone)
        row["has_number"] = phone is not None
    return sorted(found, key=lambda row: row["last_at"], reverse=True)


def line_episodes(session, at: datetime) -> list[dict]:
    """The times the line's limit left texts unanswered: first and last refusal, and how
    many, newest first. Only the instants are read, however many there were."""
    refused = session.scalars(
        select(InboundMessage.received_at)
        .where(InboundMessage.reply_kind == ReplyKind.over_line_limit, InboundMessage.received_at > at - DAY)
        .order_by(InboundMessage.received_at)
    ).all()
    episodes: list[dict] = []
    for received_at in refused:
        if episodes and received_at - episodes[-1]["ended_at"] <= EPISODE_GAP:
            episodes[-1]["ended_at"] = received_at
            episodes[-1]["count"] += 1
        else:
            episodes.append({"started_at": received_at, "ended_at": received_at, "count": 1})
    return episodes[::-1]


def duration(episode: dict) -> str:
    minutes = int((episode["ended_at"] - episode["started_at"]).total_seconds() // 60)
    return _("under 1 min") if minutes < 1 else _("%(minutes)d min", minutes=minutes)


@bp.get("/limits")
@role_required(*DESK)
def limited():
    session, at = db(), now()
    rows = limited_numbers(session, at)
    for row in rows:
        row["last"] = when(row["last_at"])
    episodes = line_episodes(session, at)
    for episode in episodes:
        episode.update(start=when(episode["started_at"]), end=hm(episode["ended_at"]), duration=duration(episode))
    return render_template(
        "staff/abuse.html", rows=rows, limit=current_app.config["REPLIES_PER_NUMBER_PER_HOUR"],
        episodes=episodes, line_limit=current_app.config["REPLIES_PER_MINUTE"],
    )


nav.add("staff.limited", _l("Over grensen"), *DESK, order=45)
