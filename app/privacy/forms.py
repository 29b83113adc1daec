from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import AnyOf, DataRequired


class ConfirmForm(FlaskForm):
    submit = SubmitField()


class EraseForm(FlaskForm):
    confirm = StringField(
        'Type "ERASE" to confirm',
        validators=[DataRequired(), AnyOf(["ERASE"], message='Type "ERASE" in capitals.')],
    )
    submit = SubmitField("Erase this candidate's personal data")
