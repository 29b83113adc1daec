from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from app.candidates.forms import as_choices
from app.models import ClientDecision
from app.validators import fits


class DecisionForm(FlaskForm):
    decision = RadioField(
        "Your decision",
        choices=as_choices(
            [
                ("move_forward", "Move forward"),
                ("decline", "Decline"),
                ("more_time", "I need more time"),
            ]
        ),
        validators=[DataRequired("Choose a decision.")],
    )
    reason = StringField("Reason (optional)", validators=[Optional(), fits(ClientDecision.reason)])
    feedback = TextAreaField(
        "Feedback for the recruiter (optional)",
        validators=[Optional(), fits(ClientDecision.feedback)],
    )
    new_date = DateField("I will decide by", validators=[Optional()])
