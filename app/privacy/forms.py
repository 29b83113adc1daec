from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import AnyOf, DataRequired

from app.template_gettext import lazy_gettext as _l


class ConfirmForm(FlaskForm):
    submit = SubmitField()


class EraseForm(FlaskForm):
    confirm = StringField(
        _l('Type "ERASE" to confirm'),
        validators=[DataRequired(), AnyOf(["ERASE"], message=_l('Type "ERASE" in capitals.'))],
    )
    submit = SubmitField(_l("Erase this candidate's personal data"))
