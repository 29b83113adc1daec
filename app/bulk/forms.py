"""Forms for bulk moves and the position lifecycle; Flask-WTF checks the CSRF token on each
POST. The selected application ids travel as repeated hidden `application_ids` inputs."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import Optional

from app import labels
from app.models import Notification, Position, Stage
from app.notifications.kinds import TERMINAL_REASONS
from app.template_gettext import lazy_gettext as _l
from app.validators import fits

try:  # wtforms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # pragma: no cover - older wtforms

    def _Choice(value, label):  # noqa: N802 - stands in for the class
        return (value, label)


def reason_choices(reasons) -> list:
    pairs = [("", _l("Choose a reason…"))] + [(r, labels.reason(r)) for r in reasons]
    return [_Choice(value, label) for value, label in pairs]


class BulkForm(FlaskForm):
    action = HiddenField()
    stage = HiddenField()
    reason = SelectField(
        _l("Why do these applications end?"),
        choices=reason_choices(TERMINAL_REASONS[Stage.REJECTED]),
        validators=[Optional()],
    )
    note = TextAreaField(
        _l("Personal note (added to every email)"),
        validators=[Optional(), fits(Notification.personal_note)],
        render_kw={"rows": 3, "placeholder": _l("Optional: e.g. thank you for your time.")},
    )
    # What the emails on screen were rendered with: a confirm with other values only
    # refreshes the preview, so nobody sends an email they have not seen.
    shown_reason = HiddenField()
    shown_note = HiddenField()


class UndoAllForm(FlaskForm):
    stage = HiddenField()


class LifecycleForm(FlaskForm):
    reason = SelectField(_l("Why?"), validators=[Optional()], validate_choice=False)
    hold_reason = TextAreaField(
        _l("Why is it on hold? (for the record: candidates hear only that it is paused)"),
        validators=[Optional(), fits(Position.status_reason)],
        render_kw={"rows": 2, "placeholder": _l("e.g. the client is reviewing its budget")},
    )
    shown_reason = HiddenField()


class ReopenForm(FlaskForm):
    """Reopen a held position, or undo a close: a confirmation with its CSRF token."""
