"""A counselor's personal iCalendar feed: her appointments in her phone's calendar app.

Calendar apps cannot sign in, so the feed's address carries a secret; Linja keeps only its
SHA-256, shows the address once, and she can replace or switch it off. The feed is
discreet, because a phone's screen is seen by others: no name, no number, no service.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from icalendar import Calendar, Event
from sqlalchemy import select

from scheduling import audit
from scheduling.models import Actor, Appointment, AppointmentStatus, Staff, StaffRole
from staff import nav
from staff.auth import role_required
from staff.db import db
from staff.labels import language_name
from staff.once import once
from staff.views import bp, now

# How far back the feed reaches; ahead, every booked appointment is in it.
FEED_PAST = timedelta(days=30)
FEED_ENDPOINT = "staff.calendar_feed"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(token: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + url_for(FEED_ENDPOINT, token=token)


@bp.get("/calendar")
@role_required(StaffRole.counselor)
def calendar():
    me = db().get(Staff, current_user.id)
    return render_template("staff/calendar.html", has_feed=me.calendar_token_hash is not None, new_url=None)


@bp.post("/calendar/new")
@role_required(StaffRole.counselor)
@once
def calendar_create():
    session = db()
    me = session.get(Staff, current_user.id)
    replaced = me.calendar_token_hash is not None
    token = secrets.token_urlsafe(32)
    me.calendar_token_hash = token_hash(token)
    audit.record(session, at=now(), actor=Actor.staff, actor_staff_id=me.id,
                 action="calendar_feed_replaced" if replaced else "calendar_feed_created", details={"staff": me.id})
    session.commit()
    url = feed_url(token)
    # Shown this once, never stored: the page is not kept by the browser or a proxy either.
    response = Response(render_template(
        "staff/calendar.html", has_feed=True, new_url=url, replaced=replaced,
        webcal_url="webcal://" + url.split("://", 1)[1],
    ))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/calendar/revoke")
@role_required(StaffRole.counselor)
@once
def calendar_revoke():
    session = db()
    me = session.get(Staff, current_user.id)
    if me.calendar_token_hash is not None:
        me.calendar_token_hash = None
        audit.record(session, at=now(), actor=Actor.staff, actor_staff_id=me.id,
                     action="calendar_feed_revoked", details={"staff": me.id})
        session.commit()
    flash(_("Kalenderlenken er slått av. Kalenderappen din får ikke flere oppdateringer fra Linja."), "info")
    return redirect(url_for("staff.calendar"))


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    session = db()
    staff = session.scalars(select(Staff).where(Staff.calendar_token_hash == token_hash(token))).first()
    if staff is None or not staff.is_active:
        return Response(_("Ukjent kalender."), status=404, mimetype="text/plain")
    at = now()
    appointments = session.scalars(
        select(Appointment)
        .where(Appointment.counselor_id == staff.id, Appointment.start_at >= at - FEED_PAST)
        .order_by(Appointment.start_at)
    ).all()
    with force_locale(staff.ui_locale or "nb"):
        body = _calendar(appointments).to_ical()
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    response.add_etag()
    return response.make_conditional(request)


def _calendar(appointments: list[Appointment]) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//Linja//Staff calendar//NB")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Linja")
    # Apps that honour these look again every hour.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    tz = current_app.extensions["linja.rules"].tz
    for appointment in appointments:
        event = Event()
        event.add("uid", f"appointment-{appointment.id}@linja")
        event.add("dtstamp", appointment.updated_at)
        event.add("last-modified", appointment.updated_at)
        event.add("dtstart", appointment.start_at)
        event.add("dtend", appointment.end_at)
        event.add("sequence", appointment.version)
        event.add("summary", _summary(appointment))
        event.add("class", "PRIVATE")
        is_cancelled = appointment.status == AppointmentStatus.cancelled
        event.add("status", "CANCELLED" if is_cancelled else "CONFIRMED")
        event.add("transp", "TRANSPARENT" if is_cancelled else "OPAQUE")
        # The details are one tap away, behind her sign-in.
        day = appointment.start_at.astimezone(tz).date().isoformat()
        event.add("url", f"{base}{url_for('staff.day', day=day)}#appointment-{appointment.id}")
        calendar.add_component(event)
    return calendar


def _summary(appointment: Appointment) -> str:
    """"Linja: avtale (somali, tolk)": enough to plan her day, nothing about the caller's need."""
    notes = [language_name(appointment.language_code)] if appointment.language_code else []
    if appointment.is_interpreter_needed:
        notes.append(_("tolk"))
    summary = _("Linja: avtale")
    if notes:
        summary += f" ({', '.join(notes)})"
    if appointment.status == AppointmentStatus.cancelled:
        summary = _("Avlyst: %(summary)s", summary=summary)
    return summary


nav.add("staff.calendar", _l("Kalenderlenke"), StaffRole.counselor, order=12)
