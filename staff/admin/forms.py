"""The admin pages' forms (Flask-WTF: each carries its CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from scheduling.models import StaffRole
from staff.forms import MIN_PASSWORD_LENGTH, PhoneNumber, StaffPageForm, choices

WEEKDAYS = [
    (0, _l("mandag")), (1, _l("tirsdag")), (2, _l("onsdag")), (3, _l("torsdag")),
    (4, _l("fredag")), (5, _l("lørdag")), (6, _l("søndag")),
]
ROLES = [
    (StaffRole.counselor.value, _l("Rådgiver")),
    (StaffRole.receptionist.value, _l("Resepsjon")),
    (StaffRole.admin.value, _l("Administrator")),
    (StaffRole.recorder.value, _l("Opptaker (tolk)")),
]
REQUIRED = _l("Fyll ut dette feltet.")
BAD_TIME = _l("Skriv klokkeslettet som TT:MM, for eksempel 09:30.")
BAD_DATE = _l("Skriv datoen som ÅÅÅÅ-MM-DD, for eksempel 2026-12-01.")
RECORDING_EXTENSIONS = ("mp3", "wav")
MAX_RECORDING_BYTES = 5 * 1024 * 1024


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes; an empty list is a valid answer."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:
        values = {str(value) for value, *_ in self.iter_choices()}
        if any(str(item) not in values for item in self.data or []):
            raise ValueError(_l("Velg bare blant valgene på listen."))


def _time(label):
    return TimeField(label, validators=[InputRequired(REQUIRED)], format="%H:%M",
                     render_kw={"step": 300})


class StaffForm(StaffPageForm):
    name = StringField(_l("Navn"), validators=[DataRequired(REQUIRED), Length(max=120)])
    email = EmailField(_l("E-post"), validators=[
        DataRequired(REQUIRED), Length(max=254),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Det ser ikke ut som en e-postadresse."))])
    role = SelectField(_l("Rolle"), choices=choices(ROLES))
    phone = StringField(_l("Telefonnummer"), validators=[Optional(), Length(max=40), PhoneNumber()])
    is_active = BooleanField(_l("Aktiv (kan logge inn og få timer)"), default=True)
    languages = CheckboxesField(_l("Språk hun snakker"))
    services = CheckboxesField(_l("Tjenester hun tilbyr"), coerce=int)

    def validate_languages(self, field) -> None:
        # A recorder records her languages and nothing else: without one she could not record.
        if self.role.data == StaffRole.recorder.value and not field.data:
            raise ValidationError(_l("Velg språkene hun spiller inn på telefonlinja."))

    def validate_services(self, field) -> None:
        # Only a counselor is booked: a recorder offering a service would never get a time.
        if self.role.data == StaffRole.recorder.value and field.data:
            raise ValidationError(_l("En opptaker tilbyr ingen tjenester. Fjern krysset, eller velg en annen rolle."))


class NewStaffForm(StaffForm):
    password = PasswordField(_l("Passord"), validators=[
        DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=200,
                                       message=_l("Minst %(min)d tegn.", min=MIN_PASSWORD_LENGTH))])


class SetPasswordForm(StaffPageForm):
    new = PasswordField(_l("Nytt passord"), validators=[
        DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=200,
                                       message=_l("Minst %(min)d tegn.", min=MIN_PASSWORD_LENGTH))])
    repeat = PasswordField(_l("Nytt passord igjen"), validators=[
        DataRequired(REQUIRED), EqualTo("new", message=_l("De to passordene er ikke like."))])


class WorkingHoursForm(StaffPageForm):
    weekday = SelectField(_l("Ukedag"), choices=choices(WEEKDAYS), coerce=int)
    starts = _time(_l("Fra"))
    ends = _time(_l("Til"))
    valid_from = DateField(_l("Gjelder fra"), validators=[InputRequired(BAD_DATE)])
    valid_until = DateField(_l("Gjelder til og med (tomt: inntil videre)"), validators=[Optional()])


class AbsenceForm(StaffPageForm):
    first_day = DateField(_l("Fra dato"), validators=[InputRequired(BAD_DATE)])
    starts = TimeField(_l("Fra klokken (tomt: hele dagen)"), validators=[Optional()], format="%H:%M")
    last_day = DateField(_l("Til og med dato"), validators=[InputRequired(BAD_DATE)])
    ends = TimeField(_l("Til klokken (tomt: dagen ut)"), validators=[Optional()], format="%H:%M")
    reason = StringField(_l("Grunn (valgfritt, vises bare for ansatte)"), validators=[Optional(), Length(max=200)])


class ServiceForm(StaffPageForm):
    """Names per language are added per request (see services.service_form)."""

    slug = StringField(_l("Kortnavn (små bokstaver, tall og bindestrek)"), validators=[
        DataRequired(REQUIRED), Length(max=40),
        Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", message=_l("Bare a–z, 0–9 og bindestrek, for eksempel «familie»."))])
    duration_minutes = IntegerField(_l("Varighet (minutter)"), validators=[
        InputRequired(_l("Skriv et antall minutter.")),
        NumberRange(5, 480, message=_l("Mellom %(min)d og %(max)d minutter."))])
    buffer_minutes = IntegerField(_l("Pause etterpå (minutter)"), default=0, validators=[
        InputRequired(_l("Skriv et antall minutter (0 for ingen pause).")),
        NumberRange(0, 120, message=_l("Mellom %(min)d og %(max)d minutter."))])
    menu_order = IntegerField(_l("Plass i menyen"), default=10, validators=[
        InputRequired(_l("Skriv et tall.")), NumberRange(0, 999, message=_l("Et tall fra %(min)d til %(max)d."))])
    is_active = BooleanField(_l("Aktiv (tilbys innringere)"), default=True)


class OpeningHoursForm(StaffPageForm):
    weekday = SelectField(_l("Ukedag"), choices=choices(WEEKDAYS), coerce=int)
    opens = _time(_l("Åpner"))
    closes = _time(_l("Stenger"))


class ClosureForm(StaffPageForm):
    first_day = DateField(_l("Første stengte dag"), validators=[InputRequired(BAD_DATE)])
    last_day = DateField(_l("Siste stengte dag"), validators=[InputRequired(BAD_DATE)])
    reason = StringField(_l("Grunn (valgfritt)"), validators=[Optional(), Length(max=200)])


class DutyShiftForm(StaffPageForm):
    staff_id = SelectField(_l("Hvem"), coerce=int)
    weekday = SelectField(_l("Ukedag"), choices=choices(WEEKDAYS), coerce=int)
    starts = _time(_l("Fra"))
    ends = _time(_l("Til"))


class RecordingForm(StaffPageForm):
    prompt_key = HiddenField(validators=[DataRequired()])
    # The file's own bytes decide (see hotline.studio.sniff); the extension check only
    # gives a quicker answer for an obviously wrong file.
    audio = FileField(_l("Lydfil (MP3 eller WAV, høyst 5 MB)"), validators=[
        FileRequired(_l("Velg en lydfil.")),
        FileAllowed(RECORDING_EXTENSIONS, _l("Bare MP3- eller WAV-filer kan brukes på telefonlinja.")),
        FileSize(MAX_RECORDING_BYTES, message=_l("Filen er for stor: høyst 5 MB. Et opptak på under ett minutt "
                                                 "er nok."))], render_kw={"accept": ".mp3,.wav,audio/mpeg,audio/wav"})
