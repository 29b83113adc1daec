"""Candidates: the list, create and edit, the profile with its one timeline, adding to a
position and logging a contact. The "My queue" pages (the work list) are in worklist_routes.py."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import access, clock, labels, languages
from app.access import can_see_candidate, candidate_or_404, position_or_404
from app.candidates import bp, queries, services
from app.candidates.forms import AddToPositionForm, CandidateForm, ContactForm, as_choices
from app.candidates.timeline import timeline
from app.candidates.worklist_routes import keep_filter, render_queue, user_zone
from app.input_guard import search_term
from app.models import Application
from app.pipeline.services import PipelineError, add_to_position, settleable


@bp.get("/candidates")
@login_required
def list_candidates():
    q = search_term()
    page = request.args.get("page", 1, type=int)
    pagination = queries.page_of_candidates(current_user, q, max(page, 1))
    ids = [c.id for c in pagination.items]
    return render_template(
        "candidates/list.html",
        pagination=pagination,
        q=q,
        stages=queries.active_count(ids),
        owners=queries.owner_names({c.owner_id for c in pagination.items}),
    )


@bp.route("/candidates/new", methods=["GET", "POST"])
@login_required
def new_candidate():
    form = CandidateForm()
    if request.method == "GET":
        form.timezone.data = current_app.config["AGENCY_TIMEZONE"]
        form.optional_updates.data = True
    return _save(form, None)


@bp.route("/candidates/<int:candidate_id>/edit", methods=["GET", "POST"])
@login_required
def edit_candidate(candidate_id: int):
    candidate = candidate_or_404(current_user, candidate_id)
    form = CandidateForm(obj=candidate)
    if request.method == "GET" and not candidate.timezone:
        form.timezone.data = current_app.config["AGENCY_TIMEZONE"]
    return _save(form, candidate)


def _save(form: CandidateForm, candidate):
    duplicate = None
    if form.validate_on_submit():
        data = {name: getattr(form, name).data for name in _FIELDS}
        try:
            saved = services.save_candidate(candidate, actor=current_user, data=data)
        except services.DuplicateEmail as exc:
            duplicate = exc.existing
            form.email.errors.append(_("Another candidate already has this email address."))
        else:
            flash(
                _(
                    "%(name)s %(value)s.",
                    name=saved.name,
                    value="added" if candidate is None else "saved",
                ),
                "success",
            )
            return redirect(url_for("candidates.profile", candidate_id=saved.id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "candidates/form.html",
        form=form,
        candidate=candidate,
        language_choices=[(t, languages.NAMES[t]) for t in languages.SHIPPED],
        duplicate=duplicate,
        duplicate_visible=duplicate is not None and can_see_candidate(current_user, duplicate),
    ), status


_FIELDS = ("name", "email", "phone", "timezone", "language", "optional_updates")


@bp.get("/candidates/<int:candidate_id>")
@login_required
def profile(candidate_id: int):
    candidate = candidate_or_404(current_user, candidate_id)
    return _render_profile(candidate)


def _render_profile(candidate, *, contact_form=None, add_form=None, status=200):
    applications = queries.applications_of(candidate)
    fresh = contact_form is None
    if contact_form is None:
        # About the latest application by default: that is the contact that settles its debts.
        openable = _openable(applications)
        latest = next((a.id for a in applications if a.id in openable), 0)
        chosen = request.args.get("application_id", latest, type=int)
        contact_form = ContactForm(application_id=chosen)
    _contact_choices(contact_form, applications)
    if add_form is None:
        add_form = AddToPositionForm()
    add_form.position_id.choices = as_choices(queries.addable_positions(current_user, candidate))
    openable = _openable(applications)
    groups = settleable([a.id for a in applications if a.id in openable])
    if fresh:  # ticked by default: what the candidate does not still need in writing
        chosen = contact_form.application_id.data
        contact_form.settle.data = [s.id for s in groups.get(chosen, []) if s.ticked_by_default]
    return render_template(
        "candidates/profile.html",
        candidate=candidate,
        applications=applications,
        settle_groups=groups,
        settle_titles={
            a.id: labels.position_at(a.position_title, a.client_name) for a in applications
        },
        entries=timeline(candidate),
        openable=_openable(applications),
        contact_form=contact_form,
        add_form=add_form,
        user_zone=user_zone(),
    ), status


def _openable(applications) -> set[int]:
    """The profile shows every application; these are the ones you may open (and settle)."""
    return {a.id for a in applications if access.opens_positions_of(current_user, a.owner_id)}


def _contact_choices(form: ContactForm, applications) -> None:
    openable = _openable(applications)
    form.application_id.choices = as_choices(
        [(0, _("The candidate in general"))]
        + [
            (a.id, labels.position_at(a.position_title, a.client_name))
            for a in applications
            if a.id in openable
        ]
    )


@bp.post("/candidates/<int:candidate_id>/applications")
@login_required
def add_application(candidate_id: int):
    candidate = candidate_or_404(current_user, candidate_id)
    form = AddToPositionForm()
    form.position_id.choices = as_choices(queries.addable_positions(current_user, candidate))
    if form.validate_on_submit():
        position = position_or_404(current_user, form.position_id.data)
        try:
            add_to_position(candidate, position, actor=current_user)
        except PipelineError as exc:
            form.position_id.errors.append(str(exc))
        else:
            flash(
                _("%(name)s added to %(title)s.", name=candidate.name, title=position.title),
                "success",
            )
            return redirect(url_for("candidates.profile", candidate_id=candidate.id))
    return _render_profile(candidate, add_form=form, status=400)


@bp.post("/candidates/<int:candidate_id>/contacts")
@login_required
def log_contact(candidate_id: int):
    candidate = candidate_or_404(current_user, candidate_id)
    form = ContactForm()
    _contact_choices(form, queries.applications_of(candidate))
    back_to_queue = request.form.get("next") == "queue"
    if form.validate_on_submit():
        application = _application(candidate, form.application_id.data)
        try:
            outcome = services.log_contact(
                candidate,
                actor=current_user,
                channel=form.channel.data,
                summary=form.summary.data,
                application=application,
                occurred_at=_as_utc(form.occurred_at.data),
                settle=form.settle.data or (),
            )
        except PipelineError as exc:
            form.summary.errors.append(str(exc))
        else:
            message = _(
                "Contact with %(name)s logged. %(settled)s",
                name=candidate.name,
                settled=outcome.summary(),
            ).strip()
            flash(message, "success")
            if back_to_queue:
                return redirect(url_for("candidates.queue", **keep_filter()))
            return redirect(url_for("candidates.profile", candidate_id=candidate.id) + "#timeline")
    if back_to_queue:
        key = request.form.get("row", "")[:40]
        return render_queue((key, form), 400)  # the row's own key: its form opens again
    return _render_profile(candidate, contact_form=form, status=400)


def _application(candidate, application_id: int) -> Application | None:
    if not application_id:
        return None
    # One of this candidate's applications that you may open; any other: 404.
    return access.application_or_404(current_user, application_id, candidate=candidate)


def _as_utc(local: datetime | None) -> datetime | None:
    """The form's "when" is wall-clock time where the recruiter is."""
    if local is None:
        return None
    return local.replace(tzinfo=user_zone()).astimezone(clock.now().tzinfo)
