from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SubmitField
from wtforms.validators import DataRequired, Email

from app.models import Candidate
from app.validators import fits


class RequestUpdateForm(FlaskForm):
    submit = SubmitField("Request an update")


class WithdrawForm(FlaskForm):
    confirm = BooleanField(
        "I understand that this ends my application for this role.",
        validators=[DataRequired("Tick the box to confirm.")],
    )
    submit = SubmitField("Withdraw my application")


class PreferencesForm(FlaskForm):
    optional_updates = BooleanField("Send me optional updates")
    submit = SubmitField("Save preferences")


class LinkRequestForm(FlaskForm):
    email = EmailField(
        "Your email address",
        validators=[DataRequired("Enter your email address."), fits(Candidate.email), Email()],
    )
    submit = SubmitField("Email me a new link")
