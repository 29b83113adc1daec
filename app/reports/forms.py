"""Forms on the report pages; Flask-WTF adds and checks the CSRF token on each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, NumberRange

from app import labels
from app.models import Contact, Notification
from app.template_gettext import lazy_gettext as _l
from app.validators import fits

try:  # wtforms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # pragma: no cover - older wtforms

    def _Choice(value, label):  # noqa: N802 - stands in for the class
        return (value, label)


class LogContactForm(FlaskForm):
    channel = SelectField(
        _l("How"),
        choices=[_Choice(c, label) for c, label in labels.CHANNELS.items()],
        default="phone",
    )
    summary = TextAreaField(
        _l("What was said"),
        validators=[DataRequired(), fits(Contact.summary)],
        render_kw={"rows": 3},
    )
    # The owed messages ticked (candidates/_settle.html); none settles nothing.
    settle = SelectMultipleField(_l("Settles"), coerce=int, validate_choice=False)
    next = HiddenField()


class ExemptForm(FlaskForm):
    notification_id = HiddenField(validators=[DataRequired(_l("Choose the message to exempt."))])
    reason = TextAreaField(
        _l("Why this message must not be sent"),
        validators=[
            DataRequired(_l("The exemption needs a reason.")),
            fits(Notification.discharge_reason),
        ],
        render_kw={"rows": 2},
    )
    next = HiddenField()


class DigestSettingsForm(FlaskForm):
    enabled = BooleanField(_l("Send me the morning digest"))
    hour = IntegerField(
        _l("Hour (your time zone)"), validators=[InputRequired(), NumberRange(min=0, max=23)]
    )


class RefreshForm(FlaskForm):
    pass
