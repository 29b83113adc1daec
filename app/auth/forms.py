from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from app.models import User
from app.template_gettext import lazy_gettext as _l
from app.validators import fits


class LoginForm(FlaskForm):
    # No Email() validator: any failure, malformed address included, gets the one generic
    # message so the form never hints at which accounts exist.
    email = EmailField(_l("Email"), validators=[DataRequired(), fits(User.email)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField(_l("Sign in"))
