"""The client's decision page: no login, reached through the signed link in our emails."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.decisions import bp, links, services
from app.decisions.forms import DecisionForm
from app.notifications.links import LinkError


@bp.after_request
def _private(response):
    # The URL is the credential: never cached or indexed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _position(token: str):
    try:
        return links.read(token), None
    except LinkError as exc:
        status = 410 if exc.reason in ("expired", "revoked") else 403
        page = render_template(
            "decisions/problem.html",
            reason=exc.reason,
            agency_name=current_app.config["AGENCY_NAME"],
        )
        return None, (page, status)


@bp.get("/<token>")
def page(token: str):
    position, problem = _position(token)
    if problem:
        return problem
    return _render(token, position)


def _render(token, position, failed=None, form=None, status=200, error=None):
    waiting = services.awaiting(position)
    return render_template(
        "decisions/page.html",
        token=token,
        position=position,
        waiting=waiting,
        pending={a.id: services.pending_decision(a) for a in waiting},
        contact_name=services.contact(position)[0],
        agency_name=current_app.config["AGENCY_NAME"],
        failed=failed,
        failed_form=form,
        errors=[error]
        if error
        else [e for errs in (form.errors if form else {}).values() for e in errs],
    ), status


@bp.post("/<token>/applications/<int:application_id>")
def decide(token: str, application_id: int):
    position, problem = _position(token)
    if problem:
        return problem
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render(token, position, application_id, form, 400)
    try:
        record = services.decide(
            position,
            application_id,
            form.decision.data,
            reason=form.reason.data,
            feedback=form.feedback.data,
            new_date=form.new_date.data,
        )
    except services.DecisionError as exc:
        return _render(token, position, application_id, form, 400, error=str(exc))
    flash(
        _("Thank you: the candidate will hear by your new date.")
        if record.decision == "more_time"
        else _("Thank you: your recruiter will confirm this with the candidate."),
        "success",
    )
    return redirect(url_for("decisions.page", token=token))
