"""The desk's forms: find a caller, book for her, move or cancel her appointment."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from staff.forms import StaffPageForm
from staff.labels import parse_slot_value
from staff.forms import PhoneNumber

PHONE_HINT = _l("Skriv nummeret slik du har det, for eksempel 900 00 000 eller +47 900 00 000.")


class SearchForm(StaffPageForm):
    """Posted, never in the query string: a number in a URL ends up in logs and history."""

    phone = StringField(_l("Telefonnummer"), validators=[Length(max=40), PhoneNumber()])


class BookForm(StaffPageForm):
    """Step 1 of a booking, posted; the page it leads to names her by reference, not number."""

    phone = StringField(_l("Hennes telefonnummer"), validators=[Length(max=40), PhoneNumber()])
    language = SelectField(_l("Hennes språk"), validators=[DataRequired(_l("Velg hennes språk."))])
    service = SelectField(_l("Tjeneste"), coerce=int, validators=[InputRequired(_l("Velg en tjeneste."))])


class ChooseSlotForm(BookForm):
    slot = RadioField(_l("Ledige tider"), validate_choice=False,
                      validators=[InputRequired(_l("Velg en av tidene."))])

    def validate_slot(self, field) -> None:
        parsed = parse_slot_value(field.data)
        if parsed is None:
            raise ValidationError(_l("Velg en av tidene."))
        field.counselor_id, field.start_at = parsed


class MoveForm(StaffPageForm):
    slot = HiddenField(validators=[InputRequired()])
    version = IntegerField(validators=[InputRequired()])

    def validate_slot(self, field) -> None:
        parsed = parse_slot_value(field.data)
        if parsed is None:
            raise ValidationError(_l("Den tiden forsto vi ikke. Velg en av tidene på nytt."))
        field.counselor_id, field.start_at = parsed


class CancelForm(StaffPageForm):
    reason = TextAreaField(_l("Hvorfor avlyses timen? (kort, hun ser det ikke)"), validators=[
        DataRequired(_l("Skriv en kort grunn, så de andre vet hvorfor timen ble avlyst.")),
        Length(max=200, message=_l("Høyst %(max)d tegn.", max=200)),
    ])
    version = HiddenField(validators=[InputRequired()])
