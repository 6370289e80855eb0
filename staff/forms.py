"""Forms shared by the staff pages (Flask-WTF: every form carries a CSRF token)."""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from scheduling.phones import parse_phone
from staff.i18n import STAFF_LOCALES

def _without_nul(value):
    return value.replace("\x00", "") if isinstance(value, str) else value


class StaffPageForm(FlaskForm):
    """The base of every staff form: text loses NUL characters, which no database keeps
    (PostgreSQL refuses them), so such input is saved without them instead of failing."""

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            if issubclass(unbound_field.field_class, StringField):
                filters = [*unbound_field.kwargs.get("filters", ()), _without_nul]
                return unbound_field.bind(form=form, **{**options, "filters": filters})
            return unbound_field.bind(form=form, **options)


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as a select field's options."""
    return [SelectChoice(value, label) for value, label in pairs]


PHONE_ERRORS = {
    "empty": _l("Skriv inn et telefonnummer."),
    "not_a_number": _l("Det ser ikke ut som et telefonnummer."),
    "invalid": _l("Det nummeret finnes ikke. Sjekk sifrene og landskoden."),
}
MIN_PASSWORD_LENGTH = 10


class PhoneNumber:
    """A phone number written any way ("90 00 00 00", "+47 900 00 000", "0047…"); the
    field's ``e164`` holds it in E.164 once valid."""

    def __call__(self, form, field) -> None:
        parsed = parse_phone(field.data, current_app.config.get("DEFAULT_PHONE_REGION", "NO"))
        if not parsed.is_valid:
            raise ValidationError(PHONE_ERRORS[parsed.error])
        field.e164 = parsed.e164


class LoginForm(StaffPageForm):
    email = EmailField(_l("E-post"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Passord"), validators=[DataRequired(), Length(max=200)])


class SettingsForm(StaffPageForm):
    ui_locale = SelectField(_l("Språk på sidene"), 
                            choices=[SelectChoice(code, name) for code, name in STAFF_LOCALES.items()])
    phone = StringField(_l("Ditt telefonnummer (Linja ringer deg når du ringer en innringer tilbake)"),
                        validators=[Optional(), Length(max=40), PhoneNumber()])


class PasswordForm(StaffPageForm):
    current = PasswordField(_l("Nåværende passord"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("Nytt passord"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200,
                               message=_l("Minst %(min)d tegn.", min=MIN_PASSWORD_LENGTH))])
    repeat = PasswordField(_l("Nytt passord igjen"), validators=[
        DataRequired(), EqualTo("new", message=_l("De to passordene er ikke like."))])
