"""Bulk actions on the pipeline board, and the position lifecycle (hold / cancel / fill) with
its fan-out progress. Views parse, check access, call app.pipeline.bulk / fanout, render."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from app import access
from app.bulk import bp
from app.bulk.forms import BulkForm, LifecycleForm, ReopenForm, UndoAllForm, reason_choices
from app.models import PositionStatus, Stage
from app.notifications.kinds import TERMINAL_REASONS
from app.pipeline import bulk, fanout
from app.pipeline.base import status_words
from app.pipeline.services import PipelineError, reopen_position


def _board(position_id: int):
    return redirect(url_for("positions.board", position_id=position_id))


# -- bulk move / reject -----------------------------------------------------------------------


@bp.route("/positions/<int:position_id>/bulk", methods=["GET", "POST"])
@login_required
def review(position_id: int):
    position = access.position_or_404(current_user, position_id)
    posted = request.method == "POST"
    source = request.form if posted else request.args
    # On GET the fields come from the query string; the token is only rendered, not checked.
    form = BulkForm() if posted else BulkForm(formdata=request.args)
    try:
        to_stage = bulk.target_stage(source.get("action"), source.get("stage"))
    except PipelineError as exc:
        flash(str(exc), "warning")
        return _board(position.id)
    ids, refused = bulk.parse_ids(source.getlist("application_ids"))
    if not ids and not refused:
        flash(_("Select at least one candidate on the board first."), "warning")
        return _board(position.id)
    applications, not_here = bulk.select(position, ids)
    errors: list[str] = []
    if not form.validate() and posted:
        errors.append(_("Check the form: %(problems)s", problems="; ".join(_messages(form))))
    reason, note = _reason(form, to_stage), _text(form.note.data)

    def show():
        return bulk.review(
            applications, to_stage, actor=current_user, reason=reason, note=note,
            refused=refused + not_here,
        )  # fmt: skip

    result = show()
    if posted and not errors and result.needs_reason:
        form.reason.errors = [_("Choose why these applications end: it picks the email.")]
    elif posted and not errors and "confirm" in request.form:
        if not _as_shown(form, reason, note):
            errors.append(
                _("The emails changed since you looked at them: check them, then confirm.")
            )
        elif result.ready:
            try:
                bulk.apply(applications, to_stage, actor=current_user, reason=reason, note=note)
                return _to_result(position.id, to_stage, applications)
            except PipelineError as exc:  # raced with another change since the preview
                errors.append(str(exc))
                result = show()
    form.shown_reason.data, form.shown_note.data = reason or "", note or ""
    return render_template(
        "bulk/review.html",
        position=position,
        form=form,
        result=result,
        to_stage=to_stage,
        errors=errors,
    )


def _reason(form: BulkForm, to_stage: Stage) -> str | None:
    reason = form.reason.data if to_stage == Stage.REJECTED else None
    return reason if reason in TERMINAL_REASONS[Stage.REJECTED] else None


def _text(value: str | None) -> str | None:
    # Browsers send CRLF from a textarea and may send LF back from a hidden input.
    return (value or "").replace("\r\n", "\n").strip() or None


def _as_shown(form: BulkForm, reason: str | None, note: str | None) -> bool:
    return (form.shown_reason.data or None) == reason and _text(form.shown_note.data) == note


def _to_result(position_id: int, to_stage: Stage, applications):
    return redirect(
        url_for(
            "bulk.result",
            position_id=position_id,
            stage=to_stage.value,
            application_ids=[a.id for a in applications],
        )
    )


def _messages(form) -> list[str]:
    return [f"{form[name].label.text}: {' '.join(errs)}" for name, errs in form.errors.items()]


def _stage_arg(value: str | None) -> Stage:
    try:
        return Stage(value or "")
    except ValueError:
        abort(404)


@bp.get("/positions/<int:position_id>/bulk/result")
@login_required
def result(position_id: int):
    position = access.position_or_404(current_user, position_id)
    to_stage = _stage_arg(request.args.get("stage"))
    ids, _ = bulk.parse_ids(request.args.getlist("application_ids"))
    applications = bulk.load(position, ids)
    if not applications:
        abort(404)
    return render_template(
        "bulk/result.html",
        position=position,
        outcome=bulk.outcome(applications, to_stage),
        undo_form=UndoAllForm(stage=to_stage.value),
        ids=[a.id for a in applications],
    )


@bp.post("/positions/<int:position_id>/bulk/undo")
@login_required
def undo_all(position_id: int):
    position = access.position_or_404(current_user, position_id)
    form = UndoAllForm()
    if not form.validate_on_submit():
        abort(400)
    to_stage = _stage_arg(form.stage.data)
    ids, _refused = bulk.parse_ids(request.form.getlist("application_ids"))
    applications = bulk.load(position, ids)
    skipped = bulk.undo_all(applications, to_stage, actor=current_user)
    undone = len(applications) - len(skipped)
    if undone:
        flash(
            _(
                "Undone: %(undone)s candidate(s) are back where they were; no email goes.",
                undone=undone,
            ),
            "success",
        )
    for message in skipped:
        flash(_("Not undone — %(message)s", message=message), "warning")
    return _board(position.id)


# -- position lifecycle -----------------------------------------------------------------------


@bp.route("/positions/<int:position_id>/lifecycle/<action>", methods=["GET", "POST"])
@login_required
def lifecycle(position_id: int, action: str):
    position = access.position_or_404(current_user, position_id)
    act = fanout.ACTIONS.get(action)
    if act is None:
        abort(404)
    status = PositionStatus(position.status)
    if status not in (PositionStatus.OPEN, PositionStatus.ON_HOLD) or (
        act.status == PositionStatus.ON_HOLD and status == PositionStatus.ON_HOLD
    ):
        flash(
            _(
                "%(title)s is already %(status_words)s.",
                title=position.title,
                status_words=status_words(position),
            ),
            "info",
        )
        return _board(position.id)
    posted = request.method == "POST"
    form = LifecycleForm() if posted else LifecycleForm(formdata=request.args)
    form.reason.choices = reason_choices(act.reasons)
    reason = _lifecycle_reason(form, act)
    errors: list[str] = []
    if posted and form.validate() and "confirm" in request.form:
        if not reason:
            _reason_field(form, act).errors = [
                _("Give the reason: it is recorded with the change.")
            ]
        elif form.shown_reason.data != reason:
            errors.append(_("The reason changed: check who will be told what, then confirm."))
        else:
            try:
                fanout.close(position, act, reason, actor=current_user)
            except PipelineError as exc:
                errors.append(str(exc))
            else:
                done = {
                    "hold": _("%(title)s is on hold: the candidates are being told."),
                    "cancel": _("%(title)s is cancelled: the candidates are being told."),
                    "fill": _("%(title)s is filled: the candidates are being told."),
                }
                flash(done[act.name] % {"title": position.title}, "success")
                return redirect(url_for("bulk.progress", position_id=position.id))
    form.shown_reason.data = reason
    return render_template(
        "bulk/lifecycle.html",
        position=position,
        act=act,
        form=form,
        plan=fanout.plan_close(position, act, reason, actor=current_user),
        errors=errors,
    )


@bp.route("/positions/<int:position_id>/reopen", methods=["GET", "POST"])
@login_required
def reopen(position_id: int):
    """Reopen a held position (those told of the hold hear it is open again), or undo a
    cancel or fill while none of its messages has left."""
    position = access.position_or_404(current_user, position_id)
    if position.status == PositionStatus.OPEN:
        flash(_("%(title)s is open.", title=position.title), "info")
        return _board(position.id)
    form = ReopenForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            result = reopen_position(position, actor=current_user)
        except PipelineError as exc:
            flash(str(exc), "danger")
            return redirect(url_for("bulk.reopen", position_id=position.id))
        flash(_reopened(position, result), "success")
        return _board(position.id)
    return render_template(
        "bulk/reopen.html",
        position=position,
        plan=fanout.plan_reopen(position, actor=current_user),
        form=form,
    )


def _reopened(position, result: dict) -> str:
    n = result["applications"]
    title = position.title
    if result["from_hold"]:
        if not n:
            return _(
                "%(title)s is open again. Nobody had heard of the hold: no email goes.",
                title=title,
            )
        return ngettext(
            "%(title)s is open again: the %(num)d candidate told of the hold will hear that it "
            "is open again.",
            "%(title)s is open again: the %(num)d candidates told of the hold will hear that "
            "it is open again.",
            n,
            title=title,
        )
    if result["status"] == PositionStatus.ON_HOLD.value:
        return ngettext(
            "Undone: %(title)s is back on hold and %(num)d candidate is back where they were. "
            "No email goes: none had left.",
            "Undone: %(title)s is back on hold and %(num)d candidates are back where they were. "
            "No email goes: none had left.",
            n,
            title=title,
        )
    return ngettext(
        "Undone: %(title)s is open again and %(num)d candidate is back where they were. "
        "No email goes: none had left.",
        "Undone: %(title)s is open again and %(num)d candidates are back where they were. "
        "No email goes: none had left.",
        n,
        title=title,
    )


def _reason_field(form: LifecycleForm, act):
    return form.reason if act.reasons else form.hold_reason


def _lifecycle_reason(form: LifecycleForm, act) -> str:
    if not act.reasons:
        return (form.hold_reason.data or "").strip()[:200]
    return form.reason.data if form.reason.data in act.reasons else ""


# -- fan-out progress -------------------------------------------------------------------------


@bp.get("/positions/<int:position_id>/progress")
@login_required
def progress(position_id: int):
    position = access.position_or_404(current_user, position_id)
    if position.status == PositionStatus.OPEN:
        flash(
            _(
                "%(title)s is open: there are no hold or closing messages to follow.",
                title=position.title,
            ),
            "info",
        )
        return _board(position.id)
    state = fanout.progress(position)
    return render_template(
        "bulk/progress.html",
        position=position,
        p=state,
        summary=fanout.describe(state, current_user.timezone),
    )


@bp.get("/positions/<int:position_id>/fanout.json")
@login_required
def fanout_json(position_id: int):
    position = access.position_or_404(current_user, position_id)
    p = fanout.progress(position)
    return jsonify(
        owed=p.owed,
        waiting=p.waiting,
        waiting_from=p.waiting_from.isoformat() if p.waiting_from else None,
        waiting_until=p.waiting_until.isoformat() if p.waiting_until else None,
        sending=p.sending,
        handed_to_provider=p.handed_to_provider,
        needs_attention=p.needs_attention,
        settled=p.settled,
        done=p.done,
        percent=p.percent,
        finished=p.finished,
        summary=fanout.describe(p, current_user.timezone),
    )


@bp.app_template_filter("bulk_time")
def _bulk_time(moment) -> str:
    """A time in the signed-in user's zone, with the day when it is not today."""
    return fanout.clock_time(moment, getattr(current_user, "timezone", None))
