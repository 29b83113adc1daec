"""Forms of the webhook endpoints pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired
from wtforms.widgets import CheckboxInput, ListWidget

from app.candidates.forms import as_choices
from app.models import WEBHOOK_EVENTS, WebhookEndpoint
from app.template_gettext import lazy_gettext as _l
from app.validators import fits

EVENT_WORDS = {
    "notification.sent": _l("A message to a candidate was sent"),
    "notification.delivered": _l("A message was delivered"),
    "notification.bounced": _l("A message bounced"),
    "notification.failed": _l("A message could not be sent"),
    "application.stage_changed": _l("An application moved stage"),
    "task.opened": _l("A task was opened for a recruiter"),
    "candidate.replied": _l("A candidate replied to an email and is owed an answer"),
}


class EndpointForm(FlaskForm):
    url = StringField(
        _l("Address (URL)"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(_l("Give the address that receives the events.")),
            fits(WebhookEndpoint.url),
        ],
    )
    description = StringField(_l("Description"), validators=[fits(WebhookEndpoint.description)])
    events = SelectMultipleField(
        _l("Events"),
        choices=as_choices((e, EVENT_WORDS[e]) for e in WEBHOOK_EVENTS),
        validators=[DataRequired(_l("Choose at least one event."))],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )


class ToggleForm(FlaskForm):
    pass
