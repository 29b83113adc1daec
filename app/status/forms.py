from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, SubmitField
from wtforms.validators import DataRequired

from app.models import Candidate
from app.template_gettext import lazy_gettext as _l
from app.validators import fits, valid_email


class RequestUpdateForm(FlaskForm):
    submit = SubmitField(_l("Request an update"))


class WithdrawForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand that this ends my application for this role."),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )
    submit = SubmitField(_l("Withdraw my application"))


class PreferencesForm(FlaskForm):
    optional_updates = BooleanField(_l("Send me optional updates"))
    submit = SubmitField(_l("Save preferences"))


class LanguageForm(FlaskForm):
    # Each language named in its own words; choices are set per request (agency default first).
    language = SelectField(_l("Read this in"), choices=[])
    submit = SubmitField(_l("Change language"))


class LinkRequestForm(FlaskForm):
    email = EmailField(
        _l("Your email address"),
        # The staff's candidate form's own check: an address staff saved is always accepted.
        validators=[
            DataRequired(_l("Enter your email address.")),
            fits(Candidate.email),
            valid_email,
        ],
    )
    submit = SubmitField(_l("Email me a new link"))
