"""Forms of the candidates area: the candidate, adding to a position, logging a contact, and
the queue's small reply / fix-address forms."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Optional, ValidationError

from app import labels, languages
from app.models import Candidate, Contact, ContactChannel, Notification
from app.template_gettext import lazy_gettext as _l
from app.validators import DateWithin, fits, valid_email

try:  # wtforms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # pragma: no cover - older wtforms

    def _Choice(value, label):  # noqa: N802 - stands in for the class
        return (value, label)


def as_choices(pairs) -> list:
    return [_Choice(value, label) for value, label in pairs]


@cache
def known_zones() -> frozenset[str]:
    # Read once: available_timezones() walks the tz database on disk at every call.
    return frozenset(available_timezones())


@cache
def timezone_choices() -> list[str]:
    # Legacy aliases ("US/Eastern", "Etc/GMT+5") clutter the list without adding a place.
    zones = known_zones()
    return sorted(z for z in zones if "/" in z and not z.startswith(("Etc/", "SystemV/"))) + ["UTC"]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class CandidateForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the name.")), fits(Candidate.name)],
    )
    email = StringField(
        _l("Email"), filters=[_strip], validators=[Optional(), fits(Candidate.email), valid_email]
    )
    phone = StringField(
        _l("Phone"), filters=[_strip], validators=[Optional(), fits(Candidate.phone)]
    )
    timezone = SelectField(
        _l("Time zone"), validate_choice=False, validators=[DataRequired(_l("Choose a time zone."))]
    )
    language = StringField(
        _l("Language"),
        filters=[_strip],
        validators=[Optional(), fits(Candidate.language)],
        render_kw={"list": "cl-languages", "autocomplete": "off"},
    )
    optional_updates = BooleanField(_l("Send optional updates (still-deciding reminders)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = timezone_choices()
        if self.timezone.data in known_zones() and self.timezone.data not in zones:
            zones = [self.timezone.data, *zones]  # an imported legacy alias stays selectable
        self.timezone.choices = as_choices((z, z.replace("_", " ")) for z in zones)

    def validate_language(self, field) -> None:
        try:
            field.data = languages.normalize(field.data)
        except languages.BadLanguage as exc:
            raise ValidationError(str(exc)) from None

    def validate_timezone(self, field) -> None:
        if field.data not in known_zones():
            raise ValidationError(_("Choose a time zone from the list (e.g. Europe/London)."))


class AddToPositionForm(FlaskForm):
    position_id = SelectField(
        _l("Position"), coerce=int, validators=[DataRequired(_l("Pick a position."))]
    )


class ContactForm(FlaskForm):
    channel = SelectField(
        _l("Channel"),
        choices=as_choices(labels.CHANNELS.items()),
        default=ContactChannel.PHONE.value,
    )
    summary = TextAreaField(
        _l("What was discussed"),
        filters=[_strip],
        validators=[DataRequired(_l("Say briefly what was discussed.")), fits(Contact.summary)],
    )
    application_id = SelectField(_l("About"), coerce=int, default=0)
    # The owed messages the recruiter ticked (candidates/_settle.html lists them); the
    # service checks each belongs to the chosen application and is still owed.
    settle = SelectMultipleField(_l("Settles"), coerce=int, validate_choice=False)
    occurred_at = DateTimeLocalField(
        _l("When"),
        format="%Y-%m-%dT%H:%M",
        # Only a range dates can be computed with: the service refuses a contact in the
        # future, to the minute, in words of its own.
        validators=[Optional(), DateWithin(past_days=5 * 366, future_days=366)],
        render_kw={"step": 60},
    )


class ReplyForm(FlaskForm):
    message = TextAreaField(
        _l("Your answer"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Write a short answer for the candidate.")),
            fits(Notification.personal_note),
        ],
    )


class FixEmailForm(FlaskForm):
    email = StringField(
        _l("Correct email"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the corrected address.")),
            fits(Candidate.email),
            valid_email,
        ],
    )


class DoneForm(FlaskForm):
    """Mark a task done (nothing to type: the form carries the CSRF token)."""


class ConfirmDecisionForm(FlaskForm):
    """One click: the CSRF token is the whole form."""
