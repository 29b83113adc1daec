from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SubmitField
from wtforms.validators import DataRequired

from app.models import Candidate
from app.validators import fits, valid_email


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
        # The staff's candidate form's own check: an address staff saved is always accepted.
        validators=[DataRequired("Enter your email address."), fits(Candidate.email), valid_email],
    )
    submit = SubmitField("Email me a new link")
