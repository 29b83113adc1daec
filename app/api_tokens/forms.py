"""Forms of the API tokens page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from app.models import ApiToken
from app.template_gettext import lazy_gettext as _l
from app.validators import fits


class NewTokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(_l("Name the token after the system that will use it.")),
            fits(ApiToken.name),
        ],
    )


class RevokeForm(FlaskForm):
    pass
