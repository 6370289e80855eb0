"""The desk's forms: find a caller, book for her, move or cancel her appointment."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from staff.forms import StaffPageForm, choices
from staff.labels import MEANS, WEEKDAY_NAMES, parse_slot_value
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


class ContactForm(StaffPageForm):
    """Her terms for being contacted, as she told the receptionist (scheduling.contact)."""

    means = RadioField(_l("Hvordan Linja kan nå henne"), choices=choices((m.value, label) for m, label in MEANS.items()),
                       validate_choice=False)
    days = SelectMultipleField(_l("Dager"), choices=choices((str(d), name) for d, name in enumerate(WEEKDAY_NAMES)),
                               option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
                               validate_choice=False)
    starts = TimeField(_l("Fra kl."), validators=[Optional()])
    ends = TimeField(_l("Til kl."), validators=[Optional()])

    def validate_means(self, field) -> None:
        if field.data not in {m.value for m in MEANS}:
            raise ValidationError(_l("Velg hvordan Linja kan nå henne."))

    def validate_days(self, field) -> None:
        if not field.data or not set(field.data) <= set("0123456"):
            raise ValidationError(_l("Velg minst én dag."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        starts, ends = self.starts.data, self.ends.data
        if not self.starts.errors and not self.ends.errors:
            if (starts is None) != (ends is None):
                self.ends.errors.append(_l("Skriv både fra og til, eller ingen av dem (når som helst)."))
                valid = False
            elif starts is not None and ends <= starts:
                self.ends.errors.append(_l("Til-tiden må være etter fra-tiden, samme dag."))
                valid = False
        return valid
