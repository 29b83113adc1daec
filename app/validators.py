"""Form validators every area shares: lengths come from the model columns (one source for
the form, the CSV import and the database), and dates stay within a range a person means.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from wtforms.validators import Length, ValidationError

from app import candidate_words, clock, dates
from app.orm import max_length


class InvalidEmail(ValueError):
    """Not an email address; the message says why, in our words (`code`: EMAIL_PROBLEMS)."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)

    def __str__(self) -> str:
        return str(candidate_words.EMAIL_PROBLEMS[self.code])


def normalize_email(value: str) -> str:
    """The one check of an email address's shape, for every form, import and command: the
    staff's candidate form, the public "email me a new link" form, the CSV import and
    `flask users create` accept exactly the same addresses. No DNS lookups (no network, and
    slow); the reserved .test domain is allowed (demo and test data use it)."""
    value = value.strip()
    try:
        return validate_email(value, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(email_problem(value, str(exc))) from None


def email_problem(value: str, reason: str) -> str:
    """Which of EMAIL_PROBLEMS a refused address has: from its shape first, then from
    email_validator's (English) reason; anything unrecognised is the general one."""
    local, at, domain = value.rpartition("@")
    if not at:
        return "no_at"
    if not local:
        return "nothing_before"
    if not domain:
        return "nothing_after"
    if len(value) > 254 or "too long" in reason:
        return "too_long"
    if " " in value:
        return "space"
    if "after the @-sign" in reason:
        return "after"
    if "before the @-sign" in reason:
        return "before"
    return "other"


def valid_email(form, field) -> None:
    """A WTForms validator for `normalize_email`; an empty field is left to DataRequired or
    Optional."""
    if not field.data:
        return
    try:
        normalize_email(field.data)
    except InvalidEmail as exc:
        raise ValidationError(candidate_words.invalid_email(str(exc))) from None


def fits(attribute, message: str | None = None) -> Length:
    """At most as many characters as the model attribute's column holds."""
    limit = max_length(attribute)
    if message is None:
        message = candidate_words.too_long(limit)
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
