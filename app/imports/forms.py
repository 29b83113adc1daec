"""Forms of the CSV import; Flask-WTF adds and checks the CSRF token on each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField

from app.template_gettext import lazy_gettext as _l

try:  # wtforms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # pragma: no cover - older wtforms

    def _Choice(value, label):  # noqa: N802 - stands in for the class
        return (value, label)


POOL = ""


class UploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])
    target = SelectField(_l("Import into"), choices=[], validate_choice=True)

    def set_positions(self, positions) -> None:
        self.target.choices = [_Choice(POOL, _l("The candidate pool (no position)"))] + [
            _Choice(str(p.id), f"{p.title} · {p.client.name}") for p in positions
        ]


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the rows come from the server-side import, never the browser."""
