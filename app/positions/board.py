"""The pipeline board, single stage moves with the exact email shown first, undo, and
recording an interview. Business rules stay in app.pipeline.services."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import access, labels
from app.models import ACTIVE_STAGES, TERMINAL_STAGES, PositionStatus, Stage
from app.notifications.timing import candidate_zone
from app.pipeline import preview, services
from app.pipeline.lifecycle import reopen_blocker
from app.pipeline.services import PipelineError
from app.positions import bp, queries
from app.positions.forms import InterviewForm, MoveForm, UndoForm, reason_choices

ID_SLOT = 987654321  # stands in for an id in URL patterns built once per page


@bp.route("/positions/<int:position_id>")
@login_required
def board(position_id: int):
    position = access.position_or_404(current_user, position_id)
    shown = _shown()
    columns = queries.board(position, shown)
    return render_template(
        "positions/board.html",
        position=position,
        columns=columns,
        shown=shown,
        stage_order=list(columns),
        active_stages=ACTIVE_STAGES,
        terminal=TERMINAL_STAGES,
        **_patterns(),
        undo_form=UndoForm(),
        # A cancel or fill can be undone while none of its emails has left.
        close_undoable=position.status in (PositionStatus.CANCELLED, PositionStatus.FILLED)
        and reopen_blocker(position) is None,
    )


@bp.route("/positions/<int:position_id>/cards")
@login_required
def board_cards(position_id: int):
    """The next cards of one column, as HTML for the board's "Show N more" to insert."""
    position = access.position_or_404(current_user, position_id)
    stage = request.args.get("stage", "")
    if stage not in {s.value for s in (*ACTIVE_STAGES, *TERMINAL_STAGES)}:
        abort(400, description=_("Choose a column of the board."))
    offset = _bounded_int(request.args.get("offset"), 0, queries.BOARD_MAX)
    col = queries.column(position, stage, offset)
    return render_template(
        "positions/_column_cards.html",
        position=position,
        col=col,
        shown={},
        terminal=TERMINAL_STAGES,
        **_patterns(),
    )


def _patterns() -> dict:
    return {
        "profile_pattern": url_for("candidates.profile", candidate_id=ID_SLOT),
        "move_pattern": url_for("positions.move", application_id=ID_SLOT),
        "interview_pattern": url_for("positions.interview", application_id=ID_SLOT),
        "id_slot": str(ID_SLOT),
    }


def _shown() -> dict[str, int]:
    """?show_<stage>=N: how many cards a column shows (the "Show N more" links without
    JavaScript). Anything else is ignored."""
    shown = {}
    for stage in (*ACTIVE_STAGES, *TERMINAL_STAGES):
        raw = request.args.get(f"show_{stage.value}")
        if raw is not None:
            shown[stage.value] = _bounded_int(raw, queries.BOARD_FIRST, queries.BOARD_MAX)
    return shown


def _bounded_int(raw, default: int, high: int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return min(high, max(0, value))


@bp.route("/applications/<int:application_id>/move", methods=["GET", "POST"])
@login_required
def move(application_id: int):
    application = access.application_or_404(current_user, application_id)
    try:
        to_stage = Stage(request.args.get("to", ""))
    except ValueError:
        flash(_("Choose a stage to move to."), "warning")
        return redirect(url_for("positions.board", position_id=application.position_id))
    if to_stage == Stage.INTERVIEW and application.stage != Stage.INTERVIEW:
        # The interview email needs its date and the client's promise: ask for them.
        return redirect(url_for("positions.interview", application_id=application.id))
    form = MoveForm()
    terminal = to_stage in TERMINAL_STAGES
    form.reason.choices = reason_choices(to_stage) if terminal else []
    result = None
    if request.method == "POST" and form.validate_on_submit():
        reason = (form.reason.data or None) if terminal else None
        if terminal and not reason:
            form.reason.errors.append(_("Choose why the application ends: it picks the email."))
        elif "confirm" in request.form:
            done = _confirm_move(form, application, to_stage, reason, form.note.data or None)
            if done is not None:
                return done
            result = _preview_or_error(form, application, to_stage, reason)
        else:
            result = _preview_or_error(form, application, to_stage, reason)
    elif request.method == "GET" and not terminal:
        result = _preview_or_error(form, application, to_stage, None)
    form.version.data = application.version  # the version this page's preview shows
    return render_template(
        "positions/move.html",
        application=application,
        to_stage=to_stage,
        terminal=terminal,
        form=form,
        result=result,
    )


def _preview_or_error(form, application, to_stage, reason):
    try:
        return preview.preview_move(
            application, to_stage, actor=current_user, reason=reason, note=form.note.data or None
        )
    except PipelineError as exc:
        if str(exc) not in form.form_errors:  # a refused confirm may have said it already
            form.form_errors.append(str(exc))
        return None


def _confirm_move(form, application, to_stage: Stage, reason: str | None, note: str | None):
    """The redirect to the board once moved; None when refused (the page shows why, with
    the preview as things stand now)."""
    # Read before the commit expires them: the redirect costs no statement of its own.
    name, position_id, application_id = (
        application.candidate.name,
        application.position_id,
        application.id,
    )
    try:
        previewed = int(form.version.data) if form.version.data else None
    except ValueError:
        previewed = -1  # not a version this application ever had: refused as stale
    try:
        preview.confirm_move(
            application,
            to_stage,
            actor=current_user,
            reason=reason,
            note=note,
            previewed_version=previewed,
        )
    except PipelineError as exc:  # stale, not allowed, or the email has a problem to fix
        form.form_errors.append(str(exc))
        return None
    flash(
        _("%(name)s moved to %(stage)s.", name=name, stage=labels.phrase(labels.stage(to_stage))),
        f"undo:{application_id}",
    )
    return redirect(url_for("positions.board", position_id=position_id))


@bp.route("/applications/<int:application_id>/undo", methods=["POST"])
@login_required
def undo(application_id: int):
    application = access.application_or_404(current_user, application_id)
    if UndoForm().validate_on_submit():
        try:
            services.undo_last_change(application, actor=current_user)
            flash(
                _(
                    "Undone: %(name)s is back in the previous stage.",
                    name=application.candidate.name,
                ),
                "info",
            )
        except PipelineError as exc:
            flash(str(exc), "warning")
    return redirect(url_for("positions.board", position_id=application.position_id))


@bp.route("/applications/<int:application_id>/interview", methods=["GET", "POST"])
@login_required
def interview(application_id: int):
    application = access.application_or_404(current_user, application_id)
    form = InterviewForm()
    if request.method == "GET":
        _prefill_interview(form, application)
    result = None
    if request.method == "POST" and form.validate_on_submit():
        details = _interview_details(form)
        try:
            result = preview.preview_interview(application, actor=current_user, **details)
        except PipelineError as exc:
            form.form_errors.append(str(exc))
        if result and not result.blocked and "confirm" in request.form:
            return _confirm_interview(application, details)
    return render_template(
        "positions/interview.html",
        application=application,
        form=form,
        result=result,
        zone=current_user.timezone,
    )


def _confirm_interview(application, details: dict):
    try:
        services.record_interview(application, actor=current_user, **details)
    except PipelineError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("positions.interview", application_id=application.id))
    flash(
        _("Interview recorded for %(name)s.", name=application.candidate.name),
        f"undo:{application.id}",
    )
    return redirect(url_for("positions.board", position_id=application.position_id))


def _prefill_interview(form: InterviewForm, application) -> None:
    zone = candidate_zone(current_user.timezone)
    if application.interview_at:
        local = application.interview_at.astimezone(zone)
        form.date.data, form.time.data = local.date(), local.time().replace(second=0)
    if application.promised_response_at:
        form.promised_date.data = application.promised_response_at.astimezone(zone).date()
    form.interviewers.data = application.interviewers
    client = application.position.client
    form.client_contact.data = application.client_contact or client.contact_name
    form.next_step.data = application.next_step


def _interview_details(form: InterviewForm) -> dict:
    """Typed in the recruiter's time zone, stored in UTC. The promise holds until the end
    of the client's business day."""
    zone = candidate_zone(current_user.timezone)
    interview_at = datetime.combine(form.date.data, form.time.data, tzinfo=zone)
    close = time(hour=current_app.config["BUSINESS_HOURS_END"] % 24)
    promised = datetime.combine(form.promised_date.data, close, tzinfo=zone)
    if form.promised_date.data == form.date.data and promised < interview_at:
        # Decided the same evening as a late interview.
        promised = interview_at + timedelta(hours=1)
    return {
        "interview_at": interview_at.astimezone(UTC),
        "interviewers": (form.interviewers.data or "").strip() or None,
        "promised_response_at": promised.astimezone(UTC),
        "client_contact": (form.client_contact.data or "").strip() or None,
        "next_step": (form.next_step.data or "").strip() or None,
        "note": (form.note.data or "").strip() or None,
    }
