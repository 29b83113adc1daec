from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from app.candidates.forms import as_choices
from app.models import ClientDecision
from app.template_gettext import lazy_gettext as _l
from app.validators import fits


class DecisionForm(FlaskForm):
    decision = RadioField(
        _l("Your decision"),
        choices=as_choices(
            [
                ("move_forward", _l("Move forward")),
                ("decline", _l("Decline")),
                ("more_time", _l("I need more time")),
            ]
        ),
        validators=[DataRequired(_l("Choose a decision."))],
    )
    reason = StringField(
        _l("Reason (optional)"), validators=[Optional(), fits(ClientDecision.reason)]
    )
    feedback = TextAreaField(
        _l("Feedback for the recruiter (optional)"),
        validators=[Optional(), fits(ClientDecision.feedback)],
    )
    new_date = DateField(_l("I will decide by"), validators=[Optional()])
