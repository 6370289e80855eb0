"""What the receptionist is told, after a booking, a move or a cancellation, about the
text Linja sends the caller: whether it reaches her, and if not, why not."""
from __future__ import annotations

from flask_babel import gettext as _

from scheduling import notifications
from scheduling.models import Client
from scheduling.phones import is_mobile
from staff.db import db
from staff.labels import language_name


def text_reaches(client: Client | None) -> bool:
    return notifications.can_text(db(), client) and not client.is_opted_out


def text_notice(client: Client | None, what: str) -> str:
    """What the receptionist should know about the text Linja sends her about a change."""
    if client is None or client.phone_e164 is None:
        return _("Innringeren har slettet nummeret sitt, så hun får ingen SMS om dette.")
    if client.is_opted_out:
        return _("Hun har sagt STOPP til SMS, så ingen SMS når henne: hun får ikke %(what)s. "
                 "Si det til henne på telefonen.", what=what)
    if not is_mobile(client.phone_e164):
        return _("Nummeret kan ikke ta imot SMS, så hun får ikke %(what)s. Si det til henne på telefonen.", what=what)
    return _("Hun får %(what)s på SMS, på %(language)s.", what=what, language=language_name(client.language_code))
