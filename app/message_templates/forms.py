"""The template editor's forms; Flask-WTF adds and checks the CSRF token on each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from app.notifications.custom_templates import (
    MAX_SOURCE_CHARS,
    MAX_SUBJECT_CHARS,
    PART_LABELS,
    PARTS,
    Draft,
)
from app.template_gettext import lazy_gettext as _l

# Emptiness and template errors are checked by custom_templates.validate, which knows the
# parts' labels; the form only bounds sizes.
_MAX = MAX_SOURCE_CHARS


class TemplateForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[Length(max=MAX_SUBJECT_CHARS)])
    text_happened = TextAreaField(PART_LABELS["happened"], validators=[Length(max=_MAX)])
    text_next = TextAreaField(PART_LABELS["next"], validators=[Length(max=_MAX)])
    text_when = TextAreaField(PART_LABELS["when"], validators=[Length(max=_MAX)])
    html_happened = TextAreaField(PART_LABELS["happened"], validators=[Length(max=_MAX)])
    html_next = TextAreaField(PART_LABELS["next"], validators=[Length(max=_MAX)])
    html_when = TextAreaField(PART_LABELS["when"], validators=[Length(max=_MAX)])

    def load(self, draft: Draft) -> None:
        self.subject.data = draft.subject
        for p in PARTS:
            getattr(self, f"text_{p}").data = draft.text.get(p, "")
            getattr(self, f"html_{p}").data = draft.html.get(p, "")

    def draft(self) -> Draft:
        return draft_from({name: getattr(self, name).data for name in ("subject", *_part_fields())})


class ResetForm(FlaskForm):
    pass


def _part_fields() -> list[str]:
    return [f"{fmt}_{p}" for fmt in ("text", "html") for p in PARTS]


def draft_from(data: dict) -> Draft:
    """A Draft from form or JSON data (missing keys count as empty)."""

    def get(name: str) -> str:
        value = data.get(name)
        return value if isinstance(value, str) else ""

    return Draft(
        subject=get("subject"),
        text={p: get(f"text_{p}") for p in PARTS},
        html={p: get(f"html_{p}") for p in PARTS},
    )
