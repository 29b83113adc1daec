"""Forms of the recruiters' workspace; Flask-WTF adds and checks the CSRF token on each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Optional

from app import labels
from app.models import Application, Client, Notification, Position, Stage
from app.notifications.kinds import TERMINAL_REASONS
from app.template_gettext import lazy_gettext as _l
from app.validators import DateWithin, fits, valid_email

try:  # wtforms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # pragma: no cover - older wtforms

    def _Choice(value, label):  # noqa: N802 - stands in for the class
        return (value, label)


# An interview recorded up to a year late, or planned up to five years ahead.
INTERVIEW_DATES = DateWithin(past_days=366, future_days=5 * 366)


def choices(pairs) -> list:
    return [_Choice(value, label) for value, label in pairs]


def reason_choices(stage: str) -> list:
    reasons = TERMINAL_REASONS.get(Stage(stage), ())
    return choices([("", _l("Choose a reason…"))] + [(r, labels.reason(r)) for r in reasons])


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), fits(Client.name)])
    contact_name = StringField(
        _l("Contact name"), validators=[Optional(), fits(Client.contact_name)]
    )
    contact_email = StringField(
        _l("Contact email"),
        validators=[Optional(), fits(Client.contact_email), valid_email],
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), fits(Client.notes)])


class PositionForm(FlaskForm):
    client_id = SelectField(
        _l("Client"), coerce=int, validators=[DataRequired(message=_l("Choose a client."))]
    )
    title = StringField(_l("Title"), validators=[DataRequired(), fits(Position.title)])
    location = StringField(_l("Location"), validators=[Optional(), fits(Position.location)])
    owner_id = SelectField(_l("Owner"), coerce=int, validators=[DataRequired()])
    # Whom at the client decides (empty: the client's contact): they get the decision emails.
    contact_name = StringField(
        _l("Who decides at the client"), validators=[Optional(), fits(Position.contact_name)]
    )
    contact_email = StringField(
        _l("Their email"),
        validators=[
            Optional(),
            fits(Position.contact_email),
            valid_email,
        ],
    )


class MoveForm(FlaskForm):
    # The application's version the preview was drawn from: a confirm against another
    # version is refused (app.pipeline.preview.confirm_move).
    version = HiddenField(validators=[Optional()])
    reason = SelectField(_l("Why does it end?"), validators=[Optional()], validate_choice=False)
    note = TextAreaField(
        _l("Personal note (added to the email)"),
        validators=[Optional(), fits(Notification.personal_note)],
        render_kw={"rows": 3},
    )


class UndoForm(FlaskForm):
    pass


class InterviewForm(FlaskForm):
    date = DateField(
        _l("Date"),
        validators=[DataRequired(message=_l("Give the interview date.")), INTERVIEW_DATES],
    )
    time = TimeField(_l("Time"), validators=[DataRequired(message=_l("Give the interview time."))])
    interviewers = StringField(
        _l("Who they meet"), validators=[Optional(), fits(Application.interviewers)]
    )
    promised_date = DateField(
        _l("Client decides by"),
        validators=[
            DataRequired(message=_l("Give the date by which the client will decide.")),
            INTERVIEW_DATES,
        ],
    )
    client_contact = StringField(
        _l("Client contact"), validators=[Optional(), fits(Application.client_contact)]
    )
    next_step = TextAreaField(
        _l("Next steps"),
        validators=[Optional(), fits(Application.next_step)],
        render_kw={"rows": 2},
    )
    note = TextAreaField(
        _l("Personal note (added to the email)"),
        validators=[Optional(), fits(Notification.personal_note)],
        render_kw={"rows": 2},
    )
