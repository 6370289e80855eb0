"""What a person sees when a page cannot be shown (not found, not for her role, a form
sent the wrong way, too many tries, a failure): Linja's own page, in her page language,
saying plainly what happened and offering the way back. The webhooks answer Twilio
themselves; web.errors decides which requests get these pages.
"""
from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from scheduling.models import StaffRole
from staff import nav
from staff.auth import signed_out_when_idle

COUNSELORS = frozenset({StaffRole.counselor})
DESK = frozenset({StaffRole.receptionist, StaffRole.admin})
ADMINS = frozenset({StaffRole.admin})
STUDIO = frozenset({StaffRole.admin, StaffRole.recorder})
# Whom a page is for, as the 403 page says it.
FOR_ROLES = {
    COUNSELORS: _l("Denne siden er for rådgiverne"),
    DESK: _l("Denne siden er for resepsjonen"),
    frozenset({StaffRole.receptionist}): _l("Denne siden er for resepsjonen"),
    ADMINS: _l("Denne siden er for administratorene"),
    STUDIO: _l("Denne siden er for administratorene og opptakerne"),
}
ROLE_NAMES = {
    StaffRole.counselor: _l("rådgiver"),
    StaffRole.receptionist: _l("resepsjonist"),
    StaffRole.admin: _l("administrator"),
    StaffRole.recorder: _l("opptaker"),
}


def heading_and_text(code: int, roles: frozenset[StaffRole] | None,
                     allowed: frozenset[str] = frozenset()) -> tuple[str, str]:
    if code == 403:
        heading = FOR_ROLES.get(roles or frozenset())
        if heading is None:
            return _("Du har ikke tilgang til denne siden"), ""
        role = ROLE_NAMES.get(current_user.role) if current_user.is_authenticated else None
        if role is None:
            return str(heading), ""
        return str(heading), _("Du er logget inn som %(role)s, så den er ikke åpen for deg.", role=role)
    if code == 404:
        return _("Fant ikke siden"), _(
            "Adressen finnes ikke i Linja, eller det den viste til, er ikke her lenger. "
            "Sjekk adressen, eller gå videre herfra.")
    if code == 405 and "GET" in allowed:  # a form sent to a page that takes none
        return _("Siden kan ikke åpnes slik"), _(
            "Denne siden tar ikke imot skjemaer. Åpne den på nytt, eller gå videre herfra.")
    if code == 405:
        return _("Siden kan ikke åpnes slik"), _(
            "Denne adressen tar bare imot et skjema fra en annen side. Gå tilbake og bruk knappen der.")
    if code == 400:
        return _("Skjemaet kunne ikke sendes"), _(
            "Siden var kanskje åpen for lenge, eller du ble logget ut i mellomtiden. "
            "Ingenting ble endret. Åpne siden på nytt og prøv igjen.")
    if code == 413:
        return _("Det du sendte, var for stort"), _("Ingenting ble lagret. Prøv med en mindre fil.")
    if code == 429:
        return _("For mange forsøk"), _("Vent litt, og prøv igjen.")
    if code >= 500:
        return _("Noe gikk galt hos Linja"), _(
            "Feilen er logget. Prøv igjen om litt; hvis det skjer igjen, si fra til den som drifter Linja.")
    return _("Siden kan ikke vises"), _("Gå tilbake, eller gå videre herfra.")


def way_back() -> tuple[str, str]:
    """Her own start page when she is signed in, else the sign-in page: (address, words)."""
    if not current_user.is_authenticated:
        return url_for("staff.login"), _("Logg inn")
    endpoint = nav.HOME.get(current_user.role, "staff.settings")
    label = next((item.label for item in nav.MENU if item.endpoint == endpoint), None)
    return url_for(endpoint), _("Gå til %(page)s", page=label) if label else _("Gå til startsiden")


def render_error_page(error: HTTPException, try_again: str | None = None) -> str:
    code = error.code or 500
    # An address with no page (a 404, a 405) never passes the staff pages' idle check: a
    # session that has ended is not shown as signed in (her name, her menu) to whoever
    # sits at the computer she left.
    signed_out_when_idle(current_app.extensions["linja.clock"].now())
    allowed = frozenset(getattr(error, "valid_methods", None) or ())
    heading, text = heading_and_text(code, getattr(error, "roles", None), allowed)
    back_url, back_text = way_back()
    return render_template("staff/error.html", code=code, heading=heading, text=text,
                           back_url=back_url, back_text=back_text, try_again=try_again)
