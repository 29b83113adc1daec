"""Forms of the candidates area: the candidate, adding to a position, logging a contact, and
the queue's small reply / fix-address forms."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Optional, ValidationError

from app import labels
from app.models import Candidate, Contact, ContactChannel, Notification
from app.validators import DateWithin, fits

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


def valid_email(form, field) -> None:
    """A syntactically valid address; no DNS lookups (no network, and it would be slow)."""
    if not field.data:
        return
    try:
        # test_environment: the reserved .test domain is what demo and test data use.
        validate_email(field.data, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValidationError(f"Enter a valid email address ({str(exc).rstrip('.')}).") from None


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class CandidateForm(FlaskForm):
    name = StringField(
        "Name", filters=[_strip], validators=[DataRequired("Enter the name."), fits(Candidate.name)]
    )
    email = StringField(
        "Email", filters=[_strip], validators=[Optional(), fits(Candidate.email), valid_email]
    )
    phone = StringField("Phone", filters=[_strip], validators=[Optional(), fits(Candidate.phone)])
    timezone = SelectField(
        "Time zone", validate_choice=False, validators=[DataRequired("Choose a time zone.")]
    )
    optional_updates = BooleanField("Send optional updates (still-deciding reminders)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = timezone_choices()
        if self.timezone.data in known_zones() and self.timezone.data not in zones:
            zones = [self.timezone.data, *zones]  # an imported legacy alias stays selectable
        self.timezone.choices = as_choices((z, z.replace("_", " ")) for z in zones)

    def validate_timezone(self, field) -> None:
        if field.data not in known_zones():
            raise ValidationError("Choose a time zone from the list (e.g. Europe/London).")


class AddToPositionForm(FlaskForm):
    position_id = SelectField("Position", coerce=int, validators=[DataRequired("Pick a position.")])


class ContactForm(FlaskForm):
    channel = SelectField(
        "Channel",
        choices=as_choices(labels.CHANNELS.items()),
        default=ContactChannel.PHONE.value,
    )
    summary = TextAreaField(
        "What was discussed",
        filters=[_strip],
        validators=[DataRequired("Say briefly what was discussed."), fits(Contact.summary)],
    )
    application_id = SelectField("About", coerce=int, default=0)
    occurred_at = DateTimeLocalField(
        "When",
        format="%Y-%m-%dT%H:%M",
        # Only a range dates can be computed with: the service refuses a contact in the
        # future, to the minute, in words of its own.
        validators=[Optional(), DateWithin(past_days=5 * 366, future_days=366)],
        render_kw={"step": 60},
    )


class ReplyForm(FlaskForm):
    message = TextAreaField(
        "Your answer",
        filters=[_strip],
        validators=[
            DataRequired("Write a short answer for the candidate."),
            fits(Notification.personal_note),
        ],
    )


class FixEmailForm(FlaskForm):
    email = StringField(
        "Correct email",
        filters=[_strip],
        validators=[
            DataRequired("Enter the corrected address."),
            fits(Candidate.email),
            valid_email,
        ],
    )


class ConfirmDecisionForm(FlaskForm):
    """One click: the CSRF token is the whole form."""
