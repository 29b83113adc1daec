from __future__ import annotations

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from app import labels
from app.candidates.forms import as_choices, known_zones, timezone_choices
from app.models import Role, User
from app.staff.services import MIN_PASSWORD_LENGTH
from app.template_gettext import lazy_gettext as _l
from app.validators import fits, valid_email


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _roles() -> list:
    return as_choices((r.value, labels.role(r.value)) for r in Role)


class ProfileForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter your name.")), fits(User.name)],
    )
    phone = StringField(
        _l("Phone"),
        filters=[_strip],
        validators=[Optional(), fits(User.phone)],
        description=_l("Shown with your name and email in every email your candidates get."),
    )
    timezone = SelectField(
        _l("Time zone"), validate_choice=False, validators=[DataRequired(_l("Choose a time zone."))]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = timezone_choices()
        if self.timezone.data in known_zones() and self.timezone.data not in zones:
            zones = [self.timezone.data, *zones]
        self.timezone.choices = as_choices((z, z.replace("_", " ")) for z in zones)

    def validate_timezone(self, field) -> None:
        if field.data not in known_zones():
            raise ValidationError(_("Choose a time zone from the list (e.g. Europe/London)."))


_LONGEST_PASSWORD = 200  # hashing a megabyte is work for nothing


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password."))]
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Enter a new password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=_LONGEST_PASSWORD,
                message=_l(
                    "Use %(MIN_PASSWORD_LENGTH)s to %(LONGEST_PASSWORD)s characters.",
                    MIN_PASSWORD_LENGTH=MIN_PASSWORD_LENGTH,
                    LONGEST_PASSWORD=_LONGEST_PASSWORD,
                ),
            ),
        ],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[EqualTo("new_password", _l("The two new passwords differ."))],
    )


class NewUserForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the name.")), fits(User.name)],
    )
    email = StringField(
        _l("Email"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the email address.")), fits(User.email), valid_email],
    )
    phone = StringField(_l("Phone"), filters=[_strip], validators=[Optional(), fits(User.phone)])
    role = SelectField(_l("Role"), choices=_roles(), default=Role.RECRUITER.value)
    password = PasswordField(
        _l("First password"),
        validators=[
            DataRequired(_l("Give them a first password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=_LONGEST_PASSWORD,
                message=_l(
                    "Use %(MIN_PASSWORD_LENGTH)s to %(LONGEST_PASSWORD)s characters.",
                    MIN_PASSWORD_LENGTH=MIN_PASSWORD_LENGTH,
                    LONGEST_PASSWORD=_LONGEST_PASSWORD,
                ),
            ),
        ],
        description=_l("Tell them in person; they change it on their profile."),
    )


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=_roles())


class ConfirmForm(FlaskForm):
    """A button: nothing to type, the CSRF token is the whole form."""
