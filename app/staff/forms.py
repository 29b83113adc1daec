from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from app import labels
from app.candidates.forms import as_choices, known_zones, timezone_choices
from app.models import Role, User
from app.staff.services import MIN_PASSWORD_LENGTH
from app.validators import fits, valid_email


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _roles() -> list:
    return as_choices((r.value, labels.role(r.value)) for r in Role)


class ProfileForm(FlaskForm):
    name = StringField(
        "Name", filters=[_strip], validators=[DataRequired("Enter your name."), fits(User.name)]
    )
    phone = StringField(
        "Phone",
        filters=[_strip],
        validators=[Optional(), fits(User.phone)],
        description="Shown with your name and email in every email your candidates get.",
    )
    timezone = SelectField(
        "Time zone", validate_choice=False, validators=[DataRequired("Choose a time zone.")]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = timezone_choices()
        if self.timezone.data in known_zones() and self.timezone.data not in zones:
            zones = [self.timezone.data, *zones]
        self.timezone.choices = as_choices((z, z.replace("_", " ")) for z in zones)

    def validate_timezone(self, field) -> None:
        if field.data not in known_zones():
            raise ValidationError("Choose a time zone from the list (e.g. Europe/London).")


_LONGEST_PASSWORD = 200  # hashing a megabyte is work for nothing


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired("Enter a new password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=_LONGEST_PASSWORD,
                message=f"Use {MIN_PASSWORD_LENGTH} to {_LONGEST_PASSWORD} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "New password again",
        validators=[EqualTo("new_password", "The two new passwords differ.")],
    )


class NewUserForm(FlaskForm):
    name = StringField(
        "Name", filters=[_strip], validators=[DataRequired("Enter the name."), fits(User.name)]
    )
    email = StringField(
        "Email",
        filters=[_strip],
        validators=[DataRequired("Enter the email address."), fits(User.email), valid_email],
    )
    phone = StringField("Phone", filters=[_strip], validators=[Optional(), fits(User.phone)])
    role = SelectField("Role", choices=_roles(), default=Role.RECRUITER.value)
    password = PasswordField(
        "First password",
        validators=[
            DataRequired("Give them a first password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=_LONGEST_PASSWORD,
                message=f"Use {MIN_PASSWORD_LENGTH} to {_LONGEST_PASSWORD} characters.",
            ),
        ],
        description="Tell them in person; they change it on their profile.",
    )


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=_roles())


class ConfirmForm(FlaskForm):
    """A button: nothing to type, the CSRF token is the whole form."""
