"""Admin pages for data-protection requests: find the candidate, export, erase, revoke."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.decorators import role_required
from app.extensions import db
from app.input_guard import search_term
from app.models import Application, Candidate, CandidateAction, Notification
from app.orm import max_length, parse_id
from app.privacy import bp, services
from app.privacy.forms import ConfirmForm, EraseForm


@bp.before_request
@role_required("admin")
def _admins_only():
    return None


@bp.get("/")
def index():
    q = search_term(limit=max_length(Candidate.email))
    results = []
    if q:
        query = sa.select(Candidate).order_by(Candidate.id).limit(50)
        if q.isdigit():
            query = query.where(Candidate.id == (parse_id(q) or 0))
        else:
            like = sa.func.lower(Candidate.email).contains(q.lower(), autoescape=True)
            name = sa.func.lower(Candidate.name).contains(q.lower(), autoescape=True)
            query = query.where(sa.or_(like, name))
        results = list(db.session.scalars(query))
    return render_template("privacy/index.html", q=q, results=results)


@bp.get("/candidates/<int:candidate_id>")
def candidate(candidate_id: int):
    c = _get(candidate_id)
    counts = {
        "applications": _count(Application, Application.candidate_id == c.id),
        "messages": _count(Notification, Notification.candidate_id == c.id),
    }
    actions = db.session.scalars(
        sa.select(CandidateAction)
        .where(CandidateAction.candidate_id == c.id)
        .order_by(CandidateAction.created_at.desc(), CandidateAction.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "privacy/candidate.html",
        candidate=c,
        counts=counts,
        actions=actions,
        export_form=ConfirmForm(),
        revoke_form=ConfirmForm(),
        erase_form=EraseForm(),
    )


@bp.post("/candidates/<int:candidate_id>/export")
def export(candidate_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    data = services.export_candidate(_get(candidate_id), actor=current_user)
    body = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="candidate-{candidate_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/candidates/<int:candidate_id>/revoke")
def revoke(candidate_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.revoke(_get(candidate_id), actor=current_user)
    flash(_("Every status link sent so far has stopped working."), "success")
    return redirect(url_for(".candidate", candidate_id=candidate_id))


@bp.post("/candidates/<int:candidate_id>/erase")
def erase(candidate_id: int):
    c = _get(candidate_id)
    form = EraseForm()
    if not form.validate_on_submit():
        flash(_('Nothing was erased: type "ERASE" to confirm.'), "warning")
        return redirect(url_for(".candidate", candidate_id=candidate_id))
    try:
        done = services.erase_candidate(c, actor=current_user)
    except services.PrivacyError as exc:
        flash(str(exc), "warning")
    else:
        flash(
            _(
                "Erased. %(withdrawn)s open application(s) withdrawn; %(kept)s message "
                "record(s) kept as proof, without content.",
                withdrawn=done["withdrawn"],
                kept=done["messages_kept_as_proof"],
            ),
            "success",
        )
    return redirect(url_for(".candidate", candidate_id=candidate_id))


def _get(candidate_id: int) -> Candidate:
    c = db.session.get(Candidate, candidate_id)
    if c is None:
        abort(404)
    return c


def _count(model, condition) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(condition)) or 0
