"""Admin pages of the outbound webhooks: endpoints, their secrets, their delivery log."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.decorators import role_required
from app.extensions import db
from app.models import Role, WebhookDelivery, WebhookEndpoint
from app.outbound import services
from app.outbound.forms import EVENT_WORDS, EndpointForm, ToggleForm
from app.template_gettext import lazy_gettext as _l

bp = Blueprint("outbound", __name__, url_prefix="/admin/webhooks")
LOG_SIZE = 100
STATE_WORDS = {
    "pending": _l("Waiting to be sent"),
    "delivered": _l("Delivered"),
    "failed": _l("Gave up after every retry"),
    "abandoned": _l("Abandoned"),
}


@bp.before_request
@role_required(Role.ADMIN)
def _admins_only():
    return None


@bp.get("/")
def index(form: EndpointForm | None = None, status: int = 200):
    endpoints = db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    return (
        render_template(
            "outbound/index.html",
            endpoints=list(endpoints),
            form=form or EndpointForm(formdata=None),
            event_words=EVENT_WORDS,
        ),
        status,
    )


@bp.post("/")
def create():
    form = EndpointForm()
    if not form.validate_on_submit():
        return index(form, 400)
    try:
        endpoint = services.create_endpoint(
            url=form.url.data,
            events=form.events.data,
            description=form.description.data,
            actor=current_user,
        )
    except services.EndpointRefused as exc:
        getattr(form, exc.field).errors = [str(exc)]
        return index(form, 400)
    flash(_("Endpoint added. Give its signing secret to the receiving system."), "success")
    return redirect(url_for("outbound.endpoint", endpoint_id=endpoint.id))


@bp.get("/<int:endpoint_id>")
def endpoint(endpoint_id: int):
    found = db.session.get(WebhookEndpoint, endpoint_id) or abort(404)
    log = db.session.scalars(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == found.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(LOG_SIZE)
    )
    return render_template(
        "outbound/endpoint.html",
        endpoint=found,
        deliveries=list(log),
        toggle=ToggleForm(),
        event_words=EVENT_WORDS,
        state_words=STATE_WORDS,
    )


@bp.post("/<int:endpoint_id>/enable")
def enable(endpoint_id: int):
    return _toggle(endpoint_id, True)


@bp.post("/<int:endpoint_id>/disable")
def disable(endpoint_id: int):
    return _toggle(endpoint_id, False)


def _toggle(endpoint_id: int, enabled: bool):
    found = db.session.get(WebhookEndpoint, endpoint_id) or abort(404)
    if not ToggleForm().validate_on_submit():
        abort(400)
    services.set_enabled(found, enabled)
    flash(_("Enabled: what waited is being sent.") if enabled else _("Disabled."), "info")
    return redirect(url_for("outbound.endpoint", endpoint_id=found.id))
