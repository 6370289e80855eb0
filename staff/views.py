"""Staff pages every role shares: sign in and out, the start page, her own settings."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_user, logout_user

from scheduling import audit
from scheduling.models import Actor, Staff, StaffRole
from staff import nav
from scheduling import brake
from staff.auth import (
    authenticate,
    end_sessions,
    find_staff,
    forget_failures,
    record_failure,
    role_required,
    signed_out_when_idle,
    user_of,
)
from staff.labels import hm
from staff.db import db
from staff.once import once
from staff.forms import LoginForm, PasswordForm, SettingsForm
from staff.passwords import check_password, hash_password

bp = Blueprint("staff", __name__, url_prefix="/staff")

# Read by calendar apps, which never sign in: such a request neither counts as her
# activity nor ends her session for being idle.
SESSIONLESS = {"staff.calendar_feed"}

def now() -> datetime:
    return current_app.extensions["linja.clock"].now()


@bp.before_request
def sign_out_when_idle():
    """Sign out whoever has done nothing for STAFF_IDLE_MINUTES, on Linja's own clock."""
    if request.endpoint in SESSIONLESS or not current_user.is_authenticated:
        return None
    at = now()
    if signed_out_when_idle(at):
        # Back to this page's path only: its query string may hold a caller's number.
        return redirect(url_for("staff.login", next=request.path if request.method == "GET" else None))
    session["seen_at"] = at.isoformat()
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        sessions = db()
        at = now()
        counters = brake.counters(form.email.data, request.remote_addr, current_app.config["TRUSTED_NETWORKS"])
        wait = brake.count_try(sessions, counters, at)
        if wait is not None:
            sessions.rollback()
            return _wait_page(form, at, wait)
        staff = find_staff(sessions, form.email.data)
        # The try is counted before its password is checked, and the slow check runs
        # outside any transaction.
        sessions.commit()
        user = authenticate(staff, form.password.data)
        if user is None:
            brake.prune(sessions, at)
            record_failure(sessions, form.email.data, request.remote_addr, at)
            sessions.commit()
            flash(_("Feil e-post eller passord."), "error")
            return render_template("staff/login.html", form=form)
        brake.forget(sessions, counters)
        forget_failures(sessions, form.email.data)
        sessions.commit()
        session.clear()
        session.permanent = True
        login_user(user)
        session["seen_at"] = at.isoformat()
        return redirect(_safe_next(request.args.get("next")) or url_for("staff.home"))
    return render_template("staff/login.html", form=form)


def _wait_page(form: LoginForm, at: datetime, wait: timedelta):
    seconds = brake.seconds(wait)
    minutes = -(-seconds // 60)
    flash(ngettext("For mange forsøk. Du kan prøve igjen kl. %(time)s, om %(num)d minutt.",
                   "For mange forsøk. Du kan prøve igjen kl. %(time)s, om %(num)d minutter.",
                   minutes, time=hm(at + timedelta(seconds=seconds))), "error")
    flash(_("Har du glemt passordet, kan en administrator gi deg et nytt."), "info")
    response = make_response(render_template("staff/login.html", form=form), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _safe_next(target: str | None) -> str | None:
    # Only a path on this site: never an address elsewhere ("//evil.example", "https://…"),
    # and never a query string (it may hold a caller's number).
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/"):
        return None
    return parts.path


@bp.post("/logout")
@role_required(*StaffRole)
def logout():
    # Signing out here signs her out everywhere: a copy of this cookie opens nothing more.
    end_sessions(db(), current_user.id)
    db().commit()
    logout_user()
    session.clear()
    return redirect(url_for("staff.login"))


@bp.get("/")
@role_required(*StaffRole)
def home():
    return redirect(url_for(nav.HOME.get(current_user.role, "staff.settings")))


def front_door():
    """``/``: her start page when she is signed in, else the sign-in page."""
    return redirect(url_for("staff.home" if current_user.is_authenticated else "staff.login"))


def favicon():
    # Browsers ask for /favicon.ico by themselves; the pages link the SVG.
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/settings", methods=["GET", "POST"])
@role_required(*StaffRole)
@once
def settings():
    sessions = db()
    me = sessions.get(Staff, current_user.id)
    form = SettingsForm(data={"ui_locale": me.ui_locale, "phone": me.phone_e164 or ""})
    if form.validate_on_submit():
        me.ui_locale = form.ui_locale.data
        me.phone_e164 = form.phone.e164 if form.phone.data else None
        sessions.commit()
        current_user.ui_locale = me.ui_locale
        refresh()
        flash(_("Lagret."), "info")
        return redirect(url_for("staff.settings"))
    return render_template("staff/settings.html", form=form, password_form=PasswordForm(formdata=None))


@bp.post("/settings/password")
@role_required(*StaffRole)
@once
def change_password():
    sessions = db()
    me = sessions.get(Staff, current_user.id)
    password_form = PasswordForm()
    form = SettingsForm(formdata=None, data={"ui_locale": me.ui_locale, "phone": me.phone_e164 or ""})
    if password_form.validate_on_submit():
        # Guessing her password here (a session left open) is braked as at sign-in, on the
        # same counters: the try is counted before the slow check.
        at = now()
        counters = brake.counters(me.email, request.remote_addr, current_app.config["TRUSTED_NETWORKS"])
        wait = brake.count_try(sessions, counters, at)
        if wait is not None:
            sessions.rollback()
            seconds = brake.seconds(wait)
            password_form.current.errors.append(ngettext(
                "For mange forsøk. Du kan prøve igjen kl. %(time)s, om %(num)d minutt.",
                "For mange forsøk. Du kan prøve igjen kl. %(time)s, om %(num)d minutter.",
                -(-seconds // 60), time=hm(at + timedelta(seconds=seconds))))
            response = make_response(render_template("staff/settings.html", form=form,
                                                     password_form=password_form), 429)
            response.headers["Retry-After"] = str(seconds)
            return response
        sessions.commit()
        if check_password(me.password_hash, password_form.current.data):
            brake.forget(sessions, counters)
            me.password_hash = hash_password(password_form.new.data)
            audit.record(sessions, at=now(), actor=Actor.staff, actor_staff_id=me.id,
                         action="password_changed", details={"staff": me.id})
            # Her other sessions end; this one goes on, re-issued with the new generation.
            end_sessions(sessions, me.id)
            sessions.commit()
            login_user(user_of(sessions.get(Staff, me.id)))
            flash(_("Passordet er endret."), "info")
            return redirect(url_for("staff.settings"))
        password_form.current.errors.append(_("Det er ikke ditt nåværende passord."))
    return render_template("staff/settings.html", form=form, password_form=password_form), 400


nav.add("staff.settings", _l("Innstillinger"), *StaffRole, order=90)
