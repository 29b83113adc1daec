"""Message templates: everyone signed in may read them and preview; managers edit."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import labels, languages, ratelimit
from app.access import client_or_404
from app.auth.decorators import role_required
from app.extensions import db
from app.message_templates import bp
from app.message_templates import services as svc
from app.message_templates.forms import ResetForm, TemplateForm, draft_from
from app.models import Client, Role
from app.notifications import custom_templates as ct
from app.notifications.kinds import KINDS
from app.orm import parse_id


def _kind_or_404(kind: str) -> str:
    if kind not in KINDS:
        abort(404)
    return kind


def _client_arg() -> Client | None:
    raw = request.args.get("client", "")
    if not raw:
        return None
    client_id = parse_id(raw)
    if client_id is None:
        abort(404)
    return client_or_404(client_id)


def _language_arg() -> str:
    """?lang=de: which language's wording the editor shows (the agency's by default)."""
    raw = request.args.get("lang", "")
    if not raw:
        return languages.agency_default()
    if raw not in languages.SHIPPED:
        abort(404)
    return raw


def _here(kind: str, client: Client | None, language: str) -> dict:
    return {"kind": kind, "client": client.id if client else None, "lang": language}


@bp.route("/templates")
@login_required
def index():
    clients = {c.id: c for c in db.session.scalars(sa.select(Client))}
    return render_template(
        "message_templates/index.html",
        rows=svc.overview(),
        clients=clients,
        can_edit=current_user.has_role(Role.MANAGER),
    )


@bp.route("/templates/<kind>", methods=["GET"])
@login_required
def edit(kind: str):
    kind, client, language = _kind_or_404(kind), _client_arg(), _language_arg()
    form = TemplateForm()
    draft, source = svc.starting_draft(kind, client.id if client else None, language)
    form.load(draft)
    return _editor(kind, client, form, source, language=language)


@bp.route("/templates/<kind>", methods=["POST"])
@role_required(Role.MANAGER)
def save(kind: str):
    kind, client, language = _kind_or_404(kind), _client_arg(), _language_arg()
    form = TemplateForm()
    errors: dict[str, list[str]] = {}
    if not form.validate_on_submit():
        errors = {
            k: [f"{form[k].label.text}: {m}" for m in v]
            for k, v in form.errors.items()
            if k != "csrf_token"
        }
    else:
        try:
            row = svc.save(kind, client, form.draft(), current_user, language)
        except ct.TemplateInvalid as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            flash(
                _(
                    "Saved the %(where)s wording for “%(kind)s”%(in_language)s.",
                    where=_where(client),
                    kind=labels.kind(kind),
                    in_language=_in(language),
                ),
                "success",
            )
            if (row.body_html or None) != form.draft().body_html:
                flash(
                    _(
                        "The HTML was tidied for email: anything unsafe (scripts, styles, event "
                        "handlers, javascript: links) was removed. Check the preview."
                    ),
                    "info",
                )
            return redirect(url_for(".edit", **_here(kind, client, language)))
    _draft, source = svc.starting_draft(kind, client.id if client else None, language)
    return _editor(kind, client, form, source, errors, language=language), 400


@bp.route("/templates/<kind>/reset", methods=["POST"])
@role_required(Role.MANAGER)
def reset(kind: str):
    kind, client, language = _kind_or_404(kind), _client_arg(), _language_arg()
    if ResetForm().validate_on_submit() and svc.reset(kind, client, current_user, language):
        agency = client and svc.find(kind, None, language)
        if agency:
            done = _("“%(kind)s” for %(where)s is back to the agency's wording.")
        else:
            done = _("“%(kind)s” for %(where)s is back to built-in.")
        flash(done % {"kind": labels.kind(kind), "where": _where(client)}, "success")
    return redirect(url_for(".edit", **_here(kind, client, language)))


@bp.route("/templates/<kind>/preview", methods=["POST"])
@login_required
def preview(kind: str):
    """Render what the editor holds for a sample candidate (JSON in, JSON out; nothing saved)."""
    kind, client, language = _kind_or_404(kind), _client_arg(), _language_arg()
    # Rendering costs a little CPU: bounded per user, whoever holds the session.
    verdict = ratelimit.hit(
        "template-preview",
        str(current_user.id),
        current_app.config["TEMPLATE_PREVIEWS_PER_MINUTE"],
        60,
    )
    if not verdict.allowed:
        message = _(
            "Too many previews in a minute; the preview resumes in %(seconds)s s.",
            seconds=verdict.retry_after,
        )
        body = jsonify(ok=False, errors={}, message=message)
        return body, 429, {"Retry-After": str(verdict.retry_after)}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(ok=False, errors={"subject": [_("Send the template as JSON.")]}), 400
    try:
        out = svc.preview(kind, draft_from(data), client, language)
    except ct.TemplateInvalid as exc:
        return jsonify(ok=False, errors=exc.errors)
    return jsonify(ok=True, **out)


def _in(language: str) -> str:
    return "" if language == languages.agency_default() else f" in {languages.name(language)}"


def _where(client: Client | None) -> str:
    return client.name if client else _("agency-wide")


def _editor(kind, client, form, source, errors=None, *, language="en"):
    errors = errors or {}
    try:
        initial = svc.preview(kind, form.draft(), client, language)
    except ct.TemplateInvalid:
        initial = None
    clients = db.session.scalars(sa.select(Client).order_by(Client.name)).all()
    return render_template(
        "message_templates/edit.html",
        kind=kind,
        label=labels.kind(kind),
        purpose=svc.PURPOSES.get(kind, ""),
        client=client,
        clients=clients,
        form=form,
        errors=errors,
        source=source,
        override=svc.find(kind, client.id if client else None, language),
        agency_override=svc.find(kind, None, language),
        language=language,
        language_tabs=_language_tabs(kind, client),
        missing=svc.missing_languages(kind),
        agency_language=languages.agency_default(),
        fields=ct.MERGE_FIELDS,
        examples=svc.field_examples(client, language),
        parts=ct.PARTS,
        part_labels=ct.PART_LABELS,
        initial=initial,
        can_edit=current_user.has_role(Role.MANAGER),
        reset_form=ResetForm(),
    )


def _language_tabs(kind: str, client: Client | None) -> list[dict]:
    """One tab per shipped language: whether it has wording of its own here, and what a
    language without built-in wording falls back to."""
    missing = svc.missing_languages(kind)
    tabs = []
    for lang in languages.SHIPPED:
        own = svc.find(kind, client.id if client else None, lang) is not None
        tabs.append(
            {
                "lang": lang,
                "name": languages.name(lang),
                "edited": own,
                "missing": lang in missing and not own,
                "url": url_for(".edit", **_here(kind, client, lang)),
            }
        )
    return tabs
