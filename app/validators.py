"""Form validators every area shares: lengths come from the model columns (one source for
the form, the CSV import and the database), and dates stay within a range a person means.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from wtforms.validators import Length, ValidationError

from app import clock, dates
from app.orm import max_length
from app.template_gettext import lazy_ngettext


class InvalidEmail(ValueError):
    """Not an email address; the message says why, in words."""


def normalize_email(value: str) -> str:
    """The one check of an email address's shape, for every form, import and command: the
    staff's candidate form, the public "email me a new link" form, the CSV import and
    `flask users create` accept exactly the same addresses. No DNS lookups (no network, and
    slow); the reserved .test domain is allowed (demo and test data use it)."""
    try:
        return validate_email(
            value.strip(), check_deliverability=False, test_environment=True
        ).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc).rstrip(".")) from None


def valid_email(form, field) -> None:
    """A WTForms validator for `normalize_email`; an empty field is left to DataRequired or
    Optional."""
    if not field.data:
        return
    try:
        normalize_email(field.data)
    except InvalidEmail as exc:
        raise ValidationError(
            _("Enter a valid email address (%(problem)s).", problem=exc)
        ) from None


def fits(attribute, message: str | None = None) -> Length:
    """At most as many characters as the model attribute's column holds."""
    limit = max_length(attribute)
    if message is None:
        message = lazy_ngettext(
            "Keep it to %(num)s character or fewer.",
            "Keep it to %(num)s characters or fewer.",
            limit,
            num=format(limit, ","),
        )
    return Length(max=limit, message=message)


class DateWithin:
    """A date (or date and time) no more than `past_days` before and `future_days` after
    today: anything further out is a typo (9999-12-31), and dates near the ends of the
    calendar cannot be computed with (time zones, reminders the day before)."""

    def __init__(self, past_days: int, future_days: int, message: str | None = None):
        self.past = timedelta(days=past_days)
        self.future = timedelta(days=future_days)
        self.message = message

    def __call__(self, form, field) -> None:
        value = field.data
        if value is None:
            return
        day = value.date() if isinstance(value, datetime) else value
        today = clock.now().date()
        if not isinstance(day, date) or not today - self.past <= day <= today + self.future:
            first, last = today - self.past, today + self.future
            raise ValidationError(
                self.message
                or _(
                    "Give a date between %(first)s and %(last)s.",
                    first=dates.moment(first, "day"),
                    last=dates.moment(last, "day"),
                )
            )
